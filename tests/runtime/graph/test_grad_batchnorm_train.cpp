// SPDX-License-Identifier: MIT
// batchnorm_train (batch statistics) and batchnorm_train_backward in graph runs on tiny: each run
// checks every op's outputs against the host reference bit for bit and within its float64 bound
// (runtime/ops/batchnorm_train.h); these tests also compare the outputs with float64 values
// computed here from the same inputs, in fp32 and bf16, on [2, 5, 7, 40] whose 70 rows lie on
// several nodes (the sums over rows cross nodes); one row; then the refusals. One machine per
// process: one run per test case.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "runtime/graph/io.h"
#include "runtime/graph/run/run.h"
#include "runtime/graph/validate.h"
#include "runtime/ops/image.h"
#include "tests/runtime/graph/graph_run_helpers.h"

using namespace dojosim;
using namespace dojosim::runtime;
namespace g = dojosim::runtime::graph;
namespace gr = dojosim::runtime::graph_run;
using namespace dojosim::test_graph;

namespace {

constexpr uint32_t kRows = 70, kCols = 40;
constexpr double kEps = double(0.001f);

std::string with_dtype(std::string yaml, const std::string& dtype) {
  for (size_t at = yaml.find("dtype: T"); at != std::string::npos; at = yaml.find("dtype: T"))
    yaml.replace(at + 7, 1, dtype);
  return yaml;
}

// The rows lie on more than one node, so the sums over them cross nodes.
void require_rows_over_nodes(DType dtype) {
  const ops::RowSplit s = ops::split_image(tiny(), dtype, {1, kRows, 1, kCols});
  REQUIRE(s.blocks() / s.col_parts > 1);
}

// |got - want| within rel |want| + abs, element by element.
void require_close(const Matrix& got, const std::vector<double>& want, double rel, double abs,
                   const std::string& what) {
  REQUIRE(got.values.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::fabs(got.values[i] - want[i]) <= rel * std::fabs(want[i]) + abs))
      FAIL(fmt::format("{}[{}] = {}, float64 {}", what, i, got.values[i], want[i]));
}

// The batch statistics of x (rows x cols) in double: mean, biased variance.
std::pair<std::vector<double>, std::vector<double>> statistics(const Matrix& x) {
  std::vector<double> mean(x.cols, 0.0), var(x.cols, 0.0);
  for (uint32_t r = 0; r < x.rows; ++r)
    for (uint32_t c = 0; c < x.cols; ++c) mean[c] += x.at(r, c);
  for (double& m : mean) m /= x.rows;
  for (uint32_t r = 0; r < x.rows; ++r)
    for (uint32_t c = 0; c < x.cols; ++c) var[c] += std::pow(x.at(r, c) - mean[c], 2);
  for (double& v : var) v /= x.rows;
  return {mean, var};
}

const char* const kForward = R"(version: 1
tensors:
  - {name: x, shape: [2, 5, 7, 40], dtype: T, role: input}
  - {name: scale, shape: [40], dtype: T, role: weight}
  - {name: bias, shape: [40], dtype: T, role: weight}
  - {name: y, shape: [2, 5, 7, 40], dtype: T}
  - {name: mean, shape: [40], dtype: T}
  - {name: variance, shape: [40], dtype: T}
ops:
  - {name: bn, type: batchnorm_train, inputs: [x, scale, bias], outputs: [y, mean, variance],
     attributes: {epsilon: 0.001}}
)";

