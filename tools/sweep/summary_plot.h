// SPDX-License-Identifier: MIT
// summary.svg of a sweep: one metric against one axis, one line per value of another.
#pragma once

#include <string>
#include <vector>

#include "tools/plot/line_plot.h"
#include "tools/sweep/output.h"
#include "tools/sweep/spec.h"

namespace dojosim::sweep {

// The line plot of `records` (in canonical order): statistic plot.y against plot.x (an axis or
// "workload"). There is one line per combination of plot.lines and of every other axis with
// more than one value among the records, so no two points ever share a line and an x. Points
// that failed leave gaps. A numeric x is sorted, and drawn on a log2 scale when its values are
// positive and span a factor of 16 or more (the usual powers-of-two sweep); other x values are
// categories in the order of the sweep.
plot::LinePlot summary_plot(const Manifest& m, const std::vector<Record>& records,
                            const PlotSpec& plot);
// The plot drawn into `path` (replaced atomically); nothing if `plot` is empty.
void write_summary_plot(const Manifest& m, const std::vector<Record>& records, const PlotSpec& plot,
                        const std::string& path);

}  // namespace dojosim::sweep
