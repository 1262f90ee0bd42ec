// SPDX-License-Identifier: MIT
#include "hw/stats/run_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

namespace dojosim::hw {

std::string_view split_bucket_name(int bucket) {
  if (bucket == kSplitIssue) return "issue";
  if (bucket == kSplitDrain) return "other_drain";
  return isa::stall_cause_name(static_cast<isa::StallCause>(bucket - 1));
}

uint64_t RunReport::compute_cycles() const {
  using C = isa::StallCause;
  return split[kSplitIssue] + split[split_bucket(C::Dependency)] +
         split[split_bucket(C::SramPort)] + split[split_bucket(C::UnitBusy)];
}

namespace {

std::string bucket_stat(int b) {
  return b == kSplitIssue ? "issue_cycles" : "stall_" + std::string(split_bucket_name(b));
}

// Adds the buckets of a thread (or a sum of threads) to the report.
void add_split(RunReport& r, const StatsNode& n) {
  for (int b = 0; b < kSplitBuckets; ++b) {
    const uint64_t v = n.counter(bucket_stat(b));
    r.split[b] += v;
    r.thread_cycles += v;  // the sum of the buckets: equal to "cycles" (stats.h)
  }
}

bool node_at(const StatsNode& n, Coord c) {
  return n.name == fmt::format("node({},{})", c.x, c.y);
}

}  // namespace

RunReport run_report(const StatsNode& machine, const HardwareConfig& config,
                     const ReportScope& scope) {
  RunReport r;
  r.cycles = machine.counter("cycles_max");
  r.seconds = machine.value("seconds");
  r.instructions = machine.counter("instructions");
  r.matrix_flop = machine.value("flop_bf16") + machine.value("flop_cfp8");
  r.flop = scope.work_flop > 0 ? scope.work_flop : r.matrix_flop;
  r.flop_per_s = r.seconds > 0 ? r.flop / r.seconds : 0.0;
  r.peak_flop_per_s = peak_flops(config, scope.precision, Scale::Machine);
  r.utilisation_pct = r.peak_flop_per_s > 0 ? 100.0 * r.flop_per_s / r.peak_flop_per_s : 0.0;
  r.energy_j = machine.value("energy_j");
  r.power_w = machine.value("power_w");
  r.host_bytes = machine.counter("host_bytes_read") + machine.counter("host_bytes_written");
  if (scope.nodes.empty() && scope.thread < 0) add_split(r, machine);
  for (const StatsNode& die : machine.children) {
    if (const Stat* s = die.find("mesh_link_bytes"))
      r.mesh_link_bytes += std::get<uint64_t>(s->value);
    if (const Stat* s = die.find("die_edge_link_bytes"))
      r.die_edge_link_bytes += std::get<uint64_t>(s->value);
    if (scope.nodes.empty() && scope.thread < 0) continue;
    for (const StatsNode& node : die.children) {
      if (node.name.rfind("node(", 0) != 0) continue;
      if (!scope.nodes.empty() &&
          std::none_of(scope.nodes.begin(), scope.nodes.end(),
                       [&](Coord c) { return node_at(node, c); }))
        continue;
      if (scope.thread < 0) {
        add_split(r, node);
      } else if (const StatsNode* t = node.child(fmt::format("thread{}", scope.thread))) {
        add_split(r, *t);
      }
    }
  }
  return r;
}

nlohmann::ordered_json to_json(const RunReport& r) {
  nlohmann::ordered_json j;
  const auto pct = [&](uint64_t v) {
    return r.thread_cycles ? 100.0 * double(v) / double(r.thread_cycles) : 0.0;
  };
  j["cycles"] = r.cycles;
  j["seconds"] = r.seconds;
  if (r.from_tree) j["instructions"] = r.instructions;
  j["flop"] = r.flop;
  j["flop_per_s"] = r.flop_per_s;
  j["peak_flop_per_s"] = r.peak_flop_per_s;
  j["utilisation_pct"] = r.utilisation_pct;
  j["thread_cycles"] = r.thread_cycles;
  j["compute_pct"] = pct(r.compute_cycles());
  j["wait_data_pct"] = pct(r.wait_data_cycles());
  j["sync_pct"] = pct(r.sync_cycles());
  j["dma_queue_pct"] = pct(r.dma_queue_cycles());
  j["other_pct"] = pct(r.other_cycles());
  if (r.from_tree) {
    auto& split = j["split_pct"] = nlohmann::ordered_json::object();
    for (int b = 0; b < kSplitBuckets; ++b) split[std::string(split_bucket_name(b))] = r.pct(b);
  }
  j["mesh_link_bytes"] = r.mesh_link_bytes;
  j["die_edge_link_bytes"] = r.die_edge_link_bytes;
  j["host_bytes"] = r.host_bytes;
  if (r.from_tree) {
    j["energy_j"] = r.energy_j;
    j["power_w"] = r.power_w;
  }
  return j;
}

const std::vector<std::string>& report_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    const RunReport empty;
    const nlohmann::ordered_json j = to_json(empty);
    for (auto it = j.cbegin(); it != j.cend(); ++it) {
      if (!it->is_object()) {
        n.push_back(it.key());
        continue;
      }
      for (auto sub = it->cbegin(); sub != it->cend(); ++sub)
        n.push_back(it.key() + "." + sub.key());
    }
    return n;
  }();
  return names;
}

}  // namespace dojosim::hw
