// SPDX-License-Identifier: MIT
// The backward ops of activations, reductions and batchnorm in graph runs on tiny
// (relu_backward, gelu_backward, silu_backward, scale, reduce_sum, batchnorm_backward): each run
// checks every op's outputs against the host reference bit for bit and within its float64 bound;
// these tests also compare the outputs with float64 values computed here from the same inputs,
// on shapes that do not divide the mesh, in fp32 and bf16; and embedding_backward (ids repeated
// and unseen, dy's rows spanning nodes). Then the shape rules and refusals of
// these ops. One machine per process: one run per test case.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
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

gr::GraphRun run_yaml(const std::string& yaml, const gr::RunOptions& options) {
  gr::GraphRun r = run_graph_text(yaml, options);
  REQUIRE(r.checked);
  return r;
}

// The validator's or the run's refusal of a graph, "" if it runs.
std::string refusal(const std::string& yaml) {
  try {
    const g::Graph graph = g::parse_graph_yaml(yaml, "test.graph.yaml");
    gr::check_runnable(graph, g::validate(graph));
  } catch (const g::GraphError& e) {
    return e.what();
  }
  return "";
}

uint32_t test_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// |got - want| within a relative `rel` (and an absolute `abs`) of float64 computed here.
void require_close(const Matrix& got, const std::vector<double>& want, double rel, double abs,
                   const std::string& what) {
  REQUIRE(got.values.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::fabs(got.values[i] - want[i]) <= rel * std::fabs(want[i]) + abs))
      FAIL(fmt::format("{}[{}] = {}, float64 {}", what, i, got.values[i], want[i]));
}

double rel_of(DType dtype) {
  return dtype == DType::Fp32 ? 4e-6 : std::ldexp(1.0, -8) + 4e-6;
}

void activation_gradients(const std::string& dtype_text, DType dtype) {
  // 37 rows of 45 on 16 nodes: neither divides the mesh; each op's output a graph output.
  std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [37, 45], dtype: T, role: input}
  - {name: dy, shape: [37, 45], dtype: T, role: input}
  - {name: d_relu, shape: [37, 45], dtype: T}
  - {name: d_gelu, shape: [37, 45], dtype: T}
  - {name: d_tanh, shape: [37, 45], dtype: T}
  - {name: d_silu, shape: [37, 45], dtype: T}
  - {name: neg, shape: [37, 45], dtype: T}
  - {name: third, shape: [37, 45], dtype: T}
ops:
  - {name: a, type: relu_backward, inputs: [dy, x], outputs: [d_relu]}
  - {name: b, type: gelu_backward, inputs: [dy, x], outputs: [d_gelu]}
  - {name: c, type: gelu_backward, inputs: [dy, x], outputs: [d_tanh],
     attributes: {approximate: tanh}}
  - {name: d, type: silu_backward, inputs: [dy, x], outputs: [d_silu]}
  - {name: e, type: scale, inputs: [dy], outputs: [neg], attributes: {factor: -1}}
  - {name: f, type: scale, inputs: [x], outputs: [third], attributes: {factor: 0.3333333}}
)";
  for (size_t at = yaml.find("dtype: T"); at != std::string::npos; at = yaml.find("dtype: T"))
    yaml.replace(at + 7, 1, dtype_text);
  gr::RunOptions options;
  const Matrix x = random_matrix(37, 45, 1, dtype, -5, 5),
               dy = random_matrix(37, 45, 2, dtype, -2, 2);
  options.values["x"] = x;
  options.values["dy"] = dy;
  const gr::GraphRun r = run_yaml(yaml, options);
  std::vector<double> relu, gelu, tanh_form, silu, neg, third;
  const double k = std::sqrt(2 / M_PI);
  for (size_t i = 0; i < x.values.size(); ++i) {
    const double v = x.values[i], d = dy.values[i];
    relu.push_back(v > 0 ? d : 0.0);
    gelu.push_back(d * (0.5 * std::erfc(-v / std::sqrt(2.0)) +
                        v * std::exp(-v * v / 2) / std::sqrt(2 * M_PI)));
    const double u = k * (v + 0.044715 * v * v * v), t = std::tanh(u);
    tanh_form.push_back(d *
                        (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v)));
    const double s = 1 / (1 + std::exp(-v));
    silu.push_back(d * s * (1 + v * (1 - s)));
    neg.push_back(-d);
    third.push_back(double(0.3333333f) * v);
  }
  const double rel = rel_of(dtype);
  require_close(r.outputs.at("d_relu"), relu, 0, 0, "relu_backward");
  require_close(r.outputs.at("d_gelu"), gelu, rel, 4e-7 * 2 * 6, "gelu_backward");
  require_close(r.outputs.at("d_tanh"), tanh_form, rel, 4e-7 * 2 * 6, "gelu_backward tanh");
  require_close(r.outputs.at("d_silu"), silu, rel, 4e-7 * 2 * 6, "silu_backward");
  require_close(r.outputs.at("neg"), neg, 0, 0, "scale -1");
  require_close(r.outputs.at("third"), third, dtype == DType::Fp32 ? std::ldexp(1.0, -24) : rel, 0,
                "scale 1/3");
}

