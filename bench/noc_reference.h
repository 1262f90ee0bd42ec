// SPDX-License-Identifier: MIT
// A cycle-by-cycle input-queued mesh for bench_noc_traffic --reference: the yardstick the
// reservation model (hw/noc/input_queued.cpp) is measured against where BookSim is not at
// hand. Every router is stepped every cycle, so it is slow and lives here, not in hw/noc/.
// 1-flit packets only; DOR (xy); `vcs` VCs of `depth` flits per input port, a credit coming
// back the cycle after its flit left; a packet may cross the switch `latency` cycles after
// its head was written into the VC (the zero-load latency is network.h's formula); a
// separable input-first switch allocator with one iteration: each input port picks one of its
// VCs whose head is ready and has a credit downstream, each output picks one of the inputs
// that picked it, and an input whose pick lost sends nothing (BookSim's iSLIP with one
// iteration, when both arbiters are round-robin whose pointers move only on a grant). The
// source queue is outside the network: a node injects one packet per cycle when a VC of its
// local input port has a credit.
#pragma once

#include <cstdint>
#include <vector>

#include "hw/noc/geometry.h"

namespace noc_reference {

struct Packet {
  uint64_t cycle;  // generated (ready to inject)
  dojosim::hw::Coord src, dst;
};

// How both arbiters of the switch allocator choose: round-robin (locally fair, BookSim's
// default) or oldest packet first (globally fair by age).
enum class Arbitration { RoundRobin, Age };

// The cycle each packet (in `packets`' order, sorted by cycle) is in its destination: runs
// until every packet has arrived.
std::vector<uint64_t> run(const std::vector<Packet>& packets, int n, unsigned vcs, unsigned depth,
                          unsigned latency, Arbitration arbitration);

}  // namespace noc_reference
