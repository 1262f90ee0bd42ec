// SPDX-License-Identifier: MIT
// The row ops (runtime/ops/row_ops.h: softmax, layernorm, rmsnorm) on the tiny mesh: fp32 and
// bf16, rows on one node and rows split over several nodes (partials combined by pushes), bit
// for bit against the reference in the kernel's order and within the float64 bound; the
// causal mask; special values; the estimate; bad arguments.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "../runtime/test_data.h"
#include "hw/config/config_io.h"
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

// Runs op and checks it against both references; returns the run.
RowOpRun check_row_op(Executor& ex, RowOp op, DType dtype, const Matrix& x,
                      const RowOpParams& params = {}, uint32_t col_parts = 0) {
  const std::vector<float> gamma = random_vector(x.cols, 21), beta = random_vector(x.cols, 22);
  const bool g = op != RowOp::Softmax, b = op == RowOp::LayerNorm;
  INFO(fmt::format("{} {} [{}, {}], column blocks {}", row_op_name(op), dtype_name(dtype), x.rows,
                   x.cols, col_parts));
  RowOpRun r = run_row_op(ex, op, dtype, params, x, g ? gamma : std::vector<float>{},
                          b ? beta : std::vector<float>{}, {col_parts, 0});
  REQUIRE(r.run.ok);
  test::require_bit_exact(r.out, row_op_reference(op, r.split, params, x, gamma, beta));
  test::require_within(r.out, row_op_reference_f64(op, r.split, params, x, gamma, beta));
  return r;
}

// Values of a wider range than random_matrix's, so that softmax's exponentials differ.
Matrix spread(uint32_t rows, uint32_t cols, uint32_t seed) {
  Matrix m = test::random_matrix(rows, cols, seed);
  for (float& v : m.values) v *= 4.0f;
  return m;
}

}  // namespace

TEST_CASE("softmax, layernorm and rmsnorm equal their references with rows on one node",
          "[rowops]") {
  Executor ex(tiny());
  // 37 rows on 16 nodes; 45 columns: the last register partly padding.
  const Matrix x = spread(37, 45, 1);
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (RowOp op : {RowOp::Softmax, RowOp::LayerNorm, RowOp::RmsNorm}) {
      const RowOpRun r = check_row_op(ex, op, dtype, x);
      CHECK(r.split.col_parts == 1);
    }
}

TEST_CASE("rows split over several nodes combine their partials with pushes", "[rowops]") {
  Executor ex(tiny());
  // 3 rows of 200 columns on 16 nodes: each row over 5 nodes (fp32: 13 registers, bf16: 7).
  const Matrix x = spread(3, 200, 2);
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (RowOp op : {RowOp::Softmax, RowOp::LayerNorm, RowOp::RmsNorm}) {
      const RowOpRun r = check_row_op(ex, op, dtype, x);
      CHECK(r.split.col_parts > 1);
      check_row_op(ex, op, dtype, spread(9, 100, 3), {}, 2);  // forced: 2 column blocks
    }
  // Softmax with a scale and a long row over 4 nodes of a full mesh of rows.
  RowOpParams p;
  p.scale = 0.125f;
  check_row_op(ex, RowOp::Softmax, DType::Bf16, spread(4, 1000, 4), p, 4);
}

TEST_CASE("causal softmax masks the future of each row, also split over nodes", "[rowops]") {
  Executor ex(tiny());
  RowOpParams p;
  p.causal = true;
  p.causal_rows = 8;  // two [8, 40] score matrices: row i sees columns j <= i + 32
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (uint32_t parts : {1u, 2u, dtype == DType::Fp32 ? 3u : 1u}) {  // bf16: 2 registers
      const RowOpRun r = check_row_op(ex, RowOp::Softmax, dtype, spread(16, 40, 5), p, parts);
      for (uint32_t row = 0; row < 16; ++row)
        for (uint32_t c = row % 8 + 33; c < 40; ++c) CHECK(r.out.at(row, c) == 0.0f);
    }
  p.causal_rows = 0;  // one square [24, 24] matrix: row i sees j <= i
  check_row_op(ex, RowOp::Softmax, DType::Fp32, spread(24, 24, 6), p);
}

