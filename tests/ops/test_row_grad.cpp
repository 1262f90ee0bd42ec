// SPDX-License-Identifier: MIT
// The backward row ops (runtime/ops/row_ops.h: softmax_backward, layernorm_backward,
// rmsnorm_backward, softmax_cross_entropy_backward) on the tiny mesh: fp32 and bf16, rows on one
// node (many row blocks, so the column sums go up a tree of pushes) and rows over several nodes,
// sizes that do not divide the mesh; bit for bit against the reference in the kernel's order and
// within the float64 bound; the float64 values against central differences of the forward op
// computed here in double; the estimate; bad inputs.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <string>

#include "../runtime/test_data.h"
#include "ops_test_util.h"
#include "runtime/mesh/executor.h"
#include "runtime/ops/row_ops.h"

using namespace dojosim;
using namespace dojosim::runtime;
using namespace dojosim::runtime::ops;

namespace {

using ops_test::tiny;

std::vector<float> random_vector(uint32_t n, uint32_t seed) {
  return test::random_matrix(1, n, seed).values;
}

Matrix scaled(Matrix m, float by) {
  for (float& v : m.values) v *= by;
  return m;
}

// The inputs of `op` on [rows, cols]: x (y for softmax_backward: a softmax of random logits,
// rounded to fp32), dy, gamma, labels.
RowGradInputs inputs(RowOp op, uint32_t rows, uint32_t cols, uint32_t seed) {
  RowGradInputs in;
  in.x = test::random_matrix(rows, cols, seed);
  in.dy = test::random_matrix(rows, cols, seed + 1);
  in.gamma = random_vector(cols, seed + 2);
  if (op == RowOp::SoftmaxBackward)
    for (uint32_t r = 0; r < rows; ++r) {
      double sum = 0;
      for (uint32_t c = 0; c < cols; ++c) sum += std::exp(4.0 * in.x.at(r, c));
      for (uint32_t c = 0; c < cols; ++c)
        in.x.at(r, c) = static_cast<float>(std::exp(4.0 * in.x.at(r, c)) / sum);
    }
  if (op == RowOp::SoftmaxCrossEntropyBackward) {
    in.x = scaled(in.x, 4.0f);
    in.labels = test::random_indices(rows, cols, seed + 3);
  }
  return in;
}

// Runs the op and checks every output against both references; returns the run.
RowGradRun check_grad(Executor& ex, RowOp op, DType dtype, const RowOpParams& p,
                      const RowGradInputs& in, uint32_t col_parts = 0) {
  INFO(fmt::format("{} {} [{}, {}], column blocks {}, sums {}", row_op_name(op), dtype_name(dtype),
                   in.x.rows, in.x.cols, col_parts, dtype_name(p.sums_dtype)));
  RowGradRun r = run_row_grad(ex, op, dtype, p, in, {col_parts, 0});
  REQUIRE(r.run.ok);
  const RowGrad want = row_grad_reference(op, r.split, p, in);
  const RowGrad64 f64 = row_grad_reference_f64(op, r.split, p, in);
  test::require_bit_exact(r.out.dx, want.dx);
  test::require_within(r.out.dx, f64.dx);
  const int sums = row_grad_column_sums(op);
  if (sums > 0) {
    test::require_bit_exact(r.out.dgamma, want.dgamma);
    test::require_within(r.out.dgamma, f64.dgamma);
  }
  if (sums > 1) {
    test::require_bit_exact(r.out.dbeta, want.dbeta);
    test::require_within(r.out.dbeta, f64.dbeta);
  }
  return r;
}

// Each op on the shapes that matter: 37 rows on 16 nodes (row blocks of 2 and 3, a tree of 16
// for the column sums) with 45 columns (the last register part padding); 3 rows of 200 columns
// (each row over 5 nodes); 9 rows of 100 forced over 2 column blocks (8 row blocks).
void check_shapes(Executor& ex, RowOp op, const RowOpParams& p) {
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    const RowGradRun one = check_grad(ex, op, dtype, p, inputs(op, 37, 45, 1));
    CHECK(one.split.col_parts == 1);
    CHECK(one.split.row_parts == 16);
    const RowGradRun spans = check_grad(ex, op, dtype, p, inputs(op, 3, 200, 5));
    CHECK(spans.split.col_parts > 1);
    check_grad(ex, op, dtype, p, inputs(op, 9, 100, 9), 2);
  }
}

}  // namespace

