// SPDX-License-Identifier: MIT
// `dojosim run --workload FILE.graph.yaml|.graph.json`: a workload graph (docs/graphs.md).
// With --plan it loads, validates, plans (runtime/graph/plan/plan.h) and prints the graph's
// summary and plan without simulating (--json: the plan as JSON too); without it, it runs the
// graph in one machine run (runtime/graph/run/run.h) and prints the per-op table after the plan.
#pragma once

#include <string>
#include <vector>

namespace dojosim::cli {

/// What `dojosim run` passes for a graph workload.
struct GraphFlags {
  bool plan = false;
  std::string config_path;
  std::vector<std::string> sets;
  std::string json_path, save_dir, inputs, trace_path;
  uint64_t trace_limit = 0;
  std::string svg_dir;  // ops.svg: the op timeline (tools/report/graph_svg.h)
  bool backward = false;  // append the backward (runtime/graph/autodiff.h)
  std::string optimizer;  // and then the updates: "sgd:lr=0.1" (implies backward)
  std::string loss;       // the loss the backward starts from; empty: the graph's one output
  // loss scaling of the backward: "" (none), a number (static) or "dynamic:..."
  // (runtime::graph::parse_loss_scale)
  std::string loss_scale;
  uint32_t data_parallel = 1;  // groups of nodes running the training step at once
  std::string graph_out;  // write the graph that runs (YAML or JSON by its name) here
  uint32_t tensor_parallel = 1;  // groups of nodes each holding a part of the split layers
  bool parallel_auto = false;    // choose data_parallel and tensor_parallel by estimate
};

/// Returns the exit status: 0 for a graph that planned (and ran); 2 for a bad file, a bad
/// config, a graph that fits neither SRAM nor HBM or has an op the run cannot run yet, with
/// one line on stderr; 1 for a run that stopped or differs from its reference. save_dir: the
/// graph's outputs as NAME.npy there; inputs: "TENSOR=FILE.npy,..." for host tensors, over
/// their data files; trace_path: the run's Perfetto trace, the graph's ops on their own tracks;
/// svg_dir: the op timeline as ops.svg there; backward: the graph's backward appended before
/// planning (every weight's gradient an output grad/WEIGHT); graph_out: that graph written.
int run_graph_file(const std::string& path, const GraphFlags& flags);

}  // namespace dojosim::cli
