// SPDX-License-Identifier: MIT
// Graphs in one machine run (runtime/graph/run/run.h) on tiny: every op the run supports, shapes
// that do not divide the mesh, layout ops, attention, convolution, spills to HBM, and the
// refusals. run_graph() compares every op's outputs with the host reference bit for bit and
// throws on a difference; these tests also compare a result with float64 computed here from
// the same inputs, so that the reference itself is checked. One machine per process: one
// run_graph() per test case.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <utility>

#include "hw/config/config_io.h"
#include "runtime/graph/io.h"
#include "runtime/graph/plan/plan.h"
#include "runtime/graph/run/run.h"
#include "runtime/graph/validate.h"
#include "tests/runtime/graph/graph_run_helpers.h"

using namespace dojosim;
using namespace dojosim::runtime;
namespace g = dojosim::runtime::graph;
namespace gr = dojosim::runtime::graph_run;
using namespace dojosim::test_graph;

namespace {

struct Ran {
  g::Graph graph;
  gr::GraphRun run;
};

Ran run_yaml(const std::string& yaml, const hw::HardwareConfig& config = tiny(),
             const gr::RunOptions& options = {}) {
  Ran r{g::parse_graph_yaml(yaml, "test.graph.yaml"), {}};
  const g::Analysis a = g::validate(r.graph);
  const g::Plan p = g::plan_graph(r.graph, a, config);
  r.run = gr::run_graph(config, r.graph, a, p, options);
  return r;
}

}  // namespace

namespace {

// A bf16 MLP with attention-shaped products: the matmuls' operands and results move through
// every path of the transfers (runtime/graph/run/transfer.h).
const char* const kMovesGraph = R"(version: 1
tensors:
  - {name: x, shape: [40, 72], dtype: bf16, role: input}
  - {name: w1, shape: [72, 96], dtype: bf16, role: weight}
  - {name: h, shape: [40, 96], dtype: bf16}
  - {name: r, shape: [40, 96], dtype: bf16}
  - {name: w2, shape: [40, 96], dtype: bf16, role: weight}
  - {name: y, shape: [40, 40], dtype: bf16}
  - {name: z, shape: [96, 96], dtype: bf16}
ops:
  - {name: fc1, type: matmul, inputs: [x, w1], outputs: [h]}
  - {name: act, type: relu, inputs: [h], outputs: [r]}
  - {name: fc2, type: matmul, inputs: [r, w2], outputs: [y], attributes: {transpose_b: true}}
  - {name: gram, type: matmul, inputs: [r, h], outputs: [z], attributes: {transpose_a: true}}
)";

Matrix moves_graph_output(gr::Staging staging) {
  gr::RunOptions options;
  options.staging = staging;
  const Ran r = run_yaml(kMovesGraph, tiny(), options);
  CHECK(r.run.checked);
  CHECK((r.run.moves.bytes_retiled > 0) == (staging == gr::Staging::Always));
  return r.run.outputs.at("y");
}

}  // namespace

TEST_CASE("Matmul operands staged in whole rows and re-tiled on their nodes: bit-exact") {
  CHECK(moves_graph_output(gr::Staging::Always).rows == 40);
}

TEST_CASE("A staged A fills its tiles by strided gathers, C is laid into rows by scatters") {
  gr::RunOptions options;
  options.staging = gr::Staging::Always;
  const Ran r = run_yaml(kMovesGraph, tiny(), options);
  CHECK(r.run.checked);
  // fc2's A (r, in SRAM) is re-tiled by gathers alone (its B comes from HBM into its tiles);
  // gram's A is r^T, copied element by element from its staged transpose, no gather.
  const gr::TransferStats& fc2 = op_named(r.run, "fc2").moves;
  CHECK(fc2.bytes_retiled > 0);
  CHECK(fc2.bytes_gathered == fc2.bytes_retiled);
  const gr::TransferStats& gram = op_named(r.run, "gram").moves;
  CHECK(gram.bytes_retiled > 0);
  CHECK(gram.bytes_gathered == 0);
  // Every C in tiles is laid into whole rows on its nodes before it moves (bit-exact: the
  // run's check).
  for (const char* op : {"fc1", "fc2", "gram"}) CHECK(op_named(r.run, op).moves.bytes_untiled > 0);
}

TEST_CASE("Matmul operands moved into their tiles directly: bit-exact") {
  CHECK(moves_graph_output(gr::Staging::Never).rows == 40);
}

// gram reads r^T from SRAM: directly, a DMA per element of A's tiles; staged, a DMA per run of
// r's rows, then a copy per element on each node (both bit-exact: the run's check). One
// machine run per process (SystemC), so each path is its own case.
namespace {
uint64_t gram_copies(gr::Staging staging) {
  gr::RunOptions options;
  options.staging = staging;
  const Ran r = run_yaml(kMovesGraph, tiny(), options);
  CHECK(r.run.checked);
  return op_named(r.run, "gram").moves.copies;
}
constexpr uint64_t kGramElements = 40 * 96;  // r^T
}  // namespace

TEST_CASE("A transposed operand moved into its tiles directly: a DMA per element") {
  CHECK(gram_copies(gr::Staging::Never) >= kGramElements);
}

TEST_CASE("A transposed operand filled through its transpose beside it: few DMAs") {
  // The op's DMAs for A, B and C together, fewer than half of what A alone takes directly.
  CHECK(gram_copies(gr::Staging::Always) * 2 < kGramElements);
}

