// SPDX-License-Identifier: MIT
#include "runtime/graph/graph.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>

namespace dojosim::runtime::graph {
namespace {

constexpr std::array<std::string_view, 4> kDTypes = {"fp32", "bf16", "cfp8", "int32"};
constexpr std::array<std::string_view, 5> kRoles = {"input", "weight", "activation", "gradient",
                                                    "optimizer_state"};

template <typename Names>
std::string joined(const Names& names) {
  std::string s;
  for (std::string_view n : names) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

}  // namespace

std::string_view dtype_name(DType t) {
  return kDTypes[static_cast<size_t>(t)];
}
std::string_view role_name(Role r) {
  return kRoles[static_cast<size_t>(r)];
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (size_t i = 0; i < kDTypes.size(); ++i)
    if (kDTypes[i] == name) return static_cast<DType>(i);
  return std::nullopt;
}

std::optional<Role> parse_role(std::string_view name) {
  for (size_t i = 0; i < kRoles.size(); ++i)
    if (kRoles[i] == name) return static_cast<Role>(i);
  return std::nullopt;
}

std::string dtype_names() {
  return joined(kDTypes);
}
std::string role_names() {
  return joined(kRoles);
}

uint32_t element_bytes(DType t) {
  switch (t) {
    case DType::Fp32:
    case DType::Int32:
      return 4;
    case DType::Bf16:
      return 2;
    case DType::Cfp8:
      return 1;
  }
  return 0;
}

bool is_source(Role r) {
  return r == Role::Input || r == Role::Weight || r == Role::OptimizerState;
}

std::string shape_string(const Shape& s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}

int64_t element_count(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string attr_string(const AttrValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return shape_string(std::get<std::vector<int64_t>>(v));
}

const Tensor* Graph::find_tensor(std::string_view tensor) const {
  for (const Tensor& t : tensors)
    if (t.name == tensor) return &t;
  return nullptr;
}

}  // namespace dojosim::runtime::graph
