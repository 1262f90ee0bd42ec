// SPDX-License-Identifier: MIT
// softmax_cross_entropy (runtime/ops/row_ops.h) on the tiny mesh: fp32 and bf16 logits, rows
// and classes that do not divide the mesh, a row split over several nodes, many row groups
// summed by pushes into the first node, mean and sum; bit for bit against the reference in the
// kernel's order and within the float64 bound; the estimate; bad labels.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
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

// Logits of a wider range than random_matrix's, so that the exponentials differ.
Matrix logits(uint32_t rows, uint32_t cols, uint32_t seed) {
  Matrix m = test::random_matrix(rows, cols, seed);
  for (float& v : m.values) v *= 4.0f;
  return m;
}

// Runs the loss and checks it against both references; returns the run.
RowOpRun check_loss(Executor& ex, DType dtype, const Matrix& x, const std::vector<int32_t>& labels,
                    bool mean, uint32_t col_parts = 0, DType loss = DType::Fp32) {
  RowOpParams p;
  p.mean = mean;
  p.loss_dtype = loss;
  INFO(fmt::format("{} [{}, {}], {}, column blocks {}, loss {}", dtype_name(dtype), x.rows, x.cols,
                   mean ? "mean" : "sum", col_parts, dtype_name(loss)));
  RowOpRun r = run_cross_entropy(ex, dtype, p, x, labels, {col_parts, 0});
  REQUIRE(r.run.ok);
  test::require_bit_exact(r.out, cross_entropy_reference(r.split, p, x, labels));
  test::require_within(r.out, cross_entropy_reference_f64(r.split, p, x, labels));
  return r;
}

}  // namespace

TEST_CASE("the cross-entropy equals its references with rows on one node and many row groups",
          "[rowops][xent]") {
  Executor ex(tiny());
  // 37 rows on 16 nodes (row blocks of 2 and 3: 16 groups push their sums to the first node);
  // 45 classes: the last register partly padding.
  const Matrix x = logits(37, 45, 1);
  const std::vector<int32_t> labels = test::random_indices(37, 45, 2);
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (bool mean : {true, false}) {
      const RowOpRun r = check_loss(ex, dtype, x, labels, mean);
      CHECK(r.split.col_parts == 1);
      CHECK(r.split.row_parts == 16);
    }
  // One row on one node; 10 classes as the MLP's.
  check_loss(ex, DType::Fp32, logits(1, 10, 3), {7}, true);
}

TEST_CASE("a row split over several nodes gathers the label's logit and its sums with pushes",
          "[rowops][xent]") {
  Executor ex(tiny());
  // 3 rows of 200 classes: each row over 5 nodes; labels in the first, a middle and the last
  // column block.
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (bool mean : {true, false}) {
      const RowOpRun r = check_loss(ex, dtype, logits(3, 200, 4), {0, 101, 199}, mean);
      CHECK(r.split.col_parts > 1);
      // Forced: 2 column blocks over 8 row groups.
      check_loss(ex, dtype, logits(9, 100, 5), test::random_indices(9, 100, 6), mean, 2);
    }
  // A long row over 4 nodes, a bf16 loss.
  check_loss(ex, DType::Bf16, logits(4, 1000, 7), {999, 0, 640, 333}, true, 4, DType::Bf16);
}

TEST_CASE("the loss is near 0 where the label's logit dominates and log C where all are equal",
          "[rowops][xent]") {
  Executor ex(tiny());
  Matrix x(4, 20, 1.5f);
  const std::vector<int32_t> labels = {3, 3, 19, 0};
  for (uint32_t r = 0; r < 2; ++r) x.at(r, 3) = 60.0f;  // rows 0, 1: exp(-58.5) is nothing
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    const RowOpRun r = check_loss(ex, dtype, x, labels, false);
    // Rows 2 and 3 are constant: log(20) each.
    CHECK(r.out.at(0, 0) == Approx(2 * std::log(20.0)).epsilon(1e-6));
  }
}

TEST_CASE("the cross-entropy estimate from the config is within 35% of the simulated cycles",
          "[rowops][xent][estimate]") {
  Executor ex(tiny());
  struct Case {
    DType dtype;
    uint32_t rows, cols, parts;
  };
  const Case cases[] = {{DType::Fp32, 64, 256, 0},
                        {DType::Bf16, 64, 1000, 0},
                        {DType::Fp32, 32, 10, 0},
                        {DType::Bf16, 4, 1024, 4}};
  for (const Case& k : cases) {
    RowOpParams p;
    const RowOpRun r = run_cross_entropy(ex, k.dtype, p, logits(k.rows, k.cols, 8),
                                         test::random_indices(k.rows, k.cols, 9), {k.parts, 0});
    REQUIRE(r.run.ok);
    INFO(fmt::format("{} [{}, {}] over {} column blocks: estimate {:.0f}, simulated {}",
                     dtype_name(k.dtype), k.rows, k.cols, r.split.col_parts, r.estimate,
                     r.run.cycles));
    CHECK(r.estimate == Approx(double(r.run.cycles)).epsilon(0.35));
  }
}

TEST_CASE("labels outside 0 to C - 1 and a wrong count are refused before the run",
          "[rowops][xent][errors]") {
  Executor ex(tiny());
  const Matrix x = test::random_matrix(4, 5, 1);
  CHECK_THROWS_WITH(run_cross_entropy(ex, DType::Fp32, {}, x, {0, 1, 5, 2}),
                    "softmax_cross_entropy [4, 5] fp32: label 5 at row 2 is out of range: "
                    "expected 0 <= label < C = 5");
  CHECK_THROWS_WITH(run_cross_entropy(ex, DType::Bf16, {}, x, {0, -1, 1, 2}),
                    "softmax_cross_entropy [4, 5] bf16: label -1 at row 1 is out of range: "
                    "expected 0 <= label < C = 5");
  CHECK_THROWS_WITH(run_cross_entropy(ex, DType::Fp32, {}, x, {0, 1}),
                    "softmax_cross_entropy [4, 5] fp32: 2 labels: expected one per row, 4");
  CHECK_THROWS_WITH(
      run_row_op(ex, RowOp::SoftmaxCrossEntropy, DType::Fp32, {}, x),
      "softmax_cross_entropy: takes labels and gives a scalar: use run_cross_entropy");
  RowOpParams cfp8;
  cfp8.loss_dtype = DType::Cfp8;
  CHECK_THROWS_WITH(run_cross_entropy(ex, DType::Fp32, cfp8, x, {0, 1, 2, 3}),
                    "softmax_cross_entropy [4, 5] fp32: the loss's dtype cfp8: expected fp32 or "
                    "bf16");
}
