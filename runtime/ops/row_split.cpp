// SPDX-License-Identifier: MIT
#include "runtime/ops/row_split.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "hw/node/node.h"
#include "runtime/mesh/common.h"

namespace dojosim::runtime::ops {

uint64_t RowSplit::bytes() const {
  uint64_t most = 0;
  for (size_t b = 0; b < blocks(); ++b) most = std::max(most, block_rows(b) * row_bytes(b));
  return most;
}

uint64_t RowSplit::vector_bytes() const {
  uint64_t most = 0;
  for (size_t b = 0; b < blocks(); ++b) most = std::max(most, row_bytes(b));
  return most;
}

RowSplit split_rows(const hw::HardwareConfig& config, DType dtype, uint32_t rows, uint32_t cols,
                    uint32_t col_parts) {
  if (rows == 0 || cols == 0)
    throw std::invalid_argument(
        fmt::format("tensor [{}, {}]: expected at least one row and one column", rows, cols));
  if (dtype != DType::Fp32 && dtype != DType::Bf16)
    throw std::invalid_argument(
        fmt::format("tensor dtype {}: expected fp32 or bf16", dtype_name(dtype)));
  const std::vector<hw::Coord> usable = config.runtime_nodes();
  const uint32_t n = static_cast<uint32_t>(usable.size());

  RowSplit s;
  s.dtype = dtype, s.rows = rows, s.cols = cols;
  s.vlen = config.node.core.vlen_bytes;
  const uint32_t registers = mesh::div_up(cols, s.lanes());
  if (col_parts == 0) col_parts = rows >= n ? 1 : std::min(n / rows, registers);
  if (col_parts > registers || col_parts > n)
    throw std::invalid_argument(fmt::format(
        "tensor [{}, {}] {}: {} column blocks: expected at most {} (its registers of {} lanes) "
        "and at most the {} nodes",
        rows, cols, dtype_name(dtype), col_parts, registers, s.lanes(), n));
  s.col_parts = col_parts;
  s.row_parts = std::min(rows, n / col_parts);
  s.row_start = mesh::split(rows, s.row_parts);
  s.col_start = mesh::split(registers, col_parts);
  for (uint32_t& c : s.col_start) c = std::min(cols, c * s.lanes());
  s.nodes.assign(usable.begin(), usable.begin() + s.row_parts * s.col_parts);
  return s;
}

void write_tensor(hw::Machine& machine, const RowSplit& s, uint64_t address, const Matrix& m) {
  const uint32_t e = element_bytes(s.dtype);
  std::vector<uint8_t> bytes;
  for (size_t b = 0; b < s.blocks(); ++b) {
    const uint32_t r0 = s.row_start[b / s.col_parts], c0 = s.col_start[b % s.col_parts];
    bytes.assign(s.block_rows(b) * s.row_bytes(b), 0);
    for (uint32_t r = 0; r < s.block_rows(b); ++r)
      for (uint32_t c = 0; c < s.block_cols(b); ++c)
        encode(s.dtype, m.at(r0 + r, c0 + c), {}, &bytes[r * s.row_bytes(b) + c * e]);
    machine.node(s.nodes[b])->sram().write(address, bytes.data(), bytes.size());
  }
}

Matrix read_tensor(const hw::Machine& machine, const RowSplit& s, uint64_t address) {
  const uint32_t e = element_bytes(s.dtype);
  Matrix m(s.rows, s.cols);
  std::vector<uint8_t> bytes;
  for (size_t b = 0; b < s.blocks(); ++b) {
    const uint32_t r0 = s.row_start[b / s.col_parts], c0 = s.col_start[b % s.col_parts];
    bytes.resize(s.block_rows(b) * s.row_bytes(b));
    machine.node(s.nodes[b])->sram().read(address, bytes.data(), bytes.size());
    for (uint32_t r = 0; r < s.block_rows(b); ++r)
      for (uint32_t c = 0; c < s.block_cols(b); ++c)
        m.at(r0 + r, c0 + c) = decode(s.dtype, &bytes[r * s.row_bytes(b) + c * e], {});
  }
  return m;
}

void write_vector(hw::Machine& machine, const RowSplit& s, uint64_t address,
                  const std::vector<float>& v) {
  const uint32_t e = element_bytes(s.dtype);
  std::vector<uint8_t> bytes;
  for (size_t b = 0; b < s.blocks(); ++b) {
    const uint32_t c0 = s.col_start[b % s.col_parts];
    bytes.assign(s.row_bytes(b), 0);
    for (uint32_t c = 0; c < s.block_cols(b); ++c) encode(s.dtype, v[c0 + c], {}, &bytes[c * e]);
    machine.node(s.nodes[b])->sram().write(address, bytes.data(), bytes.size());
  }
}

}  // namespace dojosim::runtime::ops
