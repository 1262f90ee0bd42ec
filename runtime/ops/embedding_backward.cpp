// SPDX-License-Identifier: MIT
#include "runtime/ops/embedding_backward.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>

#include "hw/node/node.h"
#include "isa/global_address.h"
#include "isa/lanes.h"
#include "runtime/ops/program.h"

namespace dojosim::runtime::ops {
namespace {

uint32_t parts_of(DType dtype) {
  return dtype == DType::Bf16 ? 2 : 1;
}

// Rows pulled per round: up to 16, their stage at most 64 KiB.
constexpr uint64_t kRoundRows = 16, kStageBytes = 64 * 1024;

// The work area: the sources' table (8 bytes per dy row), a round's accumulator addresses, its
// stage (one stored row of dy's column block per pulled row), then bf16's fp32 accumulators.
struct WorkMap {
  uint64_t slots = 1, sources = 0, pending = 0, stage = 0, acc = 0, end = 0;
};
WorkMap work_map(const EmbeddingBackwardProblem& p) {
  const RowSplit &dy = p.dy, &out = p.output;
  uint64_t row = 0, acc = 0;
  for (size_t b = 0; b < dy.blocks(); ++b) row = std::max(row, dy.row_bytes(b));
  if (out.dtype == DType::Bf16)
    for (size_t b = 0; b < out.blocks(); ++b)
      acc = std::max(acc, uint64_t{out.block_rows(b)} * out.row_bytes(b) * 2);
  WorkMap m;
  m.slots = std::clamp<uint64_t>(kStageBytes / std::max<uint64_t>(row, 1), 1, kRoundRows);
  m.sources = p.work;
  m.pending = m.sources + mesh::align(uint64_t{dy.rows} * 8, dy.vlen);
  m.stage = m.pending + mesh::align(m.slots * 8, dy.vlen);
  m.acc = m.stage + m.slots * row;
  m.end = m.acc + acc;
  return m;
}

struct Node {
  uint64_t nout = 0, v0 = 0, v1 = 0, rows = 0, ids = 0, sources = 0, stage = 0, pull_bytes = 0;
  uint64_t acc = 0, acc_row = 0, acc_registers = 0, registers = 0, out = 0, slots = 0;
  uint64_t pending = 0;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"NOUT", [](N n) { return n.nout; }},  // table rows here: [V0, V1)
      {"V0", [](N n) { return n.v0; }},
      {"V1", [](N n) { return n.v1; }},
      {"ROWS", [](N n) { return n.rows; }},        // rows of dy
      {"IDS", [](N n) { return n.ids; }},          // int32 per row of dy
      {"SOURCES", [](N n) { return n.sources; }},  // per row of dy: its block's global address
      {"STAGE", [](N n) { return n.stage; }},
      {"PULLBYTES", [](N n) { return n.pull_bytes; }},  // a stored row of the column block
      {"ACC", [](N n) { return n.acc; }},               // fp32 accumulators, a row per table row
      {"ACCROW", [](N n) { return n.acc_row; }},
      {"ACCREGS", [](N n) { return n.acc_registers; }},
      {"REGISTERS", [](N n) { return n.registers; }},  // stored registers per row
      {"OUT", [](N n) { return n.out; }},
      {"SLOTS", [](N n) { return n.slots; }},      // rows pulled per round
      {"PENDING", [](N n) { return n.pending; }},  // per slot: its accumulators' address
  };
  return block;
}

