// SPDX-License-Identifier: MIT
// The graph planner: for each op of a validated graph, in order, a mapping chosen by estimate
// (op_cost.h); for each tensor a placement, sharded over node SRAM in a layout or in DIP HBM.
// What `dojosim run --workload FILE.graph.yaml --plan` prints (plan_text, plan_json).
//
// Rules (docs/graphs.md, "The plan"):
// - Host tensors (inputs, weights) start in HBM. Before an op, each input it reads from SRAM
//   and does not hold there is loaded from HBM into the layout the op reads it in; the load
//   runs during the previous op (a prefetch: only the part longer than that op is exposed)
//   when the previous op left SRAM for it, else before the op.
// - An input in SRAM in another layout than the op reads it in is redistributed first (pushes
//   between nodes, op_cost.h's redistribution_cycles) and stays in the new layout.
// - Liveness: a tensor's SRAM is freed after its last reader; the graph's outputs stay to the
//   end. When an op's need (its tensors and buffers beside every other resident tensor) passes
//   a node's SRAM, resident tensors it does not read spill to HBM, the one read furthest ahead
//   first (written unless HBM already holds a copy); an op whose own tensors do not fit
//   streams them through HBM. Every byte written or read costs HBM bandwidth.
// - A tensor that fits neither in SRAM nor in the HBM left is refused (GraphError naming the
//   file, the op and the tensor), before any simulation.
// SRAM figures are the busiest node's: the sum of the largest blocks of the resident tensors.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hw/config/hardware_config.h"
#include "runtime/graph/graph.h"
#include "runtime/graph/plan/op_cost.h"
#include "runtime/graph/validate.h"

namespace dojosim::runtime::graph {

/// One op's place in the plan.
struct OpPlan {
  std::string op, type, mapping;
  uint64_t nodes = 0;
  double compute_cycles = 0;         // the op itself (op_cost.h)
  double redistribution_cycles = 0;  // its inputs' redistributions, or a layout op's own
  double hbm_cycles = 0;             // spills written, loads not hidden by a prefetch, streaming
  double hidden_load_cycles = 0;     // loads prefetched during the previous op
  double cycles = 0;                 // what the op adds to the graph's time
  double flop = 0;
  double peak_pct = 0;  // flop / (cycles x the machine's peak in its dtype)
  std::vector<std::string> inputs_at, outputs_at;  // "sram <layout>" or "hbm"
  uint64_t hbm_bytes = 0;                          // read and written in HBM for this op
  uint64_t sram_high_water = 0;            // busiest node's SRAM during the op, prefetch included
  std::vector<std::string> spilled;        // tensors moved out to HBM before it
  std::vector<std::string> redistributed;  // its inputs that changed layout
};

struct Plan {
  PlanMachine machine;
  std::vector<OpPlan> ops;
  double cycles = 0, seconds = 0, flop = 0, peak_pct = 0;
  uint64_t spills = 0, redistributions = 0, hbm_bytes = 0, sram_high_water = 0;
  uint64_t weight_bytes = 0;  // weights, all in HBM
};

/// Plans a validated graph (`analysis` from validate()). Deterministic: the same graph and
/// config give the same plan. Throws GraphError for a tensor that fits neither SRAM nor HBM.
Plan plan_graph(const Graph& g, const Analysis& analysis, const hw::HardwareConfig& config);

/// The per-op table and the graph's totals, as the CLI prints them after the summary.
std::string plan_text(const Plan& p);
/// The same as JSON: {"machine": ..., "ops": [...], "totals": {...}}.
nlohmann::ordered_json plan_json(const Plan& p);

}  // namespace dojosim::runtime::graph
