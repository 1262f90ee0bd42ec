// SPDX-License-Identifier: MIT
#include "runtime/mesh/relayout.h"

#include <fmt/format.h>

#include <set>
#include <stdexcept>

#include "hw/node/node.h"

namespace dojosim::runtime::mesh {
namespace {

struct Node {
  uint64_t dst = 0, dst_end = 0, table = 0, runs = 0;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"DST", [](N n) { return n.dst; }},          // the destination, cleared first
      {"DSTEND", [](N n) { return n.dst_end; }},
      {"TABLE", [](N n) { return n.table; }},      // the runs: source, destination, count
      {"RUNS", [](N n) { return n.runs; }},
  };
  return block;
}

std::string program_text(DType to) {
  codegen::AsmWriter w;
  w.raw(
      "# Relayout: clear the destination (its padding must read as zero), then convert each run "
      "of\n"
      "# elements contiguous in both layouts, fp32 to " +
      std::string(dtype_name(to)) + ".");
  args().declare(w);
  w.raw(R"(
    .text
    .globl _start
_start:
    la      s1, args
    li      s4, 0x7fff              # bf16 rounding: add 0x7fff + the kept part's lowest bit
    ld      t0, DST(s1)
    ld      t1, DSTEND(s1)
clear_destination:
    bgeu    t0, t1, copy_runs
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       clear_destination
copy_runs:
    ld      s2, TABLE(s1)
    ld      s3, RUNS(s1)
next_run:
    beqz    s3, exit
    ld      t0, 0(s2)               # source
    ld      t1, 8(s2)               # destination
    ld      t2, 16(s2)              # elements
    addi    s2, s2, 24
    addi    s3, s3, -1
convert_element:
    lwu     t3, 0(t0))");
  if (to == DType::Bf16)
    w.raw(R"(    srli    t4, t3, 16
    andi    t4, t4, 1
    add     t3, t3, t4
    add     t3, t3, s4
    srli    t3, t3, 16
    sh      t3, 0(t1)
    addi    t1, t1, 2)");
  else
    w.raw(R"(    sw      t3, 0(t1)
    addi    t1, t1, 4)");
  w.raw(R"(    addi    t0, t0, 4
    addi    t2, t2, -1
    bnez    t2, convert_element
    j       next_run)");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

}  // namespace

RelayoutKernel::RelayoutKernel(const hw::HardwareConfig& config, std::vector<RelayoutPair> pairs,
                               uint64_t sram_from) {
  if (pairs.empty()) throw std::invalid_argument("relayout: no node to convert");
  const DType to = pairs.front().to.layout.dtype;
  if (to != DType::Fp32 && to != DType::Bf16)
    throw std::invalid_argument(
        fmt::format("relayout: to {}: expected fp32 or bf16", dtype_name(to)));
  std::set<std::pair<int, int>> nodes;
  uint64_t table_bytes = 0;
  for (const RelayoutPair& p : pairs) {
    const Shard &f = p.from, &t = p.to;
    if (f.in_host || t.in_host || f.node.x != t.node.x || f.node.y != t.node.y || f.r0 != t.r0 ||
        f.r1 != t.r1 || f.c0 != t.c0 || f.c1 != t.c1 || f.layout.dtype != DType::Fp32 ||
        t.layout.dtype != to)
      throw std::invalid_argument(
          fmt::format("relayout at node ({},{}): from and to must be fp32 and {} parts of the same "
                      "rows and columns "
                      "in that node's SRAM",
                      f.node.x, f.node.y, dtype_name(to)));
    if (!nodes.insert({f.node.x, f.node.y}).second)
      throw std::invalid_argument(
          fmt::format("relayout: node ({},{}) named twice", f.node.x, f.node.y));
    NodeWork& n = work_.emplace_back(NodeWork{p, {}});
    const uint64_t to_bytes = element_bytes(to);
    for (uint32_t r = 0; r < f.r1 - f.r0; ++r)
      for (uint32_t c = 0; c < f.c1 - f.c0; ++c) {
        const uint64_t src = f.address + f.layout.offset(r, c),
                       dst = t.address + t.layout.offset(r, c);
        Run* last = n.runs.empty() ? nullptr : &n.runs.back();
        if (last && last->from + 4 * last->count == src && last->to + to_bytes * last->count == dst)
          ++last->count;
        else
          n.runs.push_back({src, dst, 1});
      }
    table_bytes = std::max<uint64_t>(table_bytes, n.runs.size() * sizeof(Run));
  }
  program_ = assemble_program(program_text(to), "relayout.s");
  SramMap map(program_, sram_from);
  table_ = map.take(table_bytes);
  end_ = map.at;
  const uint64_t limit = config.node.core.sram_bytes - threads() * stack_bytes();
  if (end_ > limit)
    throw std::invalid_argument(fmt::format(
        "relayout: its run tables end at SRAM byte {}, past the {} below the stack", end_, limit));
}

void RelayoutKernel::place(hw::Machine& machine) const {
  for (const NodeWork& n : work_)
    machine.node(n.pair.from.node)
        ->sram()
        .write(table_, n.runs.data(), n.runs.size() * sizeof(Run));
}

void RelayoutKernel::write_args(hw::Machine& machine) const {
  for (const NodeWork& n : work_) {
    const Shard& t = n.pair.to;
    const std::vector<uint64_t> v =
        args().values({t.address, t.address + t.layout.bytes(), table_, n.runs.size()});
    machine.node(t.node)->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

Matrix RelayoutKernel::reference(const Matrix& from, DType to) {
  return quantized(from, to, {});
}

}  // namespace dojosim::runtime::mesh
