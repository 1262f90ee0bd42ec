// SPDX-License-Identifier: MIT
#include "runtime/graph/run/placement.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <stdexcept>

#include "hw/node/node.h"
#include "isa/global_address.h"
#include "runtime/mesh/common.h"

namespace dojosim::runtime::graph_run {
namespace {

// A block of `rows` rows of `stored` elements each, row after row.
TiledLayout row_major(DType dtype, uint32_t rows, uint32_t stored) {
  TiledLayout l;
  l.dtype = dtype;
  l.rows = l.block_rows = rows;
  l.cols = l.block_cols = l.tile_cols = stored;
  l.tile_rows = 1;
  return l;
}

}  // namespace

Placement row_split_placement(const ops::RowSplit& s, uint64_t address) {
  Placement p{s.rows, s.cols, s.dtype, {}};
  for (size_t b = 0; b < s.blocks(); ++b) {
    const uint32_t i = static_cast<uint32_t>(b / s.col_parts),
                   j = static_cast<uint32_t>(b % s.col_parts);
    mesh::Shard sh;
    sh.node = s.nodes[b];
    sh.address = address;
    sh.layout = row_major(s.dtype, s.block_rows(b), s.chunks(b) * s.lanes());
    sh.r0 = s.row_start[i], sh.r1 = s.row_start[i + 1];
    sh.c0 = s.col_start[j], sh.c1 = s.col_start[j + 1];
    p.shards.push_back(sh);
  }
  return p;
}

Placement vector_placement(const ops::RowSplit& s, uint64_t address) {
  Placement p{1, s.cols, s.dtype, {}};
  for (size_t b = 0; b < s.blocks(); ++b) {
    const uint32_t j = static_cast<uint32_t>(b % s.col_parts);
    mesh::Shard sh;
    sh.node = s.nodes[b];
    sh.address = address;
    sh.layout = row_major(s.dtype, 1, s.chunks(b) * s.lanes());
    sh.r0 = 0, sh.r1 = 1;
    sh.c0 = s.col_start[j], sh.c1 = s.col_start[j + 1];
    p.shards.push_back(sh);
  }
  return p;
}

Placement scalar_placement(const ops::RowSplit& s, uint64_t address) {
  Placement p{1, 1, DType::Fp32, {}};
  for (const hw::Coord& node : s.nodes) {
    mesh::Shard sh;
    sh.node = node;
    sh.address = address;
    sh.layout = row_major(DType::Fp32, 1, s.vlen / element_bytes(DType::Fp32));
    sh.r0 = 0, sh.r1 = 1, sh.c0 = 0, sh.c1 = 1;
    p.shards.push_back(sh);
  }
  return p;
}

void write_placement(hw::Machine& machine, const Placement& p, const Matrix& m) {
  for (const mesh::Shard& s : p.shards) mesh::write_shard(machine, s, m, {});
}

Matrix read_placement(const hw::Machine& machine, const Placement& p) {
  Matrix m(p.rows, p.cols);
  std::vector<uint8_t> bytes;
  for (const mesh::Shard& s : p.shards) {
    bytes.resize(s.layout.bytes());
    if (s.in_host)
      machine.host().read(s.address, bytes.data(), bytes.size());
    else
      machine.node(s.node)->sram().read(s.address, bytes.data(), bytes.size());
    const Matrix block = unpack(bytes.data(), s.layout, s.r1 - s.r0, s.c1 - s.c0);
    for (uint32_t r = 0; r < block.rows; ++r)
      std::copy_n(&block.values[size_t{r} * block.cols], block.cols, &m.at(s.r0 + r, s.c0));
  }
  return m;
}

SramAllocator::SramAllocator(uint64_t begin, uint64_t end)
    : begin_(mesh::align(begin, 64)), end_(end & ~uint64_t{63}) {
  if (end_ > begin_) free_[begin_] = end_ - begin_;
}

uint64_t SramAllocator::take(uint64_t bytes, bool lasting, Range avoid) {
  bytes = std::max<uint64_t>(64, mesh::align(bytes, 64));
  // The parts of free piece [a, b) outside `avoid`, lowest first (the second may be empty).
  const auto parts = [&](uint64_t a, uint64_t b) -> std::array<Range, 2> {
    if (avoid.end <= avoid.begin || avoid.begin >= b || avoid.end <= a) return {Range{a, b}};
    return {Range{a, std::max(a, avoid.begin)}, Range{std::min(b, avoid.end), b}};
  };
  if (lasting) {
    for (auto it = free_.rbegin(); it != free_.rend(); ++it) {
      const auto p = parts(it->first, it->first + it->second);
      for (size_t k = 2; k-- > 0;)
        if (p[k].bytes() >= bytes) return carve(p[k].end - bytes, bytes);
    }
    return UINT64_MAX;
  }
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    const auto p = parts(it->first, it->first + it->second);
    for (size_t k = 0; k < 2; ++k)
      if (p[k].bytes() >= bytes) return carve(p[k].begin, bytes);
  }
  return UINT64_MAX;
}

