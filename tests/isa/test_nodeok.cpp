// SPDX-License-Identifier: MIT
// The nodeq/nodeok CSR pair: a program learns which nodes of the mesh are usable (disabled
// positions come from the hardware config through CoreConfig::disabled).
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "isa/csr.h"
#include "isa/global_address.h"
#include "run_helpers.h"

using namespace dojosim;
using namespace dojosim::isa;
using dojosim::test::kExit;
using dojosim::test::run_asm;

namespace {

CoreConfig mesh_4x3_with_two_disabled() {
  CoreConfig c;
  c.mesh_w = 4;
  c.mesh_h = 3;
  c.node_x = 1;
  c.node_y = 1;
  c.set_disabled({{2, 0}, {3, 2}, {2, 0}});  // a repeat is harmless
  return c;
}

// Asks nodeok about `global` on a node of `config`; returns what it read.
uint64_t nodeok_for(uint64_t global, const CoreConfig& config) {
  const auto run =
      run_asm(fmt::format("li t0, {}\ncsrw nodeq, t0\ncsrr a1, nodeok\ncsrr a2, nodeq\n{}",
                          static_cast<int64_t>(global), kExit),
              config);
  REQUIRE(run.result.outcome == RunOutcome::Exited);
  CHECK(run.x("a2") == global);  // nodeq reads back what was written, all 64 bits
  return run.x("a1");
}

}  // namespace

TEST_CASE("nodeok is 1 exactly for the usable nodes of the mesh", "[csr][nodeok]") {
  const CoreConfig c = mesh_4x3_with_two_disabled();
  for (uint32_t y = 0; y < 4; ++y)
    for (uint32_t x = 0; x < 5; ++x) {
      const bool usable = x < 4 && y < 3 && !(x == 2 && y == 0) && !(x == 3 && y == 2);
      INFO("node (" << x << ", " << y << ")");
      CHECK(c.node_usable(x, y) == usable);
      // The offset bits of the query are ignored.
      CHECK(nodeok_for(global_address(x, y, 0x1234), c) == (usable ? 1u : 0u));
    }
}

TEST_CASE("nodeok is 0 for host memory and for coordinates past the mesh", "[csr][nodeok]") {
  const CoreConfig c = mesh_4x3_with_two_disabled();
  CHECK(nodeok_for(host_address(0), c) == 0);
  CHECK(nodeok_for(kHostBit | global_address(1, 1, 0), c) == 0);
  CHECK(nodeok_for(global_address(kGlobalXMask, 0, 0), c) == 0);
  CHECK(nodeok_for(global_address(0, kGlobalYMask, 0), c) == 0);
}

TEST_CASE("without disabled positions every node of the mesh is usable, and a lone node is (0,0)",
          "[csr][nodeok]") {
  CoreConfig c;
  CHECK(c.disabled == nullptr);
  CHECK(nodeok_for(global_address(0, 0, 0), c) == 1);
  CHECK(nodeok_for(global_address(1, 0, 0), c) == 0);
  c.mesh_w = 18;
  c.mesh_h = 20;
  c.set_disabled({});
  CHECK(c.disabled == nullptr);
  CHECK(nodeok_for(global_address(17, 19, 0), c) == 1);
}

TEST_CASE("nodeq is per thread and starts at 0, and nodeok is read-only", "[csr][nodeok]") {
  // Thread 1 writes nodeq; thread 0 still reads its own (reset) 0 and the answer for (0,0).
  const char* src = R"(
        csrr    t0, threadid
        bnez    t0, 1f
        li      t1, 200                 # thread 0: give thread 1 time to write its nodeq
2:      addi    t1, t1, -1
        bnez    t1, 2b
        csrr    a1, nodeq
        csrr    a2, nodeok
        j       3f
1:      li      t2, 0x0002000000000000  # node (2, 0): disabled
        csrw    nodeq, t2
        csrr    a1, nodeq
        csrr    a2, nodeok
3:      li      a0, 0
        li      a7, 93
        ecall
)";
  NodeRunOptions two;
  two.threads = 2;
  const auto run = run_asm(src, mesh_4x3_with_two_disabled(), two);
  REQUIRE(run.result.outcome == RunOutcome::Exited);
  CHECK(run.x("a1", 0) == 0);
  CHECK(run.x("a2", 0) == 1);  // (0, 0) is usable
  CHECK(run.x("a1", 1) == global_address(2, 0, 0));
  CHECK(run.x("a2", 1) == 0);

  const auto bad =
      run_asm(std::string("li t0, 1\ncsrw nodeok, t0\n") + kExit, mesh_4x3_with_two_disabled());
  CHECK(bad.result.outcome == RunOutcome::Trapped);
  CHECK_THAT(bad.result.message, Catch::Contains("CSR nodeok is read-only"));
}

TEST_CASE("the nodeq and nodeok CSRs are in the CSR list the assembler and docs use",
          "[csr][nodeok]") {
  const CsrInfo* q = find_csr("nodeq");
  const CsrInfo* ok = find_csr("nodeok");
  REQUIRE(q);
  REQUIRE(ok);
  CHECK(q->access == CsrAccess::ReadWrite);
  CHECK(ok->access == CsrAccess::ReadOnly);
  CHECK(find_csr(q->number) == q);
  CHECK(find_csr(ok->number) == ok);
}

TEST_CASE("kernels/asm/east_ring.s passes a message around each row's usable nodes",
          "[csr][nodeok]") {
  // On one node (a 1 x 1 mesh) the ring is the node itself: it sends to and hears from itself.
  const Program p = assemble_file(std::string(DOJOSIM_SOURCE_DIR) + "/kernels/asm/east_ring.s");
  for (uint32_t x : {0u, 5u}) {
    CoreConfig c;
    c.mesh_w = 8;
    c.mesh_h = 2;
    c.node_x = x;
    c.node_y = 1;
    // Every other node of row 1 is disabled: the search passes them all and comes back.
    std::vector<std::pair<uint32_t, uint32_t>> off;
    for (uint32_t i = 0; i < 8; ++i)
      if (i != x) off.emplace_back(i, 1);
    c.set_disabled(off);
    NodeRunner node(c);
    node.load(p);
    std::ostringstream out;
    NodeRunOptions o;
    o.out = &out;
    const NodeRunResult r = node.run(o);
    INFO(r.message);
    REQUIRE(r.outcome == RunOutcome::Exited);
    CHECK(r.threads[0].exit_code == 0);
    CHECK(out.str() ==
          fmt::format("[{},1 t0] east neighbour ({},1) after skipping 7 disabled\n", x, x));
  }
}
