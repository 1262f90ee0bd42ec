// SPDX-License-Identifier: MIT
// How a machine run ended. Its own header so that results carrying it (the runtime's) do not
// pull in SystemC.
#pragma once
#include <cstdint>
#include <string_view>

namespace dojosim::hw {

enum class MachineOutcome : uint8_t { Finished, Trapped, Deadlock, CycleLimit, TimeLimit };
std::string_view outcome_name(MachineOutcome outcome);  // "finished", "trapped", "deadlock", ...

}  // namespace dojosim::hw
