// SPDX-License-Identifier: MIT
// The op table (ops.def) as data: what the loader, the validator, the plan summary and the
// generated op reference of docs/graphs.md read. A new op is one row in ops.def plus its
// shape_<name> and flop_<name> in shapes.cpp; nothing else changes.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/graph/graph.h"

namespace dojosim::runtime::graph {

enum class AttrType : uint8_t { Int, Float, Bool, Ints, Int2, Word };
std::string_view attr_type_name(AttrType t);  // as docs/graphs.md names it

struct AttrSpec {
  std::string_view name;
  AttrType type;
  std::string_view default_text;  // YAML text; empty: required
  std::string_view doc;
  bool required() const { return default_text.empty(); }
  /// For a Word: the allowed words (from doc's leading "a|b:").
  std::vector<std::string> words() const;
};

/// Thrown by a shape rule: the message names the tensor and what was expected; the validator
/// adds the file, line and op.
struct ShapeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What shapes.cpp's rules receive: the op, its input tensors (validated to exist), and its
/// attributes with defaults applied. Rules throw ShapeError with a message naming the tensor.
struct OpContext {
  const Op& op;
  std::vector<const Tensor*> inputs;
  size_t outputs = 0;  // how many outputs the op lists
  int64_t int_attr(std::string_view name) const;
  double float_attr(std::string_view name) const;
  bool bool_attr(std::string_view name) const;
  std::string word_attr(std::string_view name) const;
  std::vector<int64_t> ints_attr(std::string_view name) const;
  /// An Int2 as [h, w].
  std::vector<int64_t> int2_attr(std::string_view name) const;
  AttrValue attr(std::string_view name) const;
  const struct OpSpec* spec = nullptr;
};

/// A shape rule: the output shapes (one per output) from the inputs and attributes.
using ShapeRule = std::vector<Shape> (*)(const OpContext&);
/// A FLOP rule: the op's floating-point operations from its context and output shapes.
using FlopRule = double (*)(const OpContext&, const std::vector<Shape>& outputs);

struct OpSpec {
  std::string_view name;
  std::string_view inputs, outputs;  // ops.def letters, e.g. "ff", "aa+"
  std::string_view shape_doc, flop_doc;
  std::vector<AttrSpec> attributes;
  ShapeRule shape;
  FlopRule flop;

  size_t min_inputs() const;
  bool variadic_inputs() const { return !inputs.empty() && inputs.back() == '+'; }
  size_t min_outputs() const;
  bool variadic_outputs() const { return !outputs.empty() && outputs.back() == '+'; }
  /// The letter of input / output i ('f', 'i', 'a', 's').
  char input_kind(size_t i) const;
  char output_kind(size_t i) const;
  /// The input whose dtype output i has ('s': the first; a digit k: input k), or none (an 'f'
  /// output is any float type).
  std::optional<size_t> dtype_source(size_t output) const;
  const AttrSpec* find_attribute(std::string_view name) const;
  /// "transpose_a, transpose_b" (or "none").
  std::string attribute_names() const;
};

/// Every op, in ops.def order.
const std::vector<OpSpec>& op_table();
/// The op of that name, or nullptr.
const OpSpec* find_op(std::string_view name);

/// The closest name of `candidates` to `name` (edit distance at most 3), or empty.
std::string nearest_name(std::string_view name, const std::vector<std::string>& candidates);

/// Whether `v` is a value of type `t`; for a Word, also one of its words.
bool attr_value_fits(const AttrSpec& spec, const AttrValue& v);
/// "a list of whole numbers", "a whole number or a list [h, w]" ...: what a type expects.
std::string attr_expected(const AttrSpec& spec);
/// The default of an attribute that has one, as a value of its type.
AttrValue attr_default(const AttrSpec& spec);

/// The op reference of docs/graphs.md (Markdown), generated from the table.
std::string op_reference_markdown();

}  // namespace dojosim::runtime::graph
