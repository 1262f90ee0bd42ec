// SPDX-License-Identifier: MIT
#include "runtime/ops/activation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "hw/node/node.h"
#include "isa/instructions.h"
#include "isa/lanes.h"
#include "isa/vector_math.h"
#include "runtime/ops/program.h"
#include "runtime/ops/schedule.h"

namespace dojosim::runtime::ops {
namespace {

// ---- Each op: its constants and its instructions on one register --------------------------
// x is in v2 (fp32); the instructions leave y in `result`. Constants are broadcast once into
// v20 and up, in the order listed.
constexpr double kSqrt2OverPi = 0.79788456080286535588;
// Abramowitz-Stegun 7.1.26: erf(z) = 1 - t (a1 + t (a2 + ...)) exp(-z^2), t = 1 / (1 + p z).
constexpr double kAsP = 0.3275911,
                 kAsA[5] = {0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429};
constexpr double kTanhA = -2 * kSqrt2OverPi, kTanhB = kTanhA * 0.044715;

struct Constant {
  const char* reg;
  float value;
};
struct OpShape {
  std::string_view name;
  std::vector<Constant> constants;
  std::vector<const char*> body;
  const char* result;
};

// The gradients' constants beyond their forward's.
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

OpShape shape_of(ActivationOp op, float factor = 1) {
  static const OpShape kSilu{"silu",
                             {{"v20", 0.0f}, {"v21", 1.0f}},
                             {"vsub.fp32 v3, v20, v2",  // -x
                              "vexp.fp32 v3, v3",       //
                              "vadd.fp32 v3, v3, v21",  // 1 + exp(-x)
                              "vrecip.fp32 v3, v3",     // sigmoid(x)
                              "vmul.fp32 v3, v3, v2"},
                             "v3"};
  static const OpShape kGeluTanh{"gelu_tanh",
                                 {{"v21", 1.0f}, {"v22", float(kTanhA)}, {"v23", float(kTanhB)}},
                                 {"vmul.fp32 v3, v2, v2",   // x^2
                                  "vmv v4, v22",            //
                                  "vfma.fp32 v4, v3, v23",  // A + B x^2
                                  "vmul.fp32 v4, v4, v2",   // -2u
                                  "vexp.fp32 v4, v4",       //
                                  "vadd.fp32 v4, v4, v21",  // 1 + exp(-2u)
                                  "vrecip.fp32 v4, v4",     // (1 + tanh(u)) / 2
                                  "vmul.fp32 v4, v4, v2"},
                                 "v4"};
  // gelu's constants and its Q ~ erfc(|x| / sqrt 2) / 2 in v6, exp(-x^2 / 2) in v7: shared by
  // gelu and its gradient.
  static const std::vector<Constant> kGeluConstants{{"v20", 0.0f},
                                                    {"v21", 1.0f},
                                                    {"v24", float(kAsP / std::sqrt(2.0))},
                                                    {"v25", float(kAsA[0] / 2)},
                                                    {"v26", float(kAsA[1] / 2)},
                                                    {"v27", float(kAsA[2] / 2)},
                                                    {"v28", float(kAsA[3] / 2)},
                                                    {"v29", float(kAsA[4] / 2)},
                                                    {"v30", -0.5f}};
  static const std::vector<const char*> kGeluQ{
      "vmul.fp32 v7, v2, v2",   // exp(-x^2 / 2) first: it overlaps t's chain
      "vmul.fp32 v7, v7, v30",  //
      "vexp.fp32 v7, v7",       //
      "vsub.fp32 v3, v20, v2",  // -x
      "vmax.fp32 v3, v3, v2",   // w = |x|
      "vmv v4, v21",            //
      "vfma.fp32 v4, v3, v24",  // 1 + (p / sqrt 2) w
      "vrecip.fp32 v4, v4",     // t
      "vmv v5, v28",            // Horner from a5'
      "vfma.fp32 v5, v4, v29",  //
      "vmv v6, v27",            //
      "vfma.fp32 v6, v5, v4",   //
      "vmv v5, v26",            //
      "vfma.fp32 v5, v6, v4",   //
      "vmv v6, v25",            //
      "vfma.fp32 v6, v5, v4",   //
      "vmul.fp32 v6, v6, v4",   // the polynomial
      "vmul.fp32 v6, v6, v7"};  // Q ~ erfc(w / sqrt 2) / 2
  const auto joined = [](std::vector<const char*> first, std::vector<const char*> then) {
    first.insert(first.end(), then.begin(), then.end());
    return first;
  };
  static const OpShape kGelu{"gelu", kGeluConstants,
                             joined(kGeluQ,
                                    {"vsub.fp32 v5, v21, v6",  // 1 - Q
                                     "vmul.fp32 v5, v5, v2",   // x (1 - Q): gelu for x >= 0
                                     "vmul.fp32 v6, v6, v2",   // x Q: gelu for x < 0
                                     "vmax.fp32 v6, v6, v5"}),
                             "v6"};
  // dy is in v8 (fp32).
  static const OpShape kSiluBackward{"silu_backward",
                                     {{"v20", 0.0f}, {"v21", 1.0f}},
                                     {"vsub.fp32 v3, v20, v2",  // -x
                                      "vexp.fp32 v3, v3",       //
                                      "vadd.fp32 v3, v3, v21",  // 1 + exp(-x)
                                      "vrecip.fp32 v3, v3",     // s
                                      "vsub.fp32 v4, v21, v3",  // 1 - s
                                      "vmul.fp32 v4, v4, v2",   // x (1 - s)
                                      "vadd.fp32 v4, v4, v21",  // 1 + x (1 - s)
                                      "vmul.fp32 v4, v4, v3",   //
                                      "vmul.fp32 v4, v4, v8"},
                                     "v4"};
  static const OpShape kGeluTanhBackward{"gelu_tanh_backward",
                                         {{"v20", 0.0f},
                                          {"v21", 1.0f},
                                          {"v22", float(kTanhA)},
                                          {"v23", float(kTanhB)},
                                          {"v24", float(3 * kTanhB)}},
                                         {"vmul.fp32 v3, v2, v2",   // x^2
                                          "vmv v4, v22",            //
                                          "vfma.fp32 v4, v3, v23",  // A + B x^2
                                          "vmul.fp32 v4, v4, v2",   // -2u
                                          "vsub.fp32 v5, v20, v4",  // 2u
                                          "vexp.fp32 v4, v4",       //
                                          "vexp.fp32 v5, v5",       //
                                          "vadd.fp32 v4, v4, v21",  //
                                          "vadd.fp32 v5, v5, v21",  //
                                          "vrecip.fp32 v4, v4",     // g
                                          "vrecip.fp32 v5, v5",     // 1 - g
                                          "vmul.fp32 v5, v5, v4",   // g (1 - g)
                                          "vmv v6, v22",            //
                                          "vfma.fp32 v6, v3, v24",  // A + 3 B x^2 = -d(2u)/dx
                                          "vmul.fp32 v6, v6, v2",   //
                                          "vmul.fp32 v6, v6, v5",   //
                                          "vsub.fp32 v6, v4, v6",   // gelu_tanh'(x)
                                          "vmul.fp32 v6, v6, v8"},
                                         "v6"};
  // Its constants after gelu's: 1 / sqrt(2 pi) and -2.
  static const OpShape kGeluBackward{"gelu_backward",
                                     [] {
                                       std::vector<Constant> c = kGeluConstants;
                                       c.push_back({"v19", float(kInvSqrt2Pi)});
                                       c.push_back({"v31", -2.0f});
                                       return c;
                                     }(),
                                     joined(kGeluQ,
                                            {"vmv v5, v21",            //
                                             "vfma.fp32 v5, v6, v31",  // 1 - 2Q
                                             "vgate.fp32 v5, v5, v2",  // ... where x > 0
                                             "vadd.fp32 v5, v5, v6",   // Phi(x)
                                             "vmul.fp32 v3, v2, v7",   // x exp(-x^2 / 2)
                                             "vfma.fp32 v5, v3, v19",  // gelu'(x)
                                             "vmul.fp32 v5, v5, v8"}),
                                     "v5"};
  switch (op) {
    case ActivationOp::Gelu:
      return kGelu;
    case ActivationOp::GeluTanh:
      return kGeluTanh;
    case ActivationOp::Scale:
      return {"scale", {{"v20", factor}}, {"vmul.fp32 v3, v2, v20"}, "v3"};
    case ActivationOp::GeluBackward:
      return kGeluBackward;
    case ActivationOp::GeluTanhBackward:
      return kGeluTanhBackward;
    case ActivationOp::SiluBackward:
      return kSiluBackward;
    case ActivationOp::Silu:
      break;
  }
  return kSilu;
}

// ---- The program ---------------------------------------------------------------------------
// One node's work: `registers` stored vector registers from x (and dy) and out.
struct Node {
  uint64_t x = 0, dy = 0, out = 0, registers = 0;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"X", [](N n) { return n.x; }},
      {"DY", [](N n) { return n.dy; }},
      {"OUT", [](N n) { return n.out; }},
      {"REGISTERS", [](N n) { return n.registers; }},  // thread t takes t, t + T, ...
  };
  return block;
}

