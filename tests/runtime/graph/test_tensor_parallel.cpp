// SPDX-License-Identifier: MIT
// Tensor parallel (runtime/graph/tensor_parallel.h): which layers pair up and how they split,
// the all-reduces the split graph and its backward gain, the training step's slices, and the
// refusals. No machine: the runs are in python/tests/test_tensor_parallel.py and the CLI tests.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "runtime/graph/autodiff.h"
#include "runtime/graph/io.h"
#include "runtime/graph/tensor_parallel.h"
#include "runtime/graph/validate.h"

namespace g = dojosim::runtime::graph;

namespace {

// x -> fc1 (bias, gelu) -> fc2 (transposed weight) -> z; z -> fc3 (relu) -> u read twice, so
// fc3 finds no partner; z -> fc4, the last layer, whole.
const char* const kLayers = R"(version: 1
tensors:
  - {name: x, shape: [2, 8, 16], dtype: fp32, role: input}
  - {name: w1, shape: [16, 32], dtype: fp32, role: weight}
  - {name: b1, shape: [32], dtype: fp32, role: weight}
  - {name: w2, shape: [12, 32], dtype: fp32, role: weight}
  - {name: w3, shape: [12, 8], dtype: fp32, role: weight}
  - {name: w4, shape: [8, 4], dtype: fp32, role: weight}
  - {name: h, shape: [2, 8, 32], dtype: fp32}
  - {name: hb, shape: [2, 8, 32], dtype: fp32}
  - {name: a, shape: [2, 8, 32], dtype: fp32}
  - {name: z, shape: [2, 8, 12], dtype: fp32}
  - {name: t, shape: [2, 8, 8], dtype: fp32}
  - {name: u, shape: [2, 8, 8], dtype: fp32}
  - {name: uu, shape: [2, 8, 8], dtype: fp32}
  - {name: y, shape: [2, 8, 4], dtype: fp32}
ops:
  - {name: fc1, type: matmul, inputs: [x, w1], outputs: [h]}
  - {name: bias1, type: bias_add, inputs: [h, b1], outputs: [hb]}
  - {name: act1, type: gelu, inputs: [hb], outputs: [a]}
  - {name: fc2, type: matmul, inputs: [a, w2], outputs: [z], attributes: {transpose_b: true}}
  - {name: fc3, type: matmul, inputs: [z, w3], outputs: [t]}
  - {name: act3, type: relu, inputs: [t], outputs: [u]}
  - {name: twice, type: add, inputs: [u, u], outputs: [uu]}
  - {name: fc4, type: matmul, inputs: [uu, w4], outputs: [y]}
)";

std::vector<std::string> types(const g::Graph& graph) {
  std::vector<std::string> t;
  for (const g::Op& op : graph.ops) t.push_back(op.type);
  return t;
}

}  // namespace

TEST_CASE("a pair of layers splits by output columns, then input rows, summed after") {
  const g::Graph f = g::parse_graph_yaml(kLayers, "layers.graph.yaml");
  const g::TensorParallel tp = g::tensor_parallel(f, 4);
  g::validate(tp.graph);  // the split graph is a valid graph
  CHECK(tp.graph.find_tensor("w1")->shape == g::Shape{16, 8});
  CHECK(tp.graph.find_tensor("b1")->shape == g::Shape{8});
  CHECK(tp.graph.find_tensor("a")->shape == g::Shape{2, 8, 8});
  CHECK(tp.graph.find_tensor("w2")->shape == g::Shape{12, 8});  // transposed: its columns
  CHECK(tp.graph.find_tensor("z")->shape == g::Shape{2, 8, 12});
  CHECK(tp.graph.find_tensor("w3")->shape == g::Shape{12, 8});  // no partner: whole
  CHECK(tp.slices.at("w1").axis == 1);
  CHECK(tp.slices.at("w1").full == g::Shape{16, 32});
  CHECK(tp.slices.at("w2").axis == 1);
  CHECK(tp.slices.at("a").axis == 2);
  CHECK(tp.slices.count("w3") == 0);
  CHECK(tp.column_ops == std::set<std::string>{"fc1"});
  CHECK(types(tp.graph) == std::vector<std::string>{"matmul", "bias_add", "gelu", "matmul",
                                                    "allreduce", "matmul", "relu", "add",
                                                    "matmul"});
  const g::Op& sum = tp.graph.ops[4];
  CHECK(sum.inputs == std::vector<std::string>{"z.partial"});
  CHECK(sum.outputs == std::vector<std::string>{"z"});
  CHECK(std::get<int64_t>(sum.attributes.at("groups")) == 4);
  CHECK(tp.text == "w1, b1 by output columns; w2 by input rows; whole in every group: w3, w4");
}

