// SPDX-License-Identifier: MIT
// Where the host's time goes while machines run (docs/parallel.md, "Where the host time
// goes"): node activations (the part that host threads share), the scheduler's serial
// hand-over after each round, the fabric's drains (serial), and the rest of a run (SystemC's
// kernel, the machine's bookkeeping). Process-wide, like the SystemC kernel it measures, and
// off unless asked for (`dojosim run --host-profile`): reading the clock costs tens of
// nanoseconds, several times per round.
#pragma once

#include <cstdint>
#include <string>

#include "hw/node/host_clock.h"

namespace dojosim::hw {

struct HostProfile {
  bool on = false;
  unsigned threads = 1;   // host threads of the last machine
  size_t shared_min = 0;  // ... and the fewest nodes of a round it shares between them
  size_t nodes = 0;       // ... its usable nodes
  bool aligned = false;   // ... whether its quanta were aligned (sim.quantum_aligned)
  double run_s = 0;       // inside Machine::run()
  // All rounds' activations; those of rounds large enough to share between host threads (on
  // the pool when there are several; counted at one thread too, for the model of speed-ups).
  double activate_s = 0, shared_activate_s = 0;
  double hand_over_s = 0;  // after each round: new requests to the fabric, next activations
  double drain_s = 0;      // the fabric's drains
  uint64_t runs = 0, rounds = 0, shared_rounds = 0, activations = 0, shared_activations = 0,
           drains = 0;
};

HostProfile& host_profile();  // the process's

// Several lines, each starting with "host: ", that say where the time went.
std::string format_host_profile(const HostProfile& p);

}  // namespace dojosim::hw
