// SPDX-License-Identifier: MIT
// How the node kernels of runtime/ops hold an NHWC image batch: a RowSplit (row_split.h) of
// [N H W, C], one row per pixel in (n, h, w) order, so a node holds a run of pixel rows (an
// image may span several nodes) and channels in column blocks of whole vector registers. The
// host writes and reads it as a Matrix of N H W rows and C columns (write_tensor, read_tensor).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/mesh/executor.h"
#include "runtime/ops/row_split.h"

namespace dojosim::runtime::ops {

struct ImageShape {
  uint32_t n = 1, h = 1, w = 1, c = 1;
  uint32_t pixels() const { return n * h * w; }
  /// "[N, H, W, C]", as the ops' messages name the image.
  std::string str() const;
};

/// The RowSplit of an image batch: split_rows() of [N H W, C]. Throws std::invalid_argument
/// naming the image if an axis is 0 or N H W passes 2^32.
RowSplit split_image(const hw::HardwareConfig& config, DType dtype, const ImageShape& image,
                     uint32_t col_parts = 0);

/// The split of an image whose columns are summed over its pixels (global_avg_pool.h with sum:
/// batchnorm's statistics and gradients, a bias gradient): split_image()'s; for one image
/// ([1, R, 1, C]), with twice as many column blocks while every row block's partial row (fp32),
/// gathered on the first node of its column block, would take more than `gather_bytes` (d1:
/// 354 row blocks of 2048 channels, 2.9 MB).
RowSplit split_for_row_sums(const hw::HardwareConfig& config, DType dtype, const ImageShape& image,
                            uint64_t gather_bytes);

/// Throws std::invalid_argument naming `what` unless `split` holds [N H W, C] of `image` in
/// fp32 or bf16.
void check_image_split(const std::string& what, const RowSplit& split, const ImageShape& image);

/// A pull of whole rows: `bytes` from `source` (a global address) to `dest` on the node that
/// pulls.
struct RowPull {
  uint64_t source = 0, dest = 0, bytes = 0;
};
/// The pulls that fetch rows [lo, hi) of column block j of `split` (at SRAM `address` on its
/// nodes) to `dest` onwards, one per row block the range overlaps (a kernel's halo).
std::vector<RowPull> pull_rows(const RowSplit& split, uint64_t address, uint32_t j, uint64_t lo,
                               uint64_t hi, uint64_t dest);

/// What the host-side runs of the image ops (run_global_avg_pool, run_pool) give back.
struct ImageOpRun {
  Matrix out;
  RowSplit input, output;
  Executor::Run run;
  double estimate = 0;
};
struct ImageOpOptions {
  uint32_t col_parts = 0;  // column blocks of the input (0: split_rows decides)
  uint64_t sram_from = 0;
  bool sum = false;  // global_avg_pool: the sum, not the mean (reduce_sum)
};

}  // namespace dojosim::runtime::ops