uint32_t float_bits(float f) {
  return isa::lanes::float_bits(f);
}

// The vector instructions of one stored register, from its load to its store.
// A gradient's dy comes from a1 into v8 (bf16: v9, widened into v8).
std::vector<std::string> register_lines(const OpShape& op, DType dtype, bool dy) {
  std::vector<std::string> lines;
  if (dtype == DType::Fp32) {
    lines.push_back("vle     v2, 0(a0)");
    if (dy) lines.push_back("vle     v8, 0(a1)");
    lines.insert(lines.end(), op.body.begin(), op.body.end());
    lines.push_back(fmt::format("vse     {}, 0(a2)", op.result));
    return lines;
  }
  lines.push_back("vle     v1, 0(a0)");
  if (dy) lines.push_back("vle     v9, 0(a1)");
  for (int part = 0; part < 2; ++part) {
    lines.push_back(fmt::format("vcvt.fp32.bf16 v2, v1, {}", part));
    if (dy) lines.push_back(fmt::format("vcvt.fp32.bf16 v8, v9, {}", part));
    lines.insert(lines.end(), op.body.begin(), op.body.end());
    lines.push_back(fmt::format("vcvt.bf16.fp32 v14, {}, {}", op.result, part));
  }
  lines.push_back("vse     v14, 0(a2)");
  return lines;
}

