// SPDX-License-Identifier: MIT
// embedding (runtime/ops/embedding.h) on the tiny mesh: fp32 and bf16 rows of a table in host
// memory pulled into y bit for bit, with rows that do not divide the mesh, rows split over
// nodes by column blocks, repeated ids; the estimate; out-of-range ids and other bad arguments.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "../runtime/test_data.h"
#include "hw/config/config_io.h"
#include "ops_test_util.h"
#include "runtime/mesh/executor.h"
#include "runtime/ops/embedding.h"

using namespace dojosim;
using namespace dojosim::runtime;
using namespace dojosim::runtime::ops;

namespace {

using ops_test::tiny;

EmbeddingRun check_embedding(Executor& ex, DType dtype, const std::vector<int32_t>& ids,
                             const Matrix& table, EmbeddingOptions options = {}) {
  INFO(fmt::format("embedding [{}] into [{}, {}] {}, column blocks {}", ids.size(), table.rows,
                   table.cols, dtype_name(dtype), options.col_parts));
  EmbeddingRun r = run_embedding(ex, dtype, ids, table, options);
  REQUIRE(r.run.ok);
  test::require_bit_exact(r.out, embedding_reference(dtype, ids, table));
  test::require_within(r.out, embedding_reference_f64(dtype, ids, table));
  return r;
}

}  // namespace

TEST_CASE("embedding pulls the table rows of its ids from host memory, bit for bit",
          "[embedding]") {
  Executor ex(tiny());
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    // 37 ids on 16 nodes; 45 columns: the last register partly padding; ids repeat.
    const Matrix table = test::random_matrix(50, 45, 1);
    const EmbeddingRun r = check_embedding(ex, dtype, test::random_indices(37, 50, 2), table);
    CHECK(r.output.col_parts == 1);
    // The first and last rows of the table, a table of one row, a table at a later address.
    check_embedding(ex, dtype, {0, 49, 49, 0, 7}, table, {0, 0, 1 << 20});
    check_embedding(ex, dtype, {0, 0, 0}, test::random_matrix(1, 8, 3));
  }
}

TEST_CASE("embedding with rows split over nodes by column blocks", "[embedding]") {
  Executor ex(tiny());
  const Matrix table = test::random_matrix(100, 200, 4);
  for (DType dtype : {DType::Fp32, DType::Bf16}) {
    // 3 rows on 16 nodes: each over 5 nodes (fp32) or 4 (bf16: 7 registers).
    const EmbeddingRun r = check_embedding(ex, dtype, {5, 99, 5}, table);
    CHECK(r.output.col_parts > 1);
    check_embedding(ex, dtype, test::random_indices(9, 100, 5), table, {2, 0, 0});
  }
}

TEST_CASE("embedding works with 256-byte vector registers", "[embedding]") {
  Executor ex(hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml",
                              {"node.vlen_bytes=256"})
                  .config);
  for (DType dtype : {DType::Fp32, DType::Bf16})
    check_embedding(ex, dtype, test::random_indices(37, 20, 8), test::random_matrix(20, 300, 9));
}

// The estimate against the simulated cycles over a list of cases.
struct EstimateCase {
  DType dtype;
  uint32_t rows, vocabulary, d;
};
void check_estimates(Executor& ex, const std::vector<EstimateCase>& cases) {
  for (const EstimateCase& k : cases) {
    const EmbeddingRun r = run_embedding(ex, k.dtype, test::random_indices(k.rows, k.vocabulary, 6),
                                         test::random_matrix(k.vocabulary, k.d, 7));
    REQUIRE(r.run.ok);
    INFO(fmt::format("embedding [{}] into [{}, {}] {}: estimate {:.0f}, simulated {}", k.rows,
                     k.vocabulary, k.d, dtype_name(k.dtype), r.estimate, r.run.cycles));
    CHECK(r.estimate == Approx(double(r.run.cycles)).epsilon(0.20));
  }
}

TEST_CASE("the embedding estimate is within 20% of the simulated cycles, one pull in flight",
          "[embedding][estimate]") {
  // Rounds of pulls, each a whole trip to the DIP and back.
  Executor ex(hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml",
                              {"node.dma.queue_depth=1"})
                  .config);
  check_estimates(ex, {{DType::Bf16, 1024, 1000, 768},
                       {DType::Fp32, 256, 500, 64},
                       {DType::Bf16, 64, 100, 768},
                       {DType::Fp32, 4096, 50, 32}});
}

TEST_CASE("the embedding estimate is within 20% of the simulated cycles, one row per node",
          "[embedding][estimate]") {
  // One trip per node, or the DIP's bandwidth and the edge's links for long rows.
  Executor ex(tiny());
  check_estimates(ex, {{DType::Fp32, 16, 100, 64},
                       {DType::Fp32, 16, 100, 16384},
                       {DType::Bf16, 8, 20, 32768},
                       {DType::Bf16, 3, 100, 4096}});
}

TEST_CASE("out-of-range ids and other bad embedding arguments are refused before the run",
          "[embedding][errors]") {
  const hw::HardwareConfig config = tiny();
  Executor ex(config);
  const Matrix table = test::random_matrix(10, 8, 1);
  CHECK_THROWS_WITH(run_embedding(ex, DType::Fp32, {1, 2, 10}, table),
                    "embedding: id 10 at row 2 is out of range: expected 0 <= id < V = 10");
  CHECK_THROWS_WITH(run_embedding(ex, DType::Bf16, {-1}, table),
                    "embedding: id -1 at row 0 is out of range: expected 0 <= id < V = 10");
  CHECK_THROWS_WITH(run_embedding(ex, DType::Fp32, {}, table),
                    "embedding [0] into [10, 8]: expected at least one id");
  CHECK_THROWS_WITH(run_embedding(ex, DType::Cfp8, {1}, table),
                    "tensor dtype cfp8: expected fp32 or bf16");
  EmbeddingProblem p;
  p.output = split_rows(config, DType::Fp32, 4, 8);
  p.vocabulary = 10;
  p.ids = 0x10000, p.out = 0x20000;
  p.table = (uint64_t{32} << 30) - 64;  // runs past the end of DIP 0
  CHECK_THROWS_WITH(EmbeddingKernel(config, p),
                    Catch::StartsWith("embedding [4] into [10, 8] fp32: the table at host "
                                      "0x7ffffffc0 (640 bytes): it does not lie in one DIP: "));
  p.table = 0;
  p.vocabulary = 0;
  CHECK_THROWS_WITH(EmbeddingKernel(config, p),
                    "embedding [4] into [0, 8] fp32: expected a table of at least one row");
  // Resident ids are checked from SRAM.
  p.vocabulary = 10;
  const EmbeddingKernel kernel(config, p);
  write_ids(ex.machine(), p.output, p.ids, {3, 4, 11, 5});
  CHECK_THROWS_WITH(kernel.check_ids(ex.machine()),
                    "embedding: id 11 at row 2 is out of range: expected 0 <= id < V = 10");
}