// float64 sums of x [n, h, c] over h, and their bound: fp32 additions, then the dtype.
void require_sums(const Matrix& got, const Matrix& x, uint32_t n, uint32_t h, uint32_t c,
                  DType dtype, const std::string& what) {
  REQUIRE(got.values.size() == size_t{n} * c);
  const double u_out = dtype == DType::Fp32 ? 0 : std::ldexp(1.0, -8);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j < c; ++j) {
      double sum = 0, magnitude = 0;
      for (uint32_t r = 0; r < h; ++r) {
        sum += x.values[(size_t{i} * h + r) * c + j];
        magnitude += std::fabs(x.values[(size_t{i} * h + r) * c + j]);
      }
      const double bound =
          magnitude * h * std::ldexp(1.0, -24) * (1 + u_out) + std::fabs(sum) * u_out;
      const double v = got.values[size_t{i} * c + j];
      if (!(std::fabs(v - sum) <= bound))
        FAIL(fmt::format("{}[{}, {}] = {}, float64 {} (bound {:.3g})", what, i, j, v, sum, bound));
    }
}

}  // namespace

TEST_CASE(
    "relu_backward, gelu_backward, silu_backward and scale run in fp32, bit exact and as "
    "their float64 formulas",
    "[grad]") {
  activation_gradients("fp32", DType::Fp32);
}

TEST_CASE(
    "relu_backward, gelu_backward, silu_backward and scale run in bf16, bit exact and as "
    "their float64 formulas",
    "[grad]") {
  activation_gradients("bf16", DType::Bf16);
}

TEST_CASE("reduce_sum over the axes before the last, some of them and every axis, fp32", "[grad]") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [3, 13, 40], dtype: fp32, role: input}
  - {name: bias, shape: [40], dtype: fp32}
  - {name: kept, shape: [1, 1, 40], dtype: fp32}
  - {name: per, shape: [3, 40], dtype: fp32}
  - {name: total, shape: [], dtype: fp32}
  - {name: total_kept, shape: [1, 1, 1], dtype: fp32}
ops:
  - {name: a, type: reduce_sum, inputs: [x], outputs: [bias], attributes: {axes: [0, 1]}}
  - {name: b, type: reduce_sum, inputs: [x], outputs: [kept],
     attributes: {axes: [-3, -2], keepdims: true}}
  - {name: c, type: reduce_sum, inputs: [x], outputs: [per], attributes: {axes: [1]}}
  - {name: d, type: reduce_sum, inputs: [x], outputs: [total]}
  - {name: e, type: reduce_sum, inputs: [x], outputs: [total_kept],
     attributes: {axes: [2, 0, 1], keepdims: true}}
)";
  gr::RunOptions options;
  const Matrix x = random_matrix(39, 40, 3, DType::Fp32, -1, 1);
  options.values["x"] = x;
  const gr::GraphRun r = run_yaml(yaml, options);
  require_sums(r.outputs.at("bias"), x, 1, 39, 40, DType::Fp32, "bias");
  require_sums(r.outputs.at("kept"), x, 1, 39, 40, DType::Fp32, "kept");
  require_sums(r.outputs.at("per"), x, 3, 13, 40, DType::Fp32, "per");
  Matrix column = x;
  column.rows = 39 * 40, column.cols = 1;
  require_sums(r.outputs.at("total"), column, 1, 39 * 40, 1, DType::Fp32, "total");
  require_sums(r.outputs.at("total_kept"), column, 1, 39 * 40, 1, DType::Fp32, "total_kept");
  CHECK(r.outputs.at("total").values == r.outputs.at("total_kept").values);
}

