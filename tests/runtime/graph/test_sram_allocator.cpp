// SPDX-License-Identifier: MIT
// The graph runner's SRAM allocator (runtime/graph/run/placement.h): scratch from the bottom,
// lasting tensors from the top, freed neighbours joined, the high water the most bytes in use.
// No machine.
#include <catch2/catch.hpp>

#include "runtime/graph/run/placement.h"

using dojosim::runtime::graph_run::SramAllocator;

TEST_CASE("scratch comes from the bottom and lasting tensors from the top") {
  SramAllocator a(4096, 4096 + 64 * 100);
  CHECK(a.take(100) == 4096);                  // 128 B, rounded to 64
  CHECK(a.take(64, true) == 4096 + 64 * 99);   // the top piece
  CHECK(a.take(128, true) == 4096 + 64 * 97);  // below it
  CHECK(a.take(64) == 4096 + 128);             // scratch keeps to the bottom
  CHECK(a.in_use() == 128 + 64 + 128 + 64);
  CHECK(a.largest_free() == 64 * 100 - a.in_use());
  CHECK(a.take(64 * 100) == UINT64_MAX);
  CHECK(a.take(64 * 100, true) == UINT64_MAX);
}

TEST_CASE("freed scratch leaves one free stretch beside the lasting tensors") {
  // An op's scratch taken and freed between lasting tensors made before and after it: the
  // free SRAM stays one piece, which first fit from one end would have cut in two.
  SramAllocator a(0, 64 * 100);
  const uint64_t input = a.take(64 * 10, true);
  const uint64_t scratch = a.take(64 * 40);
  const uint64_t output = a.take(64 * 10, true);
  a.give_back(scratch);
  CHECK(output == 64 * 80);
  CHECK(a.largest_free() == 64 * 80);  // all of it below the lasting tensors
  CHECK(a.high_water() == 64 * 60);    // the most bytes in use at once, not the highest address
  // The input dies after the op: its piece at the top is a lasting tensor's again.
  a.give_back(input);
  CHECK(a.take(64 * 10, true) == 64 * 90);
  CHECK(a.largest_free() == 64 * 80);
}

TEST_CASE("a take can keep out of a stretch being cleared") {
  // make_room clears [20, 60) (in 64-byte units) and moves what lies in it elsewhere: the new
  // pieces come from outside it, from whichever end the take asks for.
  SramAllocator a(0, 64 * 100);
  const SramAllocator::Range clear{64 * 20, 64 * 60};
  CHECK(a.take(64 * 10, true, clear) == 64 * 90);     // the top, as without the stretch
  CHECK(a.take(64 * 10, false, clear) == 0);          // the bottom
  CHECK(a.take(64 * 15, false, clear) == 64 * 60);    // [10, 20) is too small: above the stretch
  CHECK(a.take(64 * 10, false, clear) == 64 * 10);    // [10, 20) fits exactly
  CHECK(a.take(64 * 20, true, clear) == UINT64_MAX);  // only [75, 90) is outside, too small
  CHECK(a.take(64 * 15, true, clear) == 64 * 75);
  CHECK(a.take(64 * 40) == 64 * 20);  // the stretch itself, for the take it was cleared for
  // A free piece across the stretch's edge gives only its part outside.
  a.give_back(64 * 20);
  a.give_back(64 * 60);  // free [20, 75)
  CHECK(a.take(64 * 10, false, clear) == 64 * 60);
  CHECK(a.take(64 * 10, true, clear) == UINT64_MAX);  // [70, 75) is all that is left outside
  CHECK(a.free_bytes() == 64 * 45);
}
