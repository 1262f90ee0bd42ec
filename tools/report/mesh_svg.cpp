// SPDX-License-Identifier: MIT
#include "tools/report/mesh_svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "hw/config/derived.h"

namespace dojosim::report {
namespace {

constexpr double kCell = 14, kMargin = 50, kBar = 40;

// Blue (0) to yellow to red (1): readable on white and for most colour-blind viewers.
std::string colour(double v) {
  v = std::clamp(v, 0.0, 1.0);
  const double r = v < 0.5 ? 2 * v : 1.0, g = v < 0.5 ? 0.4 + 1.2 * v : 1.0 - 1.4 * (v - 0.5),
               b = v < 0.5 ? 1.0 - 2 * v : 0.0;
  return fmt::format("#{:02x}{:02x}{:02x}", int(255 * r), int(255 * std::clamp(g, 0.0, 1.0)),
                     int(255 * b));
}

// "node(12,3)" -> {12, 3}; "link(1,2).east" -> {1, 2} and "east".
bool coords(const std::string& name, const char* prefix, int& x, int& y,
            std::string* rest = nullptr) {
  if (name.rfind(prefix, 0) != 0) return false;
  const size_t open = name.find('('), comma = name.find(',', open), close = name.find(')', comma);
  if (open == std::string::npos || comma == std::string::npos || close == std::string::npos)
    return false;
  x = std::stoi(name.substr(open + 1, comma - open - 1));
  y = std::stoi(name.substr(comma + 1, close - comma - 1));
  if (rest) *rest = close + 2 <= name.size() ? name.substr(close + 2) : "";
  return true;
}

template <class F>
void for_each_child(const hw::StatsNode& top, const char* prefix, F f) {
  for (const hw::StatsNode& die : top.children)
    for (const hw::StatsNode& c : die.children)
      if (c.name.rfind(prefix, 0) == 0) f(c);
}

void title(plot::Element& root, double x, const std::string& text) {
  root.add("text")
      .attr("x", x)
      .attr("y", 24)
      .attr("font-family", "sans-serif")
      .attr("font-size", 15)
      .text(text);
}

void colour_bar(plot::Element& root, double x, double y, double h, const std::string& label) {
  plot::Element& g = root.add("g").attr("class", "colour-bar");
  const int steps = 20;
  for (int i = 0; i < steps; ++i)
    g.add("rect")
        .attr("x", x)
        .attr("y", y + h - (i + 1) * h / steps)
        .attr("width", 12)
        .attr("height", h / steps + 0.5)
        .attr("fill", colour((i + 0.5) / steps));
  for (int pct : {0, 50, 100})
    g.add("text")
        .attr("x", x + 16)
        .attr("y", y + h - h * pct / 100.0 + 4)
        .attr("font-family", "sans-serif")
        .attr("font-size", 10)
        .text(fmt::format("{}%", pct));
  g.add("text")
      .attr("x", x)
      .attr("y", y - 8)
      .attr("font-family", "sans-serif")
      .attr("font-size", 10)
      .text(label);
}

}  // namespace

plot::Document utilisation_map(const hw::StatsNode& stats, const hw::HardwareConfig& config) {
  const int w = int(config.mesh_width()), h = int(config.mesh_height());
  plot::Document doc(std::max(480.0, 2 * kMargin + w * kCell + kBar + 40), 2 * kMargin + h * kCell);
  plot::Element& root = doc.root();
  title(root, kMargin, fmt::format("Matrix-unit utilisation per node ({}x{} mesh)", w, h));
  const double seconds = stats.value("seconds");
  const double node_peak = hw::peak_flops(config, hw::Precision::Bf16, hw::Scale::Node);
  std::map<std::pair<int, int>, double> value;
  for_each_child(stats, "node(", [&](const hw::StatsNode& n) {
    int x = 0, y = 0;
    if (!coords(n.name, "node(", x, y)) return;
    const double flop = n.value("flop_bf16") + n.value("flop_cfp8");
    value[{x, y}] = seconds > 0 && node_peak > 0 ? flop / seconds / node_peak : 0.0;
  });
  plot::Element& cells = root.add("g").attr("class", "mesh");
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      plot::Element& r = cells.add("rect")
                             .attr("class", "node")
                             .attr("x", kMargin + x * kCell)
                             .attr("y", kMargin + y * kCell)
                             .attr("width", kCell - 1)
                             .attr("height", kCell - 1);
      const auto it = value.find({x, y});
      if (it == value.end()) {
        r.attr("fill", "#bbbbbb").attr("data-title", fmt::format("({},{}) disabled", x, y));
      } else {
        r.attr("fill", colour(it->second)).attr("data-value", it->second * 100);
        r.add("title").text(fmt::format("node ({},{}): {:.1f}%", x, y, it->second * 100));
      }
    }
  colour_bar(root, kMargin + w * kCell + 20, kMargin, std::min(200.0, h * kCell), "of node peak");
  return doc;
}