TEST_CASE("reduce_sum of bf16 over the axes before the last: rows over nodes, one rounding",
          "[grad]") {
  // [4, 75, 300]: 300 rows over 16 nodes and a row of 300 bf16 lanes in 10 registers.
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [4, 75, 300], dtype: bf16, role: input}
  - {name: bias, shape: [300], dtype: bf16}
ops:
  - {name: a, type: reduce_sum, inputs: [x], outputs: [bias], attributes: {axes: [0, 1]}}
)";
  gr::RunOptions options;
  const Matrix x = random_matrix(300, 300, 4, DType::Bf16, -1, 1);
  options.values["x"] = x;
  const gr::GraphRun r = run_yaml(yaml, options);
  require_sums(r.outputs.at("bias"), x, 1, 300, 300, DType::Bf16, "bias");
}

namespace {

// batchnorm_backward on dy, x [2, 5, 7, 40] in the dtype, and its float64 results from the same
// inputs: dx, dscale, dbias, and each dscale's sum of |dy x^|.
struct BatchNormGradients {
  gr::GraphRun run;
  std::vector<double> dx, dscale, dbias, magnitude;
};
// `vectors`: the dtype of scale, mean, variance, dscale and dbias (mixed precision: fp32 with a
// bf16 dy and x), the same by default.
BatchNormGradients batchnorm_gradients(const std::string& dtype_text, DType dtype,
                                       std::string vectors = "") {
  if (vectors.empty()) vectors = dtype_text;
  std::string yaml = R"(version: 1
tensors:
  - {name: dy, shape: [2, 5, 7, 40], dtype: T, role: input}
  - {name: x, shape: [2, 5, 7, 40], dtype: T, role: input}
  - {name: scale, shape: [40], dtype: V, role: weight}
  - {name: mean, shape: [40], dtype: V, role: input}
  - {name: variance, shape: [40], dtype: V, role: input}
  - {name: dx, shape: [2, 5, 7, 40], dtype: T}
  - {name: dscale, shape: [40], dtype: V}
  - {name: dbias, shape: [40], dtype: V}
ops:
  - name: bn
    type: batchnorm_backward
    inputs: [dy, x, scale, mean, variance]
    outputs: [dx, dscale, dbias]
    attributes: {epsilon: 0.001}
)";
  for (size_t at = yaml.find("dtype: T"); at != std::string::npos; at = yaml.find("dtype: T"))
    yaml.replace(at + 7, 1, dtype_text);
  for (size_t at = yaml.find("dtype: V"); at != std::string::npos; at = yaml.find("dtype: V"))
    yaml.replace(at + 7, 1, vectors);
  gr::RunOptions options;
  const Matrix dy = random_matrix(70, 40, 5, dtype, -1, 1),
               x = random_matrix(70, 40, 6, dtype, -3, 3);
  const Matrix scale = random_matrix(1, 40, 7, dtype, -2, 2),
               mean = random_matrix(1, 40, 8, dtype, -1, 1);
  const Matrix variance = random_matrix(1, 40, 9, dtype, 0.1f, 4);
  for (const auto& [name, m] :
       {std::pair{"dy", dy}, {"x", x}, {"scale", scale}, {"mean", mean}, {"variance", variance}})
    options.values[name] = m;
  BatchNormGradients g{run_yaml(yaml, options),
                       {},
                       std::vector<double>(40, 0.0),
                       std::vector<double>(40, 0.0),
                       std::vector<double>(40, 0.0)};
  for (uint32_t row = 0; row < 70; ++row)
    for (uint32_t c = 0; c < 40; ++c) {
      const double rstd = 1 / std::sqrt(double(variance.values[c]) + double(0.001f));
      const double d = dy.values[row * 40 + c], v = x.values[row * 40 + c];
      g.dx.push_back(d * scale.values[c] * rstd);
      g.dscale[c] += d * (v - mean.values[c]) * rstd;
      g.magnitude[c] += std::fabs(d * (v - mean.values[c]) * rstd);
      g.dbias[c] += d;
    }
  return g;
}

}  // namespace

