// SPDX-License-Identifier: MIT
#include "tools/sweep/spec.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "hw/config/config_io.h"
#include "tools/sweep/points.h"

namespace dojosim::sweep {

namespace fs = std::filesystem;

namespace {

constexpr const char* kTopKeys[] = {"base",      "sets",    "axes", "combine",
                                    "workloads", "metrics", "plot", "timeout"};
constexpr size_t kMaxAxisValues = 100000;  // a typo in a range should not eat the disk

std::string join(const std::vector<std::string>& parts, std::string_view sep = ", ") {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? std::string(sep) : "") + parts[i];
  return s;
}

// A value as YAML text, the form `--set key=value` takes: scalars as written, lists in flow style.
std::string yaml_text(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  YAML::Node flow = YAML::Clone(n);
  flow.SetStyle(YAML::EmitterStyle::Flow);
  YAML::Emitter e;
  e << flow;
  return e.c_str();
}

// A range value: integers stay integers; other numbers with 12 significant digits, so that
// 0.1 + 2 x 0.1 is written 0.3.
std::string range_value(double v, bool integral) {
  if (integral) return fmt::format("{}", static_cast<long long>(std::llround(v)));
  return fmt::format("{:.12g}", v);
}

struct Reader {
  std::string path;
  fs::path dir;

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key,
                         const std::string& what) const {
    throw SpecError(fmt::format("{}:{}: {}: {}", path, at.Mark().line + 1, key, what));
  }

  std::string scalar(const YAML::Node& n, const std::string& key,
                     const std::string& expected) const {
    if (!n.IsScalar() || n.Scalar().empty()) fail(n, key, "expected " + expected);
    return n.Scalar();
  }