std::string program_text(const OpShape& op, DType dtype, uint32_t vlen, bool dy) {
  codegen::AsmWriter w;
  w.raw(fmt::format(
      "# {} ({}) elementwise: each vector register of x through {} fp32 instructions{}.\n"
      "# Thread t of T takes registers t, t + T, ... of the node's block.",
      op.name, dtype_name(dtype), op.body.size(),
      dtype == DType::Bf16 ? ", as two widened pieces of 16 lanes rounded back to bf16" : ""));
  args().declare(w);
  w.equ("VLEN", vlen);
  w.raw("\n    .text\n    .globl _start\n_start:");
  w.op("la      s1, args");
  w.op("csrr    s3, threadid              # this thread's first register");
  w.op("csrr    s2, nthreads");
  w.op("ld      s4, REGISTERS(s1)");
  w.op("ld      a0, X(s1)");
  w.op("ld      a2, OUT(s1)");
  if (dy) w.op("ld      a1, DY(s1)");
  w.op("li      t0, VLEN");
  w.op("mul     t1, s3, t0");
  w.op("add     a0, a0, t1");
  if (dy) w.op("add     a1, a1, t1");
  w.op("add     a2, a2, t1");
  w.op("mul     s5, s2, t0                # the step between a thread's registers");
  for (const Constant& c : op.constants) {
    w.op("li      t0, 0x{:08x}", float_bits(c.value));
    w.op("vbcast.fp32 {}, t0            # {}", c.reg, c.value);
  }
  w.label("next_register");
  w.op("bgeu    s3, s4, exit");
  for (const std::string& line : register_lines(op, dtype, dy)) w.op("{}", line);
  w.op("add     a0, a0, s5");
  if (dy) w.op("add     a1, a1, s5");
  w.op("add     a2, a2, s5");
  w.op("add     s3, s3, s2");
  w.op("j       next_register");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

mesh::NodeProgram build_program(ActivationOp op, DType dtype, uint32_t vlen, float factor) {
  return mesh::assemble_program(
      program_text(shape_of(op, factor), dtype, vlen, activation_takes_dy(op)),
      fmt::format("{}_{}.s", shape_of(op).name, dtype_name(dtype)));
}

}  // namespace

