// SPDX-License-Identifier: MIT
// A line plot in SVG: y against x for several series, with axes, ticks, axis labels, a title and
// a legend. Used for `dojosim sweep`'s summary.svg (a metric against one axis of the sweep, one
// line per value of another).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tools/plot/svg.h"

namespace dojosim::plot {

struct Series {
  std::string label;
  std::vector<double> x, y;  // the same length; a NaN y leaves a gap (e.g. a point that failed)
};

enum class Scale { Linear, Log2 };

struct LinePlot {
  std::string title, x_label, y_label;
  Scale x_scale = Scale::Linear;
  // The x ticks with their labels; empty: round ticks over the data. Categorical data puts its
  // points at x = 0, 1, 2, ... and names them here.
  std::vector<std::pair<double, std::string>> x_ticks;
  std::vector<Series> series;
};

// The plot as a document: one <path class="series"> per series (its legend entry and point
// markers beside it), in the colours of a fixed palette, in series order.
Document render(const LinePlot& plot);

}  // namespace dojosim::plot
