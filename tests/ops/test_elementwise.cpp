// SPDX-License-Identifier: MIT
// The elementwise node kernels (runtime/ops/elementwise.h) on the tiny mesh: every op in fp32
// and bf16 bit for bit against the reference in the kernel's order and within the float64
// bound, shapes that do not divide the mesh or the vector registers, rows split over nodes,
// special values, a result kept resident for the next op, the estimate against the simulated
// cycles, and bad arguments.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "../runtime/test_data.h"
#include "hw/config/config_io.h"
#include "ops_test_util.h"
#include "runtime/mesh/executor.h"
#include "runtime/ops/elementwise.h"

using namespace dojosim;
using namespace dojosim::runtime;
using namespace dojosim::runtime::ops;

namespace {

using ops_test::tiny;

const ElementwiseOp kAll[] = {ElementwiseOp::Add, ElementwiseOp::Sub, ElementwiseOp::Mul,
                              ElementwiseOp::BiasAdd, ElementwiseOp::Relu};

// Runs op on the executor and checks it against both references; returns the run.
ElementwiseRun check_op(Executor& ex, ElementwiseOp op, DType dtype, const Matrix& a,
                        const Matrix& b, uint32_t col_parts = 0) {
  INFO(fmt::format("{} {} [{}, {}], b [{}, {}], column blocks {}", elementwise_name(op),
                   dtype_name(dtype), a.rows, a.cols, b.rows, b.cols, col_parts));
  ElementwiseRun r = run_elementwise(ex, op, dtype, a, b, {col_parts, 0});
  REQUIRE(r.run.ok);
  test::require_bit_exact(r.out, elementwise_reference(op, dtype, a, b));
  test::require_within(r.out, elementwise_reference_f64(op, dtype, a, b));
  return r;
}

}  // namespace

TEST_CASE(
    "every elementwise op in fp32 and bf16 equals its references on shapes that do not "
    "divide the mesh",
    "[elementwise]") {
  Executor ex(tiny());
  // 37 rows over 16 nodes; 45 columns: three fp32 registers (the last part padding), two bf16.
  const Matrix a = test::random_matrix(37, 45, 1), b = test::random_matrix(37, 45, 2),
               bias = test::random_matrix(1, 45, 3);
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (ElementwiseOp op : kAll) {
      check_op(ex, op, dtype, a, elementwise_operands(op) == 1 ? Matrix() : bias);
      if (op != ElementwiseOp::BiasAdd && elementwise_operands(op) == 2)
        check_op(ex, op, dtype, a, b);
    }
}

TEST_CASE("rows split over several nodes: fewer rows than nodes, and column blocks forced",
          "[elementwise]") {
  Executor ex(tiny());
  const hw::HardwareConfig config = tiny();
  // 3 rows on 16 nodes: each row over 5 nodes (200 fp32 columns: 13 registers).
  const Matrix a = test::random_matrix(3, 200, 4), b = test::random_matrix(3, 200, 5),
               v = test::random_matrix(1, 200, 6);
  const RowSplit s = split_rows(config, DType::Fp32, 3, 200);
  CHECK(s.col_parts == 5);
  CHECK(s.row_parts == 3);
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    check_op(ex, ElementwiseOp::Mul, dtype, a, b);
    check_op(ex, ElementwiseOp::Sub, dtype, a, v);  // a [cols] vector over the rows
    check_op(ex, ElementwiseOp::BiasAdd, dtype, a, v, 4);
    check_op(ex, ElementwiseOp::Relu, dtype, a, {}, 2);
  }
  // One element, on one node.
  check_op(ex, ElementwiseOp::Add, DType::Bf16, test::random_matrix(1, 1, 7),
           test::random_matrix(1, 1, 8));
}

