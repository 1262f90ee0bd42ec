// SPDX-License-Identifier: MIT
#include "runtime/graph/tensor_parallel.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "runtime/graph/autodiff.h"

namespace dojosim::runtime::graph {
namespace {

bool flag(const Op& op, const char* name) {
  const auto it = op.attributes.find(name);
  return it != op.attributes.end() && std::get<bool>(it->second);
}

// A pair of linear layers found in the graph: op indices and what each group keeps.
struct Pair {
  size_t column = 0, row = 0;   // the two matmuls
  std::vector<size_t> between;  // bias_add, activations and reshapes, in order
  std::vector<size_t> reshapes;
  std::string column_weight, row_weight;
  std::vector<std::string> biases;       // of the first layer
  std::vector<std::string> activations;  // Y and what the ops between make
};

class Splitter {
 public:
  Splitter(const Graph& g, uint32_t groups) : g_(g), groups_(groups) {
    for (size_t i = 0; i < g.ops.size(); ++i)
      for (const std::string& in : g.ops[i].inputs) readers_[in].push_back(i);
  }

  TensorParallel run() {
    for (size_t i = 0; i < g_.ops.size(); ++i)
      if (!used_.count(i)) find_pair(i);
    const std::string source = g_.source.empty() ? "graph" : g_.source;
    if (pairs_.empty())
      throw GraphError(fmt::format(
          "{}: tensor parallel over {} groups: no pair of linear layers to split (a matmul on a "
          "weight whose output, through bias_add and relu/gelu/silu read by nothing else, is the "
          "first input of a matmul on another weight)",
          source, groups_));
    TensorParallel tp;
    tp.graph = g_;
    Graph& out = tp.graph;
    std::vector<std::string> columns, rows;
    for (const Pair& p : pairs_) {
      split(tp, p.column_weight, column_axis(g_.ops[p.column]));
      for (const std::string& b : p.biases) split(tp, b, 0);
      for (const std::string& a : p.activations) split(tp, a, g_.find_tensor(a)->shape.size() - 1);
      split(tp, p.row_weight, row_axis(g_.ops[p.row]));
      tp.column_ops.insert(g_.ops[p.column].name);
      columns.push_back(p.column_weight);
      columns.insert(columns.end(), p.biases.begin(), p.biases.end());
      rows.push_back(p.row_weight);
    }
    // The second matmul of a pair makes a partial sum; its allreduce, right after it, the
    // tensor the graph had.
    std::set<std::string> names, op_names;
    for (const Tensor& t : out.tensors) names.insert(t.name);
    for (const Op& op : out.ops) op_names.insert(op.name);
    std::vector<Op> ops;
    for (size_t i = 0; i < g_.ops.size(); ++i) {
      ops.push_back(g_.ops[i]);
      if (reshapes_.count(i)) {  // its target's last axis is split too
        auto& shape = std::get<std::vector<int64_t>>(ops.back().attributes.at("shape"));
        if (shape.back() > 0) shape.back() /= groups_;
      }
      if (!is_row_.count(i)) continue;
      Op& row = ops.back();
      Tensor partial = *g_.find_tensor(row.outputs[0]);
      partial.name = unique(names, partial.name + ".partial");
      partial.data.clear();
      out.tensors.push_back(partial);
      Op sum;
      sum.name = unique(op_names, row.name + ".allreduce");
      sum.type = "allreduce";
      sum.inputs = {partial.name};
      sum.outputs = {row.outputs[0]};
      sum.attributes = {{"groups", int64_t(groups_)}};
      sum.origin = row.origin;
      row.outputs[0] = partial.name;
      ops.push_back(sum);
    }
    out.ops = std::move(ops);
    std::vector<std::string> whole;
    for (const Tensor& t : g_.tensors)
      if (t.role == Role::Weight && !tp.slices.count(t.name)) whole.push_back(t.name);
    tp.text = fmt::format("{} by output columns; {} by input rows", fmt::join(columns, ", "),
                          fmt::join(rows, ", "));
    if (!whole.empty())
      tp.text += fmt::format("; whole in every group: {}", fmt::join(whole, ", "));
    return tp;
  }

