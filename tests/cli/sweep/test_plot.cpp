// SPDX-License-Identifier: MIT
// The SVG library of tools/plot: escaping, number formatting, ticks, and the line plot's shape.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "tools/plot/line_plot.h"
#include "tools/plot/svg.h"
#include "tools/plot/ticks.h"

namespace plot = dojosim::plot;

namespace {
size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("text and attribute values are escaped", "[plot]") {
  CHECK(plot::xml_escape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  CHECK(plot::xml_escape(std::string("bell\x07")) == "bell?");
  plot::Element e("text");
  e.attr("data-x", "<&>").text("1 < 2 & 3");
  CHECK(e.str() == "<text data-x=\"&lt;&amp;&gt;\">1 &lt; 2 &amp; 3</text>\n");
}

TEST_CASE("numbers are short", "[plot]") {
  CHECK(plot::number(12.5) == "12.5");
  CHECK(plot::number(3.0) == "3");
  CHECK(plot::number(-0.001) == "0");
  CHECK(plot::number(1.0 / 3) == "0.33");
}

TEST_CASE("ticks are round and cover the range", "[plot]") {
  const auto t = plot::nice_ticks(0, 6657);
  CHECK(t.front() == 0);
  CHECK(t.back() >= 6657);
  CHECK(t[1] - t[0] == 2000);
  const auto small = plot::nice_ticks(0.1, 0.7);
  CHECK(small.front() <= 0.1);
  CHECK(small.back() >= 0.7);
  CHECK(plot::nice_ticks(5, 5).size() >= 2);  // a flat line still gets an axis
  CHECK(plot::tick_label(12800) == "12800");
  CHECK(plot::tick_label(0.25) == "0.25");
  CHECK(plot::tick_label(3.2e9) == "3.2e+09");
}

TEST_CASE("a line plot has one series path per series and escapes its labels", "[plot]") {
  plot::LinePlot p;
  p.title = "cycles & <more>";
  p.x_label = "x";
  p.y_label = "y";
  const double gap = std::numeric_limits<double>::quiet_NaN();
  p.series.push_back({"a&b", {1, 2, 3}, {10, gap, 30}});
  p.series.push_back({"c", {1, 2, 3}, {5, 6, 7}});
  const std::string svg = plot::render(p).str();
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(count(svg, "class=\"series\"") == 2);
  CHECK(svg.find("cycles &amp; &lt;more&gt;") != std::string::npos);
  CHECK(svg.find(">a&amp;b</text>") != std::string::npos);
  CHECK(svg.find("a&b") == std::string::npos);
  // The failed middle point breaks the first line: it restarts with a move.
  const size_t first = svg.find("class=\"series\"");
  const std::string path = svg.substr(first, svg.find("/>", first) - first);
  CHECK(count(path, "M") == 2);
  CHECK(count(path, "L") == 0);
  CHECK(count(svg, "<circle") == 5);
}
