// SPDX-License-Identifier: MIT
// Dimension-order routing, X first: the default, deadlock-free on a mesh without virtual
// channels, and in-order for every source/destination pair because the path is fixed.
#include "hw/noc/routing/policies.h"

namespace dojosim::hw {

Dir DorXy::next(Coord here, Coord dst) const {
  if (dst.x != here.x) return dst.x > here.x ? Dir::East : Dir::West;
  return dst.y > here.y ? Dir::South : Dir::North;
}

}  // namespace dojosim::hw
