// SPDX-License-Identifier: MIT
// A node's SRAM, allocated lazily in pages so that a machine of thousands of nodes costs host
// memory only for what its programs touch. Reads of untouched memory return zeros.
// Each page also holds the decoded-instruction cache for the code in it; a write to a page
// invalidates exactly the decoded words it overlaps, so code written by DMA or stores runs.
#pragma once

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "isa/instructions.h"

namespace dojosim::isa {

// Marks a decoded-cache slot that has not been decoded yet (distinct from Op::kInvalid).
inline constexpr Op kUndecoded = static_cast<Op>(kOpCount + 1);

class Sram {
 public:
  static constexpr unsigned kPageBits = 12;
  static constexpr uint64_t kPageSize = uint64_t{1} << kPageBits;
  static constexpr uint64_t kPageMask = kPageSize - 1;
  static constexpr uint64_t kWordsPerPage = kPageSize / 4;

  explicit Sram(uint64_t size_bytes);

  uint64_t size() const { return size_; }
  bool contains(uint64_t addr, uint64_t n) const { return addr <= size_ && n <= size_ - addr; }

  // Fast paths: the caller has checked range and natural alignment, so T never crosses a page.
  template <class T>
  T load(uint64_t addr) const {
    const Page* p = pages_[addr >> kPageBits].get();
    T v{};
    if (p) std::memcpy(&v, p->bytes + (addr & kPageMask), sizeof(T));
    return v;
  }
  template <class T>
  void store(uint64_t addr, T v) {
    page_for_write(addr);
    store_in_page(addr, v);
  }
  // store() to an address whose page exists (has_page): no path that allocates.
  template <class T>
  void store_in_page(uint64_t addr, T v) {
    Page& p = *pages_[addr >> kPageBits];
    std::memcpy(p.bytes + (addr & kPageMask), &v, sizeof(T));
    p.written = true;  // on the cache line of `decoded`, which a store reads anyway
    if (p.decoded) {
      // Aligned and at most 8 bytes: one or two words, the first at offset / 4.
      Decoded* words = p.decoded.get() + ((addr & kPageMask) >> 2);
      words[0].op = kUndecoded;
      if (sizeof(T) == 8) words[1].op = kUndecoded;
    }
  }

  // Whether the page holding `addr` exists; allocate_page makes it (store() does both).
  bool has_page(uint64_t addr) const { return pages_[addr >> kPageBits] != nullptr; }
  void allocate_page(uint64_t addr) { page_for_write(addr); }

  // Range-checked by the caller; may cross pages.
  void read(uint64_t addr, void* dst, uint64_t n) const;
  // read() when [addr, addr + n) lies in one page: inline, so that a vector load of a constant
  // size is a few moves (the interpreter's vle).
  void read_in_page(uint64_t addr, void* dst, uint64_t n) const {
    const Page* p = pages_[addr >> kPageBits].get();
    if (p)
      std::memcpy(dst, p->bytes + (addr & kPageMask), n);
    else
      std::memset(dst, 0, n);
  }
  void write(uint64_t addr, const void* src, uint64_t n);
  // Zeros a range without allocating: untouched pages already read as zero.
  void zero(uint64_t addr, uint64_t n);

  // The decoded-instruction slots of the page holding `addr` (created on first use).
  Decoded* decoded_page(uint64_t addr);
  // Records that the word at `addr` was decoded into its slot, so that writes elsewhere in the
  // page (DMA into a buffer beside the code) need not walk its slots.
  void note_decoded(uint64_t addr) {
    Page& p = *pages_[addr >> kPageBits];
    const uint32_t w = static_cast<uint32_t>((addr & kPageMask) >> 2);
    p.decoded_lo = std::min(p.decoded_lo, w);
    p.decoded_hi = std::max(p.decoded_hi, w + 1);
  }

  // Timing only (sim.values off): which 4-byte words hold values derived from skipped vector
  // state, one bit per word in blocks of a page, allocated on first mark. write() (a host
  // write, a DMA delivery, a vector store before its core marks it) clears the words it covers
  // whole: what the host writes is known. Off (nothing tracked) until track_unknown().
  void track_unknown() {
    if (unknown_.empty()) unknown_.resize(pages_.size());
  }
  // Marks the words overlapping [addr, addr + n) unknown, or (unknown false) clears the words
  // it covers whole. Range-checked by the caller.
  void mark_unknown(uint64_t addr, uint64_t n, bool unknown);
  // Whether a word overlapping [addr, addr + n) is unknown (false while not tracking).
  bool unknown(uint64_t addr, uint64_t n) const;

  // The pages written since clear_written() (by stores, write() or zero()): what a run changed
  // in a node, which MPI ranks send to the node's replicas (hw/machine/ranks.h).
  void clear_written();
  template <class F>  // f(page index)
  void for_each_written(F f) const {
    for (size_t i = 0; i < pages_.size(); ++i)
      if (pages_[i] && pages_[i]->written) f(uint64_t{i});
  }

  uint64_t pages_allocated() const { return pages_allocated_; }
  uint64_t bytes_allocated() const { return pages_allocated_ * sizeof(Page); }

 private:
  struct Page {
    uint8_t bytes[kPageSize] = {};
    std::unique_ptr<Decoded[]> decoded;
    uint32_t decoded_lo = kWordsPerPage, decoded_hi = 0;  // words ever decoded lie in [lo, hi)
    bool written = false;                                 // since clear_written()
  };
  Page& page_for_write(uint64_t addr) {
    auto& slot = pages_[addr >> kPageBits];
    if (!slot) allocate(slot);
    return *slot;
  }
  void allocate(std::unique_ptr<Page>& slot);
  static void invalidate_decoded(Page& p, uint64_t offset, uint64_t n);

  uint64_t size_;
  std::vector<std::unique_ptr<Page>> pages_;
  static constexpr uint64_t kUnknownWordsPerBlock = kPageSize / 4;
  std::vector<std::unique_ptr<uint64_t[]>> unknown_;
  uint64_t pages_allocated_ = 0;
};

}  // namespace dojosim::isa
