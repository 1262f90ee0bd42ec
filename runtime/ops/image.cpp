// SPDX-License-Identifier: MIT
#include "runtime/ops/image.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "isa/global_address.h"

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

RowSplit split_for_row_sums(const hw::HardwareConfig& config, DType dtype, const ImageShape& image,
                            uint64_t gather_bytes) {
  RowSplit split = split_image(config, dtype, image);
  if (image.n != 1) return split;
  const auto gather = [](const RowSplit& s) {
    return uint64_t{s.row_parts} * s.chunks(0) * s.vlen * (s.dtype == DType::Bf16 ? 2 : 1);
  };
  const uint64_t registers = mesh::div_up(image.c, split.lanes()),
                 nodes = config.runtime_nodes().size();
  while (gather(split) > gather_bytes && split.col_parts * 2 <= std::min(registers, nodes))
    split = split_image(config, dtype, image, split.col_parts * 2);
  return split;
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

std::vector<RowPull> pull_rows(const RowSplit& split, uint64_t address, uint32_t j, uint64_t lo,
                               uint64_t hi, uint64_t dest) {
  std::vector<RowPull> pulls;
  const uint64_t row_bytes = split.row_bytes(j);
  for (uint32_t i = 0; i < split.row_parts; ++i) {
    const uint64_t r0 = std::max<uint64_t>(lo, split.row_start[i]),
                   r1 = std::min<uint64_t>(hi, split.row_start[i + 1]);
    if (r0 >= r1) continue;
    const hw::Coord c = split.nodes[i * split.col_parts + j];
    const uint64_t from = address + (r0 - split.row_start[i]) * row_bytes;
    pulls.push_back({isa::global_address(static_cast<uint32_t>(c.x), static_cast<uint32_t>(c.y),
                                         static_cast<uint32_t>(from)),
                     dest + (r0 - lo) * row_bytes, (r1 - r0) * row_bytes});
  }
  return pulls;
}

}  // namespace dojosim::runtime::ops
