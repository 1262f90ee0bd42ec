// SPDX-License-Identifier: MIT
// global_avg_pool (runtime/ops/global_avg_pool.h) on the tiny mesh: fp32 and bf16 bit for bit
// against the reference in the kernel's order and within the float64 bound, on images that
// span several nodes (partials combined by pushes), several images on one node, channels split
// over nodes; the estimate; bad arguments.
#include <catch2/catch.hpp>
#include <string>

#include "../runtime/test_data.h"
#include "hw/config/config_io.h"
#include "ops_test_util.h"
#include "runtime/mesh/executor.h"
#include "runtime/ops/global_avg_pool.h"

using namespace dojosim;
using namespace dojosim::runtime;
using namespace dojosim::runtime::ops;

namespace {

using ops_test::tiny;

ImageOpRun check_global_avg_pool(Executor& ex, DType dtype, const ImageShape& image,
                                 uint32_t col_parts = 0, uint32_t seed = 1) {
  INFO(fmt::format("global_avg_pool {} {}, column blocks {}", image.str(), dtype_name(dtype),
                   col_parts));
  const Matrix x = test::random_matrix(image.pixels(), image.c, seed);
  ImageOpRun r = run_global_avg_pool(ex, dtype, image, x, {col_parts, 0});
  REQUIRE(r.run.ok);
  test::require_bit_exact(r.out, global_avg_pool_reference(r.input, image, x));
  test::require_within(r.out, global_avg_pool_reference_f64(dtype, image, x));
  return r;
}

}  // namespace

TEST_CASE("global_avg_pool equals its references on images that span several nodes",
          "[global_avg_pool]") {
  Executor ex(tiny());
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    // 105 pixel rows on 16 nodes (6 or 7 each): every image spans 6 nodes, most nodes hold
    // parts of two images; 45 channels: the last register partly padding.
    const ImageOpRun r = check_global_avg_pool(ex, dtype, {3, 5, 7, 45});
    CHECK(r.input.row_parts == 16);
    CHECK(r.output.row_parts == 3);
    // Many small images per node, and one image per node plus one row.
    check_global_avg_pool(ex, dtype, {37, 1, 2, 20});
    check_global_avg_pool(ex, dtype, {17, 1, 1, 70});
    // One image on the whole mesh.
    check_global_avg_pool(ex, dtype, {1, 12, 12, 64});
  }
}

TEST_CASE("global_avg_pool with channels split over nodes", "[global_avg_pool]") {
  Executor ex(tiny());
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    // 6 pixel rows on 16 nodes: each row over 2 nodes (200 channels).
    const ImageOpRun r = check_global_avg_pool(ex, dtype, {2, 1, 3, 200});
    CHECK(r.input.col_parts == 2);
    CHECK(r.output.col_parts == 2);
    check_global_avg_pool(ex, dtype, {5, 2, 3, 100}, 2);  // forced: 30 rows over 8 row blocks
  }
}

TEST_CASE("the global_avg_pool estimate from the config is within 25% of the simulated cycles",
          "[global_avg_pool][estimate]") {
  Executor ex(tiny());
  struct Case {
    DType dtype;
    ImageShape image;
  };
  const Case cases[] = {{DType::Fp32, {4, 14, 14, 64}},
                        {DType::Bf16, {4, 14, 14, 64}},
                        {DType::Bf16, {8, 7, 7, 512}},
                        {DType::Fp32, {2, 8, 8, 200}}};
  for (const Case& k : cases) {
    const ImageOpRun r = run_global_avg_pool(ex, k.dtype, k.image,
                                             test::random_matrix(k.image.pixels(), k.image.c, 3));
    REQUIRE(r.run.ok);
    INFO(fmt::format("global_avg_pool {} {}: estimate {:.0f}, simulated {}", k.image.str(),
                     dtype_name(k.dtype), r.estimate, r.run.cycles));
    CHECK(r.estimate == Approx(double(r.run.cycles)).epsilon(0.25));
  }
}

TEST_CASE("bad global_avg_pool arguments are refused naming the op and what was expected",
          "[global_avg_pool][errors]") {
  const hw::HardwareConfig config = tiny();
  Executor ex(config);
  CHECK_THROWS_WITH(
      run_global_avg_pool(ex, DType::Fp32, {2, 3, 3, 8}, test::random_matrix(17, 8, 1)),
      "global_avg_pool [2, 3, 3, 8] fp32: x is [17, 8]: expected [18, 8] (N H W, C)");
  CHECK_THROWS_WITH(
      run_global_avg_pool(ex, DType::Fp32, {2, 0, 3, 8}, test::random_matrix(0, 8, 1)),
      "image [2, 0, 3, 8]: expected every axis at least 1 and N H W below 2^32");
  CHECK_THROWS_WITH(
      run_global_avg_pool(ex, DType::Cfp8, {2, 3, 3, 8}, test::random_matrix(18, 8, 1)),
      "tensor dtype cfp8: expected fp32 or bf16");
  GlobalAvgPoolProblem p;
  p.image = {2, 3, 3, 8};
  p.input = split_image(config, DType::Fp32, p.image);
  p.output = split_rows(config, DType::Fp32, 3, 8);
  p.x = 0x10000, p.out = 0x20000, p.work = 0x30000;
  CHECK_THROWS_WITH(GlobalAvgPoolKernel(config, p),
                    "global_avg_pool [2, 3, 3, 8] fp32: the output split holds [3, 8] fp32 in 1 "
                    "column blocks: expected [2, 8] fp32 in the input's 1");
  p.output = global_avg_pool_output(config, p.input, p.image);
  p.work = 0x30010;
  CHECK_THROWS_WITH(GlobalAvgPoolKernel(config, p),
                    "global_avg_pool [2, 3, 3, 8] fp32: work at SRAM 0x30010: expected a multiple "
                    "of 64");
  p.image = {2, 3, 4, 8};
  CHECK_THROWS_WITH(GlobalAvgPoolKernel(config, p),
                    "global_avg_pool [2, 3, 4, 8] fp32: the input split holds [18, 8]: expected "
                    "[24, 8]");
}
