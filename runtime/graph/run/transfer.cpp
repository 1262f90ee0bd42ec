// SPDX-License-Identifier: MIT
#include "runtime/graph/run/transfer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "hw/config/machine_params.h"
#include "hw/node/node.h"
#include "isa/global_address.h"
#include "runtime/codegen.h"
#include "runtime/mesh/common.h"

namespace dojosim::runtime::graph_run {
namespace {

constexpr int kSemaphore = 1;

template <class T>
void append(std::vector<uint8_t>& bytes, const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  bytes.insert(bytes.end(), p, p + sizeof(T));
}

// One strided DMA as the node program reads it: `count` copies of `bytes`, the local and the
// global address stepping by their steps. kind 0: push local -> global; 1: pull global -> local.
struct Descriptor {
  uint64_t kind = 0, local = 0, global = 0, bytes = 0, count = 1, local_step = 0, global_step = 0;
};
struct Clear {
  uint64_t begin = 0, end = 0;
};

struct Node {
  uint64_t clears = 0, clear_count = 0, descriptors = 0, descriptor_count = 0, expect = 0, sync = 0;
};

const codegen::ArgBlock<Node>& transfer_args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"CLEARS", [](N n) { return n.clears; }},  // [begin, end) pairs to clear first
      {"NCLEAR", [](N n) { return n.clear_count; }},
      {"DESCS", [](N n) { return n.descriptors; }},  // Descriptor table
      {"NDESC", [](N n) { return n.descriptor_count; }},
      {"EXPECT", [](N n) { return n.expect; }},  // copies that count on this node's semaphore
      {"SYNC", [](N n) { return n.sync; }},      // 1: a barrier after the clears
  };
  return block;
}

// prefetch: the copies count on no semaphore and the program does not wait for them: it ends
// when its descriptors are issued, the data still in flight (Transfers::prefetch).
std::string program_text(bool prefetch) {
  codegen::AsmWriter w;
  w.raw(prefetch
            ? "# Prefetch: issue this node's strided DMA descriptors (pulls from HBM) and exit,\n"
              "# the data still in flight: it lands during the next program."
            : "# Transfer: clear what must read as zero, barrier, then issue this node's strided "
              "DMA\n"
              "# descriptors (push or pull per copy) and wait for every copy that counts here.");
  transfer_args().declare(w);
  w.raw(fmt::format(R"(
    .text
    .globl _start
_start:
    la      s1, args
    la      t2, zeros
    vle     v0, 0(t2)
    ld      t0, CLEARS(s1)
    ld      t1, NCLEAR(s1)
next_clear:
    beqz    t1, cleared
    ld      t3, 0(t0)
    ld      t4, 8(t0)
    addi    t0, t0, 16
    addi    t1, t1, -1
    addi    t5, t4, -64
clear_vector:
    bltu    t5, t3, clear_bytes
    vse     v0, 0(t3)
    addi    t3, t3, 64
    j       clear_vector
clear_bytes:
    bgeu    t3, t4, next_clear
    sb      zero, 0(t3)
    addi    t3, t3, 1
    j       clear_bytes
cleared:
    ld      t0, SYNC(s1)
    beqz    t0, transfers
    barrier 0
transfers:
    ld      s2, DESCS(s1)
    ld      s3, NDESC(s1)
next_descriptor:
    beqz    s3, wait_arrivals
    ld      t0, 0(s2)
    ld      a0, 8(s2)
    ld      a1, 16(s2)
    ld      a2, 24(s2)
    ld      a3, 32(s2)
    ld      a4, 40(s2)
    ld      a5, 48(s2)
    addi    s2, s2, 56
    addi    s3, s3, -1
    bnez    t0, pull_copies
push_copies:
    push    a1, a0, a2, {0}
    add     a0, a0, a4
    add     a1, a1, a5
    addi    a3, a3, -1
    bnez    a3, push_copies
    j       next_descriptor
pull_copies:
    pull    a0, a1, a2, {0}
    add     a0, a0, a4
    add     a1, a1, a5
    addi    a3, a3, -1
    bnez    a3, pull_copies
    j       next_descriptor
wait_arrivals:{1})",
                    prefetch ? 0 : kSemaphore,
                    prefetch ? ""
                             : fmt::format(R"(
    ld      t0, EXPECT(s1)
    swait   {}, t0)",
                                           kSemaphore)));
  w.exit_program();
  transfer_args().reserve(w);
  w.raw("    .align 6\nzeros:\n    .space 64");
  return w.text();
}

const mesh::NodeProgram& transfer_program() {
  static const mesh::NodeProgram p = mesh::assemble_program(program_text(false), "transfer.s");
  return p;
}

const mesh::NodeProgram& prefetch_program() {
  static const mesh::NodeProgram p = mesh::assemble_program(program_text(true), "prefetch.s");
  return p;
}

// fp32 to bf16 (or bf16 to fp32) in place of the layout: each node converts runs of whole vector
// registers, 32 elements per step (two fp32 registers into one bf16, or back), in the order they
// lie.
struct ConvertRun {
  uint64_t from = 0, to = 0, steps = 0;
};
struct ConvertNode {
  uint64_t table = 0, runs = 0;
};

const codegen::ArgBlock<ConvertNode>& convert_args() {
  using N = const ConvertNode&;
  static const codegen::ArgBlock<ConvertNode> block = {
      {"TABLE", [](N n) { return n.table; }},  // ConvertRun table
      {"RUNS", [](N n) { return n.runs; }},
  };
  return block;
}

// widen: bf16 to fp32 (exact), else fp32 to bf16 (nearest even).
const mesh::NodeProgram& convert_program(bool widen) {
  const auto build = [](bool to_fp32) {
    codegen::AsmWriter w;
    w.raw(to_fp32 ? "# bf16 to fp32 (exact), 32 elements per step, run after run."
                  : "# fp32 to bf16 (RNE), 32 elements per step, run after run.");
    convert_args().declare(w);
    w.raw(R"(
    .text
    .globl _start
_start:
    la      s1, args
    ld      s2, TABLE(s1)
    ld      s3, RUNS(s1)
next_run:
    beqz    s3, exit
    ld      t0, 0(s2)
    ld      t1, 8(s2)
    ld      t2, 16(s2)
    addi    s2, s2, 24
    addi    s3, s3, -1
convert_step:)");
    if (to_fp32)
      w.raw(R"(    vle     v0, 0(t0)
    vcvt.fp32.bf16 v1, v0, 0
    vcvt.fp32.bf16 v2, v0, 1
    vse     v1, 0(t1)
    vse     v2, 64(t1)
    addi    t0, t0, 64
    addi    t1, t1, 128)");
    else
      w.raw(R"(    vle     v0, 0(t0)
    vle     v1, 64(t0)
    vcvt.bf16.fp32 v2, v0, 0
    vcvt.bf16.fp32 v2, v1, 1
    vse     v2, 0(t1)
    addi    t0, t0, 128
    addi    t1, t1, 64)");
    w.raw(R"(    addi    t2, t2, -1
    bnez    t2, convert_step
    j       next_run)");
    w.exit_program();
    convert_args().reserve(w);
    return mesh::assemble_program(w.text(), to_fp32 ? "widen.s" : "convert.s");
  };
  static const mesh::NodeProgram narrow_program = build(false), widen_program = build(true);
  return widen ? widen_program : narrow_program;
}

using NodeKey = std::pair<int, int>;  // (y, x): mesh order
NodeKey key(hw::Coord c) {
  return {c.y, c.x};
}

