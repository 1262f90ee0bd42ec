// SPDX-License-Identifier: MIT
// The gradient kernels of runtime/ops on the tiny mesh: relu_backward (vgate, elementwise.def),
// silu_backward, gelu_backward in its erf and tanh forms and scale (activation.h), and the sums
// over rows that reduce_sum and batchnorm_backward use (global_avg_pool.h with sum). Each in fp32
// and bf16, bit for bit against the reference in the kernel's order, within the float64 bound,
// and against an independent float64 value computed here (a central difference of the forward
// function for the derivatives, the stated order of the sums redone here), on shapes that do
// not divide the mesh and rows that span nodes.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "../runtime/test_data.h"
#include "ops_test_util.h"
#include "runtime/mesh/executor.h"
#include "runtime/ops/activation.h"
#include "runtime/ops/elementwise.h"
#include "runtime/ops/global_avg_pool.h"

using namespace dojosim;
using namespace dojosim::runtime;
using namespace dojosim::runtime::ops;

namespace {

using ops_test::tiny;

Matrix scaled(Matrix m, float by) {
  for (float& v : m.values) v *= by;
  return m;
}

// The forward functions in double, for central differences.
double gelu(double x) {
  return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
}
double gelu_tanh(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
double silu(double x) {
  return x / (1 + std::exp(-x));
}
double derivative(ActivationOp op, double x) {
  const double h = 1e-5;
  const auto f = op == ActivationOp::GeluBackward       ? gelu
                 : op == ActivationOp::GeluTanhBackward ? gelu_tanh
                                                        : silu;
  return (f(x + h) - f(x - h)) / (2 * h);
}

// dy f'(x) within a tolerance of the format: fp32 (the erf form also carries A-S 7.1.26's
// 1.5e-7 in erf) or one bf16 rounding and a few fp32 ones.
void require_derivative(ActivationOp op, DType dtype, const Matrix& got, const Matrix& dy,
                        const Matrix& x) {
  const Matrix qd = quantized(dy, dtype, {}), qx = quantized(x, dtype, {});
  const double rel = dtype == DType::Fp32 ? 2e-6 : std::ldexp(1.0, -8) + 2e-6;
  for (size_t i = 0; i < got.values.size(); ++i) {
    const double want = qd.values[i] * derivative(op, qx.values[i]);
    const double tol =
        rel * std::fabs(want) + 4e-7 * std::fabs(qd.values[i]) * (1 + std::fabs(qx.values[i]));
    if (!(std::fabs(got.values[i] - want) <= tol))
      FAIL(fmt::format("{} {}: x {} dy {}: got {}, dy f'(x) = {} (tolerance {:.3g})",
                       activation_name(op), dtype_name(dtype), qx.values[i], qd.values[i],
                       got.values[i], want, tol));
  }
}

}  // namespace

TEST_CASE("relu_backward is dy where x > 0, else +0, bit for bit, fp32 and bf16", "[grad]") {
  Executor ex(tiny());
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (auto [rows, cols, parts] : {std::tuple{37u, 45u, 0u}, {3u, 200u, 0u}, {9u, 100u, 2u}}) {
      INFO(fmt::format("{} [{}, {}] column blocks {}", dtype_name(dtype), rows, cols, parts));
      const Matrix dy = test::random_matrix(rows, cols, 1), x = test::random_matrix(rows, cols, 2);
      const ElementwiseRun r =
          run_elementwise(ex, ElementwiseOp::ReluBackward, dtype, dy, x, {parts, 0});
      REQUIRE(r.run.ok);
      test::require_bit_exact(r.out,
                              elementwise_reference(ElementwiseOp::ReluBackward, dtype, dy, x));
      test::require_within(r.out,
                           elementwise_reference_f64(ElementwiseOp::ReluBackward, dtype, dy, x));
      const Matrix qd = quantized(dy, dtype, {}), qx = quantized(x, dtype, {});
      for (size_t i = 0; i < qd.values.size(); ++i) {
        const float want = qx.values[i] > 0 ? qd.values[i] : 0.0f;
        REQUIRE(test::bits(r.out.values[i]) == test::bits(want));
      }
    }
}

TEST_CASE("relu_backward's special values: x zero of either sign or NaN gives +0, dy inf included",
          "[grad]") {
  Executor ex(tiny());
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  Matrix dy(1, 7), x(1, 7);
  dy.values = {-2.0f, inf, -inf, nan, -inf, -3.0f, nan};
  x.values = {0.0f, -0.0f, nan, -1.0f, 1e-30f, 2.0f, 5.0f};
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    const ElementwiseRun r = run_elementwise(ex, ElementwiseOp::ReluBackward, dtype, dy, x);
    REQUIRE(r.run.ok);
    test::require_bit_exact(r.out,
                            elementwise_reference(ElementwiseOp::ReluBackward, dtype, dy, x));
    for (int i = 0; i < 4; ++i) CHECK(test::bits(r.out.values[size_t(i)]) == 0u);
    CHECK(r.out.values[4] == -inf);  // x > 0 (however small) keeps dy
    CHECK(r.out.values[5] == -3.0f);
    CHECK(test::bits(r.out.values[6]) == 0x7FC00000u);  // dy's NaN kept, canonical
  }
}

