// SPDX-License-Identifier: MIT
// The batchnorm node kernel (runtime/ops/batchnorm.h) on the tiny mesh: fp32 and bf16 bit for
// bit against the reference in the kernel's order and within the float64 bound, shapes that do
// not divide the mesh, channels split over nodes, special values, a resident run, the estimate
// against the simulated cycles, and bad arguments.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "../runtime/test_data.h"
#include "hw/config/config_io.h"
#include "ops_test_util.h"
#include "runtime/mesh/executor.h"
#include "runtime/ops/batchnorm.h"

using namespace dojosim;
using namespace dojosim::runtime;
using namespace dojosim::runtime::ops;

namespace {

using ops_test::tiny;

// Channels as a trained network has them: scale around 1, bias and mean small, variance
// positive and spread over a few decades.
BatchNormChannels channels(uint32_t c, uint32_t seed) {
  BatchNormChannels ch;
  const Matrix r = test::random_matrix(4, c, seed);
  for (uint32_t i = 0; i < c; ++i) {
    ch.scale.push_back(1.0f + 0.5f * r.at(0, i));
    ch.bias.push_back(0.3f * r.at(1, i));
    ch.mean.push_back(2.0f * r.at(2, i));
    ch.variance.push_back(std::exp(3.0f * r.at(3, i)));
  }
  return ch;
}

BatchNormRun check_batchnorm(Executor& ex, DType dtype, const Matrix& x, float epsilon = 1e-5f,
                             uint32_t col_parts = 0) {
  INFO(fmt::format("batchnorm {} [{}, {}], column blocks {}", dtype_name(dtype), x.rows, x.cols,
                   col_parts));
  const BatchNormChannels ch = channels(x.cols, x.rows + x.cols);
  BatchNormRun r = run_batchnorm(ex, dtype, epsilon, x, ch, {col_parts, 0});
  REQUIRE(r.run.ok);
  test::require_bit_exact(r.out, batchnorm_reference(dtype, epsilon, x, ch));
  test::require_within(r.out, batchnorm_reference_f64(dtype, epsilon, x, ch));
  return r;
}

Matrix spread(uint32_t rows, uint32_t cols, uint32_t seed) {
  Matrix m = test::random_matrix(rows, cols, seed);
  for (float& v : m.values) v *= 5.0f;
  return m;
}

}  // namespace

TEST_CASE("batchnorm in fp32 and bf16 equals its references on shapes that do not divide the mesh",
          "[batchnorm]") {
  Executor ex(tiny());
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    check_batchnorm(ex, dtype, spread(37, 45, 1));  // rows on every node, padded rows
    check_batchnorm(ex, dtype, spread(3, 200, 2));  // channels split over 5 nodes
    check_batchnorm(ex, dtype, spread(9, 100, 3), 0.1f, 2);
    check_batchnorm(ex, dtype, spread(2, 1, 4));            // one channel
    check_batchnorm(ex, dtype, spread(130, 64, 5), 1e-3f);  // more rows than threads x nodes
  }
}

TEST_CASE("batchnorm special values: zero variance, a constant channel, infinities, NaN",
          "[batchnorm]") {
  Executor ex(tiny());
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  Matrix x(2, 6);
  x.values = {1.0f, -2.0f, inf, nan, 0.5f, 3.0f, 1.0f, 7.0f, -inf, 1.0f, 0.5f, -3.0f};
  BatchNormChannels ch;
  ch.scale = {1.0f, 2.0f, 1.0f, 1.0f, 0.0f, 1.0f};
  ch.bias = {0.0f, 1.0f, 0.0f, 0.0f, 4.0f, 0.0f};
  ch.mean = {1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  ch.variance = {0.0f, 1.0f, 1.0f, 1.0f, 1.0f, -1.0f};  // -1: NaN for its channel
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    INFO(dtype_name(dtype));
    const BatchNormRun r = run_batchnorm(ex, dtype, 1e-5f, x, ch);
    REQUIRE(r.run.ok);
    const Matrix want = batchnorm_reference(dtype, 1e-5f, x, ch);
    for (size_t i = 0; i < x.values.size(); ++i) {
      INFO(fmt::format("element {}: node {}, reference {}", i, r.out.values[i], want.values[i]));
      if (std::isnan(want.values[i]))
        CHECK(std::isnan(r.out.values[i]));
      else
        CHECK(test::bits(r.out.values[i]) == test::bits(want.values[i]));
    }
    CHECK(r.out.at(0, 0) == 0.0f);  // x = mean: exactly the bias, whatever the variance
    CHECK(r.out.at(0, 2) == inf);
    CHECK(r.out.at(1, 2) == -inf);
    CHECK(std::isnan(r.out.at(0, 3)));
    CHECK(r.out.at(0, 4) == 4.0f);  // scale 0: the bias
    CHECK(std::isnan(r.out.at(0, 5)));
  }
}