// One thread on every usable node running `program`: the host writes each node's argument
// block (`idle` for a node with no work) and its table at `table` before the run.
class TableKernel final : public mesh::Kernel {
 public:
  TableKernel(const mesh::NodeProgram& program, std::vector<hw::Coord> nodes,
              std::map<NodeKey, std::vector<uint64_t>> args, std::vector<uint64_t> idle,
              std::map<NodeKey, std::vector<uint8_t>> tables, uint64_t table, uint64_t end)
      : program_(program),
        nodes_(std::move(nodes)),
        args_(std::move(args)),
        idle_(std::move(idle)),
        tables_(std::move(tables)),
        table_(table),
        end_(end) {}
  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return 1; }
  uint64_t stack_bytes() const override { return 256; }
  void write_args(hw::Machine& machine) const override {
    for (const hw::Coord c : nodes_) {
      const auto a = args_.find(key(c));
      const std::vector<uint64_t>& v = a == args_.end() ? idle_ : a->second;
      machine.node(c)->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
      const auto t = tables_.find(key(c));
      if (t != tables_.end())
        machine.node(c)->sram().write(table_, t->second.data(), t->second.size());
    }
  }
  uint64_t data_begin() const override { return table_; }
  uint64_t data_end() const override { return end_; }

 private:
  const mesh::NodeProgram& program_;
  std::vector<hw::Coord> nodes_;
  std::map<NodeKey, std::vector<uint64_t>> args_;
  std::vector<uint64_t> idle_;
  std::map<NodeKey, std::vector<uint8_t>> tables_;
  uint64_t table_, end_;
};

// Elements from (r, c) on along row r that follow one another in memory in layout l.
uint32_t contiguous(const TiledLayout& l, uint32_t c) {
  if (l.tile_rows > 1) return l.tile_cols - c % l.tile_cols;
  if (l.block_rows > 1 || l.blocks_column_major) return l.block_cols - c % l.block_cols;
  return l.cols - c;
}

// Finds the shard holding an element: the shards by bands of rows, each band's shards in order.
class ShardIndex {
 public:
  explicit ShardIndex(const Placement& p) : p_(p) {
    for (const mesh::Shard& s : p.shards) {
      starts_.push_back(s.r0);
      starts_.push_back(s.r1);
    }
    std::sort(starts_.begin(), starts_.end());
    starts_.erase(std::unique(starts_.begin(), starts_.end()), starts_.end());
    bands_.resize(starts_.size());
    for (size_t i = 0; i < p.shards.size(); ++i) {
      const auto from = std::lower_bound(starts_.begin(), starts_.end(), p.shards[i].r0);
      const auto to = std::lower_bound(starts_.begin(), starts_.end(), p.shards[i].r1);
      for (auto b = from; b != to; ++b) bands_[size_t(b - starts_.begin())].push_back(i);
    }
  }
  /// The shard holding (r, c), preferring one on `near`; nullptr if none does.
  const mesh::Shard* find(uint32_t r, uint32_t c, hw::Coord near) const {
    const auto b = std::upper_bound(starts_.begin(), starts_.end(), r);
    if (b == starts_.begin()) return nullptr;
    const mesh::Shard* found = nullptr;
    for (size_t i : bands_[size_t(b - starts_.begin()) - 1]) {
      const mesh::Shard& s = p_.shards[i];
      if (r < s.r0 || r >= s.r1 || c < s.c0 || c >= s.c1) continue;
      if (!s.in_host && s.node == near) return &s;
      if (!found) found = &s;
    }
    return found;
  }

 private:
  const Placement& p_;
  std::vector<uint32_t> starts_;
  std::vector<std::vector<size_t>> bands_;
};

uint64_t global_of(const mesh::Shard& s, uint64_t offset) {
  return s.in_host ? isa::host_address(s.address + offset)
                   : isa::global_address(uint32_t(s.node.x), uint32_t(s.node.y),
                                         uint32_t(s.address + offset));
}

// One copy of a row before joining: who issues it, what, and who counts its arrival.
struct Copy {
  NodeKey issuer, counter;
  Descriptor d;
};

struct TransferPlan {
  std::map<NodeKey, std::vector<Descriptor>> descriptors;  // by issuing node
  std::map<NodeKey, std::vector<Clear>> clears;
  // Per issuing node, per descriptor, the node whose semaphore counts its copies.
  std::map<NodeKey, std::vector<NodeKey>> counters;
  TransferStats stats;
};

// Joins a row's copies to the open descriptors when every one continues them with one step.
class Joiner {
 public:
  explicit Joiner(TransferPlan& plan) : plan_(plan) {}
  void row(std::vector<Copy>& copies) {
    if (!continues(copies)) {
      flush();
      open_ = copies;
      return;
    }
    for (size_t i = 0; i < copies.size(); ++i) {
      Descriptor& d = open_[i].d;
      if (d.count == 1) {
        d.local_step = copies[i].d.local - d.local;
        d.global_step = copies[i].d.global - d.global;
      }
      ++d.count;
    }
  }
  void flush() {
    for (Copy& c : open_) {
      // Copies that follow one another in both places are one copy (a tile's rows).
      if (c.d.count > 1 && c.d.local_step == c.d.bytes && c.d.global_step == c.d.bytes) {
        c.d.bytes *= c.d.count;
        c.d.count = 1;
        c.d.local_step = c.d.global_step = 0;
      }
      plan_.descriptors[c.issuer].push_back(c.d);
      plan_.counters[c.issuer].push_back(c.counter);
    }
    open_.clear();
  }

 private:
  bool continues(const std::vector<Copy>& copies) const {
    if (copies.empty() || copies.size() != open_.size()) return false;
    for (size_t i = 0; i < copies.size(); ++i) {
      const Copy &a = open_[i], &b = copies[i];
      if (a.issuer != b.issuer || a.counter != b.counter || a.d.kind != b.d.kind ||
          a.d.bytes != b.d.bytes)
        return false;
      if (a.d.count == 1) continue;
      if (b.d.local != a.d.local + a.d.count * a.d.local_step ||
          b.d.global != a.d.global + a.d.count * a.d.global_step)
        return false;
    }
    return true;
  }
  TransferPlan& plan_;
  std::vector<Copy> open_;
};

// ---- re-tiling on a node: local copies between two layouts of the same shard -----------------

struct LocalCopy {
  uint64_t src = 0, dst = 0, bytes = 0, count = 1, src_step = 0, dst_step = 0, width = 2;
};
// A LocalCopy's width that says: `count` gathers, each of an 8-byte piece from each of `lanes`
// rows `bytes` apart (a register of 32-bit lanes, two strided loads) into `lanes` pieces side
// by side (two strided stores). A matmul's A tiles hold each tile row's 8 bytes (4 bf16, 8
// cfp8) of a k-step, a panel's rows one after another: a gather fills a k-step of a panel from
// rows laid whole, where a load and a store per tile row took 8 bytes at a time.
constexpr uint64_t kGather = 128;
// A LocalCopy's width that says: a tile laid into whole rows (untile_shard), `count` words of
// its rows, each a strided load from `bytes`-apart tile rows and a strided store to
// `src_step`-apart rows.
constexpr uint64_t kScatter = 129;

// Whether a layout keeps each row's elements (padding included) one after another, rows in
// order: what a DMA can move in long runs.
bool whole_rows(const TiledLayout& l) {
  return contiguous(l, 0) >= l.cols &&
         (l.rows <= 1 || l.offset(1, 0) == uint64_t{l.cols} * element_bytes(l.dtype));
}

TiledLayout row_major_like(const TiledLayout& l) {
  TiledLayout r = l;
  r.block_rows = r.rows;
  r.block_cols = r.tile_cols = r.cols;
  r.tile_rows = 1;
  r.blocks_column_major = false;
  return r;
}

