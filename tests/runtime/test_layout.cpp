// SPDX-License-Identifier: MIT
// Regression: the operand layouts of the matmul kernel, as docs/runtime-kernels.md gives them,
// and pack/unpack.
#include <catch2/catch.hpp>

#include "runtime/matmul_kernel.h"
#include "test_data.h"

using namespace dojosim;
using namespace dojosim::runtime;

TEST_CASE("bf16 operands sit in 16-row and 16-column panels of 8x4 and 4x8 tiles", "[layout]") {
  const isa::CoreConfig config;
  const MatmulLayout l = matmul_layout(DType::Bf16, {20, 40, 10}, config);
  // Padded to 16-row blocks, 16-column blocks and 16 along k (4 k-steps of 4).
  CHECK(l.a.rows == 32);
  CHECK(l.a.cols == 16);
  CHECK(l.b.cols == 48);
  CHECK((l.row_blocks == 2 && l.col_blocks == 3 && l.k_iterations == 1));
  const uint64_t panel = 16 * 16 * 2;  // 16 rows (or columns) x 16 k x 2 bytes
  // A: a k-step is two 8x4 row-major tiles (rows 0-7, then 8-15); k-steps follow each other.
  CHECK(l.a.offset(0, 1) == 2);
  CHECK(l.a.offset(1, 0) == 8);
  CHECK(l.a.offset(8, 0) == 64);
  CHECK(l.a.offset(0, 4) == 128);
  CHECK(l.a.offset(16, 0) == panel);
  // B: a k-step is two 4x8 row-major tiles (columns 0-7, then 8-15); panels by columns.
  CHECK(l.b.offset(0, 1) == 2);
  CHECK(l.b.offset(1, 0) == 16);
  CHECK(l.b.offset(0, 8) == 64);
  CHECK(l.b.offset(4, 0) == 128);
  CHECK(l.b.offset(0, 16) == panel);
  // C: 16x16 blocks by rows, each four 8x8 fp32 tiles by rows.
  CHECK(l.c.offset(0, 1) == 4);
  CHECK(l.c.offset(1, 0) == 32);
  CHECK(l.c.offset(0, 8) == 256);
  CHECK(l.c.offset(8, 0) == 512);
  CHECK(l.c.offset(0, 16) == 1024);
  CHECK(l.c.offset(16, 0) == 3 * 1024);
  CHECK(l.d.offset(16, 0) == 3 * 512);
}

TEST_CASE("cfp8 k-steps are 8 wide: 8x8 tiles fill a register", "[layout]") {
  const MatmulLayout l = matmul_layout(DType::Cfp8, {16, 16, 33}, isa::CoreConfig{});
  CHECK(l.a.cols == 64);  // 4 k-steps of 8 per loop iteration
  CHECK(l.a.offset(8, 0) == 64);
  CHECK(l.a.offset(0, 8) == 128);
  CHECK(l.b.offset(8, 0) == 128);
  CHECK(l.b.offset(0, 8) == 64);
}

TEST_CASE("fp32 operands: A in 4-row panels k-major, B in 64-column panels, C in 4x64 blocks",
          "[layout]") {
  const MatmulLayout l = matmul_layout(DType::Fp32, {5, 70, 3}, isa::CoreConfig{});
  CHECK((l.a.rows == 8 && l.a.cols == 4 && l.b.cols == 128));
  CHECK(l.a.offset(1, 0) == 4);
  CHECK(l.a.offset(0, 1) == 16);
  CHECK(l.a.offset(4, 0) == 4 * 16);
  CHECK(l.b.offset(0, 16) == 64);
  CHECK(l.b.offset(1, 0) == 256);
  CHECK(l.b.offset(0, 64) == 4 * 256);
  CHECK(l.c.offset(1, 0) == 256);
  CHECK(l.c.offset(0, 64) == 1024);
  CHECK(l.c.offset(4, 0) == 2 * 1024);
}

TEST_CASE("pack and unpack are inverse, round to the element type and pad with zeros", "[layout]") {
  const isa::CoreConfig config;
  for (DType t : {DType::Fp32, DType::Bf16, DType::Cfp8}) {
    INFO(dtype_name(t));
    const MatmulLayout l = matmul_layout(t, {19, 37, 23}, config);
    const Matrix a = test::random_matrix(19, 23, 1);
    const std::vector<uint8_t> bytes = pack(a, l.a);
    REQUIRE(bytes.size() == l.a.bytes());
    test::require_bit_exact(unpack(bytes.data(), l.a, 19, 23), quantized(a, t, {}));
    const Matrix padded = unpack(bytes.data(), l.a, l.a.rows, l.a.cols);
    for (uint32_t r = 0; r < padded.rows; ++r)
      for (uint32_t c = 0; c < padded.cols; ++c)
        if (r >= 19 || c >= 23) REQUIRE(test::bits(padded.at(r, c)) == 0);
  }
}

TEST_CASE("the bias operand repeats the bias in every row of a C tile", "[layout]") {
  const MatmulLayout l = matmul_layout(DType::Bf16, {8, 20, 4}, isa::CoreConfig{});
  const std::vector<float> bias = test::random_matrix(1, 20, 3).values;
  const std::vector<uint8_t> bytes = pack_bias(bias, l);
  const Matrix rows = unpack(bytes.data(), l.bias, l.bias.rows, 20);
  for (uint32_t r = 0; r < rows.rows; ++r)
    for (uint32_t c = 0; c < 20; ++c) REQUIRE(rows.at(r, c) == bias[c]);
}

TEST_CASE("NHWC and NCHW reorder activations and undo each other", "[layout]") {
  // Value = its NHWC index; element (b, y, x, ch) of a 2 x 3 x 4 x 5 tensor.
  const uint32_t n = 2, h = 3, w = 4, c = 5;
  std::vector<float> nhwc(size_t{n} * h * w * c);
  for (size_t i = 0; i < nhwc.size(); ++i) nhwc[i] = float(i);
  const std::vector<float> nchw = runtime::nhwc_to_nchw(nhwc, n, h, w, c);
  const auto at_nhwc = [&](uint32_t b, uint32_t y, uint32_t x, uint32_t ch) {
    return float(((b * h + y) * w + x) * c + ch);
  };
  const auto at_nchw = [&](uint32_t b, uint32_t y, uint32_t x, uint32_t ch) {
    return nchw[((b * c + ch) * h + y) * w + x];
  };
  CHECK(at_nchw(0, 0, 0, 1) == at_nhwc(0, 0, 0, 1));
  CHECK(at_nchw(1, 2, 3, 4) == at_nhwc(1, 2, 3, 4));
  CHECK(at_nchw(1, 0, 2, 3) == at_nhwc(1, 0, 2, 3));
  CHECK(nchw[1] == 5.0f);  // NCHW's second value is (0, 0, 1, 0): NHWC index 5
  CHECK(runtime::nchw_to_nhwc(nchw, n, h, w, c) == nhwc);
}
