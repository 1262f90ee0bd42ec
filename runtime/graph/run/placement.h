// SPDX-License-Identifier: MIT
// Where a tensor's values lie during a graph run, and the allocators that hand out room for
// them. A Placement is a tensor seen as a rows x cols matrix (runtime/graph: its last axis is
// cols) cut into shards (runtime/mesh/op.h): each shard a rectangle of the matrix in a tiled
// layout at an address of one node's SRAM or of host memory (the DIPs' HBM). A rectangle may
// appear in several shards (a mapping that replicates B); every element is in at least one.
//
// SRAM is allocated at the same address on every node, as the node kernels expect; HBM per
// shard, in the DIP nearest to the shard's node, and never reused (fresh HBM reads as zero, so a
// padded layout written there needs no clearing).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hw/config/hardware_config.h"
#include "hw/machine/machine.h"
#include "runtime/mesh/op.h"
#include "runtime/ops/row_split.h"

namespace dojosim::runtime::graph_run {

struct Placement {
  uint32_t rows = 0, cols = 0;
  DType dtype = DType::Fp32;
  std::vector<mesh::Shard> shards;
  bool in_host() const { return !shards.empty() && shards.front().in_host; }
};

/// A RowSplit at `address` of every node it names, as shards (row-major blocks, rows padded).
Placement row_split_placement(const ops::RowSplit& s, uint64_t address);
/// A [cols] vector as a RowSplit holds it: node (i, j) holds column block j as one row.
Placement vector_placement(const ops::RowSplit& s, uint64_t address);
/// One fp32 element on every node of `s` (a kernel's scalar operand), in one padded vector
/// register at `address`.
Placement scalar_placement(const ops::RowSplit& s, uint64_t address);

/// Host side, outside simulated time: every shard's part of `m` written where it lies (values
/// rounded to the placement's dtype, padding zero); and the matrix read back from the shards.
void write_placement(hw::Machine& machine, const Placement& p, const Matrix& m);
Matrix read_placement(const hw::Machine& machine, const Placement& p);

/// SRAM [begin, end) of every node, handed out first fit in 64-byte aligned pieces: from the
/// bottom, or (`lasting`) from the top, the lowest free piece or the highest. Tensors that
/// outlive an op (its outputs, resident inputs) take the top and an op's scratch the bottom, so
/// the scratch, freed when the op ends, leaves one free stretch instead of holes between
/// tensors.
class SramAllocator {
 public:
  struct Range {
    uint64_t begin = 0, end = 0;  // [begin, end)
    uint64_t bytes() const { return end - begin; }
  };
  SramAllocator(uint64_t begin, uint64_t end);
  /// The address of `bytes`, or UINT64_MAX when no free piece is large enough; never inside
  /// `avoid` (a stretch being cleared, Runner's make_room).
  uint64_t take(uint64_t bytes, bool lasting, Range avoid);
  uint64_t take(uint64_t bytes, bool lasting = false) { return take(bytes, lasting, Range{}); }
  void give_back(uint64_t address);
  uint64_t begin() const { return begin_; }
  uint64_t end() const { return end_; }
  uint64_t in_use() const { return in_use_; }
  uint64_t free_bytes() const { return end_ - begin_ - in_use_; }
  uint64_t high_water() const { return high_water_; }  // the most bytes in use at once
  /// The largest piece take() could hand out now.
  uint64_t largest_free() const;
  /// The pieces handed out: address -> bytes.
  const std::map<uint64_t, uint64_t>& in_use_pieces() const { return used_; }

 private:
  uint64_t carve(uint64_t at, uint64_t bytes);  // [at, at + bytes) of a free piece, handed out

  uint64_t begin_, end_, in_use_ = 0, high_water_ = 0;
  std::map<uint64_t, uint64_t> free_;  // address -> bytes
  std::map<uint64_t, uint64_t> used_;
};

/// The DIPs' HBM: per DIP a bump pointer; a shard goes to the DIP nearest to its node with room.
class HbmAllocator {
 public:
  explicit HbmAllocator(const hw::Machine& machine);
  /// A host address of `bytes` (64-byte aligned) in one DIP near `node`; throws
  /// std::runtime_error when no DIP has room.
  uint64_t take(hw::Coord node, uint64_t bytes);
  uint64_t in_use() const;

 private:
  struct Dip {
    uint64_t next = 0, end = 0;
    hw::Coord first, last;
  };
  std::vector<Dip> dips_;
};

/// The same shards (same nodes, rectangles and layouts) in fresh HBM, or in SRAM at `address`
/// of their nodes (at most one shard per node: a RowSplit's placement).
Placement in_hbm(const Placement& p, HbmAllocator& hbm);
Placement in_sram(const Placement& p, uint64_t address);
/// The largest shard's bytes: what one node needs for a RowSplit's placement.
uint64_t largest_shard_bytes(const Placement& p);

}  // namespace dojosim::runtime::graph_run
