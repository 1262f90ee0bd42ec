// SPDX-License-Identifier: MIT
#include "runtime/graph/summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace dojosim::runtime::graph {

Summary summarise(const Graph& g, const Analysis& a) {
  Summary s;
  s.ops = g.ops.size();
  s.tensors = g.tensors.size();
  for (const Tensor& t : g.tensors) {
    s.bytes[t.role] += uint64_t(element_count(t.shape)) * element_bytes(t.dtype);
    s.count[t.role] += 1;
  }
  for (size_t i = 0; i < g.ops.size(); ++i) {
    Summary::TypeRow& row = s.by_type[g.ops[i].type];
    row.ops += 1;
    row.flop += a.ops[i].flop;
    s.flop += a.ops[i].flop;
  }
  return s;
}

std::string summary_text(const Graph& g, const Summary& s) {
  std::string out = fmt::format("graph {}: {} ops, {} tensors (format version {})\n",
                                g.name.empty() ? "(unnamed)" : g.name, s.ops, s.tensors, g.version);
  out += fmt::format("{:<16} {:>8} {:>16}\n", "role", "tensors", "bytes");
  for (const auto& [role, bytes] : s.bytes)
    out += fmt::format("{:<16} {:>8} {:>16}\n", role_name(role), s.count.at(role), bytes);
  const auto bytes_of = [&](Role r) { return s.bytes.count(r) ? s.bytes.at(r) : 0; };
  out += fmt::format(
      "parameter bytes {} (weights), activation bytes {} (all activations, "
      "none reused)\n",
      bytes_of(Role::Weight), bytes_of(Role::Activation));
  // Op types by FLOP, largest first (ties by name), then the total.
  std::vector<std::pair<std::string, Summary::TypeRow>> rows(s.by_type.begin(), s.by_type.end());
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.second.flop > b.second.flop; });
  size_t w = 22;  // as wide as the longest type
  for (const auto& row : rows) w = std::max(w, row.first.size());
  out += fmt::format("{:<{}} {:>5} {:>16} {:>7}\n", "op type", w, "ops", "FLOP", "share");
  for (const auto& [type, row] : rows)
    out += fmt::format("{:<{}} {:>5} {:>16.0f} {:>6.2f}%\n", type, w, row.ops, row.flop,
                       s.flop > 0 ? 100.0 * row.flop / s.flop : 0.0);
  out += fmt::format("{:<{}} {:>5} {:>16.0f} {:>6.2f}%\n", "total", w, s.ops, s.flop, 100.0);
  return out;
}

}  // namespace dojosim::runtime::graph
