// SPDX-License-Identifier: MIT
// Autodiff (runtime/graph/autodiff.h): the backward graph's structure (names, roles, rules,
// sums of contributions), its refusals, and gradients run on tiny compared with float64
// computed here from the same inputs (the runner itself checks every op bit for bit against
// its reference). One machine per process: one run_graph() per test case.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>

#include "hw/config/config_io.h"
#include "runtime/graph/autodiff.h"
#include "runtime/graph/io.h"
#include "runtime/graph/plan/plan.h"
#include "runtime/graph/run/run.h"
#include "runtime/graph/validate.h"

using namespace dojosim;
using namespace dojosim::runtime;
namespace g = dojosim::runtime::graph;
namespace gr = dojosim::runtime::graph_run;

namespace {

g::Graph backward_of(const std::string& yaml, const g::BackwardOptions& o = {}) {
  const g::Graph f = g::parse_graph_yaml(yaml, "test.graph.yaml");
  g::validate(f);
  g::Graph b = g::with_backward(f, o);
  g::validate(b);  // the backward graph is a valid graph
  return b;
}

const g::Op& op_named(const g::Graph& graph, const std::string& name) {
  for (const g::Op& op : graph.ops)
    if (op.name == name) return op;
  FAIL("no op " << name);
  return graph.ops.front();
}

Matrix random_matrix(uint32_t rows, uint32_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Matrix m(rows, cols);
  for (float& v : m.values) v = u(rng);
  return m;
}

// A matmul chain: A with leading axes (its dB needs [rows, K] views), a tensor read twice (its
// gradient is the sum of two contributions), B stored transposed.
const char* const kChain = R"(version: 1
tensors:
  - {name: x, shape: [2, 12, 40], dtype: fp32, role: input}
  - {name: w1, shape: [40, 36], dtype: fp32, role: weight}
  - {name: h, shape: [2, 12, 36], dtype: fp32}
  - {name: s, shape: [2, 12, 36], dtype: fp32}
  - {name: w2, shape: [20, 36], dtype: fp32, role: weight}
  - {name: y, shape: [2, 12, 20], dtype: fp32}
ops:
  - {name: fc1, type: matmul, inputs: [x, w1], outputs: [h]}
  - {name: twice, type: add, inputs: [h, h], outputs: [s]}
  - {name: fc2, type: matmul, inputs: [s, w2], outputs: [y], attributes: {transpose_b: true}}
)";

}  // namespace

TEST_CASE("the backward of a matmul chain: its ops, names and roles", "[autodiff]") {
  const g::Graph b = backward_of(kChain);
  // The loss y is not a softmax_cross_entropy: a host input grad_output seeds it.
  const g::Tensor* seed = b.find_tensor("grad_output");
  REQUIRE(seed);
  CHECK(seed->role == g::Role::Input);
  CHECK(seed->shape == g::Shape{2, 12, 20});
  for (const char* w : {"w1", "w2"}) {
    const g::Tensor* grad = b.find_tensor(std::string("grad/") + w);
    REQUIRE(grad);
    CHECK(grad->role == g::Role::Gradient);
    CHECK(grad->shape == b.find_tensor(w)->shape);
  }
  // x is an input: no gradient; h is read twice by `twice`: two contributions (grad/s as it
  // is, twice), then their sum.
  CHECK_FALSE(b.find_tensor("grad/x"));
  const g::Op& sum = op_named(b, "h.grad.sum");
  CHECK(sum.type == "add");
  CHECK(sum.inputs == std::vector<std::string>{"grad/s", "grad/s"});
  CHECK(sum.outputs == std::vector<std::string>{"grad/h"});
  // y = s w2^T: ds = dy w2, dw2 = dy^T s (as [rows, K] views).
  CHECK(op_named(b, "fc2.grad").inputs == std::vector<std::string>{"grad_output", "w2"});
  CHECK(op_named(b, "fc2.grad").attributes.empty());
  const g::Op& dw2 = op_named(b, "fc2.grad.4");  // after the reshapes of s and dy
  CHECK(op_named(b, "fc2.grad.2").type == "reshape");
  CHECK(dw2.outputs == std::vector<std::string>{"grad/w2"});
  CHECK(std::get<bool>(dw2.attributes.at("transpose_a")));
  CHECK(b.ops.back().outputs == std::vector<std::string>{"grad/w1"});
}

