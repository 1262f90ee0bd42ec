// SPDX-License-Identifier: MIT
#include "runtime/graph/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "runtime/graph/op_table.h"

namespace dojosim::runtime::graph {
namespace {

std::string prefix(const Origin& origin) {
  return origin.empty() ? "" : origin + ": ";
}

[[noreturn]] void tensor_error(const Tensor& t, const std::string& what) {
  throw GraphError(fmt::format("{}tensor '{}': {}", prefix(t.origin), t.name, what));
}

[[noreturn]] void op_error(const Op& op, const std::string& what) {
  throw GraphError(fmt::format("{}op '{}' ({}): {}", prefix(op.origin), op.name, op.type, what));
}

std::string at(const Origin& origin) {
  return origin.empty() ? "" : " at " + origin;
}

bool valid_name(const std::string& n) {
  if (n.empty()) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' ||
          c == '/' || c == ':'))
      return false;
  return true;
}

constexpr const char* kNameChars = "letters, digits and _ . - / :";

void check_tensors(const Graph& g, std::map<std::string, const Tensor*>& by_name) {
  for (const Tensor& t : g.tensors) {
    if (!valid_name(t.name))
      tensor_error(t, fmt::format("a tensor name is one or more of {}", kNameChars));
    if (const auto [it, fresh] = by_name.emplace(t.name, &t); !fresh)
      tensor_error(t, fmt::format("declared twice (first{})", at(it->second->origin)));
    for (int64_t d : t.shape)
      if (d < 1)
        tensor_error(t, fmt::format("shape {} has a size {}; every size is at least 1",
                                    shape_string(t.shape), d));
    if (t.dtype == DType::Int32 && t.role != Role::Input)
      tensor_error(t, fmt::format("int32 (indices) is for input tensors; this one is {}",
                                  role_name(t.role)));
    if (!t.data.empty() && !is_source(t.role))
      tensor_error(t, fmt::format("data '{}' is for host tensors (input, weight, "
                                  "optimizer_state); an {} is produced by its op",
                                  t.data, role_name(t.role)));
  }
}

const OpSpec& check_op(const Op& op) {
  if (!valid_name(op.name))
    op_error(op, fmt::format("an op name is one or more of {}", kNameChars));
  const OpSpec* spec = find_op(op.type);
  if (!spec) {
    std::vector<std::string> names;
    for (const OpSpec& s : op_table()) names.emplace_back(s.name);
    const std::string near = nearest_name(op.type, names);
    op_error(op, fmt::format("unknown op type '{}'{}; docs/graphs.md lists the ops", op.type,
                             near.empty() ? "" : fmt::format(" (did you mean {}?)", near)));
  }
  for (const auto& [name, value] : op.attributes) {
    const AttrSpec* a = spec->find_attribute(name);
    if (!a) {
      std::vector<std::string> names;
      for (const AttrSpec& s : spec->attributes) names.emplace_back(s.name);
      const std::string near = nearest_name(name, names);
      op_error(op, fmt::format("unknown attribute '{}'{}; {} takes {}", name,
                               near.empty() ? "" : fmt::format(" (did you mean {}?)", near),
                               op.type, spec->attribute_names()));
    }
    if (!attr_value_fits(*a, value))
      op_error(op, fmt::format("attribute {} = {}; expected {}", name, attr_string(value),
                               attr_expected(*a)));
  }
  for (const AttrSpec& a : spec->attributes)
    if (a.required() && !op.attributes.count(std::string(a.name)))
      op_error(op, fmt::format("missing attribute {} ({}: {})", a.name, attr_expected(a), a.doc));
  const auto arity = [&](const char* what, size_t n, size_t min, bool variadic) {
    if (n < min || (!variadic && n > min))
      op_error(op, fmt::format("{} {}; {} takes {}{}", n, what, op.type, min,
                               variadic ? " or more" : ""));
  };
  arity(op.inputs.size() == 1 ? "input" : "inputs", op.inputs.size(), spec->min_inputs(),
        spec->variadic_inputs());
  arity(op.outputs.size() == 1 ? "output" : "outputs", op.outputs.size(), spec->min_outputs(),
        spec->variadic_outputs());
  return *spec;
}

// A cycle among the ops, as "a -> b -> a", or empty.
std::string find_cycle(const Graph& g, const std::map<std::string, size_t>& producer) {
  const size_t n = g.ops.size();
  std::vector<int> state(n, 0);  // 0 new, 1 on the stack, 2 done
  std::vector<size_t> stack;
  std::string cycle;
  // Iterative DFS over "op i reads a tensor op j produces" (j before i in any valid order).
  for (size_t root = 0; root < n && cycle.empty(); ++root) {
    if (state[root]) continue;
    std::vector<std::pair<size_t, size_t>> work = {{root, 0}};
    state[root] = 1;
    stack = {root};
    while (!work.empty() && cycle.empty()) {
      auto& [op, next] = work.back();
      if (next == g.ops[op].inputs.size()) {
        state[op] = 2;
        work.pop_back();
        stack.pop_back();
        continue;
      }
      const auto p = producer.find(g.ops[op].inputs[next++]);
      if (p == producer.end()) continue;
      const size_t j = p->second;
      if (state[j] == 1) {
        // Each op on the stack reads what the one above it produces, so from the top down
        // to j the ops follow the data, and j's output feeds the top. Told from the first op
        // in the file.
        std::vector<size_t> ring;
        for (size_t k = stack.size(); k-- > 0;) {
          ring.push_back(stack[k]);
          if (stack[k] == j) break;
        }
        std::rotate(ring.begin(), std::min_element(ring.begin(), ring.end()), ring.end());
        for (size_t k : ring) cycle += g.ops[k].name + " -> ";
        cycle += g.ops[ring.front()].name;
      } else if (state[j] == 0) {
        state[j] = 1;
        stack.push_back(j);
        work.push_back({j, 0});
      }
    }
  }
  return cycle;
}

