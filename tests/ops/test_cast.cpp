// SPDX-License-Identifier: MIT
// The cast node kernel (runtime/ops/cast.h) on the tiny mesh: every pair of fp32 and bf16, with
// and without a factor, nearest and stochastic rounding, bit for bit against the reference
// (stochastic draws included) and within the float64 bound; shapes whose rows are odd numbers of
// fp32 registers; the statistics of stochastic rounding; the seed; bad arguments.
#include <boost/math/distributions/binomial.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "../runtime/test_data.h"
#include "isa/formats.h"
#include "ops_test_util.h"
#include "runtime/mesh/executor.h"
#include "runtime/ops/cast.h"

using namespace dojosim;
using namespace dojosim::runtime;
using namespace dojosim::runtime::ops;

namespace {

using ops_test::tiny;

CastProblem options(float factor, isa::Rounding rounding, uint64_t seed = 7) {
  CastProblem p;
  p.factor = factor;
  p.rounding = rounding;
  p.seed = seed;
  return p;
}

// f64: the float64 check too (not for infinities and NaN, which it cannot subtract).
Matrix check_cast(Executor& ex, DType from, DType to, const Matrix& x, const CastProblem& o,
                  bool f64 = true) {
  INFO(fmt::format("cast {} -> {} [{}, {}] factor {} {}", dtype_name(from), dtype_name(to), x.rows,
                   x.cols, o.factor,
                   o.rounding == isa::Rounding::Stochastic ? "stochastic" : "nearest"));
  Matrix in = x;
  if (from == DType::Bf16)
    for (float& v : in.values)
      v = isa::bf16_to_f32(isa::f32_to_bf16(v, isa::Rounding::NearestEven));
  const CastRun r = run_cast(ex, from, to, in, o);
  REQUIRE(r.run.ok);
  test::require_bit_exact(r.out, cast_reference(r.problem, in, cast_threads(ex.config())));
  if (f64) test::require_within(r.out, cast_reference_f64(r.problem, in));
  return r.out;
}

}  // namespace

TEST_CASE("cast between fp32 and bf16 equals its references, stochastic draws included", "[cast]") {
  Executor ex(tiny());
  const Matrix x = test::random_matrix(37, 45, 1);     // 45 columns: 3 fp32 registers, 2 bf16
  const Matrix wide = test::random_matrix(5, 300, 2);  // rows over several nodes
  for (const Matrix* m : {&x, &wide})
    for (DType from : {DType::Fp32, DType::Bf16})
      for (DType to : {DType::Fp32, DType::Bf16})
        for (float factor : {1.0f, 0.25f, 3.0f})
          for (isa::Rounding r : {isa::Rounding::NearestEven, isa::Rounding::Stochastic})
            check_cast(ex, from, to, *m, options(factor, r));
}

TEST_CASE("cast keeps special values as the conversion instructions do", "[cast]") {
  Executor ex(tiny());
  const float inf = std::numeric_limits<float>::infinity();
  Matrix x(2, 5);
  x.values = {inf, -inf, std::nanf(""), 0.0f, -0.0f, 3e38f, 1e-40f, -1e-41f, 1.0f, -2.5f};
  for (isa::Rounding r : {isa::Rounding::NearestEven, isa::Rounding::Stochastic}) {
    const Matrix y = check_cast(ex, DType::Fp32, DType::Bf16, x, options(1.0f, r), false);
    CHECK(y.at(0, 0) == inf);
    CHECK(std::isnan(y.at(0, 2)));
    CHECK(std::signbit(y.at(0, 4)));
    CHECK(y.at(1, 3) == 1.0f);
  }
}

TEST_CASE("stochastic rounding is unbiased, draws differ between nodes, and the seed decides",
          "[cast]") {
  Executor ex(tiny());
  // A quarter of the way from 1 to the next bf16 value (1 + 2^-7): rounds up with p = 1/4.
  const float x0 = 1.0f + 0.25f * 0x1.0p-7f;
  Matrix x(64, 256);
  for (float& v : x.values) v = x0;
  const Matrix a =
      check_cast(ex, DType::Fp32, DType::Bf16, x, options(1, isa::Rounding::Stochastic));
  size_t ups = 0;
  for (float v : a.values) {
    REQUIRE((v == 1.0f || v == 1.0f + 0x1.0p-7f));
    ups += v > 1.0f;
  }
  const boost::math::binomial_distribution<double> dist(double(a.values.size()), 0.25);
  CHECK(double(ups) >= boost::math::quantile(dist, 1e-9));
  CHECK(double(ups) <= boost::math::quantile(boost::math::complement(dist, 1e-9)));
  // Rows 0 and 32 lie on different nodes (16 nodes, 4 rows each), rows 0 and 1 on one node
  // but different threads: their draws differ.
  for (uint32_t other : {32u, 1u}) {
    size_t same = 0;
    for (uint32_t c = 0; c < x.cols; ++c) same += a.at(0, c) == a.at(other, c);
    CHECK(same < x.cols);
  }
  // The same seed gives the same bits; another seed others.
  const Matrix b =
      check_cast(ex, DType::Fp32, DType::Bf16, x, options(1, isa::Rounding::Stochastic));
  const Matrix c =
      check_cast(ex, DType::Fp32, DType::Bf16, x, options(1, isa::Rounding::Stochastic, 8));
  CHECK(a.values == b.values);
  CHECK(a.values != c.values);
  // Nearest rounds every one down.
  const Matrix n =
      check_cast(ex, DType::Fp32, DType::Bf16, x, options(1, isa::Rounding::NearestEven));
  for (float v : n.values) REQUIRE(v == 1.0f);
}

TEST_CASE("cast refuses a dtype it does not run and splits that differ", "[cast]") {
  const hw::HardwareConfig config = tiny();
  CastProblem p;
  p.in = split_rows(config, DType::Bf16, 8, 64);
  p.out = with_dtype(p.in, DType::Cfp8);
  p.x = 1 << 16, p.y = 1 << 17;
  CHECK_THROWS_WITH(CastKernel(config, p),
                    Catch::Contains("cfp8 is not run: expected fp32 or bf16"));
  p.out = split_rows(config, DType::Fp32, 8, 64, 1);
  CHECK_THROWS_WITH(CastKernel(config, p), Catch::Contains("x and y must be split alike"));
}
