// SPDX-License-Identifier: MIT
// max_pool and avg_pool (runtime/graph/ops.def): x [N, H, W, C] -> y [N, P, Q, C] over
// kernel_h x kernel_w windows moved by the stride, with padding on each side, as a node
// kernel on fp32 or bf16 image batches held as RowSplits of [N H W, C] and [N P Q, C]
// (image.h) with the same column blocks. P = (H + 2 pad_h - kernel_h) / stride_h + 1 (rounded
// down; Q alike); padding is at most half the kernel, so every window holds a pixel.
//
// Scheme (one thread per node): a node computes its rows of y (output pixels) for its column
// block. Their windows read the input rows [lo, hi) (the first and last rows any of them
// touches), which may lie on other nodes (the halo). The node first PULLS that range of its
// column block, one pull per input row block it overlaps (its own rows too, a local DMA),
// into a scratch area, waits for the pulls (semaphore 1), then per output pixel combines the
// window's rows in order (h, then w), passes of four registers, then two, then one:
//   max_pool  acc = -inf, acc = vmax(acc, x) (IEEE maximumNumber; bf16 lanes directly, max
//             is exact), padding skipped so it never wins;
//   avg_pool  acc = 0, acc = acc + x in fp32 (bf16 widened), then acc x fp32(1 / count),
//             count = the window's pixels inside the image, or kernel_h kernel_w with
//             count_include_pad; rounded to the dtype.
// The input must be complete on every node when the kernel starts (pulls read it at once).
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/mesh/executor.h"
#include "runtime/mesh/op.h"
#include "runtime/ops/image.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

enum class PoolOp : uint8_t { Max, Avg };
std::string_view pool_name(PoolOp op);

struct PoolWindow {
  uint32_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  bool count_include_pad = false;  // avg_pool: divide by kernel_h kernel_w
};
/// [N, P, Q, C] of `op` on `image`; throws std::invalid_argument naming the op, the image and
/// what does not suit (a kernel or stride of 0, padding over half the kernel, a window larger
/// than the padded image).
ImageShape pool_output_shape(PoolOp op, const ImageShape& image, const PoolWindow& window);

/// What to compute: `out` (held as `output`) = op(`x`, held as `input`), at the same SRAM
/// addresses on every node; `work` is scratch SRAM of pool_work_bytes() for the pulls' table,
/// the 1/count table and the fetched input rows.
struct PoolProblem {
  PoolOp op = PoolOp::Max;
  ImageShape image;
  PoolWindow window;
  RowSplit input;   // [N H W, C]: split_image()
  RowSplit output;  // [N P Q, C]: pool_output()
  uint64_t x = 0, out = 0, work = 0;
};
/// The split of y: [N P Q, C] with the input's column blocks.
RowSplit pool_output(const hw::HardwareConfig& config, PoolOp op, const RowSplit& input,
                     const ImageShape& image, const PoolWindow& window);
uint64_t pool_work_bytes(const PoolProblem& problem);

class PoolKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming the op and what does not suit.
  PoolKernel(const hw::HardwareConfig& config, const PoolProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return 1; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  /// Writes the work area's tables (each node's pulls, 1/count): before run.
  void place(hw::Machine& machine) const;
  /// Cycles of the run from the config alone (docs/ops.md).
  double estimate_cycles() const;

  static constexpr uint64_t kStackBytes = 256;

 private:
  PoolProblem problem_;
  hw::HardwareConfig config_;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// y (N P Q x C) bit for bit as the kernel computes it; x (N H W x C) is rounded to the dtype
/// first. The order does not depend on the split.
Matrix pool_reference(PoolOp op, DType dtype, const ImageShape& image, const PoolWindow& window,
                      const Matrix& x);
/// In double from the dtype's values, with the bound per element (docs/ops.md).
Reference64 pool_reference_f64(PoolOp op, DType dtype, const ImageShape& image,
                               const PoolWindow& window, const Matrix& x);

/// From the host: places x (N H W rows of C), runs, reads y back (N P Q x C).
ImageOpRun run_pool(Executor& executor, PoolOp op, DType dtype, const ImageShape& image,
                    const PoolWindow& window, const Matrix& x, ImageOpOptions options = {});

}  // namespace dojosim::runtime::ops
