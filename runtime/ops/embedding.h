// SPDX-License-Identifier: MIT
// embedding: ids [rows] (int32) into a table [V, D] in host memory (the DIPs' HBM) ->
// y [rows, D], a RowSplit (row_split.h) of fp32 or bf16, as a node kernel.
//
// Layouts:
//  - the table lies in host memory from host address `table`: V rows of D elements of the
//    dtype, each row padded with zeros to embedding_table_row_bytes() (whole vector registers,
//    as a stored row of y), written by write_embedding_table(); it must lie in one DIP.
//  - the ids lie in the SRAM of every node of y's split at `ids`: node (i, j) holds the ids of
//    row block i, as int32 in row order (write_ids()).
// Scheme (one thread per node): for each of its rows r the node PULLS the row's column block
// of table row ids[r] (a whole stored row of y, padding included) from host memory straight
// into its row of y, keeping up to node.dma.queue_depth pulls in flight, and waits for them all
// (semaphore 1). No arithmetic: y is the table's values, bit for bit.
//
// Out-of-range ids: the host checks them before the run (run_embedding(), or
// EmbeddingKernel::check_ids() on resident ids) and throws std::invalid_argument naming the
// row, the id and V; the kernel itself does not check.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/mesh/executor.h"
#include "runtime/mesh/op.h"
#include "runtime/ops/row_split.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

/// What to compute: `out` (held as `output`, [rows, D]) = table[ids], ids at SRAM `ids`, the
/// table of `vocabulary` rows at host address `table` (without the host bit).
struct EmbeddingProblem {
  RowSplit output;
  uint32_t vocabulary = 0;
  uint64_t ids = 0, out = 0, table = 0;
};
/// Bytes of one table row in host memory: D elements padded to whole vector registers.
uint64_t embedding_table_row_bytes(const RowSplit& output);
/// SRAM the ids take on the busiest node.
uint64_t embedding_ids_bytes(const RowSplit& output);
/// Host side: `table` (V x D) rounded to the dtype into host memory at `address`; each node's
/// ids into its SRAM at `address`.
void write_embedding_table(hw::Machine& machine, const RowSplit& output, uint64_t address,
                           const Matrix& table);
void write_ids(hw::Machine& machine, const RowSplit& output, uint64_t address,
               const std::vector<int32_t>& ids);
/// Throws std::invalid_argument naming the row, the id and V unless 0 <= ids[r] < V for all r.
void check_ids(const std::vector<int32_t>& ids, uint32_t vocabulary);

class EmbeddingKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming the op and what does not suit (an empty vocabulary, a
  /// table outside one DIP or a machine without host memory, SRAM regions as the other ops).
  EmbeddingKernel(const hw::HardwareConfig& config, const EmbeddingProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return 1; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  /// Reads the resident ids and throws as check_ids() does: call before run.
  void check_ids(const hw::Machine& machine) const;
  /// Cycles of the run from the config alone (docs/ops.md).
  double estimate_cycles() const;

  static constexpr uint64_t kStackBytes = 256;

 private:
  EmbeddingProblem problem_;
  hw::HardwareConfig config_;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// y bit for bit: row r is table row ids[r] rounded to the dtype.
Matrix embedding_reference(DType dtype, const std::vector<int32_t>& ids, const Matrix& table);
/// The table's values in double, with the bound of their rounding to the dtype (docs/ops.md).
Reference64 embedding_reference_f64(DType dtype, const std::vector<int32_t>& ids,
                                    const Matrix& table);

/// From the host: checks the ids, writes the table (V x D) to host memory at `table_at` and the
/// ids to SRAM, runs, reads y (rows x D) back.
struct EmbeddingRun {
  Matrix out;
  RowSplit output;
  Executor::Run run;
  double estimate = 0;
};
struct EmbeddingOptions {
  uint32_t col_parts = 0;  // column blocks of y (0: split_rows decides)
  uint64_t sram_from = 0;
  uint64_t table_at = 0;  // host address of the table
};
EmbeddingRun run_embedding(Executor& executor, DType dtype, const std::vector<int32_t>& ids,
                           const Matrix& table, EmbeddingOptions options = {});

}  // namespace dojosim::runtime::ops
