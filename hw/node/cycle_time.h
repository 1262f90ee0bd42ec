// SPDX-License-Identifier: MIT
// Simulated time at whole and half cycles, built from ticks of the time resolution (1 ps, the
// SystemC default) rather than with sc_time(double, unit), which looks up the simulation
// context on every call: that was 2-4% of a communication-bound run. The rounding is
// sc_time's own, so the times are the same.
#pragma once

#include <cstdint>
#include <systemc>

namespace dojosim::hw {

class CycleTime {
 public:
  CycleTime() = default;
  explicit CycleTime(double period_ps) : period_ps_(period_ps) {}

  double period_ps() const { return period_ps_; }
  // The delay from now until `cycle` (whole or half); zero once that time has come.
  sc_core::sc_time until(double cycle) const {
    const auto at = static_cast<sc_core::sc_time::value_type>(cycle * period_ps_ + 0.5);
    const auto now = sc_core::sc_time_stamp().value();
    return at > now ? sc_core::sc_time::from_value(at - now) : sc_core::SC_ZERO_TIME;
  }

 private:
  double period_ps_ = 0;
};

}  // namespace dojosim::hw
