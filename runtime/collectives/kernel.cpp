// SPDX-License-Identifier: MIT
#include "runtime/collectives/kernel.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "hw/node/node.h"
#include "isa/global_address.h"

namespace dojosim::runtime::collectives {
namespace {

struct LaneTables {
  uint64_t table0 = 0, steps0 = 0, table1 = 0, steps1 = 0;
};

const codegen::ArgBlock<LaneTables>& args() {
  using N = const LaneTables&;
  static const codegen::ArgBlock<LaneTables> block = {
      {"TABLE0", [](N n) { return n.table0; }},  // thread t reads the pair at 16 t
      {"STEPS0", [](N n) { return n.steps0; }},
      {"TABLE1", [](N n) { return n.table1; }},
      {"STEPS1", [](N n) { return n.steps1; }},
  };
  return block;
}

// Adds a2 bytes (a multiple of 64) at a1 into a0, 512 B a turn: each turn adds the block
// loaded by the turn before, loads the next one and stores its sums as they are ready, so that
// the loads, the adds and the stores of one thread overlap.
void add_loop(codegen::AsmWriter& w, std::string_view lanes) {
  w.op("bltu    a2, s7, add_tail");
  for (int j = 0; j < 8; ++j) {
    w.op("vle     v{}, {}(a0)", j, 64 * j);
    w.op("vle     v{}, {}(a1)", j + 8, 64 * j);
  }
  w.label("add_block");
  for (int j = 0; j < 8; ++j) {
    w.op("vadd.{}  v{}, v{}, v{}", lanes, 16 + j, j, 8 + j);
    w.op("vle     v{}, {}(a0)", j, 512 + 64 * j);
    w.op("vle     v{}, {}(a1)", j + 8, 512 + 64 * j);
    if (j >= 4) w.op("vse     v{}, {}(a0)", 16 + j - 4, 64 * (j - 4));
  }
  for (int j = 4; j < 8; ++j) w.op("vse     v{}, {}(a0)", 16 + j, 64 * j);
  w.op("addi    a2, a2, -512");
  w.op("addi    a1, a1, 512");
  w.op("addi    a0, a0, 512");
  w.op("bgeu    a2, s7, add_block");
  w.label("add_tail");
  w.op("beqz    a2, added");
  w.op("vle     v0, 0(a0)");
  w.op("vle     v8, 0(a1)");
  w.op("vadd.{}  v16, v0, v8", lanes);
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
  // Semaphores: one per (sender, lane) at each receiver.
  std::vector<std::map<uint32_t, uint32_t>> sender_index(n);
  uint32_t senders = 1;
  for (const Transfer& t : ts) {
    auto& m = sender_index[t.to];
    m.emplace(t.from, static_cast<uint32_t>(m.size()));
    senders = std::max<uint32_t>(senders, static_cast<uint32_t>(m.size()));
  }
  const uint32_t semaphores = config.node.semaphores;
  lanes_ = 1 + 2 * senders <= semaphores && config.node.core.threads >= 2 ? 2 : 1;
  if (1 + senders > semaphores)
    throw std::invalid_argument(
        fmt::format("a member hears from {} others: it needs {} semaphores, a node has {}",
                    senders, senders + 1, semaphores));
  const auto sem = [&](uint32_t to, uint32_t from, unsigned lane) {
    return 1 + lane * senders + sender_index[to].at(from);
  };

  // Receive slots: every reduce transfer its own, in the order the receiver meets them.
  std::vector<uint64_t> slot(ts.size(), 0), slot_end(n, 0);
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i].reduce) {
      slot[i] = slot_end[ts[i].to];
      slot_end[ts[i].to] += leaf_offset_[ts[i].last] - leaf_offset_[ts[i].first];
    }
  const uint64_t slot_bytes = *std::max_element(slot_end.begin(), slot_end.end());

  program_ = mesh::assemble_program(program_text(dtype_, 1 + lanes_ * senders), "collective.s");
  // The add loop reads up to 1 KiB past a range it adds: slack after the vector and the slots.
  mesh::SramMap map(program_, 0);
  data_ = map.take(leaf_offset_.back() + 1024);
  slots_ = map.take(slot_bytes + 1024);

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
  std::vector<bool> sent(ts.size(), false);
  for (uint32_t m = 0; m < n; ++m) {
    // Sends to each destination go in schedule order, so that its waits count them in order.
    std::map<uint32_t, std::vector<size_t>> queue;
    for (size_t i : sends[m]) queue[ts[i].to].push_back(i);
    std::map<uint32_t, size_t> next_to;
    const auto push_steps = [&](size_t i, uint64_t at, uint64_t bytes, unsigned lane, Step& s) {
      s.push_to = landing(i, at);
      s.push_from = data_ + leaf_offset_[ts[i].first] + at;
      s.push_bytes = bytes;
      s.push_sem = 8 * sem(ts[i].to, m, lane);
    };
    const auto emit_send = [&](size_t i) {
      sent[i] = true;
      ++next_to[ts[i].to];
      for (const Piece& p : pieces(ts[i])) {
        Step s;
        push_steps(i, p.at, p.bytes, p.lane, s);
        tables_[m][p.lane].push_back(s);
      }
    };
    size_t si = 0, ri = 0;
    for (uint32_t round = 0; round < schedule.rounds(); ++round) {
      for (; si < sends[m].size() && ts[sends[m][si]].round == round; ++si)
        if (!sent[sends[m][si]]) emit_send(sends[m][si]);
      for (; ri < receives[m].size() && ts[receives[m][ri]].round == round; ++ri) {
        const size_t r = receives[m][ri];
        // The next round's send of exactly these leaves, if it is next in line to its receiver.
        size_t on = ts.size();
        for (size_t k = si; k < sends[m].size() && ts[sends[m][k]].round == round + 1; ++k) {
          const size_t c = sends[m][k];
          const auto& q = queue[ts[c].to];
          if (!sent[c] && ts[c].first == ts[r].first && ts[c].last == ts[r].last &&
              q[next_to[ts[c].to]] == c) {
            on = c;
            break;
          }
        }
        if (on != ts.size()) {
          sent[on] = true;
          ++next_to[ts[on].to];
        }
        for (const Piece& p : pieces(ts[r])) {
          Step s;
          s.wait = 8 * sem(m, ts[r].from, p.lane);
          if (ts[r].reduce) {
            s.add_to = data_ + leaf_offset_[ts[r].first] + p.at;
            s.add_from = slots_ + slot[r] + p.at;
            s.add_bytes = p.bytes;
          }
          if (on != ts.size()) push_steps(on, p.at, p.bytes, p.lane, s);
          tables_[m][p.lane].push_back(s);
        }
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
    LaneTables t{table_, tables_[m][0].size(), table_ + lane_table_bytes_,
                 lanes_ > 1 ? tables_[m][1].size() : 0};
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
