// SPDX-License-Identifier: MIT
// Autodiff (runtime/graph/autodiff.h): the backward graph's structure (names, roles, rules,
// sums of contributions), its refusals, and gradients run on tiny compared with float64
// computed here from the same inputs (the runner itself checks every op bit for bit against
// its reference). One machine per process: one run_graph() per test case.
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "hw/config/config_io.h"
#include "runtime/graph/autodiff.h"
#include "runtime/graph/io.h"
#include "runtime/graph/plan/plan.h"
#include "runtime/graph/run/run.h"
#include "runtime/graph/validate.h"
#include "tests/runtime/graph/graph_run_helpers.h"

using namespace dojosim;
using namespace dojosim::runtime;
namespace g = dojosim::runtime::graph;
namespace gr = dojosim::runtime::graph_run;
using namespace dojosim::test_graph;

namespace {

const g::Op& op_in(const g::Graph& graph, const std::string& name) {
  for (const g::Op& op : graph.ops)
    if (op.name == name) return op;
  FAIL("no op " << name);
  return graph.ops.front();
}

g::Graph backward_of(const std::string& yaml, const g::BackwardOptions& o = {}) {
  const g::Graph f = g::parse_graph_yaml(yaml, "test.graph.yaml");
  g::validate(f);
  g::Graph b = g::with_backward(f, o);
  g::validate(b);  // the backward graph is a valid graph
  return b;
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
  const g::Op& sum = op_in(b, "h.grad.sum");
  CHECK(sum.type == "add");
  CHECK(sum.inputs == std::vector<std::string>{"grad/s", "grad/s"});
  CHECK(sum.outputs == std::vector<std::string>{"grad/h"});
  // y = s w2^T: ds = dy w2, dw2 = dy^T s (as [rows, K] views).
  CHECK(op_in(b, "fc2.grad").inputs == std::vector<std::string>{"grad_output", "w2"});
  CHECK(op_in(b, "fc2.grad").attributes.empty());
  const g::Op& dw2 = op_in(b, "fc2.grad.4");  // after the reshapes of s and dy
  CHECK(op_in(b, "fc2.grad.2").type == "reshape");
  CHECK(dw2.outputs == std::vector<std::string>{"grad/w2"});
  CHECK(std::get<bool>(dw2.attributes.at("transpose_a")));
  CHECK(b.ops.back().outputs == std::vector<std::string>{"grad/w1"});
}

TEST_CASE("a matmul chain's gradients run on tiny equal float64", "[autodiff]") {
  const g::Graph b = backward_of(kChain);
  const g::Analysis a = g::validate(b);
  const hw::HardwareConfig config = tiny();
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

  // A backward op in the forward: no second derivatives.
  const std::string second = R"(version: 1
tensors:
  - {name: x, shape: [4, 8], dtype: fp32, role: input}
  - {name: w, shape: [8, 8], dtype: fp32, role: weight}
  - {name: a, shape: [4, 8], dtype: fp32}
  - {name: b, shape: [4, 8], dtype: fp32}
ops:
  - {name: m, type: matmul, inputs: [x, w], outputs: [a]}
  - {name: g, type: relu_backward, inputs: [a, x], outputs: [b]}
)";
  const std::string why = refusal(second);
  CHECK(why.rfind("bad.graph.yaml:9: op 'g' (relu_backward): backward: no gradient rule for "
                  "relu_backward (ops with one: matmul, batch_matmul, conv2d,",
                  0) == 0);
  // A split part nobody reads: its gradient would be zero.
  const std::string unread = R"(version: 1
tensors:
  - {name: x, shape: [4, 8], dtype: fp32, role: input}
  - {name: w, shape: [8, 8], dtype: fp32, role: weight}
  - {name: a, shape: [4, 8], dtype: fp32}
  - {name: p, shape: [4, 4], dtype: fp32}
  - {name: q, shape: [4, 4], dtype: fp32}
  - {name: r, shape: [4, 4], dtype: fp32}
ops:
  - {name: m, type: matmul, inputs: [x, w], outputs: [a]}
  - {name: cut, type: split, inputs: [a], outputs: [p, q]}
  - {name: act, type: relu, inputs: [p], outputs: [r]}
)";
  CHECK(refusal(unread, {"r"}) ==
        "bad.graph.yaml:11: op 'cut' (split): backward: its output 'q' does not reach the loss "
        "'r', so its gradient is zero; a backward with zero gradients is not supported");
}

