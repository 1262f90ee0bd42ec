// SPDX-License-Identifier: MIT
// The host's wall clock, for what is measured in host time: the run's time limit
// (sim.max_seconds) and the host profile (hw/machine/host_profile.h).
#pragma once

#include <chrono>

namespace dojosim::hw {

// Seconds since an arbitrary start: only differences mean anything.
inline double host_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace dojosim::hw
