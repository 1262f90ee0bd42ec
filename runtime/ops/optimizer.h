// SPDX-License-Identifier: MIT
// Optimizer updates as node kernels: SGD with momentum and AdamW (PyTorch's definitions) on fp32
// master weights and fp32 state held as a RowSplit (row_split.h), every node updating the block
// it holds, register by register, in place of nothing: the results go to their own buffers.
//
// SGD:   g = grad + wd w;  v' = momentum v + g;  w' = w - lr v'
// AdamW: w1 = w (1 - lr wd);  m' = b1 m + (1 - b1) g;  v' = b2 v + (1 - b2) g g;
//        w' = w1 - lr (m' c1) / (sqrt(v' c2) + eps),  c1 = 1 / (1 - b1^step), c2 alike.
// Each step is one fp32 instruction (vfma, vmul, vadd, vrsqrt, vrecip; the square root as
// vrecip(vrsqrt), which keeps sqrt(0) = 0); the constants are rounded to fp32 on the host. The
// reference does the same operations in the same order, so the machine equals it bit for bit.
//
// With an `unscale` factor (dynamic loss scaling, loss_scale.h: 1 / S, or NaN after an
// overflow), the gradient is multiplied by it first (vmul: PyTorch's grad x fp32(1 / S)), and
// the update of a step whose factor is not finite is skipped: each output register is
// -vgate(-new, keep) + -vgate(-old, skip), keep and skip 1 or 0 from the factor, one of the two
// terms -0, so the sum is the new value or the old one bit for bit (-0 too), with no branch on
// the values (the cycles do not depend on them, and a timing-only run, which cannot branch on or
// address by vector values, runs it too).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/mesh/op.h"
#include "runtime/ops/row_split.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

enum class OptimizerKind : uint8_t { Sgd, AdamW };
std::string_view optimizer_name(OptimizerKind k);  // "sgd", "adamw"

struct OptimizerParams {
  double lr = 0.01, weight_decay = 0;
  double momentum = 0.9;                              // SGD
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // AdamW
  int64_t step = 1;                                   // AdamW's bias correction: this step's number
};

/// State tensors besides the weight: SGD's velocity; AdamW's m and v.
unsigned optimizer_states(OptimizerKind k);

/// What to compute, all fp32 in `split`, at the same addresses on every node: w, grad and the
/// states read; w_out and states_out written.
struct OptimizerProblem {
  OptimizerKind kind = OptimizerKind::Sgd;
  OptimizerParams params;
  RowSplit split;
  uint64_t w = 0, grad = 0, w_out = 0;
  std::vector<uint64_t> states, states_out;  // optimizer_states(kind) each
  /// The unscaling factor, one fp32 element at the same address on every node, or 0: none.
  uint64_t unscale = 0;
};

class OptimizerKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming what does not suit (not fp32, a missing state buffer,
  /// regions inside the program image or past the stacks, a step below 1).
  OptimizerKernel(const hw::HardwareConfig& config, const OptimizerProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return threads_; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  static constexpr uint64_t kStackBytes = 256;

 private:
  OptimizerProblem problem_;
  unsigned threads_ = 1;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// The update as the node computes it, bit for bit: the new weight, then the new states; with
/// an `unscale` factor, from the gradient times it, or the old values where it is not finite.
std::vector<Matrix> optimizer_reference(OptimizerKind kind, const OptimizerParams& p,
                                        const Matrix& w, const Matrix& grad,
                                        const std::vector<Matrix>& states,
                                        const float* unscale = nullptr);
/// The same in double from the same inputs, with a bound on |node - value| (docs/ops.md).
std::vector<Reference64> optimizer_reference_f64(OptimizerKind kind, const OptimizerParams& p,
                                                 const Matrix& w, const Matrix& grad,
                                                 const std::vector<Matrix>& states);

}  // namespace dojosim::runtime::ops
