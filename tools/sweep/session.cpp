// SPDX-License-Identifier: MIT
#include "tools/sweep/session.h"

#include <fmt/format.h>

#include <chrono>
#include <map>

#include "tools/sweep/summary_plot.h"

namespace dojosim::sweep {

namespace {

// What is wrong with the metrics the spec names (or the plot's) given a point that ran: each
// must be one of its figures. "" if all are, or if the point has none. Default metrics are not
// checked: a workload run's report has other names than a program run's statistics.
std::string metric_problem(const Spec& spec, const PlotSpec& plot, const Record& r) {
  if (r.value("status", "") != "ok" || !r.contains("stats") || r["stats"].empty()) return "";
  const Record& stats = r["stats"];
  const auto problem = [&](const std::string& name, int line, const char* key) {
    std::string known;
    for (const auto& [k, v] : stats.items()) known += (known.empty() ? "" : ", ") + k;
    return fmt::format(
        "{}{}: {}: {} is not a statistic of workload {}; it has {} (docs/outputs.md)", spec.path,
        line ? fmt::format(":{}", line) : "", key, name, r.value("workload", "?"), known);
  };
  if (spec.metrics_line > 0)
    for (const std::string& m : spec.metrics)
      if (!stats.contains(m)) return problem(m, spec.metrics_line, "metrics");
  if (!plot.empty() && !stats.contains(plot.y)) return problem(plot.y, spec.plot_line, "plot.y");
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
    if (result.error.empty()) result.error = metric_problem(spec, options.plot, it->second);
  }
  if (!result.error.empty()) return result;
  options.run.already_done = result.done_before;
  options.run.total = result.shard_points;

  const auto start = std::chrono::steady_clock::now();
  result.run = run_points(spec, todo, manifest, out, options.run, [&](const Record& r) {
    recorded.emplace(id_of(r), r);
    return metric_problem(spec, options.plot, r);
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
