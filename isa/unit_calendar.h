// SPDX-License-Identifier: MIT
// Which cycles a functional-unit instance is busy, over a sliding window of cycles.
//
// The threads of a node are simulated one after another, each running ahead by up to a
// quantum. A unit that only remembered "free from cycle c" would let the first thread claim
// the whole quantum and push the next thread's work behind it; a calendar lets every thread
// take the free cycles at its own time, so SMT threads interleave on shared units whatever
// order they are simulated in.
#pragma once

#include <array>
#include <cstdint>

namespace dojosim::isa {

class UnitCalendar {
 public:
  static constexpr uint64_t kWindow = 2048;  // cycles remembered; must exceed the quantum

  // The first cycle >= t from which `occupancy` consecutive cycles are free.
  // NOTE: a request older than the window is treated as arriving at the window's start: a
  // thread that far behind the others is rare and only loses accuracy, never correctness.
  uint64_t earliest(uint64_t t, unsigned occupancy) const {
    uint64_t c = t < base_ ? base_ : t;
    if (occupancy == 1 && !busy(c)) return c;  // the common case: one free cycle
    for (;;) {
      // Skip whole busy words: under saturation the backlog is long.
      while (c < base_ + kWindow && bits_[(c % kWindow) / 64] == ~uint64_t{0}) c = (c | 63) + 1;
      unsigned run = 0;
      while (run < occupancy && !busy(c + run)) ++run;
      if (run == occupancy) return c;
      c += run + 1;
    }
  }

  void reserve(uint64_t start, unsigned occupancy) {
    if (start < base_) start = base_;
    const uint64_t end = start + occupancy;
    if (end > base_ + kWindow) slide_to(end - kWindow);
    for (uint64_t c = start; c < end; ++c) bits_[(c % kWindow) / 64] |= bit(c);
  }

 private:
  static uint64_t bit(uint64_t c) { return uint64_t{1} << (c % 64); }
  bool busy(uint64_t c) const {
    // Cycles past the window have not been reserved yet.
    return c < base_ + kWindow && (bits_[(c % kWindow) / 64] & bit(c));
  }
  // Forgets the cycles before new_base, in whole 64-cycle words (base_ stays word-aligned).
  void slide_to(uint64_t new_base) {
    new_base = (new_base + 63) & ~uint64_t{63};
    if (new_base - base_ >= kWindow) {
      bits_.fill(0);
    } else {
      for (uint64_t w = base_ / 64; w < new_base / 64; ++w) bits_[w % bits_.size()] = 0;
    }
    base_ = new_base;
  }

  uint64_t base_ = 0;
  std::array<uint64_t, kWindow / 64> bits_{};
};

}  // namespace dojosim::isa