TEST_CASE("batchnorm_backward in fp32: dx, dscale and dbias as their float64 formulas", "[grad]") {
  const BatchNormGradients g = batchnorm_gradients("fp32", DType::Fp32);
  require_close(g.run.outputs.at("dx"), g.dx, 1e-6, 0, "dx");
  require_close(g.run.outputs.at("dscale"), g.dscale, 1e-6, 1e-5, "dscale");
  require_close(g.run.outputs.at("dbias"), g.dbias, 1e-6, 1e-5, "dbias");
}

TEST_CASE("batchnorm_backward in bf16: dx, dscale and dbias as their float64 formulas", "[grad]") {
  const BatchNormGradients g = batchnorm_gradients("bf16", DType::Bf16);
  const double u = std::ldexp(1.0, -8);
  require_close(g.run.outputs.at("dx"), g.dx, u + 1e-6, 0, "dx");
  // dscale: x^ and dy x^ are rounded to bf16 before the fp32 sum, then the sum once more.
  for (uint32_t c = 0; c < 40; ++c)
    CHECK(std::fabs(g.run.outputs.at("dscale").values[c] - g.dscale[c]) <=
          3 * u * g.magnitude[c] + u * std::fabs(g.dscale[c]));
  require_close(g.run.outputs.at("dbias"), g.dbias, u + 1e-6, 70 * 1e-6, "dbias");
}

TEST_CASE("batchnorm_backward of bf16 dy with fp32 parameters: fp32 sums for dscale and dbias",
          "[grad]") {
  // The scale, mean and variance are bf16 values here (random_matrix rounds them), held as fp32.
  const BatchNormGradients g = batchnorm_gradients("bf16", DType::Bf16, "fp32");
  const double u = std::ldexp(1.0, -8), u32 = std::ldexp(1.0, -24);
  require_close(g.run.outputs.at("dx"), g.dx, u + 1e-6, 0, "dx");
  // dscale: x^ and dy x^ rounded to bf16, widened exactly, summed in fp32, not rounded again.
  size_t off_bf16 = 0;
  for (uint32_t c = 0; c < 40; ++c) {
    const float ds = g.run.outputs.at("dscale").values[c];
    CHECK(std::fabs(ds - g.dscale[c]) <= 2 * u * g.magnitude[c] + 70 * u32 * g.magnitude[c]);
    off_bf16 += quantize(DType::Bf16, ds, {}) != ds;
  }
  // dbias: the bf16 dy summed in fp32, within the fp32 sum's bound.
  require_close(g.run.outputs.at("dbias"), g.dbias, 0, 70 * 1e-6, "dbias");
  CHECK(off_bf16 > 20);  // fp32 sums: most are not bf16 values
}

namespace {

// embedding_backward of dy [rows, cols] (ids over [0, vocab) with repeats, every third id
// unseen) against sums in float64 done here.
void embedding_gradient(const std::string& dtype_text, DType dtype, uint32_t rows, uint32_t cols,
                        uint32_t vocab) {
  const std::string yaml = fmt::format(R"(version: 1
tensors:
  - {{name: ids, shape: [{0}], dtype: int32, role: input}}
  - {{name: dy, shape: [{0}, {1}], dtype: {3}, role: input}}
  - {{name: dtable, shape: [{2}, {1}], dtype: {3}}}
ops:
  - {{name: e, type: embedding_backward, inputs: [ids, dy], outputs: [dtable],
     attributes: {{vocab: {2}}}}}
)",
                                       rows, cols, vocab, dtype_text);
  gr::RunOptions options;
  Matrix ids(1, rows);
  std::mt19937_64 rng(11);
  for (float& id : ids.values) {
    uint32_t v = uint32_t(rng() % vocab);
    if (v % 3 == 2) v -= 1;  // never seen
    id = float(v);
  }
  const Matrix dy = random_matrix(rows, cols, 12, dtype, -1, 1);
  options.values["ids"] = ids;
  options.values["dy"] = dy;
  const gr::GraphRun r = run_yaml(yaml, options);
  const Matrix& got = r.outputs.at("dtable");
  REQUIRE(got.rows == vocab);
  const double u_out = dtype == DType::Fp32 ? 0 : std::ldexp(1.0, -8);
  for (uint32_t v = 0; v < vocab; ++v)
    for (uint32_t c = 0; c < cols; ++c) {
      double sum = 0, magnitude = 0, n = 0;
      for (uint32_t row = 0; row < rows; ++row)
        if (uint32_t(ids.values[row]) == v) {
          sum += dy.at(row, c), magnitude += std::fabs(dy.at(row, c)), n += 1;
        }
      const double bound =
          magnitude * n * std::ldexp(1.0, -24) * (1 + u_out) + u_out * std::fabs(sum);
      if (v % 3 == 2) REQUIRE(test_bits(got.at(v, c)) == 0u);  // +0 for an id never seen
      if (!(std::fabs(got.at(v, c) - sum) <= bound))
        FAIL(fmt::format("dtable[{}, {}] = {}, float64 {} (bound {:.3g})", v, c, got.at(v, c), sum,
                         bound));
    }
}

}  // namespace

