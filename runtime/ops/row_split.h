// SPDX-License-Identifier: MIT
// How the node kernels of runtime/ops hold a [rows, cols] tensor (the last axis is cols): its
// rows cut into row_parts blocks and its columns into col_parts blocks, block (i, j) on node
// nodes[i * col_parts + j] (usable nodes in row-major mesh order). A node stores its block row
// by row, each row padded with zeros to a whole number of vector registers (VLEN bytes), at the
// same SRAM address on every node. Column blocks are whole vector registers of lanes (the last
// one shorter), so every node's rows start on a VLEN boundary and the kernels work in registers.
//
// A [cols] vector that a kernel applies to every row (bias_add's bias, a broadcast operand,
// layernorm's gamma) is held the same way as one row: node (i, j) holds column block j.
#pragma once

#include <cstdint>
#include <vector>

#include "hw/config/hardware_config.h"
#include "hw/machine/machine.h"
#include "runtime/tensor.h"

namespace dojosim::runtime::ops {

struct RowSplit {
  DType dtype = DType::Fp32;
  uint32_t rows = 0, cols = 0;
  uint32_t row_parts = 1, col_parts = 1;
  uint32_t vlen = 64;
  std::vector<uint32_t> row_start, col_start;  // block i is rows [row_start[i], row_start[i+1])
  std::vector<hw::Coord> nodes;                // block (i, j) at nodes[i * col_parts + j]

  size_t blocks() const { return nodes.size(); }
  uint32_t block_rows(size_t b) const {
    return row_start[b / col_parts + 1] - row_start[b / col_parts];
  }
  uint32_t block_cols(size_t b) const {
    return col_start[b % col_parts + 1] - col_start[b % col_parts];
  }
  uint32_t lanes() const { return vlen / element_bytes(dtype); }
  /// Vector registers per stored row of block b, and the row's bytes.
  uint32_t chunks(size_t b) const { return (block_cols(b) + lanes() - 1) / lanes(); }
  uint64_t row_bytes(size_t b) const { return uint64_t{chunks(b)} * vlen; }
  /// SRAM the tensor needs on the busiest node; of a [cols] vector, one row.
  uint64_t bytes() const;
  uint64_t vector_bytes() const;
};

/// Splits a [rows, cols] dtype tensor over the usable nodes: every node a block of rows while
/// there are as many rows as nodes; with fewer rows, each row over up to nodes / rows nodes.
/// col_parts > 0 forces that many column blocks (rows then split over nodes / col_parts).
/// Throws std::invalid_argument naming what does not fit (no rows, more column blocks than
/// registers of lanes or than nodes).
RowSplit split_rows(const hw::HardwareConfig& config, DType dtype, uint32_t rows, uint32_t cols,
                    uint32_t col_parts = 0);

/// Host side: every node's block of `m` (rows x cols, rounded to the dtype, padding zero) into
/// its SRAM at `address`; and back. A [cols] vector as one row per node.
void write_tensor(hw::Machine& machine, const RowSplit& s, uint64_t address, const Matrix& m);
Matrix read_tensor(const hw::Machine& machine, const RowSplit& s, uint64_t address);
void write_vector(hw::Machine& machine, const RowSplit& s, uint64_t address,
                  const std::vector<float>& v);

}  // namespace dojosim::runtime::ops
