// SPDX-License-Identifier: MIT
#include "runtime/layout.h"

#include <fmt/format.h>

#include <stdexcept>

namespace dojosim::runtime {

uint64_t TiledLayout::offset(uint32_t r, uint32_t c) const {
  const uint64_t br = r / block_rows, bc = c / block_cols;
  const uint64_t block =
      blocks_column_major ? bc * (rows / block_rows) + br : br * (cols / block_cols) + bc;
  const uint32_t ir = r % block_rows, ic = c % block_cols;
  const uint64_t tile = uint64_t{ir / tile_rows} * (block_cols / tile_cols) + ic / tile_cols;
  const uint64_t in_tile = uint64_t{ir % tile_rows} * tile_cols + ic % tile_cols;
  const uint64_t element = block * block_rows * block_cols + tile * tile_rows * tile_cols + in_tile;
  return element * element_bytes(dtype);
}

std::string TiledLayout::describe() const {
  return fmt::format("{} {}x{} in blocks of {}x{} (by {}), tiles of {}x{}", dtype_name(dtype), rows,
                     cols, block_rows, block_cols, blocks_column_major ? "columns" : "rows",
                     tile_rows, tile_cols);
}

std::vector<uint8_t> pack(const Matrix& m, const TiledLayout& l, isa::Cfp8Format f) {
  if (m.rows > l.rows || m.cols > l.cols)
    throw std::invalid_argument(fmt::format("pack: a {}x{} matrix does not fit the layout {}",
                                            m.rows, m.cols, l.describe()));
  std::vector<uint8_t> bytes(l.bytes(), 0);  // every encoding's zero is all-zero bytes
  for (uint32_t r = 0; r < m.rows; ++r)
    for (uint32_t c = 0; c < m.cols; ++c) encode(l.dtype, m.at(r, c), f, &bytes[l.offset(r, c)]);
  return bytes;
}

Matrix unpack(const uint8_t* bytes, const TiledLayout& l, uint32_t rows, uint32_t cols,
              isa::Cfp8Format f) {
  if (rows > l.rows || cols > l.cols)
    throw std::invalid_argument(
        fmt::format("unpack: {}x{} values asked of the layout {}", rows, cols, l.describe()));
  Matrix m(rows, cols);
  for (uint32_t r = 0; r < rows; ++r)
    for (uint32_t c = 0; c < cols; ++c) m.at(r, c) = decode(l.dtype, &bytes[l.offset(r, c)], f);
  return m;
}

}  // namespace dojosim::runtime