std::string program_text(DType dtype, uint32_t vlen) {
  const bool bf16 = dtype == DType::Bf16;
  codegen::AsmWriter w;
  w.raw(fmt::format(
      "# embedding_backward ({}), one thread per node: zero the accumulators of this node's\n"
      "# table rows; pull the column blocks of the rows of dy whose id is here, SLOTS per round,\n"
      "# and after each round add them in row order into their id's row in fp32; {}.",
      dtype_name(dtype), bf16 ? "then round the accumulators to bf16 into dtable" : "done"));
  args().declare(w);
  w.equ("VLEN", vlen);
  w.raw("\n    .text\n    .globl _start\n_start:");
  w.op("la      s1, args");
  w.op("ld      s2, NOUT(s1)");
  w.op("beqz    s2, exit");
  w.op("ld      a2, ACC(s1)");
  w.op("ld      t0, ACCREGS(s1)");
  w.op("vbcast.fp32 v0, zero");
  w.label("clear");
  w.op("vse     v0, 0(a2)");
  w.op("addi    a2, a2, VLEN");
  w.op("addi    t0, t0, -1");
  w.op("bnez    t0, clear");
  w.op("ld      s3, IDS(s1)");
  w.op("ld      s4, SOURCES(s1)");
  w.op("ld      s5, ROWS(s1)");
  w.op("ld      s6, V0(s1)");
  w.op("ld      s7, V1(s1)");
  w.op("ld      s8, STAGE(s1)");
  w.op("ld      s9, PULLBYTES(s1)");
  w.op("ld      s10, ACCROW(s1)");
  w.op("ld      s11, REGISTERS(s1)");
  w.op("ld      a3, ACC(s1)");
  w.op("ld      a4, SLOTS(s1)");
  w.op("ld      a5, PENDING(s1)");
  w.op("li      a6, 0                   # pulls in this round");
  w.op("mv      a7, s8                  # the next slot of the stage");
  w.label("row");
  w.op("beqz    s5, rows_done");
  w.op("lw      t0, 0(s3)               # the id: 0 <= id < V, checked by the host");
  w.op("blt     t0, s6, next");
  w.op("bge     t0, s7, next");
  w.op("ld      t1, 0(s4)");
  w.op("pull    a7, t1, s9, 1           # waits while the DMA queue is full");
  w.op("sub     t0, t0, s6");
  w.op("mul     t0, t0, s10");
  w.op("add     t0, a3, t0");
  w.op("slli    t4, a6, 3");
  w.op("add     t4, a5, t4");
  w.op("sd      t0, 0(t4)               # the slot's accumulators");
  w.op("addi    a6, a6, 1");
  w.op("add     a7, a7, s9");
  w.op("bne     a6, a4, next");
  w.op("jal     ra, flush");
  w.label("next");
  w.op("addi    s3, s3, 4");
  w.op("addi    s4, s4, 8");
  w.op("addi    s5, s5, -1");
  w.op("j       row");
  // A round: wait for its pulls, then add the slots in order (the rows' order).
  w.label("flush");
  w.op("beqz    a6, flushed");
  w.op("swait   1, a6");
  w.op("mv      t5, s8");
  w.op("li      t6, 0");
  w.label("slot");
  w.op("slli    t4, t6, 3");
  w.op("add     t4, a5, t4");
  w.op("ld      a2, 0(t4)");
  w.op("mv      a1, t5");
  w.op("mv      t3, s11");
  w.label("accumulate");
  w.op("vle     v1, 0(a1)");
  if (bf16) {
    w.op("vcvt.fp32.bf16 v3, v1, 0");
    w.op("vcvt.fp32.bf16 v4, v1, 1");
    w.op("vle     v5, 0(a2)");
    w.op("vle     v6, VLEN(a2)");
    w.op("vadd.fp32 v5, v5, v3");
    w.op("vadd.fp32 v6, v6, v4");
    w.op("vse     v5, 0(a2)");
    w.op("vse     v6, VLEN(a2)");
    w.op("addi    a2, a2, {}", 2 * vlen);
  } else {
    w.op("vle     v5, 0(a2)");
    w.op("vadd.fp32 v5, v5, v1");
    w.op("vse     v5, 0(a2)");
    w.op("addi    a2, a2, VLEN");
  }
  w.op("addi    a1, a1, VLEN");
  w.op("addi    t3, t3, -1");
  w.op("bnez    t3, accumulate");
  w.op("add     t5, t5, s9");
  w.op("addi    t6, t6, 1");
  w.op("bne     t6, a6, slot");
  w.op("li      a6, 0");
  w.op("mv      a7, s8");
  w.label("flushed");
  w.op("jalr    zero, 0(ra)");
  w.label("rows_done");
  w.op("jal     ra, flush               # the last round");
  if (bf16) {  // every stored register of dtable from its two fp32 accumulators
    w.op("ld      a2, ACC(s1)");
    w.op("ld      a1, OUT(s1)");
    w.op("ld      t0, ACCREGS(s1)");
    w.op("srli    t0, t0, 1");
    w.label("round");
    w.op("vle     v5, 0(a2)");
    w.op("vle     v6, VLEN(a2)");
    w.op("vcvt.bf16.fp32 v7, v5, 0");
    w.op("vcvt.bf16.fp32 v7, v6, 1");
    w.op("vse     v7, 0(a1)");
    w.op("addi    a2, a2, {}", 2 * vlen);
    w.op("addi    a1, a1, VLEN");
    w.op("addi    t0, t0, -1");
    w.op("bnez    t0, round");
  }
  w.op("j       exit");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

mesh::NodeProgram build_program(DType dtype, uint32_t vlen) {
  return mesh::assemble_program(program_text(dtype, vlen),
                                fmt::format("embedding_backward_{}.s", dtype_name(dtype)));
}

std::string describe(const RowSplit& dy, uint32_t vocabulary) {
  return fmt::format("embedding_backward [{}, {}] into [{}, {}] {}", dy.rows, dy.cols, vocabulary,
                     dy.cols, dtype_name(dy.dtype));
}

}  // namespace

