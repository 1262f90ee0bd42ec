// SPDX-License-Identifier: MIT
// Which cycles a functional-unit instance is busy, over a sliding window of cycles.
//
// The threads of a node are simulated one after another, each running ahead by up to a
// quantum. A unit that only remembered "free from cycle c" would let the first thread claim
// the whole quantum and push the next thread's work behind it; a calendar lets every thread
// take the free cycles at its own time, so SMT threads interleave on shared units whatever
// order they are simulated in.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
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
    if (occupancy == 1) return next_free(c);  // what the loop below finds for one cycle
    for (;;) {
      c = next_free(c);
      const uint64_t busy_at = next_busy(c, c + occupancy);
      if (busy_at == c + occupancy) return c;
      c = busy_at + 1;
    }
  }

  // If earliest(t, 1) == t (cycle t is free and not older than the window), reserve(t, 1)
  // and true; else false and nothing changes. What nearly every instruction asks.
  bool take_if_free(uint64_t t) {
    if (t - base_ < kWindow) {  // unsigned: false as well for t < base_
      uint64_t& w = bits_[word(t)];
      const uint64_t bit = uint64_t{1} << (t % 64);
      if (w & bit) return false;
      w |= bit;
      return true;
    }
    if (t < base_) return false;
    reserve(t, 1);  // past the window: slides it
    return true;
  }

  // If cycle t lies in the window (not older, not past it) and a cycle of t's 64-cycle word from
  // t on is free: reserves the first such cycle, sets `taken` to it and returns true, as
  // `earliest(t, 1)` and `reserve` would. Else false and nothing changes. What an instruction
  // asks of a unit of one instance that is busy in the cycle it is ready (an mma behind another).
  bool take_first_free_in_word(uint64_t t, uint64_t& taken) {
    if (t - base_ >= kWindow) return false;  // unsigned: true as well for t < base_
    uint64_t& w = bits_[word(t)];  // base_ is word-aligned: all of t's word is in the window
    const uint64_t free = ~w >> (t % 64);
    if (!free) return false;
    taken = t + static_cast<unsigned>(__builtin_ctzll(free));
    w |= uint64_t{1} << (taken % 64);
    return true;
  }

  void reserve(uint64_t start, unsigned occupancy) {
    if (occupancy == 1 && start >= base_ && start < base_ + kWindow) {  // the usual case
      bits_[word(start)] |= uint64_t{1} << (start % 64);
      return;
    }
    if (start < base_) start = base_;
    const uint64_t end = start + occupancy;
    if (end > base_ + kWindow) slide_to(end - kWindow);
    if (start < base_) start = base_;  // longer than the window: only its last cycles are kept
    // Whole words at a time: a link holds a packet for tens of cycles.
    for (uint64_t c = start; c < end;) {
      const uint64_t n = std::min<uint64_t>(64 - c % 64, end - c);
      bits_[word(c)] |= (n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1) << (c % 64);
      c += n;
    }
  }

 private:
  static size_t word(uint64_t c) { return (c % kWindow) / 64; }
  // The first free cycle >= c (cycles past the window are free: not reserved yet).
  uint64_t next_free(uint64_t c) const {
    while (c < base_ + kWindow) {
      const uint64_t free = ~bits_[word(c)] >> (c % 64);
      if (free) return c + static_cast<unsigned>(__builtin_ctzll(free));
      c = (c | 63) + 1;
    }
    return c;
  }
  // The first busy cycle in [c, limit), or limit if there is none.
  uint64_t next_busy(uint64_t c, uint64_t limit) const {
    while (c < limit && c < base_ + kWindow) {
      const uint64_t busy = bits_[word(c)] >> (c % 64);
      if (busy) return std::min(limit, c + static_cast<unsigned>(__builtin_ctzll(busy)));
      c = (c | 63) + 1;
    }
    return limit;
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