// batchnorm_train on x [2, 5, 7, 40] (an offset of 2 and channels of different spreads) against
// its formulas in double; rel is the dtype's tolerance on y (relative to |y - bias| + |bias|).
void forward(const std::string& dtype_text, DType dtype, double rel) {
  require_rows_over_nodes(dtype);
  gr::RunOptions options;
  Matrix x = random_matrix(kRows, kCols, 11, dtype, -1, 1);
  for (uint32_t r = 0; r < kRows; ++r)
    for (uint32_t c = 0; c < kCols; ++c)
      x.at(r, c) = quantize(dtype, 2 + x.at(r, c) * float(1 + c % 5), {});
  const Matrix scale = random_matrix(1, kCols, 12, dtype, -2, 2),
               bias = random_matrix(1, kCols, 13, dtype, -1, 1);
  options.values = {{"x", x}, {"scale", scale}, {"bias", bias}};
  const gr::GraphRun r = run_graph_text(with_dtype(kForward, dtype_text), options);
  REQUIRE(r.checked);
  CHECK(op_named(r, "bn").how == "simd rows, sums over rows");
  const auto [mean, var] = statistics(x);
  std::vector<double> y, magnitude;
  for (uint32_t row = 0; row < kRows; ++row)
    for (uint32_t c = 0; c < kCols; ++c) {
      const double n = (x.at(row, c) - mean[c]) / std::sqrt(var[c] + kEps) * scale.values[c];
      y.push_back(n + bias.values[c]);
    }
  require_close(r.outputs.at("mean"), mean, rel, 0, "mean");
  require_close(r.outputs.at("variance"), var, 4 * rel, 0, "variance");
  for (size_t i = 0; i < y.size(); ++i) {
    const double want = y[i], b = bias.values[i % kCols];
    // y's error comes from x - mean (about the mean's error times rstd), the variance and y's
    // own rounding; bounded by rel of |y - bias| + |bias| and of |mean| rstd |scale|.
    const size_t c = i % kCols;
    const double spread =
        std::fabs(scale.values[c]) * std::fabs(mean[c]) / std::sqrt(var[c] + kEps);
    if (!(std::fabs(r.outputs.at("y").values[i] - want) <=
          rel * (4 * std::fabs(want - b) + std::fabs(b) + 2 * spread)))
      FAIL(fmt::format("y[{}] = {}, float64 {}", i, r.outputs.at("y").values[i], want));
  }
}

const char* const kBackward = R"(version: 1
tensors:
  - {name: dy, shape: [2, 5, 7, 40], dtype: T, role: input}
  - {name: x, shape: [2, 5, 7, 40], dtype: T, role: input}
  - {name: scale, shape: [40], dtype: T, role: weight}
  - {name: mean, shape: [40], dtype: T, role: input}
  - {name: variance, shape: [40], dtype: T, role: input}
  - {name: dx, shape: [2, 5, 7, 40], dtype: T}
  - {name: dscale, shape: [40], dtype: T}
  - {name: dbias, shape: [40], dtype: T}
ops:
  - name: bn
    type: batchnorm_train_backward
    inputs: [dy, x, scale, mean, variance]
    outputs: [dx, dscale, dbias]
    attributes: {epsilon: 0.001}
)";

// batchnorm_train_backward with x's own batch statistics (rounded to the dtype, as the forward
// gives them) against the formulas in double; sums compared relative to the sums of |terms|.
void backward(const std::string& dtype_text, DType dtype, double rel) {
  require_rows_over_nodes(dtype);
  gr::RunOptions options;
  const Matrix dy = random_matrix(kRows, kCols, 21, dtype, -1, 1),
               x = random_matrix(kRows, kCols, 22, dtype, -3, 3),
               scale = random_matrix(1, kCols, 23, dtype, -2, 2);
  const auto [m, v] = statistics(x);
  Matrix mean(1, kCols), variance(1, kCols);
  for (uint32_t c = 0; c < kCols; ++c)
    mean.values[c] = quantize(dtype, float(m[c]), {}),
    variance.values[c] = quantize(dtype, float(v[c]), {});
  options.values = {{"dy", dy}, {"x", x}, {"scale", scale}, {"mean", mean}, {"variance", variance}};
  const gr::GraphRun r = run_graph_text(with_dtype(kBackward, dtype_text), options);
  REQUIRE(r.checked);
  CHECK(op_named(r, "bn").how == "simd rows, sums over rows");
  // float64 from the same inputs: x^ = (x - mean) rstd with the given mean and variance.
  std::vector<double> dscale(kCols, 0.0), dbias(kCols, 0.0), dscale_abs(kCols, 0.0),
      dbias_abs(kCols, 0.0);
  const auto rstd = [&](uint32_t c) { return 1 / std::sqrt(double(variance.values[c]) + kEps); };
  const auto x_hat = [&](uint32_t row, uint32_t c) {
    return (x.at(row, c) - double(mean.values[c])) * rstd(c);
  };
  for (uint32_t row = 0; row < kRows; ++row)
    for (uint32_t c = 0; c < kCols; ++c) {
      dscale[c] += dy.at(row, c) * x_hat(row, c);
      dscale_abs[c] += std::fabs(dy.at(row, c) * x_hat(row, c));
      dbias[c] += dy.at(row, c);
      dbias_abs[c] += std::fabs(dy.at(row, c));
    }
  for (uint32_t c = 0; c < kCols; ++c) {
    CHECK(std::fabs(r.outputs.at("dscale").values[c] - dscale[c]) <=
          rel * (4 * dscale_abs[c] + std::fabs(dscale[c])));
    CHECK(std::fabs(r.outputs.at("dbias").values[c] - dbias[c]) <=
          rel * (dbias_abs[c] + std::fabs(dbias[c])));
  }
  for (uint32_t row = 0; row < kRows; ++row)
    for (uint32_t c = 0; c < kCols; ++c) {
      const double a = scale.values[c] * rstd(c);
      const double want =
          a * (dy.at(row, c) - dbias[c] / kRows - x_hat(row, c) * dscale[c] / kRows);
      const double terms = std::fabs(a) * (std::fabs(dy.at(row, c)) + dbias_abs[c] / kRows +
                                           std::fabs(x_hat(row, c)) * dscale_abs[c] / kRows);
      const double got = r.outputs.at("dx").at(row, c);
      if (!(std::fabs(got - want) <= rel * 8 * terms))
        FAIL(fmt::format("dx[{}, {}] = {}, float64 {}", row, c, got, want));
    }
}

}  // namespace

