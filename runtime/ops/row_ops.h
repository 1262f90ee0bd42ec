// SPDX-License-Identifier: MIT
// Row ops over the last axis (softmax with an optional causal mask, layernorm, rmsnorm, and the
// softmax cross-entropy loss) as node kernels on fp32 or bf16 tensors held as a RowSplit
// (row_split.h), computing in fp32.
//
// Each needs one or two reductions per row (max, sum, sum of squares). A node first reduces its
// own columns of each of its rows: a vector of 16 fp32 lanes accumulated register by register,
// then its lanes in lane order (vredsum / vredmax). When a row is split over several nodes
// (col_parts > 1), every node of the row group PUSHES its partials (one fp32 per row) into slot
// j (its column block) of a gather buffer on every other node of the group, signalling a
// semaphore there, and waits for the others' pushes; each node then combines slots 0, 1, ...
// in that order, so all of them hold the same totals bit for bit. No host step in between.
//
// Per row, from the totals:  softmax  m = max(scale x), S = sum exp(scale x - m),
//                                     y = exp(scale x - m) x (1 / S)
//                            layernorm mean = sum(x) (1/D), var = sum((x - mean)^2) (1/D),
//                                     y = fma((x - mean) rsqrt(var + eps), gamma, beta)
//                            rmsnorm  s = rsqrt(sum(x^2) (1/D) + eps), y = (x s) gamma
//                            cross-entropy  m = max x, L = log(sum exp(x - m)),
//                                     P = sum x one_hot(label) (summed in round 2's pass,
//                                     exchanged as round 3: one lane of the row adds x),
//                                     loss_r = (m - P) + L
// with 1/D the fp32 value of 1/cols, and exp, 1/x, rsqrt the vector unit's (isa/vector_math.h).
// Lanes past a row's end (padding) or past the causal limit are masked from the reductions by a
// table of masks (additive 0 / -inf for softmax, multiplicative 1 / 0 for layernorm's squares).
// Every node runs one thread.
//
// The cross-entropy has no per-element output: the first node of each row group (column block
// 0) adds its rows' losses in row order, pushes that sum into slot i (its row block) of a buffer
// on the split's first node, which waits for them, adds slots 0, 1, ... in order and for `mean`
// multiplies by fp32(1 / rows). The loss lands in every lane (fp32, or bf16 for a bf16 loss) of
// the 64 B at `out` on the split's first node (lane 0 is what a [] tensor reads). No host step:
// deterministic by order. The labels lie in SRAM as fp32 values, one per row, where
// embedding.h's ids would (write_labels()); the host checks them (check_labels()) before the
// run, the kernel does not.
//
// The backward ops (the gradients of the ones above; docs/ops.md) run in the same rounds on a
// second row tensor `dy` at the same split as x (softmax_backward: x is the forward's y):
//   softmax_backward  s = sum dy y,  dx = ((dy - s) y) scale
//   layernorm_backward  mean, r = rsqrt(var + eps) as the forward; g = dy gamma,
//                     xhat = (x - mean) r; mg = sum(g) (1/D), mgx = sum(g xhat) (1/D) (one pass);
//                     dx = ((g - mg) - xhat mgx) r, masked past the row's end
//   rmsnorm_backward  r as the forward; k = (sum(g x) (1/D)) r r; dx = (g - x k) r
//   softmax_cross_entropy_backward  m = max x, R = 1 / sum exp(x - m);
//                     dx = (exp(x - m) R - one_hot(label)) f, f = fp32(scale fp32(1/rows)) for
//                     `mean`, else scale
// dgamma (sum over rows of dy xhat, or dy x r) and dbeta (sum of dy) are COLUMN sums: each node
// accumulates its rows in row order into fp32 registers per column, then the row blocks of a
// column block combine up a binary tree by pushes (block i adds the partials of blocks
// i + 1, i + 2, i + 4, ... while i is a multiple of twice the step, in that order, then pushes
// its sum to i - 2^k, k its lowest set bit); block 0 stores dgamma and dbeta in their dtype
// (gradient_split()). No host step.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/mesh/executor.h"
#include "runtime/mesh/op.h"
#include "runtime/ops/row_split.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

// NOTE: shape_of() in row_ops.cpp lists the ops in this order; the backward ops come last.
enum class RowOp : uint8_t {
  Softmax,
  LayerNorm,
  RmsNorm,
  SoftmaxCrossEntropy,
  SoftmaxBackward,
  LayerNormBackward,
  RmsNormBackward,
  SoftmaxCrossEntropyBackward
};
std::string_view row_op_name(RowOp op);
/// The backward ops: they read dy (or labels) and write dx, and the norms' dgamma (dbeta).
bool is_row_grad(RowOp op);
/// How many column sums (dgamma, dbeta) the op writes: 0, 1 or 2.
int row_grad_column_sums(RowOp op);

struct RowOpParams {
  float epsilon = 1e-5f;  // layernorm, rmsnorm
  float scale = 1.0f;     // softmax: multiplies x first; the backward ops' softmax and loss: dx's
  bool causal = false;  // softmax: row i of each [Sq, cols] matrix sees columns j <= i + cols - Sq
  uint32_t causal_rows = 0;  // Sq (0: all rows form one matrix); rows must be a multiple
  bool mean = true;          // softmax_cross_entropy: the mean over the rows (else the sum)
  DType loss_dtype = DType::Fp32;  // softmax_cross_entropy: fp32, or bf16 (rounded once)
  DType sums_dtype = DType::Fp32;  // the norms' backward: dgamma and dbeta, fp32 or bf16
};

