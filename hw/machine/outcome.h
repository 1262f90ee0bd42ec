// SPDX-License-Identifier: MIT
// How a machine run ended. Its own header so that results carrying it (the runtime's) do not
// pull in SystemC.
#pragma once
#include <cstdint>
#include <string_view>

namespace dojosim::hw {

// NeedsValues: with sim.values off, a program's control flow or an address needed a value that
// was not computed (docs/timing.md).
enum class MachineOutcome : uint8_t {
  Finished,
  Trapped,
  Deadlock,
  CycleLimit,
  TimeLimit,
  NeedsValues
};
std::string_view outcome_name(MachineOutcome outcome);  // "finished", "trapped", "deadlock", ...

}  // namespace dojosim::hw