TEST_CASE("the training step: one update per weight, its state and its outputs", "[autodiff]") {
  const g::Graph f = g::parse_graph_yaml(kChain, "test.graph.yaml");
  g::validate(f);
  const g::Graph t = g::training_step(f, {}, g::parse_optimizer("adamw:lr=0.001,step=2"));
  g::validate(t);
  const g::Op& update = t.ops.back();
  CHECK(update.type == "adamw_update");
  CHECK(update.inputs == std::vector<std::string>{"w2", "grad/w2", "state/w2/m", "state/w2/v"});
  CHECK(update.outputs ==
        std::vector<std::string>{"next/w2", "next/state/w2/m", "next/state/w2/v"});
  CHECK(std::get<double>(update.attributes.at("lr")) == 0.001);
  CHECK(std::get<int64_t>(update.attributes.at("step")) == 2);
  CHECK(t.find_tensor("state/w1/v")->role == g::Role::OptimizerState);
  CHECK(t.find_tensor("state/w1/v")->dtype == g::DType::Fp32);
  // The gradients are read by the updates now: not outputs any more.
  CHECK(op_in(t, "w1.update").inputs[1] == "grad/w1");

  const auto refusal = [](const std::string& text) {
    try {
      g::parse_optimizer(text);
    } catch (const g::GraphError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(refusal("sgd") == "--optimizer sgd: lr is required (sgd:lr=...)");
  CHECK(refusal("rmsprop:lr=1") ==
        "--optimizer 'rmsprop:lr=1': expected sgd or adamw, then :lr=...");
  CHECK(refusal("sgd:lr=fast") == "--optimizer sgd: lr='fast': expected a number");
  CHECK(refusal("adamw:lr=1,step=1.5") == "--optimizer adamw: step='1.5': expected a whole number");
  CHECK(refusal("sgd:lr=1,beta1=0.9") ==
        "--optimizer sgd: 'beta1=0.9': expected KEY=VALUE with KEY one of lr, momentum, "
        "weight_decay, step");
}

namespace {

// A bf16 linear layer and bias with a cross-entropy loss: weights that train as fp32 masters.
const char* const kBf16Layer = R"(version: 1
tensors:
  - {name: x, shape: [24, 40], dtype: bf16, role: input}
  - {name: labels, shape: [24], dtype: int32, role: input}
  - {name: w, shape: [40, 36], dtype: bf16, role: weight}
  - {name: b, shape: [36], dtype: fp32, role: weight}
  - {name: h, shape: [24, 36], dtype: fp32}
  - {name: logits, shape: [24, 36], dtype: fp32}
  - {name: loss, shape: [], dtype: fp32}
ops:
  - {name: fc, type: matmul, inputs: [x, w], outputs: [h]}
  - {name: bias, type: bias_add, inputs: [h, b], outputs: [logits]}
  - {name: xent, type: softmax_cross_entropy, inputs: [logits, labels], outputs: [loss]}
)";

}  // namespace

TEST_CASE("the training step of a bf16 weight: an fp32 master, its working copy made first",
          "[autodiff]") {
  const g::Graph f = g::parse_graph_yaml(kBf16Layer, "test.graph.yaml");
  g::validate(f);
  g::BackwardOptions backward;
  backward.loss_scale = 256;
  const g::Graph t = g::training_step(f, backward, g::parse_optimizer("sgd:lr=0.1,step=3"));
  g::validate(t);
  // The master is optimizer state in fp32; the weight is the step's first op's output.
  CHECK(t.find_tensor("master/w")->role == g::Role::OptimizerState);
  CHECK(t.find_tensor("master/w")->dtype == g::DType::Fp32);
  CHECK(t.find_tensor("w")->role == g::Role::Activation);
  CHECK(t.find_tensor("w")->dtype == g::DType::Bf16);
  const g::Op& copy = t.ops.front();
  CHECK(copy.name == "w.working_copy");
  CHECK(copy.type == "cast");
  CHECK(copy.inputs == std::vector<std::string>{"master/w"});
  CHECK(copy.outputs == std::vector<std::string>{"w"});
  CHECK(std::get<std::string>(copy.attributes.at("rounding")) == "stochastic");
  // Another step draws another stream.
  const g::Graph t4 = g::training_step(f, backward, g::parse_optimizer("sgd:lr=0.1,step=4"));
  CHECK(t4.ops.front().attributes.at("seed") != copy.attributes.at("seed"));
  // The loss scale starts the backward and is divided out of both gradients before the update.
  CHECK(std::get<double>(op_in(t, "xent.grad").attributes.at("scale")) == 256);
  const g::Op& unscale = op_in(t, "w.unscale");
  CHECK(unscale.inputs == std::vector<std::string>{"grad/w"});
  CHECK(std::get<double>(unscale.attributes.at("factor")) == 1.0 / 256);
  CHECK(op_in(t, "b.unscale").outputs == std::vector<std::string>{"grad32/b"});
  CHECK(op_in(t, "w.update").inputs ==
        std::vector<std::string>{"master/w", "grad32/w", "state/w/velocity"});
  CHECK(op_in(t, "w.update").outputs ==
        std::vector<std::string>{"next/master/w", "next/state/w/velocity"});
  CHECK(op_in(t, "b.update").inputs ==
        std::vector<std::string>{"b", "grad32/b", "state/b/velocity"});
  // Without a loss scale an fp32 gradient goes to its update as it is.
  const g::Graph plain = g::training_step(f, {}, g::parse_optimizer("sgd:lr=0.1"));
  CHECK(op_in(plain, "b.update").inputs[1] == "grad/b");
  CHECK(op_in(plain, "w.update").inputs[1] == "grad32/w");

  const auto refusal = [&](double scale) {
    g::BackwardOptions o;
    o.loss_scale = scale;
    try {
      g::with_backward(f, o);
    } catch (const g::GraphError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(refusal(0) == "loss scale 0: expected a positive finite number");
  CHECK(refusal(-2) == "loss scale -2: expected a positive finite number");
}

TEST_CASE("a bf16 weight's training step runs bit-exact, its master keeping what bf16 drops",
          "[autodiff][optimizer]") {
  const g::Graph f = g::parse_graph_yaml(kBf16Layer, "test.graph.yaml");
  g::validate(f);
  const g::Graph t = g::training_step(f, {}, g::parse_optimizer("sgd:lr=0.5,momentum=0"));
  const g::Analysis a = g::validate(t);
  gr::RunOptions options;
  options.values["w"] = random_matrix(40, 36, 31, DType::Bf16);
  const hw::HardwareConfig config = tiny();
  const gr::GraphRun r = gr::run_graph(config, t, a, g::plan_graph(t, a, config), options);
  REQUIRE(r.checked);  // every op, the stochastic casts included, equals its reference
  // The master starts as the given bf16 values; its update is fp32, so some of the new master
  // values lie between bf16 values: the working copy of the next step rounds them.
  const Matrix& next = r.outputs.at("next/master/w");
  size_t between = 0;
  for (float v : next.values) between += quantized(Matrix(1, 1, v), DType::Bf16, {}).values[0] != v;
  CHECK(between > next.values.size() / 2);
  CHECK(!r.outputs.count("next/w"));
}

namespace {

// One update op on given values, run on tiny: w, grad and state of uneven shape [37, 45].
const char* const kUpdate = R"(version: 1
tensors:
  - {name: w, shape: [37, 45], dtype: fp32, role: weight}
  - {name: g, shape: [37, 45], dtype: fp32, role: input}
  - {name: s1, shape: [37, 45], dtype: fp32, role: optimizer_state}
  - {name: s2, shape: [37, 45], dtype: fp32, role: optimizer_state}
  - {name: w_next, shape: [37, 45], dtype: fp32}
  - {name: s1_next, shape: [37, 45], dtype: fp32}
  - {name: s2_next, shape: [37, 45], dtype: fp32}
ops:
)";

}  // namespace

TEST_CASE("sgd_update on tiny equals PyTorch's SGD in float64", "[autodiff][optimizer]") {
  const std::string yaml =
      std::string(kUpdate) +
      "  - {name: u, type: sgd_update, inputs: [w, g, s1], outputs: [w_next, s1_next], "
      "attributes: {lr: 0.05, momentum: 0.9, weight_decay: 0.01}}\n";
  gr::RunOptions options;
  options.values["w"] = random_matrix(37, 45, 11);
  options.values["g"] = random_matrix(37, 45, 12);
  options.values["s1"] = random_matrix(37, 45, 13);
  options.values["s2"] = random_matrix(37, 45, 14);  // unread: declared for the shared text
  const std::string text =
      yaml + "  - {name: keep, type: add, inputs: [s2, s2], outputs: [s2_next]}\n";
  const gr::GraphRun r = run_graph_text(text, options);
  REQUIRE(r.checked);
  const double u = std::ldexp(1.0, -24);
  for (size_t e = 0; e < 37 * 45; ++e) {
    const double w = options.values["w"].values[e], g = options.values["g"].values[e],
                 v = options.values["s1"].values[e];
    const double buf = 0.9 * v + (g + 0.01 * w);  // torch.optim.SGD, dampening 0
    const double want = w - 0.05 * buf;
    CHECK(std::abs(r.outputs.at("s1_next").values[e] - buf) <=
          8 * u * (std::abs(v) + std::abs(g) + std::abs(w)));
    CHECK(std::abs(r.outputs.at("w_next").values[e] - want) <=
          8 * u * (std::abs(w) + std::abs(buf) + std::abs(v) + std::abs(g)));
  }
}

TEST_CASE("adamw_update on tiny equals PyTorch's AdamW in float64", "[autodiff][optimizer]") {
  const std::string yaml =
      std::string(kUpdate) +
      "  - {name: u, type: adamw_update, inputs: [w, g, s1, s2], outputs: [w_next, s1_next, "
      "s2_next], attributes: {lr: 0.01, weight_decay: 0.1, step: 3}}\n";
  gr::RunOptions options;
  options.values["w"] = random_matrix(37, 45, 21);
  options.values["g"] = random_matrix(37, 45, 22);
  options.values["s1"] = random_matrix(37, 45, 23);
  Matrix v = random_matrix(37, 45, 24);
  for (float& x : v.values) x = x * x;  // a second moment is not negative
  options.values["s2"] = v;
  const gr::GraphRun r = run_graph_text(yaml, options);
  REQUIRE(r.checked);
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 0.01, wd = 0.1;
  for (size_t e = 0; e < 37 * 45; ++e) {
    const double w = options.values["w"].values[e], g = options.values["g"].values[e];
    // torch.optim.AdamW: decay first, then the moments and the bias-corrected step.
    const double m = b1 * options.values["s1"].values[e] + (1 - b1) * g;
    const double s = b2 * v.values[e] + (1 - b2) * g * g;
    const double denom = std::sqrt(s / (1 - std::pow(b2, 3))) + eps;
    const double step = m / (1 - std::pow(b1, 3)) / denom;
    const double want = w * (1 - lr * wd) - lr * step;
    // Bounds from fp32 roundings (u each): m's two terms may cancel, so its bound is on their
    // sizes; the step has some ten roundings besides m's error.
    const double u = std::ldexp(1.0, -24);
    const double m_terms = std::abs(b1 * options.values["s1"].values[e]) + std::abs((1 - b1) * g);
    CHECK(std::abs(r.outputs.at("s1_next").values[e] - m) <= 4 * u * m_terms);
    CHECK(std::abs(r.outputs.at("s2_next").values[e] - s) <= 6 * u * s);
    const double step_error =
        16 * u * std::abs(step) + 4 * u * m_terms / (1 - std::pow(b1, 3)) / denom;
    CHECK(std::abs(r.outputs.at("w_next").values[e] - want) <=
          4 * u * std::abs(w) + lr * step_error);
  }
}

namespace {

// A linear layer, batchnorm with batch statistics and relu; mean and variance are outputs no op
// reads.
const char* const kBatchNormTrain = R"(version: 1
tensors:
  - {name: x, shape: [2, 12, 40], dtype: fp32, role: input}
  - {name: w, shape: [40, 36], dtype: fp32, role: weight}
  - {name: scale, shape: [36], dtype: fp32, role: weight}
  - {name: bias, shape: [36], dtype: fp32, role: weight}
  - {name: h, shape: [2, 12, 36], dtype: fp32}
  - {name: n, shape: [2, 12, 36], dtype: fp32}
  - {name: mean, shape: [36], dtype: fp32}
  - {name: variance, shape: [36], dtype: fp32}
  - {name: y, shape: [2, 12, 36], dtype: fp32}
ops:
  - {name: fc, type: matmul, inputs: [x, w], outputs: [h]}
  - {name: bn, type: batchnorm_train, inputs: [h, scale, bias], outputs: [n, mean, variance],
     attributes: {epsilon: 0.001}}
  - {name: act, type: relu, inputs: [n], outputs: [y]}
)";

}  // namespace

TEST_CASE("batchnorm_train's backward reads the forward's statistics, which are not the loss",
          "[autodiff]") {
  // Three outputs no op reads (y, mean, variance): the loss is y, the statistics are not
  // candidates.
  const g::Graph b = backward_of(kBatchNormTrain);
  const g::Op& bn = op_in(b, "bn.grad");
  CHECK(bn.type == "batchnorm_train_backward");
  CHECK(bn.inputs == std::vector<std::string>{"grad/n", "h", "scale", "mean", "variance"});
  CHECK(bn.outputs == std::vector<std::string>{"grad/h", "grad/scale", "grad/bias"});
  CHECK(std::get<double>(bn.attributes.at("epsilon")) == 0.001);
  CHECK(b.find_tensor("grad/scale")->role == g::Role::Gradient);
  CHECK_FALSE(b.find_tensor("grad/mean"));

  // A statistic on the way to the loss would need its own gradient: refused, naming the op.
  std::string reads_mean = kBatchNormTrain;
  reads_mean.replace(reads_mean.find("ops:"), 4,
                     "  - {name: z, shape: [2, 12, 36], dtype: fp32}\nops:");
  reads_mean += "  - {name: shift, type: sub, inputs: [y, mean], outputs: [z]}\n";
  const g::Graph f = g::parse_graph_yaml(reads_mean, "bad.graph.yaml");
  g::validate(f);
  try {
    g::with_backward(f, {});
    FAIL("no refusal");
  } catch (const g::GraphError& e) {
    CHECK(std::string(e.what()) ==
          "bad.graph.yaml:15: op 'bn' (batchnorm_train): backward: its output 'mean' is a "
          "statistic batchnorm_train does not differentiate, and the loss 'z' depends on it "
          "through ops that would need its gradient; read only its first output on the way to "
          "the loss");
  }
}

TEST_CASE("a linear layer and batchnorm_train: gradients on tiny equal float64", "[autodiff]") {
  const g::Graph b = backward_of(kBatchNormTrain);
  const g::Analysis a = g::validate(b);
  const hw::HardwareConfig config = tiny();
  gr::RunOptions options;
  options.values["x"] = random_matrix(24, 40, 41);
  options.values["w"] = random_matrix(40, 36, 42);
  options.values["scale"] = random_matrix(1, 36, 43, DType::Fp32, 0.5f, 2);
  options.values["bias"] = random_matrix(1, 36, 44);
  options.values["grad_output"] = random_matrix(24, 36, 45);
  const gr::GraphRun r = gr::run_graph(config, b, a, g::plan_graph(b, a, config), options);
  REQUIRE(r.checked);
  const Matrix &x = options.values["x"], &w = options.values["w"], &scale = options.values["scale"],
               &bias = options.values["bias"], &dy = options.values["grad_output"];
  // float64: h = x w; batch statistics of h; n = x^ scale + bias; g = dy where n > 0;
  // dscale = sum g x^, dbias = sum g, dh = scale rstd (g - mean(g) - x^ mean(g x^)), dw = x^T dh.
  const uint32_t rows = 24, cols = 36;
  std::vector<double> h(rows * cols, 0.0), mean(cols, 0.0), var(cols, 0.0);
  for (uint32_t i = 0; i < rows; ++i)
    for (uint32_t j = 0; j < cols; ++j) {
      for (uint32_t k = 0; k < 40; ++k) h[i * cols + j] += double(x.at(i, k)) * w.at(k, j);
      mean[j] += h[i * cols + j] / rows;
    }
  for (uint32_t i = 0; i < rows; ++i)
    for (uint32_t j = 0; j < cols; ++j) var[j] += std::pow(h[i * cols + j] - mean[j], 2) / rows;
  std::vector<double> xhat(rows * cols), g(rows * cols), dscale(cols, 0.0), dbias(cols, 0.0);
  for (uint32_t i = 0; i < rows; ++i)
    for (uint32_t j = 0; j < cols; ++j) {
      const size_t e = i * cols + j;
      xhat[e] = (h[e] - mean[j]) / std::sqrt(var[j] + double(0.001f));
      g[e] = xhat[e] * scale.values[j] + bias.values[j] > 0 ? dy.values[e] : 0.0;
      dscale[j] += g[e] * xhat[e];
      dbias[j] += g[e];
    }
  std::vector<double> dw(40 * cols, 0.0);
  for (uint32_t i = 0; i < rows; ++i)
    for (uint32_t j = 0; j < cols; ++j) {
      const size_t e = i * cols + j;
      const double dh = scale.values[j] / std::sqrt(var[j] + double(0.001f)) *
                        (g[e] - dbias[j] / rows - xhat[e] * dscale[j] / rows);
      for (uint32_t k = 0; k < 40; ++k) dw[k * cols + j] += double(x.at(i, k)) * dh;
    }
  const auto largest = [](const std::vector<double>& v) {
    double m = 0;
    for (double d : v) m = std::max(m, std::abs(d));
    return m;
  };
  const auto require_near = [&](const char* name, const std::vector<double>& want) {
    const Matrix& got = r.outputs.at(name);
    REQUIRE(got.values.size() == want.size());
    const double tolerance = 1e-4 * largest(want);
    for (size_t e = 0; e < want.size(); ++e)
      if (!(std::abs(got.values[e] - want[e]) <= tolerance))
        FAIL(fmt::format("{}[{}] = {}, float64 {}", name, e, got.values[e], want[e]));
  };
  require_near("grad/scale", dscale);
  require_near("grad/bias", dbias);
  require_near("grad/w", dw);
}

// ---- dynamic loss scaling -------------------------------------------------------------------

TEST_CASE("dynamic loss scaling: the step's scale, checks, unscaling factor and state",
          "[autodiff][loss_scale]") {
  const g::Graph f = g::parse_graph_yaml(kChain, "test.graph.yaml");
  g::validate(f);
  g::BackwardOptions b;
  b.dynamic = g::parse_loss_scale("dynamic:init=1024,interval=7").dynamic;
  const g::Graph t = g::training_step(f, b, g::parse_optimizer("sgd:lr=0.1"));
  g::validate(t);
  // The backward starts from d loss times the scale, a tensor (grad_output's here).
  const g::Op& seed = op_in(t, "y.loss_scale");
  CHECK(seed.type == "cast");
  CHECK(seed.inputs == std::vector<std::string>{"grad_output", "state/loss_scale"});
  for (const char* s : {"state/loss_scale", "state/loss_scale_good_steps"}) {
    CHECK(t.find_tensor(s)->role == g::Role::OptimizerState);
    CHECK(t.find_tensor(s)->shape.empty());
    CHECK(t.find_tensor(std::string("next/") + s));
  }
  CHECK(op_in(t, "w1.check").type == "sub");
  CHECK(op_in(t, "w1.check_sum").outputs[0] == "check/w1");
  const g::Op& unscale = op_in(t, "loss_scale.unscale");
  CHECK(unscale.inputs == std::vector<std::string>{"check", "state/loss_scale"});
  // Every update waits for every check and takes the factor last.
  const auto index = [&](const std::string& name) {
    for (size_t i = 0; i < t.ops.size(); ++i)
      if (t.ops[i].name == name) return i;
    return t.ops.size();
  };
  CHECK(index("w2.check_sum") < index("loss_scale.unscale"));
  CHECK(index("loss_scale.unscale") < index("w1.update"));
  CHECK(op_in(t, "w1.update").inputs.back() == "loss_scale/unscale");
  const g::Op& update = t.ops.back();
  CHECK(update.type == "loss_scale_update");
  CHECK(update.outputs ==
        std::vector<std::string>{"next/state/loss_scale", "next/state/loss_scale_good_steps"});
  CHECK(std::get<int64_t>(update.attributes.at("interval")) == 7);
  CHECK(std::get<double>(update.attributes.at("growth")) == 2.0);

  const auto refusal = [](const std::string& text) {
    try {
      g::parse_loss_scale(text);
    } catch (const g::GraphError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(g::parse_loss_scale("8").scale == 8);
  CHECK(g::parse_loss_scale("dynamic").dynamic->init == 65536);
  CHECK(refusal("dynamic:scale=2") ==
        "--loss-scale dynamic: 'scale=2': expected KEY=VALUE with KEY one of init, growth, "
        "backoff, interval");
  CHECK(refusal("dynamic:interval=2.5") ==
        "--loss-scale dynamic: interval=2.5: expected a whole number from 1 to 8388608 "
        "(default 2000)");
  CHECK(refusal("dynamic:init=1e39") ==
        "--loss-scale dynamic: init=1e39: expected a positive number that fp32 holds "
        "(PyTorch's default 65536)");
  CHECK(refusal("big") ==
        "--loss-scale big: expected a positive finite number, or "
        "dynamic[:init=..][,growth=..][,backoff=..][,interval=..]");
}

namespace {
// An sgd_update with an unscaling factor: the update of w, g x factor, s1.
gr::GraphRun unscaled_update(float factor, gr::RunOptions& options) {
  std::string text = std::string(kUpdate) +
                     "  - {name: u, type: sgd_update, inputs: [w, g, s1, f], outputs: [w_next, "
                     "s1_next], attributes: {lr: 0.05, momentum: 0.9}}\n"
                     "  - {name: keep, type: add, inputs: [s2, s2], outputs: [s2_next]}\n";
  text.insert(text.find("ops:\n"), "  - {name: f, shape: [], dtype: fp32, role: input}\n");
  options.values["w"] = random_matrix(37, 45, 31);
  options.values["g"] = random_matrix(37, 45, 32);
  options.values["s1"] = random_matrix(37, 45, 33);
  options.values["s2"] = random_matrix(37, 45, 34);
  options.values["w"].values[5] = -0.0f;  // kept bit for bit, sign and all
  options.values["s1"].values[7] = -0.0f;
  options.values["g"].values[9] = INFINITY;  // an overflowed gradient
  Matrix m(1, 1);
  m.values[0] = factor;
  options.values["f"] = m;
  return run_graph_text(text, options);
}
}  // namespace

TEST_CASE("an update whose unscaling factor is NaN keeps w and its state bit for bit",
          "[autodiff][loss_scale]") {
  gr::RunOptions options;
  const gr::GraphRun r = unscaled_update(NAN, options);
  REQUIRE(r.checked);
  const auto same = [](const Matrix& a, const Matrix& b) {
    return std::equal(a.values.begin(), a.values.end(), b.values.begin(),
                      [](float x, float y) { return std::memcmp(&x, &y, sizeof x) == 0; });
  };
  CHECK(same(r.outputs.at("w_next"), options.values["w"]));
  CHECK(same(r.outputs.at("s1_next"), options.values["s1"]));
  CHECK(std::signbit(r.outputs.at("w_next").values[5]));
}

TEST_CASE("an update with a finite unscaling factor updates from the gradient times it",
          "[autodiff][loss_scale]") {
  gr::RunOptions options;
  const gr::GraphRun r = unscaled_update(0.25f, options);  // the run checks it bit for bit
  REQUIRE(r.checked);
  const double w = options.values["w"].values[0], g = options.values["g"].values[0],
               v = options.values["s1"].values[0];
  const double buf = 0.9 * v + 0.25 * g;
  CHECK(std::abs(r.outputs.at("w_next").values[0] - (w - 0.05 * buf)) <= 1e-6);
  CHECK(std::isinf(r.outputs.at("s1_next").values[9]));  // the Inf goes through, unchecked
}
