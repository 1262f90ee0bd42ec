// SPDX-License-Identifier: MIT
// Routing policies of the mesh: given where a packet is and where it goes, the next direction.
// A policy is one file in hw/noc/routing/ and one line in the registry (hw/noc/routing.cpp);
// tests/hw/test_noc.cpp checks that every file there is registered.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hw/noc/geometry.h"

namespace dojosim::hw {

class Routing {
 public:
  virtual ~Routing() = default;
  // Called with here != dst; must move the packet one hop closer (minimal routing), so a path
  // is at most manhattan(src, dst) hops and every path is deadlock-free on a mesh.
  virtual Dir next(Coord here, Coord dst) const = 0;
};

// nullptr if `name` is not registered.
std::unique_ptr<Routing> make_routing(std::string_view name);
std::vector<std::string> routing_names();

}  // namespace dojosim::hw
