// SPDX-License-Identifier: MIT
#include "tools/plot/ticks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace dojosim::plot {

namespace {

// The round step (1, 2 or 5 x 10^k) nearest above `raw`.
double nice_step(double raw) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step((hi - lo) / std::max(1, target - 1));
  const double first = std::floor(lo / step) * step;
  std::vector<double> ticks;
  // Built by multiplication, not repeated addition, so 0.1-steps do not drift.
  for (int i = 0;; ++i) {
    const double t = first + i * step;
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    if (t >= hi - step * 1e-9) break;
  }
  return ticks;
}

std::string tick_label(double v) {
  const double a = std::abs(v);
  if (a != 0 && (a >= 1e7 || a < 1e-3)) return fmt::format("{:.3g}", v);
  if (v == std::round(v)) return fmt::format("{:.0f}", v);  // 12800, not 1.28e+04
  return fmt::format("{:.4g}", v);
}

}  // namespace dojosim::plot
