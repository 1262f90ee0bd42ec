// SPDX-License-Identifier: MIT
#include "tools/report/graph_svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "tools/plot/ticks.h"

namespace dojosim::report {

namespace {
constexpr double kRow = 14, kTop = 56, kLabel = 260, kPlot = 640, kRight = 30, kBottom = 40;
constexpr const char *kMoves = "#e69f00", *kKernel = "#0072b2", *kPlan = "#222222";

plot::Element& text(plot::Element& parent, double x, double y, const std::string& s,
                    double size = 11, const char* anchor = "start") {
  return parent.add("text")
      .attr("x", x)
      .attr("y", y)
      .attr("font-family", "sans-serif")
      .attr("font-size", size)
      .attr("text-anchor", anchor)
      .text(s);
}
}  // namespace

plot::Document op_timeline(const runtime::graph_run::GraphRun& run,
                           const hw::HardwareConfig& config) {
  const double rows = double(std::max<size_t>(run.ops.size(), 1));
  const double w = kLabel + kPlot + kRight, h = kTop + rows * kRow + kBottom;
  plot::Document doc(w, h);
  plot::Element& root = doc.root();
  text(root, 10, 22,
       fmt::format("graph run: {} ops, {} cycles ({:.1f} us at {} GHz), {:.2f}% of peak",
                   run.ops.size(), run.cycles, run.seconds * 1e6, config.node.core.clock_ghz,
                   run.peak_pct),
       14);
  // The legend.
  double lx = 10;
  for (const auto& [name, fill] : {std::pair{"moves (loads, redistributions, spills)", kMoves},
                                   std::pair{"kernels", kKernel}}) {
    root.add("rect")
        .attr("x", lx)
        .attr("y", 32)
        .attr("width", 10)
        .attr("height", 10)
        .attr("fill", fill);
    text(root, lx + 14, 41, name);
    lx += 14 + 7.0 * double(std::string(name).size()) + 16;
  }
  root.add("line")
      .attr("x1", lx)
      .attr("x2", lx)
      .attr("y1", 31)
      .attr("y2", 43)
      .attr("stroke", kPlan)
      .attr("stroke-width", 2);
  text(root, lx + 6, 41, "plan's estimate of the op");

  // The axis runs from 0 to the first round number of cycles at or past the run's end.
  const std::vector<double> ticks = plot::nice_ticks(0, double(std::max<uint64_t>(run.cycles, 1)));
  const double end = ticks.back();
  const auto x_of = [&](double cycles) { return kLabel + kPlot * std::min(cycles, end) / end; };
  // The time axis: ticks at round numbers of cycles.
  plot::Element& axis = root.add("g").attr("class", "axis");
  const double axis_y = kTop + rows * kRow + 4;
  axis.add("line")
      .attr("x1", kLabel)
      .attr("x2", kLabel + kPlot)
      .attr("y1", axis_y)
      .attr("y2", axis_y)
      .attr("stroke", "#444");
  for (const double t : ticks) {
    const double x = x_of(t);
    axis.add("line")
        .attr("x1", x)
        .attr("x2", x)
        .attr("y1", kTop - 4)
        .attr("y2", axis_y + 4)
        .attr("stroke", "#ddd");
    text(axis, x, axis_y + 16, plot::tick_label(t), 10, "middle");
  }
  text(axis, kLabel + kPlot / 2, axis_y + 32, "cycles from the start of the run", 11, "middle");

  uint64_t at = 0;
  plot::Element& bars = root.add("g").attr("class", "ops");
  for (size_t i = 0; i < run.ops.size(); ++i) {
    const runtime::graph_run::OpRun& o = run.ops[i];
    const double y = kTop + double(i) * kRow;
    const std::string label = o.op.size() > 34 ? o.op.substr(0, 33) + "~" : o.op;
    text(bars, kLabel - 6, y + kRow - 4, fmt::format("{} ({})", label, o.type), 10, "end");
    const std::string title = fmt::format(
        "{} ({}, {}): {} cycles, kernels {}, moves {}, plan {:.0f}, {:.2f}% of peak", o.op, o.type,
        o.how, o.cycles, o.kernel_cycles, o.moves.cycles, o.estimate, o.peak_pct);
    const uint64_t moves = o.cycles - std::min(o.cycles, o.kernel_cycles);
    const std::pair<const char*, uint64_t> parts[] = {{"moves", moves},
                                                      {"kernel", o.cycles - moves}};
    uint64_t t = at;
    for (const auto& [cls, cycles] : parts) {
      if (cycles == 0) continue;
      bars.add("rect")
          .attr("class", cls)
          .attr("x", x_of(double(t)))
          .attr("y", y + 2)
          .attr("width", std::max(0.5, x_of(double(t + cycles)) - x_of(double(t))))
          .attr("height", kRow - 4)
          .attr("fill", std::string(cls) == "moves" ? kMoves : kKernel)
          .attr("data-title", title)
          .add("title")
          .text(title);
      t += cycles;
    }
    if (o.estimate > 0) {
      const double x = x_of(double(at) + o.estimate);
      bars.add("line")
          .attr("class", "plan")
          .attr("x1", x)
          .attr("x2", x)
          .attr("y1", y + 1)
          .attr("y2", y + kRow - 1)
          .attr("stroke", kPlan)
          .attr("stroke-width", 2);
    }
    at += o.cycles;
  }
  return doc;
}

void write_graph_svgs(const std::string& dir, const runtime::graph_run::GraphRun& run,
                      const hw::HardwareConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error(fmt::format("--svg {}: cannot create it: {}", dir, ec.message()));
  op_timeline(run, config).save(dir + "/ops.svg");
}

}  // namespace dojosim::report