// Both convolution gradients read transposed operands (w^T per tap for dx, im2col(x)^T or
// dy^T for dw) from SRAM: through their staged transposes, padding taps included, bit-exact.
const char* const kConvGradsInSram = R"(version: 1
tensors:
  - {name: x0, shape: [2, 7, 7, 3], dtype: bf16, role: input}
  - {name: w0, shape: [3, 3, 3, 4], dtype: bf16, role: weight}
  - {name: dy0, shape: [2, 4, 4, 4], dtype: bf16, role: input}
  - {name: x, shape: [2, 7, 7, 3], dtype: bf16}
  - {name: w, shape: [3, 3, 3, 4], dtype: bf16}
  - {name: dy, shape: [2, 4, 4, 4], dtype: bf16}
  - {name: dx, shape: [2, 7, 7, 3], dtype: bf16}
  - {name: dw, shape: [3, 3, 3, 4], dtype: bf16}
ops:
  - {name: rx, type: relu, inputs: [x0], outputs: [x]}
  - {name: rw, type: relu, inputs: [w0], outputs: [w]}
  - {name: rdy, type: relu, inputs: [dy0], outputs: [dy]}
  - {name: grad_x, type: conv2d_grad_input, inputs: [dy, w], outputs: [dx],
     attributes: {stride: 2, padding: 1, input_size: [7, 7]}}
  - {name: grad_w, type: conv2d_grad_weight, inputs: [x, dy], outputs: [dw],
     attributes: {stride: 2, padding: 1, kernel: 3}}
)";

TEST_CASE("Convolution gradients read their transposed operands through staged transposes") {
  gr::RunOptions options;
  options.staging = gr::Staging::Always;
  const Ran r = run_yaml(kConvGradsInSram, tiny(), options);
  CHECK(r.run.checked);
  CHECK(op_named(r.run, "grad_x").moves.bytes_retiled > 0);
  CHECK(op_named(r.run, "grad_w").moves.bytes_retiled > 0);
}

TEST_CASE("Convolution gradients read their transposed operands element by element") {
  gr::RunOptions options;
  options.staging = gr::Staging::Never;
  const Ran r = run_yaml(kConvGradsInSram, tiny(), options);
  CHECK(r.run.checked);
  CHECK(op_named(r.run, "grad_w").moves.bytes_retiled == 0);
}

// With SRAM cut so that x^T's staged copy does not fit beside what is resident (b lives past
// grad_w), the transpose is staged in bands, each band's DMAs then its copies: bit-exact.
TEST_CASE("A transposed operand staged in bands when SRAM is short") {
  const char* const yaml = R"(version: 1
tensors:
  - {name: x0, shape: [4, 16, 16, 64], dtype: bf16, role: input}
  - {name: b0, shape: [4, 16, 16, 320], dtype: bf16, role: input}
  - {name: dy0, shape: [4, 16, 16, 32], dtype: bf16, role: input}
  - {name: x, shape: [4, 16, 16, 64], dtype: bf16}
  - {name: b, shape: [4, 16, 16, 320], dtype: bf16}
  - {name: c, shape: [4, 16, 16, 320], dtype: bf16}
  - {name: dy, shape: [4, 16, 16, 32], dtype: bf16}
  - {name: dw, shape: [1, 1, 64, 32], dtype: bf16}
ops:
  - {name: rx, type: relu, inputs: [x0], outputs: [x]}
  - {name: rdy, type: relu, inputs: [dy0], outputs: [dy]}
  - {name: rb, type: relu, inputs: [b0], outputs: [b]}
  - {name: grad_w, type: conv2d_grad_weight, inputs: [x, dy], outputs: [dw],
     attributes: {kernel: 1}}
  - {name: ab, type: add, inputs: [b, b], outputs: [c]}
)";
  gr::RunOptions options;
  options.staging = gr::Staging::Always;
  const Ran r = run_yaml(yaml, tiny({"node.sram_bytes=229376"}), options);
  CHECK(r.run.checked);
  const auto& moves = op_named(r.run, "grad_w").moves;
  CHECK(moves.bands >= 2);
  CHECK(moves.bytes_retiled >= 4 * 16 * 16 * 64 * 2);  // all of x^T, band by band
}

TEST_CASE("An MLP block runs in one machine run, bit-exact, and close to float64") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [2, 10, 24], dtype: fp32, role: input}
  - {name: g, shape: [24], dtype: fp32, role: weight}
  - {name: b, shape: [24], dtype: fp32, role: weight}
  - {name: ln, shape: [2, 10, 24], dtype: fp32}
  - {name: w1, shape: [24, 36], dtype: fp32, role: weight}
  - {name: h, shape: [2, 10, 36], dtype: fp32}
  - {name: b1, shape: [36], dtype: fp32, role: weight}
  - {name: hb, shape: [2, 10, 36], dtype: fp32}
  - {name: r, shape: [2, 10, 36], dtype: fp32}
  - {name: w2, shape: [36, 24], dtype: fp32, role: weight}
  - {name: y, shape: [2, 10, 24], dtype: fp32}
  - {name: s, shape: [2, 10, 24], dtype: fp32}
  - {name: d, shape: [2, 10, 24], dtype: fp32}
  - {name: p, shape: [2, 10, 24], dtype: fp32}
