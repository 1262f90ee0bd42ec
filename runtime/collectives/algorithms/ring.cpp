// SPDX-License-Identifier: MIT
// ring: every member in one ring, the snake through the mesh folded (even positions forward,
// odd ones back) so that no hop is longer than two; reduce-scatter and all-gather in n-1
// rounds each, a broadcast as one chain from the root.
#include <fmt/format.h>

#include <algorithm>

#include "runtime/collectives/algorithms/common.h"

namespace dojosim::runtime::collectives {

std::vector<uint32_t> snake_order(const std::vector<hw::Coord>& members) {
  std::vector<uint32_t> order(members.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const hw::Coord p = members[a], q = members[b];
    if (p.y != q.y) return p.y < q.y;
    return p.y % 2 ? p.x > q.x : p.x < q.x;
  });
  return order;
}

const char* file_ring() {
  return __FILE__;
}

Schedule build_ring(const BuildInput& in) {
  const std::vector<uint32_t> ring = fold(snake_order(in.problem.group.members));
  std::vector<uint32_t> key(ring.size());
  for (uint32_t i = 0; i < ring.size(); ++i) key[ring[i]] = i;
  Schedule s = two_level(in.problem.op, {ring}, key, in.problem.root);
  s.note = fmt::format("one ring of {} members", ring.size());
  return s;
}

}  // namespace dojosim::runtime::collectives
