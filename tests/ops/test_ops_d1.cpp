// SPDX-License-Identifier: MIT
// The pooling and embedding kernels at the shapes of ResNet-50 (batch 32) and GPT-2 small on
// the d1 die: bit for bit against their references, the estimate within 25% of the simulated
// cycles, and the figures printed. Hidden from the suite (tag [.d1], a few seconds each); run
// with: build/tests/ops/test_runtime_ops "[d1]"
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "../runtime/test_data.h"
#include "hw/config/config_io.h"
#include "runtime/mesh/executor.h"
#include "runtime/ops/embedding.h"
#include "runtime/ops/global_avg_pool.h"
#include "runtime/ops/pool.h"

using namespace dojosim;
using namespace dojosim::runtime;
using namespace dojosim::runtime::ops;

namespace {

hw::HardwareConfig d1() {
  return hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/d1.yaml").config;
}

void report(const std::string& what, const Executor::Run& run, double estimate) {
  fmt::print("{} on d1: {} cycles simulated, {:.0f} estimated\n", what, run.cycles, estimate);
  INFO(what);
  CHECK(estimate == Approx(double(run.cycles)).epsilon(0.25));
}

}  // namespace

// One test case: SystemC elaborates one machine per process.
TEST_CASE("ResNet-50's pools at batch 32 and GPT-2 small's embedding on d1", "[.d1]") {
  Executor ex(d1());
  {  // ResNet-50's stem max pool
    const ImageShape image{32, 112, 112, 64};
    const PoolWindow k{3, 3, 2, 2, 1, 1, false};
    const Matrix x = test::random_matrix(image.pixels(), image.c, 1);
    const ImageOpRun r = run_pool(ex, PoolOp::Max, DType::Bf16, image, k, x);
    REQUIRE(r.run.ok);
    test::require_bit_exact(r.out, pool_reference(PoolOp::Max, DType::Bf16, image, k, x));
    report("max_pool [32, 112, 112, 64] bf16, 3x3 stride 2 padding 1", r.run, r.estimate);
  }
  {  // ResNet-50's global average pool
    const ImageShape image{32, 7, 7, 2048};
    const Matrix x = test::random_matrix(image.pixels(), image.c, 2);
    const ImageOpRun r = run_global_avg_pool(ex, DType::Bf16, image, x);
    REQUIRE(r.run.ok);
    test::require_bit_exact(r.out, global_avg_pool_reference(r.input, image, x));
    report("global_avg_pool [32, 7, 7, 2048] bf16", r.run, r.estimate);
  }
  {  // GPT-2 small's token embedding of 1024 tokens
    const Matrix table = test::random_matrix(50257, 768, 3);
    std::mt19937 gen(4);
    std::vector<int32_t> ids(1024);
    for (int32_t& id : ids) id = static_cast<int32_t>(gen() % 50257);
    const EmbeddingRun r = run_embedding(ex, DType::Bf16, ids, table);
    REQUIRE(r.run.ok);
    test::require_bit_exact(r.out, embedding_reference(DType::Bf16, ids, table));
    report("embedding [1024] into [50257, 768] bf16", r.run, r.estimate);
  }
}