// The transpose of a shard laid whole by rows: its rectangle and (padded) dimensions swapped.
mesh::Shard transposed_shard(const mesh::Shard& s) {
  mesh::Shard t = s;
  std::swap(t.r0, t.c0), std::swap(t.r1, t.c1);
  t.layout = row_major_like(s.layout);
  std::swap(t.layout.rows, t.layout.cols);
  t.layout.block_rows = t.layout.rows;
  t.layout.block_cols = t.layout.tile_cols = t.layout.cols;
  return t;
}

// Adds the copies into shard `to` from shard `from` on the same node, padding included, to
// `plan`: `from` holds the same rows and padded columns in another layout (a re-tiling: runs as
// long as both layouts keep), or with `transposed` the transpose laid whole by rows
// (transposed_shard: an element each), or a band of that transpose: its rows are `to`'s
// columns from `first_col` on. Rows that continue the copies of the row before by one step (a
// tile's) join into strided descriptors; a descriptor's kind is the width of the loads and
// stores its copies can use (64, 8, 4 or 2 bytes).
void plan_local_copy(const mesh::Shard& from, const mesh::Shard& to, TransferPlan& plan,
                     bool transposed = false, uint32_t first_col = 0) {
  Joiner joiner(plan);
  std::vector<Copy> copies;
  const uint64_t elem = element_bytes(to.layout.dtype);
  const uint32_t end_col =
      transposed ? std::min(to.layout.cols, first_col + from.layout.rows) : to.layout.cols;
  for (uint32_t r = 0; r < to.layout.rows; ++r) {
    copies.clear();
    for (uint32_t c = first_col; c < end_col;) {
      const uint32_t len =
          transposed ? 1 : std::min(contiguous(from.layout, c), contiguous(to.layout, c));
      Copy copy;
      copy.issuer = copy.counter = key(to.node);
      copy.d.local = from.address +
                     (transposed ? from.layout.offset(c - first_col, r) : from.layout.offset(r, c));
      copy.d.global = to.address + to.layout.offset(r, c);
      copy.d.bytes = len * elem;
      Descriptor* last = copies.empty() ? nullptr : &copies.back().d;
      if (last && last->local + last->bytes == copy.d.local &&
          last->global + last->bytes == copy.d.global)
        last->bytes += copy.d.bytes;
      else
        copies.push_back(copy);
      c += len;
    }
    joiner.row(copies);
  }
  joiner.flush();
}

const mesh::NodeProgram& local_copy_program() {
  static const mesh::NodeProgram p = [] {
    codegen::AsmWriter w;
    w.raw(
        "# Local copies: per descriptor `count` copies of one load and one store of its width\n"
        "# (64: a vector register), both addresses stepping; or (width kGather) `count` gathers\n"
        "# of one 8-byte piece from each of a register's 32-bit lanes of rows, `bytes` apart,\n"
        "# into as many pieces side by side: two strided loads and two strided stores, two\n"
        "# gathers a step (the second's loads issue while the first's wait); or (width\n"
        "# kScatter) a tile laid into whole rows: `count` times a strided load of a 32-bit\n"
        "# word of each of a register's lanes of tile rows (`bytes` apart) and a strided\n"
        "# store of them into as many rows (`src_step` apart), the next word 4 bytes on (four\n"
        "# words a step when their count allows).");
    convert_args().declare(w);
    w.raw(fmt::format(R"(
    .text
    .globl _start
_start:
    la      s1, args
    ld      s2, TABLE(s1)
    ld      s3, RUNS(s1)
next_descriptor:
    beqz    s3, exit
    ld      a0, 0(s2)
    ld      a1, 8(s2)
    ld      a2, 16(s2)
    ld      a3, 24(s2)
    ld      a4, 32(s2)
    ld      a5, 40(s2)
    ld      a6, 48(s2)
    addi    s2, s2, 56
    addi    s3, s3, -1
    li      t3, 64
    beq     a6, t3, vectors
    li      t3, {gather}
    beq     a6, t3, gathers
    li      t3, {scatter}
    beq     a6, t3, scatters
    li      t3, 8
    beq     a6, t3, doublewords
    li      t3, 4
    beq     a6, t3, words
halves:
    lhu     t4, 0(a0)
    sh      t4, 0(a1)
    add     a0, a0, a4
    add     a1, a1, a5
    addi    a3, a3, -1
    bnez    a3, halves
    j       next_descriptor
words:
    lwu     t4, 0(a0)
    sw      t4, 0(a1)
    add     a0, a0, a4
    add     a1, a1, a5
    addi    a3, a3, -1
    bnez    a3, words
    j       next_descriptor
doublewords:
    ld      t4, 0(a0)
    sd      t4, 0(a1)
    add     a0, a0, a4
    add     a1, a1, a5
    addi    a3, a3, -1
    bnez    a3, doublewords
    j       next_descriptor
vectors:
    vle     v0, 0(a0)
    vse     v0, 0(a1)
    add     a0, a0, a4
    add     a1, a1, a5
    addi    a3, a3, -1
    bnez    a3, vectors
    j       next_descriptor
gathers:
    li      t5, 8
    andi    t3, a3, 1
    beqz    t3, gather_pairs
    vlse32  v0, (a0), a2
    addi    t4, a0, 4
    vlse32  v1, (t4), a2
    vsse32  v0, (a1), t5
    addi    t6, a1, 4
    vsse32  v1, (t6), t5
    add     a0, a0, a4
    add     a1, a1, a5
    addi    a3, a3, -1
gather_pairs:
    beqz    a3, next_descriptor
    vlse32  v0, (a0), a2
    addi    t4, a0, 4
    vlse32  v1, (t4), a2
    add     a0, a0, a4
    vlse32  v2, (a0), a2
    addi    t4, a0, 4
    vlse32  v3, (t4), a2
    add     a0, a0, a4
    vsse32  v0, (a1), t5
    addi    t6, a1, 4
    vsse32  v1, (t6), t5
    add     a1, a1, a5
    vsse32  v2, (a1), t5
    addi    t6, a1, 4
    vsse32  v3, (t6), t5
    add     a1, a1, a5
    addi    a3, a3, -2
    j       gather_pairs
scatters:
    andi    t3, a3, 3
    bnez    t3, scatter_words
scatter_fours:
    vlse32  v0, (a0), a2
    addi    t4, a0, 4
    vlse32  v1, (t4), a2
    addi    t4, a0, 8
    vlse32  v2, (t4), a2
    addi    t4, a0, 12
    vlse32  v3, (t4), a2
    vsse32  v0, (a1), a4
    addi    t6, a1, 4
    vsse32  v1, (t6), a4
    addi    t6, a1, 8
    vsse32  v2, (t6), a4
    addi    t6, a1, 12
    vsse32  v3, (t6), a4
    addi    a0, a0, 16
    addi    a1, a1, 16
    addi    a3, a3, -4
    bnez    a3, scatter_fours
    j       next_descriptor
scatter_words:
    vlse32  v0, (a0), a2
    vsse32  v0, (a1), a4
    addi    a0, a0, 4
    addi    a1, a1, 4
    addi    a3, a3, -1
    bnez    a3, scatter_words
    j       next_descriptor)",
                      fmt::arg("gather", kGather), fmt::arg("scatter", kScatter)));
    w.exit_program();
    convert_args().reserve(w);
    return mesh::assemble_program(w.text(), "local_copy.s");
  }();
  return p;
}

// The widest loads and stores every copy of `d` can use.
uint64_t copy_width(const Descriptor& d) {
  for (uint64_t w : {64, 8, 4}) {
    const bool steps = d.count == 1 || (d.local_step % w == 0 && d.global_step % w == 0);
    if (d.bytes % w == 0 && d.local % w == 0 && d.global % w == 0 && steps) return w;
  }
  return 2;
}