TEST_CASE("batchnorm runs on a resident tensor in place, folding its channels on the node",
          "[batchnorm][resident]") {
  const hw::HardwareConfig config = tiny();
  Executor ex(config);
  const Matrix x = spread(50, 70, 6);
  const BatchNormChannels ch = channels(70, 7);
  BatchNormProblem p;
  p.split = split_rows(config, DType::Bf16, 50, 70);
  const uint64_t v = p.split.vector_bytes(), base = 0x10000;
  p.x = p.out = base;
  p.scale = base + p.split.bytes(), p.bias = p.scale + v, p.mean = p.bias + v;
  p.variance = p.mean + v, p.work = p.variance + v;
  write_tensor(ex.machine(), p.split, p.x, x);
  write_vector(ex.machine(), p.split, p.scale, ch.scale);
  write_vector(ex.machine(), p.split, p.bias, ch.bias);
  write_vector(ex.machine(), p.split, p.mean, ch.mean);
  write_vector(ex.machine(), p.split, p.variance, ch.variance);
  REQUIRE(ex.run(BatchNormKernel(config, p)).ok);
  test::require_bit_exact(read_tensor(ex.machine(), p.split, p.out),
                          batchnorm_reference(DType::Bf16, 1e-5f, x, ch));
}

TEST_CASE("the batchnorm estimate from the config is within 30% of the simulated cycles",
          "[batchnorm][estimate]") {
  Executor ex(tiny());
  struct Case {
    DType dtype;
    uint32_t rows, cols;
  };
  const Case cases[] = {{DType::Fp32, 256, 256},
                        {DType::Bf16, 512, 64},
                        {DType::Fp32, 4, 4096},
                        {DType::Bf16, 20, 20},
                        {DType::Bf16, 64, 768}};
  for (const Case& k : cases) {
    const BatchNormRun r =
        run_batchnorm(ex, k.dtype, 1e-5f, spread(k.rows, k.cols, 8), channels(k.cols, 9));
    REQUIRE(r.run.ok);
    INFO(fmt::format("batchnorm {} [{}, {}]: estimate {:.0f}, simulated {}", dtype_name(k.dtype),
                     k.rows, k.cols, r.estimate, r.run.cycles));
    CHECK(r.estimate == Approx(double(r.run.cycles)).epsilon(0.30));
  }
}

TEST_CASE("bad batchnorm arguments are refused naming the op and what was expected",
          "[batchnorm][errors]") {
  const hw::HardwareConfig config = tiny();
  Executor ex(config);
  const Matrix x = spread(4, 5, 1);
  BatchNormChannels ch = channels(5, 2);
  ch.variance.pop_back();
  CHECK_THROWS_WITH(run_batchnorm(ex, DType::Fp32, 1e-5f, x, ch),
                    "batchnorm [4, 5] fp32: variance has 4 values: expected 5");
  CHECK_THROWS_WITH(run_batchnorm(ex, DType::Fp32, 0.0f, x, channels(5, 2)),
                    "batchnorm [4, 5] fp32: epsilon 0: expected a positive finite number");
  CHECK_THROWS_WITH(run_batchnorm(ex, DType::Cfp8, 1e-5f, x, channels(5, 2)),
                    "tensor dtype cfp8: expected fp32 or bf16");
  BatchNormProblem p;
  p.split = split_rows(config, DType::Fp32, 4, 5);
  p.x = 0x10000, p.out = 0x10040, p.scale = 0x10080, p.bias = 0x100c0, p.mean = 0x10100;
  p.variance = 0x10140, p.work = 0x10190;
  CHECK_THROWS_WITH(BatchNormKernel(config, p),
                    "batchnorm [4, 5] fp32: work at SRAM 0x10190: expected a multiple of 64");
}