ops:
  - {name: ln, type: layernorm, inputs: [x, g, b], outputs: [ln]}
  - {name: fc1, type: matmul, inputs: [ln, w1], outputs: [h]}
  - {name: bias1, type: bias_add, inputs: [h, b1], outputs: [hb]}
  - {name: act, type: relu, inputs: [hb], outputs: [r]}
  - {name: fc2, type: matmul, inputs: [r, w2], outputs: [y]}
  - {name: res, type: add, inputs: [y, x], outputs: [s]}
  - {name: diff, type: sub, inputs: [s, ln], outputs: [d]}
  - {name: sm, type: softmax, inputs: [d], outputs: [p]}
)";
  gr::RunOptions options;
  options.values["x"] = random_matrix(20, 24, 1);
  options.values["w1"] = random_matrix(24, 36, 2);
  options.values["w2"] = random_matrix(36, 24, 3);
  const Ran r = run_yaml(yaml, tiny(), options);
  CHECK(r.run.checked);
  REQUIRE(r.run.ops.size() == 8);
  CHECK(r.run.cycles == r.run.kernel_cycles + r.run.move_cycles);
  CHECK(r.run.kernel_cycles > 0);
  CHECK(r.run.moves.bytes_from_hbm > 0);  // the weights and x were loaded from HBM
  CHECK(op_named(r.run, "fc1").how != "");
  CHECK(op_named(r.run, "act").moves.cycles == 0);  // relu reads hb where bias1 left it
  REQUIRE(r.run.outputs.count("p"));
  const Matrix& p = r.run.outputs.at("p");
  REQUIRE(p.rows == 20);
  REQUIRE(p.cols == 24);

  // float64 from the same inputs, as the graph says (g and b are made up by the run: recompute
  // the part that does not depend on them: each softmax row sums to 1).
  for (uint32_t i = 0; i < p.rows; ++i) {
    double sum = 0;
    for (uint32_t j = 0; j < p.cols; ++j) sum += p.at(i, j);
    CHECK(sum == Approx(1.0).epsilon(1e-5));
  }
}

TEST_CASE("A bf16 graph on shapes that do not divide the mesh matches float64") {
  // y = relu(x w) with x [13, 40], w [40, 7]: 13 rows over 16 nodes, 7 columns.
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [13, 40], dtype: bf16, role: input}
  - {name: w, shape: [40, 7], dtype: bf16, role: weight}
  - {name: h, shape: [13, 7], dtype: bf16}
  - {name: y, shape: [13, 7], dtype: bf16}
ops:
  - {name: fc, type: matmul, inputs: [x, w], outputs: [h]}
  - {name: act, type: relu, inputs: [h], outputs: [y]}
)";
  gr::RunOptions options;
  const Matrix x = quantized(random_matrix(13, 40, 4), DType::Bf16, {});
  const Matrix w = quantized(random_matrix(40, 7, 5), DType::Bf16, {});
  options.values["x"] = x;
  options.values["w"] = w;
  const Ran r = run_yaml(yaml, tiny(), options);
  CHECK(r.run.checked);
  const Matrix& y = r.run.outputs.at("y");
  for (uint32_t i = 0; i < 13; ++i)
    for (uint32_t j = 0; j < 7; ++j) {
      double want = 0, mag = 0;
      for (uint32_t k = 0; k < 40; ++k) {
        want += double(x.at(i, k)) * w.at(k, j);
        mag += std::abs(double(x.at(i, k)) * w.at(k, j));
      }
      want = std::max(want, 0.0);
      // fp32 accumulation of 40 terms, then one bf16 rounding of the result.
      CHECK(std::abs(y.at(i, j) - want) <= std::ldexp(1.0, -8) * std::abs(want) + 1e-5 * mag);
    }
}

TEST_CASE("Layout ops move elements between nodes as the graph says") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [6, 20], dtype: fp32, role: input}
  - {name: x0, shape: [6, 20], dtype: fp32}
  - {name: a, shape: [6, 8], dtype: fp32}
  - {name: b, shape: [6, 12], dtype: fp32}
  - {name: heads, shape: [6, 3, 4], dtype: fp32}
  - {name: ht, shape: [3, 6, 4], dtype: fp32}
  - {name: flat, shape: [3, 24], dtype: fp32}
  - {name: both, shape: [6, 20], dtype: fp32}
  - {name: rows, shape: [12, 8], dtype: fp32}
  - {name: tr, shape: [24, 3], dtype: fp32}
  - {name: x3, shape: [2, 3, 20], dtype: fp32}
