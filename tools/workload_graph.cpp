// SPDX-License-Identifier: MIT
#include "tools/workload_graph.h"

#include <fmt/format.h>

#include "hw/config/config_io.h"
#include "runtime/graph/io.h"
#include "runtime/graph/summary.h"
#include "runtime/graph/validate.h"
#include "tools/commands.h"

namespace dojosim::cli {

int run_graph_file(const std::string& path, bool plan, const std::string& config_path,
                   const std::vector<std::string>& sets) {
  namespace graph = runtime::graph;
  try {
    // The config is checked now although only the planner will read it: a run that will need
    // it should not pass --plan with a broken one.
    hw::load_config(config_path, sets);
    const graph::Graph g = graph::load_graph(path);
    const graph::Analysis a = graph::validate(g);
    if (!plan) {
      fmt::print(stderr,
                 "dojosim run: {}: graph execution is not implemented yet; use --plan to "
                 "validate the graph and print its summary\n",
                 path);
      return kUsage;
    }
    fmt::print("dojosim run --plan: {} on {}\n", path, config_path);
    fmt::print("{}", graph::summary_text(g, graph::summarise(g, a)));
    return kOk;
  } catch (const graph::GraphError& e) {
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  } catch (const hw::ConfigError& e) {
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  }
  return kUsage;
}

}  // namespace dojosim::cli
