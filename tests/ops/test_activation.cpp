// SPDX-License-Identifier: MIT
// The activation node kernels (runtime/ops/activation.h: gelu, gelu_tanh, silu) on the tiny
// mesh: fp32 and bf16 bit for bit against the reference in the kernel's order and within the
// float64 bound, shapes that do not divide the mesh, special values, the reference's bound over
// a dense sweep, the estimate against the simulated cycles, and bad arguments.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "../runtime/test_data.h"
#include "hw/config/config_io.h"
#include "ops_test_util.h"
#include "runtime/mesh/executor.h"
#include "runtime/ops/activation.h"

using namespace dojosim;
using namespace dojosim::runtime;
using namespace dojosim::runtime::ops;

namespace {

using ops_test::tiny;

const ActivationOp kAll[] = {ActivationOp::Gelu, ActivationOp::GeluTanh, ActivationOp::Silu};

// Values in [-8, 8]: the whole bend of the curves and their tails.
Matrix spread(uint32_t rows, uint32_t cols, uint32_t seed) {
  Matrix m = test::random_matrix(rows, cols, seed);
  for (float& v : m.values) v *= 8.0f;
  return m;
}

ActivationRun check_activation(Executor& ex, ActivationOp op, DType dtype, const Matrix& x,
                               uint32_t col_parts = 0) {
  INFO(fmt::format("{} {} [{}, {}], column blocks {}", activation_name(op), dtype_name(dtype),
                   x.rows, x.cols, col_parts));
  ActivationRun r = run_activation(ex, op, dtype, x, {col_parts, 0});
  REQUIRE(r.run.ok);
  test::require_bit_exact(r.out, activation_reference(op, dtype, x));
  test::require_within(r.out, activation_reference_f64(op, dtype, x));
  return r;
}

}  // namespace

TEST_CASE("gelu, gelu_tanh and silu in fp32 and bf16 equal their references", "[activation]") {
  Executor ex(tiny());
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (ActivationOp op : kAll) {
      check_activation(ex, op, dtype, spread(37, 45, 1));  // 37 rows on 16 nodes, padded rows
      check_activation(ex, op, dtype, spread(3, 200, 2));  // each row over 5 nodes
      check_activation(ex, op, dtype, spread(9, 100, 3), 2);
      check_activation(ex, op, dtype, spread(1, 1, 4));
    }
}

TEST_CASE("the fp32 references stay within the float64 bound over a dense sweep of x",
          "[activation]") {
  // Every 1/64 from -20 to 20, then powers of two out to fp32's range, both signs.
  Matrix x(1, 0);
  for (int i = -20 * 64; i <= 20 * 64; ++i) x.values.push_back(float(i) / 64.0f);
  for (int e = -140; e <= 127; e += 3) {
    x.values.push_back(std::ldexp(1.0f, e));
    x.values.push_back(-std::ldexp(1.5f, std::min(e, 126)));
  }
  x.cols = static_cast<uint32_t>(x.values.size());
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (ActivationOp op : kAll) {
      INFO(fmt::format("{} {}", activation_name(op), dtype_name(dtype)));
      test::require_within(activation_reference(op, dtype, x),
                           activation_reference_f64(op, dtype, x));
    }
}

TEST_CASE("activations on special values: no NaN from a finite x, signed zeros, infinities",
          "[activation]") {
  Executor ex(tiny());
  // big: near fp32's largest and still finite in bf16 (fp32's largest rounds to inf there).
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf(""), big = 3e38f;
  Matrix x(1, 10);
  x.values = {0.0f, -0.0f, big, -big, 1e20f, -1e20f, -100.0f, inf, -inf, nan};
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (ActivationOp op : kAll) {
      INFO(fmt::format("{} {}", activation_name(op), dtype_name(dtype)));
      const ActivationRun r = run_activation(ex, op, dtype, x);
      REQUIRE(r.run.ok);
      const Matrix want = activation_reference(op, dtype, x);
      for (uint32_t c = 0; c < x.cols; ++c) {
        INFO(fmt::format("x = {}: node {}, reference {}", x.values[c], r.out.values[c],
                         want.values[c]));
        if (std::isnan(want.values[c]))
          CHECK(std::isnan(r.out.values[c]));
        else
          CHECK(test::bits(r.out.values[c]) == test::bits(want.values[c]));
        if (std::isfinite(x.values[c])) CHECK(!std::isnan(r.out.values[c]));
      }
      // What the header promises: y(0) = +0, y(-0) = -0 for gelu (the max of two -0s), large
      // x passes through, large -x gives -0.
      CHECK(test::bits(r.out.values[0]) == test::bits(0.0f));
      const auto q = [&](float v) { return dtype == DType::Fp32 ? v : quantize(dtype, v, {}); };
      CHECK(r.out.values[2] == q(big));
      CHECK(r.out.values[4] == q(1e20f));
      CHECK(test::bits(r.out.values[5]) == test::bits(-0.0f));
      CHECK(test::bits(r.out.values[3]) == test::bits(-0.0f));
      CHECK(r.out.values[7] == inf);
      CHECK(std::isnan(r.out.values[9]));
    }
  CHECK(test::bits(activation_reference(ActivationOp::Gelu, DType::Fp32, -0.0f)) ==
        test::bits(-0.0f));
  CHECK(activation_reference(ActivationOp::Gelu, DType::Fp32, -inf) == -inf);
  CHECK(std::isnan(activation_reference(ActivationOp::Silu, DType::Fp32, -inf)));
}