ops:
  - {name: copy, type: relu, inputs: [x], outputs: [x0]}
  - {name: cut, type: split, inputs: [x0], outputs: [a, b], attributes: {axis: -1, sizes: [8, 12]}}
  - {name: view, type: reshape, inputs: [b], outputs: [heads], attributes: {shape: [6, 3, 4]}}
  - {name: swap, type: transpose, inputs: [heads], outputs: [ht], attributes: {perm: [1, 0, 2]}}
  - {name: merge, type: reshape, inputs: [ht], outputs: [flat], attributes: {shape: [3, 24]}}
  - {name: join, type: concat, inputs: [a, b], outputs: [both], attributes: {axis: 1}}
  - {name: stack, type: concat, inputs: [a, a], outputs: [rows], attributes: {axis: 0}}
  - {name: turn, type: transpose, inputs: [flat], outputs: [tr], attributes: {perm: [1, 0]}}
  - {name: same, type: reshape, inputs: [x0], outputs: [x3], attributes: {shape: [2, 3, 20]}}
)";
  gr::RunOptions options;
  Matrix x = random_matrix(6, 20, 6);
  for (float& v : x.values) v = std::abs(v);  // relu keeps them
  options.values["x"] = x;
  const Ran r = run_yaml(yaml, tiny(), options);
  CHECK(r.run.checked);
  CHECK(op_named(r.run, "view").how == "redistribution");  // [6, 12] -> [6, 3, 4]: new columns
  CHECK(op_named(r.run, "same").how == "view");            // [6, 20] -> [2, 3, 20]: the same matrix
  CHECK(op_named(r.run, "same").cycles == 0);
  CHECK(r.run.outputs.at("x3").values == x.values);
  const Matrix &both = r.run.outputs.at("both"), &rows = r.run.outputs.at("rows"),
               &tr = r.run.outputs.at("tr");
  CHECK(both.values == x.values);  // split then concat along the same axis
  for (uint32_t i = 0; i < 6; ++i)
    for (uint32_t j = 0; j < 8; ++j) {
      CHECK(rows.at(i, j) == x.at(i, j));
      CHECK(rows.at(i + 6, j) == x.at(i, j));
    }
  // flat[h][s*4 + d] = b[s][h*4 + d] = x[s][8 + h*4 + d]; tr is flat transposed.
  for (uint32_t h = 0; h < 3; ++h)
    for (uint32_t s = 0; s < 6; ++s)
      for (uint32_t d = 0; d < 4; ++d) CHECK(tr.at(s * 4 + d, h) == x.at(s, 8 + h * 4 + d));
  CHECK(r.run.moves.bytes_between_nodes > 0);
}

TEST_CASE("Attention: batched matmuls with a transposed operand and a causal softmax") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: q, shape: [2, 9, 8], dtype: bf16, role: input}
  - {name: k, shape: [2, 9, 8], dtype: bf16, role: input}
  - {name: v, shape: [2, 9, 8], dtype: bf16, role: input}
  - {name: s, shape: [2, 9, 9], dtype: bf16}
  - {name: p, shape: [2, 9, 9], dtype: bf16}
  - {name: o, shape: [2, 9, 8], dtype: bf16}
ops:
  - {name: scores, type: batch_matmul, inputs: [q, k], outputs: [s],
     attributes: {transpose_b: true}}
  - {name: probs, type: softmax, inputs: [s], outputs: [p],
     attributes: {causal: true, scale: 0.35355339}}
  - {name: context, type: batch_matmul, inputs: [p, v], outputs: [o]}
)";
  const Ran r = run_yaml(yaml);
  CHECK(r.run.checked);
  CHECK(op_named(r.run, "scores").how.rfind("2 x ", 0) == 0);  // one product per head
  const Matrix& o = r.run.outputs.at("o");
  CHECK(o.rows == 18);
  CHECK(o.cols == 8);
}

TEST_CASE("Broadcasts: a scalar, and a mask over the trailing axes, as captured attention has") {
  // scores [2, 3, 5, 5] x 0.125 + mask [5, 5]: the scale a one-element weight, the mask a host
  // tensor repeated over the two leading axes. fp32, so the result is exact here.
  const std::string yaml = R"(version: 1
tensors:
  - {name: s, shape: [2, 3, 5, 5], dtype: fp32, role: input}
  - {name: scale, shape: [], dtype: fp32, role: weight}
  - {name: mask, shape: [5, 5], dtype: fp32, role: weight}
  - {name: scaled, shape: [2, 3, 5, 5], dtype: fp32}
  - {name: masked, shape: [2, 3, 5, 5], dtype: fp32}
ops:
  - {name: mul, type: mul, inputs: [s, scale], outputs: [scaled]}
  - {name: add, type: add, inputs: [scaled, mask], outputs: [masked]}
)";
  gr::RunOptions options;
  options.values["s"] = random_matrix(30, 5, 3);
  options.values["mask"] = random_matrix(5, 5, 4);
  options.values["scale"] = Matrix(1, 1);
  options.values["scale"].values[0] = 0.125f;
  const Ran r = run_yaml(yaml, tiny(), options);
  CHECK(r.run.checked);
  const Matrix& out = r.run.outputs.at("masked");
  const Matrix &s = options.values["s"], &mask = options.values["mask"];
  for (uint32_t row = 0; row < 30; ++row)
    for (uint32_t c = 0; c < 5; ++c)
      REQUIRE(out.at(row, c) == s.at(row, c) * 0.125f + mask.at(row % 5, c));
}

