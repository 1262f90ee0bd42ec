// SPDX-License-Identifier: MIT
// What the algorithm files share: members in snake order through the mesh.
#pragma once

#include <vector>

#include "runtime/collectives/schedule.h"

namespace dojosim::runtime::collectives {

/// Members (by index) along the snake: rows of the mesh from the top, alternately west to east
/// and east to west, so that consecutive members are near each other.
std::vector<uint32_t> snake_order(const std::vector<hw::Coord>& members);

}  // namespace dojosim::runtime::collectives
