// SPDX-License-Identifier: MIT
// 2d: the members of each mesh row form a ring (folded by x), keyed by their column; the owners
// of each column's leaves form a ring down the rows (folded by y), used both ways. All-reduce:
// reduce-scatter along the rows (east-west ports), then down the columns (north-south ports),
// then all-gather back: 2 (columns - 1) + rows rounds instead of 2 (n - 1). A column phase
// moves one small leaf a round and waits every round for the member upstream, so it costs
// rounds more than bytes: both ways halves them, two levels cut them again, and a column
// all-gather, which moves copies, goes direct (one round a level). A row short of some columns
// (disabled nodes, a group that is not a rectangle) cuts the columns into contiguous runs, one
// per member.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "runtime/collectives/algorithms/common.h"

namespace dojosim::runtime::collectives {

const char* file_two_d() {
  return __FILE__;
}

Schedule build_two_d(const BuildInput& in) {
  const std::vector<hw::Coord>& m = in.problem.group.members;
  std::map<int, std::vector<uint32_t>> by_y;
  std::vector<uint32_t> key(m.size());
  for (uint32_t i = 0; i < m.size(); ++i) {
    by_y[m[i].y].push_back(i);
    key[i] = static_cast<uint32_t>(m[i].x);
  }
  std::vector<uint32_t> columns(key);
  std::sort(columns.begin(), columns.end());
  columns.erase(std::unique(columns.begin(), columns.end()), columns.end());
  if (by_y.size() < 2 || columns.size() < 2)
    throw std::invalid_argument(fmt::format(
        "the group spans {} row{} and {} column{}: 2d needs "
        "two of each (ring covers a line)",
        by_y.size(), by_y.size() == 1 ? "" : "s", columns.size(), columns.size() == 1 ? "" : "s"));
  std::vector<std::vector<uint32_t>> lines;
  for (auto& [y, row] : by_y) {
    std::sort(row.begin(), row.end(), [&](uint32_t a, uint32_t b) { return m[a].x < m[b].x; });
    lines.push_back(fold(row));
  }
  std::vector<uint32_t> order(lines.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::vector<std::vector<uint32_t>> rows;
  for (uint32_t i : fold(order)) rows.push_back(lines[i]);
  Schedule s = two_level(in.problem.op, rows, key, in.problem.root, /*columns_both_ways=*/true,
                         /*columns_two_levels=*/true, /*columns_gather_direct=*/true);
  s.note = fmt::format("{} rows x {} columns", rows.size(), columns.size());
  return s;
}

}  // namespace dojosim::runtime::collectives
