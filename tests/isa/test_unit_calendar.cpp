// SPDX-License-Identifier: MIT
// UnitCalendar works on whole 64-bit words; here it is checked against a plain model that
// keeps one flag per absolute cycle and forgets what slides out of the window.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "isa/unit_calendar.h"

using dojosim::isa::UnitCalendar;

namespace {

// The documented behaviour, one cycle at a time.
class ModelCalendar {
 public:
  uint64_t earliest(uint64_t t, unsigned occupancy) const {
    for (uint64_t c = std::max(t, base_);; ++c) {
      bool free = true;
      for (uint64_t k = c; k < c + occupancy && free; ++k) free = !busy_.count(k);
      if (free) return c;
    }
  }
  void reserve(uint64_t start, unsigned occupancy) {
    start = std::max(start, base_);
    const uint64_t end = start + occupancy;
    if (end > base_ + UnitCalendar::kWindow) {
      base_ = (end - UnitCalendar::kWindow + 63) & ~uint64_t{63};
      busy_.erase(busy_.begin(), busy_.lower_bound(base_));
    }
    for (uint64_t c = std::max(start, base_); c < end; ++c) busy_.insert(c);
  }

 private:
  uint64_t base_ = 0;
  std::set<uint64_t> busy_;
};

}  // namespace

TEST_CASE("unit calendar: finds the same free cycles as a per-cycle model", "[calendar]") {
  for (const unsigned max_occupancy : {1u, 4u, 17u, 70u, 300u}) {
    CAPTURE(max_occupancy);
    std::mt19937_64 rng(max_occupancy);
    UnitCalendar calendar;
    ModelCalendar model;
    uint64_t now = 0;
    for (int i = 0; i < 4000; ++i) {
      now += rng() % 40;  // time moves on, as the threads' cycles do
      const uint64_t t = now + rng() % 200;
      const unsigned occupancy = 1 + static_cast<unsigned>(rng() % max_occupancy);
      const uint64_t start = calendar.earliest(t, occupancy);
      REQUIRE(start == model.earliest(t, occupancy));
      if (rng() % 4 != 0) {  // most requests reserve what they found
        calendar.reserve(start, occupancy);
        model.reserve(start, occupancy);
      }
    }
  }
}

TEST_CASE("unit calendar: a saturated calendar queues requests back to back", "[calendar]") {
  UnitCalendar calendar;
  for (uint64_t i = 0; i < 100; ++i) {
    const uint64_t start = calendar.earliest(0, 16);
    REQUIRE(start == 16 * i);
    calendar.reserve(start, 16);
  }
  // A one-cycle gap left between two reservations is found; a two-cycle request skips it.
  calendar.reserve(1601, 5);
  REQUIRE(calendar.earliest(0, 1) == 1600);
  REQUIRE(calendar.earliest(0, 2) == 1606);
}
