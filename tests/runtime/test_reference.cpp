// SPDX-License-Identifier: MIT
// Fidelity of the references: the documented accumulation order, fma for fp32, the bound,
// im2col.
#include <catch2/catch.hpp>
#include <cmath>

#include "runtime/matmul_node.h"
#include "test_data.h"

using namespace dojosim;
using namespace dojosim::runtime;

TEST_CASE("small integer products are exact in every format", "[reference]") {
  Matrix a(3, 5), b(5, 2);
  for (uint32_t i = 0; i < 3; ++i)
    for (uint32_t k = 0; k < 5; ++k) a.at(i, k) = float(int(i + 2 * k) - 4);
  for (uint32_t k = 0; k < 5; ++k)
    for (uint32_t j = 0; j < 2; ++j) b.at(k, j) = float(int(3 * k) - 5 * int(j));
  for (DType t : {DType::Fp32, DType::Bf16, DType::Cfp8}) {
    const Matrix c = reference_matmul_exact(t, {}, MatmulInit::Zero, {a, b, {}, {}}, 8);
    for (uint32_t i = 0; i < 3; ++i)
      for (uint32_t j = 0; j < 2; ++j) {
        float want = 0;
        for (uint32_t k = 0; k < 5; ++k) want += a.at(i, k) * b.at(k, j);
        CHECK(c.at(i, j) == want);
      }
  }
}

TEST_CASE("bf16 sums in increasing k, rounding each addition, on the node as in the reference",
          "[reference][differential]") {
  // 1 + 3 * 2^-25: in k order each addition rounds back to 1; summed the other way the three
  // small terms would make 1 + 2^-23.
  Matrix a(1, 4), b(4, 1);
  a.values = {1.0f, 0x1p-12f, 0x1p-12f, 0x1p-12f};
  b.values = {1.0f, 0x1p-13f, 0x1p-13f, 0x1p-13f};
  const MatmulOperands ops{a, b, {}, {}};
  CHECK(reference_matmul_exact(DType::Bf16, {}, MatmulInit::Zero, ops, 4).at(0, 0) == 1.0f);
  MatmulSpec spec;
  CHECK(run_matmul_on_node(spec, ops, isa::CoreConfig{}).c.at(0, 0) == 1.0f);
}

TEST_CASE("fp32 accumulates with one rounding per step (fma), on the node as in the reference",
          "[reference][differential]") {
  // (1 + 2^-12)^2 - 1 = 2^-11 + 2^-24 exactly; a separate multiply would lose the 2^-24.
  const Matrix a(1, 1, 1.0f + 0x1p-12f), b(1, 1, 1.0f + 0x1p-12f);
  const MatmulOperands ops{a, b, {}, Matrix(1, 1, -1.0f)};
  const float want = 0x1p-11f + 0x1p-24f;
  CHECK(reference_matmul_exact(DType::Fp32, {}, MatmulInit::Accumulate, ops, 2).at(0, 0) == want);
  MatmulSpec spec;
  spec.dtype = DType::Fp32;
  spec.init = MatmulInit::Accumulate;
  CHECK(run_matmul_on_node(spec, ops, isa::CoreConfig{}).c.at(0, 0) == want);
}

TEST_CASE("the bit-exact reference lies within the float64 reference's bound", "[reference]") {
  const MatmulOperands ops{test::random_matrix(20, 300, 1),
                           test::random_matrix(300, 30, 2),
                           test::random_matrix(1, 30, 3).values,
                           {}};
  for (DType t : {DType::Fp32, DType::Bf16, DType::Cfp8}) {
    INFO(dtype_name(t));
    test::require_within(reference_matmul_exact(t, {}, MatmulInit::Bias, ops, 320),
                         reference_matmul_f64(t, {}, MatmulInit::Bias, ops, 320));
  }
}

TEST_CASE("the relative tolerance is 2u + u^2 + gamma_K (1 + u)^2", "[reference]") {
  const double g1024 = 1024 * 0x1p-24 / (1 - 1024 * 0x1p-24);
  CHECK(matmul_tolerance(DType::Fp32, {}, 1024) == Approx(g1024).epsilon(1e-12));
  CHECK(matmul_tolerance(DType::Bf16, {}, 1024) ==
        Approx(0x1p-7 + 0x1p-16 + g1024 * (1 + 0x1p-8) * (1 + 0x1p-8)).epsilon(1e-12));
  CHECK(matmul_tolerance(DType::Cfp8, {}, 16) > 0x1p-3);  // E4M3: u = 2^-4
}

TEST_CASE("im2col lays out each output's window, zero in the padding", "[reference][conv2d]") {
  Conv2dShape s;
  s.h = 3, s.w = 3, s.c = 1, s.k = 1, s.r = 2, s.s = 2, s.pad_w = 1;
  REQUIRE((s.p() == 2 && s.q() == 4));
  std::vector<float> input(9);
  for (int i = 0; i < 9; ++i) input[i] = float(i + 1);  // 1 2 3 / 4 5 6 / 7 8 9
  const Matrix m = im2col(input, s);
  REQUIRE((m.rows == 8 && m.cols == 4));
  const std::vector<float> row0 = {0, 1, 0, 4}, row3 = {3, 0, 6, 0}, row5 = {4, 5, 7, 8};
  for (uint32_t c = 0; c < 4; ++c) {
    CHECK(m.at(0, c) == row0[c]);
    CHECK(m.at(3, c) == row3[c]);
    CHECK(m.at(5, c) == row5[c]);
  }
}

TEST_CASE("output sizes follow stride, padding and dilation", "[reference][conv2d]") {
  Conv2dShape s;
  s.h = 9, s.w = 7, s.c = 1, s.k = 1, s.r = 3, s.s = 2;
  s.stride_h = 2, s.pad_h = 1, s.dilation_w = 2;
  CHECK(s.p() == 5);  // (9 + 2 - 3) / 2 + 1
  CHECK(s.q() == 5);  // (7 - 3) / 1 + 1, the window spans 3 columns
}

TEST_CASE("the bit-exact conv2d equals the direct convolution on exact data",
          "[reference][conv2d]") {
  Conv2dShape s;
  s.n = 2, s.h = 6, s.w = 5, s.c = 3, s.k = 4, s.r = 3, s.s = 3;
  s.stride_w = 2, s.pad_h = 2, s.pad_w = 1, s.dilation_h = 2;
  std::vector<float> input(s.n * s.h * s.w * s.c), weights(s.r * s.s * s.c * s.k);
  for (size_t i = 0; i < input.size(); ++i) input[i] = float(int(i % 7) - 3);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = float(int(i % 5) - 2);
  const std::vector<float> bias = {1, -2, 3, 0.5};
  const Matrix exact = reference_conv2d_exact(DType::Bf16, {}, s, input, weights, &bias, 32);
  const Reference64 direct = reference_conv2d_f64(DType::Bf16, {}, s, input, weights, &bias, 32);
  for (uint32_t r = 0; r < exact.rows; ++r)
    for (uint32_t c = 0; c < exact.cols; ++c) REQUIRE(double(exact.at(r, c)) == direct.at(r, c));
}