TEST_CASE("batchnorm_train in fp32: y, mean and variance as their float64 formulas",
          "[grad][batchnorm_train]") {
  forward("fp32", DType::Fp32, 1e-5);
}

TEST_CASE("batchnorm_train in bf16: y, mean and variance as their float64 formulas",
          "[grad][batchnorm_train]") {
  forward("bf16", DType::Bf16, std::ldexp(1.0, -7));
}

TEST_CASE("batchnorm_train_backward in fp32: dx, dscale and dbias as their float64 formulas",
          "[grad][batchnorm_train]") {
  backward("fp32", DType::Fp32, 1e-6);
}

TEST_CASE("batchnorm_train_backward in bf16: dx, dscale and dbias as their float64 formulas",
          "[grad][batchnorm_train]") {
  backward("bf16", DType::Bf16, std::ldexp(1.0, -7));
}

TEST_CASE("batchnorm_train of one row: mean x, variance 0, y the bias up to rounding",
          "[grad][batchnorm_train]") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [1, 24], dtype: fp32, role: input}
  - {name: scale, shape: [24], dtype: fp32, role: weight}
  - {name: bias, shape: [24], dtype: fp32, role: weight}
  - {name: y, shape: [1, 24], dtype: fp32}
  - {name: mean, shape: [24], dtype: fp32}
  - {name: variance, shape: [24], dtype: fp32}
ops:
  - {name: bn, type: batchnorm_train, inputs: [x, scale, bias], outputs: [y, mean, variance]}
)";
  gr::RunOptions options;
  const Matrix x = random_matrix(1, 24, 31), scale = random_matrix(1, 24, 32),
               bias = random_matrix(1, 24, 33);
  options.values = {{"x", x}, {"scale", scale}, {"bias", bias}};
  const gr::GraphRun r = run_graph_text(yaml, options);
  REQUIRE(r.checked);
  // y = fma(x, a, fma(-mean, a), bias) with a = scale / sqrt(eps): the bias up to the roundings
  // of b and y, of the size of x a.
  const double u = std::ldexp(1.0, -24);
  for (uint32_t c = 0; c < 24; ++c) {
    CHECK(r.outputs.at("mean").values[c] == x.values[c]);
    CHECK(r.outputs.at("variance").values[c] == 0.0f);
    const double xa = std::fabs(x.values[c] * scale.values[c]) / std::sqrt(double(1e-5f));
    CHECK(std::fabs(r.outputs.at("y").values[c] - bias.values[c]) <=
          4 * u * (xa + std::fabs(bias.values[c])));
  }
}

