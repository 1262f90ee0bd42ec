// SPDX-License-Identifier: MIT
#include "runtime/collectives/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <tuple>

namespace dojosim::runtime::collectives {

void Schedule::finish(uint64_t count, uint32_t members, uint64_t align) {
  std::vector<std::vector<uint32_t>> owned(members);
  for (uint32_t p = 0; p < leaves.size(); ++p)
    if (leaves[p].owner != kNoOwner) owned.at(leaves[p].owner).push_back(p);
  uint64_t owners = 0;
  for (const auto& o : owned) owners += !o.empty();
  // Shares in units of `align` elements when every owner gets one at least; the elements
  // left over go to the last leaf.
  if (align < 1 || count < align * owners) align = 1;
  const uint64_t units = count / align;
  uint64_t index = 0, last = 0;
  for (const auto& o : owned) {
    if (o.empty()) continue;
    const uint64_t share = units / owners + (index++ < units % owners);
    for (size_t i = 0; i < o.size(); ++i) {
      leaves[o[i]].elements = align * (share / o.size() + (i < share % o.size()));
      last = std::max<uint64_t>(last, o[i]);
    }
  }
  if (owners) leaves[last].elements += count - units * align;
  transfers.erase(std::remove_if(transfers.begin(), transfers.end(),
                                 [&](const Transfer& t) { return !elements(t.first, t.last); }),
                  transfers.end());
  std::stable_sort(transfers.begin(), transfers.end(),
                   [](const Transfer& a, const Transfer& b) { return a.round < b.round; });
  // Per round and member: what it receives must not overlap what it sends or receives again.
  for (size_t i = 0; i < transfers.size();) {
    size_t end = i;
    while (end < transfers.size() && transfers[end].round == transfers[i].round) ++end;
    // member -> (first, last, received?) of this round
    std::map<uint32_t, std::vector<std::tuple<uint32_t, uint32_t, bool>>> touched;
    for (size_t k = i; k < end; ++k) {
      touched[transfers[k].to].push_back({transfers[k].first, transfers[k].last, true});
      touched[transfers[k].from].push_back({transfers[k].first, transfers[k].last, false});
    }
    for (const auto& [member, ranges] : touched)
      for (size_t a = 0; a < ranges.size(); ++a)
        for (size_t b = 0; b < a; ++b) {
          const auto [a0, a1, a_in] = ranges[a];
          const auto [b0, b1, b_in] = ranges[b];
          if ((a_in || b_in) && a0 < b1 && b0 < a1)
            throw std::logic_error(fmt::format(
                "collective schedule: round {}: member {} receives leaves that it also sends or "
                "receives twice in that round",
                transfers[i].round, member));
        }
    i = end;
  }
}

uint64_t Schedule::elements(uint32_t first, uint32_t last) const {
  uint64_t e = 0;
  for (uint32_t p = first; p < last; ++p) e += leaves[p].elements;
  return e;
}

uint32_t ring_reduce_scatter(Schedule& s, const std::vector<RingPart>& ring, uint32_t round) {
  const size_t n = ring.size();
  for (size_t k = 0; k + 1 < n; ++k)
    for (size_t p = 0; p < n; ++p)
      for (const auto& [first, last] : ring[(p + 2 * n - k - 1) % n].runs)
        s.send(ring[p].member, ring[(p + 1) % n].member, first, last, true,
               round + static_cast<uint32_t>(k));
  return n > 1 ? round + static_cast<uint32_t>(n - 1) : round;
}

uint32_t ring_all_gather(Schedule& s, const std::vector<RingPart>& ring, uint32_t round) {
  const size_t n = ring.size();
  for (size_t k = 0; k + 1 < n; ++k)
    for (size_t p = 0; p < n; ++p)
      for (const auto& [first, last] : ring[(p + n - k) % n].runs)
        s.send(ring[p].member, ring[(p + 1) % n].member, first, last, false,
               round + static_cast<uint32_t>(k));
  return n > 1 ? round + static_cast<uint32_t>(n - 1) : round;
}

// Reduce-scatter: the owner at position o gets its runs' partial sums from its f members before
// it (o-f sends in round 0, o-1 in round f-1) and its g members after it (o+g sends backward
// in round 0). f = ceil(n/2), g = n-1-f: with n odd and f = g both sides would reach the owner
// in the same round.
uint32_t ring_reduce_scatter_both_ways(Schedule& s, const std::vector<RingPart>& ring,
                                       uint32_t round) {
  const size_t n = ring.size();
  if (n < 2) return round;
  const size_t f = (n + 1) / 2, g = n - 1 - f;
  for (size_t k = 0; k < f; ++k)
    for (size_t p = 0; p < n; ++p) {
      const uint32_t r = round + static_cast<uint32_t>(k);
      for (const auto& [first, last] : ring[(p + f - k) % n].runs)
        s.send(ring[p].member, ring[(p + 1) % n].member, first, last, true, r);
      if (k < g)
        for (const auto& [first, last] : ring[(p + n - g + k) % n].runs)
          s.send(ring[p].member, ring[(p + n - 1) % n].member, first, last, true, r);
    }
  return round + static_cast<uint32_t>(f);
}

// All-gather: the owner's runs go forward to f members and backward to g, f = floor(n/2).
uint32_t ring_all_gather_both_ways(Schedule& s, const std::vector<RingPart>& ring, uint32_t round) {
  const size_t n = ring.size();
  if (n < 2) return round;
  const size_t f = n / 2, g = n - 1 - f;
  for (size_t k = 0; k < f; ++k)
    for (size_t p = 0; p < n; ++p) {
      const uint32_t r = round + static_cast<uint32_t>(k);
      for (const auto& [first, last] : ring[(p + n - k) % n].runs)
        s.send(ring[p].member, ring[(p + 1) % n].member, first, last, false, r);
      if (k < g)
        for (const auto& [first, last] : ring[(p + k) % n].runs)
          s.send(ring[p].member, ring[(p + n - 1) % n].member, first, last, false, r);
    }
  return round + static_cast<uint32_t>(f);
}

// Each member's runs go straight to every other member, nearest along the ring first.
uint32_t direct_all_gather(Schedule& s, const std::vector<RingPart>& ring, uint32_t round) {
  const size_t n = ring.size();
  for (size_t k = 1; k < n; ++k)
    for (size_t p = 0; p < n; ++p)
      for (const auto& [first, last] : ring[p].runs)
        s.send(ring[p].member, ring[(p + k) % n].member, first, last, false, round);
  return n > 1 ? round + 1 : round;
}

uint32_t chain_broadcast(Schedule& s, const std::vector<uint32_t>& chain, uint32_t first,
                         uint32_t last, uint32_t round) {
  for (size_t i = 0; i + 1 < chain.size(); ++i)
    s.send(chain[i], chain[i + 1], first, last, false, round + static_cast<uint32_t>(i));
  return chain.size() > 1 ? round + static_cast<uint32_t>(chain.size() - 1) : round;
}

std::vector<uint32_t> fold(const std::vector<uint32_t>& line) {
  std::vector<uint32_t> ring;
  for (size_t p = 0; p < line.size(); p += 2) ring.push_back(line[p]);
  for (size_t p = line.size() - 1 - line.size() % 2; p < line.size(); p -= 2)
    ring.push_back(line[p]);
  return ring;
}

Schedule two_level(Collective op, const std::vector<std::vector<uint32_t>>& rows,
                   const std::vector<uint32_t>& key, uint32_t root, bool columns_both_ways,
                   bool columns_two_levels, bool columns_gather_direct) {
  std::vector<uint32_t> keys;
  for (const auto& row : rows)
    for (uint32_t m : row) keys.push_back(key[m]);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  const uint32_t R = static_cast<uint32_t>(rows.size()), C = static_cast<uint32_t>(keys.size());
  // Column rings of R = K x G members in two levels, when asked and R has such factors
  // (K the largest at or below sqrt(R)): rings of the K consecutive rows of each group, then
  // rings of the G rows at the same place in their groups (both ways when asked).
  // Row r's leaf of a column lies at q[r] in the column's block, by place in the group first,
  // so that what a member owns in the first level is one run.
  uint32_t K = R, G = 1;
  for (uint32_t k = 2; columns_two_levels && k < R; ++k)
    if (R % k == 0 && k * k <= R) {
      K = k;
      G = R / k;
    }
  std::vector<uint32_t> q(R);
  for (uint32_t r = 0; r < R; ++r) q[r] = (r % K) * G + r / K;
  const auto pos = [&](uint32_t c, uint32_t r) { return c * R + q[r]; };
  const auto block = [&](uint32_t c) { return c * R; };

  // owner[c][r]: the member of row r that owns key c's leaf of that row: the member with that
  // key, or in a row short of some keys, the keys cut into contiguous runs, one per member in
  // key order (so that what a member owns is one run of leaves, sent as one transfer).
  std::vector<std::vector<uint32_t>> owner(C, std::vector<uint32_t>(R, kNoOwner));
  for (uint32_t r = 0; r < R; ++r) {
    std::vector<uint32_t> by_key = rows[r];
    std::sort(by_key.begin(), by_key.end(),
              [&](uint32_t a, uint32_t b) { return key[a] < key[b]; });
    const size_t m = by_key.size();
    for (uint32_t c = 0; c < C; ++c) owner[c][r] = m == C ? by_key[c] : by_key[c * m / C];
  }
  Schedule s;
  s.leaves.resize(size_t{C} * R);
  for (uint32_t c = 0; c < C; ++c)
    for (uint32_t r = 0; r < R; ++r) s.leaves[pos(c, r)].owner = owner[c][r];

  // The rings: in each row, every member owning the keys' leaf columns; in each key's column,
  // the owners of its leaf in each row.
  std::vector<std::vector<RingPart>> row_rings(R), column_rings, column_rings2;
  for (uint32_t r = 0; r < R; ++r)
    for (uint32_t m : rows[r]) {
      RingPart part{m, {}};
      for (uint32_t c = 0; c < C; ++c)
        if (owner[c][r] == m) {
          if (!part.runs.empty() && part.runs.back().second == block(c))
            part.runs.back().second = block(c + 1);
          else
            part.runs.push_back({block(c), block(c + 1)});
        }
      row_rings[r].push_back(part);
    }
  for (uint32_t c = 0; c < C; ++c) {
    for (uint32_t a = 0; a < G; ++a) {  // first level: the group's rows, each a run
      column_rings.emplace_back();
      for (uint32_t b = 0; b < K; ++b)
        column_rings.back().push_back(
            {owner[c][a * K + b], {{block(c) + b * G, block(c) + (b + 1) * G}}});
    }
    for (uint32_t b = 0; b < K && G > 1; ++b) {  // second level: one leaf each
      column_rings2.emplace_back();
      for (uint32_t a = 0; a < G; ++a)
        column_rings2.back().push_back(
            {owner[c][a * K + b], {{pos(c, a * K + b), pos(c, a * K + b) + 1}}});
    }
  }

  const auto each = [](const std::vector<std::vector<RingPart>>& rings, uint32_t round,
                       uint32_t (*phase)(Schedule&, const std::vector<RingPart>&, uint32_t),
                       Schedule& out) {
    uint32_t next = round;
    for (const auto& ring : rings) next = std::max(next, phase(out, ring, round));
    return next;
  };
  uint32_t round = 0;
  if (op == Collective::AllReduce || op == Collective::ReduceScatter) {
    round = each(row_rings, round, ring_reduce_scatter, s);
    const auto reduce = columns_both_ways ? ring_reduce_scatter_both_ways : ring_reduce_scatter;
    round = each(column_rings, round, reduce, s);
    round = each(column_rings2, round, reduce, s);
  }
  if (op == Collective::AllReduce || op == Collective::AllGather) {
    const auto gather = columns_gather_direct ? direct_all_gather
                        : columns_both_ways   ? ring_all_gather_both_ways
                                              : ring_all_gather;
    round = each(column_rings2, round, gather, s);
    round = each(column_rings, round, gather, s);
    round = each(row_rings, round, ring_all_gather, s);
  }
  if (op == Collective::Broadcast) {
    // Through the root's row from the root, then from each of its members down a chain of the
    // other rows' members whose key is nearest to its own.
    uint32_t r0 = 0;
    while (std::find(rows[r0].begin(), rows[r0].end(), root) == rows[r0].end()) ++r0;
    std::vector<uint32_t> chain = rows[r0];
    std::rotate(chain.begin(), std::find(chain.begin(), chain.end(), root), chain.end());
    round = chain_broadcast(s, chain, 0, C * R, round);
    std::map<uint32_t, std::vector<uint32_t>> down;  // head -> chain
    for (uint32_t h : rows[r0]) down[h] = {h};
    for (uint32_t i = 1; i < R; ++i)
      for (uint32_t m : rows[(r0 + i) % R]) {
        uint32_t best = rows[r0][0];
        for (uint32_t h : rows[r0])
          if (std::abs(int64_t{key[h]} - key[m]) < std::abs(int64_t{key[best]} - key[m])) best = h;
        down[best].push_back(m);
      }
    uint32_t next = round;
    for (const auto& [head, line] : down)
      next = std::max(next, chain_broadcast(s, line, 0, C * R, round));
    round = next;
  }
  return s;
}

}  // namespace dojosim::runtime::collectives
