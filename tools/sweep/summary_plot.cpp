// SPDX-License-Identifier: MIT
#include "tools/sweep/summary_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>

namespace dojosim::sweep {

namespace {

// The record's value of an axis, or of "workload"; "" if it has none.
std::string value_of(const Record& r, const std::string& dim) {
  const bool workload = dim == "workload";
  if (!workload && !r.contains("axes")) return "";
  const Record& holder = workload ? r : r["axes"];
  if (!holder.is_object() || !holder.contains(dim)) return "";
  const Record& v = holder[dim];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::optional<double> as_number(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

plot::LinePlot summary_plot(const Manifest& m, const std::vector<Record>& records,
                            const PlotSpec& spec) {
  std::vector<std::string> dims = m.axes;
  dims.push_back("workload");
  std::vector<const Record*> rows;
  for (const Record& r : records)
    if (r.contains("axes") && r["axes"].is_object()) rows.push_back(&r);

  // x values in sweep order, numeric if every one is a number.
  std::vector<std::string> xs;
  for (const Record* r : rows)
    if (std::find(xs.begin(), xs.end(), value_of(*r, spec.x)) == xs.end())
      xs.push_back(value_of(*r, spec.x));
  bool numeric = !xs.empty();
  for (const std::string& x : xs) numeric = numeric && as_number(x).has_value();
  if (numeric)
    std::stable_sort(xs.begin(), xs.end(), [](const std::string& a, const std::string& b) {
      return *as_number(a) < *as_number(b);
    });
  const auto x_pos = [&](const std::string& x) {
    return numeric ? *as_number(x) : double(std::find(xs.begin(), xs.end(), x) - xs.begin());
  };

  // The dimensions that tell lines apart: `lines` first, then any other that varies.
  std::vector<std::string> line_dims;
  if (!spec.lines.empty()) line_dims.push_back(spec.lines);
  for (const std::string& d : dims) {
    if (d == spec.x || d == spec.lines) continue;
    for (const Record* r : rows)
      if (value_of(*r, d) != value_of(*rows.front(), d)) {
        line_dims.push_back(d);
        break;
      }
  }

  plot::LinePlot p;
  p.title = fmt::format("{} against {}", spec.y, spec.x);
  p.x_label = spec.x;
  p.y_label = spec.y;
  std::map<std::string, size_t> series_of;  // label -> index in p.series
  for (const Record* r : rows) {
    std::string label;
    for (const std::string& d : line_dims)
      label += fmt::format("{}{}={}", label.empty() ? "" : ", ", d, value_of(*r, d));
    if (label.empty()) label = spec.y;
    auto [it, fresh] = series_of.emplace(label, p.series.size());
    if (fresh) {
      plot::Series s;
      s.label = label;
      for (const std::string& x : xs) s.x.push_back(x_pos(x));
      s.y.assign(xs.size(), std::numeric_limits<double>::quiet_NaN());
      p.series.push_back(std::move(s));
    }
    const size_t k = size_t(std::find(xs.begin(), xs.end(), value_of(*r, spec.x)) - xs.begin());
    if (r->value("status", "") != "ok" || !r->contains("stats")) continue;
    const Record& stats = (*r)["stats"];
    if (stats.is_object() && stats.contains(spec.y) && stats[spec.y].is_number())
      p.series[it->second].y[k] = stats[spec.y].get<double>();
  }

  if (numeric) {
    const double lo = as_number(xs.front()).value(), hi = as_number(xs.back()).value();
    if (lo > 0 && hi / lo >= 16) p.x_scale = plot::Scale::Log2;
    if (xs.size() <= 12)  // few values: tick exactly those, labelled as the spec wrote them
      for (const std::string& x : xs) p.x_ticks.emplace_back(x_pos(x), x);
  } else {
    for (const std::string& x : xs) p.x_ticks.emplace_back(x_pos(x), x);
  }
  return p;
}

void write_summary_plot(const Manifest& m, const std::vector<Record>& records, const PlotSpec& plot,
                        const std::string& path) {
  if (!plot.empty()) plot::render(summary_plot(m, records, plot)).save(path);
}

}  // namespace dojosim::sweep