TEST_CASE("batchnorm_train and its backward refuse bad input in one line naming the op",
          "[grad][batchnorm_train]") {
  const auto refusal = [](const std::string& yaml) {
    try {
      const g::Graph graph = g::parse_graph_yaml(yaml, "test.graph.yaml");
      gr::check_runnable(graph, g::validate(graph));
    } catch (const g::GraphError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const auto forward_graph = [](const std::string& x_decl, const std::string& scale,
                                const std::string& y, const std::string& attributes) {
    return "version: 1\ntensors:\n  - {name: x, " + x_decl + ", role: input}\n  - {name: s, " +
           scale + ", role: weight}\n  - {name: b, shape: [8], dtype: fp32, role: weight}\n" +
           "  - {name: y, " + y + "}\n  - {name: m, shape: [8], dtype: fp32}\n" +
           "  - {name: v, shape: [8], dtype: fp32}\nops:\n" +
           "  - {name: bn, type: batchnorm_train, inputs: [x, s, b], outputs: [y, m, v]" +
           attributes + "}\n";
  };
  const std::string x = "shape: [4, 3, 8], dtype: fp32", s = "shape: [8], dtype: fp32";
  CHECK(refusal(forward_graph(x, s, x, "")).empty());
  CHECK(refusal(forward_graph(x, s, x, ", attributes: {epsilon: 0}")) ==
        "test.graph.yaml:10: op 'bn' (batchnorm_train): epsilon = 0: expected more than 0");
  CHECK(refusal(forward_graph(x, s, x, ", attributes: {epsilon: -0.001}")) ==
        "test.graph.yaml:10: op 'bn' (batchnorm_train): epsilon = -0.001: expected more than 0");
  CHECK(refusal(forward_graph(x, "shape: [4], dtype: fp32", x, "")) ==
        "test.graph.yaml:10: op 'bn' (batchnorm_train): scale 's' [4] should be [8], the last "
        "axis of 'x'");
  CHECK(refusal(forward_graph(x, "shape: [8, 1], dtype: fp32", x, "")) ==
        "test.graph.yaml:10: op 'bn' (batchnorm_train): scale 's' [8, 1] should be [8], the last "
        "axis of 'x'");
  CHECK(refusal(forward_graph(x, s, "shape: [4, 3, 8], dtype: bf16", "")) ==
        "test.graph.yaml:10: op 'bn' (batchnorm_train): output 'y' is bf16; batchnorm_train keeps "
        "the dtype of its input (fp32)");
  // The backward: dy and x in one dtype; dscale and dbias in scale's, which is dy's.
  const auto backward_graph = [](const std::string& x_decl, const std::string& scale) {
    return "version: 1\ntensors:\n  - {name: dy, shape: [4, 8], dtype: fp32, role: input}\n"
           "  - {name: x, " +
           x_decl + ", role: input}\n  - {name: s, " + scale +
           ", role: weight}\n  - {name: m, shape: [8], dtype: fp32, role: input}\n"
           "  - {name: v, shape: [8], dtype: fp32, role: input}\n"
           "  - {name: dx, shape: [4, 8], dtype: fp32}\n  - {name: ds, " +
           scale + "}\n  - {name: db, " + scale +
           "}\nops:\n  - {name: bt, type: batchnorm_train_backward, inputs: [dy, x, s, m, v], "
           "outputs: [dx, ds, db]}\n";
  };
  CHECK(refusal(backward_graph("shape: [4, 8], dtype: fp32", s)).empty());
  CHECK(refusal(backward_graph("shape: [4, 8], dtype: bf16", s)) ==
        "test.graph.yaml:12: op 'bt' (batchnorm_train_backward): x 'x' is bf16 and dy 'dy' fp32: "
        "a run takes them in one dtype (a conversion in the op is not run yet)");
  CHECK(refusal(backward_graph("shape: [4, 8], dtype: fp32", "shape: [8], dtype: bf16")) ==
        "test.graph.yaml:12: op 'bt' (batchnorm_train_backward): scale 's' is bf16 and dy 'dy' "
        "fp32: a run gives dscale and dbias dy's dtype, or fp32 for a bf16 dy "
        "(batchnorm_backward; a conversion in the op is not run otherwise)");
  CHECK(refusal(backward_graph("shape: [4, 9], dtype: fp32", s)) ==
        "test.graph.yaml:12: op 'bt' (batchnorm_train_backward): input 'x' [4, 9] should have "
        "the shape of dy 'dy' [4, 8]");
}
