// SPDX-License-Identifier: MIT
// The workload graph: the one description of a network (docs/graphs.md). Tensors with a shape,
// an element type and a role; ops with a type from the op table (ops.def), input and output
// tensors by name, and attributes. The op list is the execution order.
//
// A Graph is plain data: the loader (io.h) fills it from YAML or JSON, a capture may build it in
// code, and validate() (validate.h) checks it against the op table and infers every shape. Only a
// validated graph has a meaning; nothing here checks anything.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace dojosim::runtime::graph {

/// The format version this code reads and writes (`version:` in a file).
inline constexpr int kFormatVersion = 1;

/// Element types. Int32 holds indices (embedding ids, class labels), nothing else.
enum class DType : uint8_t { Fp32, Bf16, Cfp8, Int32 };
/// What a tensor is. Input, Weight and OptimizerState come from the host (no op produces
/// them); Activation and Gradient are produced by exactly one op.
enum class Role : uint8_t { Input, Weight, Activation, Gradient, OptimizerState };

std::string_view dtype_name(DType t);
std::string_view role_name(Role r);
/// The dtype or role of a name as a file spells it; nullopt for an unknown name.
std::optional<DType> parse_dtype(std::string_view name);
std::optional<Role> parse_role(std::string_view name);
/// "fp32, bf16, cfp8, int32" and "input, weight, ..." for error messages.
std::string dtype_names();
std::string role_names();
uint32_t element_bytes(DType t);
/// Whether the host provides the tensor (no op may produce it).
bool is_source(Role r);

using Shape = std::vector<int64_t>;
/// "[32, 784]", "[]" for a scalar.
std::string shape_string(const Shape& s);
/// The number of elements (1 for a scalar).
int64_t element_count(const Shape& s);

/// Where a tensor or an op was written: "file.yaml:12" (YAML) or "file.json: ops[3]" (JSON),
/// or empty for a graph built in code. Every error about the item starts with it.
using Origin = std::string;

struct Tensor {
  std::string name;
  Shape shape;
  DType dtype = DType::Fp32;
  Role role = Role::Activation;
  Origin origin;
  /// A host tensor's values: a .npy file, relative to the graph file's folder; empty for none
  /// (the run makes them up). The capture writes weights and example inputs this way.
  std::string data = {};
};

/// An attribute value as written: a whole number, a real number, a flag, a word or a list of
/// whole numbers. The op table (ops.def) says which kinds each attribute accepts.
using AttrValue = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>>;
/// "2", "0.5", "true", "tanh", "[1, 2]".
std::string attr_string(const AttrValue& v);

struct Op {
  std::string name;
  std::string type;  // a name in ops.def
  std::vector<std::string> inputs, outputs;
  std::map<std::string, AttrValue> attributes;  // only those written; defaults live in ops.def
  Origin origin;
};

struct Graph {
  int version = kFormatVersion;
  std::string name;
  std::string source;  // the file it was read from, or empty
  std::vector<Tensor> tensors;
  std::vector<Op> ops;  // in execution order
  /// The tensor of that name, or nullptr.
  const Tensor* find_tensor(std::string_view name) const;
};

}  // namespace dojosim::runtime::graph
