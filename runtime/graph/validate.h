// SPDX-License-Identifier: MIT
// The validator: checks a Graph against the op table (ops.def) and the rules of
// docs/graphs.md, and infers every op's output shapes and FLOP. It stops at the first problem
// and throws GraphError with one line: where (file:line, or file: ops[i] for JSON), the op
// and the tensor, and what was expected.
//
// Checks, in this order: the version; tensors (unique names, sizes of at least 1, int32 only
// for inputs); ops (unique names, known type and attributes with values of their type, arity);
// every tensor an op names is declared; no op produces a host tensor (input, weight,
// optimizer_state) and none is produced twice; no cycle; every input is produced by an
// earlier op or comes from the host (the op list is the execution order); dtypes; shapes (the
// rule's output shapes must equal the declared ones); every host tensor is read.
#pragma once

#include <stdexcept>
#include <vector>

#include "runtime/graph/graph.h"

namespace dojosim::runtime::graph {

/// A graph that breaks a rule of the format; what() is the one-line message.
struct GraphError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What validation learns about each op, in the graph's op order.
struct OpFacts {
  std::vector<Shape> outputs;  // inferred (and equal to the declared shapes)
  double flop = 0;
};

struct Analysis {
  std::vector<OpFacts> ops;
};

/// Throws GraphError for the first problem found.
Analysis validate(const Graph& g);

}  // namespace dojosim::runtime::graph