std::string_view activation_name(ActivationOp op) {
  return shape_of(op).name;
}

bool activation_takes_dy(ActivationOp op) {
  return op == ActivationOp::GeluBackward || op == ActivationOp::GeluTanhBackward ||
         op == ActivationOp::SiluBackward;
}

ActivationOp parse_activation(std::string_view op, std::string_view approximate) {
  const bool none = approximate == "none", tanh = approximate == "tanh";
  if (op == "gelu" && (none || tanh)) return tanh ? ActivationOp::GeluTanh : ActivationOp::Gelu;
  if (op == "gelu_backward" && (none || tanh))
    return tanh ? ActivationOp::GeluTanhBackward : ActivationOp::GeluBackward;
  if (op == "silu" && none) return ActivationOp::Silu;
  if (op == "silu_backward" && none) return ActivationOp::SiluBackward;
  if (op == "scale" && none) return ActivationOp::Scale;
  const bool gelu = op == "gelu" || op == "gelu_backward";
  if (gelu || op == "silu" || op == "silu_backward" || op == "scale")
    throw std::invalid_argument(fmt::format("{}: approximate '{}': expected {}", op, approximate,
                                            gelu ? "none or tanh" : "none"));
  throw std::invalid_argument(fmt::format(
      "activation '{}': expected gelu, silu, scale, gelu_backward or silu_backward", op));
}

