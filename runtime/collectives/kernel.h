// SPDX-License-Identifier: MIT
// The node program of every collective, and how a schedule (schedule.h) becomes its input.
//
// Each member's vector lies at the same SRAM address on every member, its leaves padded to
// 64 B. A transfer is cut into pieces where the vector's multiples of kPieceBytes cut it; the
// piece at k kPieceBytes belongs to lane k mod lanes, and lane t is run by hardware thread t, so
// that while one thread waits or bookkeeps the other adds, and every byte of the vector is
// always sent, received and added by the same thread. For each lane a member gets a table of steps,
// each: wait for one piece on a semaphore (one per sender and lane that brings the member pieces,
// so pieces are counted in the order their sender pushed them), add it from its receive slot into
// the vector, push a piece on. A reduce transfer lands in a slot of its own at the receiver (no
// sender can overwrite a piece not yet added); a copy lands in the vector itself. When the piece a
// member just received is the piece it sends in the next round (rings, chains), the push rides on
// the same step: data streams through a ring piece by piece instead of chunk by chunk.
//
// The program (one per dtype) is generated in kernel.cpp; it reads each step's words and
// jumps into a table of swait / push instructions, one entry per semaphore (the semaphore is
// an immediate operand).
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/collectives/collective.h"
#include "runtime/collectives/schedule.h"
#include "runtime/mesh/common.h"
#include "runtime/mesh/op.h"

namespace dojosim::runtime::collectives {

constexpr uint64_t kPieceBytes = 4096;

/// One step of a lane's table, as the program reads it (8 words).
struct Step {
  uint64_t wait = 0;  // 8 x semaphore to wait on for one piece, 0: none
  uint64_t add_to = 0, add_from = 0, add_bytes = 0;     // add_bytes 0: no addition
  uint64_t push_to = 0, push_from = 0, push_bytes = 0;  // global destination; bytes 0: no push
  uint64_t push_sem = 0;                                // 8 x the destination's semaphore
};

class CollectiveKernel final : public mesh::Kernel {
 public:
  /// Lays out the SRAM and lowers the schedule. Throws std::invalid_argument when it does not
  /// fit the SRAM below the stacks or needs more semaphores than a node has.
  CollectiveKernel(const hw::HardwareConfig& config, const CollectiveProblem& problem,
                   const Schedule& schedule);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return lanes_; }
  uint64_t stack_bytes() const override { return 256; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return data_; }
  uint64_t data_end() const override { return end_; }

  /// Writes the step tables, and (unless `inputs` is empty) every member's vector.
  void place(hw::Machine& machine, const Vectors& inputs) const;
  /// Every member's vector as it lies in SRAM.
  Vectors read(const hw::Machine& machine) const;

  unsigned lanes() const { return lanes_; }
  uint64_t sram_high_water() const { return end_; }
  size_t steps(uint32_t member, unsigned lane) const { return tables_[member][lane].size(); }

 private:
  void lower(const hw::HardwareConfig& config, const Schedule& schedule);
  std::vector<hw::Coord> members_;
  DType dtype_;
  std::vector<uint64_t> leaf_offset_, leaf_first_;  // per leaf: SRAM offset, first element
  std::vector<uint64_t> leaf_elements_;
  unsigned lanes_ = 2;
  std::vector<std::vector<std::vector<Step>>> tables_;  // [member][lane]
  mesh::NodeProgram program_;
  uint64_t data_ = 0, slots_ = 0, table_ = 0, lane_table_bytes_ = 0, end_ = 0;
};

}  // namespace dojosim::runtime::collectives
