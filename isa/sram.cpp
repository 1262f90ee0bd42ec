// SPDX-License-Identifier: MIT
#include "isa/sram.h"

#include <algorithm>

namespace dojosim::isa {

Sram::Sram(uint64_t size_bytes)
    : size_(size_bytes), pages_((size_bytes + kPageSize - 1) >> kPageBits) {}

void Sram::allocate(std::unique_ptr<Page>& slot) {
  slot = std::make_unique<Page>();
  ++pages_allocated_;
}

void Sram::invalidate_decoded(Page& p, uint64_t offset, uint64_t n) {
  const uint64_t first = std::max<uint64_t>(offset / 4, p.decoded_lo);
  const uint64_t end = std::min<uint64_t>((offset + n - 1) / 4 + 1, p.decoded_hi);
  for (uint64_t w = first; w < end; ++w) p.decoded[w].op = kUndecoded;
}

void Sram::read(uint64_t addr, void* dst, uint64_t n) const {
  auto* out = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const uint64_t off = addr & kPageMask, chunk = std::min(n, kPageSize - off);
    const Page* p = pages_[addr >> kPageBits].get();
    if (p)
      std::memcpy(out, p->bytes + off, chunk);
    else
      std::memset(out, 0, chunk);
    out += chunk, addr += chunk, n -= chunk;
  }
}

void Sram::write(uint64_t addr, const void* src, uint64_t n) {
  if (!unknown_.empty()) mark_unknown(addr, n, false);
  const auto* in = static_cast<const uint8_t*>(src);
  while (n > 0) {
    const uint64_t off = addr & kPageMask, chunk = std::min(n, kPageSize - off);
    Page& p = page_for_write(addr);
    std::memcpy(p.bytes + off, in, chunk);
    p.written = true;
    if (p.decoded) invalidate_decoded(p, off, chunk);
    in += chunk, addr += chunk, n -= chunk;
  }
}

void Sram::mark_unknown(uint64_t addr, uint64_t n, bool unknown) {
  if (unknown_.empty()) return;
  const uint64_t first = unknown ? addr / 4 : (addr + 3) / 4;
  const uint64_t end = unknown ? (addr + n + 3) / 4 : (addr + n) / 4;
  // A run of words at a time within one 64-bit word of a block: an accumulator store (mst)
  // marks 64 words, a vector store 16.
  for (uint64_t w = first; w < end;) {
    const uint64_t i = w % kUnknownWordsPerBlock;
    const uint64_t count = std::min<uint64_t>(64 - i % 64, end - w);
    auto& block = unknown_[w / kUnknownWordsPerBlock];
    if (!block && unknown) block = std::make_unique<uint64_t[]>(kUnknownWordsPerBlock / 64);
    if (block) {
      const uint64_t bits = (count == 64 ? ~uint64_t{0} : (uint64_t{1} << count) - 1) << (i % 64);
      if (unknown)
        block[i / 64] |= bits;
      else
        block[i / 64] &= ~bits;
    }
    w += count;
  }
}

bool Sram::unknown(uint64_t addr, uint64_t n) const {
  if (unknown_.empty()) return false;
  for (uint64_t w = addr / 4; w < (addr + n + 3) / 4; ++w) {
    const auto& block = unknown_[w / kUnknownWordsPerBlock];
    const uint64_t i = w % kUnknownWordsPerBlock;
    if (block && (block[i / 64] >> (i % 64) & 1)) return true;
  }
  return false;
}

void Sram::zero(uint64_t addr, uint64_t n) {
  while (n > 0) {
    const uint64_t off = addr & kPageMask, chunk = std::min(n, kPageSize - off);
    if (Page* p = pages_[addr >> kPageBits].get()) {
      std::memset(p->bytes + off, 0, chunk);
      p->written = true;
      if (p->decoded) invalidate_decoded(*p, off, chunk);
    }
    addr += chunk, n -= chunk;
  }
}

void Sram::clear_written() {
  for (auto& p : pages_)
    if (p) p->written = false;
}

Decoded* Sram::decoded_page(uint64_t addr) {
  Page& p = page_for_write(addr);
  if (!p.decoded) {
    p.decoded = std::make_unique<Decoded[]>(kWordsPerPage);
    for (uint64_t i = 0; i < kWordsPerPage; ++i) p.decoded[i].op = kUndecoded;
  }
  return p.decoded.get();
}

}  // namespace dojosim::isa
