// SPDX-License-Identifier: MIT
#include "runtime/ops/elementwise.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>

#include "hw/node/node.h"
#include "isa/lanes.h"
#include "runtime/ops/program.h"

namespace dojosim::runtime::ops {
namespace {

struct OpRow {
  ElementwiseOp op;
  std::string_view name, instruction;
  int operands;  // 1, 2 or 'v'
  float (*element)(float a, float b);
};

const OpRow kOps[] = {
#define DOJOSIM_ELEMENTWISE(Op, name, instruction, operands, element) \
  {ElementwiseOp::Op, name, instruction, operands, [](float a, float b) { return element; }},
#include "runtime/ops/elementwise.def"
#undef DOJOSIM_ELEMENTWISE
};

const OpRow& row(ElementwiseOp op) {
  return kOps[static_cast<size_t>(op)];
}

// One node's work: `rows` rows of `registers` vector registers each (the last row
// `last_registers`); a and out advance row_bytes per row, b b_step (0: the same [cols] vector
// for every row).
struct Node {
  uint64_t a = 0, b = 0, out = 0, rows = 0, registers = 0, last_registers = 0, row_bytes = 0,
           b_step = 0;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"A", [](N n) { return n.a; }},
      {"B", [](N n) { return n.b; }},
      {"OUT", [](N n) { return n.out; }},
      {"ROWS", [](N n) { return n.rows; }},  // thread t takes rows t, t + T, t + 2T, ...
      {"REGISTERS", [](N n) { return n.registers; }},
      {"LASTREGISTERS", [](N n) { return n.last_registers; }},
      {"ROWBYTES", [](N n) { return n.row_bytes; }},
      {"BSTEP", [](N n) { return n.b_step; }},
  };
  return block;
}

// A same-shape or unary op sees the node's block as one run of registers, cut into rows of
// this many so that the threads share it.
constexpr uint64_t kFlatRowRegisters = 16;
// Registers per pass of the unrolled loop.
constexpr int kUnroll = 4;

std::string program_text(const OpRow& op, DType dtype, uint32_t vlen) {
  const bool unary = op.operands == 1;
  const std::string insn = fmt::format("{}.{}", op.instruction, dtype_name(dtype));
  codegen::AsmWriter w;
  w.raw(fmt::format(
      "# Elementwise {} ({}): out = {}(a, {}), one vector register of lanes at a time, {} per\n"
      "# pass while a row has that many. Thread t of T takes rows t, t + T, ...; each row is\n"
      "# ROWBYTES of a and out, b moves BSTEP per row (0: one [cols] vector for every row).",
      op.name, dtype_name(dtype), insn, unary ? "0" : "b", kUnroll));
  args().declare(w);
  w.equ("VLEN", vlen);
  w.raw("\n    .text\n    .globl _start\n_start:");
  w.op("la      s1, args");
  w.op("csrr    s3, threadid              # this thread's first row");
  w.op("csrr    s2, nthreads              # the step between its rows");
  w.op("ld      s4, ROWS(s1)");
  w.op("ld      s5, ROWBYTES(s1)");
  w.op("ld      s6, BSTEP(s1)");
  w.op("ld      s7, A(s1)");
  w.op("ld      s8, B(s1)");
  w.op("ld      s9, OUT(s1)");
  w.op("addi    s10, s4, -1               # the last row");
  if (unary) w.op("vbcast.{} v31, zero          # the second source: 0", dtype_name(dtype));
  w.label("next_row");
  w.op("bgeu    s3, s4, exit");
  w.op("mul     t3, s3, s5");
  w.op("add     a0, s7, t3");
  w.op("add     a2, s9, t3");
  w.op("mul     t3, s3, s6");
  w.op("add     t1, s8, t3");
  w.op("ld      t2, REGISTERS(s1)");
  w.op("bne     s3, s10, registers_by_{}", kUnroll);
  w.op("ld      t2, LASTREGISTERS(s1)");
  w.label(fmt::format("registers_by_{}", kUnroll));
  w.op("addi    t5, t2, -{}", kUnroll);
  w.op("bltz    t5, one_register");
  const auto body = [&](int n) {
    for (int i = 0; i < n; ++i) w.op("vle     v{}, {}(a0)", i, i * vlen);
    if (!unary)
      for (int i = 0; i < n; ++i) w.op("vle     v{}, {}(t1)", n + i, i * vlen);
    for (int i = 0; i < n; ++i) w.op("{} v{}, v{}, v{}", insn, 2 * n + i, i, unary ? 31 : n + i);
    for (int i = 0; i < n; ++i) w.op("vse     v{}, {}(a2)", 2 * n + i, i * vlen);
    w.op("addi    a0, a0, {}", n * vlen);
    if (!unary) w.op("addi    t1, t1, {}", n * vlen);
    w.op("addi    a2, a2, {}", n * vlen);
    w.op("addi    t2, t2, -{}", n);
  };
  body(kUnroll);
  w.op("j       registers_by_{}", kUnroll);
  w.label("one_register");
  w.op("beqz    t2, row_done");
  body(1);
  w.op("j       one_register");
  w.label("row_done");
  w.op("add     s3, s3, s2");
  w.op("j       next_row");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

// Every node's work, in the split's order.
std::vector<Node> node_work(const ElementwiseProblem& p) {
  const RowSplit& s = p.split;
  std::vector<Node> work;
  for (size_t b = 0; b < s.blocks(); ++b) {
    Node n{p.a, p.b, p.out, s.block_rows(b), s.chunks(b), s.chunks(b), s.row_bytes(b), 0};
    if (!p.b_vector) {
      const uint64_t all = n.rows * n.registers;
      n.rows = (all + kFlatRowRegisters - 1) / kFlatRowRegisters;
      n.registers = std::min(all, kFlatRowRegisters);
      n.last_registers = all - (n.rows - 1) * n.registers;
      n.row_bytes = n.b_step = n.registers * s.vlen;
    }
    work.push_back(n);
  }
  return work;
}

mesh::NodeProgram build_program(const OpRow& op, DType dtype, uint32_t vlen) {
  return mesh::assemble_program(program_text(op, dtype, vlen),
                                fmt::format("{}_{}.s", op.name, dtype_name(dtype)));
}

}  // namespace