// Whether `d`'s copies are 8-byte pieces of rows, each piece right after the one before, in
// runs of whole gathers of `lanes` (kGather).
bool gathers(const Descriptor& d, uint64_t lanes) {
  return d.bytes == 8 && d.global_step == 8 && d.count % lanes == 0 && d.local % 4 == 0 &&
         d.global % 4 == 0 && d.local_step % 4 == 0;
}

// `d` as table entries of one load and one store per copy: a copy of n widths becomes n
// entries side by side (or one entry of n copies when it has no steps); or, when its copies
// gather (`lanes` 32-bit lanes to a register), one gather entry, joined to the table's last
// entry when that is a gather whose blocks it continues by one step. Returns the entries added.
size_t append_local_copies(std::vector<uint8_t>& table, const Descriptor& d, uint64_t lanes) {
  if (gathers(d, lanes)) {
    const LocalCopy g{d.local,   d.global, d.local_step, d.count / lanes, d.local_step * lanes,
                      8 * lanes, kGather};
    if (g.count == 1 && table.size() >= sizeof(LocalCopy)) {
      LocalCopy last;
      std::copy_n(table.end() - sizeof(LocalCopy), sizeof(LocalCopy),
                  reinterpret_cast<uint8_t*>(&last));
      const bool first_step = last.count == 1;
      if (last.width == kGather && last.bytes == g.bytes &&
          (first_step || (g.src == last.src + last.count * last.src_step &&
                          g.dst == last.dst + last.count * last.dst_step))) {
        if (first_step) last.src_step = g.src - last.src, last.dst_step = g.dst - last.dst;
        ++last.count;
        std::copy_n(reinterpret_cast<const uint8_t*>(&last), sizeof(LocalCopy),
                    table.end() - sizeof(LocalCopy));
        return 0;
      }
    }
    append(table, g);
    return 1;
  }
  const uint64_t w = copy_width(d), n = d.bytes / w;
  if (d.count == 1) {
    append(table, LocalCopy{d.local, d.global, w, n, w, w, w});
    return 1;
  }
  for (uint64_t j = 0; j < n; ++j)
    append(table, LocalCopy{d.local + j * w, d.global + j * w, w, d.count, d.local_step,
                            d.global_step, w});
  return n;
}

bool same_layout(const TiledLayout& a, const TiledLayout& b) {
  return a.dtype == b.dtype && a.rows == b.rows && a.cols == b.cols &&
         a.block_rows == b.block_rows && a.block_cols == b.block_cols &&
         a.tile_rows == b.tile_rows && a.tile_cols == b.tile_cols &&
         a.blocks_column_major == b.blocks_column_major;
}

// Whether every destination shard of an identity move has a source shard of the same
// rectangle and layout: one DMA each, nothing to re-tile.
bool whole_copies(const Transfers::Move& m) {
  if (!m.map.identity) return false;
  for (const mesh::Shard& d : m.dest->shards)
    if (std::none_of(m.sources[0]->shards.begin(), m.sources[0]->shards.end(),
                     [&](const mesh::Shard& s) {
                       return s.r0 == d.r0 && s.r1 == d.r1 && s.c0 == d.c0 && s.c1 == d.c1 &&
                              same_layout(s.layout, d.layout);
                     }))
      return false;
  return true;
}

// Copies an identity map's destination shard whole from a source shard of the same rectangle
// and layout (padding included), preferring one on the same node; false if there is none.
bool whole_copy(const Placement& from, const mesh::Shard& d, TransferPlan& plan, Joiner& joiner) {
  const mesh::Shard* src = nullptr;
  for (const mesh::Shard& s : from.shards)
    if (s.r0 == d.r0 && s.r1 == d.r1 && s.c0 == d.c0 && s.c1 == d.c1 &&
        same_layout(s.layout, d.layout) && !(s.in_host && d.in_host) &&
        (!src || (!s.in_host && s.node == d.node)))
      src = &s;
  if (!src) return false;
  Copy copy;
  copy.d.bytes = d.layout.bytes();
  if (!src->in_host) {
    copy.issuer = key(src->node);
    copy.counter = d.in_host ? copy.issuer : key(d.node);
    copy.d.local = src->address;
    copy.d.global = global_of(d, 0);
    (d.in_host ? plan.stats.bytes_to_hbm
               : (src->node == d.node ? plan.stats.bytes_local : plan.stats.bytes_between_nodes)) +=
        copy.d.bytes;
  } else {
    copy.issuer = copy.counter = key(d.node);
    copy.d.kind = 1;
    copy.d.local = d.address;
    copy.d.global = global_of(*src, 0);
    plan.stats.bytes_from_hbm += copy.d.bytes;
  }
  std::vector<Copy> one{copy};
  joiner.row(one);
  joiner.flush();
  return true;
}

// Adds one move's copies and clears to `plan`.
void plan_transfer(const std::vector<const Placement*>& sources, const Placement& dest,
                   const ElementMap& map, bool zero_fill, TransferPlan& plan) {
  std::vector<ShardIndex> index;
  for (const Placement* p : sources) index.emplace_back(*p);
  const uint64_t elem = element_bytes(dest.dtype);
  Joiner joiner(plan);
  std::vector<Copy> copies;
  for (const mesh::Shard& d : dest.shards) {
    if (map.identity && whole_copy(*sources[0], d, plan, joiner)) continue;
    if (zero_fill && !d.in_host)
      plan.clears[key(d.node)].push_back({d.address, d.address + d.layout.bytes()});
    for (uint32_t r = d.r0; r < d.r1; ++r) {
      copies.clear();
      for (uint32_t c = d.c0; c < d.c1;) {
        const Source s = map.at(r, c);
        uint32_t len = std::min({s.len, d.c1 - c, contiguous(d.layout, c - d.c0)});
        if (s.input < 0) {
          c += std::max(len, 1u);
          continue;
        }
        const Placement& from = *sources[size_t(s.input)];
        const mesh::Shard* src = index[size_t(s.input)].find(s.row, s.col, d.node);
        if (!src)
          throw std::logic_error(
              fmt::format("transfer: no shard holds element ({}, {}) of a {}x{} "
                          "source",
                          s.row, s.col, from.rows, from.cols));
        len = std::min({len, src->c1 - s.col, contiguous(src->layout, s.col - src->c0)});
        const uint64_t src_offset = src->layout.offset(s.row - src->r0, s.col - src->c0),
                       dst_offset = d.layout.offset(r - d.r0, c - d.c0);
        Copy copy;
        copy.d.bytes = len * elem;
        if (src->in_host && d.in_host) throw std::logic_error("transfer: from HBM to HBM");
        if (!src->in_host) {  // the source node pushes
          copy.issuer = key(src->node);
          copy.counter = d.in_host ? copy.issuer : key(d.node);
          copy.d.kind = 0;
          copy.d.local = src->address + src_offset;
          copy.d.global = global_of(d, dst_offset);
          (d.in_host ? plan.stats.bytes_to_hbm
                     : (src->node == d.node ? plan.stats.bytes_local
                                            : plan.stats.bytes_between_nodes)) += copy.d.bytes;
        } else {  // the destination node pulls from HBM
          copy.issuer = copy.counter = key(d.node);
          copy.d.kind = 1;
          copy.d.local = d.address + dst_offset;
          copy.d.global = global_of(*src, src_offset);
          plan.stats.bytes_from_hbm += copy.d.bytes;
        }
        // A copy that continues the previous one of the row in both places grows it instead.
        if (!copies.empty()) {
          Descriptor& last = copies.back().d;
          if (copies.back().issuer == copy.issuer && copies.back().counter == copy.counter &&
              last.kind == copy.d.kind && last.local + last.bytes == copy.d.local &&
              last.global + last.bytes == copy.d.global) {
            last.bytes += copy.d.bytes;
            c += len;
            continue;
          }
        }
        copies.push_back(copy);
        c += len;
      }
      joiner.row(copies);
    }
    joiner.flush();
  }
}

