// SPDX-License-Identifier: MIT
// What one op of a graph costs on the machine, from the hardware config and the shapes alone
// (no simulation): the planner (plan.h) calls cost_op() for each op in order and adds the
// costs that depend on the whole graph (spills, weight loads, redistributions).
//
// The model (docs/graphs.md, "The plan"):
// - matmul, batch_matmul and conv2d use the matmul mappings' estimates (runtime/mesh/estimate.h):
//   every registered mapping is estimated, and the cheapest with its input redistributions
//   wins. A batch runs on sub-meshes side by side (the mesh cut into equal rectangles, one
//   batch item each per round) or item after item on the whole mesh, whichever is cheaper;
//   conv2d is im2col + matmul, groups a batch of matmuls. When no mapping fits in SRAM, the
//   operands stream from HBM (summa's host placement), and failing that A's rows are cut into
//   panels whose A is read from HBM and whose C is written there.
// - every other op runs on the SIMD unit of each node over its share of the elements: the
//   slower of its vector work (one lane operation per FLOP of the op table, vlen / element
//   bytes lanes, at least one per element) and its SRAM traffic (two vlen-wide loads and one
//   store per cycle), plus the kernel's call cost and a barrier. Row ops (norms, softmax, the
//   loss) whose rows are split over several nodes add a tree of pushes per reduction, there
//   and back; pooling adds its halo rows; embedding gathers its rows from HBM.
// - layout ops cost nothing when every node keeps its own elements (a reshape along the row
//   split, a split or concat of the last axis, an identity transpose), else a redistribution.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hw/config/hardware_config.h"
#include "runtime/graph/graph.h"
#include "runtime/graph/validate.h"
#include "runtime/mesh/mesh_matmul.h"

namespace dojosim::runtime::graph {

/// The machine as the planner sees it: figures of the config, per cycle of the node clock.
struct PlanMachine {
  uint32_t width = 0, height = 0;  // the simulated mesh, nodes
  uint64_t nodes = 0;              // usable nodes
  uint64_t sram_bytes = 0;         // per node, for tensors: SRAM minus kReservedSramBytes
  uint32_t vlen_bytes = 0;         // SIMD register width
  double link_bytes = 0;           // one mesh link, one direction, per cycle
  double hop_cycles = 0;           // router latency
  double barrier_cycles = 0;       // one machine-wide barrier (as the matmul estimate's)
  double hbm_bytes_per_cycle = 0;  // DIP HBM of the simulated dies: the HBM or the links
  uint64_t hbm_bytes = 0;          // DIP HBM capacity of the simulated dies
  double clock_ghz = 0;
  double peak_flop_bf16 = 0, peak_flop_cfp8 = 0, peak_flop_fp32 = 0;  // per cycle, all nodes
  double peak_flop(DType t) const;
};
/// The stacks of four 8 KiB threads stay above the tensors (a matmul's SRAM figure includes its
/// program image).
inline constexpr uint64_t kReservedSramBytes = 32 * 1024;
/// What a sum over rows may gather on one node (ops::split_for_row_sums): an eighth of the
/// SRAM for tensors.
inline uint64_t row_sums_gather_bytes(const hw::HardwareConfig& config) {
  return (config.node.core.sram_bytes - kReservedSramBytes) / 8;
}
PlanMachine plan_machine(const hw::HardwareConfig& config);

/// Where a tensor's elements lie on the nodes: the tensor seen as rows x cols (cols = its last
/// axis, rows = the product of the others), cut into row_parts x col_parts blocks that differ
/// by at most one row or column, on the nodes `by` names ("rows": the usable nodes in snake
/// order, as the 1d mapping; otherwise a mapping's grid). Two tensors of equal layouts have
/// their element (r, c) on the same node.
struct Layout {
  int64_t rows = 1, cols = 1;
  uint64_t row_parts = 1, col_parts = 1;
  std::string by = "rows";
  uint64_t parts() const { return row_parts * col_parts; }
  /// Bytes of the largest block at `element` bytes each.
  uint64_t block_bytes(uint32_t element) const;
  bool operator==(const Layout& o) const;
  bool operator!=(const Layout& o) const { return !(*this == o); }
  /// "rows 354x1", "summa 18x19".
  std::string text() const;
};
/// Rows x cols of a shape (a scalar is 1 x 1).
Layout matrix_view(const Shape& s);
/// The default layout of a shape over `nodes` nodes: whole rows per node in snake order; a
/// tensor with fewer rows than nodes also cuts its rows into columns.
Layout row_split(const Shape& s, uint64_t nodes);
/// Cycles to move `bytes` from one layout to another: every element may change node, as an
/// all-to-all over the mesh: the slower of each node's share through its link and a quarter of
/// the bytes through the middle cut, plus the mesh's diameter in hops.
double redistribution_cycles(const PlanMachine& m, uint64_t bytes);

/// One op's mapping and cost, given where its inputs are now.
struct OpCost {
  std::string mapping;  // "summa", "1d", "simd rows", "view", "batch 12 x summa 6x5" ...
  uint64_t nodes = 0;   // nodes that work
  double cycles = 0;    // compute, the mapping's own data movement, sync; no redistribution
  double moves = 0;     // of which a layout op's redistribution
  double tiling = 0;    // of which a matmul's copies into and out of its tiles on each node
  /// Per input: the layout the op reads it in (a tensor already in SRAM in another layout is
  /// redistributed first); `gathered` inputs are read from HBM where they are (embedding).
  std::vector<Layout> inputs;
  std::vector<bool> gathered;
  /// Per input, bytes a redistribution into its layout moves (im2col's windows are larger than
  /// the input); empty: the tensors' bytes.
  std::vector<uint64_t> move_bytes;
  std::vector<Layout> outputs;
  /// SRAM per node while it runs: the mapping's buffers for matmul-like ops (its operands'
  /// blocks included), else nothing beyond its inputs' and outputs' blocks.
  uint64_t work_bytes = 0;
  bool work_includes_operands = false;
  /// Bytes read or written in HBM during the op (operands of a matmul too large for SRAM, a
  /// batch's results written round by round, embedding's rows); `cycles` covers them.
  uint64_t streamed_hbm_bytes = 0;
  bool outputs_in_hbm = false;  // the op writes its outputs to HBM
};

/// Where each input of the op is now: its layout if resident in SRAM, nullptr if in HBM.
using InputLayouts = std::vector<const Layout*>;

/// The matmul estimates and plans of one config, by mesh, dtype, shape, mapping and placement:
/// a graph repeats its shapes (ResNet-50's blocks), and each plan generates its node program.
struct MatmulMemo {
  struct Entry {
    MatmulEstimate estimate;
    MeshMatmulPlan plan;  // when estimate.fits
  };
  std::map<std::string, Entry> entries;
};

/// The op's cost. A matmul whose buffers do not fit in a node's SRAM streams its operands from
/// HBM (summa's host placement). Throws GraphError (with the op's origin) when no mapping can
/// run the op. `memo` belongs to `config` (one per plan).
OpCost cost_op(const PlanMachine& m, const hw::HardwareConfig& config, const Graph& g, const Op& op,
               const OpFacts& facts, const InputLayouts& now, MatmulMemo& memo);

/// The op types cost_op() knows, for the test that every op of ops.def has a cost.
std::vector<std::string> costed_op_types();

}  // namespace dojosim::runtime::graph
