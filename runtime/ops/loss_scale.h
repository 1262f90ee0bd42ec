// SPDX-License-Identifier: MIT
// Dynamic loss scaling's scalar kernels (docs/graphs.md, "Training"): the factor the updates
// unscale the gradients by (1 / S, or NaN after an overflow: the updates skip), and the
// scale's update after the step's overflow check, as PyTorch's GradScaler does it
// (torch.cuda.amp, _amp_update_scale_):
//
//   check not finite (some gradient overflowed):  S' = S backoff, good' = 0
//   else: good + 1 == interval:  S' = S growth (kept S if that is not finite), good' = 0
//         else:                  S' = S, good' = good + 1
//
// Every tensor is an fp32 scalar held as one padded vector register on one node (a RowSplit of
// [1, 1]). The program has no branch on the values: each choice is a vgate (x where c > 0, else
// +0) between two values of which the other is +0, so the result is exact and the cycles are the
// same whatever the check says (a timing-only run gives the cycles of a run with values). One
// thread computes; lane 0 is kept, the padding lanes stay zero. `check` is the sum of the
// gradients' x - x: 0 where all are finite, NaN where one is not (a finite non-zero check counts
// as finite). The step count is an fp32 whole number, exact up to 2^24.
#pragma once

#include <cstdint>

#include "runtime/mesh/op.h"
#include "runtime/ops/row_split.h"

namespace dojosim::runtime::ops {

struct LossScaleParams {
  double growth = 2, backoff = 0.5;
  int64_t interval = 2000;
};

enum class LossScaleOp : uint8_t { UnscaleFactor, Update };

/// What to compute, on the one node of `split` (fp32 [1, 1]): UnscaleFactor: out = 1 / scale
/// (vrecip, correctly rounded) plus check - check (0, or NaN after an overflow); Update:
/// scale_out, good_out from check, scale, good.
struct LossScaleProblem {
  LossScaleOp op = LossScaleOp::Update;
  LossScaleParams params;
  RowSplit split;
  uint64_t check = 0, scale = 0, out = 0;          // and UnscaleFactor's out
  uint64_t good = 0, scale_out = 0, good_out = 0;  // Update
};

class LossScaleKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming what does not suit (not one fp32 element on one node,
  /// growth <= 1, backoff outside (0, 1), interval outside [1, 2^23], regions inside the
  /// program image or past the stacks).
  LossScaleKernel(const hw::HardwareConfig& config, const LossScaleProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return threads_; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  static constexpr uint64_t kStackBytes = 256;

 private:
  LossScaleProblem problem_;
  unsigned threads_ = 1;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// The results as the node computes them, bit for bit: GradScaler's rule on fp32 values.
float unscale_factor_reference(float check, float scale);
struct LossScaleState {
  float scale = 0, good = 0;
};
LossScaleState loss_scale_update_reference(const LossScaleParams& p, float check, float scale,
                                           float good);

}  // namespace dojosim::runtime::ops
