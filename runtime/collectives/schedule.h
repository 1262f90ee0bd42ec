// SPDX-License-Identifier: MIT
// A collective's schedule: what every algorithm of algorithms.def produces, and all that the
// node program, the host reference and the estimate read.
//
// A member's vector is cut into leaves (positions 0..L-1, in SRAM order, each padded to 64 B),
// each owned by one member or by none. The algorithm emits transfers in rounds: in round t,
// member `from` sends its current values of leaves [first, last) to member `to`, which adds
// them to its own (reduce) or takes them (copy). What a member sends in round t is what it held
// after its receives of the rounds before t; a member's receives in one round touch leaves that
// it neither sends nor receives twice in that round (Schedule::check() verifies it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/config/hardware_config.h"
#include "runtime/collectives/collective.h"

namespace dojosim::runtime::collectives {

constexpr uint32_t kNoOwner = ~0u;

struct Leaf {
  uint32_t owner = kNoOwner;
  uint64_t elements = 0;  // set by Schedule::size_leaves()
};

struct Transfer {
  uint32_t from = 0, to = 0;
  uint32_t first = 0, last = 0;  // leaf positions [first, last)
  bool reduce = false;
  uint32_t round = 0;
};

struct Schedule {
  std::vector<Leaf> leaves;
  std::vector<Transfer> transfers;  // rounds ascending
  std::string note;                 // how the algorithm arranged the group, for the report

  uint32_t rounds() const { return transfers.empty() ? 0 : transfers.back().round + 1; }
  void send(uint32_t from, uint32_t to, uint32_t first, uint32_t last, bool reduce,
            uint32_t round) {
    transfers.push_back({from, to, first, last, reduce, round});
  }
  /// After the algorithm: gives every owning member an equal share of `count` elements (the
  /// first owners one more), cut evenly over its leaves (leaves without owner get none), in
  /// whole units of `align` elements when every owner gets one (the node program pads each leaf
  /// to 64 B: a leaf of a whole number of vectors moves no padding), the elements left over
  /// in the vector's last leaf; drops
  /// transfers of nothing, sorts transfers by round (stable) and checks the rule above; throws
  /// std::logic_error naming the round and member that break it.
  void finish(uint64_t count, uint32_t members, uint64_t align = 1);
  uint64_t elements(uint32_t first, uint32_t last) const;
};

/// A ring of members, in ring order, each owning a set of leaf runs [first, last): the reduce-
/// scatter (every member ends with the sum of its runs) and the all-gather (every member ends
/// with every run) as n-1 rounds each from `round`; return the next free round.
struct RingPart {
  uint32_t member;
  std::vector<std::pair<uint32_t, uint32_t>> runs;
};
uint32_t ring_reduce_scatter(Schedule& s, const std::vector<RingPart>& ring, uint32_t round);
uint32_t ring_all_gather(Schedule& s, const std::vector<RingPart>& ring, uint32_t round);
/// The same over a ring used both ways: a run's partial sums come to its owner from both
/// sides (reduce-scatter), its owner sends it both ways (all-gather), so each takes about
/// n/2 rounds instead of n-1 (ceil(n/2), floor(n/2)), with two sends a member a round. The longer
/// side is the forward one; the two sides never meet a member in the same round (Schedule::finish
/// checks).
uint32_t ring_reduce_scatter_both_ways(Schedule& s, const std::vector<RingPart>& ring,
                                       uint32_t round);
uint32_t ring_all_gather_both_ways(Schedule& s, const std::vector<RingPart>& ring, uint32_t round);
/// The all-gather in one round: every member sends its runs straight to every other member
/// (n - 1 sends and receives a member, of distinct leaves, so no two meet).
uint32_t direct_all_gather(Schedule& s, const std::vector<RingPart>& ring, uint32_t round);
/// `chain[0]` sends leaves [first, last) to chain[1], which passes them on, and so on.
uint32_t chain_broadcast(Schedule& s, const std::vector<uint32_t>& chain, uint32_t first,
                         uint32_t last, uint32_t round);

/// Folds a line of members into a ring whose hops are at most two apart: the even positions
/// forward, then the odd ones back.
std::vector<uint32_t> fold(const std::vector<uint32_t>& line);

/// The algorithm shared by ring, 2d and hierarchical: members in `rows` (each in ring order,
/// rows in the order the column rings visit them), each with a column key. Leaves are
/// (key, row) pairs, key-major; a row's member with a key owns that key's leaf of its row,
/// and a row short of some keys cuts all keys into contiguous runs, one per member. All-reduce:
/// reduce-scatter in the rows over keys, reduce-scatter in the columns (the owners of one key),
/// all-gather in the columns, all-gather in the rows. Broadcast: a chain through the root's row,
/// then chains down from each of its members.
/// `columns_both_ways` runs the column rings both ways (ring_*_both_ways): about rows/2
/// rounds a column phase instead of rows - 1. `columns_two_levels`, when the number of rows R
/// is K x G (K >= 2 the largest factor at or below sqrt(R)), runs each column phase in
/// two levels instead: rings of K consecutive rows moving G leaves a transfer, then rings of G
/// rows one leaf at a time, both levels both ways if asked; d1's 20 rows, 4 x 5: 2 + 3 rounds a
/// column reduce-scatter instead of 10. `columns_gather_direct` runs each column all-gather
/// (each level) as direct_all_gather: one round a level, a member sending its run to each of
/// the others, since a copy, unlike a partial sum, need not pass through anyone.
Schedule two_level(Collective op, const std::vector<std::vector<uint32_t>>& rows,
                   const std::vector<uint32_t>& key, uint32_t root, bool columns_both_ways = false,
                   bool columns_two_levels = false, bool columns_gather_direct = false);

/// Everything an algorithm's builder gets.
struct BuildInput {
  const hw::HardwareConfig& config;
  const CollectiveProblem& problem;
};

/// The algorithm table (algorithms.def). `build` throws std::invalid_argument when the
/// algorithm does not apply to the group (the message says why).
struct AlgorithmEntry {
  const char* name;
  const char* summary;
  Schedule (*build)(const BuildInput& in);
  const char* file;  // the file that defines build (registry test)
};
const std::vector<AlgorithmEntry>& algorithm_registry();

}  // namespace dojosim::runtime::collectives