namespace {

// A 3x3 convolution's output y [N P Q, K] against the direct convolution in float64, from x
// [N H W, C] and w [3 3 C/G, K] with `groups` groups: fp32 accumulation of at most 3 x 3 x C/G
// terms, within 48 units of 2^-24 of their magnitudes.
struct Conv3x3 {
  uint32_t n, h, w, c, k, p, q, groups = 1;
  int stride = 1, pad = 0, dilation_w = 1;
};
void check_conv3x3(const Matrix& y, const Matrix& x, const Matrix& w, const Conv3x3& s) {
  REQUIRE(y.rows == s.n * s.p * s.q);
  const uint32_t cg = s.c / s.groups, kg = s.k / s.groups;
  for (uint32_t n = 0; n < s.n; ++n)
    for (uint32_t p = 0; p < s.p; ++p)
      for (uint32_t q = 0; q < s.q; ++q)
        for (uint32_t k = 0; k < s.k; ++k) {
          double want = 0, mag = 0;
          for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j) {
              const int h = int(p) * s.stride - s.pad + i;
              const int wi = int(q) * s.stride - s.pad + j * s.dilation_w;
              if (h < 0 || h >= int(s.h) || wi < 0 || wi >= int(s.w)) continue;
              for (uint32_t c = 0; c < cg; ++c) {
                const double t =
                    double(x.at((n * s.h + uint32_t(h)) * s.w + uint32_t(wi), k / kg * cg + c)) *
                    w.at((uint32_t(i) * 3 + uint32_t(j)) * cg + c, k);
                want += t;
                mag += std::abs(t);
              }
            }
          CHECK(std::abs(y.at((n * s.p + p) * s.q + q, k) - want) <=
                48 * std::ldexp(1.0, -24) * mag);
        }
}

}  // namespace

TEST_CASE("conv2d runs as im2col pushes and a matmul, padding and stride included") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [2, 7, 7, 5], dtype: fp32, role: input}
  - {name: w, shape: [3, 3, 5, 6], dtype: fp32, role: weight}
  - {name: y, shape: [2, 4, 4, 6], dtype: fp32}
  - {name: w2, shape: [1, 1, 5, 4], dtype: fp32, role: weight}
  - {name: z, shape: [2, 7, 7, 4], dtype: fp32}
ops:
  - {name: conv, type: conv2d, inputs: [x, w], outputs: [y], attributes: {stride: 2, padding: 1}}
  - {name: pointwise, type: conv2d, inputs: [x, w2], outputs: [z]}
)";
  gr::RunOptions options;
  const Matrix x = random_matrix(2 * 7 * 7, 5, 7), w = random_matrix(3 * 3 * 5, 6, 8);
  options.values["x"] = x;
  options.values["w"] = w;
  const Ran r = run_yaml(yaml, tiny(), options);
  CHECK(r.run.checked);
  CHECK(r.run.outputs.at("z").rows == 2 * 7 * 7);
  check_conv3x3(r.run.outputs.at("y"), x, w, {2, 7, 7, 5, 6, 4, 4, 1, 2, 1, 1});
}

TEST_CASE("Grouped and depthwise conv2d: one im2col and matmul per group, against float64") {
  // x [1, 6, 5, 6]; `grouped`: 2 groups of 3 channels to 2 x 2 outputs, 3x3, padding 1, dilation
  // 2 on the width; `depthwise`: 6 groups of one channel, 3x3, stride 2.
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [1, 6, 5, 6], dtype: fp32, role: input}
  - {name: wg, shape: [3, 3, 3, 4], dtype: fp32, role: weight}
  - {name: yg, shape: [1, 6, 3, 4], dtype: fp32}
  - {name: wd, shape: [3, 3, 1, 6], dtype: fp32, role: weight}
  - {name: yd, shape: [1, 2, 2, 6], dtype: fp32}
ops:
  - {name: grouped, type: conv2d, inputs: [x, wg], outputs: [yg],
     attributes: {groups: 2, padding: 1, dilation: [1, 2]}}
  - {name: depthwise, type: conv2d, inputs: [x, wd], outputs: [yd],
     attributes: {groups: 6, stride: 2}}
)";
  gr::RunOptions options;
  const Matrix x = random_matrix(6 * 5, 6, 11);
  options.values["x"] = x;
  options.values["wg"] = random_matrix(3 * 3 * 3, 4, 12);
  options.values["wd"] = random_matrix(3 * 3 * 1, 6, 13);
  const Ran r = run_yaml(yaml, tiny(), options);
  CHECK(r.run.checked);
  CHECK(op_named(r.run, "depthwise").how.rfind("6 groups x ", 0) == 0);
  check_conv3x3(r.run.outputs.at("yg"), x, options.values["wg"], {1, 6, 5, 6, 4, 6, 3, 2, 1, 1, 2});
  check_conv3x3(r.run.outputs.at("yd"), x, options.values["wd"], {1, 6, 5, 6, 6, 2, 2, 6, 2, 0, 1});
}

TEST_CASE("A small convolutional network: conv, relu, max pool, global average pool, classifier") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: image, shape: [2, 9, 9, 3], dtype: bf16, role: input}
  - {name: w1, shape: [3, 3, 3, 16], dtype: bf16, role: weight}
  - {name: c1, shape: [2, 9, 9, 16], dtype: bf16}
  - {name: r1, shape: [2, 9, 9, 16], dtype: bf16}
  - {name: p1, shape: [2, 5, 5, 16], dtype: bf16}
  - {name: a1, shape: [2, 5, 5, 16], dtype: bf16}
  - {name: g, shape: [2, 16], dtype: bf16}
  - {name: fc.w, shape: [16, 10], dtype: bf16, role: weight}
  - {name: logits, shape: [2, 10], dtype: bf16}
  - {name: act, shape: [2, 10], dtype: bf16}
