// SPDX-License-Identifier: MIT
#include "hw/config/reference_doc.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "hw/config/config_io.h"
#include "hw/config/derived.h"
#include "hw/config/value_codec.h"

namespace dojosim::hw {
namespace {

// What a key accepts, from its type and range.
std::string allowed(const ParamInfo& p) {
  return std::visit(
      [&](const auto& b) -> std::string {
        using T = std::decay_t<decltype(b.def)>;
        if constexpr (codec::kIsInt<T> || std::is_floating_point_v<T>) {
          const auto bound = [](double v) {
            return codec::kIsInt<T> ? fmt::format("{}", static_cast<uint64_t>(v))
                                    : fmt::format("{}", v);
          };
          const std::string kind = codec::kIsInt<T> ? "integer" : "number";
          if (std::isinf(p.max)) return fmt::format("{} ≥ {}", kind, bound(p.min));
          return fmt::format("{} {} .. {}", kind, bound(p.min), bound(p.max));
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!p.choices) return codec::describe<T>();
          std::string names;
          for (const std::string& n : p.choices()) names += (names.empty() ? "" : ", ") + n;
          return "one of " + names;
        } else {
          return codec::describe<T>();
        }
      },
      p.binding);
}

struct Family {
  std::string prefix, placeholder;
  std::vector<std::string> fields;  // suffixes, in table order
  std::vector<std::string> names;
  std::map<std::pair<std::string, std::string>, const ParamInfo*> cells;  // (name, field)
};

std::string figure_value(double v) {
  if (std::isnan(v)) return "—";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  if (std::fabs(v) >= 1000) return fmt::format("{:.0f}", v);
  return fmt::format("{:.4g}", v);
}

}  // namespace

std::string config_reference_markdown() {
  const HardwareConfig defaults;
  std::string out =
      "| key | default | unit | allowed | status | source | description |\n"
      "|---|---|---|---|---|---|---|\n";
  std::vector<Family> families;
  for (const ParamInfo& p : params()) {
    if (p.family.empty()) {
      out += fmt::format("| `{}` | `{}` | {} | {} | {} | {} | {} |\n", p.key,
                         format_value(p, defaults), p.unit, allowed(p), status_name(p.status),
                         p.source, p.doc);
      continue;
    }
    const size_t open = p.family.find(".<"), close = p.family.find('>');
    const std::string prefix = p.family.substr(0, open);
    const std::string placeholder = p.family.substr(open + 2, close - open - 2);
    const std::string field = p.family.substr(close + 1);
    const std::string name =
        p.key.substr(prefix.size() + 1, p.key.size() - prefix.size() - 1 - field.size());
    Family* f = nullptr;
    for (Family& g : families)
      if (g.prefix == prefix) f = &g;
    if (!f) f = &families.emplace_back(Family{prefix, placeholder, {}, {}, {}});
    if (std::find(f->fields.begin(), f->fields.end(), field) == f->fields.end()) {
      f->fields.push_back(field);
      // The family's row in the key table, once per field.
      out += fmt::format("| `{}` | per {}, below | {} | {} | {} | {} | {} |\n", p.family,
                         placeholder, p.unit, allowed(p), status_name(p.status), p.source, p.doc);
    }
    if (std::find(f->names.begin(), f->names.end(), name) == f->names.end())
      f->names.push_back(name);
    f->cells[{name, field}] = &p;
  }
  for (const Family& f : families) {
    out +=
        fmt::format("\nDefaults of `{}.<{}>`:\n\n| {} |", f.prefix, f.placeholder, f.placeholder);
    std::string rule = "|---|";
    for (const std::string& field : f.fields) {
      out += fmt::format(" {} |", field.empty() ? "default" : field.substr(1));
      rule += "---|";
    }
    out += "\n" + rule + "\n";
    for (const std::string& name : f.names) {
      out += fmt::format("| {} |", name);
      for (const std::string& field : f.fields) {
        const auto it = f.cells.find({name, field});
        out += fmt::format(" {} |", it == f.cells.end() ? "" : format_value(*it->second, defaults));
      }
      out += "\n";
    }
  }
  return out;
}

std::string derived_figures_markdown(const HardwareConfig& config) {
  std::string out =
      "| figure | what | value | unit | published | source and reading |\n"
      "|---|---|---|---|---|---|\n";
  for (const DerivedFigure& f : derived_figures(config)) {
    std::string published = figure_value(f.published);
    if (!std::isnan(f.published))
      published += f.tolerance > 0 ? fmt::format(" (±{:g}%)", f.tolerance * 100) : " (exact)";
    out += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", f.key, f.what, figure_value(f.value),
                       f.unit, published, f.source);
  }
  return out;
}

std::string generated_begin(const std::string& what) {
  return fmt::format("<!-- BEGIN GENERATED: {} -->\n", what);
}

std::string generated_block(const std::string& doc, const std::string& what) {
  const std::string begin = generated_begin(what);
  const size_t b = doc.find(begin);
  const size_t e = b == std::string::npos ? b : doc.find(generated_end(), b);
  if (e == std::string::npos)
    throw std::runtime_error(
        fmt::format("no '{}' ... '{}' block", begin.substr(0, begin.size() - 1), generated_end()));
  return doc.substr(b + begin.size(), e - b - begin.size());
}

std::string splice_generated(const std::string& doc, const std::string& what,
                             const std::string& content) {
  const std::string old = generated_block(doc, what);
  const size_t at = doc.find(generated_begin(what)) + generated_begin(what).size();
  return doc.substr(0, at) + content + doc.substr(at + old.size());
}

}  // namespace dojosim::hw