// Runs `plan`'s local copies (plan_local_copy), in rounds of what the table area holds.
using LocalTables = std::map<NodeKey, std::vector<uint8_t>>;
TransferStats run_local_copies(Executor& executor, const hw::HardwareConfig& config,
                               const LocalTables& entries, uint64_t table, uint64_t table_bytes,
                               const std::string& what);

TransferStats local_copies(Executor& executor, const hw::HardwareConfig& config, TransferPlan& plan,
                           uint64_t table, uint64_t table_bytes, const std::string& what) {
  TransferStats stats;
  LocalTables entries;
  for (const auto& [node, list] : plan.descriptors)
    for (const Descriptor& d : list) {
      const uint64_t lanes = config.node.core.vlen_bytes / 4;
      append_local_copies(entries[node], d, lanes);
      stats.bytes_retiled += d.bytes * d.count;
      if (gathers(d, lanes)) stats.bytes_gathered += d.bytes * d.count;
    }
  return stats += run_local_copies(executor, config, entries, table, table_bytes, what);
}

// Runs each node's table of LocalCopy entries in order, in rounds of what the table area holds.
TransferStats run_local_copies(Executor& executor, const hw::HardwareConfig& config,
                               const LocalTables& entries, uint64_t table, uint64_t table_bytes,
                               const std::string& what) {
  TransferStats stats;
  size_t most = 0;
  for (const auto& [node, bytes] : entries) most = std::max(most, bytes.size());
  const size_t per_round = table_bytes / sizeof(LocalCopy) * sizeof(LocalCopy);
  for (size_t from = 0; from < most; from += per_round) {
    std::map<NodeKey, std::vector<uint64_t>> args;
    std::map<NodeKey, std::vector<uint8_t>> tables;
    for (const auto& [node, bytes] : entries) {
      if (from >= bytes.size()) continue;
      const size_t to = std::min(bytes.size(), from + per_round);
      tables[node].assign(bytes.begin() + long(from), bytes.begin() + long(to));
      args[node] = convert_args().values({table, (to - from) / sizeof(LocalCopy)});
    }
    const TableKernel k(local_copy_program(), config.runtime_nodes(), std::move(args),
                        convert_args().values({}), std::move(tables), table, table + table_bytes);
    const Executor::Run r = executor.run(k);
    if (!r.ok) throw std::runtime_error(fmt::format("{}: re-tiling: {}", what, r.outcome));
    stats.cycles += r.cycles;
    ++stats.runs;
  }
  return stats;
}

// ---- a source in tiles laid into whole rows on its node first ----------------------------
//
// A matmul's C lies in tiles (tile rows of 16 or 32 bytes): moved into a row split directly it
// takes a DMA per tile row. Laid into whole rows on its node first, it moves in DMAs of whole
// rows. The laying is a strided load of one 32-bit word from each of `lanes` tile rows (twice a
// tile's rows: the tile and the one after it in memory) and a strided store of it into `lanes`
// rows: the first tile's rows land where they belong, the next tile's in the rows below its own
// place, which the tiles that belong there (later in memory: tiles by rows within blocks by
// rows) overwrite afterwards; the last tiles' land in `tile_rows` rows of slack after the
// staged rows, and their loads read a tile's bytes past the shard.

// Whether shard layout `l` can be laid into whole rows so.
bool untiles(const TiledLayout& l, uint64_t lanes) {
  return l.tile_rows > 1 && !l.blocks_column_major && 2 * uint64_t{l.tile_rows} == lanes &&
         uint64_t{l.tile_cols} * element_bytes(l.dtype) % 4 == 0;
}

// Appends the kScatter entries that lay shard `from` (in tiles) into `to` (the same rows and
// columns, whole rows), one per tile in memory order; returns the tiles.
uint64_t untile_shard(const mesh::Shard& from, const mesh::Shard& to, LocalTables& tables) {
  const TiledLayout& l = from.layout;
  const uint64_t elem = element_bytes(l.dtype), tile_row = uint64_t{l.tile_cols} * elem;
  const uint64_t row = uint64_t{to.layout.cols} * elem;
  std::vector<uint8_t>& t = tables[key(from.node)];
  uint64_t tiles = 0;
  for (uint32_t bi = 0; bi < l.rows; bi += l.block_rows)
    for (uint32_t bj = 0; bj < l.cols; bj += l.block_cols)
      for (uint32_t ti = bi; ti < bi + l.block_rows; ti += l.tile_rows)
        for (uint32_t tj = bj; tj < bj + l.block_cols; tj += l.tile_cols, ++tiles)
          append(t, LocalCopy{from.address + l.offset(ti, tj), to.address + ti * row + tj * elem,
                              tile_row, tile_row / 4, row, 0, kScatter});
  return tiles;
}

// What laying `p`'s shards into rows costs its busiest node: a strided store per word of each
// tile, about kScatterCycles each (measured on d1: conv3x3_b32's C, 1136 per node in 9,223).
double untile_cycles(const Placement& p);

// What a plan costs its busiest node or link, from its counts alone: issuing one DMA takes a
// node about kIssueCycles (the descriptor loop's instructions), a DMA occupies each link of its
// XY route for its flits, and a local copy of one load and one store about kLocalCopyCycles
// (both measured on tiny: 1024 DMAs of 8 B from each of 16 nodes took 4.6 cycles each, 512
// doubleword copies 6.5 each). Only used to choose between two ways of one move.
constexpr double kIssueCycles = 5, kLocalCopyCycles = 6.5, kGatherCycles = 12, kScatterCycles = 8;

double untile_cycles(const Placement& p) {
  std::map<NodeKey, double> nodes;
  double most = 0;
  for (const mesh::Shard& s : p.shards) {
    const TiledLayout& l = s.layout;
    const double words = double(l.bytes()) / double(l.tile_rows) / 4;
    most = std::max(most, nodes[key(s.node)] += kScatterCycles * words);
  }
  return most;
}

double busiest_cycles(const TransferPlan& p, const hw::HardwareConfig& config) {
  std::map<NodeKey, double> nodes;
  std::unordered_map<uint64_t, double> links;
  const double link_bytes = config.noc.link_bytes_per_cycle;
  // A DIP's HBM and its link each serve one request at a time, for at least a cycle
  // (hw/host/host_memory.h): an element's request at a time, they are the bottleneck.
  const std::vector<hw::DipParams> dips = hw::host_params(config);
  std::vector<double> hbm(dips.size()), dip_link(dips.size());
  const auto busy = [](uint64_t bytes, double rate) {
    return std::max(1.0, std::ceil(double(bytes) / rate));
  };
  for (const auto& [issuer, list] : p.descriptors)
    for (size_t i = 0; i < list.size(); ++i) {
      const Descriptor& d = list[i];
      nodes[issuer] += kIssueCycles * double(d.count);
      if (isa::is_host_address(d.global) && !dips.empty()) {
        const size_t k =
            std::min(dips.size() - 1, size_t(isa::host_offset(d.global) / dips[0].capacity));
        hbm[k] += double(d.count) * busy(d.bytes, dips[k].hbm_bytes_per_cycle);
        dip_link[k] += double(d.count) * busy(d.bytes, dips[k].link_bytes_per_cycle);
      }
      const NodeKey to = p.counters.at(issuer)[i];
      if (d.kind != 0 || to == issuer) continue;  // a pull from HBM, or no mesh link
      const double flits = std::ceil(double(d.bytes) / link_bytes) * double(d.count);
      int x = issuer.second, y = issuer.first;
      const auto use = [&](int dir) {
        links[(uint64_t(uint32_t(y)) << 34) | (uint64_t(uint32_t(x)) << 2) | uint64_t(dir)] +=
            flits;
      };
      for (; x != to.second; x += x < to.second ? 1 : -1) use(x < to.second ? 0 : 1);
      for (; y != to.first; y += y < to.first ? 1 : -1) use(y < to.first ? 2 : 3);
    }
  double most = 0;
  for (const auto& [node, c] : nodes) most = std::max(most, c);
  for (const auto& [link, c] : links) most = std::max(most, c);
  for (size_t k = 0; k < dips.size(); ++k) most = std::max({most, hbm[k], dip_link[k]});
  return most;
}