float activation_reference(ActivationOp op, DType dtype, float x, float dy, float factor) {
  using isa::lanes::canonical;
  const auto fma = [](float a, float b, float c) { return canonical(std::fma(a, b, c)); };
  const auto sigmoid_of = [](float minus) {  // 1 / (1 + exp(minus)), as vexp, vadd, vrecip
    return isa::vector_recip(canonical(isa::vector_exp(minus) + 1.0f));
  };
  const OpShape s = shape_of(op);
  const auto k = [&](size_t i) { return s.constants[i].value; };
  // gelu's Q ~ erfc(|x| / sqrt 2) / 2; `at` is the index of a1' among the constants.
  const auto gelu_q = [&](size_t at) {
    const float w = isa::lanes::max_number(canonical(0.0f - x), x);
    const float t = isa::vector_recip(fma(w, k(at - 1), 1.0f));
    float p = fma(t, k(at + 4), k(at + 3));
    p = fma(p, t, k(at + 2));
    p = fma(p, t, k(at + 1));
    p = fma(p, t, k(at));
    p = canonical(p * t);
    return p;
  };
  float y = 0;
  switch (op) {
    case ActivationOp::Silu:
      y = canonical(sigmoid_of(canonical(0.0f - x)) * x);
      break;
    case ActivationOp::GeluTanh: {
      const float arg = canonical(fma(canonical(x * x), k(2), k(1)) * x);
      y = canonical(sigmoid_of(arg) * x);
      break;
    }
    case ActivationOp::Gelu: {
      const float e = isa::vector_exp(canonical(canonical(x * x) * k(8)));
      const float q = canonical(gelu_q(3) * e);
      y = isa::lanes::max_number(canonical(q * x), canonical(canonical(1.0f - q) * x));
      break;
    }
    case ActivationOp::Scale:
      y = canonical(x * factor);
      break;
    case ActivationOp::SiluBackward: {
      const float sg = sigmoid_of(canonical(0.0f - x));
      float t = canonical(canonical(1.0f - sg) * x);
      t = canonical(canonical(t + 1.0f) * sg);
      y = canonical(t * dy);
      break;
    }
    case ActivationOp::GeluTanhBackward: {
      const float x2 = canonical(x * x);
      const float minus2u = canonical(fma(x2, k(3), k(2)) * x);
      const float g = sigmoid_of(minus2u), h = sigmoid_of(canonical(0.0f - minus2u));
      const float gh = canonical(h * g);
      const float d = canonical(canonical(fma(x2, k(4), k(2)) * x) * gh);
      y = canonical(canonical(g - d) * dy);
      break;
    }
    case ActivationOp::GeluBackward: {
      const float e = isa::vector_exp(canonical(canonical(x * x) * k(8)));
      const float q = canonical(gelu_q(3) * e);
      const float phi = canonical(isa::lanes::gate(fma(q, k(10), 1.0f), x) + q);
      y = canonical(fma(canonical(x * e), k(9), phi) * dy);
      break;
    }
  }
  return dtype == DType::Fp32 ? y : quantize(dtype, y, {});
}

namespace {

// dy beside x: the gradients need it, of x's shape; the others ignore it.
Matrix dy_of(ActivationOp op, DType dtype, const Matrix& x, const Matrix* dy) {
  if (!activation_takes_dy(op)) return Matrix();
  if (!dy || dy->rows != x.rows || dy->cols != x.cols)
    throw std::invalid_argument(
        fmt::format("{}: dy must have x's shape [{}, {}]", activation_name(op), x.rows, x.cols));
  return quantized(*dy, dtype, {});
}

}  // namespace

Matrix activation_reference(ActivationOp op, DType dtype, const Matrix& x, const Matrix* dy,
                            float factor) {
  const Matrix q = quantized(x, dtype, {}), g = dy_of(op, dtype, x, dy);
  Matrix out(x.rows, x.cols);
  for (size_t i = 0; i < q.values.size(); ++i)
    out.values[i] =
        activation_reference(op, dtype, q.values[i], g.values.empty() ? 0.0f : g.values[i], factor);
  return out;
}