TEST_CASE("embedding_backward in fp32: each id's rows of dy summed in row order", "[grad]") {
  embedding_gradient("fp32", DType::Fp32, 83, 40, 23);  // 83 rows over 16 nodes, V < 16 x 2
}

TEST_CASE("embedding_backward in bf16: rows of 300 over nodes, more ids than nodes", "[grad]") {
  embedding_gradient("bf16", DType::Bf16, 50, 300, 61);
}

TEST_CASE("embedding_backward refuses an id outside 0 .. vocab - 1 before the run", "[grad]") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: ids, shape: [4], dtype: int32, role: input}
  - {name: dy, shape: [4, 8], dtype: fp32, role: input}
  - {name: dtable, shape: [5, 8], dtype: fp32}
ops:
  - {name: e, type: embedding_backward, inputs: [ids, dy], outputs: [dtable],
     attributes: {vocab: 5}}
)";
  gr::RunOptions options;
  Matrix ids(1, 4);
  ids.values = {0, 4, 5, 1};
  options.values["ids"] = ids;
  CHECK_THROWS_WITH(run_yaml(yaml, options),
                    "test.graph.yaml:7: op 'e' (embedding_backward): embedding: id 5 at row 2 is "
                    "out of range: expected 0 <= id < V = 5");
}

