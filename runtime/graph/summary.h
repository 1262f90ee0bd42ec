// SPDX-License-Identifier: MIT
// What `dojosim run --workload FILE.graph.yaml --plan` prints: the size of a validated graph
// (ops, tensors, bytes by role) and its FLOP by op type. Figures only; no placement yet.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "runtime/graph/graph.h"
#include "runtime/graph/validate.h"

namespace dojosim::runtime::graph {

struct Summary {
  size_t ops = 0, tensors = 0;
  std::map<Role, uint64_t> bytes, count;  // by role (element_bytes x elements)
  struct TypeRow {
    size_t ops = 0;
    double flop = 0;
  };
  std::map<std::string, TypeRow> by_type;  // op type -> count and FLOP
  double flop = 0;
};

Summary summarise(const Graph& g, const Analysis& a);
/// The summary as the CLI prints it (docs/graphs.md shows an example).
std::string summary_text(const Graph& g, const Summary& s);

}  // namespace dojosim::runtime::graph