TEST_CASE("special values: infinities, NaN, signed zeros, overflow and bf16 rounding ties",
          "[elementwise]") {
  Executor ex(tiny());
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf(""),
              big = std::numeric_limits<float>::max();
  // bf16 ties: 1 + 2^-8 is halfway between two bf16 values (rounds to even, 1), 1 + 3 x 2^-8
  // rounds up; both are exact in fp32, so the sum's rounding decides.
  Matrix a(1, 10), b(1, 10);
  a.values = {inf, -inf, nan, -0.0f, 0.0f, big, -1.0f, 1.0f, 1.0f, 3.0f};
  b.values = {1.0f, inf, 2.0f, -0.0f, -0.0f, big, -0.0f, 0.00390625f, 0.01171875f, -3.0f};
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (ElementwiseOp op : kAll) {
      INFO(fmt::format("{} {}", elementwise_name(op), dtype_name(dtype)));
      const ElementwiseRun r = run_elementwise(ex, op, dtype, a, b);  // b: one row, a vector too
      REQUIRE(r.run.ok);
      const Matrix want = elementwise_reference(op, dtype, a, b);
      for (uint32_t c = 0; c < a.cols; ++c) {
        INFO(fmt::format("column {}: {} op {} gives {}, reference {}", c, a.values[c], b.values[c],
                         r.out.values[c], want.values[c]));
        if (std::isnan(want.values[c]))
          CHECK(std::isnan(r.out.values[c]));
        else
          CHECK(test::bits(r.out.values[c]) == test::bits(want.values[c]));
      }
    }
  // What the table promises, spelled out: relu(NaN) is 0 (maximumNumber), inf - inf is NaN,
  // max + max overflows to inf, and the bf16 tie rounds to even.
  CHECK(elementwise_reference(ElementwiseOp::Relu, DType::Fp32, nan, 0) == 0.0f);
  CHECK(std::isnan(elementwise_reference(ElementwiseOp::Add, DType::Fp32, inf, -inf)));
  CHECK(elementwise_reference(ElementwiseOp::Add, DType::Fp32, big, big) == inf);
  CHECK(elementwise_reference(ElementwiseOp::Add, DType::Bf16, 1.0f, 0.00390625f) == 1.0f);
  CHECK(elementwise_reference(ElementwiseOp::Add, DType::Bf16, 1.0f, 0.01171875f) == 1.015625f);
}

TEST_CASE("a result stays resident in SRAM and feeds the next op without the host",
          "[elementwise][resident]") {
  // relu(a + b) x c: three kernels on one machine; only a, b, c are written and the final
  // product read.
  const hw::HardwareConfig config = tiny();
  Executor ex(config);
  const Matrix a = test::random_matrix(50, 70, 9), b = test::random_matrix(50, 70, 10),
               c = test::random_matrix(50, 70, 11);
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    ElementwiseProblem p;
    p.split = split_rows(config, dtype, 50, 70);
    const uint64_t bytes = p.split.bytes(), base = 0x10000;
    const uint64_t at_a = base, at_b = base + bytes, at_c = base + 2 * bytes,
                   at_sum = base + 3 * bytes;
    write_tensor(ex.machine(), p.split, at_a, a);
    write_tensor(ex.machine(), p.split, at_b, b);
    write_tensor(ex.machine(), p.split, at_c, c);
    p.op = ElementwiseOp::Add, p.a = at_a, p.b = at_b, p.out = at_sum;
    REQUIRE(ex.run(ElementwiseKernel(config, p)).ok);
    p.op = ElementwiseOp::Relu, p.a = at_sum, p.b = 0, p.out = at_sum;  // in place
    REQUIRE(ex.run(ElementwiseKernel(config, p)).ok);
    p.op = ElementwiseOp::Mul, p.a = at_sum, p.b = at_c, p.out = at_a;
    REQUIRE(ex.run(ElementwiseKernel(config, p)).ok);
    const Matrix sum = elementwise_reference(ElementwiseOp::Add, dtype, a, b);
    const Matrix relu = elementwise_reference(ElementwiseOp::Relu, dtype, sum, {});
    test::require_bit_exact(read_tensor(ex.machine(), p.split, at_a),
                            elementwise_reference(ElementwiseOp::Mul, dtype, relu, c));
  }
}