TEST_CASE("a matmul chain's gradients run on tiny equal float64", "[autodiff]") {
  const g::Graph b = backward_of(kChain);
  const g::Analysis a = g::validate(b);
  const hw::HardwareConfig config =
      hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml", {}).config;
  gr::RunOptions options;
  options.values["x"] = random_matrix(24, 40, 1);
  options.values["w1"] = random_matrix(40, 36, 2);
  options.values["w2"] = random_matrix(20, 36, 3);
  options.values["grad_output"] = random_matrix(24, 20, 4);
  const gr::GraphRun r = gr::run_graph(config, b, a, g::plan_graph(b, a, config), options);
  REQUIRE(r.checked);
  const Matrix &x = options.values["x"], &w1 = options.values["w1"], &w2 = options.values["w2"],
               &dy = options.values["grad_output"];
  // float64: h = x w1, s = 2h, ds = dy w2, dh = 2 ds, dw2 = dy^T s, dw1 = x^T dh; with sums of
  // |terms| for the bound (fp32 rounding of each product's terms and of h, ds on the way).
  const auto at = [](const Matrix& m, uint32_t row, uint32_t col) {
    return double(m.at(row, col));
  };
  std::vector<double> h(24 * 36), ds(24 * 36), ds_abs(24 * 36);
  for (uint32_t i = 0; i < 24; ++i)
    for (uint32_t j = 0; j < 36; ++j) {
      for (uint32_t k = 0; k < 40; ++k) h[i * 36 + j] += at(x, i, k) * at(w1, k, j);
      for (uint32_t k = 0; k < 20; ++k) {
        ds[i * 36 + j] += at(dy, i, k) * at(w2, k, j);
        ds_abs[i * 36 + j] += std::abs(at(dy, i, k) * at(w2, k, j));
      }
    }
  const double eps = std::ldexp(1.0, -24);
  const Matrix& dw2 = r.outputs.at("grad/w2");
  for (uint32_t i = 0; i < 20; ++i)
    for (uint32_t j = 0; j < 36; ++j) {
      double want = 0, mag = 0;
      for (uint32_t k = 0; k < 24; ++k) {
        want += at(dy, k, i) * 2 * h[k * 36 + j];
        mag += std::abs(at(dy, k, i) * 2 * h[k * 36 + j]);
      }
      CHECK(std::abs(at(dw2, i, j) - want) <= 128 * eps * mag);
    }
  const Matrix& dw1 = r.outputs.at("grad/w1");
  for (uint32_t i = 0; i < 40; ++i)
    for (uint32_t j = 0; j < 36; ++j) {
      double want = 0, mag = 0;
      for (uint32_t k = 0; k < 24; ++k) {
        want += at(x, k, i) * 2 * ds[k * 36 + j];
        mag += std::abs(at(x, k, i)) * 2 * ds_abs[k * 36 + j];
      }
      CHECK(std::abs(at(dw1, i, j) - want) <= 128 * eps * mag);
    }
}

TEST_CASE("the backward refuses a graph it cannot differentiate, in one line", "[autodiff]") {
  const auto refusal = [](const std::string& yaml, const g::BackwardOptions& o = {}) {
    const g::Graph f = g::parse_graph_yaml(yaml, "bad.graph.yaml");
    g::validate(f);
    try {
      g::with_backward(f, o);
    } catch (const g::GraphError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string two_outputs = R"(version: 1
tensors:
  - {name: x, shape: [4, 8], dtype: fp32, role: input}
  - {name: w, shape: [8, 8], dtype: fp32, role: weight}
  - {name: a, shape: [4, 8], dtype: fp32}
  - {name: b, shape: [4, 8], dtype: fp32}
ops:
  - {name: m, type: matmul, inputs: [x, w], outputs: [a]}
  - {name: r, type: relu, inputs: [x], outputs: [b]}
)";
  CHECK(refusal(two_outputs) ==
        "bad.graph.yaml: the backward needs one loss; the graph has 2 outputs (a, b): name one");
  CHECK(refusal(two_outputs, {"nothere"}) ==
        "bad.graph.yaml: the loss 'nothere' is not a tensor of the graph");
  CHECK(refusal(two_outputs, {"w"}) ==
        "bad.graph.yaml:4: the loss 'w' is a host tensor (weight); no op makes it");
  CHECK(refusal(two_outputs, {"b"}) ==
        "bad.graph.yaml:9: no weight reaches the loss 'b': nothing to train");
}