 private:
  static size_t column_axis(const Op& op) { return flag(op, "transpose_b") ? 0 : 1; }
  static size_t row_axis(const Op& op) { return flag(op, "transpose_b") ? 1 : 0; }

  bool is_weight(const std::string& name) const {
    const Tensor* t = g_.find_tensor(name);
    return t && t->role == Role::Weight;
  }
  bool read_once(const std::string& name) const {
    const auto it = readers_.find(name);
    return it != readers_.end() && it->second.size() == 1;
  }
  // A matmul on a 2-D weight read by it alone.
  bool linear(const Op& op) const {
    return op.type == "matmul" && is_weight(op.inputs[1]) && read_once(op.inputs[1]) &&
           g_.find_tensor(op.inputs[1])->shape.size() == 2 && !is_weight(op.inputs[0]);
  }

  void find_pair(size_t i) {
    const Op& first = g_.ops[i];
    if (!linear(first)) return;
    const Tensor& w1 = *g_.find_tensor(first.inputs[1]);
    const int64_t n = w1.shape[column_axis(first)];
    Pair p;
    p.column = i;
    p.column_weight = w1.name;
    std::string y = first.outputs[0];
    for (;;) {
      p.activations.push_back(y);
      if (!read_once(y)) return;
      const size_t j = readers_.at(y).front();
      const Op& op = g_.ops[j];
      if (op.type == "bias_add" && op.inputs[0] == y && is_weight(op.inputs[1]) &&
          read_once(op.inputs[1])) {
        p.biases.push_back(op.inputs[1]);
      } else if (op.type == "relu" || op.type == "gelu" || op.type == "silu") {
      } else if (op.type == "reshape" && g_.find_tensor(op.outputs[0])->shape.back() == n) {
        // The capture's [B, S, D] <-> [B S, D] views around a linear layer: the last axis kept.
        p.reshapes.push_back(j);
      } else if (linear(op) && op.inputs[0] == y && !flag(op, "transpose_a") &&
                 g_.find_tensor(op.inputs[1])->shape[row_axis(op)] == n) {
        p.row = j;
        p.row_weight = op.inputs[1];
        break;
      } else {
        return;
      }
      p.between.push_back(j);
      y = op.outputs[0];
    }
    if (n % groups_ != 0)
      throw GraphError(fmt::format(
          "{}: tensor parallel over {} groups: weight '{}' has {} output {}, which do not split "
          "into {} equal parts",
          w1.origin.empty() ? (g_.source.empty() ? "graph" : g_.source) : w1.origin, groups_,
          w1.name, n, column_axis(first) == 0 ? "rows (transpose_b)" : "columns", groups_));
    used_.insert(p.column);
    used_.insert(p.row);
    used_.insert(p.between.begin(), p.between.end());
    is_row_.insert(p.row);
    reshapes_.insert(p.reshapes.begin(), p.reshapes.end());
    pairs_.push_back(std::move(p));
  }

  void split(TensorParallel& tp, const std::string& name, size_t axis) {
    Tensor& t = *std::find_if(tp.graph.tensors.begin(), tp.graph.tensors.end(),
                              [&](const Tensor& x) { return x.name == name; });
    tp.slices[name] = {axis, t.shape};
    t.shape[axis] /= groups_;
  }

  static std::string unique(std::set<std::string>& taken, const std::string& want) {
    std::string n = want;
    for (int k = 2; taken.count(n); ++k) n = fmt::format("{}.{}", want, k);
    taken.insert(n);
    return n;
  }

  const Graph& g_;
  const uint32_t groups_;
  std::map<std::string, std::vector<size_t>> readers_;
  std::set<size_t> used_, is_row_, reshapes_;
  std::vector<Pair> pairs_;
};

}  // namespace

TensorParallel tensor_parallel(const Graph& g, uint32_t groups) {
  return Splitter(g, groups).run();
}

std::map<std::string, TensorSlice> step_slices(const Graph& step,
                                               const std::map<std::string, TensorSlice>& slices) {
  std::map<std::string, TensorSlice> all;
  for (const Tensor& t : step.tensors) {
    auto it = slices.find(t.name);
    if (it == slices.end()) it = slices.find(weight_of_step_tensor(t.name));
    if (it != slices.end()) all[t.name] = it->second;
  }
  return all;
}

}  // namespace dojosim::runtime::graph
