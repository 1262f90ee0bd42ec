// SPDX-License-Identifier: MIT
// `dojosim run --workload FILE.graph.yaml|.graph.json`: a workload graph (docs/graphs.md).
// With --plan it loads, validates and prints the graph's summary without simulating; without
// it, it refuses (the planner and the one-run execution of issue 13 are not written yet).
#pragma once

#include <string>
#include <vector>

namespace dojosim::cli {

/// Returns the exit status: 0 for a valid graph with --plan; 2 for a bad file, a bad config
/// or a run without --plan, with one line on stderr.
int run_graph_file(const std::string& path, bool plan, const std::string& config_path,
                   const std::vector<std::string>& sets);

}  // namespace dojosim::cli
