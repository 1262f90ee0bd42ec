// SPDX-License-Identifier: MIT
// CycleQueue (hw/node/cycle_queue.h) against a sorted multiset: the same keys come out a whole
// cycle at a time, smallest first, whether they fell in the window of buckets, beyond it or
// behind it, and stale keys are dropped as first_live() is told.
#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <vector>

#include "hw/node/cycle_queue.h"

using dojosim::hw::CycleQueue;
using Key = CycleQueue::Key;

namespace {

// Takes the first cycle out of both and checks they agree.
void pop_and_compare(CycleQueue& q, std::multiset<Key>& ref) {
  REQUIRE(q.first_cycle() == (ref.empty() ? UINT64_MAX : ref.begin()->first));
  std::vector<Key> got;
  const uint64_t cycle = q.pop_first(got);
  if (ref.empty()) {
    REQUIRE(cycle == UINT64_MAX);
    REQUIRE(got.empty());
    return;
  }
  std::vector<Key> want;
  while (!ref.empty() && ref.begin()->first == cycle) {
    want.push_back(*ref.begin());
    ref.erase(ref.begin());
  }
  std::sort(got.begin(), got.end());
  REQUIRE(got == want);
}

}  // namespace

TEST_CASE("cycle queue: keys come out by cycle, whatever distance they were pushed at") {
  // Offsets ahead of the last popped cycle: same cycle, inside the window, at and past its
  // end, far beyond; and a few behind (a fabric may post a cycle it already passed).
  const std::vector<int64_t> offsets{0, 1, 2, 63, 64, 65, 127, 255, 256, 257, 1000, 100000};
  std::mt19937_64 rng(42);
  CycleQueue q;
  std::multiset<Key> ref;
  uint64_t now = 0;
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 3 != 0) {
      int64_t off = offsets[rng() % offsets.size()];
      if (rng() % 20 == 0) off = -static_cast<int64_t>(rng() % 5);
      const uint64_t cycle = static_cast<uint64_t>(std::max<int64_t>(0, int64_t(now) + off));
      const uint32_t node = static_cast<uint32_t>(rng() % 16);
      q.push(cycle, node);
      ref.emplace(cycle, node);
    } else {
      if (!ref.empty()) now = std::max(now, ref.begin()->first);
      pop_and_compare(q, ref);
    }
    REQUIRE(q.empty() == ref.empty());
  }
  while (!ref.empty()) pop_and_compare(q, ref);
  REQUIRE(q.empty());
  REQUIRE(q.first_cycle() == UINT64_MAX);
}

TEST_CASE("cycle queue: first_live drops stale keys until a live one leads") {
  CycleQueue q;
  q.push(5, 1);    // stale
  q.push(5, 2);    // stale
  q.push(300, 3);  // beyond the window, stale
  q.push(301, 4);  // live
  q.push(302, 5);  // live
  const auto stale = [](const Key& k) { return k.second <= 3; };
  REQUIRE(q.first_live(stale) == 301);
  std::vector<Key> got;
  REQUIRE(q.pop_first(got) == 301);
  REQUIRE(got == std::vector<Key>{{301, 4}});
  REQUIRE(q.first_live(stale) == 302);
  got.clear();
  q.pop_first(got);
  REQUIRE(q.empty());
  REQUIRE(q.first_live(stale) == UINT64_MAX);
}
