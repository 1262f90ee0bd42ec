// SPDX-License-Identifier: MIT
// Keys (cycle, node) taken out a whole cycle at a time, smallest cycle first: what the
// scheduler and the fabric keep of who is due when. Most keys fall a few cycles ahead, so the
// next kWindow cycles are a ring of buckets (a push and a pop cost O(1), where a binary heap
// of a few hundred nodes cost 8 sift levels per key); keys beyond the window, or behind it,
// wait in a heap. Within one cycle, keys come out in no particular order: callers sort.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace dojosim::hw {

class CycleQueue {
 public:
  using Key = std::pair<uint64_t, uint32_t>;  // (cycle, node)

  bool empty() const { return count_ == 0 && others_.empty(); }

  void push(uint64_t cycle, uint32_t node) {
    if (cycle >= base_ && cycle - base_ < kWindow) {
      buckets_[cycle % kWindow].emplace_back(cycle, node);
      mark(cycle % kWindow);
    } else {
      others_.emplace_back(cycle, node);
      std::push_heap(others_.begin(), others_.end(), std::greater<>());
    }
  }

  // The smallest cycle held; UINT64_MAX when empty.
  uint64_t first_cycle() const {
    uint64_t first = others_.empty() ? UINT64_MAX : others_.front().first;
    if (count_ != 0) first = std::min(first, base_ + first_offset());
    return first;
  }

  // Appends every key of the first cycle to `out` and returns that cycle (UINT64_MAX: empty).
  uint64_t pop_first(std::vector<Key>& out) {
    const uint64_t cycle = first_cycle();
    if (cycle == UINT64_MAX) return cycle;
    if (cycle >= base_) advance(cycle);
    if (cycle >= base_ && cycle - base_ < kWindow) {
      auto& bucket = buckets_[cycle % kWindow];
      out.insert(out.end(), bucket.begin(), bucket.end());
      bucket.clear();
      unmark(cycle % kWindow);
    }
    while (!others_.empty() && others_.front().first == cycle) {
      std::pop_heap(others_.begin(), others_.end(), std::greater<>());
      out.push_back(others_.back());
      others_.pop_back();
    }
    return cycle;
  }

  // Drops stale keys (stale(key) true) of the first cycles until a live key leads; returns its
  // cycle (UINT64_MAX: none left).
  template <class Stale>
  uint64_t first_live(Stale stale) {
    for (;;) {
      const uint64_t cycle = first_cycle();
      if (cycle == UINT64_MAX) return cycle;
      bool live = false;
      if (cycle >= base_ && cycle - base_ < kWindow) {
        auto& bucket = buckets_[cycle % kWindow];
        bucket.erase(std::remove_if(bucket.begin(), bucket.end(), stale), bucket.end());
        if (bucket.empty())
          unmark(cycle % kWindow);
        else
          live = true;
      }
      while (!others_.empty() && others_.front().first == cycle && stale(others_.front())) {
        std::pop_heap(others_.begin(), others_.end(), std::greater<>());
        others_.pop_back();
      }
      if (live || (!others_.empty() && others_.front().first == cycle)) return cycle;
    }
  }

 private:
  // A DMA of 4 KiB is due some 70 cycles after it starts: the window covers such waits.
  static constexpr uint64_t kWindow = 256;
  static constexpr unsigned kWords = kWindow / 64;  // one bit per bucket in occupied_

  void mark(uint64_t slot) {
    uint64_t& word = occupied_[slot / 64];
    const uint64_t bit = uint64_t{1} << (slot % 64);
    count_ += (word & bit) == 0;
    word |= bit;
  }
  void unmark(uint64_t slot) {
    uint64_t& word = occupied_[slot / 64];
    const uint64_t bit = uint64_t{1} << (slot % 64);
    count_ -= (word & bit) != 0;
    word &= ~bit;
  }
  // How far after base_ the first occupied bucket lies (count_ > 0): the buckets from base_'s
  // onwards, wrapping round to those before it.
  uint64_t first_offset() const {
    const uint64_t start = base_ % kWindow;
    for (unsigned i = 0; i <= kWords; ++i) {
      const unsigned w = (start / 64 + i) % kWords;
      uint64_t bits = occupied_[w];
      if (i == 0) bits &= ~uint64_t{0} << (start % 64);          // at or after base_
      if (i == kWords) bits &= ~(~uint64_t{0} << (start % 64));  // wrapped: before base_
      if (bits != 0) {
        const uint64_t slot = uint64_t{w} * 64 + static_cast<uint64_t>(__builtin_ctzll(bits));
        return (slot + kWindow - start) % kWindow;
      }
    }
    return kWindow;  // not reached while count_ > 0
  }

  // Moves the window to start at `cycle`, the first cycle held, and brings into buckets the
  // heap's keys that now fall inside it.
  void advance(uint64_t cycle) {
    base_ = cycle;
    while (!others_.empty() && others_.front().first - base_ < kWindow &&
           others_.front().first >= base_) {
      std::pop_heap(others_.begin(), others_.end(), std::greater<>());
      const Key k = others_.back();
      others_.pop_back();
      buckets_[k.first % kWindow].push_back(k);
      mark(k.first % kWindow);
    }
  }

  uint64_t base_ = 0;      // the buckets hold cycles [base_, base_ + kWindow)
  std::array<uint64_t, kWords> occupied_{};  // bit c % kWindow: the bucket of cycle c holds keys
  unsigned count_ = 0;                       // occupied buckets
  std::array<std::vector<Key>, kWindow> buckets_;
  std::vector<Key> others_;  // a min-heap of keys outside the window
};

}  // namespace dojosim::hw