bool dtype_fits(char kind, DType t) {
  return kind == 'a' || (kind == 'i' ? t == DType::Int32 : t != DType::Int32);
}

}  // namespace

Analysis validate(const Graph& g) {
  if (g.version != kFormatVersion)
    throw GraphError(fmt::format("{}version {}; this dojosim reads version {}", prefix(g.source),
                                 g.version, kFormatVersion));
  std::map<std::string, const Tensor*> tensors;
  check_tensors(g, tensors);

  std::vector<const OpSpec*> specs;
  std::map<std::string, const Op*> op_names;
  std::map<std::string, size_t> producer;  // tensor -> op index
  std::set<std::string> read;
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    specs.push_back(&check_op(op));
    if (const auto [it, fresh] = op_names.emplace(op.name, &op); !fresh)
      op_error(op, fmt::format("an op of this name is declared already{}", at(it->second->origin)));
    for (const std::string& name : op.inputs) {
      if (!tensors.count(name))
        op_error(op, fmt::format("input '{}' is not declared in tensors", name));
      read.insert(name);
    }
    for (const std::string& name : op.outputs) {
      const auto t = tensors.find(name);
      if (t == tensors.end())
        op_error(op, fmt::format("output '{}' is not declared in tensors", name));
      if (is_source(t->second->role))
        op_error(op, fmt::format("output '{}' has role {}, which the host provides; an op "
                                 "produces activations and gradients",
                                 name, role_name(t->second->role)));
      if (const auto [it, fresh] = producer.emplace(name, i); !fresh)
        op_error(op, fmt::format("output '{}' is produced twice: op '{}'{} produces it already",
                                 name, g.ops[it->second].name, at(g.ops[it->second].origin)));
    }
  }
  if (const std::string cycle = find_cycle(g, producer); !cycle.empty())
    throw GraphError(fmt::format("{}a cycle in the graph: {}", prefix(g.source), cycle));

  Analysis analysis;
  std::set<std::string> available;
  for (const Tensor& t : g.tensors)
    if (is_source(t.role)) available.insert(t.name);
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    const OpSpec& spec = *specs[i];
    OpContext context{op, {}, op.outputs.size(), &spec};
    for (size_t k = 0; k < op.inputs.size(); ++k) {
      const std::string& name = op.inputs[k];
      if (!available.count(name)) {
        const auto p = producer.find(name);
        if (p == producer.end())
          op_error(op, fmt::format("input '{}' ({}) is produced by no op", name,
                                   role_name(tensors[name]->role)));
        op_error(op, fmt::format("input '{}' is used before it is produced: op '{}'{} "
                                 "produces it later (ops run in the order listed)",
                                 name, g.ops[p->second].name, at(g.ops[p->second].origin)));
      }
      const Tensor& t = *tensors[name];
      if (!dtype_fits(spec.input_kind(k), t.dtype))
        op_error(op, fmt::format("input '{}' is {}; input {} of {} is {}", name,
                                 dtype_name(t.dtype), k + 1, op.type,
                                 spec.input_kind(k) == 'i' ? "int32 indices" : "a float type"));
      context.inputs.push_back(&t);
    }
    OpFacts facts;
    try {
      facts.outputs = spec.shape(context);
      facts.flop = spec.flop(context, facts.outputs);
    } catch (const ShapeError& e) {
      op_error(op, e.what());
    }
    for (size_t k = 0; k < op.outputs.size(); ++k) {
      const Tensor& t = *tensors[op.outputs[k]];
      if (t.shape != facts.outputs[k])
        op_error(op,
                 fmt::format("output '{}' is declared {}{}; the op produces {}", t.name,
                             shape_string(t.shape), at(t.origin), shape_string(facts.outputs[k])));
      const char kind = spec.output_kind(k);
      const DType first = context.inputs[0]->dtype;
      const std::optional<size_t> from = spec.dtype_source(k);
      if (kind == 's' && t.dtype != first)
        op_error(op, fmt::format("output '{}' is {}; {} keeps the dtype of its input ({})", t.name,
                                 dtype_name(t.dtype), op.type, dtype_name(first)));
      // A digit k: the dtype of input k (a gradient's, where input 1 is not the one it follows).
      if (from && kind != 's') {
        const Tensor& of = *context.inputs.at(*from);
        if (t.dtype != of.dtype)
          op_error(op, fmt::format("output '{}' is {}; {} gives it the dtype of input {} '{}' ({})",
                                   t.name, dtype_name(t.dtype), op.type, *from + 1, of.name,
                                   dtype_name(of.dtype)));
      }
      if (kind == 'f' && t.dtype == DType::Int32)
        op_error(op,
                 fmt::format("output '{}' is int32; {} produces a float type", t.name, op.type));
      available.insert(t.name);
    }
    analysis.ops.push_back(std::move(facts));
  }
  for (const Tensor& t : g.tensors)
    if (is_source(t.role) && !read.count(t.name))
      tensor_error(t, fmt::format("{} that no op reads", role_name(t.role)));
  return analysis;
}

}  // namespace dojosim::runtime::graph
