// SPDX-License-Identifier: MIT
// The graph format: round trips through the writers, the shipped graphs, the doc's example and
// generated op reference, the op table's own consistency.
#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "runtime/graph/io.h"
#include "runtime/graph/op_table.h"
#include "runtime/graph/summary.h"
#include "runtime/graph/validate.h"

using namespace dojosim::runtime::graph;

namespace {

std::string source(const std::string& rel) {
  return std::string(DOJOSIM_SOURCE_DIR) + "/" + rel;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The text between "<!-- graph example -->\n```yaml\n" and the closing fence.
std::string doc_example() {
  const std::string doc = read_text(source("docs/graphs.md"));
  const std::string open = "<!-- graph example -->\n```yaml\n";
  const size_t a = doc.find(open);
  REQUIRE(a != std::string::npos);
  const size_t b = doc.find("```\n", a + open.size());
  return doc.substr(a + open.size(), b - a - open.size());
}

const Op& op_named(const Graph& g, const std::string& name) {
  for (const Op& op : g.ops)
    if (op.name == name) return op;
  FAIL("no op " << name);
  return g.ops.front();
}

}  // namespace

TEST_CASE("writing then reading a graph gives it back, in YAML and in JSON", "[graph]") {
  for (const std::string& file :
       {source("workloads/resnet50.graph.yaml"), source("workloads/gpt2_block.graph.yaml")}) {
    INFO(file);
    const Graph g = load_graph(file);
    const std::string yaml = to_yaml(g);
    const Graph from_yaml = parse_graph_yaml(yaml, "again.yaml");
    const Graph from_json = parse_graph_json(to_json(g), "again.json");
    CHECK(to_yaml(from_yaml) == yaml);
    CHECK(to_yaml(from_json) == yaml);
    CHECK(to_json(from_json) == to_json(g));
    // The shipped files are the writer's layout below their comment lines.
    std::string body;
    std::stringstream lines(read_text(file));
    for (std::string l; std::getline(lines, l);)
      if (l.empty() || l[0] != '#') body += l + "\n";
    CHECK(body == yaml);
  }
  // Every kind of attribute value survives: whole numbers, reals, flags, words, lists.
  const Graph g = parse_graph_yaml(R"(version: 1
tensors:
  - {name: x, shape: [1, 8, 8, 4], dtype: cfp8, role: input}
  - {name: y, shape: [1, 8, 8, 4], dtype: cfp8}
ops:
  - {name: p, type: max_pool, inputs: [x], outputs: [y], attributes: {kernel: [3, 3], padding: 1}}
)",
                                   "t.yaml");
  Graph h = g;
  h.ops[0].attributes["scale"] = 1.0;
  h.ops[0].attributes["flag"] = true;
  h.ops[0].attributes["word"] = std::string("tanh");
  h.ops[0].attributes["odd word"] = std::string("a: b");
  const Graph back = parse_graph_json(to_json(h), "t.json");
  CHECK(back.ops[0].attributes == h.ops[0].attributes);
  CHECK(parse_graph_yaml(to_yaml(h), "t.yaml").ops[0].attributes == h.ops[0].attributes);
  CHECK(std::holds_alternative<double>(back.ops[0].attributes.at("scale")));
}

TEST_CASE("a host tensor may name a .npy file of its values; an activation may not", "[graph]") {
  const std::string text = R"(version: 1
tensors:
  - {name: x, shape: [2, 3], dtype: fp32, role: input, data: x.npy}
  - {name: w, shape: [3, 4], dtype: fp32, role: weight, data: "weights/fc 1.npy"}
  - {name: y, shape: [2, 4], dtype: fp32}
ops:
  - {name: fc, type: matmul, inputs: [x, w], outputs: [y]}
)";
  const Graph g = parse_graph_yaml(text, "d.graph.yaml");
  validate(g);
  CHECK(g.tensors[0].data == "x.npy");
  CHECK(g.tensors[1].data == "weights/fc 1.npy");
  CHECK(g.tensors[2].data.empty());
  CHECK(parse_graph_yaml(to_yaml(g), "again.yaml").tensors[1].data == "weights/fc 1.npy");
  CHECK(parse_graph_json(to_json(g), "again.json").tensors[0].data == "x.npy");
  std::string bad = text;
  bad.replace(bad.find("dtype: fp32}"), 12, "dtype: fp32, data: y.npy}");
  CHECK_THROWS_WITH(validate(parse_graph_yaml(bad, "d.graph.yaml")),
                    "d.graph.yaml:5: tensor 'y': data 'y.npy' is for host tensors (input, weight, "
                    "optimizer_state); an activation is produced by its op");
}