RowSplit embedding_backward_output(const hw::HardwareConfig& config, const RowSplit& dy,
                                   uint32_t vocabulary) {
  return split_rows(config, dy.dtype, vocabulary, dy.cols, dy.col_parts);
}

uint64_t embedding_backward_ids_bytes(const RowSplit& dy) {
  return mesh::align(uint64_t{dy.rows} * 4, dy.vlen);
}

uint64_t embedding_backward_work_bytes(const EmbeddingBackwardProblem& problem) {
  EmbeddingBackwardProblem p = problem;
  p.work = 0;
  return work_map(p).end;
}

void write_embedding_backward_ids(hw::Machine& machine, const RowSplit& output, uint64_t address,
                                  const std::vector<int32_t>& ids) {
  for (const hw::Coord& c : output.nodes)
    machine.node(c)->sram().write(address, ids.data(), ids.size() * 4);
}

EmbeddingBackwardKernel::EmbeddingBackwardKernel(const hw::HardwareConfig& config,
                                                 const EmbeddingBackwardProblem& problem)
    : problem_(problem) {
  const RowSplit &dy = problem.dy, &out = problem.output;
  const std::string what = describe(dy, out.rows);
  if (dy.dtype != DType::Fp32 && dy.dtype != DType::Bf16)
    throw std::invalid_argument(
        fmt::format("{}: dtype {}: expected fp32 or bf16", what, dtype_name(dy.dtype)));
  if (out.dtype != dy.dtype || out.cols != dy.cols || out.col_start != dy.col_start)
    throw std::invalid_argument(fmt::format(
        "{}: the output split holds [{}, {}] {} in {} column blocks: expected dy's dtype and "
        "its {} column blocks",
        what, out.rows, out.cols, dtype_name(out.dtype), out.col_parts, dy.col_parts));
  program_ = build_program(dy.dtype, dy.vlen);
  std::tie(begin_, end_) =
      check_regions(config, what, program_,
                    {{"ids", problem.ids, embedding_backward_ids_bytes(dy)},
                     {"dy", problem.dy_at, dy.bytes()},
                     {"out", problem.out, out.bytes()},
                     {"work", problem.work, embedding_backward_work_bytes(problem)}},
                    1, kStackBytes);
}

