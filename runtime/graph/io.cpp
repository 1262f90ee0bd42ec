// SPDX-License-Identifier: MIT
#include "runtime/graph/io.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/graph/op_table.h"
#include "runtime/graph/validate.h"

namespace dojosim::runtime::graph {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

constexpr const char* kGraphKeys = "version, name, tensors, ops";
constexpr const char* kTensorKeys = "name, shape, dtype, role, data";
constexpr const char* kOpKeys = "name, type, inputs, outputs, attributes";

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw GraphError(fmt::format("{}: {}", where, what));
}

std::string unknown_key(const std::string& key, const char* keys) {
  std::vector<std::string> names;
  std::stringstream ss(keys);
  for (std::string k; std::getline(ss, k, ',');)
    names.push_back(k.substr(k.find_first_not_of(' ')));
  const std::string near = nearest_name(key, names);
  return fmt::format("unknown key '{}'{}; expected {}", key,
                     near.empty() ? "" : fmt::format(" (did you mean {}?)", near), keys);
}

DType dtype_of(const std::string& where, const std::string& name) {
  if (const auto t = parse_dtype(name)) return *t;
  fail(where, fmt::format("unknown dtype '{}'; expected {}", name, dtype_names()));
}

Role role_of(const std::string& where, const std::string& name) {
  if (const auto r = parse_role(name)) return *r;
  fail(where, fmt::format("unknown role '{}'; expected {}", name, role_names()));
}

int version_of(const std::string& where, bool present, bool is_int, int64_t v,
               const std::string& text) {
  if (!present)
    fail(where, fmt::format("no version; a graph file starts with `version: {}`", kFormatVersion));
  if (!is_int || v != kFormatVersion)
    fail(where, fmt::format("version {}; this dojosim reads version {}", text, kFormatVersion));
  return kFormatVersion;
}

// ---- YAML ----

std::string yaml_where(const std::string& source, const YAML::Node& n) {
  return n.Mark().is_null() ? source : fmt::format("{}:{}", source, n.Mark().line + 1);
}

std::string scalar(const std::string& source, const YAML::Node& n, const char* what) {
  if (!n.IsScalar()) fail(yaml_where(source, n), fmt::format("{} should be a word", what));
  return n.Scalar();
}

std::vector<std::string> names(const std::string& source, const YAML::Node& n, const char* what) {
  if (!n.IsSequence())
    fail(yaml_where(source, n), fmt::format("{} should be a list of tensor names", what));
  std::vector<std::string> out;
  for (const YAML::Node& e : n) out.push_back(scalar(source, e, what));
  return out;
}

bool yaml_int(const YAML::Node& n, int64_t& v) {
  if (!n.IsScalar()) return false;
  const std::string& s = n.Scalar();
  if (s.empty() || s.find_first_not_of("-0123456789") != std::string::npos) return false;
  return YAML::convert<int64_t>::decode(n, v);
}

AttrValue yaml_attr(const std::string& source, const std::string& key, const YAML::Node& n) {
  if (n.IsSequence()) {
    std::vector<int64_t> list;
    for (const YAML::Node& e : n) {
      int64_t v = 0;
      if (!yaml_int(e, v))
        fail(yaml_where(source, e),
             fmt::format("attribute {}: a list holds whole numbers only", key));
      list.push_back(v);
    }
    return list;
  }
  if (!n.IsScalar())
    fail(yaml_where(source, n),
         fmt::format("attribute {} should be a number, a word or a list of whole numbers", key));
  int64_t i = 0;
  if (yaml_int(n, i)) return i;
  const std::string& s = n.Scalar();
  if (s == "true" || s == "false") return s == "true";
  double d = 0;
  if (s.find_first_of("0123456789") != std::string::npos && YAML::convert<double>::decode(n, d))
    return d;
  return s;
}

Shape yaml_shape(const std::string& source, const YAML::Node& n) {
  if (!n.IsSequence())
    fail(yaml_where(source, n), "shape should be a list of sizes, [] for a scalar");
  Shape s;
  for (const YAML::Node& e : n) {
    int64_t v = 0;
    if (!yaml_int(e, v))
      fail(yaml_where(source, e), fmt::format("size '{}' is not a whole number", e.Scalar()));
    s.push_back(v);
  }
  return s;
}

