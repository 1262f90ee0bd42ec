// SPDX-License-Identifier: MIT
// The hardware model's own parameter structs (hw/noc's NocParams, hw/machine's MachineParams)
// filled from a validated HardwareConfig: the one path from a YAML file to a built machine, so
// the model's struct defaults never stand in for a configured value.
#pragma once

#include "hw/config/hardware_config.h"
#include "hw/machine/machine.h"
#include "hw/noc/network.h"

namespace dojosim::hw {

// Die-edge links get the die edge's bandwidth shared by the links crossing it (the narrower of
// the two orientations, whole bytes per cycle) and its latency in cycles.
NocParams noc_params(const HardwareConfig& config);
// The DIPs attached to the simulated dies (tile.host.*), in host-address order.
std::vector<DipParams> host_params(const HardwareConfig& config);
// The simulated mesh (machine.scope), every disabled position in it, the core, the network and
// the simulation limits. Run options that are not hardware (threads started, stack size,
// barrier latency) keep MachineParams' values for the caller to set.
MachineParams machine_params(const HardwareConfig& config);

}  // namespace dojosim::hw