ops:
  - {name: conv, type: conv2d, inputs: [image, w1], outputs: [c1], attributes: {padding: 1}}
  - {name: relu, type: relu, inputs: [c1], outputs: [r1]}
  - {name: pool, type: max_pool, inputs: [r1], outputs: [p1],
     attributes: {kernel: 3, stride: 2, padding: 1}}
  - {name: smooth, type: avg_pool, inputs: [p1], outputs: [a1], attributes: {kernel: 3, padding: 1}}
  - {name: gap, type: global_avg_pool, inputs: [a1], outputs: [g]}
  - {name: fc, type: matmul, inputs: [g, fc.w], outputs: [logits]}
  - {name: gelu, type: gelu, inputs: [logits], outputs: [act], attributes: {approximate: tanh}}
)";
  const Ran r = run_yaml(yaml);
  CHECK(r.run.checked);
  const Matrix& act = r.run.outputs.at("act");
  CHECK(act.rows == 2);
  CHECK(act.cols == 10);
  CHECK(op_named(r.run, "gap").kernel_cycles > 0);
}

TEST_CASE("Token embedding, then a layer: ids pull their rows from HBM") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: ids, shape: [3, 7], dtype: int32, role: input}
  - {name: table, shape: [50, 24], dtype: bf16, role: weight}
  - {name: e, shape: [3, 7, 24], dtype: bf16}
  - {name: w, shape: [24, 16], dtype: bf16, role: weight}
  - {name: y, shape: [3, 7, 16], dtype: bf16}
ops:
  - {name: embed, type: embedding, inputs: [ids, table], outputs: [e]}
  - {name: fc, type: matmul, inputs: [e, w], outputs: [y]}
)";
  gr::RunOptions options;
  Matrix ids(3, 7);
  for (uint32_t i = 0; i < 21; ++i) ids.values[i] = float((i * 17) % 50);
  options.values["ids"] = ids;
  const Matrix table = quantized(random_matrix(50, 24, 9), DType::Bf16, {});
  options.values["table"] = table;
  const Ran r = run_yaml(yaml, tiny(), options);
  CHECK(r.run.checked);
  CHECK(op_named(r.run, "embed").how == "pulls from HBM");
  CHECK(r.run.outputs.at("y").rows == 21);
}

TEST_CASE("A residual block with batchnorm: conv, batchnorm, relu, conv, batchnorm, add") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [2, 6, 6, 8], dtype: bf16, role: input}
  - {name: w1, shape: [3, 3, 8, 8], dtype: bf16, role: weight}
  - {name: c1, shape: [2, 6, 6, 8], dtype: bf16}
  - {name: s1, shape: [8], dtype: fp32, role: weight}
  - {name: b1, shape: [8], dtype: fp32, role: weight}
  - {name: m1, shape: [8], dtype: fp32, role: weight}
  - {name: v1, shape: [8], dtype: fp32, role: weight}
  - {name: n1, shape: [2, 6, 6, 8], dtype: bf16}
  - {name: r1, shape: [2, 6, 6, 8], dtype: bf16}
  - {name: w2, shape: [1, 1, 8, 8], dtype: bf16, role: weight}
  - {name: c2, shape: [2, 6, 6, 8], dtype: bf16}
  - {name: n2, shape: [2, 6, 6, 8], dtype: bf16}
  - {name: y, shape: [2, 6, 6, 8], dtype: bf16}
ops:
  - {name: conv1, type: conv2d, inputs: [x, w1], outputs: [c1], attributes: {padding: 1}}
  - {name: bn1, type: batchnorm, inputs: [c1, s1, b1, m1, v1], outputs: [n1]}
  - {name: relu1, type: relu, inputs: [n1], outputs: [r1]}
  - {name: conv2, type: conv2d, inputs: [r1, w2], outputs: [c2]}
  - {name: bn2, type: batchnorm, inputs: [c2, s1, b1, m1, v1], outputs: [n2]}
  - {name: res, type: add, inputs: [n2, x], outputs: [y]}
)";
  const Ran r = run_yaml(yaml);
  CHECK(r.run.checked);
  CHECK(r.run.outputs.at("y").rows == 72);
}

TEST_CASE("Tensors spill to HBM when SRAM is short, and come back bit-exact") {
  // [64, 768] fp32 over 16 nodes: 12 KiB per node per tensor; tiny with 168 KiB of SRAM leaves
  // 40 KiB for tensors (programs, transfer tables and stacks take the rest). t0 is read again by
  // the last op, so it must leave for t3.
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [64, 768], dtype: fp32, role: input}
  - {name: t0, shape: [64, 768], dtype: fp32}
  - {name: t1, shape: [64, 768], dtype: fp32}
  - {name: t2, shape: [64, 768], dtype: fp32}
  - {name: t3, shape: [64, 768], dtype: fp32}
  - {name: y, shape: [64, 768], dtype: fp32}
ops:
  - {name: r0, type: relu, inputs: [x], outputs: [t0]}
  - {name: r1, type: relu, inputs: [t0], outputs: [t1]}
  - {name: r2, type: relu, inputs: [t1], outputs: [t2]}
  - {name: r3, type: add, inputs: [t2, t1], outputs: [t3]}
  - {name: last, type: add, inputs: [t3, t0], outputs: [y]}
)";
  const Ran r = run_yaml(yaml, tiny({"node.sram_bytes=172032"}));
  CHECK(r.run.checked);
  CHECK(op_named(r.run, "r3").spilled == std::vector<std::string>{"t0"});
  CHECK(op_named(r.run, "last").moves.bytes_from_hbm == 64 * 768 * 4);  // t0 back
  CHECK(r.run.moves.bytes_to_hbm == 64 * 768 * 4);
}