double local_copy_cycles(const TransferPlan& p, uint64_t lanes) {
  double most = 0;
  for (const auto& [node, list] : p.descriptors) {
    double n = 0;
    for (const Descriptor& d : list)
      n += gathers(d, lanes) ? kGatherCycles / kLocalCopyCycles * double(d.count / lanes)
                             : double(d.count) * double(d.bytes / copy_width(d));
    most = std::max(most, kLocalCopyCycles * n);
  }
  return most;
}

// A transposed read's destination as its transpose laid whole by rows (no addresses yet).
Placement transposed_placement(const Placement& p) {
  Placement t = p;
  std::swap(t.rows, t.cols);
  for (mesh::Shard& s : t.shards) s = transposed_shard(s);
  return t;
}
ElementMap down_map(const ElementMap& m) {
  return {m.down};
}

// Whether filling a destination through a staged copy beside it, then copying that into place
// on each node, is estimated faster than DMAs into it directly. Staged by rows: its rows laid
// whole (fewer, longer DMAs; a load and a store per tile row). Staged `transposed` (a transposed
// read): its transpose laid whole by rows (long DMAs along the source's rows where the direct
// ones are an element each; a copy per element).
bool staging_pays(const Transfers::Move& m, const hw::HardwareConfig& config, bool transposed) {
  if (transposed)
    for (const mesh::Shard& s : m.dest->shards)
      if (s.in_host) return false;
  TransferPlan direct, staged, local;
  plan_transfer(m.sources, *m.dest, m.map, m.zero_fill, direct);
  Placement beside = *m.dest;
  if (transposed)
    beside = transposed_placement(*m.dest);
  else
    for (mesh::Shard& s : beside.shards) s.layout = row_major_like(s.layout);
  plan_transfer(m.sources, beside, transposed ? down_map(m.map) : m.map, m.zero_fill, staged);
  for (size_t k = 0; k < beside.shards.size(); ++k)
    if (!beside.shards[k].in_host)
      plan_local_copy(beside.shards[k], m.dest->shards[k], local, transposed);
  return busiest_cycles(staged, config) +
             local_copy_cycles(local, config.node.core.vlen_bytes / 4) <
         busiest_cycles(direct, config);
}

// `p` (one source in tiles) laid into whole rows beside it, with tile_rows rows of slack after
// each shard (untile_shard); its shards' addresses are left for the caller.
Placement untiled_placement(const Placement& p) {
  Placement rows = p;
  for (mesh::Shard& s : rows.shards) s.layout = row_major_like(s.layout);
  return rows;
}

// Whether a move's one source in tiles (a matmul's C) can be laid into whole rows on its nodes
// first (a scatter per word of its tiles), then moved by DMAs of whole rows, and (`estimate`)
// is estimated faster so.
bool untiling_pays(const Transfers::Move& m, const hw::HardwareConfig& config, bool estimate) {
  if (m.sources.size() != 1 || m.map.down) return false;
  const Placement& src = *m.sources[0];
  const uint64_t lanes = config.node.core.vlen_bytes / 4;
  for (const mesh::Shard& s : src.shards) {
    if (s.in_host || !untiles(s.layout, lanes)) return false;
    // The last tile's loads read a tile past the shard: it must lie in SRAM.
    if (s.address + s.layout.bytes() +
            uint64_t{s.layout.tile_rows} * s.layout.tile_cols * element_bytes(s.layout.dtype) >
        config.node.core.sram_bytes)
      return false;
  }
  if (!estimate) return true;
  TransferPlan direct, rows;
  plan_transfer(m.sources, *m.dest, m.map, m.zero_fill, direct);
  const Placement untiled = untiled_placement(src);
  plan_transfer({&untiled}, *m.dest, m.map, m.zero_fill, rows);
  return busiest_cycles(rows, config) + untile_cycles(src) < busiest_cycles(direct, config);
}

// SRAM per node, at most, for one band of the transpose `t` cut into `bands` (each shard into
// near-equal runs of rows, the longest ceil(rows / bands)).
uint64_t band_bytes(const Placement& t, uint32_t bands) {
  std::map<NodeKey, uint64_t> per_node;
  uint64_t most = 0;
  for (const mesh::Shard& s : t.shards) {
    const uint64_t rows = (uint64_t(s.layout.rows) + bands - 1) / bands;
    most = std::max(
        most, per_node[key(s.node)] += mesh::align(rows * (s.layout.bytes() / s.layout.rows), 64));
  }
  return most;
}

// The fewest bands of the transpose's rows (transposed_placement) whose staging fits in
// `room` bytes per node; 0 if not even a row of each shard does.
uint32_t transposed_bands(const Placement& dest, uint64_t room) {
  const Placement t = transposed_placement(dest);
  uint32_t tallest = 0;
  for (const mesh::Shard& s : t.shards) tallest = std::max(tallest, s.layout.rows);
  for (uint32_t bands = 1; bands <= tallest; ++bands)
    if (band_bytes(t, bands) <= room) return bands;
  return 0;
}

// Rows [first, end) of band `band` of `bands` of a shard with `rows` rows.
std::pair<uint32_t, uint32_t> band_rows(uint32_t rows, uint32_t band, uint32_t bands) {
  return {uint32_t(uint64_t(rows) * band / bands), uint32_t(uint64_t(rows) * (band + 1) / bands)};
}

}  // namespace

ElementMap identity_map(uint32_t cols) {
  return {[cols](uint32_t r, uint32_t c) { return Source{0, r, c, cols - c}; }, true};
}

TransferStats& TransferStats::operator+=(const TransferStats& o) {
  cycles += o.cycles, runs += o.runs, descriptors += o.descriptors, copies += o.copies;
  bytes_between_nodes += o.bytes_between_nodes, bytes_from_hbm += o.bytes_from_hbm;
  bytes_to_hbm += o.bytes_to_hbm, bytes_local += o.bytes_local;
  bytes_retiled += o.bytes_retiled, bytes_gathered += o.bytes_gathered, bands += o.bands;
  bytes_untiled += o.bytes_untiled;
  return *this;
}

Transfers::Transfers(Executor& executor, const hw::HardwareConfig& config, SramAllocator& sram,
                     uint64_t table, uint64_t table_bytes, Staging staging)
    : executor_(executor),
      config_(config),
      sram_(sram),
      table_(table),
      table_bytes_(table_bytes),
      staging_(staging) {
  if (table < transfer_program().end)
    throw std::logic_error("transfer tables overlap the transfer program");
}

TransferStats Transfers::move(const std::vector<const Placement*>& sources, const Placement& dest,
                              const ElementMap& map, bool zero_fill, const std::string& what) {
  return move({Move{sources, &dest, map, zero_fill}}, what);
}

