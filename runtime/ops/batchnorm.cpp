// SPDX-License-Identifier: MIT
#include "runtime/ops/batchnorm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>

#include "hw/node/node.h"
#include "isa/lanes.h"
#include "isa/vector_math.h"
#include "runtime/ops/program.h"
#include "runtime/ops/schedule.h"

namespace dojosim::runtime::ops {
namespace {

int pieces(DType dtype) {
  return dtype == DType::Bf16 ? 2 : 1;
}

// The folded factors of one stored register of a row: per piece of 16 lanes, a then b (fp32).
uint64_t folded_bytes_per_register(DType dtype, uint32_t vlen) {
  return uint64_t(pieces(dtype)) * 2 * vlen;
}

struct Node {
  uint64_t x = 0, out = 0, scale = 0, bias = 0, mean = 0, variance = 0, folded = 0, rows = 0,
           registers = 0, row_bytes = 0, epsilon = 0;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"X", [](N n) { return n.x; }},
      {"OUT", [](N n) { return n.out; }},
      {"SCALE", [](N n) { return n.scale; }},
      {"BIAS", [](N n) { return n.bias; }},
      {"MEAN", [](N n) { return n.mean; }},
      {"VARIANCE", [](N n) { return n.variance; }},
      {"FOLDED", [](N n) { return n.folded; }},        // per register and piece: a, then b
      {"ROWS", [](N n) { return n.rows; }},            // thread t takes rows t, t + T, ...
      {"REGISTERS", [](N n) { return n.registers; }},  // stored registers per row
      {"ROWBYTES", [](N n) { return n.row_bytes; }},
      {"EPSILON", [](N n) { return n.epsilon; }},
  };
  return block;
}

// Folding one stored register of the vectors (scale at a0, variance a1, mean a3, bias a4) into
// a and b at a5. v20 holds epsilon, v21 zero.
std::vector<std::string> fold_lines(DType dtype) {
  std::vector<std::string> lines;
  const auto fold = [&](int q) {
    lines.push_back("vadd.fp32 v3, v3, v20        # variance + epsilon");
    lines.push_back("vrsqrt.fp32 v3, v3");
    lines.push_back("vmul.fp32 v6, v2, v3         # a = scale rsqrt(variance + epsilon)");
    lines.push_back("vsub.fp32 v4, v21, v4        # -mean");
    lines.push_back("vfma.fp32 v5, v4, v6         # b = fma(-mean, a, bias)");
    lines.push_back(fmt::format("vse     v6, {}*VLEN(a5)", 2 * q));
    lines.push_back(fmt::format("vse     v5, {}*VLEN(a5)", 2 * q + 1));
  };
  if (dtype == DType::Fp32) {
    for (auto [reg, ptr] : {std::pair{"v2", "a0"}, {"v3", "a1"}, {"v4", "a3"}, {"v5", "a4"}})
      lines.push_back(fmt::format("vle     {}, 0({})", reg, ptr));
    fold(0);
    return lines;
  }
  for (auto [reg, ptr] : {std::pair{"v8", "a0"}, {"v9", "a1"}, {"v10", "a3"}, {"v11", "a4"}})
    lines.push_back(fmt::format("vle     {}, 0({})", reg, ptr));
  for (int q = 0; q < 2; ++q) {
    for (auto [to, from] : {std::pair{"v2", "v8"}, {"v3", "v9"}, {"v4", "v10"}, {"v5", "v11"}})
      lines.push_back(fmt::format("vcvt.fp32.bf16 {}, {}, {}", to, from, q));
    fold(q);
  }
  return lines;
}

// One stored register of a row: x at a1, its folded factors at t1, y to a6.
std::vector<std::string> row_lines(DType dtype) {
  if (dtype == DType::Fp32)
    return {"vle     v2, 0(a1)", "vle     v6, 0(t1)", "vle     v5, VLEN(t1)",
            "vfma.fp32 v5, v2, v6         # y = fma(x, a, b)", "vse     v5, 0(a6)"};
  std::vector<std::string> lines = {"vle     v1, 0(a1)"};
  for (int q = 0; q < 2; ++q) {
    lines.push_back(fmt::format("vcvt.fp32.bf16 v2, v1, {}", q));
    lines.push_back(fmt::format("vle     v6, {}*VLEN(t1)", 2 * q));
    lines.push_back(fmt::format("vle     v5, {}*VLEN(t1)", 2 * q + 1));
    lines.push_back("vfma.fp32 v5, v2, v6         # y = fma(x, a, b)");
    lines.push_back(fmt::format("vcvt.bf16.fp32 v14, v5, {}", q));
  }
  lines.push_back("vse     v14, 0(a6)");
  return lines;
}

