// SPDX-License-Identifier: MIT
// hierarchical: the members of each die form a ring (their snake folded), numbered along it;
// the k-th members of all dies form a ring across the dies (the dies' snake folded), over the
// die-edge links. All-reduce: reduce-scatter within each die, reduce-scatter across the dies on
// each die's share, all-gather across, all-gather within. A die with fewer members cuts the
// numbers into contiguous runs, one per member.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "runtime/collectives/algorithms/common.h"

namespace dojosim::runtime::collectives {

const char* file_hierarchical() {
  return __FILE__;
}

Schedule build_hierarchical(const BuildInput& in) {
  const std::vector<hw::Coord>& m = in.problem.group.members;
  std::map<std::pair<int, int>, std::vector<hw::Coord>> die_members;  // (y, x) of the die
  std::map<std::pair<int, int>, std::vector<uint32_t>> die_index;
  for (uint32_t i = 0; i < m.size(); ++i) {
    const hw::Coord d = in.config.die_of(m[i]);
    die_members[{d.y, d.x}].push_back(m[i]);
    die_index[{d.y, d.x}].push_back(i);
  }
  if (die_members.size() < 2)
    throw std::invalid_argument(
        "the group lies in one die: hierarchical needs two (ring or 2d "
        "covers one die)");
  std::vector<hw::Coord> dies;
  for (const auto& [yx, list] : die_members) dies.push_back({yx.second, yx.first});
  std::vector<uint32_t> key(m.size());
  std::vector<std::vector<uint32_t>> rows;
  for (uint32_t d : fold(snake_order(dies))) {
    const auto& members = die_members[{dies[d].y, dies[d].x}];
    const auto& index = die_index[{dies[d].y, dies[d].x}];
    std::vector<uint32_t> ring;
    for (uint32_t i : fold(snake_order(members))) ring.push_back(index[i]);
    for (uint32_t k = 0; k < ring.size(); ++k) key[ring[k]] = k;
    rows.push_back(ring);
  }
  Schedule s = two_level(in.problem.op, rows, key, in.problem.root);
  s.note = fmt::format("{} dies", rows.size());
  return s;
}

}  // namespace dojosim::runtime::collectives
