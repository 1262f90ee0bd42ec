// SPDX-License-Identifier: MIT
// A small SVG document model: elements with attributes, character data and children, written
// as well-formed XML (every text and attribute value escaped). Plots (line_plot.h; later the
// mesh heat map and the link-load map) build a tree of these and save it; nothing here knows
// about plots.
#pragma once

#include <list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dojosim::plot {

// `text` with & < > " ' replaced by entities, safe in character data and in attribute values.
std::string xml_escape(std::string_view text);
// A coordinate or length for an attribute: at most two decimals, no trailing zeros ("12.5").
std::string number(double v);

class Element {
 public:
  explicit Element(std::string name) : name_(std::move(name)) {}

  Element& attr(std::string_view key, std::string_view value);
  Element& attr(std::string_view key, const char* value) {
    return attr(key, std::string_view(value));
  }
  Element& attr(std::string_view key, double value) { return attr(key, number(value)); }
  // Character data; escaped when written.
  Element& text(std::string_view t);
  // Appends a child and returns it. NOTE: children live in a std::list, so the reference stays
  // valid while more children are added.
  Element& add(std::string name);

  // The element and its subtree as indented XML.
  std::string str() const;

 private:
  void write(std::string& out, int depth) const;

  std::string name_;
  std::vector<std::pair<std::string, std::string>> attrs_;
  std::string text_;
  std::list<Element> children_;
};

// An <svg> root of `width` x `height` user units (pixels) with a white background.
class Document {
 public:
  Document(double width, double height);
  Element& root() { return root_; }
  // The XML declaration and the tree.
  std::string str() const;
  // Writes to a temporary file and renames it over `path`, so readers never see half a plot.
  // Throws std::runtime_error naming the path.
  void save(const std::string& path) const;

 private:
  Element root_{"svg"};
};

}  // namespace dojosim::plot
