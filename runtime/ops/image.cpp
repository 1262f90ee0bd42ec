// SPDX-License-Identifier: MIT
#include "runtime/ops/image.h"

#include <fmt/format.h>

#include <stdexcept>

namespace dojosim::runtime::ops {

std::string ImageShape::str() const {
  return fmt::format("[{}, {}, {}, {}]", n, h, w, c);
}

RowSplit split_image(const hw::HardwareConfig& config, DType dtype, const ImageShape& image,
                     uint32_t col_parts) {
  const uint64_t pixels = uint64_t{image.n} * image.h * image.w;
  if (pixels == 0 || image.c == 0 || pixels > UINT32_MAX)
    throw std::invalid_argument(
        fmt::format("image {}: expected every axis at least 1 and N H W below 2^32", image.str()));
  return split_rows(config, dtype, image.pixels(), image.c, col_parts);
}

void check_image_split(const std::string& what, const RowSplit& split, const ImageShape& image) {
  if (split.dtype != DType::Fp32 && split.dtype != DType::Bf16)
    throw std::invalid_argument(
        fmt::format("{}: dtype {}: expected fp32 or bf16", what, dtype_name(split.dtype)));
  if (uint64_t{image.n} * image.h * image.w != split.rows || image.c != split.cols)
    throw std::invalid_argument(fmt::format("{}: the input split holds [{}, {}]: expected [{}, {}]",
                                            what, split.rows, split.cols,
                                            uint64_t{image.n} * image.h * image.w, image.c));
}

}  // namespace dojosim::runtime::ops
