// SPDX-License-Identifier: MIT
// Tiled layouts of matrices in node SRAM, and the host-side functions that pack a Matrix into
// such a layout and unpack it again. Node kernels (runtime/matmul_kernel.h) say which layout
// each operand must have; the runtime uses pack()/unpack() to place tensors and read them back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace dojosim::runtime {

/// How a matrix sits in memory. The matrix, zero-padded to rows x cols, is cut into blocks of
/// block_rows x block_cols stored one after another, by rows of blocks (or by columns of blocks
/// if blocks_column_major); a block is cut into tiles of tile_rows x tile_cols stored by rows
/// of tiles; a tile is row-major. rows and cols are multiples of the block shape, and the
/// block shape of the tile shape.
struct TiledLayout {
  DType dtype = DType::Fp32;
  uint32_t rows = 0, cols = 0;
  uint32_t block_rows = 1, block_cols = 1;
  uint32_t tile_rows = 1, tile_cols = 1;
  bool blocks_column_major = false;

  uint64_t bytes() const { return uint64_t{rows} * cols * element_bytes(dtype); }
  uint64_t block_bytes() const { return uint64_t{block_rows} * block_cols * element_bytes(dtype); }
  /// Byte offset of element (r, c) from the start of the matrix.
  uint64_t offset(uint32_t r, uint32_t c) const;
  /// e.g. "bf16 16x32 in blocks of 16x4 (by rows), tiles of 8x4".
  std::string describe() const;
};

/// The bytes of m in layout l: values rounded to l.dtype (RNE), padding zero. Throws
/// std::invalid_argument if m is larger than the layout.
std::vector<uint8_t> pack(const Matrix& m, const TiledLayout& l, isa::Cfp8Format f = {});
/// The top-left rows x cols values of a matrix stored in layout l at `bytes`.
Matrix unpack(const uint8_t* bytes, const TiledLayout& l, uint32_t rows, uint32_t cols,
              isa::Cfp8Format f = {});

}  // namespace dojosim::runtime