Graph from_yaml(const YAML::Node& root, const std::string& source) {
  if (!root.IsMap()) fail(source, fmt::format("expected a map with {}", kGraphKeys));
  Graph g;
  g.source = source;
  bool has_version = false;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "version") {
      int64_t n = 0;
      const bool is_int = yaml_int(v, n);
      g.version =
          version_of(yaml_where(source, v), true, is_int, n, v.IsScalar() ? v.Scalar() : "?");
      has_version = true;
    } else if (key == "name") {
      g.name = scalar(source, v, "name");
    } else if (key == "tensors" || key == "ops") {
      if (!v.IsSequence()) fail(yaml_where(source, v), fmt::format("{} should be a list", key));
    } else {
      fail(yaml_where(source, kv.first), unknown_key(key, kGraphKeys));
    }
  }
  if (!has_version) version_of(source, false, false, 0, "");
  for (const YAML::Node& t : root["tensors"]) {
    if (!t.IsMap())
      fail(yaml_where(source, t), fmt::format("a tensor is a map of {}", kTensorKeys));
    Tensor tensor;
    tensor.origin = yaml_where(source, t);
    bool has[3] = {};
    for (const auto& kv : t) {
      const std::string key = kv.first.as<std::string>();
      const std::string where = yaml_where(source, kv.second);
      if (key == "name")
        tensor.name = scalar(source, kv.second, "name"), has[0] = true;
      else if (key == "shape")
        tensor.shape = yaml_shape(source, kv.second), has[1] = true;
      else if (key == "dtype")
        tensor.dtype = dtype_of(where, scalar(source, kv.second, "dtype")), has[2] = true;
      else if (key == "role")
        tensor.role = role_of(where, scalar(source, kv.second, "role"));
      else if (key == "data")
        tensor.data = scalar(source, kv.second, "data");
      else
        fail(yaml_where(source, kv.first), unknown_key(key, kTensorKeys));
    }
    const char* need[] = {"name", "shape", "dtype"};
    for (int k = 0; k < 3; ++k)
      if (!has[k])
        fail(tensor.origin, fmt::format("a tensor needs {} (and may give role)", need[k]));
    g.tensors.push_back(tensor);
  }
  for (const YAML::Node& o : root["ops"]) {
    if (!o.IsMap()) fail(yaml_where(source, o), fmt::format("an op is a map of {}", kOpKeys));
    Op op;
    op.origin = yaml_where(source, o);
    bool has[2] = {};
    for (const auto& kv : o) {
      const std::string key = kv.first.as<std::string>();
      if (key == "name")
        op.name = scalar(source, kv.second, "name"), has[0] = true;
      else if (key == "type")
        op.type = scalar(source, kv.second, "type"), has[1] = true;
      else if (key == "inputs")
        op.inputs = names(source, kv.second, "inputs");
      else if (key == "outputs")
        op.outputs = names(source, kv.second, "outputs");
      else if (key == "attributes") {
        if (!kv.second.IsMap())
          fail(yaml_where(source, kv.second), "attributes should be a map of name: value");
        for (const auto& a : kv.second) {
          const std::string name = a.first.as<std::string>();
          op.attributes[name] = yaml_attr(source, name, a.second);
        }
      } else {
        fail(yaml_where(source, kv.first), unknown_key(key, kOpKeys));
      }
    }
    if (!has[0] || !has[1])
      fail(op.origin, fmt::format("an op needs {}", has[0] ? "type" : "name"));
    g.ops.push_back(op);
  }
  return g;
}

// ---- JSON ----

using Json = nlohmann::json;

std::string json_word(const std::string& where, const Json& j, const char* what) {
  if (!j.is_string()) fail(where, fmt::format("{} should be a string", what));
  return j.get<std::string>();
}

std::vector<std::string> json_names(const std::string& where, const Json& j, const char* what) {
  if (!j.is_array()) fail(where, fmt::format("{} should be a list of tensor names", what));
  std::vector<std::string> out;
  for (const Json& e : j) out.push_back(json_word(where, e, what));
  return out;
}

