// SPDX-License-Identifier: MIT
// Activations built from several vector instructions (gelu in its erf and tanh forms, silu),
// their gradients and scale, as node kernels on fp32 or bf16 tensors held as a RowSplit
// (row_split.h), computing in fp32.
//
// Each op is a short list of fp32 vector instructions (activation.cpp) that turns one register
// of x into one register of y; exp and 1/x are the vector unit's vexp and vrecip
// (isa/vector_math.h). bf16 data is widened exactly (vcvt.fp32.bf16, two pieces of 16 lanes per
// stored register) and each result rounded once to bf16 (nearest even) at the end.
//
//   silu       y = x (1 / (1 + exp(-x)))
//   gelu_tanh  y = x (1 / (1 + exp(x (A + B x^2)))), A = fp32(-2 sqrt(2/pi)), B = fp32(0.044715
//              A): GPT-2's 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), through
//              1 + tanh(u) = 2 / (1 + exp(-2u)), which has no cancellation.
//   gelu       the erf form 0.5 x (1 + erf(x / sqrt 2)) from Abramowitz-Stegun 7.1.26 (erf within
//              1.5e-7): with w = |x| = max(x, -x), t = 1 / (1 + (p / sqrt 2) w) and a_i' = a_i / 2,
//              Q = t (a1' + t (a2' + t (a3' + t (a4' + t a5')))) exp(-x^2 / 2), about
//              0.5 erfc(w / sqrt 2); y = max(x Q, x (1 - Q)): as Q <= 1/2, the max picks
//              x (1 - Q) for x >= 0 and x Q for x < 0 without a select.
//   scale      y = factor x, factor an fp32 value (so bf16 data gets fp32(factor x), rounded once)
// The gradients take dy too (a second register, widened as x) and end with a product by it:
//   silu_backward       dx = dy s (1 + x (1 - s)), s = 1 / (1 + exp(-x)) as silu has it
//   gelu_tanh_backward  dx = dy (g + x g (1 - g) (-(A + 3 B x^2))), g = 1 / (1 + exp(-2u)) as
//                       gelu_tanh has it and 1 - g = 1 / (1 + exp(2u)) from its own exp (no
//                       cancellation, and no inf x 0 for any finite x)
//   gelu_backward       dx = dy (Phi(x) + x exp(-x^2 / 2) / sqrt(2 pi)), Phi(x) = Q + (1 - 2Q
//                       where x > 0, else 0) (vgate) from gelu's Q: Q for x <= 0, 1 - Q for x > 0
// No finite x gives NaN: exp overflows to inf and 1 / inf is 0, so y goes to x or to -0.
// NOTE: x = -inf gives NaN for silu and gelu_tanh (-inf x 0) and -inf for gelu (its x Q is NaN
// and vmax prefers the number); +inf gives +inf. NaN stays NaN.
//
// Every node computes its own block where it lies, as one run of registers (the padding gives
// y(0) = 0, so the zero padding stays); thread t of T takes registers t, t + T, ...
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/mesh/executor.h"
#include "runtime/mesh/op.h"
#include "runtime/ops/row_split.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

enum class ActivationOp : uint8_t {
  Gelu,
  GeluTanh,
  Silu,
  Scale,
  GeluBackward,
  GeluTanhBackward,
  SiluBackward
};
/// "gelu", "gelu_tanh", "silu", "scale", "gelu_backward", "gelu_tanh_backward",
/// "silu_backward".
std::string_view activation_name(ActivationOp op);
/// The gradients: they read dy beside x.
bool activation_takes_dy(ActivationOp op);
/// The graph's op and its `approximate` attribute (runtime/graph/ops.def): gelu and
/// gelu_backward with "none" or "tanh", silu, silu_backward and scale with "none". Throws
/// std::invalid_argument naming what was expected.
ActivationOp parse_activation(std::string_view op, std::string_view approximate = "none");

/// One element as the node computes it, bit for bit (x and dy already values of the dtype;
/// dy only for the gradients, factor only for scale).
float activation_reference(ActivationOp op, DType dtype, float x, float dy = 0, float factor = 1);
/// The whole tensor that way; x and dy (the gradients': x's shape) are rounded to the dtype first.
Matrix activation_reference(ActivationOp op, DType dtype, const Matrix& x,
                            const Matrix* dy = nullptr, float factor = 1);
/// In double (silu and gelu_tanh through the exact 1 / (1 + exp), gelu through erfc), from the
/// dtype's values, with the bound per element of docs/ops.md.
Reference64 activation_reference_f64(ActivationOp op, DType dtype, const Matrix& x,
                                     const Matrix* dy = nullptr, float factor = 1);

/// What to compute: `out` = op(`x`) (a gradient: op(`dy`, `x`)), all at the same SRAM
/// addresses on every node of `split` (out may be x or dy).
struct ActivationProblem {
  ActivationOp op = ActivationOp::Gelu;
  RowSplit split;
  uint64_t x = 0, dy = 0, out = 0;
  float factor = 1;  // scale's
};

class ActivationKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming the op and what does not suit (dtype, regions).
  ActivationKernel(const hw::HardwareConfig& config, const ActivationProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return threads_; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  const ActivationProblem& problem() const { return problem_; }
  /// Cycles of the run from the config alone (docs/ops.md: the model).
  double estimate_cycles() const;

  static constexpr uint64_t kStackBytes = 256;  // the program keeps everything in registers

 private:
  ActivationProblem problem_;
  isa::CoreConfig core_;
  unsigned threads_ = 1;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// From the host: places x (rows x cols), and a gradient's dy, above the program (or at
/// sram_from), runs on
/// `executor`'s machine and reads the result back.
struct ActivationRun {
  Matrix out;
  Executor::Run run;
  double estimate = 0;
};
struct ActivationOptions {
  uint32_t col_parts = 0;  // column blocks per row (0: split_rows decides)
  uint64_t sram_from = 0;
  const Matrix* dy = nullptr;  // the gradients' dy (x's shape)
  float factor = 1;            // scale's
};
ActivationRun run_activation(Executor& executor, ActivationOp op, DType dtype, const Matrix& x,
                             ActivationOptions options = {});

}  // namespace dojosim::runtime::ops
