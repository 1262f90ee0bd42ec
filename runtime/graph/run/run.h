// SPDX-License-Identifier: MIT
// A workload graph in ONE machine run (docs/graphs.md, "Running a graph"): one Executor, the
// graph's ops in order, each as node kernels on tensors that stay in node SRAM from op to op.
//
// Between ops, every activation lies in its home layout: a RowSplit of its matrix view
// (runtime/ops/row_split.h) in SRAM, or, once spilled, the same blocks in HBM. Host tensors
// (inputs, weights) lie in HBM, written there before the run in the layout their reader loads
// (a weight in the matmul mapping's B shards, a vector in its column blocks). Per op:
//   1. room: SRAM for the op's buffers and outputs; when there is none, resident activations the
//      op does not read spill to HBM, the one read furthest ahead first;
//   2. inputs: loaded from HBM (pulls) or redistributed into the op's layout (pushes between
//      nodes: a matmul's A shards, im2col's windows), as transfer.h's node programs;
//   3. the op's kernel (a matmul mapping, a runtime/ops kernel), its outputs left in SRAM;
//   4. a matmul's C (fp32, the mapping's tiles) moved into the output's home layout, converted
//      to the output's dtype; the SRAM of tensors no later op reads is freed.
// Each step is a kernel run on the same machine, one after another (each ends when every node
// has finished it: a barrier between steps); the cycles add up to the graph's. The exception is
// the weight prefetch (RunOptions::prefetch): the next op's B (a weight in HBM) is pulled by a
// program that leaves the pulls in flight, so they land during this op's kernel and the moves
// after it, the runs in between ending with their last thread; the run before the next op's
// kernel waits for them, and what they delayed it by is that op's.
//
// Alongside, the host executes the same ops in the same order with the kernels' references
// (bit for bit): after each op the machine's outputs are read back (outside simulated time)
// and compared; the first difference stops the run with the op, tensor and element. Each op's
// outputs must also lie within the op's documented bound of its float64 result from the same
// inputs (matmul: runtime/reference.h; the others: docs/ops.md).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hw/config/hardware_config.h"
#include "hw/trace/trace.h"
#include "runtime/graph/graph.h"
#include "runtime/graph/plan/plan.h"
#include "runtime/graph/run/transfer.h"
#include "runtime/graph/tensor_parallel.h"
#include "runtime/graph/validate.h"
#include "runtime/tensor.h"

namespace dojosim::runtime::graph_run {

/// Throws graph::GraphError (one line naming the file, op and tensor) for an op this runner
/// cannot run yet: before any simulation.
/// `groups`: the run's groups (data x tensor parallel), which every allreduce's groups x stride
/// must divide.
void check_runnable(const graph::Graph& g, const graph::Analysis& a, size_t groups = 1);
/// An allreduce's groups and stride against the run's groups: GraphError naming the op.
void check_allreduce(const graph::Op& op, size_t run_groups);

struct RunOptions {
  /// Host tensors' values by name (rows x cols of the tensor's matrix view); the others come
  /// from their `data` file (read by the caller) or are made up from the seed.
  std::map<std::string, Matrix> values;
  uint64_t seed = 1;
  bool check = true;  // compare every op's outputs with the reference (needs sim.values on)
  Staging staging = Staging::Estimate;  // how moves fill a matmul's tiles (transfer.h)
  /// The plan's weight prefetch: the next op's B (a matmul's or a one-group conv2d's weight,
  /// from HBM) loads during this op's kernel where SRAM allows; off: every load runs before its
  /// op, as the plan's prefetch was not run before (the tests compare both). Not with groups.
  bool prefetch = true;
  /// The hardware trace of the run, plus a "graph" process: a track of ops, one of their
  /// kernels and one of their moves.
  hw::TraceWriter* trace = nullptr;
  /// Data parallel (groups.h): the graph runs on each of `groups` equal rectangles of the mesh
  /// at once, each replica with its own batch: a given input of R x its rows gives replica r
  /// its r-th part, a made-up one differs per replica; weights are the same in every replica.
  uint32_t groups = 1;
  /// Tensor parallel (graph/tensor_parallel.h): the graph is one group's of `tensor_groups`
  /// (group g is part g % T of replica g / T, R = groups / T replicas); each holds its part of
  /// the tensors named in `slices` (given or made up whole, then cut; its outputs joined whole
  /// again). Inputs, and every other tensor, are whole and alike in a replica's groups.
  uint32_t tensor_groups = 1;
  std::map<std::string, graph::TensorSlice> slices;
};

struct OpRun {
  std::string op, type, how;  // how: the mapping or kernel
  uint64_t cycles = 0;        // what the op added to the run: moves and kernels
  uint64_t kernel_cycles = 0;
  TransferStats moves;  // loads, redistributions, conversions, spills
  uint64_t sram_in_use = 0;
  double flop = 0, peak_pct = 0, estimate = 0;  // estimate: the plan's cycles
  std::vector<std::string> spilled;
  std::vector<std::string> relocated;  // moved within SRAM to join free pieces for the op
  double bound_used = 0;  // the largest |machine - float64| over its bound, over the outputs
  /// An all-reduce between groups: the bytes of its tensor in each group, and the groups.
  uint64_t collective_bytes = 0;
  uint32_t collective_groups = 0;
  /// Its B loaded from HBM during the op before (a prefetch; RunOptions::prefetch): the bytes,
  /// and the cycles of that load the op before hid (the rest are in `moves`).
  uint64_t prefetch_bytes = 0, prefetch_hidden_cycles = 0;
};

struct GraphRun {
  std::vector<OpRun> ops;
  uint64_t cycles = 0, kernel_cycles = 0, move_cycles = 0;
  double seconds = 0, flop = 0, peak_pct = 0, estimate = 0;
  uint64_t sram_high_water = 0;  // bytes of each node's SRAM the run used at most
  uint64_t hbm_bytes = 0;        // HBM the run's tensors took
  TransferStats moves;
  uint64_t prefetch_bytes = 0, prefetch_hidden_cycles = 0;  // over the ops
  bool checked = false;                   // every op's outputs equal the reference bit for bit
  std::map<std::string, Matrix> outputs;  // the graph's outputs, read back
  /// Data parallel: the groups, where they are, and the outputs that differ between them
  /// (held as every group's rows in group order; the others are every group's, once).
  /// Tensor parallel: a split output is held whole (its parts joined).
  uint32_t groups = 1;
  uint32_t tensor_groups = 1;  // of each replica: groups / tensor_groups replicas
  std::string group_text;
  std::vector<std::string> varying;
};

/// Runs `g` (validated: `a`; planned: `p`) on a machine of `config`. Throws GraphError for a
/// graph it cannot run or place, std::runtime_error for a machine that stops (trap, deadlock)
/// or a result that differs from the reference, naming the op.
GraphRun run_graph(const hw::HardwareConfig& config, const graph::Graph& g,
                   const graph::Analysis& a, const graph::Plan& p, const RunOptions& options);

/// The per-op table and totals as `dojosim run --workload FILE.graph.yaml` prints them.
std::string run_text(const GraphRun& r, const hw::HardwareConfig& config);
/// `--json`'s "run": ops, collectives (all-reduces between groups, their bandwidths), outputs,
/// totals.
nlohmann::ordered_json run_json(const GraphRun& r, const hw::HardwareConfig& config);

}  // namespace dojosim::runtime::graph_run
