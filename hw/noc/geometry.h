// SPDX-License-Identifier: MIT
// Positions and directions in the 2D mesh. Coordinates are global over the machine: a tile of
// 5x5 dies of 18x20 nodes is one 90x100 mesh, and a link that crosses a die boundary is a
// die-edge link.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace dojosim::hw {

struct Coord {
  int x = 0, y = 0;
  friend bool operator==(Coord a, Coord b) { return a.x == b.x && a.y == b.y; }
  friend bool operator!=(Coord a, Coord b) { return !(a == b); }
};

// The four mesh directions; y grows southwards, as rows of a die plot do.
enum class Dir : uint8_t { East, West, North, South, kCount };
constexpr int kDirCount = static_cast<int>(Dir::kCount);

inline std::string_view dir_name(Dir d) {
  constexpr std::string_view kNames[] = {"east", "west", "north", "south"};
  static_assert(std::size(kNames) == kDirCount);
  return kNames[static_cast<size_t>(d)];
}

inline Coord step(Coord c, Dir d) {
  switch (d) {
    case Dir::East: return {c.x + 1, c.y};
    case Dir::West: return {c.x - 1, c.y};
    case Dir::North: return {c.x, c.y - 1};
    default: return {c.x, c.y + 1};
  }
}

inline int manhattan(Coord a, Coord b) { return std::abs(a.x - b.x) + std::abs(a.y - b.y); }

}  // namespace dojosim::hw