TEST_CASE("softmax_backward equals its references on rows within and across nodes", "[rowgrad]") {
  Executor ex(tiny());
  RowOpParams p;
  check_shapes(ex, RowOp::SoftmaxBackward, p);
  p.scale = 0.125f;
  check_shapes(ex, RowOp::SoftmaxBackward, p);
}

TEST_CASE("layernorm_backward's dx and its dgamma and dbeta equal their references", "[rowgrad]") {
  Executor ex(tiny());
  RowOpParams p;
  check_shapes(ex, RowOp::LayerNormBackward, p);
  p.sums_dtype = DType::Bf16;
  p.epsilon = 1e-3f;
  check_shapes(ex, RowOp::LayerNormBackward, p);
}

TEST_CASE("rmsnorm_backward's dx and dgamma equal their references", "[rowgrad]") {
  Executor ex(tiny());
  RowOpParams p;
  p.epsilon = 1e-6f;
  check_shapes(ex, RowOp::RmsNormBackward, p);
  p.sums_dtype = DType::Bf16;
  check_shapes(ex, RowOp::RmsNormBackward, p);
}

TEST_CASE("softmax_cross_entropy_backward equals its references for the mean and the sum",
          "[rowgrad]") {
  Executor ex(tiny());
  RowOpParams p;
  check_shapes(ex, RowOp::SoftmaxCrossEntropyBackward, p);
  p.mean = false;
  p.scale = 2.0f;
  check_shapes(ex, RowOp::SoftmaxCrossEntropyBackward, p);
}

TEST_CASE("a row of one column and one row of many columns", "[rowgrad]") {
  Executor ex(tiny());
  for (RowOp op : {RowOp::SoftmaxBackward, RowOp::LayerNormBackward, RowOp::RmsNormBackward,
                   RowOp::SoftmaxCrossEntropyBackward}) {
    check_grad(ex, op, DType::Fp32, {}, inputs(op, 5, 1, 11));
    check_grad(ex, op, DType::Bf16, {}, inputs(op, 1, 1000, 12), 4);
  }
}

