// SPDX-License-Identifier: MIT
// Every bad input of docs/graphs.md "Errors": one line naming the file (and line), the op and
// the tensor, and what was expected.
#include <catch2/catch.hpp>

#include "runtime/graph/io.h"
#include "runtime/graph/validate.h"

using namespace dojosim::runtime::graph;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

namespace {

// A small valid graph, one item per line (line 1 is `version: 1`).
const std::string kGood = R"(version: 1
tensors:
  - {name: x, shape: [4, 8], dtype: bf16, role: input}
  - {name: w, shape: [8, 16], dtype: bf16, role: weight}
  - {name: h, shape: [4, 16], dtype: bf16}
  - {name: y, shape: [4, 16], dtype: bf16}
ops:
  - {name: fc, type: matmul, inputs: [x, w], outputs: [h]}
  - {name: act, type: relu, inputs: [h], outputs: [y]}
)";

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

std::string error_yaml(const std::string& text) {
  try {
    validate(parse_graph_yaml(text, "g.graph.yaml"));
  } catch (const GraphError& e) {
    CHECK(std::string(e.what()).find('\n') == std::string::npos);  // one line
    return e.what();
  }
  return "(no error)";
}

std::string error_json(const std::string& text) {
  try {
    validate(parse_graph_json(text, "g.graph.json"));
  } catch (const GraphError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("the small graph of the error tests is valid", "[graph][errors]") {
  CHECK(error_yaml(kGood) == "(no error)");
}

TEST_CASE("a wrong or missing version is refused", "[graph][errors]") {
  CHECK_THAT(error_yaml(replaced(kGood, "version: 1", "version: 2")),
             Equals("g.graph.yaml:1: version 2; this dojosim reads version 1"));
  CHECK_THAT(error_yaml(replaced(kGood, "version: 1", "version: one")),
             Equals("g.graph.yaml:1: version one; this dojosim reads version 1"));
  CHECK_THAT(error_yaml(replaced(kGood, "version: 1\n", "")),
             Equals("g.graph.yaml: no version; a graph file starts with `version: 1`"));
  CHECK_THAT(error_json(R"({"tensors": [], "ops": []})"),
             Equals("g.graph.json: no version; a graph file starts with `version: 1`"));
  CHECK_THAT(error_json(R"({"version": 1.5})"),
             Equals("g.graph.json: version 1.5; this dojosim reads version 1"));
}

TEST_CASE("unknown keys, dtypes and roles are refused with the line", "[graph][errors]") {
  CHECK_THAT(error_yaml(replaced(kGood, "{name: x, shape:", "{name: x, shapes:")),
             Equals("g.graph.yaml:3: unknown key 'shapes' (did you mean shape?); expected name, "
                    "shape, dtype, role, data"));
  CHECK_THAT(
      error_yaml(kGood + "outputs: [y]\n"),
      Equals("g.graph.yaml:10: unknown key 'outputs'; expected version, name, tensors, ops"));
  CHECK_THAT(error_yaml(replaced(kGood, "dtype: bf16, role: input", "dtype: fp16, role: input")),
             Equals("g.graph.yaml:3: unknown dtype 'fp16'; expected fp32, bf16, cfp8, int32"));
  CHECK_THAT(error_yaml(replaced(kGood, "role: weight", "role: parameter")),
             Equals("g.graph.yaml:4: unknown role 'parameter'; expected input, weight, "
                    "activation, gradient, optimizer_state"));
  CHECK_THAT(
      error_json(R"({"version": 1, "tensors": [{"name": "x", "shape": [2], "dtype": "fp64"}]})"),
      Equals("g.graph.json: tensors[0]: unknown dtype 'fp64'; expected fp32, bf16, cfp8, int32"));
  CHECK_THAT(error_yaml("version: 1\n: [\n"), Contains("g.graph.yaml:"));
}

TEST_CASE("an unknown op or attribute, or a mistyped attribute, is refused", "[graph][errors]") {
  CHECK_THAT(error_yaml(replaced(kGood, "type: matmul", "type: matmull")),
             Equals("g.graph.yaml:8: op 'fc' (matmull): unknown op type 'matmull' (did you mean "
                    "matmul?); docs/graphs.md lists the ops"));
  CHECK_THAT(
      error_yaml(replaced(kGood, "outputs: [h]}", "outputs: [h], attributes: {trans_b: true}}")),
      Equals("g.graph.yaml:8: op 'fc' (matmul): unknown attribute 'trans_b'; matmul takes "
             "transpose_a, transpose_b"));
  CHECK_THAT(error_yaml(replaced(kGood, "outputs: [y]}", "outputs: [y], attributes: {alpha: 1}}")),
             Equals("g.graph.yaml:9: op 'act' (relu): unknown attribute 'alpha'; relu takes none"));
  CHECK_THAT(
      error_yaml(replaced(kGood, "outputs: [h]}", "outputs: [h], attributes: {transpose_b: 1}}")),
      Equals(
          "g.graph.yaml:8: op 'fc' (matmul): attribute transpose_b = 1; expected true or false"));
  const std::string conv = R"(version: 1
tensors:
  - {name: x, shape: [1, 8, 8, 4], dtype: bf16, role: input}
  - {name: w, shape: [3, 3, 4, 4], dtype: bf16, role: weight}
  - {name: y, shape: [1, 4, 4, 4], dtype: bf16}
ops:
  - {name: c, type: conv2d, inputs: [x, w], outputs: [y], attributes: {stride: 2, padding: 1}}
)";
  CHECK(error_yaml(conv) == "(no error)");
  CHECK_THAT(error_yaml(replaced(conv, "stride: 2", "strides: 2")),
             Equals("g.graph.yaml:7: op 'c' (conv2d): unknown attribute 'strides' (did you mean "
                    "stride?); conv2d takes stride, padding, dilation, groups"));
  CHECK_THAT(error_yaml(replaced(conv, "stride: 2", "stride: two")),
             Equals("g.graph.yaml:7: op 'c' (conv2d): attribute stride = two; expected a whole "
                    "number or a list of two [h, w]"));
  CHECK_THAT(error_yaml(replaced(conv, "stride: 2", "stride: [2, 2, 2]")),
             Contains("attribute stride = [2, 2, 2]; expected a whole number or a list "
                      "of two [h, w]"));
  CHECK_THAT(error_yaml(replaced(conv, "padding: 1", "padding: [1, a]")),
             Contains("g.graph.yaml:7: attribute padding: a list holds whole numbers"));
  CHECK_THAT(error_yaml(R"(version: 1
tensors:
  - {name: x, shape: [4, 8], dtype: bf16, role: input}
  - {name: y, shape: [4, 8], dtype: bf16}
ops:
  - {name: g, type: gelu, inputs: [x], outputs: [y], attributes: {approximate: fast}}
)"),
             Contains("op 'g' (gelu): attribute approximate = fast; expected none or tanh"));
  CHECK_THAT(error_yaml(R"(version: 1
tensors:
  - {name: x, shape: [4, 8], dtype: bf16, role: input}
  - {name: y, shape: [4, 8], dtype: bf16}
ops:
  - {name: r, type: reshape, inputs: [x], outputs: [y]}
)"),
             Contains("op 'r' (reshape): missing attribute shape (a list of whole numbers"));
}

TEST_CASE("a wrong number of inputs or outputs is refused", "[graph][errors]") {
  CHECK_THAT(error_yaml(replaced(kGood, "inputs: [h]", "inputs: [h, x]")),
             Equals("g.graph.yaml:9: op 'act' (relu): 2 inputs; relu takes 1"));
  CHECK_THAT(error_yaml(replaced(kGood, "inputs: [x, w]", "inputs: [x]")),
             Equals("g.graph.yaml:8: op 'fc' (matmul): 1 input; matmul takes 2"));
  CHECK_THAT(error_yaml(replaced(kGood, "outputs: [y]", "outputs: []")),
             Equals("g.graph.yaml:9: op 'act' (relu): 0 outputs; relu takes 1"));
}

TEST_CASE("a shape mismatch names the op, both tensors and the declared shape", "[graph][errors]") {
  CHECK_THAT(error_yaml(replaced(kGood, "shape: [8, 16]", "shape: [6, 16]")),
             Equals("g.graph.yaml:8: op 'fc' (matmul): input 'x' [4, 8] has K = 8; input 'w' "
                    "[6, 16] has K = 6"));
  CHECK_THAT(error_yaml(replaced(kGood, "{name: y, shape: [4, 16]", "{name: y, shape: [4, 15]")),
             Equals("g.graph.yaml:9: op 'act' (relu): output 'y' is declared [4, 15] at "
                    "g.graph.yaml:6; the op produces [4, 16]"));
  CHECK_THAT(error_yaml(replaced(kGood, "{name: h, shape: [4, 16], dtype: bf16}",
                                 "{name: h, shape: [4, 16], dtype: int32}")),
             Contains("g.graph.yaml:5: tensor 'h': int32 (indices) is for input tensors"));
  CHECK_THAT(
      error_yaml(replaced(kGood, "shape: [4, 8], dtype: bf16", "shape: [4, 0], dtype: bf16")),
      Contains("tensor 'x': shape [4, 0] has a size 0"));
}

TEST_CASE("tensors used before produced, never produced or produced twice are refused",
          "[graph][errors]") {
  const std::string swapped = R"(version: 1
tensors:
  - {name: x, shape: [4, 8], dtype: bf16, role: input}
  - {name: w, shape: [8, 16], dtype: bf16, role: weight}
  - {name: h, shape: [4, 16], dtype: bf16}
  - {name: y, shape: [4, 16], dtype: bf16}
ops:
  - {name: act, type: relu, inputs: [h], outputs: [y]}
  - {name: fc, type: matmul, inputs: [x, w], outputs: [h]}
)";
  CHECK_THAT(error_yaml(swapped),
             Equals("g.graph.yaml:8: op 'act' (relu): input 'h' is used before it is produced: op "
                    "'fc' at g.graph.yaml:9 produces it later (ops run in the order listed)"));
  CHECK_THAT(error_yaml(replaced(kGood, "outputs: [h]", "outputs: [y]")),
             Equals("g.graph.yaml:9: op 'act' (relu): output 'y' is produced twice: op 'fc' at "
                    "g.graph.yaml:8 produces it already"));
  CHECK_THAT(
      error_yaml(
          replaced(kGood, "  - {name: fc, type: matmul, inputs: [x, w], outputs: [h]}\n", "")),
      Equals("g.graph.yaml:8: op 'act' (relu): input 'h' (activation) is produced by no op"));
  CHECK_THAT(error_yaml(replaced(kGood, "inputs: [h]", "inputs: [hh]")),
             Equals("g.graph.yaml:9: op 'act' (relu): input 'hh' is not declared in tensors"));
  CHECK_THAT(error_yaml(replaced(kGood, "outputs: [y]", "outputs: [w]")),
             Contains("op 'act' (relu): output 'w' has role weight, which the host "
                      "provides"));
  CHECK_THAT(error_yaml(replaced(kGood, "ops:\n",
                                 "  - {name: w2, shape: [2], dtype: fp32, role: weight}\nops:\n")),
             Equals("g.graph.yaml:7: tensor 'w2': weight that no op reads"));
  CHECK_THAT(error_yaml(replaced(kGood, "{name: y,", "{name: x,")),
             Equals("g.graph.yaml:6: tensor 'x': declared twice (first at g.graph.yaml:3)"));
  CHECK_THAT(error_yaml(replaced(kGood, "{name: act,", "{name: fc,")),
             Contains("g.graph.yaml:9: op 'fc' (relu): an op of this name is declared "
                      "already at g.graph.yaml:8"));
}

