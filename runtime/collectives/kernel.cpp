// SPDX-License-Identifier: MIT
#include "runtime/collectives/kernel.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <tuple>

#include "hw/node/node.h"
#include "isa/global_address.h"

namespace dojosim::runtime::collectives {
namespace {

constexpr unsigned kMaxLanes = 4;

struct LaneTables {
  uint64_t table[kMaxLanes] = {}, steps[kMaxLanes] = {};
};

const codegen::ArgBlock<LaneTables>& args() {
  using N = const LaneTables&;
  // Thread t reads the pair at 16 t.
  static const codegen::ArgBlock<LaneTables> block = {
      {"TABLE0", [](N n) { return n.table[0]; }}, {"STEPS0", [](N n) { return n.steps[0]; }},
      {"TABLE1", [](N n) { return n.table[1]; }}, {"STEPS1", [](N n) { return n.steps[1]; }},
      {"TABLE2", [](N n) { return n.table[2]; }}, {"STEPS2", [](N n) { return n.steps[2]; }},
      {"TABLE3", [](N n) { return n.table[3]; }}, {"STEPS3", [](N n) { return n.steps[3]; }},
  };
  return block;
}

// Adds a2 bytes (a multiple of 64) at a1 into a0, software-pipelined over blocks of 512 B:
// a turn stores the sums of the block before, adds the block loaded by the turn before and
// loads the next, one vector of each per cycle (a store, an add, two loads: the issue width),
// so that the store port, the SIMD unit and the load ports stay busy. The last block loads
// nothing: the two load ports are what an addition at the link's rate uses up (two operands
// per 64 B), so a load past the range would cost the link's time.
void add_loop(codegen::AsmWriter& w, std::string_view lanes) {
  const auto add = [&](int sum, int j) {
    w.op("vadd.{}  v{}, v{}, v{}", lanes, sum + j, j, 8 + j);
  };
  const auto advance = [&] {
    w.op("addi    a2, a2, -512");
    w.op("addi    a1, a1, 512");
    w.op("addi    a0, a0, 512");
  };
  w.op("bltu    a2, s7, add_tail");
  for (int j = 0; j < 8; ++j) {
    w.op("vle     v{}, {}(a0)", j, 64 * j);
    w.op("vle     v{}, {}(a1)", j + 8, 64 * j);
  }
  w.op("addi    a2, a2, -512");  // a2: the bytes after the block just loaded
  w.op("bltu    a2, s7, add_one");
  const auto turn = [&](bool store) {
    for (int j = 0; j < 8; ++j) {
      if (store) w.op("vse     v{}, {}(a0)", 16 + j, 64 * j - 512);
      add(16, j);
      w.op("vle     v{}, {}(a0)", j, 512 + 64 * j);
      w.op("vle     v{}, {}(a1)", j + 8, 512 + 64 * j);
    }
    advance();
  };
  turn(false);
  w.op("bltu    a2, s7, add_last");
  w.label("add_block");
  turn(true);
  w.op("bgeu    a2, s7, add_block");
  w.label("add_last");  // v16..: the sums of the block before; v0.., v8..: the last block
  for (int j = 0; j < 8; ++j) {
    w.op("vse     v{}, {}(a0)", 16 + j, 64 * j - 512);
    add(24, j);
  }
  for (int j = 0; j < 8; ++j) w.op("vse     v{}, {}(a0)", 24 + j, 64 * j);
  w.op("addi    a1, a1, 512");
  w.op("addi    a0, a0, 512");
  w.op("j       add_tail");
  w.label("add_one");  // one block loaded and nothing before it
  for (int j = 0; j < 8; ++j) add(16, j);
  for (int j = 0; j < 8; ++j) w.op("vse     v{}, {}(a0)", 16 + j, 64 * j);
  w.op("addi    a1, a1, 512");
  w.op("addi    a0, a0, 512");
  w.label("add_tail");
  w.op("beqz    a2, added");
  w.op("vle     v0, 0(a0)");
  w.op("vle     v8, 0(a1)");
  add(16, 0);
  w.op("vse     v16, 0(a0)");
  w.op("addi    a2, a2, -64");
  w.op("addi    a1, a1, 64");
  w.op("addi    a0, a0, 64");
  w.op("j       add_tail");
}

std::string program_text(DType dtype, unsigned semaphores) {
  codegen::AsmWriter w;
  w.raw(
      "# collective.s: each thread walks its lane's step table (runtime/collectives/kernel.h):\n"
      "# wait for a piece on a semaphore, add it into the vector, push a piece on. swait and\n"
      "# push take the semaphore as an immediate: a step names an entry of wait_table or\n"
      "# push_table (8 bytes each, one per semaphore).");
  args().declare(w);
  w.raw(R"(
    .text
    .globl _start
_start:
    la      s1, args
    csrr    t0, threadid
    slli    t0, t0, 4
    add     s1, s1, t0
    ld      s2, TABLE0(s1)
    ld      s3, STEPS0(s1)
    la      s4, wait_table
    la      s5, push_table
    li      s6, 1
    li      s7, 512
next_step:
    beqz    s3, exit
    ld      t0, 0(s2)               # 8 x semaphore to wait on
    ld      a2, 24(s2)              # bytes to add
    ld      a5, 48(s2)              # bytes to push
    beqz    t0, waited
    add     t1, s4, t0
    jalr    zero, 0(t1)
waited:
    beqz    a2, added
    ld      a0, 8(s2)               # the vector's piece
    ld      a1, 16(s2)              # the received piece)");
  add_loop(w, dtype == DType::Bf16 ? "bf16" : "fp32");
  w.raw(R"(added:
    beqz    a5, pushed
    ld      a3, 32(s2)              # global destination
    ld      a4, 40(s2)              # source
    ld      t0, 56(s2)              # 8 x the destination's semaphore
    add     t1, s5, t0
    jalr    zero, 0(t1)
pushed:
    addi    s2, s2, 64
    addi    s3, s3, -1
    j       next_step
wait_table:
    ebreak
    ebreak)");
  for (unsigned s = 1; s < semaphores; ++s) {
    w.op("swait   {}, s6", s);
    w.op("j       waited");
  }
  w.raw("push_table:\n    ebreak\n    ebreak");
  for (unsigned s = 1; s < semaphores; ++s) {
    w.op("push    a3, a4, a5, {}", s);
    w.op("j       pushed");
  }
  w.exit_program();
  args().reserve(w);
  return w.text();
}

// How many pieces a member's pushes of a round run ahead of its waits: most of the DMA queue.
constexpr size_t kPushAhead = 12;

uint64_t round64(uint64_t v) {
  return (v + 63) / 64 * 64;
}

}  // namespace

CollectiveKernel::CollectiveKernel(const hw::HardwareConfig& config,
                                   const CollectiveProblem& problem, const Schedule& schedule)
    : members_(problem.group.members), dtype_(problem.dtype) {
  const uint64_t eb = element_bytes(dtype_);
  uint64_t offset = 0, first = 0;
  for (const Leaf& l : schedule.leaves) {
    leaf_offset_.push_back(offset);
    leaf_first_.push_back(first);
    leaf_elements_.push_back(l.elements);
    offset += round64(l.elements * eb);
    first += l.elements;
  }
  leaf_offset_.push_back(offset);
  lower(config, schedule);
}

void CollectiveKernel::lower(const hw::HardwareConfig& config, const Schedule& schedule) {
  const uint32_t n = static_cast<uint32_t>(members_.size());
  const std::vector<Transfer>& ts = schedule.transfers;
  // Semaphores: one per (sender, lane) at each receiver, for the pairs that carry a piece to it
  // (a transfer smaller than a piece, as a column ring's leaves, touches one or two lanes).
  // As many lanes as the node has threads (up to kMaxLanes) and semaphores: an addition at the
  // link's rate keeps both load ports busy, and more threads fill the cycles in which one
  // thread bookkeeps, waits for a load or stores its last block.
  std::vector<std::map<std::pair<uint32_t, unsigned>, uint32_t>> sender_index(n);
  const auto index_senders = [&](unsigned lanes) {
    for (auto& m : sender_index) m.clear();
    uint32_t most = 0;
    for (const Transfer& t : ts) {
      const uint64_t begin = leaf_offset_[t.first], end = leaf_offset_[t.last];
      const uint64_t k0 = begin / kPieceBytes, k1 = (end - 1) / kPieceBytes;
      auto& m = sender_index[t.to];
      for (uint64_t k = k0; k <= k1 && k < k0 + lanes; ++k) {
        m.emplace(std::make_pair(t.from, static_cast<unsigned>(k % lanes)),
                  static_cast<uint32_t>(m.size()));
        most = std::max<uint32_t>(most, static_cast<uint32_t>(m.size()));
      }
    }
    return most;
  };
  const uint32_t semaphores = config.node.semaphores;
  lanes_ = std::min(kMaxLanes, config.node.core.threads);
  uint32_t used = index_senders(lanes_);
  while (lanes_ > 1 && 1 + used > semaphores) used = index_senders(--lanes_);
  if (1 + used > semaphores)
    throw std::invalid_argument(
        fmt::format("a member hears from {} others: it needs {} semaphores, a node has {}", used,
                    used + 1, semaphores));
  const auto sem = [&](uint32_t to, uint32_t from, unsigned lane) {
    return 1 + sender_index[to].at({from, lane});
  };

  // Receive slots: every reduce transfer its own, in the order the receiver meets them.
  std::vector<uint64_t> slot(ts.size(), 0), slot_end(n, 0);
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i].reduce) {
      slot[i] = slot_end[ts[i].to];
      slot_end[ts[i].to] += leaf_offset_[ts[i].last] - leaf_offset_[ts[i].first];
    }
  const uint64_t slot_bytes = *std::max_element(slot_end.begin(), slot_end.end());

