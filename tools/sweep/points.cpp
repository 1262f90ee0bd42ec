// SPDX-License-Identifier: MIT
#include "tools/sweep/points.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>

namespace dojosim::sweep {

std::string short_hash(std::string_view text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h).substr(0, 12);
}

namespace {

std::string point_id(const Spec& spec, const std::vector<std::string>& values, const Workload& w) {
  std::map<std::string, std::string> sorted;
  for (size_t a = 0; a < spec.axes.size(); ++a) sorted[spec.axes[a].key] = values[a];
  std::string key;
  for (const auto& [k, v] : sorted) key += k + "=" + v + "\n";
  key += "workload name=" + w.name;
  for (const auto& [k, v] : w.keys) key += " " + k + "=" + v;
  return short_hash(key);
}

}  // namespace

std::vector<Point> expand(const Spec& spec) {
  // Combinations as value indices per axis.
  std::vector<std::vector<size_t>> combos;
  if (spec.axes.empty()) {
    combos.emplace_back();
  } else if (spec.combine == Combine::Zip) {
    for (size_t i = 0; i < spec.axes.front().values.size(); ++i)
      combos.emplace_back(spec.axes.size(), i);
  } else {
    std::vector<size_t> at(spec.axes.size(), 0);
    for (;;) {
      combos.push_back(at);
      size_t a = spec.axes.size();  // odometer: the last axis turns fastest
      while (a > 0 && ++at[a - 1] == spec.axes[a - 1].values.size()) at[--a] = 0;
      if (a == 0) break;
    }
  }
  std::vector<Point> points;
  std::map<std::string, size_t> ids;
  for (const std::vector<size_t>& combo : combos) {
    std::vector<std::string> values;
    for (size_t a = 0; a < spec.axes.size(); ++a) values.push_back(spec.axes[a].values[combo[a]]);
    for (size_t w = 0; w < spec.workloads.size(); ++w) {
      Point p{points.size(), point_id(spec, values, spec.workloads[w]), values, w};
      if (const auto [it, fresh] = ids.emplace(p.id, p.index); !fresh)
        throw SpecError(fmt::format("{}: points {} and {} have the same id {} ({})", spec.path,
                                    it->second, p.index, p.id, describe(spec, p)));
      points.push_back(std::move(p));
    }
  }
  return points;
}

std::string points_hash(const std::vector<Point>& points) {
  std::string all;
  for (const Point& p : points) all += p.id + "\n";
  return short_hash(all);
}

std::vector<std::string> run_args(const Spec& spec, const Point& p, const std::string& json_path) {
  // Points run side by side, so each takes one host thread unless the spec says otherwise
  // (a later --set wins); results do not depend on it (docs/parallel.md).
  std::vector<std::string> args{"run", "--config", spec.base, "--set", "sim.host_threads=1"};
  for (const std::string& s : spec.sets) args.insert(args.end(), {"--set", s});
  for (size_t a = 0; a < spec.axes.size(); ++a)
    args.insert(args.end(), {"--set", spec.axes[a].key + "=" + p.values[a]});
  const Workload& w = spec.workloads[p.workload];
  args.insert(args.end(), w.run_args.begin(), w.run_args.end());
  args.insert(args.end(), {"--json", json_path});
  return args;
}

std::string describe(const Spec& spec, const Point& p) {
  std::string s = spec.workloads[p.workload].name;
  for (size_t a = 0; a < spec.axes.size(); ++a) s += " " + spec.axes[a].key + "=" + p.values[a];
  return s;
}

}  // namespace dojosim::sweep