  double number(const YAML::Node& n, const std::string& key) const {
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v))
      fail(n, key, fmt::format("expected a number, not '{}'", yaml_text(n)));
    return v;
  }

  // A file named relative to the spec; must exist.
  std::string file(const YAML::Node& n, const std::string& key) const {
    const std::string written = scalar(n, key, "a file name");
    const fs::path p = (dir / written).lexically_normal();
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) fail(n, key, fmt::format("cannot read {}", p.string()));
    return fs::absolute(p, ec).lexically_normal().string();
  }

  void check_config_key(const YAML::Node& at, const std::string& where,
                        const std::string& key) const {
    if (!hw::find_param(key))
      fail(at, where,
           fmt::format("unknown config key; did you mean {}? (keys: dojosim config show)",
                       hw::nearest_key(key)));
  }

  // {from, to, step} or {from, to, times}.
  std::vector<std::string> range(const YAML::Node& m, const std::string& key) const {
    const char* const shape = "a range is {from: A, to: B, step: S} or {from: A, to: B, times: T}";
    std::map<std::string, YAML::Node> parts;
    for (auto it = m.begin(); it != m.end(); ++it) {
      const std::string name = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (name != "from" && name != "to" && name != "step" && name != "times")
        fail(it->first, key + "." + name, fmt::format("unknown range key; {}", shape));
      parts[name] = it->second;
    }
    if (!parts.count("from") || !parts.count("to") || parts.count("step") == parts.count("times"))
      fail(m, key, shape);
    const double from = number(parts["from"], key + ".from"), to = number(parts["to"], key + ".to");
    if (from > to) fail(parts["to"], key + ".to", fmt::format("{} is below from: {}", to, from));
    const auto integral = [&](const char* part) {
      return parts[part].Scalar().find_first_of(".eE") == std::string::npos;
    };
    std::vector<std::string> values;
    const auto add = [&](double v, bool whole) {
      if (values.size() == kMaxAxisValues)
        fail(m, key, fmt::format("the range has more than {} values", kMaxAxisValues));
      values.push_back(range_value(v, whole));
    };
    if (parts.count("step")) {
      const double step = number(parts["step"], key + ".step");
      if (!(step > 0)) fail(parts["step"], key + ".step", "must be above 0");
      const bool whole = integral("from") && integral("step");
      // From the index, not by repeated addition, so that the steps do not drift.
      for (size_t i = 0;; ++i) {
        const double v = from + double(i) * step;
        if (v > to + step * 1e-9) break;
        add(v, whole);
      }
    } else {
      const double times = number(parts["times"], key + ".times");
      if (!(times > 1)) fail(parts["times"], key + ".times", "must be above 1");
      if (!(from > 0))
        fail(parts["from"], key + ".from", "must be above 0 for a range with times:");
      const bool whole = integral("from") && integral("times");
      for (double v = from; v <= to * (1 + 1e-12); v *= times) add(v, whole);
    }
    return values;
  }

  void read_sets(const YAML::Node& n, Spec& spec, std::map<std::string, int>& set_lines) const {
    if (n.IsNull()) return;
    if (!n.IsMap())
      fail(n, "sets", "expected a map of config keys to values, e.g. {sim.quantum_cycles: 100}");
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = scalar(it->first, "sets", "a config key");
      check_config_key(it->first, "sets." + key, key);
      if (!set_lines.emplace(key, it->first.Mark().line + 1).second)
        fail(it->first, "sets." + key, "given twice");
      spec.sets.push_back(key + "=" + yaml_text(it->second));
    }
  }

  void read_axes(const YAML::Node& n, Spec& spec,
                 const std::map<std::string, int>& set_lines) const {
    if (!n.IsMap() || n.size() == 0)
      fail(n, "axes",
           "expected a map of config keys to value lists (leave axes: out to run the workloads "
           "alone)");
    for (auto it = n.begin(); it != n.end(); ++it) {
      Axis axis;
      axis.key = scalar(it->first, "axes", "a config key");
      axis.line = it->first.Mark().line + 1;
      const std::string where = "axes." + axis.key;
      check_config_key(it->first, where, axis.key);
      if (set_lines.count(axis.key))
        fail(it->first, where,
             fmt::format("also fixed under sets: (line {}); a key is either fixed or swept",
                         set_lines.at(axis.key)));
      for (const Axis& a : spec.axes)
        if (a.key == axis.key)
          fail(it->first, where, fmt::format("given twice (first at line {})", a.line));
      const YAML::Node v = it->second;  // a copy: it->second is a temporary
      if (v.IsSequence()) {
        if (v.size() == 0) fail(v, where, "empty list of values");
        for (const YAML::Node& e : v) axis.values.push_back(yaml_text(e));
      } else if (v.IsMap()) {
        axis.values = range(v, where);
      } else {
        fail(v, where, "expected a list of values [a, b, ...] or a range {from, to, step|times}");
      }
      std::set<std::string> seen;
      for (const std::string& value : axis.values)
        if (!seen.insert(value).second)
          fail(v, where, fmt::format("the value {} is listed twice", value));
      spec.axes.push_back(std::move(axis));
    }
  }

  void read_workloads(const YAML::Node& n, Spec& spec) const {
    if (!n.IsSequence() || n.size() == 0)
      fail(n, "workloads",
           "expected a list of workloads, e.g. - {name: ring, program: ring_push.s}");
    std::vector<std::string> allowed{"name"};
    for (const WorkloadKey& k : kWorkloadKeys) allowed.push_back(k.key);
    for (size_t i = 0; i < n.size(); ++i) {
      const YAML::Node& e = n[i];
      const std::string where = fmt::format("workloads[{}]", i);
      if (!e.IsMap()) fail(e, where, "expected a map such as {name: ring, program: ring_push.s}");
      std::map<std::string, YAML::Node> given;
      for (auto it = e.begin(); it != e.end(); ++it) {
        const std::string key = scalar(it->first, where, "a key");
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
          fail(it->first, where + "." + key,
               "unknown workload key; expected one of " + join(allowed));
        given[key] = it->second;
      }
      Workload w;
      if (!given.count("name")) fail(e, where + ".name", "missing: each workload needs a name");
      w.name = scalar(given["name"], where + ".name", "a name");
      for (const Workload& other : spec.workloads)
        if (other.name == w.name)
          fail(given["name"], where + ".name", fmt::format("'{}' is used twice", w.name));
      bool selects = false;
      for (const WorkloadKey& k : kWorkloadKeys) {
        if (!given.count(k.key)) continue;
        const YAML::Node& v = given[k.key];
        const std::string key = where + "." + k.key;
        w.keys.emplace_back(k.key, scalar(v, key, "a value"));
        w.run_args.push_back(k.flag);
        w.run_args.push_back(k.is_file ? file(v, key) : v.Scalar());
        selects |= k.selects_work;
      }
      if (!selects) {
        std::vector<std::string> work;
        for (const WorkloadKey& k : kWorkloadKeys)
          if (k.selects_work) work.push_back(k.key);
        fail(e, where, "says nothing to run: give one of " + join(work));
      }
      spec.workloads.push_back(std::move(w));
    }
  }

  void read_metrics(const YAML::Node& n, Spec& spec) const {
    if (!n.IsSequence() || n.size() == 0)
      fail(n, "metrics",
           "expected a list of machine statistics, e.g. [cycles_max, energy_j] (docs/outputs.md)");
    spec.metrics.clear();
    spec.metrics_line = n.Mark().line + 1;
    for (const YAML::Node& m : n) {
      const std::string name = scalar(m, "metrics", "a statistic name");
      if (std::find(spec.metrics.begin(), spec.metrics.end(), name) != spec.metrics.end())
        fail(m, "metrics", fmt::format("{} is listed twice", name));
      spec.metrics.push_back(name);
    }
  }

  void read_plot(const YAML::Node& n, Spec& spec) const {
    if (!n.IsMap()) fail(n, "plot", "expected {y: METRIC, x: AXIS, lines: AXIS}");
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = scalar(it->first, "plot", "a key");
      std::string* field = key == "y"       ? &spec.plot.y
                           : key == "x"     ? &spec.plot.x
                           : key == "lines" ? &spec.plot.lines
                                            : nullptr;
      if (!field) fail(it->first, "plot." + key, "unknown plot key; expected y, x or lines");
      *field = scalar(it->second, "plot." + key, "a name");
    }
    if (spec.plot.y.empty() || spec.plot.x.empty())
      fail(n, "plot", "needs y: (a metric) and x: (an axis)");
    spec.plot_line = n.Mark().line + 1;
    if (const std::string problem = plot_problem(spec, spec.plot); !problem.empty())
      fail(n, "plot", problem);
  }

  // The base config with `sets` must load: a problem there would fail every point.
  void check_base(const YAML::Node& base_node, const YAML::Node& sets_node, Spec& spec) const {
    try {
      const hw::LoadedConfig loaded = hw::load_config(spec.base, spec.sets);
      spec.config_hash = short_hash(hw::write_yaml(loaded.config));
    } catch (const hw::ConfigError& e) {
      const std::string& first = e.problems().front();
      const bool from_sets = first.rfind("--set", 0) == 0;
      const std::string more =
          e.problems().size() > 1 ? fmt::format(" (and {} more)", e.problems().size() - 1) : "";
      fail(from_sets ? sets_node : base_node, from_sets ? "sets" : "base", first + more);
    }
  }
};

}  // namespace