std::string program_text(DType dtype, uint32_t vlen) {
  codegen::AsmWriter w;
  w.raw(fmt::format(
      "# batchnorm ({}) for inference. Thread t of T owns the stored registers t, t + T, ... of\n"
      "# a row (its channels): it folds them once, a = scale rsqrt(variance + epsilon),\n"
      "# b = fma(-mean, a, bias), then runs them in every row: y = fma(x, a, b). No thread\n"
      "# waits on another.",
      dtype_name(dtype)));
  args().declare(w);
  w.equ("VLEN", vlen);
  w.equ("FOLDSTEP", static_cast<int64_t>(folded_bytes_per_register(dtype, vlen)));
  w.raw("\n    .text\n    .globl _start\n_start:");
  w.op("la      s1, args");
  w.op("csrr    s3, threadid              # this thread's first register of a row");
  w.op("csrr    s2, nthreads");
  w.op("ld      s4, ROWS(s1)");
  w.op("ld      t5, REGISTERS(s1)");
  w.op("beqz    s4, exit                # no block on this node");
  w.op("bgeu    s3, t5, exit            # fewer registers in a row than threads");
  w.op("li      t0, VLEN");
  w.op("mul     s5, s2, t0                # from one of this thread's registers to the next");
  w.op("mul     s11, s3, t0               # its first register's offset");
  w.op("li      t0, FOLDSTEP");
  w.op("mul     s6, s2, t0                # the same in the folded factors");
  w.op("mul     s10, s3, t0");
  w.comment("fold this thread's registers of the vectors");
  w.op("ld      t0, EPSILON(s1)");
  w.op("vbcast.fp32 v20, t0");
  w.op("vbcast.fp32 v21, zero");
  const std::pair<const char*, const char*> vectors[] = {
      {"a0", "SCALE"}, {"a1", "VARIANCE"}, {"a3", "MEAN"}, {"a4", "BIAS"}};
  for (auto [reg, name] : vectors) {
    w.op("ld      {}, {}(s1)", reg, name);
    w.op("add     {}, {}, s11", reg, reg);
  }
  w.op("ld      a5, FOLDED(s1)");
  w.op("add     a5, a5, s10");
  w.op("mv      t4, s3");
  w.label("fold_register");
  for (const std::string& line : fold_lines(dtype)) w.op("{}", line);
  for (auto [reg, name] : vectors) w.op("add     {}, {}, s5", reg, reg);
  w.op("add     a5, a5, s6");
  w.op("add     t4, t4, s2");
  w.op("bltu    t4, t5, fold_register");
  w.comment("every row: y = fma(x, a, b) on this thread's registers");
  w.op("ld      s7, X(s1)");
  w.op("ld      s8, OUT(s1)");
  w.op("add     s7, s7, s11");
  w.op("add     s8, s8, s11");
  w.op("ld      s9, ROWBYTES(s1)");
  w.op("ld      t2, FOLDED(s1)");
  w.op("add     t2, t2, s10");
  w.op("li      t3, 0");
  w.label("next_row");
  w.op("mv      a1, s7");
  w.op("mv      a6, s8");
  w.op("mv      t1, t2");
  w.op("mv      t4, s3");
  w.label("row_register");
  for (const std::string& line : row_lines(dtype)) w.op("{}", line);
  w.op("add     a1, a1, s5");
  w.op("add     a6, a6, s5");
  w.op("add     t1, t1, s6");
  w.op("add     t4, t4, s2");
  w.op("bltu    t4, t5, row_register");
  w.op("add     s7, s7, s9");
  w.op("add     s8, s8, s9");
  w.op("addi    t3, t3, 1");
  w.op("bltu    t3, s4, next_row");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

mesh::NodeProgram build_program(DType dtype, uint32_t vlen) {
  return mesh::assemble_program(program_text(dtype, vlen),
                                fmt::format("batchnorm_{}.s", dtype_name(dtype)));
}

std::string describe(const RowSplit& s) {
  return fmt::format("batchnorm [{}, {}] {}", s.rows, s.cols, dtype_name(s.dtype));
}

// The dtype's values of the four vectors.
BatchNormChannels rounded(DType dtype, const BatchNormChannels& c) {
  BatchNormChannels r;
  for (auto [from, to] : {std::pair{&c.scale, &r.scale},
                          {&c.bias, &r.bias},
                          {&c.mean, &r.mean},
                          {&c.variance, &r.variance}})
    for (float v : *from) to->push_back(quantize(dtype, v, {}));
  return r;
}

}  // namespace