namespace {

// ---- The forward ops in double, for central differences ------------------------------------

using Row = std::vector<double>;
Row row_of(const Matrix& m, uint32_t r) {
  return Row(m.values.begin() + r * m.cols, m.values.begin() + (r + 1) * m.cols);
}
double dot(const Row& a, const Row& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
Row layernorm(const Row& x, const Row& gamma, const Row& beta, double eps) {
  double mean = 0, var = 0;
  for (double v : x) mean += v / x.size();
  for (double v : x) var += (v - mean) * (v - mean) / x.size();
  Row y(x.size());
  for (size_t c = 0; c < x.size(); ++c)
    y[c] = (x[c] - mean) / std::sqrt(var + eps) * gamma[c] + beta[c];
  return y;
}
Row rmsnorm(const Row& x, const Row& gamma, double eps) {
  double sq = 0;
  for (double v : x) sq += v * v / x.size();
  Row y(x.size());
  for (size_t c = 0; c < x.size(); ++c) y[c] = x[c] / std::sqrt(sq + eps) * gamma[c];
  return y;
}
Row softmax(const Row& x, double scale) {
  double mx = -INFINITY, sum = 0;
  for (double v : x) mx = std::max(mx, v * scale);
  for (double v : x) sum += std::exp(v * scale - mx);
  Row y(x.size());
  for (size_t c = 0; c < x.size(); ++c) y[c] = std::exp(x[c] * scale - mx) / sum;
  return y;
}
double cross_entropy(const Row& x, int32_t label) {
  double mx = -INFINITY, sum = 0;
  for (double v : x) mx = std::max(mx, v);
  for (double v : x) sum += std::exp(v - mx);
  return mx + std::log(sum) - x[size_t(label)];
}

// d f / d v[c] by central differences, for every c.
Row gradient(Row v, const std::function<double(const Row&)>& f) {
  const double h = 1e-4;
  Row g(v.size());
  for (size_t c = 0; c < v.size(); ++c) {
    const double keep = v[c];
    v[c] = keep + h;
    const double up = f(v);
    v[c] = keep - h;
    g[c] = (up - f(v)) / (2 * h);
    v[c] = keep;
  }
  return g;
}

void require_close(const Reference64& ref, uint32_t r, const Row& want, const char* what) {
  for (uint32_t c = 0; c < want.size(); ++c) {
    INFO(fmt::format("{}[{}][{}]", what, r, c));
    CHECK(ref.at(r, c) == Approx(want[c]).margin(1e-6).epsilon(1e-6));
  }
}

}  // namespace

TEST_CASE("the float64 references equal central differences of the forward ops", "[rowgrad]") {
  // fp32 inputs (the references take the dtype's values: fp32 changes nothing here).
  const hw::HardwareConfig config = tiny();
  const uint32_t rows = 6, cols = 21;
  const RowSplit s = split_rows(config, DType::Fp32, rows, cols);
  RowOpParams p;
  p.epsilon = 1e-5f;
  {
    // dx = d/dx sum(dy * layernorm(x)); dgamma, dbeta over all rows.
    const RowGradInputs in = inputs(RowOp::LayerNormBackward, rows, cols, 21);
    const RowGrad64 got = row_grad_reference_f64(RowOp::LayerNormBackward, s, p, in);
    const Row gamma(in.gamma.begin(), in.gamma.end()), beta(cols, 0.25);
    Row dgamma(cols, 0.0), dbeta(cols, 0.0);
    for (uint32_t r = 0; r < rows; ++r) {
      const Row x = row_of(in.x, r), dy = row_of(in.dy, r);
      require_close(
          got.dx, r,
          gradient(x, [&](const Row& v) { return dot(dy, layernorm(v, gamma, beta, p.epsilon)); }),
          "layernorm dx");
      const Row dg =
          gradient(gamma, [&](const Row& v) { return dot(dy, layernorm(x, v, beta, p.epsilon)); });
      const Row dbt =
          gradient(beta, [&](const Row& v) { return dot(dy, layernorm(x, gamma, v, p.epsilon)); });
      for (uint32_t c = 0; c < cols; ++c) dgamma[c] += dg[c], dbeta[c] += dbt[c];
    }
    require_close(got.dgamma, 0, dgamma, "layernorm dgamma");
    require_close(got.dbeta, 0, dbeta, "layernorm dbeta");
  }
  {
    p.epsilon = 1e-6f;
    const RowGradInputs in = inputs(RowOp::RmsNormBackward, rows, cols, 31);
    const RowGrad64 got = row_grad_reference_f64(RowOp::RmsNormBackward, s, p, in);
    const Row gamma(in.gamma.begin(), in.gamma.end());
    Row dgamma(cols, 0.0);
    for (uint32_t r = 0; r < rows; ++r) {
      const Row x = row_of(in.x, r), dy = row_of(in.dy, r);
      require_close(
          got.dx, r,
          gradient(x, [&](const Row& v) { return dot(dy, rmsnorm(v, gamma, p.epsilon)); }),
          "rmsnorm dx");
      const Row dg =
          gradient(gamma, [&](const Row& v) { return dot(dy, rmsnorm(x, v, p.epsilon)); });
      for (uint32_t c = 0; c < cols; ++c) dgamma[c] += dg[c];
    }
    require_close(got.dgamma, 0, dgamma, "rmsnorm dgamma");
  }
  {
    // softmax_backward takes y = softmax(scale x): the differences are over x, y computed here
    // in double and rounded to fp32 (a relative change of 2^-24, far inside the margin).
    p.scale = 0.5f;
    RowGradInputs in = inputs(RowOp::LayerNormBackward, rows, cols, 41);
    const Matrix logits = in.x;
    for (uint32_t r = 0; r < rows; ++r) {
      const Row y = softmax(row_of(logits, r), p.scale);
      for (uint32_t c = 0; c < cols; ++c) in.x.at(r, c) = static_cast<float>(y[c]);
    }
    const RowGrad64 got = row_grad_reference_f64(RowOp::SoftmaxBackward, s, p, in);
    for (uint32_t r = 0; r < rows; ++r) {
      const Row dy = row_of(in.dy, r);
      require_close(
          got.dx, r,
          gradient(row_of(logits, r), [&](const Row& v) { return dot(dy, softmax(v, p.scale)); }),
          "softmax dx");
    }
  }
  for (bool mean : {true, false}) {
    // The loss's gradient times scale: mean over the rows or their sum.
    p.mean = mean;
    p.scale = 3.0f;
    const RowGradInputs in = inputs(RowOp::SoftmaxCrossEntropyBackward, rows, cols, 51);
    const RowGrad64 got = row_grad_reference_f64(RowOp::SoftmaxCrossEntropyBackward, s, p, in);
    for (uint32_t r = 0; r < rows; ++r) {
      Row want =
          gradient(row_of(in.x, r), [&](const Row& v) { return cross_entropy(v, in.labels[r]); });
      for (double& v : want) v *= p.scale / (mean ? rows : 1);
      require_close(got.dx, r, want, "cross-entropy dlogits");
    }
  }
}

TEST_CASE("the backward row-op estimate from the config is within 35% of the simulated cycles",
          "[rowgrad][estimate]") {
  Executor ex(tiny());
  struct Case {
    RowOp op;
    DType dtype;
    uint32_t rows, cols, parts;
  };
  const Case cases[] = {{RowOp::SoftmaxBackward, DType::Fp32, 64, 256, 0},
                        {RowOp::LayerNormBackward, DType::Bf16, 64, 256, 0},
                        {RowOp::RmsNormBackward, DType::Fp32, 32, 512, 0},
                        {RowOp::SoftmaxCrossEntropyBackward, DType::Bf16, 64, 256, 0},
                        {RowOp::LayerNormBackward, DType::Fp32, 8, 768, 2}};
  for (const Case& k : cases) {
    const RowGradRun r =
        run_row_grad(ex, k.op, k.dtype, {}, inputs(k.op, k.rows, k.cols, 7), {k.parts, 0});
    REQUIRE(r.run.ok);
    INFO(fmt::format("{} {} [{}, {}] over {} column blocks: estimate {:.0f}, simulated {}",
                     row_op_name(k.op), dtype_name(k.dtype), k.rows, k.cols, r.split.col_parts,
                     r.estimate, r.run.cycles));
    CHECK(r.estimate == Approx(double(r.run.cycles)).epsilon(0.35));
  }
}

TEST_CASE("backward row ops refuse labels out of range and inputs of the wrong size",
          "[rowgrad][errors]") {
  Executor ex(tiny());
  RowGradInputs in = inputs(RowOp::SoftmaxCrossEntropyBackward, 4, 10, 61);
  in.labels[2] = 10;
  CHECK_THROWS_WITH(
      run_row_grad(ex, RowOp::SoftmaxCrossEntropyBackward, DType::Fp32, {}, in),
      "softmax_cross_entropy_backward [4, 10] fp32: label 10 at row 2 is out of range: expected "
      "0 <= label < C = 10");
  RowGradInputs norm = inputs(RowOp::LayerNormBackward, 4, 10, 62);
  norm.gamma.pop_back();
  CHECK_THROWS_WITH(run_row_grad(ex, RowOp::LayerNormBackward, DType::Fp32, {}, norm),
                    "layernorm_backward [4, 10] fp32: gamma has 9 values: expected 10");
  norm = inputs(RowOp::RmsNormBackward, 4, 10, 63);
  norm.dy = test::random_matrix(4, 9, 1);
  CHECK_THROWS_WITH(run_row_grad(ex, RowOp::RmsNormBackward, DType::Fp32, {}, norm),
                    "rmsnorm_backward [4, 10] fp32: dy is 4 x 9: expected 4 x 10");
  CHECK_THROWS_WITH(run_row_grad(ex, RowOp::Softmax, DType::Fp32, {}, norm),
                    "softmax [4, 10] fp32: not a backward op: use run_row_op");
}