TransferStats Transfers::move(const std::vector<Move>& moves, const std::string& what) {
  for (const Move& m : moves)
    for (const Placement* p : m.sources)
      if (p->dtype != m.dest->dtype &&
          (!((p->dtype == DType::Fp32 && m.dest->dtype == DType::Bf16) ||
             (p->dtype == DType::Bf16 && m.dest->dtype == DType::Fp32)) ||
           p->in_host()))
        throw std::logic_error(
            fmt::format("{}: a transfer converts only between fp32 and bf16 in SRAM", what));
  // Steps, each a kernel run when it has work: 1. sources converted to the destination's
  // dtype (fp32 and bf16) where they lie; 1b. where estimated faster (untiling_pays), a source
  // in tiles laid into whole rows on its nodes; 2. the DMAs; 3. where a destination in tiles is
  // estimated faster that way (staging_pays), the DMAs went into whole rows staged beside it, now
  // re-tiled into place. Staging needs SRAM: where there is none left, the DMAs go to the tiles
  // directly.
  TransferStats stats;
  std::vector<Move> work = moves;
  std::deque<Placement> owned;
  std::vector<uint64_t> staging;
  const auto give_back = [&] {
    for (uint64_t a : staging) sram_.give_back(a);
  };
  try {
    stats += convert_sources(work, owned, staging, what);
    // A source in tiles laid into whole rows first, where estimated faster (untiling_pays).
    LocalTables before;
    uint64_t untiled_bytes = 0;
    for (Move& m : work) {
      if (whole_copies(m) || staging_ == Staging::Never) continue;
      if (!untiling_pays(m, config_, staging_ != Staging::Always)) continue;
      const Placement& src = *m.sources[0];
      uint64_t slack = 0;
      for (const mesh::Shard& s : src.shards)
        slack = std::max(
            slack, uint64_t{s.layout.tile_rows} * s.layout.cols * element_bytes(s.layout.dtype));
      const Placement* rows = place_staged(untiled_placement(src), owned, staging, slack);
      if (!rows) continue;
      for (size_t k = 0; k < src.shards.size(); ++k) {
        untile_shard(src.shards[k], rows->shards[k], before);
        untiled_bytes += src.shards[k].layout.bytes();
      }
      m.sources[0] = rows;
    }
    if (!before.empty()) {
      TransferStats u = run_local_copies(executor_, config_, before, table_, table_bytes_, what);
      u.bytes_untiled = untiled_bytes;
      stats += u;
    }
    TransferPlan after;
    std::vector<std::pair<Move, uint32_t>> banded;
    for (Move& m : work) {
      if (whole_copies(m) || staging_ == Staging::Never) continue;
      if (m.map.down && (staging_ == Staging::Always || staging_pays(m, config_, true))) {
        if (const Placement* t = stage_transposed(*m.dest, owned, staging)) {
          for (size_t k = 0; k < t->shards.size(); ++k)
            plan_local_copy(t->shards[k], m.dest->shards[k], after, true);
          m.dest = t;
          m.map = down_map(m.map);
          continue;
        }
        if (const uint32_t bands = transposed_bands(*m.dest, sram_.largest_free())) {
          banded.emplace_back(m, bands);
          m.dest = nullptr;
          continue;
        }
      }
      if (staging_ == Staging::Always || staging_pays(m, config_, false))
        if (const Placement* rows = stage(*m.dest, owned, staging)) {
          for (size_t k = 0; k < rows->shards.size(); ++k)
            plan_local_copy(rows->shards[k], m.dest->shards[k], after);
          m.dest = rows;
        }
    }
    work.erase(std::remove_if(work.begin(), work.end(), [](const Move& m) { return !m.dest; }),
               work.end());
    if (!work.empty()) stats += move_same_type(work, what);
    stats += local_copies(executor_, config_, after, table_, table_bytes_, what);
    for (const auto& [m, bands] : banded) stats += move_transposed_in_bands(m, bands, what);
  } catch (...) {
    give_back();
    throw;
  }
  give_back();
  return stats;
}

const Placement* Transfers::stage(const Placement& p, std::deque<Placement>& owned,
                                  std::vector<uint64_t>& staging) {
  bool tiled = false;
  for (const mesh::Shard& s : p.shards) tiled |= !s.in_host && !whole_rows(s.layout);
  if (!tiled) return nullptr;
  Placement rows = p;
  for (mesh::Shard& s : rows.shards) s.layout = row_major_like(s.layout);
  return place_staged(std::move(rows), owned, staging);
}

const Placement* Transfers::stage_transposed(const Placement& p, std::deque<Placement>& owned,
                                             std::vector<uint64_t>& staging) {
  for (const mesh::Shard& s : p.shards)
    if (s.in_host) return nullptr;
  return place_staged(transposed_placement(p), owned, staging);
}

TransferStats Transfers::move_transposed_in_bands(const Move& m, uint32_t bands,
                                                  const std::string& what) {
  const Placement whole = transposed_placement(*m.dest);
  // Every band's shards lie from the same address on each node.
  const uint64_t base = sram_.take(band_bytes(whole, bands));
  if (base == UINT64_MAX) throw std::logic_error(fmt::format("{}: no SRAM for a band", what));
  std::map<NodeKey, uint64_t> per_node;
  TransferStats stats;
  try {
    for (uint32_t band = 0; band < bands; ++band) {
      Placement part = whole;
      std::vector<uint32_t> first_col(part.shards.size());
      per_node.clear();
      for (size_t k = 0; k < part.shards.size(); ++k) {
        const mesh::Shard& w = whole.shards[k];
        mesh::Shard& s = part.shards[k];
        const auto [first, end] = band_rows(w.layout.rows, band, bands);
        first_col[k] = first;
        s.layout.rows = s.layout.block_rows = end - first;
        s.r0 = std::min(w.r0 + first, w.r1), s.r1 = std::min(w.r0 + end, w.r1);
        s.address = base + per_node[key(s.node)];
        per_node[key(s.node)] += mesh::align(s.layout.bytes(), 64);
      }
      stats += move_same_type({Move{m.sources, &part, down_map(m.map), m.zero_fill}}, what);
      TransferPlan after;
      for (size_t k = 0; k < part.shards.size(); ++k)
        if (part.shards[k].layout.rows > 0)
          plan_local_copy(part.shards[k], m.dest->shards[k], after, true, first_col[k]);
      stats += local_copies(executor_, config_, after, table_, table_bytes_, what);
      ++stats.bands;
    }
  } catch (...) {
    sram_.give_back(base);
    throw;
  }
  sram_.give_back(base);
  return stats;
}

const Placement* Transfers::place_staged(Placement staged, std::deque<Placement>& owned,
                                         std::vector<uint64_t>& staging, uint64_t slack) {
  std::map<NodeKey, uint64_t> per_node;
  uint64_t most = 0;
  for (const mesh::Shard& s : staged.shards)
    most = std::max(most, per_node[key(s.node)] += mesh::align(s.layout.bytes() + slack, 64));
  const uint64_t base = sram_.take(most);
  if (base == UINT64_MAX) return nullptr;
  staging.push_back(base);
  per_node.clear();
  for (mesh::Shard& s : staged.shards) {
    s.address = base + per_node[key(s.node)];
    per_node[key(s.node)] += mesh::align(s.layout.bytes() + slack, 64);
  }
  return &owned.emplace_back(std::move(staged));
}