TEST_CASE("silu_backward and gelu_backward (erf and tanh forms) are dy f'(x), fp32 and bf16",
          "[grad]") {
  Executor ex(tiny());
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (ActivationOp op :
         {ActivationOp::SiluBackward, ActivationOp::GeluBackward, ActivationOp::GeluTanhBackward})
      for (auto [rows, cols, parts, seed] :
           {std::tuple{37u, 45u, 0u, 1u}, {3u, 200u, 0u, 2u}, {9u, 100u, 2u, 3u}}) {
        INFO(fmt::format("{} {} [{}, {}] column blocks {}", activation_name(op), dtype_name(dtype),
                         rows, cols, parts));
        const Matrix x = scaled(test::random_matrix(rows, cols, seed), 6.0f);
        const Matrix dy = scaled(test::random_matrix(rows, cols, seed + 10), 3.0f);
        ActivationOptions options;
        options.col_parts = parts;
        options.dy = &dy;
        const ActivationRun r = run_activation(ex, op, dtype, x, options);
        REQUIRE(r.run.ok);
        test::require_bit_exact(r.out, activation_reference(op, dtype, x, &dy));
        test::require_within(r.out, activation_reference_f64(op, dtype, x, &dy));
        require_derivative(op, dtype, r.out, dy, x);
      }
}

TEST_CASE("the gradients' fp32 references stay within their bound over a dense sweep of x",
          "[grad]") {
  // Every 1/64 from -12 to 12 (the bends, the zero of gelu' near -0.75 and silu' near -1.28,
  // the tails), dy 1 and -3.
  Matrix x(1, 24 * 64 + 1), dy(1, x.cols);
  for (uint32_t i = 0; i < x.cols; ++i) {
    x.values[i] = -12.0f + float(i) / 64.0f;
    dy.values[i] = i % 2 ? 1.0f : -3.0f;
  }
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (ActivationOp op :
         {ActivationOp::SiluBackward, ActivationOp::GeluBackward, ActivationOp::GeluTanhBackward}) {
      INFO(fmt::format("{} {}", activation_name(op), dtype_name(dtype)));
      const Matrix got = activation_reference(op, dtype, x, &dy);
      test::require_within(got, activation_reference_f64(op, dtype, x, &dy));
      require_derivative(op, dtype, got, dy, x);
    }
}

TEST_CASE("scale is fp32(factor x) rounded once to the dtype", "[grad]") {
  Executor ex(tiny());
  const Matrix x = scaled(test::random_matrix(21, 77, 4), 5.0f);
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (float factor : {-1.0f, 0.3f, 1024.0f}) {
      INFO(fmt::format("{} factor {}", dtype_name(dtype), factor));
      ActivationOptions options;
      options.factor = factor;
      const ActivationRun r = run_activation(ex, ActivationOp::Scale, dtype, x, options);
      REQUIRE(r.run.ok);
      test::require_bit_exact(r.out,
                              activation_reference(ActivationOp::Scale, dtype, x, nullptr, factor));
      test::require_within(
          r.out, activation_reference_f64(ActivationOp::Scale, dtype, x, nullptr, factor));
      const Matrix q = quantized(x, dtype, {});
      for (size_t i = 0; i < q.values.size(); ++i) {
        const float product = factor * q.values[i];  // fp32, then the dtype
        const float want = dtype == DType::Fp32 ? product : quantize(dtype, product, {});
        REQUIRE(test::bits(r.out.values[i]) == test::bits(want));
      }
    }
}

TEST_CASE("the sums over rows (reduce_sum) add each node's rows in order, then the nodes' partials",
          "[grad]") {
  Executor ex(tiny());
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (auto [image, parts] : {std::pair{ImageShape{1, 37, 1, 45}, 0u},     // 37 rows on 16 nodes
                                std::pair{ImageShape{3, 13, 1, 40}, 0u},     // images across nodes
                                std::pair{ImageShape{1, 300, 1, 100}, 2u},   // two column blocks
                                std::pair{ImageShape{1, 5, 1, 300}, 0u}}) {  // a row over nodes
      INFO(fmt::format("{} {} column blocks {}", image.str(), dtype_name(dtype), parts));
      const Matrix x = test::random_matrix(image.pixels(), image.c, 7);
      ImageOpOptions options;
      options.col_parts = parts;
      options.sum = true;
      const ImageOpRun r = run_global_avg_pool(ex, dtype, image, x, options);
      REQUIRE(r.run.ok);
      test::require_bit_exact(r.out, global_avg_pool_reference(r.input, image, x, true));
      test::require_within(r.out, global_avg_pool_reference_f64(dtype, image, x, true));
      // The stated order, redone: per node 0 + its rows in order (fp32); the partials of the
      // nodes holding an image's rows added in node order; one rounding to the dtype.
      const Matrix q = quantized(x, dtype, {});
      const RowSplit& in = r.input;
      const uint32_t hw = image.h * image.w;
      for (uint32_t n = 0; n < image.n; ++n)
        for (uint32_t c = 0; c < image.c; ++c) {
          float total = 0;
          bool first = true;
          for (uint32_t i = 0; i < in.row_parts; ++i) {
            const uint32_t r0 = std::max(in.row_start[i], n * hw),
                           r1 = std::min(in.row_start[i + 1], (n + 1) * hw);
            if (r0 >= r1) continue;
            float partial = 0;
            for (uint32_t row = r0; row < r1; ++row) partial += q.at(row, c);
            total = first ? partial : total + partial;
            first = false;
          }
          const float want = dtype == DType::Fp32 ? total : quantize(dtype, total, {});
          REQUIRE(test::bits(r.out.at(n, c)) == test::bits(want));
        }
    }
}
