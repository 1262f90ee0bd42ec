// SPDX-License-Identifier: MIT
// The backward row ops in graph runs on tiny (softmax_backward, layernorm_backward,
// rmsnorm_backward, softmax_cross_entropy_backward): run_graph() checks every output bit for bit
// against the host reference and within its float64 bound; these tests also compare the outputs
// with the gradients computed here in double from the same inputs, rows on one node and rows
// over several nodes, fp32 and bf16; and the refusals. One run_graph() per test case.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>

#include "hw/config/config_io.h"
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

gr::GraphRun run(const std::string& yaml, const gr::RunOptions& options) {
  const hw::HardwareConfig config = tiny();
  const g::Graph graph = g::parse_graph_yaml(yaml, "test.graph.yaml");
  const g::Analysis a = g::validate(graph);
  const g::Plan p = g::plan_graph(graph, a, config);
  gr::GraphRun r = gr::run_graph(config, graph, a, p, options);
  CHECK(r.checked);
  // Fewer rows than tiny's 16 nodes: each row over several (the last op is the gradient's).
  const int64_t rows = graph.find_tensor(graph.ops.back().outputs[0])->shape[0];
  if (rows < 16) CHECK_THAT(r.ops.back().how, Catch::Contains("nodes per row"));
  if (rows >= 16) CHECK(r.ops.back().how == "simd rows");
  return r;
}

// Every element of the graph's output within `rel` of the double value (and `abs` near 0).
void require_close(const gr::GraphRun& r, const std::string& name, const Matrix& want, double rel,
                   double abs) {
  REQUIRE(r.outputs.count(name));
  const Matrix& got = r.outputs.at(name);
  REQUIRE(got.rows * got.cols == want.rows * want.cols);
  for (size_t i = 0; i < want.values.size(); ++i) {
    INFO(fmt::format("{}: element {}", name, i));
    REQUIRE(got.values[i] == Approx(want.values[i]).epsilon(rel).margin(abs));
  }
}

const char* dtype_of(DType t) {
  return t == DType::Bf16 ? "bf16" : "fp32";
}
// Tolerances against the double gradient: fp32 computes and stores in fp32; bf16 stores dx in
// bf16 (8 bits).
double rel_of(DType t) {
  return t == DType::Bf16 ? 1.0 / 64 : 1e-4;
}

// ---- softmax_backward after a (causal) softmax ----------------------------------------------

void softmax_grad(uint32_t rows, uint32_t cols, DType dtype, bool causal) {
  const float scale = 0.5f;
  const std::string t = dtype_of(dtype), shape = fmt::format("[{}, {}]", rows, cols);
  const std::string yaml = fmt::format(
      "version: 1\ntensors:\n"
      "  - {{name: x, shape: {0}, dtype: {1}, role: input}}\n"
      "  - {{name: dy, shape: {0}, dtype: {1}, role: input}}\n"
      "  - {{name: y, shape: {0}, dtype: {1}}}\n"
      "  - {{name: dx, shape: {0}, dtype: {1}}}\nops:\n"
      "  - {{name: sm, type: softmax, inputs: [x], outputs: [y],"
      " attributes: {{scale: 0.5, causal: {2}}}}}\n"
      "  - {{name: smb, type: softmax_backward, inputs: [dy, y], outputs: [dx],"
      " attributes: {{scale: 0.5}}}}\n",
      shape, t, causal ? "true" : "false");
  gr::RunOptions options;
  options.values["x"] = random_matrix(rows, cols, 1, dtype, -3.0f, 3.0f);
  options.values["dy"] = random_matrix(rows, cols, 2, dtype);
  // y from x in double (its fp32 / bf16 rounding is inside the tolerance), then dx.
  Matrix want(rows, cols);
  for (uint32_t r = 0; r < rows; ++r) {
    const uint32_t visible = causal ? r + cols - rows + 1 : cols;
    std::vector<double> y(cols, 0.0);
    double mx = -INFINITY, sum = 0, dot = 0;
    for (uint32_t c = 0; c < visible; ++c)
      mx = std::max(mx, double(scale) * options.values["x"].at(r, c));
    for (uint32_t c = 0; c < visible; ++c)
      sum += std::exp(scale * options.values["x"].at(r, c) - mx);
    for (uint32_t c = 0; c < visible; ++c)
      y[c] = std::exp(scale * options.values["x"].at(r, c) - mx) / sum;
    for (uint32_t c = 0; c < cols; ++c) dot += options.values["dy"].at(r, c) * y[c];
    for (uint32_t c = 0; c < cols; ++c)
      want.at(r, c) = float(scale * y[c] * (options.values["dy"].at(r, c) - dot));
  }
  const gr::GraphRun r = run(yaml, options);
  require_close(r, "dx", want, 2 * rel_of(dtype), dtype == DType::Bf16 ? 1e-3 : 1e-6);
}

}  // namespace

TEST_CASE("softmax_backward after a causal softmax: a row per node, fp32, equals double") {
  softmax_grad(16, 24, DType::Fp32, true);
}

