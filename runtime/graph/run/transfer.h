// SPDX-License-Identifier: MIT
// Moving tensors between placements on the machine, as node programs: a redistribution between
// layouts (pushes between nodes), a load from HBM (pulls), a spill to HBM (pushes to host
// memory), and the gathers that layout ops and im2col are made of. Nothing passes through the
// host: the host only writes each node's table of DMA descriptors before the run.
//
// What moves where is an ElementMap: for an element (r, c) of the destination, the source
// (input, row, column) it copies, and for how many columns the map stays a plain copy; or no
// source (the element stays zero: im2col's padding). From it a transfer plan cuts each
// destination row into runs contiguous in both layouts, and joins the same runs of successive
// rows into strided descriptors (a 2D DMA: `count` copies, both addresses stepping).
//
// The node program (one thread on every usable node): clear the destination shards that need
// it (padding the matmul kernel reads as zero), a barrier when any node cleared, then issue the
// node's descriptors: a push per copy when the source is in this node's SRAM (+1 to semaphore 1
// of the destination node, or of this node for a write to HBM), a pull per copy when the source
// is in HBM and the destination here; then wait until semaphore 1 counts every copy that lands
// here. A transfer whose tables pass the table area runs in several rounds.
//
// Values change type only between fp32 and bf16 (a matmul's C into a bf16 tensor, a bf16 tensor
// read as fp32: a working copy of a weight into an fp32 bias_add): each source node first
// converts its shards into copies of the same layout in the other dtype (vcvt, 32 elements a
// step; to bf16 rounding to nearest even), as a kernel of its own.
//
// A matmul operand's tiles take a DMA per tile row (8 or 16 bytes). Where a plan's counts
// estimate it faster (many short DMAs across a large mesh), the DMAs instead fill the same
// rows laid whole beside the tiles, and a local program re-tiles them: a k-step of an A panel
// (each row's 8 bytes, rows one after another) by two strided vector loads and two strided
// stores, other tiles by a load and a store per tile row. A transposed operand (ElementMap::down)
// takes a DMA per element: where estimated faster, the DMAs fill its transpose laid whole beside it
// (the source's rows, long DMAs), and the local program copies it into place element by element.
// A source in tiles (a matmul's C, tile rows of 16 or 32 bytes), where estimated faster, is first
// laid into whole rows on its node (a strided load and a strided store per 32-bit word of 16
// tile rows), then moved by DMAs of whole rows.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "runtime/graph/run/placement.h"
#include "runtime/mesh/executor.h"

namespace dojosim::runtime::graph_run {

/// Where element (r, c) of a destination comes from: input `input`'s element (row, col), and
/// the next `len` - 1 columns from the following columns of the same source row; input -1:
/// no source for `len` columns (they stay zero).
struct Source {
  int input = 0;
  uint32_t row = 0, col = 0, len = 1;
};
struct ElementMap {
  using At = std::function<Source(uint32_t r, uint32_t c)>;
  using Down = std::function<Source(uint32_t c, uint32_t r)>;
  ElementMap() = default;
  ElementMap(At at_, bool identity_ = false, Down down_ = {})  // NOLINT: {at} reads as a map
      : at(std::move(at_)), identity(identity_), down(std::move(down_)) {}
  At at;
  /// Destination (r, c) is source 0's (r, c): a destination shard with a source shard of the
  /// same rectangle and layout is copied whole, one DMA.
  bool identity = false;
  /// A transposed read (a matmul's A^T or B^T), whose runs along the destination's rows are
  /// one element long: the same map walked down the destination's columns, `down(c, r)` the
  /// source of destination (r, c), its `len` counting the destination rows r, r + 1, ... that
  /// come from the following columns of the same source row. Such a destination can be filled
  /// through a transposed copy beside it (long DMAs), then a transposing copy on each node.
  Down down;
};

/// The plain copy: destination (r, c) is source (r, c).
ElementMap identity_map(uint32_t cols);

/// What a transfer cost and moved.
struct TransferStats {
  uint64_t cycles = 0;
  uint64_t runs = 0;         // machine runs (rounds, conversions)
  uint64_t descriptors = 0;  // strided DMA descriptors
  uint64_t copies = 0;       // push and pull instructions
  uint64_t bytes_between_nodes = 0, bytes_from_hbm = 0, bytes_to_hbm = 0, bytes_local = 0;
  uint64_t bytes_retiled = 0;   // copied on a node from staged rows into tiles
  uint64_t bytes_gathered = 0;  // of those, by gathers of a k-step of a panel (strided vectors)
  uint64_t bytes_untiled = 0;   // a source in tiles (a matmul's C) laid into rows on its node
  uint64_t bands = 0;          // transposes staged in bands for want of SRAM: the bands
  TransferStats& operator+=(const TransferStats& o);
};

/// Where a destination in tiles is filled through whole rows re-tiled on its node: where the
/// estimate says it is faster, always, or never (tests run every path).
enum class Staging : uint8_t { Estimate, Always, Never };

class Transfers {
 public:
  /// The descriptor tables live in SRAM [table, table + table_bytes) of every node, reserved by
  /// the caller; staging buffers for conversions come from `sram`; nothing else is touched.
  /// Node programs run on `config`'s runtime nodes (a data-parallel group's, or all).
  Transfers(Executor& executor, const hw::HardwareConfig& config, SramAllocator& sram,
            uint64_t table, uint64_t table_bytes, Staging staging = Staging::Estimate);