plot::Document link_map(const hw::StatsNode& stats, const hw::HardwareConfig& config) {
  const int w = int(config.mesh_width()), h = int(config.mesh_height());
  const double cell = 2 * kCell;
  plot::Document doc(std::max(560.0, 2 * kMargin + w * cell + kBar + 40), 2 * kMargin + h * cell);
  plot::Element& root = doc.root();
  title(root, kMargin,
        fmt::format("Link utilisation ({}x{} mesh; each direction on its own side)", w, h));
  plot::Element& nodes = root.add("g").attr("class", "nodes");
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      nodes.add("rect").attr("class", "node").attr("x", kMargin + x * cell + cell / 2 - 3)
          .attr("y", kMargin + y * cell + cell / 2 - 3).attr("width", 6).attr("height", 6)
          .attr("fill", config.is_disabled({x, y}) ? "#dddddd" : "#555555");
  plot::Element& links = root.add("g").attr("class", "links");
  for_each_child(stats, "link(", [&](const hw::StatsNode& l) {
    int x = 0, y = 0;
    std::string dir;
    if (!coords(l.name, "link(", x, y, &dir)) return;
    int dx = 0, dy = 0;
    if (dir == "east") dx = 1;
    else if (dir == "west") dx = -1;
    else if (dir == "north") dy = -1;
    else if (dir == "south") dy = 1;
    else return;  // injection and ejection ports are not drawn
    // Offset each direction to its own side so both directions of a pair show.
    const double off = 3, cx = kMargin + x * cell + cell / 2, cy = kMargin + y * cell + cell / 2;
    const double ox = dy != 0 ? (dy > 0 ? off : -off) : 0, oy = dx != 0 ? (dx > 0 ? -off : off) : 0;
    const double u = l.value("utilisation") / 100.0;
    plot::Element& line = links.add("line")
                              .attr("class", "link")
                              .attr("x1", cx + ox + dx * 4)
                              .attr("y1", cy + oy + dy * 4)
                              .attr("x2", cx + ox + dx * (cell - 4))
                              .attr("y2", cy + oy + dy * (cell - 4))
                              .attr("stroke", colour(u))
                              .attr("stroke-width", 2.5)
                              .attr("data-value", u * 100);
    line.add("title").text(
        fmt::format("{}: {:.1f}% busy, {} bytes", l.name, u * 100, l.counter("bytes")));
  });
  colour_bar(root, kMargin + w * cell + 20, kMargin, std::min(200.0, h * cell), "busy");
  return doc;
}

