// SPDX-License-Identifier: MIT
#include "tools/plot/svg.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace dojosim::plot {

std::string xml_escape(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        s += "&amp;";
        break;
      case '<':
        s += "&lt;";
        break;
      case '>':
        s += "&gt;";
        break;
      case '"':
        s += "&quot;";
        break;
      case '\'':
        s += "&apos;";
        break;
      default:
        // Control characters other than tab and newline are not allowed in XML 1.0 at all.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n')
          s += '?';
        else
          s += c;
    }
  }
  return s;
}

std::string number(double v) {
  if (!std::isfinite(v)) return "0";
  std::string s = fmt::format("{:.2f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

Element& Element::attr(std::string_view key, std::string_view value) {
  attrs_.emplace_back(std::string(key), std::string(value));
  return *this;
}

Element& Element::text(std::string_view t) {
  text_ += t;
  return *this;
}

Element& Element::add(std::string name) {
  return children_.emplace_back(std::move(name));
}

std::string Element::str() const {
  std::string out;
  write(out, 0);
  return out;
}

void Element::write(std::string& out, int depth) const {
  out.append(2 * depth, ' ');
  out += "<" + name_;
  for (const auto& [k, v] : attrs_) out += fmt::format(" {}=\"{}\"", k, xml_escape(v));
  if (text_.empty() && children_.empty()) {
    out += "/>\n";
    return;
  }
  out += ">" + xml_escape(text_);
  if (!children_.empty()) {
    out += "\n";
    for (const Element& c : children_) c.write(out, depth + 1);
    out.append(2 * depth, ' ');
  }
  out += "</" + name_ + ">\n";
}

Document::Document(double width, double height) {
  root_.attr("xmlns", "http://www.w3.org/2000/svg")
      .attr("width", width)
      .attr("height", height)
      .attr("viewBox", fmt::format("0 0 {} {}", number(width), number(height)))
      .attr("font-family", "sans-serif")
      .attr("font-size", 12.0);
  root_.add("rect").attr("width", "100%").attr("height", "100%").attr("fill", "white");
}

std::string Document::str() const {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + root_.str();
}

void Document::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << str();
    if (!f.flush()) throw std::runtime_error(fmt::format("cannot write {}", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error(fmt::format("cannot rename {} to {}", tmp, path));
}

}  // namespace dojosim::plot