  program_ = mesh::assemble_program(program_text(dtype_, 1 + used), "collective.s");
  mesh::SramMap map(program_, 0);
  data_ = map.take(leaf_offset_.back());
  slots_ = map.take(slot_bytes);

  // The pieces of a transfer: its bytes cut at every multiple of kPieceBytes of the vector, the
  // piece from k kPieceBytes on belonging to lane k mod lanes. A byte of the vector is always
  // handled by the same lane, so that a thread never sends or adds what another thread waits
  // for. Each piece: its offset in the transfer's range, bytes and lane.
  struct Piece {
    uint64_t at, bytes;
    unsigned lane;
  };
  const auto pieces = [&](const Transfer& t) {
    std::vector<Piece> out;
    const uint64_t begin = leaf_offset_[t.first], end = leaf_offset_[t.last];
    for (uint64_t at = begin; at < end;) {
      const uint64_t k = at / kPieceBytes, stop = std::min(end, (k + 1) * kPieceBytes);
      out.push_back({at - begin, stop - at, static_cast<unsigned>(k % lanes_)});
      at = stop;
    }
    return out;
  };
  // Where a piece of transfer t lands at its receiver.
  const auto landing = [&](size_t i, uint64_t at) {
    const Transfer& t = ts[i];
    const uint64_t offset = t.reduce ? slots_ + slot[i] + at : data_ + leaf_offset_[t.first] + at;
    const hw::Coord c = members_[t.to];
    return isa::global_address(static_cast<uint32_t>(c.x), static_cast<uint32_t>(c.y),
                               static_cast<uint32_t>(offset));
  };