TEST_CASE("row ops on special values: a constant row, a dominant element, a huge negative one",
          "[rowops]") {
  Executor ex(tiny());
  Matrix x(3, 20, 1.5f);
  x.at(1, 7) = 80.0f;   // softmax: one element takes everything
  x.at(2, 3) = -1e30f;  // softmax: its exponential underflows to 0
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    const RowOpParams p;
    const std::vector<float> ones(20, 1.0f), zeros(20, 0.0f);
    const RowOpRun s = run_row_op(ex, RowOp::Softmax, dtype, p, x);
    REQUIRE(s.run.ok);
    test::require_bit_exact(s.out, row_op_reference(RowOp::Softmax, s.split, p, x, {}, {}));
    CHECK(s.out.at(1, 7) == 1.0f);
    CHECK(s.out.at(0, 0) == Approx(0.05f).epsilon(0.01));
    const RowOpRun l = run_row_op(ex, RowOp::LayerNorm, dtype, p, x, ones, zeros);
    REQUIRE(l.run.ok);
    test::require_bit_exact(l.out, row_op_reference(RowOp::LayerNorm, l.split, p, x, ones, zeros));
    CHECK(l.out.at(0, 5) == 0.0f);  // a constant row normalises to 0 (variance 0, rsqrt(eps))
  }
}

TEST_CASE("the row-op estimate from the config is within 35% of the simulated cycles",
          "[rowops][estimate]") {
  Executor ex(tiny());
  struct Case {
    RowOp op;
    DType dtype;
    uint32_t rows, cols, parts;
  };
  const Case cases[] = {{RowOp::Softmax, DType::Fp32, 64, 256, 0},
                        {RowOp::LayerNorm, DType::Bf16, 64, 768, 0},
                        {RowOp::RmsNorm, DType::Fp32, 32, 512, 0},
                        {RowOp::Softmax, DType::Bf16, 4, 1024, 4},
                        {RowOp::LayerNorm, DType::Fp32, 8, 768, 2}};
  for (const Case& k : cases) {
    const RowOpRun r = run_row_op(ex, k.op, k.dtype, {}, spread(k.rows, k.cols, 7),
                                  random_vector(k.cols, 8), random_vector(k.cols, 9), {k.parts, 0});
    REQUIRE(r.run.ok);
    INFO(fmt::format("{} {} [{}, {}] over {} column blocks: estimate {:.0f}, simulated {}",
                     row_op_name(k.op), dtype_name(k.dtype), k.rows, k.cols, r.split.col_parts,
                     r.estimate, r.run.cycles));
    CHECK(r.estimate == Approx(double(r.run.cycles)).epsilon(0.35));
  }
}

TEST_CASE("bad row-op arguments are refused naming the op and what was expected",
          "[rowops][errors]") {
  const hw::HardwareConfig config = tiny();
  Executor ex(config);
  const Matrix x = test::random_matrix(4, 5, 1);
  CHECK_THROWS_WITH(run_row_op(ex, RowOp::LayerNorm, DType::Fp32, {}, x, {1, 2, 3, 4, 5}, {1}),
                    "layernorm [4, 5] fp32: beta has 1 values: expected 5");
  CHECK_THROWS_WITH(run_row_op(ex, RowOp::RmsNorm, DType::Bf16, {}, x),
                    "rmsnorm [4, 5] bf16: gamma has 0 values: expected 5");
  CHECK_THROWS_WITH(run_row_op(ex, RowOp::Softmax, DType::Cfp8, {}, x),
                    "tensor dtype cfp8: expected fp32 or bf16");
  RowOpParams causal;
  causal.causal = true;
  causal.causal_rows = 3;
  CHECK_THROWS_WITH(run_row_op(ex, RowOp::Softmax, DType::Fp32, causal, x),
                    "softmax [4, 5] fp32: causal with Sq = 3: expected Sq to divide the rows and "
                    "be at most the 5 columns");
  CHECK_THROWS_WITH(run_row_op(ex, RowOp::RmsNorm, DType::Fp32, causal, x, {1, 2, 3, 4, 5}),
                    "rmsnorm [4, 5] fp32: causal: only softmax masks");
  RowOpProblem p;
  p.op = RowOp::RmsNorm;
  p.split = split_rows(config, DType::Fp32, 4, 5);
  p.x = 0x10000, p.out = 0x10040, p.gamma = 0x10080, p.work = 0x100a0;
  CHECK_THROWS_WITH(RowOpKernel(config, p),
                    "rmsnorm [4, 5] fp32: work at SRAM 0x100a0: expected a multiple of 64");
}