Reference64 activation_reference_f64(ActivationOp op, DType dtype, const Matrix& x,
                                     const Matrix* dy, float factor) {
  const Matrix q = quantized(x, dtype, {}), g = dy_of(op, dtype, x, dy);
  const double u = std::ldexp(1.0, -24);
  const double u_out = dtype == DType::Fp32 ? 0.0 : std::ldexp(1.0, -8);
  // Underflow: once exp's argument passes ~88.72 it gives inf and the sigmoid (or Q) 0, where
  // the true factor is below 2^-127; and factors below 2^-126 are subnormal. So an absolute
  // (1 + |x|) 2^-126 on top: y is flushed towards -0 only where it is that small.
  const double floor = std::ldexp(1.0, -126);
  Reference64 ref{x.rows, x.cols, {}, {}};
  for (size_t i = 0; i < q.values.size(); ++i) {
    const double v = q.values[i], d = g.values.empty() ? 1.0 : std::fabs(g.values[i]);
    double y = 0, bound = 0;
    switch (op) {
      case ActivationOp::Silu:
        y = v / (1 + std::exp(-v));
        // exp, 1 + e, 1 / (1 + e) and the product: four roundings, the first three at most
        // shrunk by the sigmoid's slope.
        bound = std::fabs(y) * (6 * u);
        break;
      case ActivationOp::GeluTanh: {
        const double s = 2 * kSqrt2OverPi * (v + 0.044715 * v * v * v);
        y = v / (1 + std::exp(-s));
        // -2u carries ~5 roundings (x^2, fma, product, the constants A and B), which exp turns
        // into a relative error of 5 u |2u|; then 1 + e, 1 / (1 + e) and the product.
        bound = std::fabs(y) * ((6 * std::fabs(s) + 8) * u);
        break;
      }
      case ActivationOp::Gelu:
        y = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
        // A-S 7.1.26 errs by at most 1.5e-7 in erf, so Q by 7.5e-8, times |x|; its fp32
        // evaluation adds a few roundings of Q (<= 1/2) and of exp(-x^2/2)'s argument (whose
        // product with exp is at most 1/e); then 1 - Q and the products.
        bound = std::fabs(v) * (7.5e-8 + 12 * u) + std::fabs(y) * (4 * u);
        break;
      case ActivationOp::Scale:
        y = double(factor) * v;  // one rounding
        bound = std::fabs(y) * u;
        break;
      case ActivationOp::SiluBackward: {
        const double s = 1 / (1 + std::exp(-v)), dx = s * (1 + v * (1 - s));
        y = g.values[i] * dx;
        // s within ~3u; 1 - s then carries an absolute 4u, which x scales; 1 + x (1 - s) may
        // cancel (x near -1.28), so the bound is on the terms' sizes, not on the result.
        bound = d * s * (std::fabs(v) * 6 * u + (1 + std::fabs(v) * (1 - s)) * 8 * u);
        break;
      }
      case ActivationOp::GeluTanhBackward: {
        const double s = 2 * kSqrt2OverPi * (v + 0.044715 * v * v * v);
        const double gs = 1 / (1 + std::exp(-s)), hs = 1 / (1 + std::exp(s));
        const double term = v * gs * hs * 2 * kSqrt2OverPi * (1 + 3 * 0.044715 * v * v);
        y = g.values[i] * (gs + term);
        // 2u's ~5 roundings reach g and 1 - g through exp (relative 5 u |2u| each), the term
        // has twice that plus its products; g + term may cancel (x near -0.75).
        // Underflow: where exp(-2u) overflows, g is 0 and so is the term, whose true size is
        // up to |x D| times g's: the floor scales with that.
        bound =
            d * (gs * (6 * std::fabs(s) + 8) * u + std::fabs(term) * (12 * std::fabs(s) + 14) * u +
                 floor * std::fabs(v) * 2 * kSqrt2OverPi * (1 + 3 * 0.044715 * v * v));
        break;
      }
      case ActivationOp::GeluBackward: {
        const double cdf = 0.5 * std::erfc(-v / std::sqrt(2.0));
        const double xpdf = v * std::exp(-0.5 * v * v) * kInvSqrt2Pi;
        y = g.values[i] * (cdf + xpdf);
        // Q's 7.5e-8 from A-S 7.1.26 and its fp32 evaluation as gelu's; 1 - 2Q and the sum;
        // x exp(-x^2/2): x^2's rounding becomes a relative x^2 u / 2 through exp. The sum may
        // cancel (x near -0.75), so the bound is on the terms' sizes.
        bound = d * (7.5e-8 + 16 * u + std::fabs(xpdf) * (0.5 * v * v + 4) * u +
                     std::fabs(cdf + xpdf) * 2 * u);
        break;
      }
    }
    ref.value.push_back(y);
    ref.bound.push_back(bound + std::fabs(y) * (u_out + (activation_takes_dy(op) ? u : 0)) +
                        floor * (1 + std::fabs(v)) * d);
  }
  return ref;
}