TransferStats Transfers::convert_sources(std::vector<Move>& work, std::deque<Placement>& owned,
                                         std::vector<uint64_t>& staging, const std::string& what) {
  // Each source shard of another dtype is converted on its node into a copy of the same layout
  // (the same order of elements) in the destination's dtype: fp32 to bf16 in one kernel run,
  // bf16 to fp32 in another.
  TransferStats stats;
  std::map<NodeKey, std::vector<ConvertRun>> runs[2];  // [widen]
  constexpr uint64_t kStep = 32;  // elements per step of the conversion
  // A shard's copy rounds up to whole steps (the last step reads past the source shard and
  // writes its own slack).
  const auto elements = [](const mesh::Shard& sh, DType from) {
    return sh.layout.bytes() / element_bytes(from);
  };
  const auto staged_bytes = [&](const mesh::Shard& sh, DType from, DType to) {
    return mesh::align((elements(sh, from) + kStep - 1) / kStep * kStep * element_bytes(to), 64);
  };
  for (Move& m : work)
    for (const Placement*& src : m.sources) {
      if (src->dtype == m.dest->dtype) continue;
      const DType from = src->dtype, to = m.dest->dtype;
      const bool widen = to == DType::Fp32;
      Placement& s = owned.emplace_back(*src);
      s.dtype = to;
      // A source no one reads after the move is narrowed where it lies: step i writes below
      // what step i + 1 reads, and the steps' writes stay inside the shard.
      const bool in_place = !widen && m.consumes_sources &&
                            std::all_of(s.shards.begin(), s.shards.end(), [&](const auto& sh) {
                              return !sh.in_host && staged_bytes(sh, from, to) <= sh.layout.bytes();
                            });
      if (in_place) {
        for (mesh::Shard& sh : s.shards) {
          const uint64_t n = elements(sh, from);
          sh.layout.dtype = s.dtype;
          runs[widen][key(sh.node)].push_back({sh.address, sh.address, (n + kStep - 1) / kStep});
        }
        src = &s;
        continue;
      }
      uint64_t most = 0;
      std::map<NodeKey, uint64_t> per_node;
      for (const mesh::Shard& sh : s.shards)
        most = std::max(most, per_node[key(sh.node)] += staged_bytes(sh, from, to));
      const uint64_t base = sram_.take(most);
      if (base == UINT64_MAX)
        throw std::runtime_error(fmt::format("{}: no SRAM left to convert {} to {} ({} bytes)",
                                             what, dtype_name(from), dtype_name(to), most));
      staging.push_back(base);
      per_node.clear();
      for (mesh::Shard& sh : s.shards) {
        const uint64_t n = elements(sh, from), at = sh.address;
        const uint64_t bytes = staged_bytes(sh, from, to);
        sh.layout.dtype = s.dtype;
        sh.address = base + per_node[key(sh.node)];
        per_node[key(sh.node)] += bytes;
        runs[widen][key(sh.node)].push_back({at, sh.address, (n + kStep - 1) / kStep});
      }
      src = &s;
    }
  for (const bool widen : {false, true}) {
    if (runs[widen].empty()) continue;
    std::map<NodeKey, std::vector<uint64_t>> args;
    std::map<NodeKey, std::vector<uint8_t>> tables;
    for (const auto& [node, list] : runs[widen]) {
      if (list.size() * sizeof(ConvertRun) > table_bytes_)
        throw std::logic_error(fmt::format("{}: the conversion's runs fill its table area", what));
      args[node] = convert_args().values({table_, list.size()});
      for (const ConvertRun& r : list) append(tables[node], r);
    }
    const TableKernel k(convert_program(widen), config_.runtime_nodes(), std::move(args),
                        convert_args().values({}), std::move(tables), table_,
                        table_ + table_bytes_);
    const Executor::Run r = executor_.run(k);
    if (!r.ok) throw std::runtime_error(fmt::format("{}: conversion: {}", what, r.outcome));
    stats.cycles += r.cycles;
    ++stats.runs;
  }
  return stats;
}

std::optional<TransferStats> Transfers::prefetch(const std::vector<Move>& moves,
                                                 const std::string& what) {
  for (const Move& m : moves) {
    if (m.sources.size() != 1 || !whole_copies(m) || m.sources[0]->dtype != m.dest->dtype)
      return std::nullopt;
    for (const mesh::Shard& s : m.sources[0]->shards)
      if (!s.in_host) return std::nullopt;
    for (const mesh::Shard& d : m.dest->shards)
      if (d.in_host) return std::nullopt;
  }
  TransferPlan plan;
  for (const Move& m : moves) plan_transfer(m.sources, *m.dest, m.map, m.zero_fill, plan);
  if (!plan.clears.empty()) return std::nullopt;  // whole copies clear nothing
  std::map<NodeKey, std::vector<uint64_t>> values;
  std::map<NodeKey, std::vector<uint8_t>> tables;
  for (const auto& [node, list] : plan.descriptors) {
    if (list.size() * sizeof(Descriptor) > table_bytes_) return std::nullopt;
    plan.stats.descriptors += list.size();
    Node a;
    a.descriptors = table_;
    a.descriptor_count = list.size();
    for (const Descriptor& d : list) {
      plan.stats.copies += d.count;
      append(tables[node], d);
    }
    values[node] = transfer_args().values(a);
  }
  const TableKernel k(prefetch_program(), config_.runtime_nodes(), std::move(values),
                      transfer_args().values({}), std::move(tables), table_, table_ + table_bytes_);
  const Executor::Run r = executor_.run(k, true);
  if (!r.ok) throw std::runtime_error(fmt::format("{}: {}", what, r.outcome));
  TransferStats stats = plan.stats;
  stats.cycles = r.cycles;
  stats.runs = 1;
  return stats;
}

TransferStats Transfers::move_same_type(const std::vector<Move>& moves, const std::string& what) {
  TransferPlan plan;
  for (const Move& m : moves) plan_transfer(m.sources, *m.dest, m.map, m.zero_fill, plan);
  for (const auto& [node, list] : plan.descriptors) {
    plan.stats.descriptors += list.size();
    for (const Descriptor& d : list) plan.stats.copies += d.count;
  }
  const std::vector<hw::Coord> nodes = config_.runtime_nodes();
  const bool sync = !plan.clears.empty();
  // Rounds: each node's clears and as many descriptors as its table area holds.
  size_t clear_bytes = 0;
  for (const auto& [node, list] : plan.clears)
    clear_bytes = std::max(clear_bytes, list.size() * sizeof(Clear));
  if (clear_bytes + sizeof(Descriptor) > table_bytes_)
    throw std::logic_error(fmt::format("{}: the transfer's clears fill its table area", what));
  const size_t per_round = (table_bytes_ - clear_bytes) / sizeof(Descriptor);
  size_t rounds = 1;
  for (const auto& [node, list] : plan.descriptors)
    rounds = std::max(rounds, (list.size() + per_round - 1) / per_round);

  TransferStats stats = plan.stats;
  for (size_t round = 0; round < rounds; ++round) {
    std::map<NodeKey, Node> args;
    std::map<NodeKey, std::vector<uint8_t>> tables;
    for (const hw::Coord c : nodes) args[key(c)].sync = sync && round == 0;
    if (round == 0)
      for (const auto& [node, list] : plan.clears) {
        std::vector<uint8_t>& t = tables[node];
        for (const Clear& c : list) append(t, c);
        args[node].clears = table_;
        args[node].clear_count = list.size();
      }
    for (const auto& [node, list] : plan.descriptors) {
      const size_t from = round * per_round, to = std::min(list.size(), from + per_round);
      if (from >= to) continue;
      std::vector<uint8_t>& t = tables[node];
      Node& a = args[node];
      a.descriptors = table_ + t.size();
      a.descriptor_count = to - from;
      for (size_t i = from; i < to; ++i) {
        append(t, list[i]);
        args[plan.counters[node][i]].expect += list[i].count;
      }
    }
    std::map<NodeKey, std::vector<uint64_t>> values;
    for (const auto& [node, a] : args) values[node] = transfer_args().values(a);
    const TableKernel k(transfer_program(), nodes, std::move(values), transfer_args().values({}),
                        std::move(tables), table_, table_ + table_bytes_);
    const Executor::Run r = executor_.run(k);
    if (!r.ok) throw std::runtime_error(fmt::format("{}: {}", what, r.outcome));
    stats.cycles += r.cycles;
    ++stats.runs;
  }
  return stats;
}

}  // namespace dojosim::runtime::graph_run