TEST_CASE("a cycle in the graph is refused with the ops on it", "[graph][errors]") {
  const std::string cycle = R"(version: 1
tensors:
  - {name: x, shape: [4, 8], dtype: bf16, role: input}
  - {name: a, shape: [4, 8], dtype: bf16}
  - {name: b, shape: [4, 8], dtype: bf16}
  - {name: c, shape: [4, 8], dtype: bf16}
ops:
  - {name: first, type: add, inputs: [x, c], outputs: [a]}
  - {name: second, type: relu, inputs: [a], outputs: [b]}
  - {name: third, type: relu, inputs: [b], outputs: [c]}
)";
  CHECK_THAT(error_yaml(cycle),
             Equals("g.graph.yaml: a cycle in the graph: first -> second -> third -> first"));
  CHECK_THAT(error_yaml(replaced(cycle, "inputs: [x, c]", "inputs: [x, a]")),
             Equals("g.graph.yaml: a cycle in the graph: first -> first"));
}

TEST_CASE("dtypes: indices only where an op takes them", "[graph][errors]") {
  CHECK_THAT(error_yaml(replaced(kGood, "{name: x, shape: [4, 8], dtype: bf16",
                                 "{name: x, shape: [4, 8], dtype: int32")),
             Equals("g.graph.yaml:8: op 'fc' (matmul): input 'x' is int32; input 1 of matmul is "
                    "a float type"));
  CHECK_THAT(error_yaml(R"(version: 1
tensors:
  - {name: ids, shape: [4], dtype: bf16, role: input}
  - {name: table, shape: [10, 8], dtype: bf16, role: weight}
  - {name: y, shape: [4, 8], dtype: bf16}
ops:
  - {name: e, type: embedding, inputs: [ids, table], outputs: [y]}
)"),
             Equals("g.graph.yaml:7: op 'e' (embedding): input 'ids' is bf16; input 1 of "
                    "embedding is int32 indices"));
  CHECK_THAT(error_yaml(replaced(kGood, "{name: y, shape: [4, 16], dtype: bf16}",
                                 "{name: y, shape: [4, 16], dtype: fp32}")
                            .replace(kGood.find("type: relu"), 10, "type: relu")),
             Equals("(no error)"));  // float ops may change the float type (fp32 out of bf16)
}
