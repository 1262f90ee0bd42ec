// SPDX-License-Identifier: MIT
// max_pool and avg_pool (runtime/ops/pool.h) on the tiny mesh: fp32 and bf16 bit for bit
// against the reference and within the float64 bound, with windows whose rows lie on other
// nodes (the halo pulled before computing), padding, count_include_pad, odd shapes that do
// not divide the mesh, channels split over nodes, ResNet's 3x3 stride 2 max pool; the
// estimate; bad arguments.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "../runtime/test_data.h"
#include "hw/config/config_io.h"
#include "ops_test_util.h"
#include "runtime/mesh/executor.h"
#include "runtime/ops/global_avg_pool.h"
#include "runtime/ops/pool.h"

using namespace dojosim;
using namespace dojosim::runtime;
using namespace dojosim::runtime::ops;

namespace {

using ops_test::tiny;

PoolWindow window(uint32_t kernel, uint32_t stride, uint32_t pad, bool include_pad = false) {
  return {kernel, kernel, stride, stride, pad, pad, include_pad};
}

ImageOpRun check_pool(Executor& ex, PoolOp op, DType dtype, const ImageShape& image,
                      const PoolWindow& k, uint32_t col_parts = 0) {
  INFO(fmt::format(
      "{} {} {}, kernel [{}, {}], stride [{}, {}], padding [{}, {}]{}, column "
      "blocks {}",
      pool_name(op), image.str(), dtype_name(dtype), k.kernel_h, k.kernel_w, k.stride_h, k.stride_w,
      k.pad_h, k.pad_w, k.count_include_pad ? ", count_include_pad" : "", col_parts));
  const Matrix x = test::random_matrix(image.pixels(), image.c, 7);
  ImageOpRun r = run_pool(ex, op, dtype, image, k, x, {col_parts, 0});
  REQUIRE(r.run.ok);
  test::require_bit_exact(r.out, pool_reference(op, dtype, image, k, x));
  test::require_within(r.out, pool_reference_f64(op, dtype, image, k, x));
  return r;
}

}  // namespace

TEST_CASE("max_pool and avg_pool equal their references with windows across node boundaries",
          "[pool]") {
  Executor ex(tiny());
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (PoolOp op : {PoolOp::Max, PoolOp::Avg}) {
      // ResNet's stem pool (3x3, stride 2, padding 1) on an odd image: 2 x 9 x 11 pixels on
      // 16 nodes, 12 or 13 rows each, so every window's rows above lie on other nodes.
      const ImageOpRun r = check_pool(ex, op, dtype, {2, 9, 11, 45}, window(3, 2, 1));
      CHECK(r.output.rows == 2 * 5 * 6);
      // Overlapping windows at stride 1; 2x2 windows at stride 2 with no padding.
      check_pool(ex, op, dtype, {1, 7, 5, 20}, window(3, 1, 1));
      check_pool(ex, op, dtype, {3, 6, 6, 70}, window(2, 2, 0));
      // A kernel of a different height and width, more output rows than input rows.
      check_pool(ex, op, dtype, {2, 5, 4, 16}, {2, 3, 1, 2, 1, 1, false});
    }
  check_pool(ex, PoolOp::Avg, DType::Fp32, {2, 9, 11, 45}, window(3, 2, 1, true));
  check_pool(ex, PoolOp::Avg, DType::Bf16, {1, 7, 5, 20}, window(3, 1, 1, true));
}

TEST_CASE("pooling with channels split over nodes and one image row per node", "[pool]") {
  Executor ex(tiny());
  for (DType dtype : {DType::Fp32, DType::Bf16})
    for (PoolOp op : {PoolOp::Max, PoolOp::Avg}) {
      // 6 pixel rows of 200 channels: each row over 2 nodes.
      const ImageOpRun r = check_pool(ex, op, dtype, {1, 2, 3, 200}, window(2, 1, 1));
      CHECK(r.input.col_parts == 2);
      check_pool(ex, op, dtype, {2, 4, 4, 100}, window(3, 1, 1), 2);  // forced
    }
}

TEST_CASE("ResNet's stem max pool, 3x3 stride 2 padding 1, on a [1, 112, 112, 64] image",
          "[pool]") {
  Executor ex(tiny());
  const ImageOpRun r = check_pool(ex, PoolOp::Max, DType::Bf16, {1, 112, 112, 64}, window(3, 2, 1));
  CHECK(r.output.rows == 56 * 56);
}