const std::vector<std::string>& default_metrics() {
  // Names of the run report (hw/stats/run_report.h), which program and workload runs share.
  static const std::vector<std::string> metrics{
      "cycles",          "seconds",  "instructions", "flop_per_s", "utilisation_pct",
      "mesh_link_bytes", "energy_j", "power_w"};
  return metrics;
}

std::string plot_problem(const Spec& spec, const PlotSpec& plot) {
  std::vector<std::string> dims;
  for (const Axis& a : spec.axes) dims.push_back(a.key);
  dims.push_back("workload");
  const auto known = [&](const std::string& d) {
    return std::find(dims.begin(), dims.end(), d) != dims.end();
  };
  if (!known(plot.x))
    return fmt::format("x = {}: not an axis of this sweep (axes: {})", plot.x, join(dims));
  if (!plot.lines.empty() && !known(plot.lines))
    return fmt::format("lines = {}: not an axis of this sweep (axes: {})", plot.lines, join(dims));
  if (plot.lines == plot.x) return fmt::format("lines = {}: the same axis as x", plot.lines);
  return "";
}

Spec load_spec(const std::string& path) {
  Reader r{path, fs::path(path).parent_path()};
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw SpecError(fmt::format("{}: cannot read the sweep spec", path));
  } catch (const YAML::Exception& e) {
    throw SpecError(fmt::format("{}:{}:{}: YAML syntax error: {}", path, e.mark.line + 1,
                                e.mark.column + 1, e.msg));
  }
  if (!root.IsMap())
    throw SpecError(fmt::format("{}: expected a map with base:, axes:, workloads:", path));

  try {
    std::map<std::string, YAML::Node> top;
    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string key = r.scalar(it->first, "(top level)", "a key");
      if (std::find(std::begin(kTopKeys), std::end(kTopKeys), key) == std::end(kTopKeys))
        r.fail(it->first, key,
               "unknown key; a sweep spec has " + join({std::begin(kTopKeys), std::end(kTopKeys)}));
      if (top.count(key)) r.fail(it->first, key, "given twice");
      top[key] = it->second;
    }
    Spec spec;
    spec.path = path;
    spec.metrics = default_metrics();
    if (!top.count("base"))
      throw SpecError(fmt::format("{}: missing base: (the config every point starts from)", path));
    spec.base = r.file(top["base"], "base");
    std::map<std::string, int> set_lines;
    if (top.count("sets")) r.read_sets(top["sets"], spec, set_lines);
    if (top.count("axes")) r.read_axes(top["axes"], spec, set_lines);
    if (top.count("combine")) {
      const std::string c = r.scalar(top["combine"], "combine", "product or zip");
      if (c != "product" && c != "zip")
        r.fail(top["combine"], "combine", fmt::format("'{}': expected product or zip", c));
      spec.combine = c == "zip" ? Combine::Zip : Combine::Product;
    }
    if (spec.combine == Combine::Zip)
      for (const Axis& a : spec.axes)
        if (a.values.size() != spec.axes.front().values.size())
          r.fail(top["axes"][a.key], "axes." + a.key,
                 fmt::format(
                     "combine: zip needs axes of equal length: this one has {} values, {} has {}",
                     a.values.size(), spec.axes.front().key, spec.axes.front().values.size()));
    if (!top.count("workloads"))
      throw SpecError(fmt::format("{}: missing workloads: (what each point runs)", path));
    r.read_workloads(top["workloads"], spec);
    if (top.count("metrics")) r.read_metrics(top["metrics"], spec);
    if (top.count("plot")) r.read_plot(top["plot"], spec);
    if (top.count("timeout")) {
      const YAML::Node& t = top["timeout"];
      const std::string text = r.scalar(t, "timeout", "seconds, e.g. 600");
      size_t used = 0;
      double v = 0;
      try {
        v = std::stod(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != text.size() || !(v > 0))
        r.fail(t, "timeout", fmt::format("'{}': expected host seconds above 0, e.g. 600", text));
      spec.timeout_seconds = v;
      spec.timeout_line = t.Mark().line + 1;
    }
    r.check_base(top["base"], top.count("sets") ? top["sets"] : top["base"], spec);
    return spec;
  } catch (const YAML::Exception& e) {
    // Conversions are checked above; this is a safety net so no yaml-cpp exception escapes.
    throw SpecError(fmt::format("{}:{}: {}", path, e.mark.line + 1, e.msg));
  }
}

}  // namespace dojosim::sweep