TEST_CASE("The docs' MLP with its cross-entropy loss runs end to end, bit-exact") {
  // tests/runtime/graph/data/mlp.graph.json is docs/graphs.md's example (test_graph checks it).
  const std::string file =
      std::string(DOJOSIM_SOURCE_DIR) + "/tests/runtime/graph/data/mlp.graph.json";
  const hw::HardwareConfig config = tiny();
  const g::Graph graph = g::load_graph(file);
  const g::Analysis a = g::validate(graph);
  const g::Plan p = g::plan_graph(graph, a, config);
  const gr::GraphRun r = gr::run_graph(config, graph, a, p, {});
  CHECK(r.checked);
  REQUIRE(r.ops.size() == 6);
  const gr::OpRun& loss = op_named(r, "loss");
  CHECK(loss.kernel_cycles > 0);
  CHECK(loss.moves.cycles == 0);  // the logits are read where fc2.bias left them
  REQUIRE(r.outputs.count("loss"));
  const Matrix& l = r.outputs.at("loss");
  REQUIRE(l.rows == 1);
  REQUIRE(l.cols == 1);
  // Made-up weights scaled by 1/sqrt(fan in) give small logits: the mean loss is near log 10.
  CHECK(l.at(0, 0) > 1.5f);
  CHECK(l.at(0, 0) < 3.5f);
}

namespace {

// The cross-entropy of given [3, 7, 45] logits and labels in a graph run, and its float64 value.
std::pair<float, double> cross_entropy_graph(const std::string& reduction) {
  const std::string yaml =
      "version: 1\ntensors:\n"
      "  - {name: x, shape: [3, 7, 45], dtype: fp32, role: input}\n"
      "  - {name: labels, shape: [3, 7], dtype: int32, role: input}\n"
      "  - {name: loss, shape: [], dtype: fp32}\nops:\n"
      "  - {name: xent, type: softmax_cross_entropy, inputs: [x, labels], outputs: [loss],"
      " attributes: {reduction: " +
      reduction + "}}\n";
  gr::RunOptions options;
  Matrix x = random_matrix(21, 45, 4), labels(3, 7);
  for (float& v : x.values) v *= 6.0f;
  for (uint32_t i = 0; i < 21; ++i) labels.values[i] = float((i * 13) % 45);
  options.values["x"] = x;
  options.values["labels"] = labels;
  double want = 0;
  for (uint32_t r = 0; r < 21; ++r) {
    double mx = -INFINITY, sum = 0;
    for (uint32_t c = 0; c < 45; ++c) mx = std::max(mx, double(x.at(r, c)));
    for (uint32_t c = 0; c < 45; ++c) sum += std::exp(x.at(r, c) - mx);
    want += std::log(sum) + mx - x.at(r, uint32_t(labels.values[r]));
  }
  const Ran r = run_yaml(yaml, tiny(), options);
  CHECK(r.run.checked);
  return {r.run.outputs.at("loss").at(0, 0), reduction == "mean" ? want / 21 : want};
}

}  // namespace

TEST_CASE("The cross-entropy of given logits and labels equals float64: the mean") {
  const auto [got, want] = cross_entropy_graph("mean");
  CHECK(got == Approx(want).epsilon(1e-5));
}

TEST_CASE("The cross-entropy of given logits and labels equals float64: the sum") {
  const auto [got, want] = cross_entropy_graph("sum");
  CHECK(got == Approx(want).epsilon(1e-5));
}

TEST_CASE("A bf16 loss of rows split over several nodes, made-up labels, the sum") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [2, 300], dtype: bf16, role: input}
  - {name: labels, shape: [2], dtype: int32, role: input}
  - {name: loss, shape: [], dtype: bf16}
ops:
  - {name: xent, type: softmax_cross_entropy, inputs: [x, labels], outputs: [loss],
     attributes: {reduction: sum}}
)";
  const Ran r = run_yaml(yaml);
  CHECK(r.run.checked);
  CHECK(op_named(r.run, "xent").how == "simd rows, 8 nodes per row");
  // Two rows of 300 made-up logits in [-1, 1]: each loss is near log 300.
  CHECK(r.run.outputs.at("loss").at(0, 0) == Approx(2 * std::log(300.0)).epsilon(0.1));
}

TEST_CASE("Labels outside 0 to C - 1 are refused before the run, naming the tensor") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [4, 10], dtype: bf16, role: input}
  - {name: labels, shape: [4], dtype: int32, role: input}
  - {name: loss, shape: [], dtype: bf16}
ops:
  - {name: xent, type: softmax_cross_entropy, inputs: [x, labels], outputs: [loss]}
)";
  gr::RunOptions options;
  Matrix labels(1, 4);
  labels.values = {0, 9, -1, 3};
  options.values["labels"] = labels;
  CHECK_THROWS_WITH(run_yaml(yaml, tiny(), options),
                    "test.graph.yaml:4: tensor 'labels' (labels of op 'xent'): label -1 at row 2 "
                    "is out of range: expected 0 <= label < C = 10");
}

