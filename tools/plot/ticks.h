// SPDX-License-Identifier: MIT
// Axis ticks for plots: round values a reader can take in at a glance.
#pragma once

#include <string>
#include <vector>

namespace dojosim::plot {

// About `target` tick values at 1, 2 or 5 times a power of ten, the first <= lo and the last
// >= hi, so the axis runs from the first tick to the last. lo == hi gets a range around it.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// A tick label: up to 4 significant digits, exponent form only for very large or small values.
std::string tick_label(double v);

}  // namespace dojosim::plot
