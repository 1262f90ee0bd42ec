// SPDX-License-Identifier: MIT
// For the kernels' estimates: how long one thread takes through a straight list of
// instructions, from the config's timing table alone. Internal to runtime/ops.
#pragma once

#include <string>
#include <vector>

#include "isa/timing.h"

namespace dojosim::runtime::ops {

struct Schedule {
  double cycles = 0;       // from the first issue to the last result
  double simd_cycles = 0;  // the SIMD unit's busy cycles (its share when threads contend)
};

/// One thread running `lines` (assembly, one instruction each, as the program writers emit
/// them) alone and in order: each instruction issues once the one before it has, its vector
/// sources are ready and its unit is free. Only vector registers carry dependencies. Throws
/// std::logic_error on a mnemonic the instruction table does not have (a writer's bug).
Schedule schedule(const std::vector<std::string>& lines, const isa::TimingParams& t);

}  // namespace dojosim::runtime::ops
