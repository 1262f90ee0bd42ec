// SPDX-License-Identifier: MIT
// The output directory of a sweep (docs/sweep.md):
//   sweep.json      the manifest: which sweep the results belong to, its point ids in order
//   results.jsonl   one record per finished point; the record of the sweep, append-only
//   results.csv     the same as a table, rebuilt from results.jsonl at the start and the end of
//                   every run, a row appended as each point finishes
//   summary.svg     the plot (summary_plot.h)
//   logs/ID.out, logs/ID.err   what each point's `dojosim run` printed
//   json/ID.json    its full statistics, with --keep-json (else logs/ID.json until it is read)
// NOTE: a record reaches results.jsonl with one write() on an O_APPEND descriptor, then fsync,
// so a sweep killed at any moment leaves whole lines plus at most one torn last line, which
// the next run cuts off. That is what makes resume lose and duplicate nothing.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sweep/spec.h"

namespace dojosim::sweep {

// One finished point: {"id", "index", "workload", "axes": {key: value}, "status", "exit_code",
// "error", "wall_seconds", "stats": {machine statistic: value}}.
using Record = nlohmann::ordered_json;

class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Manifest {
  std::string spec;              // the spec file, as given
  std::string config_hash;       // of the resolved base config and sets: results never mix bases
  std::vector<std::string> ids;  // every point of the sweep, in canonical order
  std::vector<std::string> axes, metrics;
  PlotSpec plot;
  std::string shard;  // "1/3", "all", "merged"
};
nlohmann::ordered_json to_json(const Manifest& m);
// Throws OutputError naming `where` if a field is missing.
Manifest manifest_from_json(const nlohmann::json& j, const std::string& where);
// The manifest in `dir`, if there is one.
std::optional<Manifest> read_manifest(const std::string& dir);

// Records of a results.jsonl in file order. A last line without its newline is torn: with
// `repair` the file is cut back to the last whole line, otherwise it is skipped. Lines that do
// not parse are skipped with a warning.
std::vector<Record> read_records(const std::string& path, bool repair,
                                 std::vector<std::string>& warnings);

// The CSV of `records` (already in the order wanted): id, workload, the axes, status,
// exit_code, the metrics, wall_seconds, error.
std::string csv_header(const Manifest& m);
std::string csv_row(const Manifest& m, const Record& r);

// The error line of a point's stderr: its first line that is not indented (an indented line
// continues the one above, as in a deadlock report listing every waiting thread, and so do
// SystemC's "In file:" lines) and not a warning, at most 300 characters; "" if there is none. The
// first, because the first error is the cause: a SystemC error dump says "Error: ... uncaught
// exception" and then "In file:".
std::string error_line(std::string_view log);

// `content` into a temporary file, fsync, rename over `path`: readers see the old or the new.
void write_file_atomic(const std::string& path, const std::string& content);

// An output directory in use: created if needed and locked, so two sweeps never write one
// directory. Throws OutputError.
class OutputDir {
 public:
  explicit OutputDir(const std::string& dir);
  ~OutputDir();
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;

  std::string file(std::string_view name) const { return dir_ + "/" + std::string(name); }

  // Reads (and repairs) results.jsonl and opens it for appending.
  std::vector<Record> open_records(std::vector<std::string>& warnings);
  // Rewrites results.csv from `records` and opens it for appending.
  void rebuild_csv(const Manifest& m, const std::vector<Record>& records);
  // Appends the record to results.jsonl, then its row to results.csv; each one write + fsync.
  void append(const Manifest& m, const Record& r);

 private:
  std::string dir_;
  int lock_fd_ = -1, jsonl_fd_ = -1, csv_fd_ = -1;
};

}  // namespace dojosim::sweep
