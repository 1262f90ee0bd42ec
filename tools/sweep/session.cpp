// SPDX-License-Identifier: MIT
#include "tools/sweep/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "hw/stats/run_report.h"
#include "tools/sweep/summary_plot.h"

namespace dojosim::sweep {

namespace {

// Whether a workload entry runs a program (its JSON holds every machine statistic).
bool runs_program(const Spec& spec, const std::string& workload) {
  for (const Workload& w : spec.workloads)
    if (w.name == workload)
      for (const auto& [key, value] : w.keys)
        if (key == "program") return true;
  return false;
}

// What is wrong with a metric the spec names (or the plot's y), given a point that ran: "" if
// nothing. A name of the run report (hw::report_names(): cycles, flop_per_s, energy_j, ...) is
// always right; a run without it (a workload has no energy) gets an empty cell. Another name must
// be one of the point's figures; on a workload point it may also be a statistic of the sweep's
// program points. What is left is a typo, shown on the first point that ran, before more run.
std::string metric_problem(const Spec& spec, const SessionOptions& options, const Record& r) {
  if (r.value("status", "") != "ok" || !r.contains("stats") || r["stats"].empty()) return "";
  const Record& stats = r["stats"];
  const std::string workload = r.value("workload", "?");
  bool any_program = false;
  for (const Workload& w : spec.workloads) any_program |= runs_program(spec, w.name);
  const auto known = [&](const std::string& name) {
    const auto& report = hw::report_names();
    return std::find(report.begin(), report.end(), name) != report.end() || stats.contains(name) ||
           (any_program && !runs_program(spec, workload));
  };
  const auto problem = [&](const std::string& name, const std::string& where) {
    std::string names;
    for (const auto& [k, v] : stats.items()) names += (names.empty() ? "" : ", ") + k;
    return fmt::format("{}: {} is not a figure of workload {}; it has {} (docs/outputs.md)", where,
                       name, workload, names);
  };
  if (spec.metrics_line > 0)
    for (const std::string& m : spec.metrics)
      if (!known(m)) return problem(m, fmt::format("{}:{}: metrics", spec.path, spec.metrics_line));
  const PlotSpec& plot = options.plot;
  if (!plot.empty() && !known(plot.y))
    return problem(plot.y, options.plot_from_flags
                               ? std::string("--plot")
                               : fmt::format("{}:{}: plot.y", spec.path, spec.plot_line));
  return "";
}

std::string id_of(const Record& r) {
  return r["id"].is_string() ? r["id"].get<std::string>() : r["id"].dump();
}

}  // namespace

SessionResult run_session(const Spec& spec, const std::vector<Point>& points,
                          SessionOptions options) {
  SessionResult result;
  Manifest manifest;
  manifest.spec = spec.path;
  manifest.config_hash = spec.config_hash;
  for (const Point& p : points) manifest.ids.push_back(p.id);
  for (const Axis& a : spec.axes) manifest.axes.push_back(a.key);
  manifest.metrics = spec.metrics;
  manifest.plot = options.plot;
  const Shard& shard = options.shard;
  manifest.shard = shard.count == 1 ? "all" : fmt::format("{}/{}", shard.index, shard.count);

  OutputDir out(options.dir);
  if (const std::optional<Manifest> before = read_manifest(options.dir);
      before && before->config_hash != manifest.config_hash)
    throw OutputError(
        fmt::format("{} holds results of a sweep with another base config or sets "
                    "than {}; use another -o DIR",
                    options.dir, spec.path));
  write_file_atomic(out.file("sweep.json"), to_json(manifest).dump(1) + "\n");

  // Resume: what results.jsonl already holds, by id.
  std::map<std::string, Record> recorded;
  for (Record& r : out.open_records(result.warnings)) {
    const std::string id = id_of(r);
    if (!recorded.emplace(id, std::move(r)).second)
      result.warnings.push_back(
          fmt::format("point {} appears twice in results.jsonl; the first counts", id));
  }
  const auto in_order = [&] {
    std::vector<Record> rows;
    for (const Point& p : points)
      if (const auto it = recorded.find(p.id); it != recorded.end()) rows.push_back(it->second);
    return rows;
  };
  out.rebuild_csv(manifest, in_order());

  std::vector<const Point*> todo;
  for (const Point& p : points) {
    if (!shard.has(p)) continue;
    ++result.shard_points;
    const auto it = recorded.find(p.id);
    if (it == recorded.end()) {
      todo.push_back(&p);
      continue;
    }
    ++result.done_before;
    options.run.already_failed += it->second.value("status", "") != "ok";
    // A metric typo shows on a point that ran, before anything more runs.
    if (result.error.empty()) result.error = metric_problem(spec, options, it->second);
  }
  if (!result.error.empty()) return result;
  options.run.already_done = result.done_before;
  options.run.total = result.shard_points;

  const auto start = std::chrono::steady_clock::now();
  result.run = run_points(spec, todo, manifest, out, options.run, [&](const Record& r) {
    recorded.emplace(id_of(r), r);
    return metric_problem(spec, options, r);
  });
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.error = result.run.stop_reason;

  const std::vector<Record> rows = in_order();
  out.rebuild_csv(manifest, rows);  // canonical order, whatever order the points finished in
  if (result.run.signal == 0 && result.error.empty())
    write_summary_plot(manifest, rows, options.plot, out.file("summary.svg"));
  for (const Point& p : points)
    if (const auto it = recorded.find(p.id); shard.has(p) && it != recorded.end())
      (it->second.value("status", "") == "ok" ? result.ok : result.failed) += 1;
  return result;
}

}  // namespace dojosim::sweep
