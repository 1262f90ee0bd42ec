// SPDX-License-Identifier: MIT
// Reading and writing workload graph files (docs/graphs.md): YAML or JSON, the same fields.
// The readers check the structure only (keys, kinds of values, version, dtype and role names)
// and record where each tensor and op was written; validate() (validate.h) checks the rest.
// Writing then reading gives the same Graph (tests/runtime/graph checks it).
#pragma once

#include <string>

#include "runtime/graph/graph.h"

namespace dojosim::runtime::graph {

/// Whether `path` names a graph file: *.graph.yaml, *.graph.yml or *.graph.json.
bool is_graph_file(const std::string& path);

/// Reads a graph file, JSON if the name ends in .json, YAML otherwise. Throws GraphError
/// (validate.h) naming the file, the line (YAML) or the item (JSON) and what was expected.
Graph load_graph(const std::string& path);
/// The same from text; `source` is the name errors give.
Graph parse_graph_yaml(const std::string& text, const std::string& source);
Graph parse_graph_json(const std::string& text, const std::string& source);

/// The graph as a file: one line per tensor and per op, in the graph's order.
std::string to_yaml(const Graph& g);
std::string to_json(const Graph& g);

}  // namespace dojosim::runtime::graph