uint64_t batchnorm_work_bytes(const RowSplit& split) {
  uint64_t most = 0;
  for (size_t b = 0; b < split.blocks(); ++b) most = std::max<uint64_t>(most, split.chunks(b));
  return most * folded_bytes_per_register(split.dtype, split.vlen);
}

BatchNormKernel::BatchNormKernel(const hw::HardwareConfig& config, const BatchNormProblem& problem)
    : problem_(problem), core_(config.node.core), threads_(config.node.core.threads) {
  const RowSplit& s = problem.split;
  const std::string what = describe(s);
  if (s.dtype != DType::Fp32 && s.dtype != DType::Bf16)
    throw std::invalid_argument(
        fmt::format("{}: dtype {}: expected fp32 or bf16", what, dtype_name(s.dtype)));
  if (!(problem.epsilon > 0) || !std::isfinite(problem.epsilon))
    throw std::invalid_argument(
        fmt::format("{}: epsilon {}: expected a positive finite number", what, problem.epsilon));
  program_ = build_program(s.dtype, s.vlen);
  const uint64_t v = s.vector_bytes();
  std::tie(begin_, end_) = check_regions(config, what, program_,
                                         {{"x", problem.x, s.bytes()},
                                          {"out", problem.out, s.bytes()},
                                          {"scale", problem.scale, v},
                                          {"bias", problem.bias, v},
                                          {"mean", problem.mean, v},
                                          {"variance", problem.variance, v},
                                          {"work", problem.work, batchnorm_work_bytes(s)}},
                                         threads_, kStackBytes);
}

