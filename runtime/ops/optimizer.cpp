// SPDX-License-Identifier: MIT
#include "runtime/ops/optimizer.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>

#include "hw/node/node.h"
#include "isa/lanes.h"
#include "isa/vector_math.h"
#include "runtime/ops/program.h"

namespace dojosim::runtime::ops {
namespace {

// The fp32 constants of an update, in the order the program broadcasts them (K0, K1, ...).
std::vector<float> constants(OptimizerKind kind, const OptimizerParams& p) {
  const auto f = [](double v) { return float(v); };
  if (kind == OptimizerKind::Sgd) return {f(p.weight_decay), f(p.momentum), f(-p.lr)};
  return {f(1.0 - p.lr * p.weight_decay),
          f(p.beta1),
          f(1.0 - p.beta1),
          f(p.beta2),
          f(1.0 - p.beta2),
          f(1.0 / (1.0 - std::pow(p.beta1, double(p.step)))),
          f(1.0 / (1.0 - std::pow(p.beta2, double(p.step)))),
          f(p.epsilon),
          f(-p.lr)};
}

// One node's work: `registers` vector registers of every buffer, from the buffers' addresses.
struct Node {
  uint64_t w = 0, grad = 0, s1 = 0, s2 = 0, w_out = 0, s1_out = 0, s2_out = 0, registers = 0,
           unscale = 0;
  std::vector<float> k;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  const auto k = [](size_t i) {
    return [i](N n) { return i < n.k.size() ? uint64_t{isa::lanes::float_bits(n.k[i])} : 0; };
  };
  static const codegen::ArgBlock<Node> block = {
      {"W", [](N n) { return n.w; }},
      {"GRAD", [](N n) { return n.grad; }},
      {"S1", [](N n) { return n.s1; }},
      {"S2", [](N n) { return n.s2; }},
      {"WOUT", [](N n) { return n.w_out; }},
      {"S1OUT", [](N n) { return n.s1_out; }},
      {"S2OUT", [](N n) { return n.s2_out; }},
      {"REGISTERS", [](N n) { return n.registers; }},  // thread t takes t, t + T, ...
      {"UNSCALE", [](N n) { return n.unscale; }},
      {"K0", k(0)},
      {"K1", k(1)},
      {"K2", k(2)},
      {"K3", k(3)},
      {"K4", k(4)},
      {"K5", k(5)},
      {"K6", k(6)},
      {"K7", k(7)},
      {"K8", k(8)},
  };
  return block;
}

// Constant Ki lives in v(20 + i) for the whole run.
std::string program_text(OptimizerKind kind, uint32_t vlen, bool skip) {
  const bool adam = kind == OptimizerKind::AdamW;
  const size_t n_constants = adam ? 9 : 3;
  codegen::AsmWriter w;
  w.raw(fmt::format(
      "# {} update, fp32: one vector register of every buffer at a time; thread t of T takes\n"
      "# registers t, t + T, ... The constants K0.. are broadcast once into v20...",
      optimizer_name(kind)));
  args().declare(w);
  w.equ("VLEN", vlen);
  w.raw("\n    .text\n    .globl _start\n_start:");
  w.op("la      s1, args");
  for (size_t i = 0; i < n_constants; ++i) {
    w.op("lw      t0, K{}(s1)", i);
    w.op("vbcast.fp32 v{}, t0", 20 + i);
  }
  w.op("csrr    s3, threadid              # this thread's first register");
  w.op("csrr    s4, nthreads");
  w.op("li      t1, VLEN");
  w.op("mul     s6, s3, t1                # its byte offset");
  w.op("mul     s5, s4, t1                # the step between a thread's registers");
  w.op("ld      s2, REGISTERS(s1)");
  w.op("ld      s7, W(s1)");
  w.op("ld      s8, GRAD(s1)");
  w.op("ld      s9, S1(s1)");
  w.op("ld      s11, WOUT(s1)");
  w.op("ld      a3, S1OUT(s1)");
  if (adam) {
    w.op("ld      s10, S2(s1)");
    w.op("ld      a4, S2OUT(s1)");
  }
  if (skip) {
    w.op("ld      t0, UNSCALE(s1)");
    w.op("lw      t0, 0(t0)");
    w.op("vbcast.fp32 v18, t0                # the factor: 1 / S, or NaN after an overflow");
    w.op("li      t0, 0x3f800000");
    w.op("vbcast.fp32 v29, t0                # 1");
    w.op("vsub.fp32 v31, v18, v18");
    w.op("vadd.fp32 v31, v31, v29");
    w.op("vgate.fp32 v30, v29, v31           # keep: 1 unless the step is skipped, then 0");
    w.op("vsub.fp32 v31, v29, v30            # skip: 1 - keep");
    w.op("li      t0, 0xbf800000");
    w.op("vbcast.fp32 v29, t0                # -1");
  }
  w.label("next_register");
  w.op("bgeu    s3, s2, exit");
  const auto load = [&](int v, const char* base) {
    w.op("add     t0, {}, s6", base);
    w.op("vle     v{}, 0(t0)", v);
  };
  // With a check: out = -gate(-new, keep) + -gate(-old, skip), one of the two -0: the new value
  // or the old one, bit for bit (-0 too), without a branch (v16, v17 scratch).
  const auto store = [&](int v, const char* base, int old) {
    if (skip) {
      w.op("vmul.fp32 v16, v{}, v29", v);
      w.op("vgate.fp32 v16, v16, v30");
      w.op("vmul.fp32 v16, v16, v29");
      w.op("vmul.fp32 v17, v{}, v29", old);
      w.op("vgate.fp32 v17, v17, v31");
      w.op("vmul.fp32 v17, v17, v29");
      w.op("vadd.fp32 v{}, v16, v17", v);
    }
    w.op("add     t0, {}, s6", base);
    w.op("vse     v{}, 0(t0)", v);
  };
  load(1, "s7");  // w
  load(2, "s8");  // grad
  if (skip) w.op("vmul.fp32 v2, v2, v18            # unscaled");
  load(3, "s9");  // velocity, or m
  if (!adam) {
    w.op("vmv     v4, v2");
    w.op("vfma.fp32 v4, v20, v1            # g = wd w + grad");
    w.op("vmv     v5, v4");
    w.op("vfma.fp32 v5, v21, v3            # v' = momentum v + g");
    w.op("vmv     v6, v1");
    w.op("vfma.fp32 v6, v22, v5            # w' = -lr v' + w");
    store(6, "s11", 1);
    store(5, "a3", 3);
  } else {
    load(4, "s10");  // v
    w.op("vmul.fp32 v5, v1, v20            # w1 = w (1 - lr wd)");
    w.op("vmul.fp32 v6, v2, v22            # (1 - b1) g");
    w.op("vfma.fp32 v6, v21, v3            # m' = b1 m + (1 - b1) g");
    w.op("vmul.fp32 v7, v2, v2             # g g");
    w.op("vmul.fp32 v7, v7, v24            # (1 - b2) g g");
    w.op("vfma.fp32 v7, v23, v4            # v' = b2 v + (1 - b2) g g");
    w.op("vmul.fp32 v8, v6, v25            # m' c1");
    w.op("vmul.fp32 v9, v7, v26            # v' c2");
    w.op("vrsqrt.fp32 v9, v9");
    w.op("vrecip.fp32 v9, v9               # sqrt(v' c2), 0 for 0");
    w.op("vadd.fp32 v9, v9, v27            # + eps");
    w.op("vrecip.fp32 v9, v9");
    w.op("vmul.fp32 v8, v8, v9             # the step");
    w.op("vfma.fp32 v5, v28, v8            # w' = -lr step + w1");
    store(5, "s11", 1);
    store(6, "a3", 3);
    store(7, "a4", 4);
  }
  w.op("add     s3, s3, s4");
  w.op("add     s6, s6, s5");
  w.op("j       next_register");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

std::vector<Node> node_work(const OptimizerProblem& p) {
  const RowSplit& s = p.split;
  const std::vector<float> k = constants(p.kind, p.params);
  std::vector<Node> work;
  for (size_t b = 0; b < s.blocks(); ++b) {
    Node n;
    n.w = p.w, n.grad = p.grad, n.w_out = p.w_out;
    n.s1 = p.states.at(0), n.s1_out = p.states_out.at(0);
    if (p.kind == OptimizerKind::AdamW) n.s2 = p.states.at(1), n.s2_out = p.states_out.at(1);
    n.registers = uint64_t{s.block_rows(b)} * s.chunks(b);
    n.unscale = p.unscale;
    n.k = k;
    work.push_back(n);
  }
  return work;
}

float fma32(float a, float b, float c) {
  return isa::lanes::canonical(std::fma(a, b, c));
}
float mul32(float a, float b) {
  return isa::lanes::canonical(a * b);
}

}  // namespace

std::string_view optimizer_name(OptimizerKind k) {
  return k == OptimizerKind::Sgd ? "sgd" : "adamw";
}

unsigned optimizer_states(OptimizerKind k) {
  return k == OptimizerKind::Sgd ? 1 : 2;
}

OptimizerKernel::OptimizerKernel(const hw::HardwareConfig& config, const OptimizerProblem& problem)
    : problem_(problem), threads_(config.node.core.threads) {
  const RowSplit& s = problem.split;
  const std::string what = fmt::format("{} update [{}, {}] {}", optimizer_name(problem.kind),
                                       s.rows, s.cols, dtype_name(s.dtype));
  if (s.dtype != DType::Fp32)
    throw std::invalid_argument(fmt::format("{}: expected fp32 (master weights and state)", what));
  const unsigned n = optimizer_states(problem.kind);
  if (problem.states.size() != n || problem.states_out.size() != n)
    throw std::invalid_argument(fmt::format("{}: expected {} state buffers", what, n));
  if (problem.kind == OptimizerKind::AdamW && problem.params.step < 1)
    throw std::invalid_argument(
        fmt::format("{}: step {}: expected 1 or more (the first is 1)", what, problem.params.step));
  program_ = mesh::assemble_program(program_text(problem.kind, s.vlen, problem.unscale != 0),
                                    fmt::format("{}_update.s", optimizer_name(problem.kind)));
  std::vector<Region> regions = {{"w", problem.w, s.bytes()},
                                 {"grad", problem.grad, s.bytes()},
                                 {"w_out", problem.w_out, s.bytes()}};
  for (unsigned i = 0; i < n; ++i) {
    regions.push_back({"state", problem.states[i], s.bytes()});
    regions.push_back({"state_out", problem.states_out[i], s.bytes()});
  }
  if (problem.unscale) regions.push_back({"unscale", problem.unscale, uint64_t{s.vlen}});
  std::tie(begin_, end_) = check_regions(config, what, program_, regions, threads_, kStackBytes);
}

void OptimizerKernel::write_args(hw::Machine& machine) const {
  const std::vector<Node> work = node_work(problem_);
  for (size_t b = 0; b < work.size(); ++b) {
    const std::vector<uint64_t> v = args().values(work[b]);
    machine.node(problem_.split.nodes[b])
        ->sram()
        .write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

std::vector<Matrix> optimizer_reference(OptimizerKind kind, const OptimizerParams& p,
                                        const Matrix& w, const Matrix& grad,
                                        const std::vector<Matrix>& states, const float* unscale) {
  if (unscale && !std::isfinite(*unscale)) {
    std::vector<Matrix> old = {w};
    old.insert(old.end(), states.begin(), states.end());
    return old;
  }
  const std::vector<float> k = constants(kind, p);
  std::vector<Matrix> out(1 + optimizer_states(kind), Matrix(w.rows, w.cols));
  for (size_t e = 0; e < w.values.size(); ++e) {
    const float x = w.values[e], g = unscale ? mul32(grad.values[e], *unscale) : grad.values[e];
    if (kind == OptimizerKind::Sgd) {
      const float gd = fma32(k[0], x, g);
      const float v = fma32(k[1], states[0].values[e], gd);
      out[0].values[e] = fma32(k[2], v, x);
      out[1].values[e] = v;
      continue;
    }
    const float w1 = mul32(x, k[0]);
    const float m = fma32(k[1], states[0].values[e], mul32(g, k[2]));
    const float v = fma32(k[3], states[1].values[e], mul32(mul32(g, g), k[4]));
    const float root = isa::vector_recip(isa::vector_rsqrt(mul32(v, k[6])));
    const float step = mul32(mul32(m, k[5]), isa::vector_recip(isa::lanes::canonical(root + k[7])));
    out[0].values[e] = fma32(k[8], step, w1);
    out[1].values[e] = m;
    out[2].values[e] = v;
  }
  return out;
}

std::vector<Reference64> optimizer_reference_f64(OptimizerKind kind, const OptimizerParams& p,
                                                 const Matrix& w, const Matrix& grad,
                                                 const std::vector<Matrix>& states) {
  const double u = std::ldexp(1.0, -24);
  std::vector<Reference64> out(1 + optimizer_states(kind));
  for (Reference64& r : out) {
    r.rows = w.rows, r.cols = w.cols;
    r.value.reserve(w.values.size());
    r.bound.reserve(w.values.size());
  }
  const auto put = [&](size_t i, double value, double bound) {
    out[i].value.push_back(value);
    out[i].bound.push_back(bound);
  };
  // Each fp32 step rounds once (relative u); the constants are fp32 too (relative u each). The
  // bounds sum |term| x u over the steps, with a factor for the constants' roundings.
  for (size_t e = 0; e < w.values.size(); ++e) {
    const double x = w.values[e], g = grad.values[e];
    if (kind == OptimizerKind::Sgd) {
      const double gd = g + p.weight_decay * x;
      const double v = p.momentum * states[0].values[e] + gd;
      const double scale_v = std::abs(p.momentum * states[0].values[e]) + std::abs(g) +
                             2 * std::abs(p.weight_decay * x);
      put(1, v, 4 * u * scale_v);
      put(0, x - p.lr * v, 4 * u * (std::abs(x) + p.lr * (std::abs(v) + 4 * scale_v)));
      continue;
    }
    const double m = p.beta1 * states[0].values[e] + (1 - p.beta1) * g;
    const double v = p.beta2 * states[1].values[e] + (1 - p.beta2) * g * g;
    const double m_scale = std::abs(p.beta1 * states[0].values[e]) + std::abs((1 - p.beta1) * g);
    const double v_scale = p.beta2 * states[1].values[e] + (1 - p.beta2) * g * g;
    put(1, m, 4 * u * m_scale);
    put(2, v, 6 * u * v_scale);
    const double c1 = 1 / (1 - std::pow(p.beta1, double(p.step)));
    const double c2 = 1 / (1 - std::pow(p.beta2, double(p.step)));
    const double root = std::sqrt(v * c2), denom = root + p.epsilon;
    const double step = m * c1 / denom;
    // m' and v' carry their bounds into the step; sqrt halves v's relative error; the roundings
    // of c1 c2, the root, eps, both reciprocals and the products add some ten more u.
    const double rel_m = m == 0 ? 0 : 4 * u * m_scale / std::abs(m);
    const double rel_root = v == 0 ? 0 : 3 * u * v_scale / v;
    const double rel = rel_m + rel_root * root / denom + 12 * u;
    const double decayed = x * (1 - p.lr * p.weight_decay);
    put(0, decayed - p.lr * step,
        4 * u * std::abs(x) + p.lr * std::abs(step) * (rel + 2 * u) + 2 * u * std::abs(decayed));
  }
  return out;
}

}  // namespace dojosim::runtime::ops