TEST_CASE("the shipped ResNet-50 graph has the layers of resnet50.csv at batch 32", "[graph]") {
  const Graph g = load_graph(source("workloads/resnet50.graph.yaml"));
  const Analysis a = validate(g);
  CHECK(g.find_tensor("image")->shape == Shape{32, 224, 224, 3});
  std::ifstream csv(source("workloads/resnet50.csv"));
  std::string line;
  std::getline(csv, line);  // header
  size_t layers = 0;
  while (std::getline(csv, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    const std::string name = f[0];
    const int64_t h = std::stoll(f[1]), r = std::stoll(f[3]), c = std::stoll(f[5]),
                  k = std::stoll(f[6]), stride = std::stoll(f[7]);
    INFO(name);
    const Op& op = op_named(g, name);
    ++layers;
    const Shape& w = g.find_tensor(op.inputs[1])->shape;
    const Shape& x = g.find_tensor(op.inputs[0])->shape;
    if (name == "fc") {
      CHECK(op.type == "matmul");
      CHECK(w == Shape{c, k});
      continue;
    }
    CHECK(op.type == "conv2d");
    CHECK(w == Shape{r, r, c, k});
    const auto attr = [&](const char* n, int64_t d) {
      const auto it = op.attributes.find(n);
      return it == op.attributes.end() ? d : std::get<int64_t>(it->second);
    };
    CHECK(attr("stride", 1) == stride);
    CHECK(x[1] + 2 * attr("padding", 0) == h);  // the CSV's IFMAP includes the padding
    CHECK(x[0] == 32);
  }
  CHECK(layers == 54);
  CHECK(g.find_tensor("logits")->shape == Shape{32, 1000});
  CHECK(a.ops.size() == g.ops.size());
}

TEST_CASE("the shipped GPT-2 block has GPT-2 small's shapes and a causal softmax", "[graph]") {
  const Graph g = load_graph(source("workloads/gpt2_block.graph.yaml"));
  validate(g);
  CHECK(g.find_tensor("x")->shape == Shape{1024, 768});
  CHECK(g.find_tensor("scores.y")->shape == Shape{12, 1024, 1024});
  CHECK(g.find_tensor("fc.w")->shape == Shape{768, 3072});
  const Op& probs = op_named(g, "probs");
  CHECK(std::get<bool>(probs.attributes.at("causal")));
  CHECK(std::get<double>(probs.attributes.at("scale")) == 0.125);
  CHECK(std::get<std::string>(op_named(g, "gelu").attributes.at("approximate")) == "tanh");
  CHECK(op_named(g, "res2").inputs[0] == "res1.y");
  CHECK(g.find_tensor("out")->shape == Shape{1024, 768});
}

TEST_CASE("the example of docs/graphs.md is a valid MLP with a loss", "[graph][docs]") {
  const Graph g = parse_graph_yaml(doc_example(), "docs/graphs.md example");
  const Analysis a = validate(g);
  const Summary s = summarise(g, a);
  CHECK(g.ops.back().type == "softmax_cross_entropy");
  CHECK(g.find_tensor("loss")->shape.empty());
  CHECK(s.bytes.at(Role::Weight) == 2 * (784 * 256 + 256 + 256 * 10 + 10));
  CHECK(s.by_type.at("matmul").flop == 2.0 * 32 * (784 * 256 + 256 * 10));
  // The JSON file of the CLI tests is the same graph.
  CHECK(to_yaml(load_graph(source("tests/runtime/graph/data/mlp.graph.json"))) == to_yaml(g));
}

TEST_CASE("docs/graphs.md holds the current op reference (scripts/gen-docs.sh)", "[graph][docs]") {
  const std::string doc = read_text(source("docs/graphs.md"));
  const std::string begin = "<!-- BEGIN GENERATED: dojosim doc graph-ops -->\n";
  const size_t a = doc.find(begin);
  REQUIRE(a != std::string::npos);
  const size_t b = doc.find("<!-- END GENERATED -->", a);
  INFO("run scripts/gen-docs.sh to regenerate docs/graphs.md");
  CHECK(doc.substr(a + begin.size(), b - a - begin.size()) == op_reference_markdown());
}

TEST_CASE("the op table has every op of issue 13 and consistent rows", "[graph]") {
  std::set<std::string> names;
  for (const OpSpec& s : op_table()) {
    INFO(s.name);
    CHECK(names.insert(std::string(s.name)).second);
    CHECK(s.min_inputs() >= 1);
    CHECK(s.min_outputs() >= 1);
    for (const AttrSpec& a : s.attributes)
      if (!a.required()) CHECK(attr_value_fits(a, attr_default(a)));
  }
  for (const char* op : {"matmul",
                         "batch_matmul",
                         "conv2d",
                         "bias_add",
                         "add",
                         "mul",
                         "sub",
                         "relu",
                         "gelu",
                         "silu",
                         "batchnorm",
                         "layernorm",
                         "rmsnorm",
                         "softmax",
                         "max_pool",
                         "avg_pool",
                         "global_avg_pool",
                         "embedding",
                         "reshape",
                         "transpose",
                         "concat",
                         "split",
                         "softmax_cross_entropy"})
    CHECK(names.count(op) == 1);
}