TEST_CASE(
    "the backward ops' shape rules and the run's refusals name the tensor and what was "
    "expected",
    "[grad]") {
  const auto graph = [](const std::string& tensors, const std::string& op) {
    return "version: 1\ntensors:\n" + tensors + "ops:\n  - " + op + "\n";
  };
  const std::string xy =
      "  - {name: x, shape: [4, 8], dtype: fp32, role: input}\n"
      "  - {name: dy, shape: [4, 8], dtype: fp32, role: input}\n";
  CHECK(refusal(graph(xy + "  - {name: y, shape: [4, 7], dtype: fp32}\n"
                           "  - {name: z, shape: [4, 7], dtype: fp32, role: input}\n",
                      "{name: r, type: relu_backward, inputs: [dy, z], outputs: [y]}")) ==
        "test.graph.yaml:8: op 'r' (relu_backward): input 'z' [4, 7] should have the shape of dy "
        "'dy' [4, 8]");
  CHECK(refusal(graph(xy + "  - {name: y, shape: [8], dtype: fp32}\n",
                      "{name: s, type: reduce_sum, inputs: [x], outputs: [y], attributes: "
                      "{axes: [0, -2]}}")) ==
        "test.graph.yaml:7: op 's' (reduce_sum): axes names axis -2 twice");
  CHECK(refusal(graph("  - {name: x, shape: [4, 8], dtype: fp32, role: input}\n"
                      "  - {name: y, shape: [4], dtype: fp32}\n",
                      "{name: s, type: reduce_sum, inputs: [x], outputs: [y], attributes: "
                      "{axes: [1]}}")) ==
        "test.graph.yaml:6: op 's' (reduce_sum): reduce_sum over axes [1]: a run sums every "
        "axis, or a run of axes that ends just before the last (as [..., C] -> [C], a bias's "
        "gradient)");
  CHECK(refusal("version: 1\ntensors:\n  - {name: x, shape: [4, 8], dtype: bf16, role: input}\n"
                "  - {name: y, shape: [], dtype: bf16}\nops:\n"
                "  - {name: s, type: reduce_sum, inputs: [x], outputs: [y]}\n") ==
        "test.graph.yaml:6: op 's' (reduce_sum): reduce_sum of bf16 'x' over every axis: a run "
        "sums its rows to [C] and would round those sums to bf16 before the last sum; sum fp32, "
        "or over the axes before the last");
  CHECK(refusal(graph("  - {name: x, shape: [4, 8], dtype: bf16, role: input}\n"
                      "  - {name: dy, shape: [4, 8], dtype: fp32, role: input}\n"
                      "  - {name: y, shape: [4, 8], dtype: fp32}\n",
                      "{name: g, type: silu_backward, inputs: [dy, x], outputs: [y]}")) ==
        "test.graph.yaml:7: op 'g' (silu_backward): x 'x' is bf16 and dy 'dy' fp32: a run takes "
        "them in one dtype (a conversion in the op is not run yet)");
  CHECK(refusal(graph(xy + "  - {name: y, shape: [4, 8], dtype: fp32}\n",
                      "{name: k, type: scale, inputs: [x], outputs: [y]}")) ==
        "test.graph.yaml:7: op 'k' (scale): missing attribute factor (a number: the multiplier "
        "(an fp32 value): -1 for sub's b, a loss scale)");
  // embedding_backward: the output takes dy's dtype (input 2), ids and dy must agree, and the
  // run refuses it for now.
  const std::string ids =
      "  - {name: ids, shape: [2, 3], dtype: int32, role: input}\n"
      "  - {name: dy, shape: [2, 3, 8], dtype: bf16, role: input}\n";
  CHECK(refusal(graph(ids + "  - {name: t, shape: [10, 8], dtype: fp32}\n",
                      "{name: e, type: embedding_backward, inputs: [ids, dy], outputs: [t], "
                      "attributes: {vocab: 10}}")) ==
        "test.graph.yaml:7: op 'e' (embedding_backward): output 't' is fp32; embedding_backward "
        "gives it the dtype of input 2 'dy' (bf16)");
  CHECK(refusal(graph(ids + "  - {name: t, shape: [10, 8], dtype: bf16}\n",
                      "{name: e, type: embedding_backward, inputs: [ids, dy], outputs: [t], "
                      "attributes: {vocab: 0}}")) ==
        "test.graph.yaml:7: op 'e' (embedding_backward): vocab = 0: expected the table's rows, "
        "at least 1");
  CHECK(refusal(graph("  - {name: ids, shape: [2, 4], dtype: int32, role: input}\n"
                      "  - {name: dy, shape: [2, 3, 8], dtype: bf16, role: input}\n"
                      "  - {name: t, shape: [10, 8], dtype: bf16}\n",
                      "{name: e, type: embedding_backward, inputs: [ids, dy], outputs: [t], "
                      "attributes: {vocab: 10}}")) ==
        "test.graph.yaml:7: op 'e' (embedding_backward): dy 'dy' [2, 3, 8] should be [2, 4] plus "
        "[D]: the ids 'ids' [2, 4] and the table's columns");
  CHECK(refusal(graph(ids + "  - {name: t, shape: [10, 8], dtype: bf16}\n",
                      "{name: e, type: embedding_backward, inputs: [ids, dy], outputs: [t], "
                      "attributes: {vocab: 10}}"))
            .empty());
  // batchnorm_backward: dscale and dbias take scale's dtype (input 3).
  CHECK_THAT(refusal(graph("  - {name: dy, shape: [4, 8], dtype: fp32, role: input}\n"
                           "  - {name: x, shape: [4, 8], dtype: fp32, role: input}\n"
                           "  - {name: s, shape: [8], dtype: fp32, role: weight}\n"
                           "  - {name: m, shape: [8], dtype: fp32, role: input}\n"
                           "  - {name: v, shape: [8], dtype: fp32, role: input}\n"
                           "  - {name: dx, shape: [4, 8], dtype: fp32}\n"
                           "  - {name: ds, shape: [8], dtype: bf16}\n"
                           "  - {name: db, shape: [8], dtype: fp32}\n",
                           "{name: b, type: batchnorm_backward, inputs: [dy, x, s, m, v], "
                           "outputs: [dx, ds, db]}")),
             Catch::EndsWith("output 'ds' is bf16; batchnorm_backward gives it the dtype of input "
                             "3 's' (fp32)"));
}
