// SPDX-License-Identifier: MIT
// Errors: each bad input to the matmul kernel and the references, and its message.
#include <catch2/catch.hpp>
#include <functional>

#include "runtime/matmul_node.h"
#include "test_data.h"

using namespace dojosim;
using namespace dojosim::runtime;
using Catch::Matchers::Contains;

namespace {

std::string invalid_argument(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no std::invalid_argument)";
}

MatmulOperands ops_of(uint32_t m, uint32_t n, uint32_t k) {
  return {Matrix(m, k, 1.0f), Matrix(k, n, 1.0f), {}, {}};
}

}  // namespace

TEST_CASE("a zero dimension is named", "[errors]") {
  const isa::CoreConfig config;
  CHECK_THAT(invalid_argument([&] {
               matmul_layout(DType::Bf16, {0, 8, 8}, config);
             }),
             Contains("matmul block 0x8x8: m = 0; every dimension must be at least 1"));
  CHECK_THAT(invalid_argument([&] {
               matmul_layout(DType::Fp32, {8, 8, 0}, config);
             }),
             Contains("k = 0"));
  CHECK_THAT(invalid_argument([&] { run_matmul_on_node({}, ops_of(4, 0, 3), config); }),
             Contains("matmul block 4x0x3: every dimension must be at least 1"));
}

TEST_CASE("a block too large for the node's SRAM says how many bytes it needs", "[errors]") {
  CHECK_THAT(
      invalid_argument([&] { run_matmul_on_node({}, ops_of(1024, 1024, 16), isa::CoreConfig{}); }),
      Contains("matmul block 1024x1024x16 bf16 does not fit in SRAM: it needs") &&
          Contains("(A 32768, B 32768, C 4194304)"));
}

TEST_CASE("operands that do not fit together are named", "[errors]") {
  const isa::CoreConfig config;
  MatmulOperands ops{Matrix(8, 4), Matrix(5, 8), {}, {}};
  CHECK_THAT(invalid_argument([&] { run_matmul_on_node({}, ops, config); }),
             Contains("A is 8x4 but B is 5x8; B needs 4 rows"));
  MatmulSpec bias;
  bias.init = MatmulInit::Bias;
  ops = ops_of(8, 4, 4);
  ops.bias = {1, 2, 3};
  CHECK_THAT(invalid_argument([&] { run_matmul_on_node(bias, ops, config); }),
             Contains("bias has 3 values; C has n = 4 columns"));
  MatmulSpec acc;
  acc.init = MatmulInit::Accumulate;
  ops.c = Matrix(4, 8);
  CHECK_THAT(invalid_argument([&] { run_matmul_on_node(acc, ops, config); }),
             Contains("accumulating into a 4x8 C; the block is 8x4"));
}

TEST_CASE("buffers that overlap, are misaligned or lie outside SRAM are named", "[errors]") {
  const isa::CoreConfig config;
  const MatmulSpec spec;
  const MatmulLayout l = matmul_layout(DType::Bf16, {16, 16, 16}, config);  // A, B 512 B; C 1 KiB
  CHECK_THAT(invalid_argument([&] {
               check_buffers(spec, l, {0x10000, 0x10200, 0x10100}, config.sram_bytes);
             }),
             Contains("C [0x10100, 0x10500) overlaps A [0x10000, 0x10200)"));
  CHECK_THAT(invalid_argument([&] {
               check_buffers(spec, l, {0x10004, 0x20000, 0x30000}, config.sram_bytes);
             }),
             Contains("A at 0x10004 is not 8-byte aligned"));
  CHECK_THAT(invalid_argument([&] {
               check_buffers(spec, l, {0x10000, 0x20000, 0x13ff00}, config.sram_bytes);
             }),
             Contains("C [0x13ff00, 0x140300) (1024 bytes) lies outside the node's 1310720 bytes"));
  CHECK_THAT(invalid_argument([&] {
               matmul_program(spec, l, {0, 0x20000, 0x30000}, config);
             }),
             Contains("A at 0x0 overlaps the program"));
}

TEST_CASE("a matrix unit whose tiles do not fill a vector register is refused", "[errors]") {
  isa::CoreConfig config;
  config.matrix_k = 2;
  CHECK_THAT(invalid_argument([&] {
               matmul_layout(DType::Bf16, {8, 8, 8}, config);
             }),
             Contains("matrix unit 8x8x2 with 64 B vector registers") &&
                 Contains("fill exactly one vector register"));
  CHECK_THAT(invalid_argument([&] { matmul_routine_asm({}, config); }), Contains("8x8x2"));
}

TEST_CASE("packing a matrix larger than its layout is refused", "[errors]") {
  const MatmulLayout l = matmul_layout(DType::Bf16, {8, 8, 4}, isa::CoreConfig{});
  CHECK_THAT(invalid_argument([&] { pack(Matrix(17, 4), l.a); }),
             Contains("a 17x4 matrix does not fit the layout bf16 16x16"));
}

TEST_CASE("a convolution whose window does not fit, or with a zero size, is named", "[errors]") {
  Conv2dShape s;
  s.h = 2, s.w = 5, s.c = 1, s.k = 1, s.r = 3, s.s = 1;
  CHECK_THAT(invalid_argument([&] { check_conv2d(s); }),
             Contains("a 3x1 window with dilation 1x1 does not fit the 2x5 input padded by 0x0"));
  s.r = 1, s.stride_w = 0;
  CHECK_THAT(invalid_argument([&] { check_conv2d(s); }), Contains("stride_w = 0"));
}