std::string_view elementwise_name(ElementwiseOp op) {
  return row(op).name;
}

ElementwiseOp parse_elementwise(std::string_view name) {
  std::string names;
  for (const OpRow& r : kOps) {
    if (r.name == name) return r.op;
    names += names.empty() ? "" : ", ";
    names += r.name;
  }
  throw std::invalid_argument(fmt::format("elementwise op '{}': expected one of {}", name, names));
}

unsigned elementwise_operands(ElementwiseOp op) {
  return row(op).operands == 1 ? 1 : 2;
}

float elementwise_reference(ElementwiseOp op, DType dtype, float a, float b) {
  const float r = row(op).element(a, row(op).operands == 1 ? 0.0f : b);
  return dtype == DType::Fp32 ? r : quantize(dtype, r, {});
}

namespace {
// b's value for element (r, c): b has a's shape, or is one row applied to every row.
float operand_b(const Matrix& b, uint32_t r, uint32_t c) {
  return b.values.empty() ? 0.0f : b.rows == 1 ? b.at(0, c) : b.at(r, c);
}
}  // namespace

Matrix elementwise_reference(ElementwiseOp op, DType dtype, const Matrix& a, const Matrix& b) {
  const Matrix qa = quantized(a, dtype, {}), qb = quantized(b, dtype, {});
  Matrix out(a.rows, a.cols);
  for (uint32_t r = 0; r < a.rows; ++r)
    for (uint32_t c = 0; c < a.cols; ++c)
      out.at(r, c) = elementwise_reference(op, dtype, qa.at(r, c), operand_b(qb, r, c));
  return out;
}

Reference64 elementwise_reference_f64(ElementwiseOp op, DType dtype, const Matrix& a,
                                      const Matrix& b) {
  const Matrix qa = quantized(a, dtype, {}), qb = quantized(b, dtype, {});
  const double tol =
      dtype == DType::Fp32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -8) + std::ldexp(1.0, -23);
  Reference64 ref{a.rows, a.cols, {}, {}};
  for (uint32_t r = 0; r < a.rows; ++r)
    for (uint32_t c = 0; c < a.cols; ++c) {
      const double x = qa.at(r, c), y = row(op).operands == 1 ? 0.0 : operand_b(qb, r, c);
      double v = 0;
      switch (op) {
        case ElementwiseOp::Add:
        case ElementwiseOp::BiasAdd:
          v = x + y;
          break;
        case ElementwiseOp::Sub:
          v = x - y;
          break;
        case ElementwiseOp::Mul:
          v = x * y;
          break;
        case ElementwiseOp::Relu:
          v = x > 0 ? x : 0.0;
          break;
        case ElementwiseOp::ReluBackward:
          v = y > 0 ? x : 0.0;
          break;
      }
      ref.value.push_back(v);
      ref.bound.push_back(tol * std::fabs(v));
    }
  return ref;
}

ElementwiseKernel::ElementwiseKernel(const hw::HardwareConfig& config,
                                     const ElementwiseProblem& problem)
    : problem_(problem), core_(config.node.core), threads_(config.node.core.threads) {
  const OpRow& op = row(problem.op);
  const RowSplit& s = problem.split;
  const std::string what =
      fmt::format("{} [{}, {}] {}", op.name, s.rows, s.cols, dtype_name(s.dtype));
  if (s.dtype != DType::Fp32 && s.dtype != DType::Bf16)
    throw std::invalid_argument(
        fmt::format("{}: dtype {}: expected fp32 or bf16", what, dtype_name(s.dtype)));
  if (op.operands == 'v' && !problem.b_vector)
    throw std::invalid_argument(fmt::format("{}: b must be a [{}] vector", what, s.cols));
  program_ = build_program(op, s.dtype, s.vlen);
  std::vector<Region> regions = {{"a", problem.a, s.bytes()}, {"out", problem.out, s.bytes()}};
  if (op.operands != 1)
    regions.push_back({"b", problem.b, problem.b_vector ? s.vector_bytes() : s.bytes()});
  std::tie(begin_, end_) = check_regions(config, what, program_, regions, threads_, kStackBytes);
}

