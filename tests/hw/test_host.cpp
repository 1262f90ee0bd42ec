// SPDX-License-Identifier: MIT
// Host memory (DIP HBM) and the DMA engine: pushes to and pulls from host memory, pulls from
// another node, the bandwidth and latency of a DIP, the DMA queue depth, and the errors of a
// bad host address. One machine per test case (SystemC elaborates once per process).
#include <catch2/catch.hpp>

#include <string>

#include "hw/config/config_io.h"
#include "hw/config/machine_params.h"
#include "hw/host/host_memory.h"
#include "hw/machine/machine.h"
#include "hw/node/node.h"
#include "hw/stats/stats.h"
#include "isa/assembler.h"

using namespace dojosim;
using namespace dojosim::hw;

namespace {

HardwareConfig tiny(std::vector<std::string> sets = {}) {
  return hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml", sets).config;
}

// Registers s2..s4 of a node's thread 0 after the run (the programs below record cycles there).
uint64_t reg(const Machine& m, Coord at, int r) { return m.node(at)->core().thread(0).x[r]; }

DipParams dip(uint64_t capacity, double hbm, double link, uint64_t latency) {
  DipParams d;
  d.first = {0, 0}, d.last = {0, 3};
  d.capacity = capacity, d.hbm_bytes_per_cycle = hbm, d.link_bytes_per_cycle = link,
  d.latency = latency;
  return d;
}

}  // namespace

TEST_CASE("host addresses map to DIPs in order and a transfer stays inside one", "[host]") {
  HostMemory h({dip(1024, 100, 100, 10), dip(1024, 100, 100, 10)});
  std::string why;
  CHECK(h.dip_of(0, 1024, why) == 0);
  CHECK(h.dip_of(1024, 8, why) == 1);
  CHECK(h.dip_of(1000, 100, why) == -1);
  CHECK_THAT(why, Catch::Contains("crosses the end of DIP 0 at host address 0x400"));
  CHECK(h.dip_of(2048, 1, why) == -1);
  CHECK_THAT(why, Catch::Contains("host memory ends at 0x800 (2 DIPs)"));
  CHECK(HostMemory({}).dip_of(0, 1, why) == -1);
  CHECK_THAT(why, Catch::Contains("no host memory"));
  // The edge node nearest to a node: same row, on the DIP's column.
  CHECK(h.entry(0, {3, 2}) == Coord{0, 2});
  CHECK(h.entry(0, {3, 9}) == Coord{0, 3});
}

TEST_CASE("host memory reads zero until written and keeps what is written", "[host]") {
  HostMemory h({dip(uint64_t{1} << 34, 100, 100, 10)});
  uint8_t buf[16] = {1};
  h.read((uint64_t{1} << 33) + 65530, buf, 16);  // across a page boundary, never written
  for (uint8_t b : buf) CHECK(b == 0);
  const char text[] = "across the page.";
  h.write(65530, text, 16);
  h.read(65530, buf, 16);
  CHECK(std::string(reinterpret_cast<char*>(buf), 16) == "across the page.");
  CHECK(h.bytes_allocated() == 2 * 64 * 1024);  // only the two pages touched
}

TEST_CASE("a DIP's HBM serves reads at its bandwidth after its latency", "[host]") {
  HostMemory h({dip(1 << 20, 100, 1000, 50)});
  // Idle: the first byte leaves the DIP `latency` cycles after the request, the last one
  // after the HBM's 10 cycles for 1000 bytes.
  const HostMemory::Span one = h.read_timing(0, 1000, 7);
  CHECK(one.first == 7 + 50);
  CHECK(one.last == 7 + 10 + 50);
  // Ten more 1000-byte reads at once queue behind it at 100 B/cycle.
  HostMemory::Span last{};
  for (int i = 0; i < 10; ++i) last = h.read_timing(0, 1000, 7);
  CHECK(last.first == 7 + 10 * 10 + 50);
  CHECK(last.last == 7 + 11 * 10 + 50);
  CHECK(h.stats(0).bytes_read == 11000);
  CHECK(h.stats(0).hbm_busy_cycles == 110);
  CHECK(h.stats(0).wait_cycles == 10 * 11 / 2 * 10);
  // A write is acknowledged after its link, its HBM time and the latency.
  HostMemory w({dip(1 << 20, 100, 1000, 50)});
  CHECK(w.write_timing(0, 1000, 0) == 1 + 10 + 50);
}

