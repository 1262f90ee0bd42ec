// SPDX-License-Identifier: MIT
// Data-parallel groups (runtime/graph/run/groups.h): how the mesh is cut, what is refused, and
// that the runtime's node lists keep to a group's rectangle.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "hw/config/config_io.h"
#include "runtime/graph/run/groups.h"
#include "runtime/graph/validate.h"
#include "runtime/mesh/common.h"
#include "runtime/ops/row_split.h"

using namespace dojosim;
using runtime::graph_run::group_regions;
using Region = hw::HardwareConfig::Region;

namespace {

hw::HardwareConfig config(const std::string& name) {
  return hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/" + name + ".yaml", {}).config;
}

std::vector<std::string> origins(const std::vector<Region>& regions) {
  std::vector<std::string> out;
  for (const Region& r : regions)
    out.push_back(std::to_string(r.origin.x) + ":" + std::to_string(r.origin.y) + " " +
                  std::to_string(r.width) + "x" + std::to_string(r.height));
  return out;
}

}  // namespace

TEST_CASE("tiny cuts into quadrants, halves and single nodes") {
  const hw::HardwareConfig tiny = config("tiny");
  CHECK(origins(group_regions(tiny, 4)) ==
        std::vector<std::string>{"0:0 2x2", "2:0 2x2", "0:2 2x2", "2:2 2x2"});
  CHECK(group_regions(tiny, 2).size() == 2);
  CHECK(group_regions(tiny, 16).front().width == 1);
  CHECK(origins(group_regions(tiny, 1)) == std::vector<std::string>{"0:0 4x4"});
}

TEST_CASE("a tile's groups are whole dies where the dies divide") {
  const hw::HardwareConfig tile = config("tile");
  const std::vector<Region> dies = group_regions(tile, 25);
  REQUIRE(dies.size() == 25);
  for (const Region& r : dies) {
    CHECK(r.width == tile.die.nodes_x);
    CHECK(r.height == tile.die.nodes_y);
    CHECK(r.origin.x % int(tile.die.nodes_x) == 0);
    CHECK(r.origin.y % int(tile.die.nodes_y) == 0);
  }
  // Five groups: a row of dies each (the squarer of the two die-aligned grids).
  for (const Region& r : group_regions(tile, 5)) CHECK(r.height == tile.die.nodes_y);
}

TEST_CASE("counts that do not cut the mesh, or cut its disabled nodes unevenly, are refused") {
  CHECK_THROWS_WITH(group_regions(config("tiny"), 3),
                    "data parallel over 3 groups: the 4x4 mesh does not cut into 3 equal "
                    "rectangles; counts that do: 1, 2, 4, 8, 16, ...");
  CHECK_THROWS_WITH(group_regions(config("tiny"), 0),
                    "data parallel over 0 groups: expected at least 1 group");
  // d1's fused-off nodes lie in its last row: no two halves hold them alike.
  CHECK_THROWS_WITH(
      group_regions(config("d1"), 2),
      Catch::Contains("has its disabled nodes at other places than the group at 0:0"));
}

TEST_CASE("the runtime's node lists keep to the region") {
  const hw::HardwareConfig tiny = config("tiny");
  const hw::HardwareConfig right = runtime::graph_run::in_region(tiny, {{2, 0}, 2, 2});
  const std::vector<hw::Coord> nodes = right.runtime_nodes();
  REQUIRE(nodes.size() == 4);
  CHECK((nodes[0] == hw::Coord{2, 0}));
  CHECK((nodes[3] == hw::Coord{3, 1}));
  const runtime::ops::RowSplit s = runtime::ops::split_rows(right, runtime::DType::Fp32, 64, 16);
  CHECK(s.nodes == nodes);
  std::vector<int> xs, ys;
  runtime::mesh::full_rows(right, xs, ys);
  CHECK(xs == std::vector<int>{2, 3});
  CHECK(ys == std::vector<int>{0, 1});
  for (const hw::Coord c : runtime::mesh::ring_of_nodes(right)) CHECK((c.x >= 2 && c.y <= 1));
  // The whole mesh when no region is set; and the hardware's comparison ignores the region.
  CHECK(tiny.runtime_nodes().size() == 16);
  CHECK(right == tiny);
}