/// What to compute: `out` = op(`x`) with gamma and beta [cols] vectors (layernorm: both;
/// rmsnorm: gamma), all at the same SRAM addresses on every node of `split`; `work` is scratch
/// SRAM of row_op_work_bytes() for the masks, the peers and the gathered partials. The
/// cross-entropy reads `labels` (embedding_ids_bytes(split)) and writes 64 B at `out` on
/// split.nodes[0] only.
/// The backward ops also read `dy` (split's layout; not the loss's); the norms' write `dgamma`
/// and `dbeta` laid out as gradient_split().
struct RowOpProblem {
  RowOp op = RowOp::Softmax;
  RowSplit split;
  RowOpParams params;
  uint64_t x = 0, out = 0, gamma = 0, beta = 0, work = 0, labels = 0;
  uint64_t dy = 0, dgamma = 0, dbeta = 0;
};
/// Where a backward norm's dgamma and dbeta ([cols], `dtype`) lie: one row over x's column
/// blocks, on the nodes of x's first row block.
RowSplit gradient_split(const RowSplit& x, DType dtype);
uint64_t row_op_work_bytes(RowOp op, const RowSplit& split);
/// Throws std::invalid_argument naming the row, the label and C unless 0 <= labels[r] < C.
void check_labels(const std::vector<int32_t>& labels, uint32_t classes);
/// Host side: each node's rows' labels as fp32 into its SRAM at `address`
/// (embedding_ids_bytes(split)).
void write_labels(hw::Machine& machine, const RowSplit& split, uint64_t address,
                  const std::vector<int32_t>& labels);

class RowOpKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming the op and what does not suit.
  RowOpKernel(const hw::HardwareConfig& config, const RowOpProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return 1; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  /// Writes the work area (masks, each row's valid columns, the peers' addresses): before run.
  void place(hw::Machine& machine) const;
  /// Cycles of the run from the config alone (docs/ops.md).
  double estimate_cycles() const;

  static constexpr uint64_t kStackBytes = 256;

 private:
  RowOpProblem problem_;
  isa::CoreConfig core_;
  hw::HardwareConfig config_;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// The result bit for bit as the kernel computes it on `split` (its column blocks fix the
/// order of the sums). x, gamma, beta are rounded to the split's dtype first.
Matrix row_op_reference(RowOp op, const RowSplit& split, const RowOpParams& params, const Matrix& x,
                        const std::vector<float>& gamma, const std::vector<float>& beta);
/// In double from the dtype's values, with a bound per element (docs/ops.md).
Reference64 row_op_reference_f64(RowOp op, const RowSplit& split, const RowOpParams& params,
                                 const Matrix& x, const std::vector<float>& gamma,
                                 const std::vector<float>& beta);

/// The cross-entropy loss (a 1 x 1 matrix) bit for bit in the kernel's order, and in double
/// from the dtype's values with its bound (docs/ops.md).
Matrix cross_entropy_reference(const RowSplit& split, const RowOpParams& params,
                               const Matrix& logits, const std::vector<int32_t>& labels);
Reference64 cross_entropy_reference_f64(const RowSplit& split, const RowOpParams& params,
                                        const Matrix& logits, const std::vector<int32_t>& labels);

/// The backward ops' inputs (x is y for softmax_backward, the logits for the loss's) and
/// outputs (dgamma, dbeta 1 x cols where the op has them), bit for bit in the kernel's order,
/// and in double from the dtype's values with a bound per element (docs/ops.md).
struct RowGradInputs {
  Matrix dy, x;
  std::vector<float> gamma;
  std::vector<int32_t> labels;
};
struct RowGrad {
  Matrix dx, dgamma, dbeta;
};
struct RowGrad64 {
  Reference64 dx, dgamma, dbeta;
};
RowGrad row_grad_reference(RowOp op, const RowSplit& split, const RowOpParams& params,
                           const RowGradInputs& in);
RowGrad64 row_grad_reference_f64(RowOp op, const RowSplit& split, const RowOpParams& params,
                                 const RowGradInputs& in);

/// From the host: places x (rows x cols), gamma and beta (cols each, where the op takes them),
/// runs on `executor`'s machine and reads the result back.
struct RowOpRun {
  Matrix out;
  RowSplit split;
  Executor::Run run;
  double estimate = 0;
};
struct RowOpOptions {
  uint32_t col_parts = 0;  // column blocks per row (0: split_rows decides)
  uint64_t sram_from = 0;
};
RowOpRun run_row_op(Executor& executor, RowOp op, DType dtype, const RowOpParams& params,
                    const Matrix& x, const std::vector<float>& gamma = {},
                    const std::vector<float>& beta = {}, RowOpOptions options = {});
/// The cross-entropy of `logits` (rows x C) against `labels` (rows, checked first); `out` is
/// the 1 x 1 loss.
RowOpRun run_cross_entropy(Executor& executor, DType dtype, const RowOpParams& params,
                           const Matrix& logits, const std::vector<int32_t>& labels,
                           RowOpOptions options = {});
/// A backward op from the host: its inputs placed (labels checked first), run, read back.
struct RowGradRun {
  RowGrad out;
  RowSplit split;
  Executor::Run run;
  double estimate = 0;
};
RowGradRun run_row_grad(Executor& executor, RowOp op, DType dtype, const RowOpParams& params,
                        const RowGradInputs& in, RowOpOptions options = {});

}  // namespace dojosim::runtime::ops
