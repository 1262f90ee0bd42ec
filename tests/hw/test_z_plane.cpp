// SPDX-License-Identifier: MIT
// The Z-plane (system.z_plane; docs/hardware.md, "Systems"): a DMA between nodes near two
// different DIPs crosses the DIPs' Ethernet and a switch instead of the mesh when that is
// faster on an idle machine; messages between a pair still arrive in the order sent.
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "hw/config/config_io.h"
#include "hw/config/machine_params.h"
#include "hw/machine/machine.h"
#include "isa/assembler.h"

using namespace dojosim;
using namespace dojosim::hw;

namespace {

// A 32 x 1 mesh with slow routers (10 cycles a hop) and a DIP at each end, each reaching
// only its end node, with links and Ethernet ports of 256 B per cycle and no switch latency:
// the Z-plane wins for short messages and loses for long ones (serialised at both ends).
MachineParams line(bool z_plane) {
  MachineParams p = hw::machine_params(hw::HardwareConfig{});
  p.width = 32, p.height = 1;
  p.disabled.clear();
  p.noc.router_latency = 10;
  p.noc.die_w = p.noc.die_h = 0;
  DipParams d;
  d.capacity = 1 << 20;
  d.hbm_bytes_per_cycle = d.link_bytes_per_cycle = d.ethernet_bytes_per_cycle = 256;
  d.latency = 10;
  d.edge = Dir::West, d.first = d.last = {0, 0};
  p.host = {d};
  d.edge = Dir::East, d.first = d.last = {31, 0};
  p.host.push_back(d);
  p.z_plane = z_plane;
  p.z_switch_latency = 0;
  p.dma_queue_depth = 4;  // the signal's push goes while the data's is in flight
  return p;
}

// Node (0,0) pushes BYTES to node (31,0) (only its last word set), then 8 bytes with a
// signal; node (31,0) waits for the signal and exits 0 if the last word is there.
isa::Program pair_program(unsigned bytes) {
  return isa::assemble(fmt::format(R"(
    .equ BYTES, {}
    csrr s0, nodex
    li t1, 31
    beq s0, t1, 2f
    bnez s0, 3f
    la t0, buf
    li t2, BYTES - 8
    add t3, t0, t2
    li t4, 0x1234
    sd t4, 0(t3)
    li t2, 31
    slli t2, t2, 48
    or t2, t2, t0              # node (31,0)'s buf
    li t5, BYTES
    push t2, t0, t5, 0         # the data, no signal
    li t6, 8
    push t2, t0, t6, 1         # then 8 bytes and the signal
    j 3f
2:  li t1, 1
    swait 1, t1
    la t0, buf
    li t2, BYTES - 8
    add t3, t0, t2
    ld t4, 0(t3)
    li t5, 0x1234
    sub a0, t4, t5
    snez a0, a0
    li a7, 93
    ecall
3:  li a0, 0
    li a7, 93
    ecall
    .data
    .align 6
buf: .space BYTES
  )",
                                   bytes),
                       "pair.s");
}

}  // namespace

TEST_CASE("z-plane: a short message between far nodes crosses the DIPs, not the mesh",
          "[machine][z-plane]") {
  Machine m(line(true));
  m.load(pair_program(256));
  REQUIRE(m.run() == MachineOutcome::Finished);
  for (const NodeResult& r : m.results()) CHECK(r.exit_codes[0] == 0);
  CHECK(m.network().link_stats({15, 0}, Dir::East).bytes == 0);
  CHECK(m.host().stats(0).z_bytes_out == 256 + 8);
  CHECK(m.host().stats(1).z_bytes_in == 256 + 8);
  CHECK(m.host().stats(1).z_bytes_out == 0);
  // In 320 cycles the mesh path's head alone would not have crossed its 31 routers.
  CHECK(m.cycles() < 320);
}

TEST_CASE("z-plane: off, the same message crosses the mesh", "[machine][z-plane]") {
  Machine m(line(false));
  m.load(pair_program(256));
  REQUIRE(m.run() == MachineOutcome::Finished);
  for (const NodeResult& r : m.results()) CHECK(r.exit_codes[0] == 0);
  CHECK(m.network().link_stats({15, 0}, Dir::East).bytes >= 256 + 8);
  CHECK(m.host().stats(0).z_bytes_out == 0);
  CHECK(m.cycles() > 320);
}

// The signal leaves behind the data on the sender's injection link and lands behind it on the
// receiver's ejection link, and the pair's order holds besides (Network::in_order).
TEST_CASE(
    "z-plane: a long message takes the mesh, the short signal after it the Z-plane, and "
    "the signal still arrives after the data",
    "[machine][z-plane]") {
  Machine m(line(true));
  m.load(pair_program(65536));
  REQUIRE(m.run() == MachineOutcome::Finished);
  // The receiver read the data's last word after the signal: it was there.
  for (const NodeResult& r : m.results()) CHECK(r.exit_codes[0] == 0);
  CHECK(m.network().link_stats({15, 0}, Dir::East).bytes >= 65536);
  CHECK(m.host().stats(0).z_bytes_out == 8);
}