TEST_CASE("an activation runs in place on a resident tensor", "[activation][resident]") {
  const hw::HardwareConfig config = tiny();
  Executor ex(config);
  const Matrix x = spread(40, 33, 5);
  ActivationProblem p;
  p.op = ActivationOp::GeluTanh;
  p.split = split_rows(config, DType::Bf16, 40, 33);
  p.x = p.out = 0x10000;
  write_tensor(ex.machine(), p.split, p.x, x);
  REQUIRE(ex.run(ActivationKernel(config, p)).ok);
  p.op = ActivationOp::Silu;
  REQUIRE(ex.run(ActivationKernel(config, p)).ok);
  const Matrix once = activation_reference(ActivationOp::GeluTanh, DType::Bf16, x);
  test::require_bit_exact(read_tensor(ex.machine(), p.split, p.out),
                          activation_reference(ActivationOp::Silu, DType::Bf16, once));
}

TEST_CASE("the activation estimate from the config is within 30% of the simulated cycles",
          "[activation][estimate]") {
  Executor ex(tiny());
  struct Case {
    ActivationOp op;
    DType dtype;
    uint32_t rows, cols;
  };
  const Case cases[] = {{ActivationOp::Gelu, DType::Fp32, 256, 256},
                        {ActivationOp::GeluTanh, DType::Bf16, 64, 768},
                        {ActivationOp::Silu, DType::Fp32, 300, 100},
                        {ActivationOp::Silu, DType::Bf16, 4, 4096},
                        {ActivationOp::Gelu, DType::Bf16, 20, 20}};
  for (const Case& k : cases) {
    const ActivationRun r = run_activation(ex, k.op, k.dtype, spread(k.rows, k.cols, 6));
    REQUIRE(r.run.ok);
    INFO(fmt::format("{} {} [{}, {}]: estimate {:.0f}, simulated {}", activation_name(k.op),
                     dtype_name(k.dtype), k.rows, k.cols, r.estimate, r.run.cycles));
    CHECK(r.estimate == Approx(double(r.run.cycles)).epsilon(0.30));
  }
}

TEST_CASE("bad activation arguments are refused naming the op and what was expected",
          "[activation][errors]") {
  const hw::HardwareConfig config = tiny();
  Executor ex(config);
  CHECK(parse_activation("gelu") == ActivationOp::Gelu);
  CHECK(parse_activation("gelu", "tanh") == ActivationOp::GeluTanh);
  CHECK(parse_activation("silu") == ActivationOp::Silu);
  CHECK_THROWS_WITH(parse_activation("gelu", "erf"),
                    "gelu: approximate 'erf': expected none or tanh");
  CHECK_THROWS_WITH(parse_activation("silu", "tanh"), "silu: approximate 'tanh': expected none");
  CHECK_THROWS_WITH(
      parse_activation("swish"),
      "activation 'swish': expected gelu, silu, scale, gelu_backward or silu_backward");
  CHECK_THROWS_WITH(run_activation(ex, ActivationOp::Silu, DType::Cfp8, spread(4, 5, 1)),
                    "tensor dtype cfp8: expected fp32 or bf16");
  ActivationProblem p;
  p.op = ActivationOp::Gelu;
  p.split = split_rows(config, DType::Fp32, 4, 5);
  p.x = 0x10000, p.out = 0x10010;
  CHECK_THROWS_WITH(ActivationKernel(config, p),
                    "gelu [4, 5] fp32: out at SRAM 0x10010: expected a multiple of 64");
  p.out = config.node.core.sram_bytes - 64;
  CHECK_THROWS_WITH(ActivationKernel(config, p),
                    Catch::Contains("where the 4 stacks of 256 bytes begin"));
}