  /// Fills `dest` from `sources` as `map` says. zero_fill: the destination's SRAM shards are
  /// cleared first, so that elements no source covers (padding) read as zero. Throws
  /// std::runtime_error when the machine stops (trap, deadlock, limit), naming `what`.
  TransferStats move(const std::vector<const Placement*>& sources, const Placement& dest,
                     const ElementMap& map, bool zero_fill, const std::string& what);

  /// Several moves at once, in one node program run (after one conversion run if any source
  /// needs it): their copies overlap. The destinations must not overlap each other.
  struct Move {
    std::vector<const Placement*> sources;
    const Placement* dest = nullptr;
    ElementMap map;
    bool zero_fill = false;
    /// No one reads the sources after the move: a conversion to bf16 may overwrite them.
    bool consumes_sources = false;
  };
  TransferStats move(const std::vector<Move>& moves, const std::string& what);

  /// Loads from HBM that run beside whatever the machine runs next (the plan's weight
  /// prefetch): every move copies whole shards from HBM into SRAM (a source shard of each
  /// destination shard's rectangle and layout, ElementMap::identity, one dtype). One node
  /// program issues the pulls, counting on no semaphore, and ends when its last thread has
  /// issued them (Executor::run(kernel, true)): the data lands during the next machine run,
  /// which ends only once it has, competing with that run for links, DIPs and DMA queues. Its
  /// cycles are the issuing program's; Executor::carried_done() says, after the next run, when
  /// the last pull landed. Runs nothing and returns nullopt for moves that are not such loads,
  /// or that take more than one round of the table area.
  std::optional<TransferStats> prefetch(const std::vector<Move>& moves, const std::string& what);

 private:
  TransferStats move_same_type(const std::vector<Move>& moves, const std::string& what);
  TransferStats convert_sources(std::vector<Move>& work, std::deque<Placement>& owned,
                                std::vector<uint64_t>& staging, const std::string& what);
  // A copy of `p` in whole rows beside it (nullptr: p is in whole rows, or no SRAM is left).
  const Placement* stage(const Placement& p, std::deque<Placement>& owned,
                         std::vector<uint64_t>& staging);
  // The transpose of `p` laid whole by rows beside it (nullptr: a shard in HBM, or no SRAM).
  const Placement* stage_transposed(const Placement& p, std::deque<Placement>& owned,
                                    std::vector<uint64_t>& staging);
  // A transposed read staged in `bands` bands of its transpose's rows (transposed_bands:
  // as few as the SRAM left holds): each band's DMAs, then its copies into place.
  TransferStats move_transposed_in_bands(const Move& m, uint32_t bands, const std::string& what);
  // `staged` (its shards' layouts set) given SRAM beside the rest on every node, `slack` more
  // bytes after each shard, kept in `owned` (nullptr: no SRAM left).
  const Placement* place_staged(Placement staged, std::deque<Placement>& owned,
                                std::vector<uint64_t>& staging, uint64_t slack = 0);
  Executor& executor_;
  const hw::HardwareConfig& config_;
  SramAllocator& sram_;
  uint64_t table_, table_bytes_;
  Staging staging_;
};

}  // namespace dojosim::runtime::graph_run
