// SPDX-License-Identifier: MIT
// A sweep spec: the YAML file that says which configs and workloads `dojosim sweep` runs
// (docs/sweep.md). load_spec() reads and checks it completely before anything runs; every
// problem is a SpecError whose message is one line naming the spec file, the line and the key.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace dojosim::sweep {

class SpecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One swept config key and its values, as YAML text (what `dojosim run --set key=value` takes).
struct Axis {
  std::string key;
  std::vector<std::string> values;
  int line = 0;
};

// The keys a workload entry may have besides `name`, and the `dojosim run` flag each becomes.
// A new kind of workload (e.g. a generated kernel) is one row here.
struct WorkloadKey {
  const char* key;
  const char* flag;
  bool is_file;       // a path, relative to the spec file, that must exist
  bool selects_work;  // says what runs: an entry needs at least one such key
};
inline constexpr WorkloadKey kWorkloadKeys[] = {
    {"program", "--program", true, true},
    {"workload", "--workload", false, true},
    {"threads", "--threads", false, false},
};

struct Workload {
  std::string name;
  // The entry's keys in table order, as written: part of each point's identity.
  std::vector<std::pair<std::string, std::string>> keys;
  // The `dojosim run` arguments they become (files made absolute).
  std::vector<std::string> run_args;
};

// What summary.svg shows: metric `y` against the axis `x`, one line per value of `lines`.
// Axes are config keys or "workload".
struct PlotSpec {
  std::string y, x, lines;
  bool empty() const { return y.empty(); }
};

enum class Combine { Product, Zip };

struct Spec {
  std::string path;               // the spec file as given
  std::string base;               // the base config, absolute
  std::vector<std::string> sets;  // "key=value", applied before each point's axis values
  std::vector<Axis> axes;
  Combine combine = Combine::Product;
  std::vector<Workload> workloads;
  std::vector<std::string> metrics;  // machine statistics for the CSV columns
  int metrics_line = 0;              // where they were given, for messages (0: the default)
  PlotSpec plot;
  int plot_line = 0;
  double timeout_seconds = 0;  // host seconds a point may run before it is stopped; 0: none
  int timeout_line = 0;
  std::string config_hash;  // of the resolved base config with `sets`: results must not mix
};

// The CSV metrics when a spec names none: docs/outputs.md describes each.
const std::vector<std::string>& default_metrics();

// Reads and checks `path`: known top-level keys, axes that are config keys with non-empty lists
// or valid ranges, zip axes of equal length, workloads whose files exist, a base config (with
// `sets`) that loads. Axis values themselves are checked by each point's run, so that one bad
// value fails its points only.
Spec load_spec(const std::string& path);

// What is wrong with a plot request for this spec's axes, or "" if nothing.
std::string plot_problem(const Spec& spec, const PlotSpec& plot);

}  // namespace dojosim::sweep