  tables_.assign(n, std::vector<std::vector<Step>>(lanes_));
  std::vector<std::vector<size_t>> sends(n), receives(n);
  for (size_t i = 0; i < ts.size(); ++i) {
    sends[ts[i].from].push_back(i);
    receives[ts[i].to].push_back(i);
  }
  // Per member and round, its pushes and waits go in the order of a key (piece index, pushes
  // first, transfer), a push's piece index taken kPushAhead lower so that pushes run ahead of
  // the waits: a push then waits only for pieces of smaller keys, whose pushes wait for smaller
  // keys again, so no cycle of waits can form; and a sender pushes to a receiver in the order
  // it waits.
  std::vector<bool> sent(ts.size(), false);
  for (uint32_t m = 0; m < n; ++m) {
    const auto push_step = [&](size_t i, const Piece& p, Step& s) {
      s.push_to = landing(i, p.at);
      s.push_from = data_ + leaf_offset_[ts[i].first] + p.at;
      s.push_bytes = p.bytes;
      s.push_sem = 8 * sem(ts[i].to, m, p.lane);
    };
    size_t si = 0, ri = 0;
    for (uint32_t round = 0; round < schedule.rounds(); ++round) {
      const size_t round_sends = si;
      while (si < sends[m].size() && ts[sends[m][si]].round == round) ++si;
      const size_t next_sends = si;
      size_t next_end = si;
      while (next_end < sends[m].size() && ts[sends[m][next_end]].round == round + 1) ++next_end;
      // The next round's send of exactly the leaves a receive brings rides on its steps, piece
      // by piece, if it alone goes to its receiver in that round and what this round still
      // pushes to that receiver goes first (at most kPushAhead + 1 pieces, keys up to 0): the
      // receiver counts one sender's pieces on one semaphore, in the order it waits for them.
      const auto rides = [&](size_t r) {
        for (size_t k = next_sends; k < next_end; ++k) {
          const size_t c = sends[m][k];
          if (ts[c].first != ts[r].first || ts[c].last != ts[r].last) continue;
          for (size_t o = next_sends; o < next_end; ++o)
            if (o != k && ts[sends[m][o]].to == ts[c].to) return ts.size();
          for (size_t o = round_sends; o < next_sends; ++o) {
            const size_t u = sends[m][o];
            if (!sent[u] && ts[u].to == ts[c].to && pieces(ts[u]).size() > kPushAhead + 1)
              return ts.size();
          }
          return c;
        }
        return ts.size();
      };
      struct Item {
        int64_t piece;    // the key: shifting every push by the same amount keeps the order of
        size_t transfer;  // one sender's pushes to one receiver that of the receiver's waits
        bool receive;
        Piece p;
        size_t on;  // the send riding on a receive, or ts.size()
      };
      std::vector<Item> items;
      for (size_t k = round_sends; k < next_sends; ++k) {
        const size_t i = sends[m][k];
        if (sent[i]) continue;
        const std::vector<Piece> ps = pieces(ts[i]);
        for (size_t j = 0; j < ps.size(); ++j)
          items.push_back({int64_t(j) - int64_t(kPushAhead), i, false, ps[j], ts.size()});
      }
      std::vector<size_t> riding;
      for (; ri < receives[m].size() && ts[receives[m][ri]].round == round; ++ri) {
        const size_t r = receives[m][ri];
        const size_t on = rides(r);
        if (on != ts.size()) riding.push_back(on);
        const std::vector<Piece> ps = pieces(ts[r]);
        for (size_t j = 0; j < ps.size(); ++j) items.push_back({int64_t(j), r, true, ps[j], on});
      }
      for (size_t i : riding) sent[i] = true;
      for (size_t k = round_sends; k < next_sends; ++k) sent[sends[m][k]] = true;
      std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
        return std::make_tuple(a.piece, a.receive, a.transfer) <
               std::make_tuple(b.piece, b.receive, b.transfer);
      });
      for (const Item& it : items) {
        Step s;
        if (!it.receive) {
          push_step(it.transfer, it.p, s);
        } else {
          const Transfer& r = ts[it.transfer];
          s.wait = 8 * sem(m, r.from, it.p.lane);
          if (r.reduce) {
            s.add_to = data_ + leaf_offset_[r.first] + it.p.at;
            s.add_from = slots_ + slot[it.transfer] + it.p.at;
            s.add_bytes = it.p.bytes;
          }
          if (it.on != ts.size()) push_step(it.on, it.p, s);
        }
        tables_[m][it.p.lane].push_back(s);
      }
    }
  }
  size_t most = 0;
  for (const auto& member : tables_)
    for (const auto& lane : member) most = std::max(most, lane.size());
  lane_table_bytes_ = most * sizeof(Step);
  table_ = map.take(lanes_ * lane_table_bytes_);
  end_ = map.at;
  const uint64_t limit = config.node.core.sram_bytes - lanes_ * stack_bytes();
  if (end_ > limit)
    throw std::invalid_argument(fmt::format(
        "each member needs {} bytes of SRAM (its vector {} B padded to 64 B leaves, receive "
        "slots {} B, step tables {} B), above the {} B below the stacks",
        end_, leaf_offset_.back(), slot_bytes, lanes_ * lane_table_bytes_, limit));
}