uint64_t SramAllocator::carve(uint64_t at, uint64_t bytes) {
  const auto it = std::prev(free_.upper_bound(at));
  const uint64_t piece = it->first, size = it->second;
  free_.erase(it);
  if (at > piece) free_[piece] = at - piece;
  if (at + bytes < piece + size) free_[at + bytes] = piece + size - at - bytes;
  used_[at] = bytes;
  in_use_ += bytes;
  high_water_ = std::max(high_water_, in_use_);
  return at;
}

void SramAllocator::give_back(uint64_t address) {
  const auto u = used_.find(address);
  if (u == used_.end())
    throw std::logic_error(fmt::format("SRAM allocator: {:#x} was not handed out", address));
  uint64_t at = address, bytes = u->second;
  used_.erase(u);
  in_use_ -= bytes;
  // Join the free neighbours on both sides, so that freed pieces grow back into large ones.
  auto next = free_.lower_bound(at);
  if (next != free_.end() && at + bytes == next->first) {
    bytes += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == at) {
      at = prev->first;
      bytes += prev->second;
      free_.erase(prev);
    }
  }
  free_[at] = bytes;
}

uint64_t SramAllocator::largest_free() const {
  uint64_t most = 0;
  for (const auto& [at, bytes] : free_) most = std::max(most, bytes);
  return most;
}

HbmAllocator::HbmAllocator(const hw::Machine& machine) {
  const hw::HostMemory& host = machine.host();
  uint64_t start = 0;
  for (size_t k = 0; k < host.dip_count(); ++k) {
    const hw::DipParams& d = host.dip(k);
    dips_.push_back({start, start + d.capacity, d.first, d.last});
    start += d.capacity;
  }
}

uint64_t HbmAllocator::take(hw::Coord node, uint64_t bytes) {
  bytes = std::max<uint64_t>(64, mesh::align(bytes, 64));
  // Distance from the node to the DIP's stretch of edge nodes.
  const auto distance = [&](const Dip& d) {
    const int x = std::clamp(node.x, std::min(d.first.x, d.last.x), std::max(d.first.x, d.last.x));
    const int y = std::clamp(node.y, std::min(d.first.y, d.last.y), std::max(d.first.y, d.last.y));
    return std::abs(node.x - x) + std::abs(node.y - y);
  };
  Dip* best = nullptr;
  for (Dip& d : dips_)
    if (d.end - d.next >= bytes && (!best || distance(d) < distance(*best))) best = &d;
  if (!best) throw std::runtime_error(fmt::format("HBM: no DIP has {} bytes left", bytes));
  const uint64_t at = best->next;
  best->next += bytes;
  return at;
}

uint64_t HbmAllocator::in_use() const {
  uint64_t sum = 0;
  uint64_t start = 0;
  for (const Dip& d : dips_) {
    sum += d.next - start;
    start = d.end;
  }
  return sum;
}

Placement in_hbm(const Placement& p, HbmAllocator& hbm) {
  Placement q = p;
  for (mesh::Shard& s : q.shards) {
    s.address = hbm.take(s.node, s.layout.bytes());
    s.in_host = true;
  }
  return q;
}

Placement in_sram(const Placement& p, uint64_t address) {
  Placement q = p;
  for (size_t i = 0; i < q.shards.size(); ++i) {
    for (size_t j = 0; j < i; ++j)
      if (q.shards[j].node == q.shards[i].node)
        throw std::logic_error("in_sram: two shards on one node");
    q.shards[i].address = address;
    q.shards[i].in_host = false;
  }
  return q;
}

uint64_t largest_shard_bytes(const Placement& p) {
  uint64_t most = 0;
  for (const mesh::Shard& s : p.shards) most = std::max(most, s.layout.bytes());
  return most;
}

}  // namespace dojosim::runtime::graph_run
