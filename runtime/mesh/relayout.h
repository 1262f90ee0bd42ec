// SPDX-License-Identifier: MIT
// A node-local op (op.h): on every node it names, convert that node's part of a matrix from one
// shard to another on the same node: another tiled layout, and fp32 to fp32 or to bf16 (round
// to nearest even, as pack() does). It turns one kernel's result (C, fp32 in the kernel's C
// tile layout) into the next kernel's operand (its A or B layout and dtype) where it lies,
// without passing through the host. The destination's padding is written with zeros, as the
// matmul kernel needs.
//
// The generated program (one thread) clears the destination, then walks a table of runs the
// host writes into SRAM (place()): source address, destination address and element count of
// each stretch that is contiguous in both layouts, converting element by element.
#pragma once

#include <cstdint>
#include <vector>

#include "hw/config/hardware_config.h"
#include "runtime/mesh/op.h"

namespace dojosim::runtime::mesh {

/// One node's conversion: both shards on the same node and of the same rows and columns.
struct RelayoutPair {
  Shard from, to;
};

class RelayoutKernel final : public Kernel {
 public:
  /// At most one pair per node; `from` fp32, `to` fp32 or bf16, both in node SRAM. The run
  /// tables go at or above sram_from. Throws std::invalid_argument naming what does not suit.
  RelayoutKernel(const hw::HardwareConfig& config, std::vector<RelayoutPair> pairs,
                 uint64_t sram_from = 0);

  const NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return 1; }
  uint64_t stack_bytes() const override { return 1024; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return table_; }
  uint64_t data_end() const override { return end_; }

  /// Writes every node's run table (before the run).
  void place(hw::Machine& machine) const;
  /// What `to` holds after the run, given what `from` held: every value rounded to `to`.
  static Matrix reference(const Matrix& from, DType to);

  struct Run {
    uint64_t from = 0, to = 0, count = 0;
  };

 private:
  struct NodeWork {
    RelayoutPair pair;
    std::vector<Run> runs;
  };
  std::vector<NodeWork> work_;
  NodeProgram program_;
  uint64_t table_ = 0, end_ = 0;
};

}  // namespace dojosim::runtime::mesh