void EmbeddingBackwardKernel::place(hw::Machine& machine) const {
  const RowSplit &dy = problem_.dy, &out = problem_.output;
  const WorkMap m = work_map(problem_);
  for (size_t b = 0; b < out.blocks(); ++b) {
    const uint32_t j = static_cast<uint32_t>(b % out.col_parts);
    std::vector<uint64_t> sources(dy.rows);
    for (uint32_t i = 0; i < dy.row_parts; ++i) {
      const size_t from = size_t{i} * dy.col_parts + j;
      const hw::Coord c = dy.nodes[from];
      for (uint32_t r = dy.row_start[i]; r < dy.row_start[i + 1]; ++r)
        sources[r] = isa::global_address(
            static_cast<uint32_t>(c.x), static_cast<uint32_t>(c.y),
            static_cast<uint32_t>(problem_.dy_at +
                                  uint64_t{r - dy.row_start[i]} * dy.row_bytes(from)));
    }
    machine.node(out.nodes[b])->sram().write(m.sources, sources.data(), sources.size() * 8);
  }
}

void EmbeddingBackwardKernel::write_args(hw::Machine& machine) const {
  const RowSplit &dy = problem_.dy, &out = problem_.output;
  const WorkMap m = work_map(problem_);
  const uint32_t parts = parts_of(out.dtype);
  for (size_t b = 0; b < out.blocks(); ++b) {
    const uint32_t i = static_cast<uint32_t>(b / out.col_parts);
    Node n;
    n.nout = out.block_rows(b), n.v0 = out.row_start[i], n.v1 = out.row_start[i + 1];
    n.rows = dy.rows, n.ids = problem_.ids, n.sources = m.sources, n.stage = m.stage;
    n.pull_bytes = out.row_bytes(b);  // dy's column block has the same registers
    n.registers = out.chunks(b);
    n.acc = out.dtype == DType::Bf16 ? m.acc : problem_.out;
    n.acc_row = out.row_bytes(b) * parts;
    n.acc_registers = uint64_t{out.block_rows(b)} * out.chunks(b) * parts;
    n.out = problem_.out, n.slots = m.slots, n.pending = m.pending;
    const std::vector<uint64_t> v = args().values(n);
    machine.node(out.nodes[b])->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

Matrix embedding_backward_reference(DType dtype, uint32_t vocabulary,
                                    const std::vector<int32_t>& ids, const Matrix& dy) {
  const Matrix q = quantized(dy, dtype, {});
  Matrix acc(vocabulary, dy.cols);  // zeros
  for (uint32_t r = 0; r < dy.rows; ++r)
    for (uint32_t c = 0; c < dy.cols; ++c) {
      float& a = acc.at(uint32_t(ids[r]), c);
      a = isa::lanes::canonical(a + q.at(r, c));
    }
  return dtype == DType::Fp32 ? acc : quantized(acc, dtype, {});
}

Reference64 embedding_backward_reference_f64(DType dtype, uint32_t vocabulary,
                                             const std::vector<int32_t>& ids, const Matrix& dy) {
  const Matrix q = quantized(dy, dtype, {});
  const double u = std::ldexp(1.0, -24);
  const double u_out = dtype == DType::Fp32 ? 0.0 : std::ldexp(1.0, -8);
  std::vector<double> sum(size_t{vocabulary} * dy.cols, 0.0), magnitude(sum.size(), 0.0);
  std::vector<double> count(vocabulary, 0.0);
  for (uint32_t r = 0; r < dy.rows; ++r) {
    count[size_t(ids[r])] += 1;
    for (uint32_t c = 0; c < dy.cols; ++c) {
      sum[size_t(ids[r]) * dy.cols + c] += q.at(r, c);
      magnitude[size_t(ids[r]) * dy.cols + c] += std::fabs(q.at(r, c));
    }
  }
  Reference64 ref{vocabulary, dy.cols, {}, {}};
  for (size_t e = 0; e < sum.size(); ++e) {
    // n - 1 fp32 additions on the path of a row with n ids (the first adds to 0 exactly).
    const double n = count[e / dy.cols], gamma = n * u / (1 - n * u);
    ref.value.push_back(sum[e]);
    ref.bound.push_back(magnitude[e] * gamma * (1 + u_out) + u_out * std::fabs(sum[e]));
  }
  return ref;
}

}  // namespace dojosim::runtime::ops
