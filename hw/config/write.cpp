// SPDX-License-Identifier: MIT
// The resolved config as YAML (readable back, losslessly) and as JSON.
#include <fmt/format.h>

#include <memory>

#include "hw/config/config_io.h"
#include "hw/config/value_codec.h"

namespace dojosim::hw {
namespace {

// Keys nested by their dotted path, children in the order the table first mentions them.
struct Tree {
  std::string name;
  const ParamInfo* leaf = nullptr;
  std::vector<std::unique_ptr<Tree>> children;

  Tree& child(const std::string& n) {
    for (auto& c : children)
      if (c->name == n) return *c;
    children.push_back(std::make_unique<Tree>());
    children.back()->name = n;
    return *children.back();
  }
};

const Tree& key_tree() {
  static const Tree root = [] {
    Tree t;
    for (const ParamInfo& p : params()) {
      Tree* node = &t;
      size_t start = 0;
      for (size_t dot = p.key.find('.'); dot != std::string::npos;
           start = dot + 1, dot = p.key.find('.', start))
        node = &node->child(p.key.substr(start, dot - start));
      node->child(p.key.substr(start)).leaf = &p;
    }
    return t;
  }();
  return root;
}

void write_node(const Tree& t, const HardwareConfig& c, int depth, std::string& out) {
  for (const auto& ch : t.children) {
    const std::string indent(2 * depth, ' ');
    if (ch->leaf) {
      const ParamInfo& p = *ch->leaf;
      std::string comment = std::string(status_name(p.status));
      if (!p.unit.empty() && p.unit != "count") comment = std::string(p.unit) + ", " + comment;
      out += fmt::format("{}{}: {}  # {}\n", indent, ch->name, format_value(p, c), comment);
    } else {
      out += fmt::format("{}{}:\n", indent, ch->name);
      write_node(*ch, c, depth + 1, out);
    }
  }
}

nlohmann::ordered_json json_node(const Tree& t, const HardwareConfig& c) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& ch : t.children)
    j[ch->name] = ch->leaf ? std::visit([&](const auto& b) { return codec::to_json(b.of(c)); },
                                        ch->leaf->binding)
                           : json_node(*ch, c);
  return j;
}

}  // namespace

std::string write_yaml(const HardwareConfig& config) {
  std::string out = "# A resolved dojosim hardware config: every parameter (docs/config.md).\n";
  write_node(key_tree(), config, 0, out);
  return out;
}

nlohmann::ordered_json to_json(const HardwareConfig& config) {
  return json_node(key_tree(), config);
}

}  // namespace dojosim::hw
