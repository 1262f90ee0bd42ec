// SPDX-License-Identifier: MIT
#include "runtime/graph/op_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace dojosim::runtime::graph {

#define DOJOSIM_GRAPH_OP(name, inputs, outputs, shape_doc, flop_doc, attributes) \
  std::vector<Shape> shape_##name(const OpContext&);                             \
  double flop_##name(const OpContext&, const std::vector<Shape>&);
#include "runtime/graph/ops.def"
#undef DOJOSIM_GRAPH_OP

const std::vector<OpSpec>& op_table() {
#define ATTR(name, type, default_text, doc) AttrSpec{#name, AttrType::type, default_text, doc},
#define DOJOSIM_GRAPH_OP(name, inputs, outputs, shape_doc, flop_doc, attributes) \
  OpSpec{#name, inputs, outputs, shape_doc, flop_doc, {attributes}, shape_##name, flop_##name},
  static const std::vector<OpSpec> table = {
#include "runtime/graph/ops.def"
  };
#undef DOJOSIM_GRAPH_OP
#undef ATTR
  return table;
}

const OpSpec* find_op(std::string_view name) {
  for (const OpSpec& s : op_table())
    if (s.name == name) return &s;
  return nullptr;
}

std::string_view attr_type_name(AttrType t) {
  switch (t) {
    case AttrType::Int:
      return "int";
    case AttrType::Float:
      return "float";
    case AttrType::Bool:
      return "bool";
    case AttrType::Ints:
      return "ints";
    case AttrType::Int2:
      return "int2";
    case AttrType::Word:
      return "word";
  }
  return "?";
}

std::vector<std::string> AttrSpec::words() const {
  std::vector<std::string> out;
  const std::string_view head = doc.substr(0, doc.find(':'));
  size_t at = 0;
  while (at <= head.size()) {
    const size_t bar = std::min(head.find('|', at), head.size());
    out.emplace_back(head.substr(at, bar - at));
    at = bar + 1;
  }
  return out;
}

namespace {

size_t count_min(std::string_view letters) {
  return letters.size() - (!letters.empty() && letters.back() == '+' ? 1 : 0);
}

char kind_at(std::string_view letters, size_t i) {
  const size_t n = count_min(letters);
  return i < n ? letters[i] : letters[n - 1];
}

}  // namespace

size_t OpSpec::min_inputs() const {
  return count_min(inputs);
}
size_t OpSpec::min_outputs() const {
  return count_min(outputs);
}
char OpSpec::input_kind(size_t i) const {
  return kind_at(inputs, i);
}
char OpSpec::output_kind(size_t i) const {
  return kind_at(outputs, i);
}
std::optional<size_t> OpSpec::dtype_source(size_t output) const {
  const char kind = output_kind(output);
  if (kind == 's') return 0;
  if (kind >= '1' && kind <= '9') return size_t(kind - '1');
  return std::nullopt;
}

const AttrSpec* OpSpec::find_attribute(std::string_view attr) const {
  for (const AttrSpec& a : attributes)
    if (a.name == attr) return &a;
  return nullptr;
}

std::string OpSpec::attribute_names() const {
  std::string s;
  for (const AttrSpec& a : attributes) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s.empty() ? "none" : s;
}

std::string nearest_name(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = 4;
  for (const std::string& c : candidates) {
    std::vector<size_t> row(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= name.size(); ++i) {
      size_t diag = row[0];
      row[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        const size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (name[i - 1] != c[j - 1])});
        diag = up;
      }
    }
    if (row[c.size()] < best_d) best_d = row[c.size()], best = c;
  }
  return best;
}

bool attr_value_fits(const AttrSpec& spec, const AttrValue& v) {
  switch (spec.type) {
    case AttrType::Int:
      return std::holds_alternative<int64_t>(v);
    case AttrType::Float:
      return std::holds_alternative<double>(v) || std::holds_alternative<int64_t>(v);
    case AttrType::Bool:
      return std::holds_alternative<bool>(v);
    case AttrType::Ints:
      return std::holds_alternative<std::vector<int64_t>>(v);
    case AttrType::Int2:
      return std::holds_alternative<int64_t>(v) ||
             (std::holds_alternative<std::vector<int64_t>>(v) &&
              std::get<std::vector<int64_t>>(v).size() == 2);
    case AttrType::Word: {
      if (!std::holds_alternative<std::string>(v)) return false;
      const std::vector<std::string> w = spec.words();
      return std::find(w.begin(), w.end(), std::get<std::string>(v)) != w.end();
    }
  }
  return false;
}