plot::Document roofline(const hw::StatsNode& stats, const hw::HardwareConfig& config) {
  const double W = 560, H = 400, L = 80, B = 60, R = 30, T = 40;
  plot::Document doc(W, H);
  plot::Element& root = doc.root();
  title(root, L, "Roofline (bf16 peak, network-interface bandwidth)");
  const double peak = hw::peak_flops(config, hw::Precision::Bf16, hw::Scale::Machine);
  double inj = 0, bytes = 0;
  for_each_child(stats, "node(", [&](const hw::StatsNode& n) {
    bytes += double(n.counter("noc_injected_bytes") + n.counter("noc_ejected_bytes"));
    inj += 1;
  });
  // Each node's network interface moves link_bytes_per_cycle in and as much out.
  const double bw = inj * 2 * config.noc.link_bytes_per_cycle * config.node.core.clock_ghz * 1e9;
  const double flop = stats.value("flop_bf16") + stats.value("flop_cfp8");
  const double achieved = stats.value("flop_per_s");
  const double intensity = bytes > 0 ? flop / bytes : 1e4;
  // Axes: intensity 2^-4 .. 2^14 FLOP/B; FLOP/s from peak / 2^20 to 2 x peak.
  const double x0 = std::log2(1.0 / 16), x1 = 14, y1 = std::log2(2 * peak), y0 = y1 - 21;
  const auto px = [&](double i) { return L + (std::log2(i) - x0) / (x1 - x0) * (W - L - R); };
  const auto py = [&](double f) {
    return H - B - (std::log2(std::max(f, 1.0)) - y0) / (y1 - y0) * (H - B - T);
  };
  plot::Element& axes =
      root.add("g").attr("class", "axes").attr("font-family", "sans-serif").attr("font-size", 10);
  axes.add("line")
      .attr("x1", L)
      .attr("y1", H - B)
      .attr("x2", W - R)
      .attr("y2", H - B)
      .attr("stroke", "black");
  axes.add("line")
      .attr("x1", L)
      .attr("y1", T)
      .attr("x2", L)
      .attr("y2", H - B)
      .attr("stroke", "black");
  for (int e = -4; e <= 14; e += 2)
    axes.add("text")
        .attr("x", px(std::ldexp(1.0, e)) - 8)
        .attr("y", H - B + 14)
        .text(fmt::format("2^{}", e));
  // y ticks at the decades inside the axis, labelled in TFLOP/s (1e12 FLOP/s = 1).
  for (int e = static_cast<int>(std::ceil(y0 * std::log10(2.0)));
       e <= static_cast<int>(std::floor(y1 * std::log10(2.0))); ++e) {
    const double f = std::pow(10.0, e);
    axes.add("line")
        .attr("class", "ytick")
        .attr("x1", L - 4)
        .attr("y1", py(f))
        .attr("x2", L)
        .attr("y2", py(f))
        .attr("stroke", "black");
    axes.add("text")
        .attr("class", "ytick")
        .attr("x", 4)
        .attr("y", py(f) + 3)
        .text(fmt::format("{:g}", f / 1e12));
  }
  axes.add("text")
      .attr("x", (L + W - R) / 2 - 60)
      .attr("y", H - 16)
      .text("FLOP per byte through the network interfaces");
  axes.add("text").attr("x", 4).attr("y", T - 8).text("TFLOP/s");
  // The roofs: bandwidth x intensity up to the ridge, then the peak.
  const double ridge = peak / bw;
  plot::Element& roof = root.add("path")
                            .attr("class", "roof")
                            .attr("fill", "none")
                            .attr("stroke", "#1f77b4")
                            .attr("stroke-width", 2);
  const double lo = std::ldexp(1.0, -4), hi = std::ldexp(1.0, 14);
  roof.attr("d", fmt::format("M {} {} L {} {} L {} {}", plot::number(px(lo)),
                             plot::number(py(bw * lo)), plot::number(px(ridge)),
                             plot::number(py(peak)), plot::number(px(hi)), plot::number(py(peak))));
  if (flop > 0)
    root.add("circle")
        .attr("class", "run")
        .attr("cx", px(std::clamp(intensity, lo, hi)))
        .attr("cy", py(achieved))
        .attr("r", 5)
        .attr("fill", "#d62728")
        .add("title")
        .text(fmt::format("this run: {:.3g} FLOP/s at {:.3g} FLOP/B", achieved, intensity));
  else
    root.add("text")
        .attr("x", L + 10)
        .attr("y", H - B - 10)
        .attr("font-family", "sans-serif")
        .attr("font-size", 11)
        .text("this run did no matrix FLOP: no point to place");
  root.add("text")
      .attr("x", px(ridge) + 6)
      .attr("y", py(peak) - 6)
      .attr("font-family", "sans-serif")
      .attr("font-size", 10)
      .text(fmt::format("peak {:.3g} FLOP/s", peak));
  return doc;
}

void write_run_svgs(const std::string& dir, const hw::StatsNode& stats,
                    const hw::HardwareConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error(fmt::format("cannot create the directory {}: {}", dir, ec.message()));
  utilisation_map(stats, config).save(dir + "/utilisation.svg");
  link_map(stats, config).save(dir + "/links.svg");
  roofline(stats, config).save(dir + "/roofline.svg");
}

}  // namespace dojosim::report
