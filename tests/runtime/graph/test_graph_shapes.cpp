// SPDX-License-Identifier: MIT
// The shape rules of the op table: each op's output shapes from its inputs and attributes, and
// the shapes each rule refuses with a message naming the tensor.
#include <catch2/catch.hpp>

#include "runtime/graph/op_table.h"

using namespace dojosim::runtime::graph;
using Catch::Matchers::Contains;

namespace {

struct Case {
  std::string type;
  std::vector<Shape> inputs;
  std::map<std::string, AttrValue> attributes = {};
  size_t outputs = 1;
  std::vector<DType> dtypes = {};
};

// The rule's result, through the same OpContext the validator builds.
std::vector<Shape> infer(const Case& c, double* flop = nullptr) {
  const OpSpec* spec = find_op(c.type);
  REQUIRE(spec);
  Op op{"op", c.type, {}, {}, c.attributes, ""};
  std::vector<Tensor> tensors;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    tensors.push_back({"in" + std::to_string(i), c.inputs[i],
                       i < c.dtypes.size() ? c.dtypes[i] : DType::Bf16, Role::Input, ""});
  OpContext context{op, {}, c.outputs, spec};
  for (const Tensor& t : tensors) context.inputs.push_back(&t);
  const std::vector<Shape> out = spec->shape(context);
  if (flop) *flop = spec->flop(context, out);
  return out;
}

std::string refusal(const Case& c) {
  try {
    infer(c);
  } catch (const ShapeError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("matmul and batch_matmul: K must agree; transposes swap the last two axes", "[graph]") {
  double flop = 0;
  CHECK(infer({"matmul", {{32, 784}, {784, 256}}}, &flop) == std::vector<Shape>{{32, 256}});
  CHECK(flop == 2.0 * 32 * 784 * 256);
  CHECK(infer({"matmul", {{4, 16, 8}, {8, 3}}}) == std::vector<Shape>{{4, 16, 3}});
  CHECK(infer({"matmul", {{8, 32}, {3, 8}}, {{"transpose_a", true}, {"transpose_b", true}}}) ==
        std::vector<Shape>{{32, 3}});
  CHECK_THAT(refusal({"matmul", {{32, 784}, {256, 10}}}),
             Contains("input 'in0' [32, 784] has K = 784; input 'in1' [256, 10] has K = 256"));
  CHECK(infer({"batch_matmul", {{12, 64, 16}, {12, 64, 16}}, {{"transpose_b", true}}}, &flop) ==
        std::vector<Shape>{{12, 64, 64}});
  CHECK(flop == 2.0 * 12 * 64 * 64 * 16);
  CHECK_THAT(refusal({"batch_matmul", {{12, 4, 8}, {6, 8, 4}}}),
             Contains("the batch axes of 'in0' [12, 4, 8] and 'in1' [6, 8, 4] differ"));
}

TEST_CASE("conv2d: stride, padding, dilation and groups (depthwise) set the output", "[graph]") {
  double flop = 0;
  CHECK(infer({"conv2d", {{32, 224, 224, 3}, {7, 7, 3, 64}}, {{"stride", 2}, {"padding", 3}}},
              &flop) == std::vector<Shape>{{32, 112, 112, 64}});
  CHECK(flop == 2.0 * 32 * 112 * 112 * 64 * 7 * 7 * 3);
  CHECK(infer({"conv2d",
               {{1, 10, 12, 4}, {3, 3, 4, 8}},
               {{"dilation", 2}, {"padding", std::vector<int64_t>{0, 1}}}}) ==
        std::vector<Shape>{{1, 6, 10, 8}});
  CHECK(infer({"conv2d", {{2, 8, 8, 16}, {3, 3, 1, 32}}, {{"groups", 16}, {"padding", 1}}},
              &flop) == std::vector<Shape>{{2, 8, 8, 32}});
  CHECK(flop == 2.0 * 2 * 8 * 8 * 32 * 9);  // depthwise: one input channel per output
  CHECK_THAT(refusal({"conv2d", {{2, 8, 8, 16}, {3, 3, 4, 32}}}),
             Contains("have 4 input channels; expected C / groups = 16 / 1 = 16"));
  CHECK_THAT(refusal({"conv2d", {{2, 8, 8, 6}, {3, 3, 2, 8}}, {{"groups", 3}}}),
             Contains("groups = 3 must divide both"));
  CHECK_THAT(refusal({"conv2d", {{1, 2, 2, 1}, {3, 3, 1, 1}}}),
             Contains("the window (3 with padding 0) is larger than H"));
}

TEST_CASE("elementwise ops keep the shape; add, sub and mul broadcast as numpy", "[graph]") {
  for (const char* op : {"relu", "gelu", "silu"})
    CHECK(infer({op, {{3, 5}}}) == std::vector<Shape>{{3, 5}});
  CHECK(infer({"bias_add", {{2, 3, 5}, {5}}}) == std::vector<Shape>{{2, 3, 5}});
  CHECK_THAT(refusal({"bias_add", {{2, 3, 5}, {3}}}), Contains("should be [5]"));
  for (const char* op : {"add", "sub", "mul"}) {
    CHECK(infer({op, {{4, 1, 5}, {3, 1}}}) == std::vector<Shape>{{4, 3, 5}});
    CHECK_THAT(refusal({op, {{4, 5}, {3, 5}}}), Contains("do not broadcast (axis -2"));
  }
}

TEST_CASE("normalisations take per-feature parameters of the last axis", "[graph]") {
  CHECK(infer({"batchnorm", {{2, 4, 4, 8}, {8}, {8}, {8}, {8}}}) ==
        std::vector<Shape>{{2, 4, 4, 8}});
  CHECK_THAT(refusal({"batchnorm", {{2, 4, 4, 8}, {8}, {8}, {4}, {8}}}),
             Contains("mean 'in3' [4] should be [8]"));
  CHECK(infer({"layernorm", {{6, 10}, {10}, {10}}}) == std::vector<Shape>{{6, 10}});
  CHECK(infer({"rmsnorm", {{6, 10}, {10}}}) == std::vector<Shape>{{6, 10}});
  CHECK_THAT(refusal({"rmsnorm", {{6, 10}, {6}}}), Contains("gamma 'in1' [6]"));
}

TEST_CASE("softmax: any axis; causal only along the last axis of rank 2 or more", "[graph]") {
  CHECK(infer({"softmax", {{2, 7}}, {{"axis", 0}}}) == std::vector<Shape>{{2, 7}});
  CHECK(infer({"softmax", {{3, 4, 4}}, {{"causal", true}, {"scale", 0.5}}}) ==
        std::vector<Shape>{{3, 4, 4}});
  CHECK_THAT(refusal({"softmax", {{3, 4, 4}}, {{"causal", true}, {"axis", 1}}}),
             Contains("causal needs the last axis"));
  CHECK_THAT(refusal({"softmax", {{3, 4}}, {{"axis", 2}}}),
             Contains("axis = 2 is outside [-2, 2)"));
}

TEST_CASE("pooling: windows over H and W of NHWC; the global pool keeps N and C", "[graph]") {
  CHECK(infer({"max_pool", {{32, 112, 112, 64}}, {{"kernel", 3}, {"stride", 2}, {"padding", 1}}}) ==
        std::vector<Shape>{{32, 56, 56, 64}});
  CHECK(infer({"avg_pool",
               {{1, 8, 6, 3}},
               {{"kernel", std::vector<int64_t>{2, 3}}, {"stride", std::vector<int64_t>{2, 3}}}}) ==
        std::vector<Shape>{{1, 4, 2, 3}});
  CHECK_THAT(refusal({"max_pool", {{1, 8, 8, 3}}, {{"kernel", 2}, {"padding", 2}}}),
             Contains("more than half the kernel"));
  CHECK(infer({"global_avg_pool", {{32, 7, 7, 2048}}}) == std::vector<Shape>{{32, 2048}});
}

TEST_CASE("embedding, layout ops and the loss", "[graph]") {
  CHECK(infer({"embedding", {{4, 16}, {50257, 768}}, {}, 1, {DType::Int32, DType::Bf16}}) ==
        std::vector<Shape>{{4, 16, 768}});
  CHECK(infer({"reshape", {{1024, 768}}, {{"shape", std::vector<int64_t>{1024, 12, -1}}}}) ==
        std::vector<Shape>{{1024, 12, 64}});
  CHECK_THAT(refusal({"reshape", {{10, 3}}, {{"shape", std::vector<int64_t>{4, -1}}}}),
             Contains("input 'in0' [10, 3] has 30 elements"));
  CHECK(infer({"transpose", {{2, 3, 4}}, {{"perm", std::vector<int64_t>{2, 0, 1}}}}) ==
        std::vector<Shape>{{4, 2, 3}});
  CHECK_THAT(refusal({"transpose", {{2, 3, 4}}, {{"perm", std::vector<int64_t>{0, 0, 1}}}}),
             Contains("is not a permutation of 0 .. 2"));
  CHECK(infer({"concat", {{2, 3}, {2, 5}, {2, 1}}, {{"axis", -1}}}) == std::vector<Shape>{{2, 9}});
  CHECK_THAT(refusal({"concat", {{2, 3}, {3, 3}}, {{"axis", 1}}}),
             Contains("differs from 'in0' [2, 3] outside axis 1"));
  CHECK(infer({"split", {{1024, 2304}}, {}, 3}) ==
        std::vector<Shape>{{1024, 768}, {1024, 768}, {1024, 768}});
  CHECK(infer({"split", {{6, 4}}, {{"axis", 0}, {"sizes", std::vector<int64_t>{1, 5}}}, 2}) ==
        std::vector<Shape>{{1, 4}, {5, 4}});
  CHECK_THAT(refusal({"split", {{6, 4}}, {{"axis", 0}, {"sizes", std::vector<int64_t>{1, 4}}}, 2}),
             Contains("sizes [1, 4] sum to 5; axis 0 of 'in0' [6, 4] is 6"));
  CHECK(infer({"softmax_cross_entropy", {{32, 10}, {32}}, {}, 1, {DType::Fp32, DType::Int32}}) ==
        std::vector<Shape>{Shape{}});
  CHECK_THAT(refusal({"softmax_cross_entropy", {{32, 10}, {10}}}),
             Contains("labels 'in1' [10] should be [32]"));
}