TEST_CASE("a node pushes to host memory and pulls it back", "[host][machine]") {
  const HardwareConfig c = tiny();
  MachineParams p = machine_params(c);
  REQUIRE(p.host.size() == 1);  // tiny is the corner die: one DIP on its west edge
  Machine m(p);
  // Node (2,1) writes 64 bytes to host address 0x1000 + 64 * id, waits for the write's
  // acknowledgement on its own semaphore, pulls the bytes back into another buffer and
  // compares; it records the cycles of each step.
  m.load(isa::assemble(R"(
    csrr s0, nodeid
    la t0, out
    sd s0, 0(t0)
    sd s0, 56(t0)
    li a1, 1
    slli a1, a1, 63
    slli t1, s0, 6
    addi t1, t1, 0x400
    addi t1, t1, 0x400
    addi t1, t1, 0x400
    addi t1, t1, 0x400           # host address 0x1000 + 64 * id
    or a1, a1, t1
    li a2, 64
    rdcycle s2
    push a1, t0, a2, 1           # to host: semaphore 1 counts here when written
    li t2, 1
    swait 1, t2
    rdcycle s3
    la t3, back
    pull t3, a1, a2, 2
    swait 2, t2
    rdcycle s4
    ld t4, 0(t3)
    ld t5, 56(t3)
    sub a0, t4, s0
    sub t5, t5, s0
    or a0, a0, t5
    snez a0, a0
    li a7, 93
    ecall
    .data
    .align 6
out:  .space 64
back: .space 64
  )", "host.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  for (const NodeResult& r : m.results()) CHECK(r.exit_codes[0] == 0);
  // Every node's bytes are in host memory.
  uint64_t id = 0;
  m.host().read(0x1000 + 64 * 6, &id, 8);
  CHECK(id == 6);
  const DipParams& d = p.host[0];
  for (Coord at : {Coord{0, 0}, Coord{3, 3}}) {
    INFO("node " << at.x << "," << at.y);
    CHECK(reg(m, at, 19) - reg(m, at, 18) >= d.latency);  // write acknowledged after the latency
    CHECK(reg(m, at, 20) - reg(m, at, 19) >= d.latency);  // read data after the latency
  }
  // The farther node pays its hops to the west edge both ways.
  CHECK(reg(m, {3, 3}, 20) - reg(m, {3, 3}, 19) > reg(m, {0, 3}, 20) - reg(m, {0, 3}, 19));
  const StatsNode stats = collect_stats(m, c);
  CHECK(stats.counter("host_bytes_written") == 16 * 64);
  CHECK(stats.counter("host_bytes_read") == 16 * 64);
  REQUIRE(stats.child("dip0") != nullptr);
  CHECK(stats.child("dip0")->counter("requests") == 32);
  CHECK(stats.value("energy_host_j") > 0);
}

TEST_CASE("many nodes pulling from one DIP are bound by its bandwidth", "[host][machine]") {
  // A DIP of 20 GB/s (10 B/cycle) is far narrower than the mesh: all 16 nodes pull 64 KiB
  // each at once, 1 MiB through that one DIP.
  MachineParams p = machine_params(tiny({"tile.host.dip_gb_per_s=20"}));
  Machine m(p);
  m.load(isa::assemble(R"(
    li a1, 1
    slli a1, a1, 63
    la a0, buf
    li a2, 65536
    pull a0, a1, a2, 1
    li t0, 1
    swait 1, t0
    li a0, 0
    li a7, 93
    ecall
    .data
    .align 6
buf: .space 65536
  )", "flood.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  const DipParams& d = p.host[0];
  const double bound = 16.0 * 65536 / std::min(d.hbm_bytes_per_cycle, d.link_bytes_per_cycle);
  INFO("cycles " << m.cycles() << ", bandwidth bound " << bound << ", latency " << d.latency);
  REQUIRE(d.hbm_bytes_per_cycle == Approx(10));
  CHECK(double(m.cycles()) >= bound + d.latency);
  // Within the DIP's time plus the last message's way through the mesh (1 KiB packets at
  // 64 B/cycle over a few hops).
  CHECK(double(m.cycles()) <= bound + d.latency + 65536 / 64 + 100);
}

TEST_CASE("a node pulls from another node's SRAM over the mesh", "[host][machine]") {
  Machine m(machine_params(tiny()));
  // (3,0) pulls (0,0)'s table: the request goes west, the data comes east.
  m.load(isa::assemble(R"(
    csrr s0, nodex
    csrr s1, nodey
    li a0, 0
    bnez s1, done
    li t0, 3
    bne s0, t0, done
    la a1, table                 # node (0,0)'s table: global address = offset
    la a0, copy
    li a2, 32
    pull a0, a1, a2, 4
    li t0, 1
    swait 4, t0
    ld t1, 24(a0)
    li t2, 0x44
    sub a0, t1, t2
done:
    li a7, 93
    ecall
    .data
    .align 3
table: .dword 0x11, 0x22, 0x33, 0x44
copy:  .space 32
  )", "pull.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  for (const NodeResult& r : m.results()) CHECK(r.exit_codes[0] == 0);
  CHECK(m.network().link_stats({0, 0}, Dir::East).bytes == 32);  // the data
  // The request rides its own class (docs/hardware.md): latency, no link time.
  CHECK(m.network().link_stats({3, 0}, Dir::West).packets == 0);
}

TEST_CASE("a node's pulls from HBM overlap: the second does not wait for the first reply",
          "[host][machine]") {
  // One node pulls 1 KiB from HBM once, or three times back to back: each reply takes the
  // DIP's latency, so three in a row must take far less than three latencies.
  Machine m(machine_params(tiny()));  // one machine per process: two runs on it
  const auto cycles_for = [&m](int pulls) {
    std::string text = R"(
    csrr s0, nodex
    csrr s1, nodey
    or s0, s0, s1
    bnez s0, done
    li a0, 0x10000
    li a1, 1
    slli a1, a1, 63
    li a2, 1024
)";
    for (int i = 0; i < pulls; ++i)
      text += "    pull a0, a1, a2, 1\n    addi a0, a0, 1024\n    addi a1, a1, 1024\n";
    text += "    li t0, " + std::to_string(pulls) +
            "\n    swait 1, t0\ndone:\n    li a0, 0\n    li a7, 93\n    ecall\n";
    m.load(isa::assemble(text, "pulls.s"));
    REQUIRE(m.run() == MachineOutcome::Finished);
    return m.cycles() - m.phase_start();
  };
  const uint64_t one = cycles_for(1), three = cycles_for(3);
  const uint64_t latency = machine_params(tiny()).host.front().latency;
  CHECK(one > latency);
  CHECK(three < one + latency / 2);
}

namespace {

// Node (0,0) issues eight 1 KiB pushes to (3,0) back to back through a DMA queue of `depth`;
// returns its thread: x18 holds the cycle the last push issued.
const isa::ThreadState& push_eight(Machine& m) {
  m.load(isa::assemble(R"(
    csrr s0, nodex
    csrr s1, nodey
    bnez s1, done
    bnez s0, receive
    li a1, 0x0003000000000000    # node (3,0)
    la t1, buf
    or a1, a1, t1
    li a2, 1024
    li t2, 8
1:  push a1, t1, a2, 1
    addi t2, t2, -1
    bnez t2, 1b
    rdcycle s2                   # when the last one was issued
    j done
receive:
    li t0, 3
    bne s0, t0, done
    li t0, 8
    swait 1, t0
done:
    li a0, 0
    li a7, 93
    ecall
    .data
    .align 6
buf: .space 1024
  )", "queue.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  return m.node({0, 0})->core().thread(0);
}

uint64_t dma_stall(const isa::ThreadState& t) {
  return t.stalls[static_cast<size_t>(isa::StallCause::DmaQueue)];
}

}  // namespace

TEST_CASE("a full DMA queue makes the next push wait for the oldest", "[host][machine]") {
  // Each 1 KiB push holds the injection link 16 cycles; with 2 in flight, the third and later
  // wait for the oldest to arrive.
  Machine m(machine_params(tiny({"node.dma.queue_depth=2"})));
  const isa::ThreadState& t = push_eight(m);
  INFO("last push issued at " << t.x[18] << ", stalled " << dma_stall(t));
  CHECK(dma_stall(t) >= 5 * 16);
  CHECK(t.x[18] >= 6 * 16);
}

TEST_CASE("a DMA queue deeper than the pushes never stalls", "[host][machine]") {
  Machine m(machine_params(tiny({"node.dma.queue_depth=16"})));
  const isa::ThreadState& t = push_eight(m);
  CHECK(dma_stall(t) == 0);
  CHECK(t.x[18] < 40);
}

TEST_CASE("a host address beyond the last DIP stops the run with a report",
          "[host][machine][errors]") {
  Machine m(machine_params(tiny()));
  m.load(isa::assemble("li a1, 0x80000FFFFFFFFFF0\n la a0, b\n li a2, 64\n pull a0, a1, a2, 1\n"
                       " li a7, 93\n ecall\n .data\nb: .space 64\n", "far.s"));
  REQUIRE(m.run() == MachineOutcome::Trapped);
  CHECK_THAT(m.message(),
             Catch::Contains("pull of 64 bytes from global address 0x80000ffffffffff0: "
                             "host memory ends at 0x800000000 (1 DIPs)"));
}

TEST_CASE("a push to host memory on a die without a DIP stops the run", "[host][machine][errors]") {
  Machine m(machine_params(tiny({"machine.die=[1, 1]"})));
  m.load(isa::assemble("li a1, 1\n slli a1, a1, 63\n li a2, 8\n push a1, zero, a2, 0\n"
                       " li a7, 93\n ecall\n", "none.s"));
  REQUIRE(m.run() == MachineOutcome::Trapped);
  CHECK_THAT(m.message(), Catch::Contains("this machine has no host memory"));
}

TEST_CASE("a DMA queue depth of 0 is rejected", "[host][errors]") {
  MachineParams p = machine_params(tiny());
  p.dma_queue_depth = 0;
  CHECK_THROWS_WITH(Machine(p), Catch::Contains("node.dma.queue_depth = 0"));
}
