// SPDX-License-Identifier: MIT
#include "tools/sweep/merge.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>

#include "tools/sweep/summary_plot.h"

namespace dojosim::sweep {

namespace {

// A record without what may differ between two runs of the same point.
Record comparable(Record r) {
  r.erase("wall_seconds");
  return r;
}

}  // namespace

Merged merge_shards(const std::vector<std::string>& shard_dirs) {
  Merged m;
  std::map<std::string, std::pair<Record, std::string>> found;  // id -> record, where from
  for (size_t i = 0; i < shard_dirs.size(); ++i) {
    const std::string& dir = shard_dirs[i];
    const std::optional<Manifest> manifest = read_manifest(dir);
    if (!manifest)
      throw OutputError(fmt::format("{}: no sweep.json; not the output directory of a sweep", dir));
    if (i == 0) {
      m.manifest = *manifest;
    } else if (manifest->config_hash != m.manifest.config_hash || manifest->ids != m.manifest.ids) {
      throw OutputError(
          fmt::format("{} and {} hold different sweeps ({} differ)", shard_dirs[0], dir,
                      manifest->config_hash != m.manifest.config_hash ? "the base config or sets"
                                                                      : "the points"));
    }
    const std::string path = dir + "/results.jsonl";
    size_t line = 0;
    for (Record& r : read_records(path, false, m.warnings)) {
      ++line;
      const std::string id = r["id"].is_string() ? r["id"].get<std::string>() : r["id"].dump();
      const std::string where = fmt::format("{} (record {})", path, line);
      const auto [it, fresh] = found.emplace(id, std::make_pair(r, where));
      if (!fresh && comparable(it->second.first) != comparable(r))
        throw OutputError(fmt::format(
            "conflicting results for point {}: {} says {}, {} says {}", id, it->second.second,
            it->second.first.value("status", "?"), where,
            r.value("status", "?") + (r.value("status", "") == it->second.first.value("status", "")
                                          ? " with other statistics"
                                          : "")));
    }
  }
  m.manifest.shard = "merged";
  for (const std::string& id : m.manifest.ids) {
    const auto it = found.find(id);
    if (it == found.end()) {
      m.missing.push_back(id);
      continue;
    }
    m.records.push_back(it->second.first);
    found.erase(it);
  }
  if (!found.empty())
    m.warnings.push_back(
        fmt::format("{} record(s) belong to no point of the sweep (an earlier version of "
                    "the spec?); left out",
                    found.size()));
  return m;
}

void write_merged(const Merged& merged, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw OutputError(fmt::format("cannot create {}: {}", dir, ec.message()));
  std::string jsonl, csv = csv_header(merged.manifest);
  for (const Record& r : merged.records) {
    jsonl += r.dump(-1, ' ', false, Record::error_handler_t::replace) + "\n";
    csv += csv_row(merged.manifest, r);
  }
  write_file_atomic(dir + "/results.jsonl", jsonl);
  write_file_atomic(dir + "/results.csv", csv);
  write_file_atomic(dir + "/sweep.json", to_json(merged.manifest).dump(1) + "\n");
  write_summary_plot(merged.manifest, merged.records, merged.manifest.plot, dir + "/summary.svg");
}

}  // namespace dojosim::sweep
