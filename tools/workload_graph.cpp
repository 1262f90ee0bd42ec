// SPDX-License-Identifier: MIT
#include "tools/workload_graph.h"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "hw/config/config_io.h"
#include "runtime/graph/io.h"
#include "runtime/graph/plan/plan.h"
#include "runtime/graph/summary.h"
#include "runtime/graph/validate.h"
#include "runtime/npy.h"
#include "tools/commands.h"
#include "tools/output_file.h"

namespace dojosim::cli {
namespace {

// Each host tensor's data file (the `data` key, docs/graphs.md) exists and holds the tensor's
// shape, in a dtype of its kind: a bad one is refused before anything runs.
void check_graph_data(const runtime::graph::Graph& g, const std::string& path) {
  namespace graph = runtime::graph;
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  for (const graph::Tensor& t : g.tensors) {
    if (t.data.empty()) continue;
    const std::string file = (folder / t.data).string();
    runtime::NpyArray a;
    try {
      a = runtime::read_npy_header(file);
    } catch (const runtime::NpyError& e) {
      throw graph::GraphError(fmt::format("{}: tensor '{}': data {}", t.origin, t.name, e.what()));
    }
    const std::vector<uint64_t> want(t.shape.begin(), t.shape.end());
    if (a.shape != want)
      throw graph::GraphError(
          fmt::format("{}: tensor '{}': data {} is {} {}; the tensor is {}", t.origin, t.name, file,
                      a.dtype, runtime::npy_shape_string(a.shape), graph::shape_string(t.shape)));
    const bool indices = t.dtype == graph::DType::Int32;
    if (indices != (a.dtype == "int32"))
      throw graph::GraphError(fmt::format("{}: tensor '{}' ({}): data {} holds {}; expected {}",
                                          t.origin, t.name, graph::dtype_name(t.dtype), file,
                                          a.dtype, indices ? "int32" : "float32 or float64"));
  }
}

}  // namespace

int run_graph_file(const std::string& path, bool plan, const std::string& config_path,
                   const std::vector<std::string>& sets, const std::string& json_path) {
  namespace graph = runtime::graph;
  try {
    const hw::LoadedConfig loaded = hw::load_config(config_path, sets);
    const graph::Graph g = graph::load_graph(path);
    const graph::Analysis a = graph::validate(g);
    check_graph_data(g, path);
    // The plan is made before the refusal too: a graph that cannot be placed says so first.
    const graph::Plan p = graph::plan_graph(g, a, loaded.config);
    if (!plan) {
      fmt::print(stderr,
                 "dojosim run: {}: graph execution is not implemented yet; use --plan to "
                 "validate the graph and print its summary\n",
                 path);
      return kUsage;
    }
    const graph::Summary s = graph::summarise(g, a);
    fmt::print("dojosim run --plan: {} on {}\n", path, config_path);
    fmt::print("{}", graph::summary_text(g, s));
    fmt::print("{}", graph::plan_text(p));
    if (!json_path.empty()) {
      nlohmann::ordered_json j;
      j["workload"] = {{"graph", path}, {"name", g.name}, {"ops", s.ops}, {"flop", s.flop}};
      j["config"] = hw::to_json(loaded.config);
      j["plan"] = graph::plan_json(p);
      write_file(json_path, j.dump(1) + "\n");
    }
    return kOk;
  } catch (const graph::GraphError& e) {
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  } catch (const hw::ConfigError& e) {
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  } catch (const std::runtime_error& e) {
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  }
  return kUsage;
}

}  // namespace dojosim::cli
