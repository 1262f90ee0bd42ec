// SPDX-License-Identifier: MIT
// The routing policies, one per file beside this header.
#pragma once

#include "hw/noc/routing.h"

namespace dojosim::hw {

class DorXy final : public Routing {
 public:
  Dir next(Coord here, Coord dst) const override;
};

class DorYx final : public Routing {
 public:
  Dir next(Coord here, Coord dst) const override;
};

}  // namespace dojosim::hw