TEST_CASE("the backward sums a split layer's input gradient over the groups") {
  // x a weight: fc1 reads two weights, no layer; fc2 (transposed) and fc3 pair up, and fc2's
  // input a takes a gradient.
  std::string yaml = kLayers;
  yaml.replace(yaml.find("role: input"), 11, "role: weight");
  const g::Graph f = g::parse_graph_yaml(yaml, "layers.graph.yaml");
  const g::TensorParallel tp = g::tensor_parallel(f, 2);
  g::BackwardOptions o;
  o.partial_input_gradients = tp.column_ops;
  o.groups = 2;
  const g::Graph b = g::with_backward(tp.graph, o);
  g::validate(b);
  // Forward's allreduce passes the gradient through; fc2's dA is a partial sum, summed.
  std::vector<std::string> sums;
  for (const g::Op& op : b.ops)
    if (op.type == "allreduce") sums.push_back(op.outputs[0]);
  CHECK(sums == std::vector<std::string>{"t", "grad/a"});
  CHECK(b.find_tensor("grad/w2")->shape == g::Shape{6, 32});
  CHECK(b.find_tensor("grad/w3")->shape == g::Shape{6, 8});
  CHECK(b.find_tensor("grad/w1")->shape == g::Shape{16, 32});
  // Without the option (a mistake), no sum: the gradient would be one group's part.
  const g::Graph plain = g::with_backward(tp.graph, {});
  size_t count = 0;
  for (const g::Op& op : plain.ops) count += op.type == "allreduce";
  CHECK(count == 1);
}

TEST_CASE("a training step's tensors of a split weight split alike") {
  const g::Graph f = g::parse_graph_yaml(kLayers, "layers.graph.yaml");
  const g::TensorParallel tp = g::tensor_parallel(f, 2);
  g::BackwardOptions o;
  o.loss = "y";
  o.partial_input_gradients = tp.column_ops;
  o.groups = 2;
  const g::Graph step = g::training_step(tp.graph, o, g::parse_optimizer("adamw:lr=1e-3"));
  const auto slices = g::step_slices(step, tp.slices);
  for (const char* name : {"grad/w1", "next/w1", "state/w1/m", "next/state/w1/v", "b1"})
    CHECK(slices.count(name) == 1);
  CHECK(slices.count("next/w3") == 0);
  CHECK(slices.count("grad_output") == 0);
  CHECK(g::weight_of_step_tensor("next/state/fc1.w/velocity") == "fc1.w");
  CHECK(g::weight_of_step_tensor("grad32/fc1.w") == "fc1.w");
  CHECK(g::weight_of_step_tensor("next/master/fc1.w") == "fc1.w");
  CHECK(g::weight_of_step_tensor("fc1.w") == "");
}

TEST_CASE("tensor parallel refusals name the graph, the weight and the count") {
  const g::Graph f = g::parse_graph_yaml(kLayers, "layers.graph.yaml");
  CHECK_THROWS_WITH(g::tensor_parallel(f, 3),
                    "layers.graph.yaml:4: tensor parallel over 3 groups: weight 'w1' has 32 output "
                    "columns, which do not split into 3 equal parts");
  CHECK_THROWS_WITH(
      g::tensor_parallel(g::parse_graph_yaml(R"(version: 1
tensors:
  - {name: x, shape: [4, 8], dtype: fp32, role: input}
  - {name: w, shape: [8, 4], dtype: fp32, role: weight}
  - {name: y, shape: [4, 4], dtype: fp32}
ops:
  - {name: fc, type: matmul, inputs: [x, w], outputs: [y]}
)",
                                             "one.graph.yaml"),
                         2),
      Catch::StartsWith("one.graph.yaml: tensor parallel over 2 groups: no pair of linear layers "
                        "to split"));
}
