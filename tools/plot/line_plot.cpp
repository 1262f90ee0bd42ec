// SPDX-License-Identifier: MIT
#include "tools/plot/line_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tools/plot/ticks.h"

namespace dojosim::plot {

namespace {

// Tableau 10: distinguishable, and readable by most colour-blind readers.
constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr double kHeight = 460, kPlotWidth = 560;
constexpr double kLeft = 90, kTop = 44, kBottom = 64;  // margins around the plot area
constexpr double kCharWidth = 7;                       // of 12 px sans-serif, roughly

// Maps data values onto a pixel span.
struct Axis {
  double lo, hi;    // data range, after the scale's transform
  double from, to;  // pixels
  bool log2 = false;
  double at(double v) const {
    const double t = log2 ? std::log2(v) : v;
    return from + (t - lo) / (hi - lo) * (to - from);
  }
};

}  // namespace

Document render(const LinePlot& plot) {
  const bool log_x = plot.x_scale == Scale::Log2;
  // Data ranges; log scales only see positive x.
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin;
  double ymin = 0, ymax = -std::numeric_limits<double>::infinity();  // y axis starts at 0 or below
  size_t longest_label = 0;
  for (const Series& s : plot.series) {
    longest_label = std::max(longest_label, s.label.size());
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (log_x && !(s.x[i] > 0)) continue;
      const double tx = log_x ? std::log2(s.x[i]) : s.x[i];
      xmin = std::min(xmin, tx);
      xmax = std::max(xmax, tx);
      if (std::isfinite(s.y[i])) {
        ymin = std::min(ymin, s.y[i]);
        ymax = std::max(ymax, s.y[i]);
      }
    }
  }
  for (const auto& [x, label] : plot.x_ticks) {
    if (log_x && !(x > 0)) continue;
    xmin = std::min(xmin, log_x ? std::log2(x) : x);
    xmax = std::max(xmax, log_x ? std::log2(x) : x);
  }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1;
  if (!std::isfinite(ymax)) ymax = 1;
  const double xpad = xmax > xmin ? (xmax - xmin) * 0.05 : 0.5;
  const std::vector<double> yticks = nice_ticks(ymin, ymax);

  const double legend_width = 48 + kCharWidth * double(std::min<size_t>(longest_label, 60));
  Document doc(kLeft + kPlotWidth + 24 + legend_width, kHeight);
  const Axis ax{xmin - xpad, xmax + xpad, kLeft, kLeft + kPlotWidth, log_x};
  const Axis ay{yticks.front(), yticks.back(), kHeight - kBottom, kTop, false};
  Element& svg = doc.root();

  svg.add("text")
      .attr("x", kLeft + kPlotWidth / 2)
      .attr("y", 24.0)
      .attr("text-anchor", "middle")
      .attr("font-size", 15.0)
      .text(plot.title);

  // Grid and y ticks.
  Element& yaxis = svg.add("g").attr("class", "y-axis");
  for (double t : yticks) {
    const double py = ay.at(t);
    yaxis.add("line")
        .attr("x1", kLeft)
        .attr("x2", kLeft + kPlotWidth)
        .attr("y1", py)
        .attr("y2", py)
        .attr("stroke", "#e0e0e0");
    yaxis.add("text")
        .attr("x", kLeft - 6)
        .attr("y", py + 4)
        .attr("text-anchor", "end")
        .text(tick_label(t));
  }
  yaxis.add("text")
      .attr("transform", fmt::format("translate(22,{}) rotate(-90)", number((ay.from + ay.to) / 2)))
      .attr("text-anchor", "middle")
      .text(plot.y_label);

  // x ticks: the given ones, or round values (powers of two on a log scale).
  std::vector<std::pair<double, std::string>> xticks = plot.x_ticks;
  if (xticks.empty()) {
    if (log_x) {
      for (double e = std::ceil(xmin); e <= xmax; ++e)
        xticks.emplace_back(std::exp2(e), tick_label(std::exp2(e)));
    } else {
      for (double t : nice_ticks(xmin, xmax))
        if (t >= ax.lo && t <= ax.hi) xticks.emplace_back(t, tick_label(t));
    }
  }
  Element& xaxis = svg.add("g").attr("class", "x-axis");
  for (const auto& [x, label] : xticks) {
    if (log_x && !(x > 0)) continue;
    const double px = ax.at(x);
    xaxis.add("line")
        .attr("x1", px)
        .attr("x2", px)
        .attr("y1", ay.from)
        .attr("y2", ay.from + 5)
        .attr("stroke", "black");
    xaxis.add("text")
        .attr("x", px)
        .attr("y", ay.from + 19)
        .attr("text-anchor", "middle")
        .text(label);
  }
  xaxis.add("text")
      .attr("x", kLeft + kPlotWidth / 2)
      .attr("y", kHeight - 18)
      .attr("text-anchor", "middle")
      .text(plot.x_label + (log_x ? " (log scale)" : ""));
  // The axis lines over the grid.
  svg.add("path")
      .attr("d", fmt::format("M{},{} V{} H{}", number(kLeft), number(ay.to), number(ay.from),
                             number(kLeft + kPlotWidth)))
      .attr("fill", "none")
      .attr("stroke", "black");

  // Series: a path that restarts after a gap, markers, and a legend entry each.
  Element& lines = svg.add("g").attr("class", "series-group");
  Element& legend = svg.add("g").attr("class", "legend");
  const double legend_x = kLeft + kPlotWidth + 24;
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const Series& s = plot.series[i];
    const char* colour = kPalette[i % std::size(kPalette)];
    std::string d;
    bool pen_down = false;
    Element& marks = lines.add("g").attr("fill", colour);
    for (size_t k = 0; k < s.x.size() && k < s.y.size(); ++k) {
      if (!std::isfinite(s.y[k]) || (log_x && !(s.x[k] > 0))) {
        pen_down = false;
        continue;
      }
      const double px = ax.at(s.x[k]), py = ay.at(s.y[k]);
      d += fmt::format("{}{},{} ", pen_down ? "L" : "M", number(px), number(py));
      pen_down = true;
      marks.add("circle").attr("cx", px).attr("cy", py).attr("r", 3.0).add("title").text(
          fmt::format("{}: {}, {}", s.label, tick_label(s.x[k]), s.y[k]));
    }
    if (!d.empty()) d.pop_back();
    lines.add("path")
        .attr("class", "series")
        .attr("data-label", s.label)
        .attr("d", d)
        .attr("fill", "none")
        .attr("stroke", colour)
        .attr("stroke-width", 2.0);
    const double ly = kTop + 10 + 20 * double(i);
    legend.add("line")
        .attr("x1", legend_x)
        .attr("x2", legend_x + 24)
        .attr("y1", ly)
        .attr("y2", ly)
        .attr("stroke", colour)
        .attr("stroke-width", 2.0);
    legend.add("text").attr("x", legend_x + 32).attr("y", ly + 4).text(s.label);
  }
  return doc;
}

}  // namespace dojosim::plot
