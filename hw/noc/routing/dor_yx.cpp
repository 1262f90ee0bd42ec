// SPDX-License-Identifier: MIT
// Dimension-order routing, Y first: the mirror of dor_xy, for studying which dimension a
// mapping's traffic should take first.
#include "hw/noc/routing/policies.h"

namespace dojosim::hw {

Dir DorYx::next(Coord here, Coord dst) const {
  if (dst.y != here.y) return dst.y > here.y ? Dir::South : Dir::North;
  return dst.x > here.x ? Dir::East : Dir::West;
}

}  // namespace dojosim::hw