void BatchNormKernel::write_args(hw::Machine& machine) const {
  const BatchNormProblem& p = problem_;
  const RowSplit& s = p.split;
  for (size_t b = 0; b < s.blocks(); ++b) {
    const Node n{p.x,
                 p.out,
                 p.scale,
                 p.bias,
                 p.mean,
                 p.variance,
                 p.work,
                 s.block_rows(b),
                 s.chunks(b),
                 s.row_bytes(b),
                 isa::lanes::float_bits(p.epsilon)};
    const std::vector<uint64_t> v = args().values(n);
    machine.node(s.nodes[b])->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

double BatchNormKernel::estimate_cycles() const {
  // Thread 0 has the most registers of a row, ceil(R / T): it folds them (each register's
  // instructions in order, schedule()), then runs them in every row. As in the activations,
  // its chain and the units the active threads share (the SIMD unit, the load ports) blend as
  // the root of the sum of their squares. The busiest node counts.
  const isa::TimingParams& t = core_.timing_params;
  const LoopCosts c = loop_costs(t);
  const RowSplit& s = problem_.split;
  const Schedule fold = schedule(fold_lines(s.dtype), t);
  const Schedule row = schedule(row_lines(s.dtype), t);
  const double loads = 1 + 2.0 * pieces(s.dtype);
  double most = 0;
  for (size_t b = 0; b < s.blocks(); ++b) {
    const double registers = s.chunks(b), rows = s.block_rows(b);
    const double mine = std::ceil(registers / threads_);
    const double folding = mine * (fold.cycles + c.loop_overhead);
    const double thread0 = rows * (c.row_overhead + mine * (row.cycles + c.loop_overhead));
    const double shared = rows * registers * std::max(row.simd_cycles, loads * c.load_per_port);
    most = std::max(most, folding + std::hypot(thread0, shared));
  }
  return c.prologue + most;
}

Matrix batchnorm_reference(DType dtype, float epsilon, const Matrix& x,
                           const BatchNormChannels& channels) {
  using isa::lanes::canonical;
  const Matrix q = quantized(x, dtype, {});
  const BatchNormChannels ch = rounded(dtype, channels);
  std::vector<float> a(x.cols), b(x.cols);
  for (uint32_t c = 0; c < x.cols; ++c) {
    a[c] = canonical(ch.scale[c] * isa::vector_rsqrt(canonical(ch.variance[c] + epsilon)));
    b[c] = canonical(std::fma(canonical(0.0f - ch.mean[c]), a[c], ch.bias[c]));
  }
  Matrix out(x.rows, x.cols);
  for (uint32_t r = 0; r < x.rows; ++r)
    for (uint32_t c = 0; c < x.cols; ++c) {
      const float y = canonical(std::fma(q.at(r, c), a[c], b[c]));
      out.at(r, c) = dtype == DType::Fp32 ? y : quantize(dtype, y, {});
    }
  return out;
}

Reference64 batchnorm_reference_f64(DType dtype, float epsilon, const Matrix& x,
                                    const BatchNormChannels& channels) {
  const Matrix q = quantized(x, dtype, {});
  const BatchNormChannels ch = rounded(dtype, channels);
  const double u = std::ldexp(1.0, -24);
  const double u_out = dtype == DType::Fp32 ? 0.0 : std::ldexp(1.0, -8);
  Reference64 ref{x.rows, x.cols, {}, {}};
  for (uint32_t r = 0; r < x.rows; ++r)
    for (uint32_t c = 0; c < x.cols; ++c) {
      const double xv = q.at(r, c), mean = ch.mean[c];
      const double a = ch.scale[c] / std::sqrt(double(ch.variance[c]) + epsilon);
      const double b = ch.bias[c] - mean * a;
      const double v = (xv - mean) * a + ch.bias[c];
      // a carries 3 roundings (the sum, rsqrt, the product), which reach both x a and mean a;
      // b and y one each.
      ref.value.push_back(v);
      ref.bound.push_back(4 * u * (std::fabs(xv) + std::fabs(mean)) * std::fabs(a) +
                          2 * u * (std::fabs(b) + std::fabs(v)) + u_out * std::fabs(v));
    }
  return ref;
}

Reference64 batchnorm_dscale_f64(DType dtype, float epsilon, const Matrix& dy, const Matrix& x,
                                 const std::vector<float>& mean,
                                 const std::vector<float>& variance) {
  const Matrix qd = quantized(dy, dtype, {}), qx = quantized(x, dtype, {});
  const std::vector<float> ones(x.cols, 1.0f), zeros(x.cols, 0.0f);
  const BatchNormChannels ch = rounded(dtype, {ones, zeros, mean, variance});
  const double u = std::ldexp(1.0, -24);
  const double u_out = dtype == DType::Fp32 ? 0.0 : std::ldexp(1.0, -8);
  // R - 1 additions in fp32.
  const double gamma = double(x.rows) * u / (1 - double(x.rows) * u);
  Reference64 ref{1, x.cols, {}, {}};
  for (uint32_t c = 0; c < x.cols; ++c) {
    const double m = ch.mean[c], rstd = 1 / std::sqrt(double(ch.variance[c]) + epsilon);
    double total = 0, terms = 0, errors = 0;
    for (uint32_t r = 0; r < x.rows; ++r) {
      const double d = qd.at(r, c), xv = qx.at(r, c), xhat = (xv - m) * rstd, t = d * xhat;
      total += t;
      terms += std::fabs(t);
      // x^ as batchnorm's bound has it (scale 1, bias 0), then the product's rounding(s).
      const double e_xhat = 4 * u * (std::fabs(xv) + std::fabs(m)) * rstd +
                            2 * u * (std::fabs(m * rstd) + std::fabs(xhat)) +
                            u_out * std::fabs(xhat);
      errors += std::fabs(d) * e_xhat + (u + u_out) * std::fabs(t);
    }
    ref.value.push_back(total);
    ref.bound.push_back(errors * (1 + gamma) + gamma * terms + u_out * std::fabs(total));
  }
  return ref;
}

BatchNormRun run_batchnorm(Executor& executor, DType dtype, float epsilon, const Matrix& x,
                           const BatchNormChannels& channels, BatchNormOptions options) {
  BatchNormProblem p;
  p.split = split_rows(executor.config(), dtype, x.rows, x.cols, options.col_parts);
  p.epsilon = epsilon;
  const RowSplit& s = p.split;
  for (auto [v, name] : {std::pair{&channels.scale, "scale"},
                         {&channels.bias, "bias"},
                         {&channels.mean, "mean"},
                         {&channels.variance, "variance"}})
    if (v->size() != x.cols)
      throw std::invalid_argument(
          fmt::format("{}: {} has {} values: expected {}", describe(s), name, v->size(), x.cols));
  mesh::SramMap map(build_program(dtype, s.vlen), options.sram_from);
  p.x = map.take(s.bytes());
  p.out = map.take(s.bytes());
  p.scale = map.take(s.vector_bytes());
  p.bias = map.take(s.vector_bytes());
  p.mean = map.take(s.vector_bytes());
  p.variance = map.take(s.vector_bytes());
  p.work = map.take(batchnorm_work_bytes(s));
  const BatchNormKernel kernel(executor.config(), p);
  hw::Machine& m = executor.machine();
  write_tensor(m, s, p.x, x);
  write_vector(m, s, p.scale, channels.scale);
  write_vector(m, s, p.bias, channels.bias);
  write_vector(m, s, p.mean, channels.mean);
  write_vector(m, s, p.variance, channels.variance);
  BatchNormRun result;
  result.estimate = kernel.estimate_cycles();
  result.run = executor.run(kernel);
  if (result.run.ok) result.out = read_tensor(m, s, p.out);
  return result;
}

}  // namespace dojosim::runtime::ops
