// SPDX-License-Identifier: MIT
#include "hw/host/host_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace dojosim::hw {
namespace {

// Cycles a server of `rate` bytes per cycle is busy with `bytes` (at least one).
uint64_t busy(uint64_t bytes, double rate) {
  return std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(double(bytes) / rate)));
}

}  // namespace

HostMemory::HostMemory(std::vector<DipParams> dips)
    : dips_(std::move(dips)), stats_(dips_.size()), servers_(dips_.size()) {
  for (const DipParams& d : dips_)
    if (d.capacity == 0 || d.hbm_bytes_per_cycle <= 0 || d.link_bytes_per_cycle <= 0)
      throw std::invalid_argument("a DIP needs a capacity and bandwidths above zero");
}

uint64_t HostMemory::size() const {
  uint64_t total = 0;
  for (const DipParams& d : dips_) total += d.capacity;
  return total;
}

int HostMemory::dip_of(uint64_t addr, uint64_t len, std::string& why) const {
  uint64_t base = 0;
  for (size_t k = 0; k < dips_.size(); base += dips_[k].capacity, ++k) {
    if (addr >= base + dips_[k].capacity) continue;
    if (len <= base + dips_[k].capacity - addr) return static_cast<int>(k);
    why = fmt::format("the range crosses the end of DIP {} at host address 0x{:x} (a transfer "
                      "stays inside one DIP)", k, base + dips_[k].capacity);
    return -1;
  }
  why = dips_.empty()
            ? std::string(
                  "this machine has no host memory (no DIP on the simulated dies: tile.host.edges)")
            : fmt::format("host memory ends at 0x{:x} ({} DIPs)", base, dips_.size());
  return -1;
}

Coord HostMemory::entry(size_t k, Coord node) const {
  const DipParams& d = dips_[k];
  return {std::clamp(node.x, d.first.x, d.last.x), std::clamp(node.y, d.first.y, d.last.y)};
}

uint64_t HostMemory::hbm(size_t k, uint64_t bytes, uint64_t cycle) {
  Servers& s = servers_[k];
  DipStats& st = stats_[k];
  const uint64_t start = std::max(cycle, s.hbm_free);
  const uint64_t held = busy(bytes, dips_[k].hbm_bytes_per_cycle);
  s.hbm_free = start + held;
  ++st.requests;
  st.hbm_busy_cycles += held;
  st.wait_cycles += start - cycle;
  return start;
}

HostMemory::Span HostMemory::read_timing(size_t k, uint64_t bytes, uint64_t cycle) {
  const uint64_t hbm_start = hbm(k, bytes, cycle);
  const uint64_t hbm_end = servers_[k].hbm_free;
  Servers& s = servers_[k];
  const uint64_t start = std::max(hbm_start + dips_[k].latency, s.link_out_free);
  // The link streams what the HBM delivers: the last byte leaves after both are through.
  s.link_out_free =
      std::max(start + busy(bytes, dips_[k].link_bytes_per_cycle), hbm_end + dips_[k].latency);
  stats_[k].bytes_read += bytes;
  return {start, s.link_out_free};
}

uint64_t HostMemory::write_timing(size_t k, uint64_t bytes, uint64_t cycle) {
  Servers& s = servers_[k];
  const uint64_t link_start = std::max(cycle, s.link_in_free);
  s.link_in_free = link_start + busy(bytes, dips_[k].link_bytes_per_cycle);
  const uint64_t start = hbm(k, bytes, s.link_in_free);
  stats_[k].bytes_written += bytes;
  return start + busy(bytes, dips_[k].hbm_bytes_per_cycle) + dips_[k].latency;
}

namespace {

// A FIFO server of `rate` bytes per cycle that streams a message whose bytes arrive over
// `in`: it starts on the first byte when free, and its last byte leaves no earlier than it
// arrived. Returns the span it sends in; `free` becomes its end.
HostMemory::Span stream(uint64_t& free, double rate, uint64_t bytes, HostMemory::Span in) {
  const uint64_t start = std::max(in.first, free);
  const uint64_t last = std::max(start + busy(bytes, rate), in.last);
  free = last;
  return {start, last};
}

}  // namespace

HostMemory::Span HostMemory::z_plane_timing(size_t a, size_t b, uint64_t bytes, Span at_a,
                                            uint64_t switch_latency) {
  Span s = stream(servers_[a].link_in_free, dips_[a].link_bytes_per_cycle, bytes, at_a);
  s = stream(servers_[a].ethernet_out_free, dips_[a].ethernet_bytes_per_cycle, bytes, s);
  s = {s.first + switch_latency, s.last + switch_latency};
  s = stream(servers_[b].ethernet_in_free, dips_[b].ethernet_bytes_per_cycle, bytes, s);
  s = stream(servers_[b].link_out_free, dips_[b].link_bytes_per_cycle, bytes, s);
  stats_[a].z_bytes_out += bytes;
  stats_[b].z_bytes_in += bytes;
  return s;
}

uint64_t HostMemory::z_plane_zero_load(size_t a, size_t b, uint64_t bytes,
                                       uint64_t switch_latency) const {
  // Streaming stages on an idle path: the slowest one sets the pace.
  const double rates[] = {dips_[a].link_bytes_per_cycle, dips_[a].ethernet_bytes_per_cycle,
                          dips_[b].ethernet_bytes_per_cycle, dips_[b].link_bytes_per_cycle};
  uint64_t slowest = 0;
  for (double r : rates) slowest = std::max(slowest, busy(bytes, r));
  return slowest + switch_latency;
}

void HostMemory::read(uint64_t addr, void* dst, uint64_t n) const {
  auto* out = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const uint64_t in_page = std::min(n, kPageSize - addr % kPageSize);
    const auto it = pages_.find(addr / kPageSize);
    if (it == pages_.end())
      std::memset(out, 0, in_page);  // never written: reads as zero
    else
      std::memcpy(out, it->second.get() + addr % kPageSize, in_page);
    addr += in_page, out += in_page, n -= in_page;
  }
}

void HostMemory::write(uint64_t addr, const void* src, uint64_t n) {
  const auto* in = static_cast<const uint8_t*>(src);
  while (n > 0) {
    const uint64_t in_page = std::min(n, kPageSize - addr % kPageSize);
    auto& page = pages_[addr / kPageSize];
    if (!page) page.reset(new uint8_t[kPageSize]());
    std::memcpy(page.get() + addr % kPageSize, in, in_page);
    addr += in_page, in += in_page, n -= in_page;
  }
}

}  // namespace dojosim::hw
