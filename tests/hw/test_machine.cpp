// SPDX-License-Identifier: MIT
// The machine end to end: programs on every node of a mesh, pushes between nodes, barriers,
// deadlock detection, and the peak of the matrix unit on every node. One machine per test
// case (SystemC elaborates once per process; CTest runs each case in its own process).
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <set>
#include <sstream>

#include "hw/config/config_io.h"
#include "hw/config/machine_params.h"
#include "hw/machine/machine.h"
#include "hw/machine/scheduler.h"
#include "hw/node/node.h"
#include "isa/assembler.h"

using namespace dojosim;
using namespace dojosim::hw;

namespace {

// The default config's nodes and network (one D1 die), cut down to a w x h mesh.
MachineParams mesh(int w, int h) {
  MachineParams p = hw::machine_params(hw::HardwareConfig{});
  p.width = w, p.height = h;
  p.disabled.clear();
  return p;
}

}  // namespace

TEST_CASE("every node pushes to its east neighbour and checks what its west one sent",
          "[machine]") {
  std::ostringstream out;
  Machine m(mesh(4, 3), &out);
  m.load(isa::assemble(R"(
    csrr s0, nodex
    csrr s1, nodey
    csrr s2, meshw
    slli s3, s1, 8
    or s3, s3, s0               # my id: y << 8 | x
    la t0, outbox
    sd s3, 0(t0)
    addi t1, s2, -1
    beq s0, t1, 1f              # the east column has nobody to push to
    addi t2, s0, 1              # destination x
    slli t2, t2, 48
    slli t3, s1, 32
    or t2, t2, t3
    la t4, inbox
    or t2, t2, t4               # global address of the neighbour's inbox
    li t5, 8
    push t2, t0, t5, 1
1:  li a0, 0
    beqz s0, 2f                 # the west column receives nothing
    li t1, 1
    swait 1, t1
    la t4, inbox
    ld t6, 0(t4)
    addi s3, s3, -1             # what the west neighbour (x - 1, y) sent
    sub a0, t6, s3
    snez a0, a0
2:  li a7, 93
    ecall
    .data
    .align 3
outbox: .dword 0
inbox:  .dword 0
  )", "east.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  for (const NodeResult& r : m.results()) {
    INFO("node " << r.at.x << "," << r.at.y);
    CHECK(r.exit_codes[0] == 0);
  }
  // The pushes crossed the links between columns.
  CHECK(m.network().link_stats({0, 1}, Dir::East).bytes == 8);
  CHECK(m.network().link_stats({3, 1}, Dir::East).bytes == 0);
}

TEST_CASE("a barrier across every node releases all of them together", "[machine]") {
  Machine m(mesh(3, 3));
  m.load(isa::assemble(R"(
    csrr t0, nodeid
    slli t0, t0, 6
1:  addi t0, t0, -1             # node k works 64 k iterations before the barrier
    bgtz t0, 1b
    barrier 0
    rdcycle a1
    li a0, 0
    li a7, 93
    ecall
  )", "barrier.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  // Every node leaves the barrier at the same cycle, after the slowest arrived.
  uint64_t first = UINT64_MAX, last = 0;
  for (const NodeResult& r : m.results()) {
    const uint64_t leave = m.node(r.at)->core().thread(0).x[11];
    first = std::min(first, leave), last = std::max(last, leave);
  }
  CHECK(first == last);
  CHECK(first >= 8 * 64);
}

TEST_CASE("a machine-wide deadlock is reported with every waiting thread", "[machine][errors]") {
  Machine m(mesh(2, 2));
  m.load(isa::assemble("li t0, 1\n swait 7, t0\n li a7, 93\n ecall\n", "wait.s"));
  REQUIRE(m.run() == MachineOutcome::Deadlock);
  for (const char* node : {"(0,0)", "(1,0)", "(0,1)", "(1,1)"})
    CHECK_THAT(m.message(),
               Catch::Contains(std::string("node ") + node +
                               " thread 0 at pc 0x4 waits on semaphore 7 (value 0, needs 1)"));
}

TEST_CASE("a push to a node that does not exist stops the run with a report", "[machine][errors]") {
  Machine m(mesh(2, 2));
  m.load(isa::assemble(
      "li t0, 0x0009000000000000\n li t1, 8\n push t0, zero, t1, 1\n li a7, 93\n ecall\n",
      "far.s"));
  REQUIRE(m.run() == MachineOutcome::Trapped);
  CHECK_THAT(m.message(), Catch::Contains("push of 8 bytes to global address 0x9000000000000: node "
                                          "(9,0) is not a usable node of this 2x2 mesh"));
}

TEST_CASE("the matrix unit on every node runs at 95% of the machine's peak", "[machine][peak]") {
  MachineParams p = mesh(4, 4);
  Machine m(p);
  std::string body =
      "la a0, tiles\n vle v1, 0(a0)\n vle v2, 64(a0)\n li t0, 100\n1:\n addi t0, t0, -1\n";
  for (int i = 0; i < 64; ++i) body += " mma.bf16 acc" + std::to_string(i % 8) + ", v1, v2\n";
  body += " bnez t0, 1b\n li a0, 0\n li a7, 93\n ecall\n .data\n .align 6\ntiles: .space 128\n";
  m.load(isa::assemble(body, "peak.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  const double macs = 16.0 * 100 * 64 * p.core.matrix_m * p.core.matrix_n * p.core.matrix_k;
  const double peak_macs_per_cycle = 16.0 * p.core.matrix_m * p.core.matrix_n * p.core.matrix_k;
  const double utilisation = macs / (peak_macs_per_cycle * double(m.cycles()));
  INFO("cycles " << m.cycles() << ", utilisation " << utilisation);
  CHECK(utilisation >= 0.95);
}

namespace {

// Node (3,0) pushes 1 KiB to (4,0) of an 8x4 mesh of two tiny dies side by side; returns the
// cycles from its push to the data's arrival at (4,0).
uint64_t push_across_x4(Machine& m) {
  m.load(isa::assemble(R"(
    csrr s0, nodex
    csrr s1, nodey
    bnez s1, done
    li t0, 3
    beq s0, t0, send
    li t0, 4
    beq s0, t0, receive
    j done
send:
    li a1, 0x0004000000000000
    la t1, buf
    or a1, a1, t1
    li a2, 1024
    rdcycle s2
    push a1, t1, a2, 1
    j done
receive:
    li t0, 1
    swait 1, t0
    rdcycle s2
done:
    li a0, 0
    li a7, 93
    ecall
    .data
    .align 6
buf: .space 1024
  )", "edge.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  const uint64_t sent = m.node({3, 0})->core().thread(0).x[18];
  const uint64_t received = m.node({4, 0})->core().thread(0).x[18];
  CHECK(m.network().link_stats({3, 0}, Dir::East).bytes == 1024);
  return received - sent;
}

}  // namespace

TEST_CASE("a push between two dies crosses a die-edge link and pays its latency", "[machine]") {
  // Two tiny dies side by side: an 8x4 mesh whose links between x = 3 and x = 4 are die edges.
  const hw::LoadedConfig loaded = hw::load_config(
      std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml",
      {"machine.scope=tile", "tile.dies_x=2", "tile.dies_y=1", "tile.host.dips_per_edge=1"});
  MachineParams p = hw::machine_params(loaded.config);
  REQUIRE(p.width == 8);
  REQUIRE(p.height == 4);
  REQUIRE(p.noc.edge_latency > 10 * p.noc.router_latency);
  Machine m(p);
  const uint64_t took = push_across_x4(m);
  CHECK(m.network().is_die_edge({3, 0}, Dir::East));
  CHECK_FALSE(m.network().is_tile_edge({3, 0}, Dir::East));
  // At least the edge latency plus the serialisation of 1 KiB on the narrower edge link.
  const uint64_t edge_ser =
      (1024 + p.noc.edge_link_bytes_per_cycle - 1) / p.noc.edge_link_bytes_per_cycle;
  CHECK(took >= p.noc.edge_latency + edge_ser);
  CHECK(took <= p.noc.edge_latency + edge_ser + 20);
}

TEST_CASE("a push between two tiles of a system crosses a tile-edge link and pays its latency",
          "[machine]") {
  // A system of two tiles of one tiny die each: the links between x = 3 and x = 4 are tile
  // edges, with the tile edge's latency and its share of the tile edge's bandwidth.
  const hw::LoadedConfig loaded =
      hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml",
                      {"machine.scope=system", "system.tiles_x=2", "tile.dies_x=1", "tile.dies_y=1",
                       "tile.host.dips_per_edge=1", "system.tile_edge_gb_per_s=128",
                       "system.tile_edge_latency_ns=300"});
  MachineParams p = hw::machine_params(loaded.config);
  REQUIRE(p.width == 8);
  REQUIRE(p.height == 4);
  // 128 GB/s over the 4 links of an east/west tile edge at 2 GHz: 16 B/cycle each; 300 ns.
  REQUIRE(p.noc.tile_edge_link_bytes_per_cycle == 16);
  REQUIRE(p.noc.tile_edge_latency == 600);
  Machine m(p);
  const uint64_t took = push_across_x4(m);
  CHECK(m.network().is_tile_edge({3, 0}, Dir::East));
  CHECK(took >= 600 + 1024 / 16);
  CHECK(took <= 600 + 1024 / 16 + 20);
}

TEST_CASE("sim.seed gives every thread its own stochastic-rounding seed", "[machine]") {
  const hw::LoadedConfig loaded =
      hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml", {"sim.seed=12345"});
  MachineParams p = hw::machine_params(loaded.config);
  p.threads = 2;
  Machine m(p);
  m.load(isa::assemble("csrr a1, srseed\n li a0, 0\n li a7, 93\n ecall\n", "seed.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  std::set<uint64_t> seeds;
  for (const NodeResult& r : m.results())
    for (unsigned t = 0; t < 2; ++t) {
      const uint64_t s = m.node(r.at)->core().thread(t).x[11];
      CHECK(s == isa::reset_srseed(m.node(r.at)->core().config(), t));
      seeds.insert(s);
    }
  CHECK(seeds.size() == 2 * m.node_count());  // all distinct
  // Seed 0 keeps the documented reset value.
  isa::CoreConfig zero = p.core;
  zero.seed = 0;
  CHECK(isa::reset_srseed(zero, 1) == 0);
}

TEST_CASE("a machine stays up: a second program reads what the first left in SRAM",
          "[machine][resident]") {
  Machine m(mesh(3, 2));
  // Phase 1: every node writes its id to `slot` and pushes it into its east neighbour's inbox.
  const isa::Program first = isa::assemble(R"(
    csrr s0, nodex
    csrr s1, nodey
    csrr s2, meshw
    csrr t5, nodeid
    la t0, slot
    sd t5, 0(t0)
    addi t1, s2, -1
    beq s0, t1, 1f
    addi t2, s0, 1
    slli t2, t2, 48
    slli t3, s1, 32
    or t2, t2, t3
    la t4, inbox
    or t2, t2, t4
    li t6, 8
    push t2, t0, t6, 1
1:  beqz s0, 2f
    li t1, 1
    swait 1, t1
2:  barrier 0
    li a0, 0
    li a7, 93
    ecall
    .data
    .align 3
slot:  .dword 0
inbox: .dword 0
  )", "first.s");
  m.load(first);
  REQUIRE(m.run() == MachineOutcome::Finished);
  const uint64_t first_end = m.cycles();
  CHECK(first_end > 0);
  // Phase 2, a different program whose data segment lies past phase 1's: semaphores and the
  // barrier start from zero again (a swait on 1 would pass at once if they did not), and every
  // node exits with (its west neighbour's id) - (what phase 1 left in its inbox).
  const uint64_t slot = first.symbols.at("slot"), inbox = first.symbols.at("inbox");
  m.load(isa::assemble(fmt::format(R"(
    csrr s0, nodex
    li a0, 0
    beqz s0, 1f
    li t0, {}
    ld t1, 0(t0)                # phase 1's push, still in SRAM
    li t0, {}
    ld t2, 0(t0)                # my own id, written in phase 1
    addi t2, t2, -1             # the west neighbour's id
    sub a0, t1, t2
1:  barrier 0
    li t3, 0
    sread t4, 1                 # semaphore 1 was counted up in phase 1: now it reads 0
    or a0, a0, t4
    li a7, 93
    ecall
  )", inbox, slot), "second.s"));
  CHECK(m.phase_start() >= first_end);
  REQUIRE(m.run() == MachineOutcome::Finished);
  CHECK(m.cycles() > m.phase_start());
  for (const NodeResult& r : m.results()) {
    INFO("node " << r.at.x << "," << r.at.y);
    CHECK(r.exit_codes[0] == 0);
    CHECK(r.cycles >= m.phase_start());  // threads started where phase 1 ended
  }
}

TEST_CASE("a machine that trapped refuses the next program", "[machine][resident][errors]") {
  Machine m(mesh(2, 1));
  const isa::Program bad = isa::assemble(
      "li t0, 0x0009000000000000\n li t1, 8\n push t0, zero, t1, 1\n li a7, 93\n ecall\n", "far.s");
  m.load(bad);
  REQUIRE(m.run() == MachineOutcome::Trapped);
  CHECK_THROWS_WITH(m.load(bad),
                    Catch::Contains("cannot load far.s: the previous run ended with trapped"));
}

TEST_CASE("sim.max_cycles stops the run at the limit, not a quantum later", "[machine][errors]") {
  // 2500: in the middle of the third quantum of 1000.
  MachineParams p = mesh(2, 2);
  p.max_cycles = 2500;
  Machine m(p);
  m.load(isa::assemble("1: j 1b\n", "spin.s"));
  REQUIRE(m.run() == MachineOutcome::CycleLimit);
  CHECK(m.cycles() == 2500);
  CHECK_THAT(m.message(), Catch::Contains("cycle limit 2500 reached at node (0,0)"));
}

TEST_CASE("sim.max_seconds stops a run that does not end", "[machine][errors]") {
  MachineParams p = mesh(2, 2);
  p.max_seconds = 0.2;
  p.max_cycles = UINT64_MAX / 2;
  Machine m(p);
  m.load(isa::assemble("1: j 1b\n", "spin.s"));
  REQUIRE(m.run() == MachineOutcome::TimeLimit);
  CHECK_THAT(m.message(),
             Catch::Contains("time limit of 0.2 s (sim.max_seconds) reached at cycle"));
}

// Two SMT threads of one node run out of step within a quantum; a semaphore between them must
// still order them in simulated time.
namespace {
// One thread spins 100 iterations, reads its cycle into a1 and signals semaphore 1; the other
// waits on it and then reads its cycle into a1. `waiter` is the waiting thread's number.
isa::Program signal_after_spin(unsigned waiter) {
  return isa::assemble(fmt::format(R"(
    csrr t0, threadid
    li t3, {}
    beq t0, t3, 2f
    li t1, 100
1:  addi t1, t1, -1
    bnez t1, 1b
    csrr a1, cycle
    li t2, 1
    ssignal 1, t2
    j 3f
2:  li t2, 1
    swait 1, t2
    csrr a1, cycle
3:  li a0, 0
    li a7, 93
    ecall
)",
                                   waiter),
                       "signal_after_spin.s");
}
}  // namespace

TEST_CASE("a wait on the same node passes no earlier than the signal it took",
          "[machine][semaphore]") {
  MachineParams p = mesh(1, 1);
  p.threads = 2;
  Machine m(p);
  // Thread 0 runs first in the first quantum and signals at about cycle 200 while thread 1 is
  // still at cycle 0: thread 1 must not pass its wait before cycle 200.
  m.load(signal_after_spin(1));
  REQUIRE(m.run() == MachineOutcome::Finished);
  const isa::Core& core = m.node({0, 0})->core();
  const uint64_t signalled = core.thread(0).x[11], passed = core.thread(1).x[11];
  CHECK(signalled > 150);
  CHECK(passed >= signalled);
}

TEST_CASE("a thread woken by a later thread in the rotation that then exits still runs",
          "[machine][semaphore]") {
  MachineParams p = mesh(1, 1);
  p.threads = 2;
  Machine m(p);
  // The rotation starts at thread 0 in the first quantum: thread 0 blocks on the semaphore,
  // then thread 1 spins, signals (waking thread 0) and exits in the same quantum.
  m.load(signal_after_spin(0));
  REQUIRE(m.run() == MachineOutcome::Finished);  // was a deadlock: the woken thread was missed
  const isa::Core& core = m.node({0, 0})->core();
  CHECK(core.thread(0).x[11] >= core.thread(1).x[11]);
}

TEST_CASE("nodes due in the same cycle run on several host threads", "[machine][parallel]") {
  MachineParams p = mesh(8, 8);
  p.host_threads = 3;
  Machine m(p);
  m.load(isa::assemble(R"(
    li t0, 2000
1:  addi t0, t0, -1
    bnez t0, 1b
    li a0, 0
    li a7, 93
    ecall
  )",
                       "spin.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  CHECK(m.scheduler().host_threads() == 3);
  // 64 nodes wake together at every quantum: those rounds go to the pool.
  CHECK(m.scheduler().parallel_rounds() > 0);
  CHECK(m.scheduler().parallel_rounds() <= m.scheduler().rounds());
}

namespace {

// Node (0,0) pushes to node (1,0) at once and then spins; node (1,0) waits for the push (it
// arrives a few cycles in, off any quantum boundary) and then spins as long. Returns the
// scheduler's rounds and the cycles of the run, quantum 100.
std::pair<uint64_t, uint64_t> rounds_of_a_late_starter(bool aligned) {
  MachineParams p = mesh(2, 1);
  p.quantum = 100;
  p.quantum_aligned = aligned;
  Machine m(p);
  m.load(isa::assemble(R"(
    csrr s0, nodex
    bnez s0, 1f
    li t2, 1
    slli t2, t2, 48             # node (1,0)
    la t4, inbox
    or t2, t2, t4
    la t0, inbox
    li t5, 8
    push t2, t0, t5, 1
    j 2f
1:  li t1, 1
    swait 1, t1
2:  li t0, 1000
3:  addi t0, t0, -1
    bnez t0, 3b
    li a0, 0
    li a7, 93
    ecall
    .data
    .align 3
inbox:  .dword 0
  )",
                       "late.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  return {m.scheduler().rounds(), m.cycles()};
}

}  // namespace

TEST_CASE("aligned quanta end together: a node that started late shares the others' rounds",
          "[machine][parallel]") {
  const auto [rounds, cycles] = rounds_of_a_late_starter(true);
  // Both nodes end their quanta at the multiples of 100; node (1,0) adds only its wake-up.
  const uint64_t quanta = (cycles + 99) / 100;
  CHECK(rounds <= quanta + 2);
}

TEST_CASE("unaligned quanta end a quantum after each node's own start", "[machine][parallel]") {
  const auto [rounds, cycles] = rounds_of_a_late_starter(false);
  // Node (1,0)'s quanta end a few cycles after node (0,0)'s: nearly twice the rounds.
  const uint64_t quanta = (cycles + 99) / 100;
  CHECK(rounds >= quanta + quanta / 2);
}

namespace {

// Node (0,0) pulls 64 KiB from host address 0 into SRAM at kBuf (past the next programs' images,
// which the data lands beside) without a semaphore and exits; every other node exits at once.
constexpr uint64_t kBuf = 0x10000;
const char* kPullAndExit = R"(
    csrr s0, nodex
    csrr s1, nodey
    or s0, s0, s1
    bnez s0, done
    li a1, 1
    slli a1, a1, 63
    li a0, 0x10000
    li a2, 65536
    pull a0, a1, a2, 0
done:
    li a0, 0
    li a7, 93
    ecall
)";

}  // namespace

TEST_CASE(
    "a run that leaves data in flight ends with its last thread; the next run ends once "
    "the data has landed",
    "[machine][resident][in_flight]") {
  const HardwareConfig config =
      hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml", {}).config;
  Machine m(hw::machine_params(config));
  std::vector<uint8_t> data(65536);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7 + 3);
  m.host().write(0, data.data(), data.size());
  const isa::Program pull = isa::assemble(kPullAndExit, "pull.s");
  m.load(pull);
  REQUIRE(m.run(true) == MachineOutcome::Finished);
  CHECK(m.in_flight());
  const uint64_t first_end = m.cycles();
  const uint64_t latency = hw::machine_params(config).host.front().latency;
  // The thread exited right after issuing the pull: far sooner than the DIP can answer.
  CHECK(first_end - m.phase_start() < latency);
  // The next program starts at the last thread's exit, beside the pull, and exits at once.
  m.load(isa::assemble("li a0, 0\n li a7, 93\n ecall\n", "exit.s"));
  CHECK(m.phase_start() == first_end);
  REQUIRE(m.run() == MachineOutcome::Finished);
  const uint64_t landed = m.carried_dma_done();
  // 64 KiB through one DIP: its latency and at least 64 KiB at its link's rate.
  CHECK(landed >= first_end + latency + 65536 / 1024);
  CHECK(m.cycles() < landed);  // its threads were done long before
  CHECK(m.carried_end() == m.cycles());
  CHECK_FALSE(m.in_flight());
  std::vector<uint8_t> got(data.size());
  m.node({0, 0})->sram().read(kBuf, got.data(), got.size());
  CHECK(got == data);
  // The run after that starts once the data has landed.
  m.load(isa::assemble("li a0, 0\n li a7, 93\n ecall\n", "exit.s"));
  CHECK(m.phase_start() >= landed);
  REQUIRE(m.run() == MachineOutcome::Finished);
  CHECK(m.carried_dma_done() == landed);  // kept until the next run that leaves data in flight
}

TEST_CASE("DMAs left in flight hold their slots in the next program's DMA queue",
          "[machine][resident][in_flight]") {
  MachineParams p = hw::machine_params(
      hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml", {}).config);
  p.dma_queue_depth = 1;
  Machine m(p);
  m.load(isa::assemble(kPullAndExit, "pull.s"));
  REQUIRE(m.run(true) == MachineOutcome::Finished);
  // Node (0,0) pushes 8 bytes to itself: with a queue of one, the push starts only when the
  // pull of the run before has completed.
  m.load(isa::assemble(R"(
    csrr s0, nodex
    csrr s1, nodey
    or s0, s0, s1
    bnez s0, done
    rdcycle s2
    la a0, word
    li a1, 0
    or a1, a1, a0
    li a2, 8
    push a1, a0, a2, 1
    rdcycle s3
    li t0, 1
    swait 1, t0
done:
    li a0, 0
    li a7, 93
    ecall
    .data
    .align 3
word: .dword 0
)",
                       "push.s"));
  const uint64_t start = m.phase_start();
  const MachineOutcome outcome = m.run();
  INFO(m.message());
  REQUIRE(outcome == MachineOutcome::Finished);
  const isa::ThreadState& t = m.node({0, 0})->core().thread(0);
  INFO("push issued at " << t.x[19] << ", the pull landed at " << m.carried_dma_done());
  CHECK(t.x[18] < start + 100);
  CHECK(t.x[19] >= m.carried_dma_done());
}

TEST_CASE("a run that would leave data in flight still finds a deadlock",
          "[machine][in_flight][errors]") {
  Machine m(mesh(2, 1));
  m.load(isa::assemble("li t0, 1\n swait 2, t0\n li a7, 93\n ecall\n", "stuck.s"));
  REQUIRE(m.run(true) == MachineOutcome::Deadlock);
  CHECK_THAT(m.message(), Catch::Contains("waits on semaphore 2"));
}