TEST_CASE("softmax_backward of bf16 rows over several nodes equals double") {
  softmax_grad(2, 300, DType::Bf16, false);
}

namespace {

// ---- layernorm_backward and rmsnorm_backward ------------------------------------------------

void norm_grad(bool layer, uint32_t rows, uint32_t cols, DType dtype) {
  const std::string t = dtype_of(dtype), shape = fmt::format("[{}, {}]", rows, cols);
  const double eps = layer ? 1e-5 : 1e-6;
  const std::string yaml = fmt::format(
      "version: 1\ntensors:\n"
      "  - {{name: dy, shape: {0}, dtype: {1}, role: input}}\n"
      "  - {{name: x, shape: {0}, dtype: {1}, role: input}}\n"
      "  - {{name: gamma, shape: [{2}], dtype: {1}, role: weight}}\n"
      "  - {{name: dx, shape: {0}, dtype: {1}}}\n"
      "  - {{name: dgamma, shape: [{2}], dtype: {1}}}\n"
      "{3}ops:\n"
      "  - {{name: back, type: {4}, inputs: [dy, x, gamma], outputs: [dx, dgamma{5}]}}\n",
      shape, t, cols,
      layer ? fmt::format("  - {{name: dbeta, shape: [{}], dtype: {}}}\n", cols, t) : "",
      layer ? "layernorm_backward" : "rmsnorm_backward", layer ? ", dbeta" : "");
  gr::RunOptions options;
  const Matrix dy = random_matrix(rows, cols, 3, dtype),
               x = random_matrix(rows, cols, 4, dtype, -2.0f, 2.0f),
               gamma = random_matrix(1, cols, 5, dtype);
  options.values = {{"dy", dy}, {"x", x}, {"gamma", gamma}};
  Matrix dx(rows, cols), dgamma(1, cols), dbeta(1, cols);
  std::vector<double> dg(cols, 0.0), db(cols, 0.0);
  for (uint32_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0, sq = 0;
    for (uint32_t c = 0; c < cols; ++c) mean += x.at(r, c) / double(cols);
    for (uint32_t c = 0; c < cols; ++c) {
      var += (x.at(r, c) - mean) * (x.at(r, c) - mean) / cols;
      sq += double(x.at(r, c)) * x.at(r, c) / cols;
    }
    // layernorm: dx = r/D (D g - sum g - xhat sum g xhat); rmsnorm: dx = r g - x r^3 mean(g x).
    const double rs = 1 / std::sqrt((layer ? var : sq) + eps);
    double sum_g = 0, sum_gx = 0;
    for (uint32_t c = 0; c < cols; ++c) {
      const double g = double(dy.at(r, c)) * gamma.values[c];
      const double xh = layer ? (x.at(r, c) - mean) * rs : double(x.at(r, c));
      sum_g += g, sum_gx += g * xh;
    }
    for (uint32_t c = 0; c < cols; ++c) {
      const double g = double(dy.at(r, c)) * gamma.values[c];
      if (layer) {
        const double xh = (x.at(r, c) - mean) * rs;
        dx.at(r, c) = float(rs / cols * (cols * g - sum_g - xh * sum_gx));
        dg[c] += dy.at(r, c) * xh, db[c] += dy.at(r, c);
      } else {
        dx.at(r, c) = float(rs * g - x.at(r, c) * rs * rs * rs * sum_gx / cols);
        dg[c] += dy.at(r, c) * x.at(r, c) * rs;
      }
    }
  }
  for (uint32_t c = 0; c < cols; ++c)
    dgamma.values[c] = float(dg[c]), dbeta.values[c] = float(db[c]);
  const gr::GraphRun r = run(yaml, options);
  // dx's terms cancel (its sum over a row is 0 for layernorm): a margin of the row's scale.
  const double abs = dtype == DType::Bf16 ? 0.05 : 1e-4;
  require_close(r, "dx", dx, rel_of(dtype), abs);
  require_close(r, "dgamma", dgamma, rel_of(dtype), abs * rows);
  if (layer) require_close(r, "dbeta", dbeta, rel_of(dtype), abs * rows);
}

}  // namespace

TEST_CASE("layernorm_backward: rows on one node (37 rows on 16 nodes), fp32, equals double") {
  norm_grad(true, 37, 45, DType::Fp32);
}

TEST_CASE("layernorm_backward: bf16 rows over several nodes equals double") {
  norm_grad(true, 3, 200, DType::Bf16);
}

TEST_CASE("rmsnorm_backward: rows on one node, bf16, equals double") {
  norm_grad(false, 37, 45, DType::Bf16);
}

TEST_CASE("rmsnorm_backward: fp32 rows over several nodes equals double") {
  norm_grad(false, 3, 200, DType::Fp32);
}