ActivationKernel::ActivationKernel(const hw::HardwareConfig& config,
                                   const ActivationProblem& problem)
    : problem_(problem), core_(config.node.core), threads_(config.node.core.threads) {
  const RowSplit& s = problem.split;
  const std::string what = fmt::format("{} [{}, {}] {}", activation_name(problem.op), s.rows,
                                       s.cols, dtype_name(s.dtype));
  if (s.dtype != DType::Fp32 && s.dtype != DType::Bf16)
    throw std::invalid_argument(
        fmt::format("{}: dtype {}: expected fp32 or bf16", what, dtype_name(s.dtype)));
  program_ = build_program(problem.op, s.dtype, s.vlen, problem.factor);
  std::vector<Region> regions{{"x", problem.x, s.bytes()}, {"out", problem.out, s.bytes()}};
  if (activation_takes_dy(problem.op)) regions.push_back({"dy", problem.dy, s.bytes()});
  std::tie(begin_, end_) = check_regions(config, what, program_, regions, threads_, kStackBytes);
}

void ActivationKernel::write_args(hw::Machine& machine) const {
  const RowSplit& s = problem_.split;
  for (size_t b = 0; b < s.blocks(); ++b) {
    const Node n{problem_.x, problem_.dy, problem_.out, uint64_t{s.block_rows(b)} * s.chunks(b)};
    const std::vector<uint64_t> v = args().values(n);
    machine.node(s.nodes[b])->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

double ActivationKernel::estimate_cycles() const {
  // A thread's register: its instructions scheduled in order (schedule()), then the loop's
  // bookkeeping; a thread's registers follow each other. The threads overlap up to the SIMD
  // unit they share. The busiest node counts.
  const isa::TimingParams& t = core_.timing_params;
  const LoopCosts c = loop_costs(t);
  const OpShape op = shape_of(problem_.op, problem_.factor);
  const Schedule one =
      schedule(register_lines(op, problem_.split.dtype, activation_takes_dy(problem_.op)), t);
  uint64_t most = 0;
  for (size_t b = 0; b < problem_.split.blocks(); ++b)
    most = std::max(most, uint64_t{problem_.split.block_rows(b)} * problem_.split.chunks(b));
  const double thread0 = double((most + threads_ - 1) / threads_) * (one.cycles + c.loop_overhead);
  // NOTE: when the chain and the unit's work are comparable neither hides the other (a
  // thread finds the unit busy, the unit waits on chains); the root of the sum of squares
  // blends them (empirical: tests/ops/test_activation.cpp holds it within 30%).
  const double setup = t.of(isa::TimingClass::Load).latency +
                       2 * t.of(isa::TimingClass::Mul).latency + double(op.constants.size()) * 2;
  return c.prologue + setup + std::hypot(thread0, double(most) * one.simd_cycles);
}

ActivationRun run_activation(Executor& executor, ActivationOp op, DType dtype, const Matrix& x,
                             ActivationOptions options) {
  ActivationProblem p;
  p.op = op;
  p.factor = options.factor;
  p.split = split_rows(executor.config(), dtype, x.rows, x.cols, options.col_parts);
  const Matrix dy = dy_of(op, dtype, x, options.dy);
  mesh::SramMap map(build_program(op, dtype, p.split.vlen, p.factor), options.sram_from);
  p.x = map.take(p.split.bytes());
  if (activation_takes_dy(op)) p.dy = map.take(p.split.bytes());
  p.out = map.take(p.split.bytes());
  const ActivationKernel kernel(executor.config(), p);
  hw::Machine& m = executor.machine();
  write_tensor(m, p.split, p.x, x);
  if (activation_takes_dy(op)) write_tensor(m, p.split, p.dy, dy);
  ActivationRun result;
  result.estimate = kernel.estimate_cycles();
  result.run = executor.run(kernel);
  if (result.run.ok) result.out = read_tensor(m, p.split, p.out);
  return result;
}

}  // namespace dojosim::runtime::ops
