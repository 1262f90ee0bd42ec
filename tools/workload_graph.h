// SPDX-License-Identifier: MIT
// `dojosim run --workload FILE.graph.yaml|.graph.json`: a workload graph (docs/graphs.md).
// With --plan it loads, validates, plans (runtime/graph/plan/plan.h) and prints the graph's
// summary and plan without simulating (--json: the plan as JSON too); without it, it refuses
// (the one-run execution of issue 13 is not written yet).
#pragma once

#include <string>
#include <vector>

namespace dojosim::cli {

/// Returns the exit status: 0 for a valid graph with --plan; 2 for a bad file, a bad config,
/// a graph that fits neither SRAM nor HBM or a run without --plan, with one line on stderr.
int run_graph_file(const std::string& path, bool plan, const std::string& config_path,
                   const std::vector<std::string>& sets, const std::string& json_path);

}  // namespace dojosim::cli
