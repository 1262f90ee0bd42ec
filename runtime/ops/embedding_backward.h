// SPDX-License-Identifier: MIT
// embedding_backward: ids [rows] (int32) and dy [rows, D] -> dtable [V, D], row v the sum of
// the rows of dy whose id is v, in row order (zeros for an id never seen), as a node kernel on
// fp32 or bf16 RowSplits (row_split.h), adding in fp32.
//
// Layouts: dy where it lies (any RowSplit of [rows, D]); dtable split_rows() of [V, D] with
// dy's column blocks (node (i, j) holds table rows of row block i, column block j). Every node
// holding dtable rows has all the ids in its SRAM (write_embedding_backward_ids(), as the
// forward's ids) and a table of where each dy row's column block lies (place()).
// Scheme (one thread per node): zero the fp32 accumulators of its table rows (for fp32 the
// output itself, for bf16 a work area of two fp32 registers per stored register); scan the ids
// in row order and PULL the column block of each row whose id falls in its rows into the next
// slot of a stage, up to 16 slots (64 KiB) per round; when a round's pulls have all arrived
// (semaphore 1), add its slots in order into their ids' accumulators (bf16 widened exactly); at
// the end a bf16 output is rounded once (nearest even). The adds follow the rows' order, so the
// bits do not depend on timing.
//
// Out-of-range ids: the host checks them before the run (check_ids() of embedding.h), as the
// forward's error; the kernel skips ids outside its rows and does not check.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/mesh/executor.h"
#include "runtime/mesh/op.h"
#include "runtime/ops/row_split.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

/// What to compute: `out` (held as `output`, [V, D]) from dy (held as `dy`, at `dy_at`) and the
/// ids at `ids` on every node of `output`; `work` is scratch SRAM of
/// embedding_backward_work_bytes() (the sources' table, a stage, bf16's accumulators).
struct EmbeddingBackwardProblem {
  RowSplit dy, output;
  uint64_t ids = 0, dy_at = 0, out = 0, work = 0;
};
/// The split of dtable: [V, D] over the first usable nodes with dy's column blocks.
RowSplit embedding_backward_output(const hw::HardwareConfig& config, const RowSplit& dy,
                                   uint32_t vocabulary);
uint64_t embedding_backward_ids_bytes(const RowSplit& dy);
uint64_t embedding_backward_work_bytes(const EmbeddingBackwardProblem& problem);
/// Host side: every id (int32, row order) into the SRAM of every node of `output`.
void write_embedding_backward_ids(hw::Machine& machine, const RowSplit& output, uint64_t address,
                                  const std::vector<int32_t>& ids);

class EmbeddingBackwardKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming the op and what does not suit (dtype, splits whose
  /// column blocks differ, SRAM regions as the other ops).
  EmbeddingBackwardKernel(const hw::HardwareConfig& config,
                          const EmbeddingBackwardProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return 1; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  /// Writes each node's table of dy rows' global addresses: before run.
  void place(hw::Machine& machine) const;

  static constexpr uint64_t kStackBytes = 256;

 private:
  EmbeddingBackwardProblem problem_;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// dtable bit for bit: per row v, 0 + the dy rows with id v in row order in fp32, rounded once
/// to the dtype; dy is rounded to the dtype first.
Matrix embedding_backward_reference(DType dtype, uint32_t vocabulary,
                                    const std::vector<int32_t>& ids, const Matrix& dy);
/// In double, with the bound gamma(n) sum |dy| (n the rows with that id) plus u_out |v|.
Reference64 embedding_backward_reference_f64(DType dtype, uint32_t vocabulary,
                                             const std::vector<int32_t>& ids, const Matrix& dy);

}  // namespace dojosim::runtime::ops