void CollectiveKernel::write_args(hw::Machine& machine) const {
  for (uint32_t m = 0; m < members_.size(); ++m) {
    LaneTables t;
    for (unsigned lane = 0; lane < lanes_; ++lane) {
      t.table[lane] = table_ + lane * lane_table_bytes_;
      t.steps[lane] = tables_[m][lane].size();
    }
    const std::vector<uint64_t> v = args().values(t);
    machine.node(members_[m])->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

void CollectiveKernel::place(hw::Machine& machine, const Vectors& inputs) const {
  const uint64_t eb = element_bytes(dtype_);
  std::vector<uint8_t> bytes;
  for (uint32_t m = 0; m < members_.size(); ++m) {
    isa::Sram& sram = machine.node(members_[m])->sram();
    for (unsigned lane = 0; lane < lanes_; ++lane)
      sram.write(table_ + lane * lane_table_bytes_, tables_[m][lane].data(),
                 tables_[m][lane].size() * sizeof(Step));
    if (inputs.empty()) continue;
    bytes.assign(leaf_offset_.back(), 0);
    for (size_t p = 0; p < leaf_elements_.size(); ++p)
      for (uint64_t e = 0; e < leaf_elements_[p]; ++e)
        encode(dtype_, inputs[m][leaf_first_[p] + e], {}, &bytes[leaf_offset_[p] + e * eb]);
    sram.write(data_, bytes.data(), bytes.size());
  }
}

Vectors CollectiveKernel::read(const hw::Machine& machine) const {
  const uint64_t eb = element_bytes(dtype_);
  Vectors out(members_.size());
  std::vector<uint8_t> bytes(leaf_offset_.back());
  for (uint32_t m = 0; m < members_.size(); ++m) {
    machine.node(members_[m])->sram().read(data_, bytes.data(), bytes.size());
    for (size_t p = 0; p < leaf_elements_.size(); ++p)
      for (uint64_t e = 0; e < leaf_elements_[p]; ++e)
        out[m].push_back(decode(dtype_, &bytes[leaf_offset_[p] + e * eb], {}));
  }
  return out;
}

}  // namespace dojosim::runtime::collectives