void ElementwiseKernel::write_args(hw::Machine& machine) const {
  const std::vector<Node> work = node_work(problem_);
  for (size_t b = 0; b < work.size(); ++b) {
    const std::vector<uint64_t> v = args().values(work[b]);
    machine.node(problem_.split.nodes[b])
        ->sram()
        .write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

double ElementwiseKernel::estimate_cycles() const {
  const LoopCosts c = loop_costs(core_.timing_params);
  const bool unary = row(problem_.op).operands == 1;
  const double loads = unary ? 1 : 2;
  // A pass over n registers in one thread: its loads, then the op on the last loaded register
  // (the others' ops overlap the loads), the stores of the results, the loop's bookkeeping;
  // a thread's passes follow each other (the loop is not software-pipelined).
  const auto pass = [&](double n) {
    return n * loads * c.load_per_port + c.vload_latency + c.simd_latency + n * c.store_occupancy +
           c.loop_overhead;
  };
  double most = 0;
  for (const Node& n : node_work(problem_)) {
    if (n.rows == 0) continue;
    const auto row_cycles = [&](uint64_t registers) {
      return c.row_overhead + double(registers / kUnroll) * pass(kUnroll) +
             double(registers % kUnroll) * pass(1);
    };
    // The busiest thread (thread 0) has the most rows, and the last one if rows % threads == 1.
    const uint64_t rows0 = (n.rows + threads_ - 1) / threads_;
    const double thread0 = double(rows0 - 1) * row_cycles(n.registers) +
                           row_cycles((n.rows - 1) % threads_ ? n.registers : n.last_registers);
    // The threads overlap, up to the busiest unit they share: the SIMD unit, the ports, the
    // branch unit or the ALUs, from the instructions the program runs (program_text()).
    const double registers = double(n.rows - 1) * n.registers + n.last_registers;
    const double passes = double(n.rows - 1) * (n.registers / kUnroll) + n.last_registers / kUnroll;
    const double single = registers - kUnroll * passes;
    const double pointers = unary ? 2 : 3;
    const double branches = 5 * double(n.rows) + 2 * passes + 2 * single;
    const double alu = 6 * double(n.rows) + (pointers + 2) * passes + (pointers + 1) * single;
    const double shared = std::max(
        {registers * c.simd_occupancy, registers * loads * c.load_per_port,
         registers * c.store_occupancy, branches * c.branch_per_unit, alu * c.alu_per_unit});
    most = std::max({most, thread0, shared});
  }
  return c.prologue + most;
}

ElementwiseRun run_elementwise(Executor& executor, ElementwiseOp op, DType dtype, const Matrix& a,
                               const Matrix& b, ElementwiseOptions options) {
  const OpRow& r = row(op);
  const std::string what = fmt::format("{} [{}, {}]", r.name, a.rows, a.cols);
  ElementwiseProblem p;
  p.op = op;
  if (r.operands != 1) {
    const bool same = b.rows == a.rows && b.cols == a.cols;
    const bool vector = b.rows == 1 && b.cols == a.cols;
    if (r.operands == 'v' ? !vector : !same && !vector)
      throw std::invalid_argument(fmt::format(
          "{}: b is [{}, {}]: expected {}[1, {}] (a [{}] vector over the rows)", what, b.rows,
          b.cols, r.operands == 'v' ? "" : fmt::format("[{}, {}] or ", a.rows, a.cols), a.cols,
          a.cols));
    p.b_vector = !same || r.operands == 'v';
  }
  p.split = split_rows(executor.config(), dtype, a.rows, a.cols, options.col_parts);
  // The program comes first: data goes above it.
  mesh::SramMap map(build_program(r, dtype, p.split.vlen), options.sram_from);
  p.a = map.take(p.split.bytes());
  if (r.operands != 1) p.b = map.take(p.b_vector ? p.split.vector_bytes() : p.split.bytes());
  p.out = map.take(p.split.bytes());
  const ElementwiseKernel kernel(executor.config(), p);
  hw::Machine& m = executor.machine();
  write_tensor(m, p.split, p.a, a);
  if (r.operands != 1) {
    if (p.b_vector)
      write_vector(m, p.split, p.b, b.values);
    else
      write_tensor(m, p.split, p.b, b);
  }
  ElementwiseRun result;
  result.estimate = kernel.estimate_cycles();
  result.run = executor.run(kernel);
  if (result.run.ok) result.out = read_tensor(m, p.split, p.out);
  return result;
}

}  // namespace dojosim::runtime::ops