std::string attr_expected(const AttrSpec& spec) {
  switch (spec.type) {
    case AttrType::Int:
      return "a whole number";
    case AttrType::Float:
      return "a number";
    case AttrType::Bool:
      return "true or false";
    case AttrType::Ints:
      return "a list of whole numbers";
    case AttrType::Int2:
      return "a whole number or a list of two [h, w]";
    case AttrType::Word: {
      std::string s;
      for (const std::string& w : spec.words()) s += (s.empty() ? "" : " or ") + w;
      return s;
    }
  }
  return "?";
}

AttrValue attr_default(const AttrSpec& spec) {
  const std::string text(spec.default_text);
  switch (spec.type) {
    case AttrType::Int:
      return int64_t{std::strtoll(text.c_str(), nullptr, 10)};
    case AttrType::Float:
      return std::strtod(text.c_str(), nullptr);
    case AttrType::Bool:
      return text == "true";
    case AttrType::Word:
      return text;
    case AttrType::Ints:
    case AttrType::Int2: {
      if (text.empty() || text[0] != '[') return int64_t{std::strtoll(text.c_str(), nullptr, 10)};
      std::vector<int64_t> list;
      const char* p = text.c_str() + 1;
      while (*p && *p != ']') {
        char* end = nullptr;
        list.push_back(std::strtoll(p, &end, 10));
        p = end;
        while (*p == ',' || *p == ' ') ++p;
      }
      return list;
    }
  }
  return int64_t{0};
}

namespace {

const AttrSpec& spec_of(const OpContext& c, std::string_view name) {
  const AttrSpec* a = c.spec ? c.spec->find_attribute(name) : nullptr;
  if (!a)  // a rule asking for an attribute its row does not declare: a bug in shapes.cpp
    throw std::logic_error(fmt::format("op table: {} has no attribute {}", c.op.type, name));
  return *a;
}

}  // namespace

AttrValue OpContext::attr(std::string_view name) const {
  const AttrSpec& a = spec_of(*this, name);
  const auto it = op.attributes.find(std::string(name));
  return it != op.attributes.end() ? it->second : attr_default(a);
}

int64_t OpContext::int_attr(std::string_view name) const {
  return std::get<int64_t>(attr(name));
}
double OpContext::float_attr(std::string_view name) const {
  const AttrValue v = attr(name);
  return std::holds_alternative<int64_t>(v) ? double(std::get<int64_t>(v)) : std::get<double>(v);
}
bool OpContext::bool_attr(std::string_view name) const {
  return std::get<bool>(attr(name));
}
std::string OpContext::word_attr(std::string_view name) const {
  return std::get<std::string>(attr(name));
}
std::vector<int64_t> OpContext::ints_attr(std::string_view name) const {
  return std::get<std::vector<int64_t>>(attr(name));
}
std::vector<int64_t> OpContext::int2_attr(std::string_view name) const {
  const AttrValue v = attr(name);
  if (std::holds_alternative<int64_t>(v)) return {std::get<int64_t>(v), std::get<int64_t>(v)};
  return std::get<std::vector<int64_t>>(v);
}

namespace {

std::string letters_doc(std::string_view letters) {
  std::string s;
  const size_t n = count_min(letters);
  for (size_t i = 0; i < n; ++i) {
    const char c = letters[i];
    s += (i ? ", " : "");
    s += c == 'f'   ? "float"
         : c == 'i' ? "int32"
         : c == 'a' ? "any"
         : c == 's' ? "as input 1"
                    : fmt::format("as input {}", c);
  }
  if (letters.size() > n) s += ", ...";
  return s;
}

std::string md_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\";
    out += c;
  }
  return out;
}

}  // namespace

std::string op_reference_markdown() {
  std::string md =
      "| op | inputs | outputs | shapes | FLOP |\n"
      "|---|---|---|---|---|\n";
  for (const OpSpec& s : op_table())
    md += fmt::format("| `{}` | {} | {} | {} | {} |\n", s.name, letters_doc(s.inputs),
                      letters_doc(s.outputs), md_escape(s.shape_doc), md_escape(s.flop_doc));
  md +=
      "\nAttributes (`attributes:` of an op; a default of - means required):\n\n"
      "| op | attribute | type | default | meaning |\n"
      "|---|---|---|---|---|\n";
  for (const OpSpec& s : op_table())
    for (const AttrSpec& a : s.attributes)
      md += fmt::format("| `{}` | `{}` | {} | {} | {} |\n", s.name, a.name, attr_type_name(a.type),
                        a.required() ? "-" : fmt::format("`{}`", a.default_text), md_escape(a.doc));
  return md;
}

}  // namespace dojosim::runtime::graph