TEST_CASE("the elementwise estimate from the config is within 30% of the simulated cycles",
          "[elementwise][estimate]") {
  Executor ex(tiny());
  struct Case {
    ElementwiseOp op;
    DType dtype;
    uint32_t rows, cols, b_rows;
  };
  const Case cases[] = {
      {ElementwiseOp::Add, DType::Fp32, 256, 256, 256},
      {ElementwiseOp::Mul, DType::Bf16, 64, 1024, 64},
      {ElementwiseOp::BiasAdd, DType::Fp32, 512, 96, 1},
      {ElementwiseOp::Relu, DType::Bf16, 300, 100, 0},
      {ElementwiseOp::Sub, DType::Fp32, 4, 4096, 1},
      {ElementwiseOp::Add, DType::Fp32, 20, 20, 20},
  };
  for (const Case& k : cases) {
    const Matrix a = test::random_matrix(k.rows, k.cols, 12),
                 b = k.b_rows ? test::random_matrix(k.b_rows, k.cols, 13) : Matrix();
    const ElementwiseRun r = run_elementwise(ex, k.op, k.dtype, a, b);
    REQUIRE(r.run.ok);
    INFO(fmt::format("{} {} [{}, {}]: estimate {:.0f}, simulated {}", elementwise_name(k.op),
                     dtype_name(k.dtype), k.rows, k.cols, r.estimate, r.run.cycles));
    CHECK(r.estimate == Approx(double(r.run.cycles)).epsilon(0.30));
  }
}

TEST_CASE("bad elementwise arguments are refused naming the op and what was expected",
          "[elementwise][errors]") {
  const hw::HardwareConfig config = tiny();
  Executor ex(config);
  const Matrix a = test::random_matrix(4, 5, 1);
  CHECK_THROWS_WITH(
      run_elementwise(ex, ElementwiseOp::Add, DType::Fp32, a, Matrix(4, 6)),
      "add [4, 5]: b is [4, 6]: expected [4, 5] or [1, 5] (a [5] vector over the rows)");
  CHECK_THROWS_WITH(run_elementwise(ex, ElementwiseOp::BiasAdd, DType::Fp32, a, Matrix(4, 5)),
                    "bias_add [4, 5]: b is [4, 5]: expected [1, 5] (a [5] vector over the rows)");
  CHECK_THROWS_WITH(run_elementwise(ex, ElementwiseOp::Mul, DType::Cfp8, a, a),
                    "tensor dtype cfp8: expected fp32 or bf16");
  CHECK_THROWS_WITH(run_elementwise(ex, ElementwiseOp::Relu, DType::Fp32, Matrix(0, 5), {}),
                    "tensor [0, 5]: expected at least one row and one column");
  CHECK_THROWS_WITH(split_rows(config, DType::Fp32, 4, 20, 3),
                    Catch::Contains("3 column blocks: expected at most 2"));
  CHECK_THROWS_WITH(
      parse_elementwise("div"),
      "elementwise op 'div': expected one of add, sub, mul, bias_add, relu, relu_backward");

  ElementwiseProblem p;
  p.op = ElementwiseOp::Add;
  p.split = split_rows(config, DType::Fp32, 4, 5);
  p.a = 0x10000, p.b = 0x10040, p.out = 0x10020;
  CHECK_THROWS_WITH(ElementwiseKernel(config, p),
                    "add [4, 5] fp32: out at SRAM 0x10020: expected a multiple of 64");
  p.out = 0;
  CHECK_THROWS_WITH(
      ElementwiseKernel(config, p),
      Catch::StartsWith("add [4, 5] fp32: out at SRAM 0x0: inside the program image"));
  p.out = config.node.core.sram_bytes - 64;
  CHECK_THROWS_WITH(ElementwiseKernel(config, p),
                    Catch::Contains("where the 4 stacks of 256 bytes begin"));
  p.op = ElementwiseOp::BiasAdd, p.out = 0x10080;
  CHECK_THROWS_WITH(ElementwiseKernel(config, p), "bias_add [4, 5] fp32: b must be a [5] vector");
}