TEST_CASE("Ops the run cannot run yet are refused before the simulation") {
  const auto refused = [](const std::string& first_op) {
    const std::string yaml =
        "version: 1\ntensors:\n"
        "  - {name: x, shape: [4, 8], dtype: fp32, role: input}\n"
        "  - {name: v, shape: [4, 1], dtype: fp32, role: input}\n"
        "  - {name: y, shape: [4, 8], dtype: fp32}\n"
        "  - {name: z, shape: [4, 8], dtype: fp32}\nops:\n" +
        first_op + "  - {name: b, type: add, inputs: [y, v], outputs: [z]}\n";
    const g::Graph graph = g::parse_graph_yaml(yaml, "test.graph.yaml");
    const g::Analysis a = g::validate(graph);
    try {
      gr::check_runnable(graph, a);
    } catch (const g::GraphError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK_THAT(refused("  - {name: act, type: silu, inputs: [x], outputs: [y]}\n"),
             Catch::StartsWith("test.graph.yaml:9: op 'b' (add)"));  // silu runs; b does not
  CHECK(refused("  - {name: act, type: relu, inputs: [x], outputs: [y]}\n") ==
        "test.graph.yaml:9: op 'b' (add): tensor 'v' [4, 1] broadcast over 'y' [4, 8]: a run "
        "takes equal shapes, one element or the trailing axes of the first");
  // A SIMD op that would change the dtype (the validator allows it; the kernels do not).
  const g::Graph widening = g::parse_graph_yaml(
      "version: 1\ntensors:\n  - {name: x, shape: [4, 8], dtype: bf16, role: input}\n"
      "  - {name: y, shape: [4, 8], dtype: fp32}\nops:\n"
      "  - {name: r, type: relu, inputs: [x], outputs: [y]}\n",
      "w.graph.yaml");
  CHECK_THROWS_WITH(gr::check_runnable(widening, g::validate(widening)),
                    "w.graph.yaml:6: op 'r' (relu): output 'y' is fp32 and input 'x' bf16: a run "
                    "keeps the input's dtype through this op (a conversion in it is not run yet)");
}

namespace {

// data/prefetch.graph.yaml (act, a gelu, then fc, a matmul on a 256 x 512 bf16 weight) on tiny,
// with or without the weight prefetch.
gr::GraphRun prefetch_graph_run(bool prefetch) {
  const hw::HardwareConfig config = tiny();
  const g::Graph graph = g::load_graph(std::string(DOJOSIM_SOURCE_DIR) +
                                       "/tests/runtime/graph/data/prefetch.graph.yaml");
  const g::Analysis a = g::validate(graph);
  gr::RunOptions options;
  options.prefetch = prefetch;
  return gr::run_graph(config, graph, a, g::plan_graph(graph, a, config), options);
}

constexpr const char* kPrefetchOff = "prefetch figures without the prefetch (for the case below)";

}  // namespace

// One machine per process: the case below runs this one in a process of its own.
TEST_CASE(kPrefetchOff, "[.]") {
  const gr::GraphRun r = prefetch_graph_run(false);
  REQUIRE(r.checked);
  const gr::OpRun& fc = op_named(r, "fc");
  std::printf("prefetch off: cycles %llu act %llu fc_moves %llu fc_prefetch %llu\n",
              (unsigned long long)r.cycles, (unsigned long long)op_named(r, "act").cycles,
              (unsigned long long)fc.moves.cycles, (unsigned long long)fc.prefetch_bytes);
}

TEST_CASE(
    "A matmul's weight loaded during the op before: the run is shorter than without, bit-exact") {
  // Without: run in a process of its own (this binary, the hidden case above).
  char self[4096] = {};
  REQUIRE(readlink("/proc/self/exe", self, sizeof self - 1) > 0);
  const std::string command = "'" + std::string(self) + "' \"" + kPrefetchOff + "\"";
  FILE* child = popen(command.c_str(), "r");
  REQUIRE(child);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, child)) out += buf;
  REQUIRE(pclose(child) == 0);
  unsigned long long off = 0, off_act = 0, off_moves = 0, off_prefetch = 1;
  const size_t at = out.find("prefetch off:");
  REQUIRE(at != std::string::npos);
  REQUIRE(std::sscanf(out.c_str() + at,
                      "prefetch off: cycles %llu act %llu fc_moves %llu fc_prefetch %llu", &off,
                      &off_act, &off_moves, &off_prefetch) == 4);
  CHECK(off_prefetch == 0);

  const gr::GraphRun r = prefetch_graph_run(true);
  CHECK(r.checked);  // every op bit for bit against the reference, as without
  const gr::OpRun &act = op_named(r, "act"), &fc = op_named(r, "fc");
  // The whole weight, 256 x 512 bf16, came in during act: act's kernel hid part of its load,
  // and fc's moves are shorter by about as much; the graph too.
  CHECK(fc.prefetch_bytes == 256 * 512 * 2);
  CHECK(r.prefetch_bytes == fc.prefetch_bytes);
  CHECK(fc.prefetch_hidden_cycles > 0);
  CHECK(fc.prefetch_hidden_cycles <= act.kernel_cycles);
  INFO("with: " << r.cycles << " cycles, fc moves " << fc.moves.cycles << ", hidden "
                << fc.prefetch_hidden_cycles << "; without: " << off << ", fc moves " << off_moves);
  CHECK(act.cycles == off_act);
  CHECK(off_moves >= fc.moves.cycles + fc.prefetch_hidden_cycles / 2);
  CHECK(off >= r.cycles + fc.prefetch_hidden_cycles / 2);
}