namespace {

// ---- softmax_cross_entropy_backward ---------------------------------------------------------

void loss_grad(uint32_t rows, uint32_t cols, DType dtype, const std::string& reduction,
               float scale) {
  const std::string t = dtype_of(dtype);
  const std::string yaml = fmt::format(
      "version: 1\ntensors:\n"
      "  - {{name: logits, shape: [{0}, {1}], dtype: {2}, role: input}}\n"
      "  - {{name: labels, shape: [{0}], dtype: int32, role: input}}\n"
      "  - {{name: dlogits, shape: [{0}, {1}], dtype: {2}}}\nops:\n"
      "  - {{name: back, type: softmax_cross_entropy_backward, inputs: [logits, labels],"
      " outputs: [dlogits], attributes: {{reduction: {3}, scale: {4}}}}}\n",
      rows, cols, t, reduction, scale);
  gr::RunOptions options;
  const Matrix logits = random_matrix(rows, cols, 6, dtype, -4.0f, 4.0f);
  Matrix labels(1, rows);
  for (uint32_t r = 0; r < rows; ++r) labels.values[r] = float((r * 37 + 5) % cols);
  options.values = {{"logits", logits}, {"labels", labels}};
  Matrix want(rows, cols);
  const double factor = reduction == "mean" ? scale / double(rows) : scale;
  for (uint32_t r = 0; r < rows; ++r) {
    double mx = -INFINITY, sum = 0;
    for (uint32_t c = 0; c < cols; ++c) mx = std::max(mx, double(logits.at(r, c)));
    for (uint32_t c = 0; c < cols; ++c) sum += std::exp(logits.at(r, c) - mx);
    for (uint32_t c = 0; c < cols; ++c)
      want.at(r, c) = float(factor * (std::exp(logits.at(r, c) - mx) / sum -
                                      (c == uint32_t(labels.values[r]) ? 1.0 : 0.0)));
  }
  const gr::GraphRun r = run(yaml, options);
  require_close(r, "dlogits", want, rel_of(dtype), 1e-6 * factor);
}

}  // namespace

TEST_CASE("softmax_cross_entropy_backward: the mean over rows on one node, fp32, equals double") {
  loss_grad(37, 45, DType::Fp32, "mean", 1.0f);
}

TEST_CASE("softmax_cross_entropy_backward: the sum, scaled, bf16 rows over 8 nodes") {
  loss_grad(2, 300, DType::Bf16, "sum", 2.0f);
}

TEST_CASE("A backward row op whose dy and x differ in dtype is refused before the run") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: dy, shape: [4, 8], dtype: fp32, role: input}
  - {name: x, shape: [4, 8], dtype: bf16, role: input}
  - {name: gamma, shape: [8], dtype: bf16, role: weight}
  - {name: dx, shape: [4, 8], dtype: fp32}
  - {name: dgamma, shape: [8], dtype: fp32}
ops:
  - {name: back, type: rmsnorm_backward, inputs: [dy, x, gamma], outputs: [dx, dgamma]}
)";
  const g::Graph graph = g::parse_graph_yaml(yaml, "test.graph.yaml");
  const g::Analysis a = g::validate(graph);
  CHECK_THROWS_WITH(gr::check_runnable(graph, a),
                    "test.graph.yaml:9: op 'back' (rmsnorm_backward): dy 'dy' is fp32 and 'x' "
                    "bf16: a run takes them in one dtype");
}

TEST_CASE("dgamma and dbeta reach the ops that read them in their own layout, bit-exact") {
  // bf16 rows over 3 nodes each; fp32 sums, read by an add (a [300] vector in its home layout).
  const std::string yaml = R"(version: 1
tensors:
  - {name: dy, shape: [5, 300], dtype: bf16, role: input}
  - {name: x, shape: [5, 300], dtype: bf16, role: input}
  - {name: gamma, shape: [300], dtype: bf16, role: weight}
  - {name: dx, shape: [5, 300], dtype: bf16}
  - {name: dgamma, shape: [300], dtype: fp32}
  - {name: dbeta, shape: [300], dtype: fp32}
  - {name: s, shape: [300], dtype: fp32}
ops:
  - {name: back, type: layernorm_backward, inputs: [dy, x, gamma], outputs: [dx, dgamma, dbeta]}
  - {name: sum, type: add, inputs: [dgamma, dbeta], outputs: [s]}
)";
  const gr::GraphRun r = run(yaml, {});
  CHECK(r.ops[0].how == "simd rows, 3 nodes per row");
  CHECK(r.ops[0].moves.cycles > 0);  // the sums' moves into their layout
  REQUIRE(r.outputs.count("s"));
}

TEST_CASE("Labels of the loss's gradient outside 0 to C - 1 are refused before the run") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [4, 10], dtype: fp32, role: input}
  - {name: labels, shape: [4], dtype: int32, role: input}
  - {name: dx, shape: [4, 10], dtype: fp32}
ops:
  - {name: back, type: softmax_cross_entropy_backward, inputs: [x, labels], outputs: [dx]}
)";
  gr::RunOptions options;
  Matrix labels(1, 4);
  labels.values = {0, 9, 10, 3};
  options.values["labels"] = labels;
  CHECK_THROWS_WITH(run(yaml, options),
                    "test.graph.yaml:4: tensor 'labels' (labels of op 'back'): label 10 at row 2 "
                    "is out of range: expected 0 <= label < C = 10");
}
