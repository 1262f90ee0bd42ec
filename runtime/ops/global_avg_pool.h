// SPDX-License-Identifier: MIT
// global_avg_pool: x [N, H, W, C] -> y [N, C], the mean over H and W, as a node kernel on an
// fp32 or bf16 image batch held as a RowSplit of [N H W, C] (image.h), computing in fp32.
//
// Scheme (one thread per node):
//  1. Each node holding pixel rows sums, per image n whose rows it holds (a segment), its rows
//     of its column block: 0 + x_r0 + x_r1 + ... in row order, lane by lane in fp32 (bf16 rows
//     widened exactly). That partial (the block's columns as fp32 registers) is PUSHED into
//     slot k of image n's gather area on the node that holds y's row n and column block j,
//     k = the segment's row block minus the first row block holding image n.
//  2. A node holding rows of y waits until every partial of its rows has arrived (semaphore
//     1), then per row adds its slots 0, 1, ... in that order and multiplies by the fp32 value
//     of 1 / (H W): y = (((p_0 + p_1) + p_2) ...) x fp32(1/(H W)), rounded to the dtype.
// The order is fixed by the input split alone, so the result is the same bits on every run.
// With `sum` the factor is 1 (exact): the graph's reduce_sum over the axes before the last,
// [N, H, C] as an image of W = 1, or over [R, C] as one image.
// y is the RowSplit of [N, C] that global_avg_pool_output() gives: split_rows() with the
// input's column blocks, so y's row n lies on the first usable nodes in mesh order (row block
// i on nodes i col_parts .. i col_parts + col_parts - 1), wherever image n's pixels are.
#pragma once

#include <cstdint>

#include "runtime/mesh/executor.h"
#include "runtime/mesh/op.h"
#include "runtime/ops/image.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

/// What to compute: `out` (held as `output`) = global_avg_pool(`x`, held as `input`), at the
/// same SRAM addresses on every node; `work` is scratch SRAM of global_avg_pool_work_bytes()
/// for the tables, a partial and the gathered partials.
struct GlobalAvgPoolProblem {
  ImageShape image;
  RowSplit input;   // [N H W, C]: split_image()
  RowSplit output;  // [N, C]: global_avg_pool_output()
  uint64_t x = 0, out = 0, work = 0;
  bool sum = false;  // the sum over H and W, not the mean (reduce_sum)
};
/// The split of y: [N, C] over the first usable nodes with the input's column blocks.
RowSplit global_avg_pool_output(const hw::HardwareConfig& config, const RowSplit& input,
                                const ImageShape& image);
uint64_t global_avg_pool_work_bytes(const GlobalAvgPoolProblem& problem);

class GlobalAvgPoolKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming the op and what does not suit (splits that do not
  /// hold the image or y, other column blocks, a region not VLEN-aligned, in the program image
  /// or past the stacks).
  GlobalAvgPoolKernel(const hw::HardwareConfig& config, const GlobalAvgPoolProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return 1; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  /// Writes the work area's tables (segments and their destinations, slots per row of y):
  /// before run.
  void place(hw::Machine& machine) const;
  /// Cycles of the run from the config alone (docs/ops.md).
  double estimate_cycles() const;

  static constexpr uint64_t kStackBytes = 256;

 private:
  GlobalAvgPoolProblem problem_;
  hw::HardwareConfig config_;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// y bit for bit as the kernel computes it with the input split `input` (its row blocks fix
/// the partials); x (N H W x C) is rounded to the dtype first.
Matrix global_avg_pool_reference(const RowSplit& input, const ImageShape& image, const Matrix& x,
                                 bool sum = false);
/// In double from the dtype's values, with the bound per element (docs/ops.md).
Reference64 global_avg_pool_reference_f64(DType dtype, const ImageShape& image, const Matrix& x,
                                          bool sum = false);

/// From the host: places x (N H W rows of C), runs, reads y back (N x C).
ImageOpRun run_global_avg_pool(Executor& executor, DType dtype, const ImageShape& image,
                               const Matrix& x, ImageOpOptions options = {});

}  // namespace dojosim::runtime::ops