AttrValue json_attr(const std::string& where, const std::string& key, const Json& j) {
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number_float()) return j.get<double>();
  if (j.is_string()) return j.get<std::string>();
  if (j.is_array()) {
    std::vector<int64_t> list;
    for (const Json& e : j) {
      if (!e.is_number_integer())
        fail(where, fmt::format("attribute {}: a list holds whole numbers only", key));
      list.push_back(e.get<int64_t>());
    }
    return list;
  }
  fail(where,
       fmt::format("attribute {} should be a number, a word or a list of whole numbers", key));
}

Graph from_json(const Json& root, const std::string& source) {
  if (!root.is_object()) fail(source, fmt::format("expected an object with {}", kGraphKeys));
  Graph g;
  g.source = source;
  for (const auto& [key, v] : root.items()) {
    if (key == "version")
      g.version = version_of(source, true, v.is_number_integer(),
                             v.is_number_integer() ? v.get<int64_t>() : 0, v.dump());
    else if (key == "name")
      g.name = json_word(source, v, "name");
    else if (key == "tensors" || key == "ops") {
      if (!v.is_array()) fail(source, fmt::format("{} should be a list", key));
    } else {
      fail(source, unknown_key(key, kGraphKeys));
    }
  }
  if (!root.contains("version")) version_of(source, false, false, 0, "");
  const Json none = Json::array();
  const Json& tensors = root.contains("tensors") ? root["tensors"] : none;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string where = fmt::format("{}: tensors[{}]", source, i);
    const Json& t = tensors[i];
    if (!t.is_object()) fail(where, fmt::format("a tensor is an object of {}", kTensorKeys));
    Tensor tensor;
    tensor.origin = where;
    for (const auto& [key, v] : t.items()) {
      if (key == "name")
        tensor.name = json_word(where, v, "name");
      else if (key == "shape") {
        if (!v.is_array()) fail(where, "shape should be a list of sizes, [] for a scalar");
        for (const Json& d : v) {
          if (!d.is_number_integer())
            fail(where, fmt::format("size {} is not a whole number", d.dump()));
          tensor.shape.push_back(d.get<int64_t>());
        }
      } else if (key == "dtype")
        tensor.dtype = dtype_of(where, json_word(where, v, "dtype"));
      else if (key == "role")
        tensor.role = role_of(where, json_word(where, v, "role"));
      else if (key == "data")
        tensor.data = json_word(where, v, "data");
      else
        fail(where, unknown_key(key, kTensorKeys));
    }
    for (const char* need : {"name", "shape", "dtype"})
      if (!t.contains(need))
        fail(where, fmt::format("a tensor needs {} (and may give role)", need));
    g.tensors.push_back(tensor);
  }
  const Json& ops = root.contains("ops") ? root["ops"] : none;
  for (size_t i = 0; i < ops.size(); ++i) {
    const std::string where = fmt::format("{}: ops[{}]", source, i);
    const Json& o = ops[i];
    if (!o.is_object()) fail(where, fmt::format("an op is an object of {}", kOpKeys));
    Op op;
    op.origin = where;
    for (const auto& [key, v] : o.items()) {
      if (key == "name")
        op.name = json_word(where, v, "name");
      else if (key == "type")
        op.type = json_word(where, v, "type");
      else if (key == "inputs")
        op.inputs = json_names(where, v, "inputs");
      else if (key == "outputs")
        op.outputs = json_names(where, v, "outputs");
      else if (key == "attributes") {
        if (!v.is_object()) fail(where, "attributes should be an object of name: value");
        for (const auto& [name, a] : v.items()) op.attributes[name] = json_attr(where, name, a);
      } else {
        fail(where, unknown_key(key, kOpKeys));
      }
    }
    for (const char* need : {"name", "type"})
      if (!o.contains(need)) fail(where, fmt::format("an op needs {}", need));
    g.ops.push_back(op);
  }
  return g;
}

// ---- writing ----

