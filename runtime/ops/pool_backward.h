// SPDX-License-Identifier: MIT
// The gradients of max_pool, avg_pool and global_avg_pool (runtime/graph/ops.def): dy
// [N, P, Q, C] (and, for max, the forward's input x [N, H, W, C]) -> dx [N, H, W, C], as one
// node kernel on fp32 or bf16 image batches held as RowSplits (image.h) of [N H W, C] (x, dx)
// and [N P Q, C] (dy) with the same column blocks, computing in fp32. global_avg_pool's
// gradient is avg_pool's with one window of the whole image (kernel [H, W], P = Q = 1).
//
// Scheme (one thread per node), gathering rather than scattering so that no two nodes write one
// pixel: a node computes its rows of dx (input pixels) for its column block. It PULLS the dy
// rows of every window that holds one of its pixels (and, for max, the x rows of those windows)
// into a scratch area, one pull per row block each range overlaps, waits for them (semaphore 1),
// then per pixel (n, h, w) and per register of its row, starting from acc = 0, visits the windows
// (p, q) that hold the pixel in window order (p, then q, ascending) and adds
//   avg   acc = fma(dy[n, p, q], fp32(1 / count(p, q)), acc), count as avg_pool's (the window's
//         pixels inside the image, or kernel_h kernel_w with count_include_pad);
//   max   acc = fma(dy[n, p, q], first, acc), first = 1 if the pixel is the first position of
//         window (p, q), in window order (rows h then columns w ascending, padding excluded),
//         holding the window's max (PyTorch's rule), else 0. With a = x[n, h, w], `before` the
//         max of the window's positions before it and `after` of those after (-inf if none):
//         first = [a - before > 0] x (1 - [after - a > 0]), [d > 0] = min(max(d 2^127 2^127, 0),
//         1) in fp32 lanes (exact: 0 or 1 for every difference of finite values, subnormals
//         included).
// Then dx = acc rounded to the dtype (bf16 lanes are widened exactly first). A pixel that no
// window holds gets 0. Values are assumed finite (inf - inf is NaN).
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/mesh/executor.h"
#include "runtime/mesh/op.h"
#include "runtime/ops/image.h"
#include "runtime/ops/pool.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

/// The gradient of PoolOp::Max or PoolOp::Avg (global_avg_pool: Avg over one [H, W] window).
struct PoolBackwardProblem {
  PoolOp op = PoolOp::Avg;
  ImageShape image;                              // x and dx
  PoolWindow window;                             // the forward's
  RowSplit grad;                                 // dx [N H W, C]: split_image()
  RowSplit dy;                                   // [N P Q, C]: pool_backward_dy()
  uint64_t dy_at = 0, x = 0, out = 0, work = 0;  // x: max only, held as `grad` is
};
/// The split dy is read in: [N P Q, C] with dx's column blocks.
RowSplit pool_backward_dy(const hw::HardwareConfig& config, PoolOp op, const RowSplit& grad,
                          const ImageShape& image, const PoolWindow& window);
/// Scratch for the tables (pulls, window ranges, 1 / count) and the pulled rows.
uint64_t pool_backward_work_bytes(const PoolBackwardProblem& problem);
/// avg_pool's window for global_avg_pool of `image`: [H, W], stride 1, no padding.
PoolWindow global_window(const ImageShape& image);

class PoolBackwardKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming the op and what does not suit.
  PoolBackwardKernel(const hw::HardwareConfig& config, const PoolBackwardProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return 1; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  /// Writes the work area's tables: before run.
  void place(hw::Machine& machine) const;

  static constexpr uint64_t kStackBytes = 256;

 private:
  PoolBackwardProblem problem_;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// dx (N H W x C) bit for bit as the kernel computes it from dy (N P Q x C) and, for max, x
/// (both rounded to the dtype first).
Matrix pool_backward_reference(PoolOp op, DType dtype, const ImageShape& image,
                               const PoolWindow& window, const Matrix& dy, const Matrix& x);
/// In double from the dtype's values (the max rule on x directly), with the bound per element:
/// the fp32 roundings of at most `windows` fma (and of 1 / count), then the dtype's rounding.
Reference64 pool_backward_reference_f64(PoolOp op, DType dtype, const ImageShape& image,
                                        const PoolWindow& window, const Matrix& dy,
                                        const Matrix& x);

}  // namespace dojosim::runtime::ops
