// SPDX-License-Identifier: MIT
// Tensor parallel (docs/graphs.md, "Tensor parallel"): a graph's linear layers split over G
// groups of nodes, each group holding a part of their weights, as Megatron-LM splits a
// transformer's MLP. The graph is rewritten into one group's graph, the same in every group
// (so every step is one node program for all of them, run/groups.h):
//
//   Y = X W1 (+ b1, activations)   W1 split by output columns: each group makes Y's columns of
//   Z = Y W2                       its part; W2 split by input rows: each group's Y part times
//                                  its rows of W2 is a partial Z; `allreduce` sums the partials
//
// A pair is a matmul on a weight whose output, through bias_add (its bias split alike) and
// activations (relu, gelu, silu) read by nothing else, is the A of a matmul on another weight.
// Everything else (the pair's input X, Z, other layers, the loss) is whole in every group and
// computed alike in every group, bit for bit. The backward of the first matmul's X is a partial
// sum too: with_backward sums it over the groups (BackwardOptions::sum_over_groups).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "runtime/graph/graph.h"
#include "runtime/graph/validate.h"  // GraphError

namespace dojosim::runtime::graph {

/// A tensor each group holds a part of: part g of G equal parts of `full` along `axis`.
struct TensorSlice {
  size_t axis = 0;
  Shape full;
};

struct TensorParallel {
  Graph graph;  // one group's
  /// The split tensors of `graph` by name: weights, their layers' activations.
  std::map<std::string, TensorSlice> slices;
  /// The first matmul of each pair: its A's gradient is each group's partial sum.
  std::set<std::string> column_ops;
  /// "fc1.w, fc1.b by output columns; fc2.w by input rows; whole: fc3.w, fc3.b" for the plan.
  std::string text;
};

/// `g` (valid) split over `groups` (>= 2) groups. Throws GraphError (one line) for a graph with
/// no pair to split, or a pair whose split size the count does not divide, naming the weight.
TensorParallel tensor_parallel(const Graph& g, uint32_t groups);

/// The slices of a training step made from the split graph (training_step): each weight's,
/// and the same for the tensors the step derives from a split weight (its gradient, master,
/// optimizer state and their next values), which have its shape.
std::map<std::string, TensorSlice> step_slices(const Graph& step,
                                               const std::map<std::string, TensorSlice>& slices);

}  // namespace dojosim::runtime::graph