// A word as YAML writes it: plain when safe, else a JSON string (valid YAML too).
std::string yaml_word(const std::string& s) {
  bool plain = !s.empty() && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_') &&
               s != "true" && s != "false" && s != "null" && s != "yes" && s != "no";
  for (char c : s)
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
                      c == '-' || c == '/');
  return plain ? s : Json(s).dump();
}

std::string real(double d) {
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // stays a real when read back
  return s;
}

std::string yaml_value(const AttrValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return real(*d);
  if (const auto* s = std::get_if<std::string>(&v)) return yaml_word(*s);
  return attr_string(v);
}

std::string yaml_list(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + yaml_word(n);
  return "[" + s + "]";
}

}  // namespace

bool is_graph_file(const std::string& path) {
  return ends_with(path, ".graph.yaml") || ends_with(path, ".graph.yml") ||
         ends_with(path, ".graph.json");
}

Graph parse_graph_yaml(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail(fmt::format("{}:{}", source, e.mark.line + 1), e.msg);
  }
  try {
    return from_yaml(root, source);
  } catch (const YAML::Exception& e) {
    fail(fmt::format("{}:{}", source, e.mark.line + 1), e.msg);
  }
}

Graph parse_graph_json(const std::string& text, const std::string& source) {
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::parse_error& e) {
    fail(source, e.what());
  }
  return from_json(root, source);
}

Graph load_graph(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw GraphError(fmt::format("cannot read {}", path));
  std::stringstream text;
  text << in.rdbuf();
  return ends_with(path, ".json") ? parse_graph_json(text.str(), path)
                                  : parse_graph_yaml(text.str(), path);
}

std::string to_yaml(const Graph& g) {
  std::string s = fmt::format("version: {}\n", g.version);
  if (!g.name.empty()) s += fmt::format("name: {}\n", yaml_word(g.name));
  s += "tensors:\n";
  for (const Tensor& t : g.tensors)
    s += fmt::format("  - {{name: {}, shape: {}, dtype: {}, role: {}{}}}\n", yaml_word(t.name),
                     shape_string(t.shape), dtype_name(t.dtype), role_name(t.role),
                     t.data.empty() ? "" : ", data: " + yaml_word(t.data));
  s += "ops:\n";
  for (const Op& op : g.ops) {
    s += fmt::format("  - {{name: {}, type: {}, inputs: {}, outputs: {}", yaml_word(op.name),
                     yaml_word(op.type), yaml_list(op.inputs), yaml_list(op.outputs));
    if (!op.attributes.empty()) {
      std::string a;
      for (const auto& [k, v] : op.attributes)
        a += fmt::format("{}{}: {}", a.empty() ? "" : ", ", yaml_word(k), yaml_value(v));
      s += fmt::format(", attributes: {{{}}}", a);
    }
    s += "}\n";
  }
  return s;
}

std::string to_json(const Graph& g) {
  // One line per tensor and op, as the YAML: nlohmann's dump of each, inside a hand-written frame.
  std::string s = fmt::format("{{\n \"version\": {},\n", g.version);
  if (!g.name.empty()) s += fmt::format(" \"name\": {},\n", Json(g.name).dump());
  s += " \"tensors\": [";
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    const Tensor& t = g.tensors[i];
    nlohmann::ordered_json j;
    j["name"] = t.name;
    j["shape"] = t.shape;
    j["dtype"] = dtype_name(t.dtype);
    j["role"] = role_name(t.role);
    if (!t.data.empty()) j["data"] = t.data;
    s += fmt::format("{}\n  {}", i ? "," : "", j.dump());
  }
  s += "\n ],\n \"ops\": [";
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    nlohmann::ordered_json j;
    j["name"] = op.name;
    j["type"] = op.type;
    j["inputs"] = op.inputs;
    j["outputs"] = op.outputs;
    if (!op.attributes.empty()) {
      nlohmann::ordered_json a = nlohmann::ordered_json::object();
      for (const auto& [k, v] : op.attributes)
        std::visit([&, key = k](const auto& x) { a[key] = x; }, v);
      j["attributes"] = a;
    }
    s += fmt::format("{}\n  {}", i ? "," : "", j.dump());
  }
  s += "\n ]\n}\n";
  return s;
}

}  // namespace dojosim::runtime::graph