TEST_CASE("max_pool: padding never wins, NaN loses to numbers as vmax says", "[pool]") {
  Executor ex(tiny());
  const ImageShape image{1, 4, 4, 16};
  Matrix x(16, 16, -5.0f);  // every pixel below the padding's 0
  x.at(5, 3) = std::numeric_limits<float>::quiet_NaN();
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    const ImageOpRun r = run_pool(ex, PoolOp::Max, dtype, image, window(3, 2, 1), x);
    REQUIRE(r.run.ok);
    test::require_bit_exact(r.out, pool_reference(PoolOp::Max, dtype, image, window(3, 2, 1), x));
    for (float v : r.out.values) CHECK(v == -5.0f);
  }
}

TEST_CASE("the image ops work with 256-byte vector registers", "[pool][global_avg_pool]") {
  // The widest VLEN the config allows: 64 fp32 or 128 bf16 lanes, offsets of up to 8 registers.
  Executor ex(hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml",
                              {"node.vlen_bytes=256"})
                  .config);
  const ImageShape image{3, 5, 7, 600};
  const Matrix x = test::random_matrix(image.pixels(), image.c, 1);
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    const ImageOpRun g = run_global_avg_pool(ex, dtype, image, x);
    REQUIRE(g.run.ok);
    test::require_bit_exact(g.out, global_avg_pool_reference(g.input, image, x));
    for (PoolOp op : {PoolOp::Max, PoolOp::Avg}) {
      const ImageOpRun r = run_pool(ex, op, dtype, image, window(3, 2, 1), x);
      REQUIRE(r.run.ok);
      test::require_bit_exact(r.out, pool_reference(op, dtype, image, window(3, 2, 1), x));
    }
  }
}

TEST_CASE("the pooling estimate from the config is within 25% of the simulated cycles",
          "[pool][estimate]") {
  Executor ex(tiny());
  struct Case {
    PoolOp op;
    DType dtype;
    ImageShape image;
    PoolWindow k;
  };
  const Case cases[] = {{PoolOp::Max, DType::Bf16, {1, 56, 56, 64}, window(3, 2, 1)},
                        {PoolOp::Max, DType::Fp32, {2, 28, 28, 64}, window(3, 2, 1)},
                        {PoolOp::Avg, DType::Bf16, {2, 14, 14, 128}, window(2, 2, 0)},
                        {PoolOp::Avg, DType::Fp32, {1, 20, 20, 40}, window(3, 1, 1)}};
  for (const Case& k : cases) {
    const ImageOpRun r = run_pool(ex, k.op, k.dtype, k.image, k.k,
                                  test::random_matrix(k.image.pixels(), k.image.c, 3));
    REQUIRE(r.run.ok);
    INFO(fmt::format("{} {} {}: estimate {:.0f}, simulated {}", pool_name(k.op), k.image.str(),
                     dtype_name(k.dtype), r.estimate, r.run.cycles));
    CHECK(r.estimate == Approx(double(r.run.cycles)).epsilon(0.25));
  }
}

TEST_CASE("bad pooling arguments are refused naming the op and what was expected",
          "[pool][errors]") {
  const hw::HardwareConfig config = tiny();
  Executor ex(config);
  const Matrix x = test::random_matrix(18, 8, 1);
  CHECK_THROWS_WITH(run_pool(ex, PoolOp::Max, DType::Fp32, {2, 3, 3, 8}, window(3, 1, 2), x),
                    "max_pool [2, 3, 3, 8]: padding [2, 2] is more than half the kernel [3, 3]");
  CHECK_THROWS_WITH(
      run_pool(ex, PoolOp::Avg, DType::Fp32, {2, 3, 3, 8}, window(0, 1, 0), x),
      "avg_pool [2, 3, 3, 8]: kernel [0, 0], stride [1, 1]: expected each at least 1");
  CHECK_THROWS_WITH(run_pool(ex, PoolOp::Avg, DType::Fp32, {2, 3, 3, 8}, window(6, 1, 1), x),
                    "avg_pool [2, 3, 3, 8]: kernel [6, 6] is larger than the padded image [5, 5]");
  CHECK_THROWS_WITH(run_pool(ex, PoolOp::Max, DType::Bf16, {2, 3, 3, 9}, window(2, 1, 0), x),
                    "max_pool [2, 3, 3, 9] bf16: x is [18, 8]: expected [18, 9] (N H W, C)");
  PoolProblem p;
  p.image = {2, 3, 3, 8};
  p.window = window(2, 1, 0);
  p.input = split_image(config, DType::Fp32, p.image);
  p.output = p.input;
  p.x = 0x10000, p.out = 0x20000, p.work = 0x30000;
  CHECK_THROWS_WITH(PoolKernel(config, p),
                    "max_pool [2, 3, 3, 8] fp32: the output split holds [18, 8] fp32 in 1 column "
                    "blocks: expected [8, 8] fp32 in the input's 1");
}
