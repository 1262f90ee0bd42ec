// SPDX-License-Identifier: MIT
// halving-doubling: the largest power of two P of members (the core) run recursive halving
// (at distance d = P/2, P/4, .., 1 each keeps the half of its block holding its own leaf, sends
// the other half to the member d away and adds what comes back) and recursive doubling back;
// log2 P rounds each, whatever the group size. The other n - P members pair with a core member
// next to them on the snake: they send it their vector first and get the result last. A
// broadcast is a binomial tree over the core.
#include <fmt/format.h>

#include "runtime/collectives/algorithms/common.h"

namespace dojosim::runtime::collectives {

const char* file_halving_doubling() {
  return __FILE__;
}

Schedule build_halving_doubling(const BuildInput& in) {
  const CollectiveProblem& pr = in.problem;
  const std::vector<uint32_t> snake = snake_order(pr.group.members);
  const uint32_t n = static_cast<uint32_t>(snake.size());
  uint32_t P = 1;
  while (P * 2 <= n) P *= 2;
  const uint32_t extras = n - P;
  // The first 2 x extras snake positions pair up: the even one is in the core, the odd one is
  // its extra.
  std::vector<uint32_t> core, extra;
  for (uint32_t p = 0; p < n; ++p) (p < 2 * extras && p % 2 ? extra : core).push_back(snake[p]);
  Schedule s;
  s.leaves.resize(P);
  for (uint32_t i = 0; i < P; ++i) s.leaves[i].owner = core[i];
  uint32_t round = 0;
  const auto pairs = [&](bool inward, bool reduce) {
    for (uint32_t j = 0; j < extras; ++j)
      inward ? s.send(extra[j], core[j], 0, P, reduce, round)
             : s.send(core[j], extra[j], 0, P, reduce, round);
    if (extras) ++round;
  };
  const Collective op = pr.op;
  if (op == Collective::AllReduce || op == Collective::ReduceScatter) {
    pairs(true, true);
    for (uint32_t d = P / 2; d >= 1; d /= 2, ++round)
      for (uint32_t i = 0; i < P; ++i) {
        const uint32_t partner = i ^ d, first = partner & ~(d - 1);
        s.send(core[i], core[partner], first, first + d, true, round);
      }
  }
  if (op == Collective::AllReduce || op == Collective::AllGather) {
    for (uint32_t d = 1; d < P; d *= 2, ++round)
      for (uint32_t i = 0; i < P; ++i) {
        const uint32_t first = i & ~(d - 1);
        s.send(core[i], core[i ^ d], first, first + d, false, round);
      }
    pairs(false, false);
  }
  if (op == Collective::Broadcast) {
    uint32_t from = 0;  // the root's core member
    for (uint32_t j = 0; j < extras; ++j)
      if (extra[j] == pr.root) {
        s.send(extra[j], core[j], 0, P, false, round++);
        from = j;
      }
    for (uint32_t i = 0; i < P; ++i)
      if (core[i] == pr.root) from = i;
    for (uint32_t d = 1; d < P; d *= 2, ++round)
      for (uint32_t v = 0; v < d; ++v)
        s.send(core[v ^ from], core[(v + d) ^ from], 0, P, false, round);
    for (uint32_t j = 0; j < extras; ++j)
      if (extra[j] != pr.root) s.send(core[j], extra[j], 0, P, false, round);
  }
  s.note = fmt::format("a core of {} members{}", P,
                       extras ? fmt::format(", {} paired with it", extras) : std::string());
  return s;
}

}  // namespace dojosim::runtime::collectives
