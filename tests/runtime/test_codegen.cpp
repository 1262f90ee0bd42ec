// SPDX-License-Identifier: MIT
// runtime/codegen.h: a per-node argument block declared once gives the program's .equ offsets
// and the host's values in the same order.
#include <catch2/catch.hpp>

#include "runtime/codegen.h"

using namespace dojosim::runtime::codegen;

namespace {
struct Node {
  uint64_t id;
};
}  // namespace

TEST_CASE("an argument block gives .equ offsets and per-node values in declaration order",
          "[codegen]") {
  const ArgBlock<Node> args = {
      {"MEMBER", [](const Node&) { return 1; }},
      {"ID", [](const Node& n) { return n.id; }},
      {"TWICE", [](const Node& n) { return 2 * n.id; }},
  };
  AsmWriter w;
  args.declare(w);
  CHECK(w.text() == "    .equ MEMBER, 0\n    .equ ID, 8\n    .equ TWICE, 16\n");
  args.reserve(w);
  CHECK(w.text().find("args:\n    .space 24\n") != std::string::npos);
  CHECK(args.values({7}) == std::vector<uint64_t>{1, 7, 14});
  CHECK(args.size() == 3);
}
