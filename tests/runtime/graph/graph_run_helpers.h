// SPDX-License-Identifier: MIT
// What the graph-run tests share: tiny's config, a graph text run through validation, the
// planner and one machine run, an op's row of the report, and seeded random values as the
// machine holds them.
#pragma once

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "hw/config/config_io.h"
#include "runtime/graph/io.h"
#include "runtime/graph/plan/plan.h"
#include "runtime/graph/run/run.h"
#include "runtime/graph/validate.h"

namespace dojosim::test_graph {

inline hw::HardwareConfig tiny(const std::vector<std::string>& sets = {}) {
  return hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml", sets).config;
}

/// A graph written as YAML text ("test.graph.yaml" in messages), validated, planned and run.
inline runtime::graph_run::GraphRun run_graph_text(
    const std::string& yaml, const runtime::graph_run::RunOptions& options = {},
    const hw::HardwareConfig& config = tiny()) {
  namespace g = runtime::graph;
  const g::Graph graph = g::parse_graph_yaml(yaml, "test.graph.yaml");
  const g::Analysis a = g::validate(graph);
  return runtime::graph_run::run_graph(config, graph, a, g::plan_graph(graph, a, config), options);
}

inline const runtime::graph_run::OpRun& op_named(const runtime::graph_run::GraphRun& r,
                                                 const std::string& name) {
  for (const runtime::graph_run::OpRun& o : r.ops)
    if (o.op == name) return o;
  FAIL("no op " << name);
  return r.ops.front();
}

/// Uniform in [lo, hi) from the seed, rounded to `dtype` (the values the machine holds).
inline runtime::Matrix random_matrix(uint32_t rows, uint32_t cols, uint64_t seed,
                                     runtime::DType dtype = runtime::DType::Fp32, float lo = -1.0f,
                                     float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  runtime::Matrix m(rows, cols);
  for (float& v : m.values) v = u(rng);
  return runtime::quantized(m, dtype, {});
}

}  // namespace dojosim::test_graph
