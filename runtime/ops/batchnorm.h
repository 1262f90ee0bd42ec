// SPDX-License-Identifier: MIT
// Batchnorm for inference as a node kernel on an fp32 or bf16 tensor x [rows, C] held as a
// RowSplit (row_split.h), with four [C] vectors (scale, bias, mean, variance) held as its
// vectors are (node (i, j) holds column block j), computing in fp32:
//
//   y = (x - mean) (scale / sqrt(variance + epsilon)) + bias
//
// Each node folds its channels once, on the node (into the work area):
//   a = scale rsqrt(variance + epsilon),  b = fma(-mean, a, bias)
// then every element is one multiply-add, y = fma(x, a, b), rounded once to the dtype. rsqrt
// is the vector unit's vrsqrt. Thread t of T owns the stored registers t, t + T, ... of a row
// (its channels): it folds them, then runs them in every row of the node's block, so no
// thread waits on another. NOTE: with fewer registers in a row than threads (C below 64 fp32
// or 128 bf16 channels) some threads idle; a split by rows would need the folded factors
// shared, and a thread woken by a local ssignal from a thread after it in the node's rotation
// resumes only at the next quantum (hw/node/node.cpp), which costs up to a quantum per run.
//
// epsilon must be positive: the padding lanes fold to a = 0 rsqrt(epsilon) and keep y = 0. A
// negative variance gives NaN for its channel (rsqrt of a negative number), as the formula does.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/mesh/executor.h"
#include "runtime/mesh/op.h"
#include "runtime/ops/row_split.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

/// The four per-channel vectors (C values each).
struct BatchNormChannels {
  std::vector<float> scale, bias, mean, variance;
};

/// What to compute: `out` = batchnorm(`x`), x and out [rows, C] as `split` lays them, the
/// vectors one row each, all at the same SRAM addresses on every node; `work` is scratch SRAM
/// of batchnorm_work_bytes() for the folded factors.
struct BatchNormProblem {
  RowSplit split;
  float epsilon = 1e-5f;
  uint64_t x = 0, out = 0, scale = 0, bias = 0, mean = 0, variance = 0, work = 0;
};
uint64_t batchnorm_work_bytes(const RowSplit& split);

class BatchNormKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming the op and what does not suit (dtype, epsilon,
  /// regions).
  BatchNormKernel(const hw::HardwareConfig& config, const BatchNormProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return threads_; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  /// Cycles of the run from the config alone (docs/ops.md).
  double estimate_cycles() const;

  static constexpr uint64_t kStackBytes = 256;

 private:
  BatchNormProblem problem_;
  isa::CoreConfig core_;
  unsigned threads_ = 1;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// The result bit for bit as the node computes it; x and the vectors are rounded to the dtype
/// first.
Matrix batchnorm_reference(DType dtype, float epsilon, const Matrix& x, const BatchNormChannels& c);
/// In double from the dtype's values, with the bound per element of docs/ops.md.
/// batchnorm_backward's dscale [C] in double: the sum over rows of dy (x - mean) / sqrt(variance
/// + epsilon), with the bound of its evaluation from batchnorm's x^ = fma(x, rstd, -mean rstd),
/// the product dy x^ (bf16: both rounded to bf16) and the sum in fp32 (docs/ops.md).
Reference64 batchnorm_dscale_f64(DType dtype, float epsilon, const Matrix& dy, const Matrix& x,
                                 const std::vector<float>& mean,
                                 const std::vector<float>& variance);
Reference64 batchnorm_reference_f64(DType dtype, float epsilon, const Matrix& x,
                                    const BatchNormChannels& c);

/// From the host: places x (rows x C) and the vectors (C values each) above the program (or at
/// sram_from), runs on `executor`'s machine and reads the result back.
struct BatchNormRun {
  Matrix out;
  Executor::Run run;
  double estimate = 0;
};
struct BatchNormOptions {
  uint32_t col_parts = 0;  // column blocks per row (0: split_rows decides)
  uint64_t sram_from = 0;
};
BatchNormRun run_batchnorm(Executor& executor, DType dtype, float epsilon, const Matrix& x,
                           const BatchNormChannels& channels, BatchNormOptions options = {});

}  // namespace dojosim::runtime::ops
