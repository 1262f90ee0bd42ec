// SPDX-License-Identifier: MIT
// The backward ops of convolution and pooling (runtime/graph/ops.def) in graph runs on tiny:
// run_graph() checks every output against the host reference bit for bit and against its float64
// reference within the bound; these tests also compute each gradient here, in double, from its
// definition (a direct sum, not the runner's matmul), and check the machine's values against
// it. One machine per process: one run_graph() per test case.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>

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

// The forward convolution x [N, H, W, C] * w [R, S, C/G, K] -> [N, P, Q, K].
struct Conv {
  int n, h, w, c, k, r, s, groups = 1;
  int stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
  int p() const { return (h + 2 * pad_h - dil_h * (r - 1) - 1) / stride_h + 1; }
  int q() const { return (w + 2 * pad_w - dil_w * (s - 1) - 1) / stride_w + 1; }
  std::string attributes() const {
    return "{stride: [" + std::to_string(stride_h) + ", " + std::to_string(stride_w) +
           "], padding: [" + std::to_string(pad_h) + ", " + std::to_string(pad_w) +
           "], dilation: [" + std::to_string(dil_h) + ", " + std::to_string(dil_w) +
           "], groups: " + std::to_string(groups);
  }
};

std::string shape(std::initializer_list<int> s) {
  std::string out = "[";
  for (int v : s) out += (out.size() > 1 ? ", " : "") + std::to_string(v);
  return out + "]";
}

// A graph of dx = conv2d_grad_input(dy, w) and dw = conv2d_grad_weight(x, dy).
std::string grads_graph(const Conv& v, const std::string& dtype) {
  const std::string t = ", dtype: " + dtype;
  return "version: 1\ntensors:\n"
         "  - {name: x, shape: " +
         shape({v.n, v.h, v.w, v.c}) + t +
         ", role: input}\n  - {name: w, shape: " + shape({v.r, v.s, v.c / v.groups, v.k}) + t +
         ", role: weight}\n  - {name: dy, shape: " + shape({v.n, v.p(), v.q(), v.k}) + t +
         ", role: input}\n  - {name: dx, shape: " + shape({v.n, v.h, v.w, v.c}) + t +
         "}\n  - {name: dw, shape: " + shape({v.r, v.s, v.c / v.groups, v.k}) + t +
         "}\nops:\n"
         "  - {name: grad_x, type: conv2d_grad_input, inputs: [dy, w], outputs: [dx], "
         "attributes: " +
         v.attributes() + ", input_size: " + shape({v.h, v.w}) +
         "}}\n"
         "  - {name: grad_w, type: conv2d_grad_weight, inputs: [x, dy], outputs: [dw], "
         "attributes: " +
         v.attributes() + ", kernel: " + shape({v.r, v.s}) + "}}\n";
}

// |got - want| within the error of summing `terms` products in fp32 (each product of two values
// of the dtype exact in fp32), and of one more rounding to bf16.
void check_close(float got, double want, double magnitude, int terms, DType dtype) {
  const double u = std::ldexp(1.0, -24);
  double bound = (terms + 1) * u * magnitude;
  if (dtype == DType::Bf16) bound += std::ldexp(1.0, -8) * (std::abs(want) + bound);
  CHECK(std::abs(double(got) - want) <= bound);
}

// dx and dw of the graph run against their definitions in double:
//   dx[n, h, w, c] = sum over taps (i, j) and k of c's group of dy[n, p, q, k] w[i, j, c % C/G, k]
//                    where h = p stride_h - pad_h + i dil_h (w alike);
//   dw[i, j, c, k] = sum over n, p, q of x[n, h, w, c of k's group] dy[n, p, q, k].
void check_grads(const Conv& v, DType dtype, uint64_t seed) {
  const int p = v.p(), q = v.q(), cg = v.c / v.groups, kg = v.k / v.groups;
  const Matrix x = random_matrix(uint32_t(v.n * v.h * v.w), uint32_t(v.c), seed, dtype);
  const Matrix w = random_matrix(uint32_t(v.r * v.s * cg), uint32_t(v.k), seed + 1, dtype);
  const Matrix dy = random_matrix(uint32_t(v.n * p * q), uint32_t(v.k), seed + 2, dtype);
  gr::RunOptions options;
  options.values = {{"x", x}, {"w", w}, {"dy", dy}};
  const gr::GraphRun r =
      run_graph_text(grads_graph(v, dtype == DType::Bf16 ? "bf16" : "fp32"), options);
  REQUIRE(r.checked);  // bit for bit the host reference, within the runner's float64 bound
  CHECK(op_named(r, "grad_x").bound_used <= 1.0);
  CHECK(op_named(r, "grad_w").bound_used <= 1.0);
  if (v.groups > 1)
    CHECK(op_named(r, "grad_x").how.rfind(std::to_string(v.groups) + " groups x ", 0) == 0);
  const Matrix &dx = r.outputs.at("dx"), &dw = r.outputs.at("dw");
  REQUIRE(dx.rows == uint32_t(v.n * v.h * v.w));
  REQUIRE(dw.rows == uint32_t(v.r * v.s * cg));
  std::vector<double> dx_want(dx.values.size()), dx_mag(dx.values.size());
  std::vector<double> dw_want(dw.values.size()), dw_mag(dw.values.size());
  for (int n = 0; n < v.n; ++n)
    for (int y = 0; y < p; ++y)
      for (int xo = 0; xo < q; ++xo)
        for (int i = 0; i < v.r; ++i)
          for (int j = 0; j < v.s; ++j) {
            const int h = y * v.stride_h - v.pad_h + i * v.dil_h;
            const int wi = xo * v.stride_w - v.pad_w + j * v.dil_w;
            if (h < 0 || h >= v.h || wi < 0 || wi >= v.w) continue;
            for (int k = 0; k < v.k; ++k)
              for (int cl = 0; cl < cg; ++cl) {
                const int c = k / kg * cg + cl;
                const double d = dy.at(uint32_t((n * p + y) * q + xo), uint32_t(k));
                const double wv = w.at(uint32_t((i * v.s + j) * cg + cl), uint32_t(k));
                const double xv = x.at(uint32_t((n * v.h + h) * v.w + wi), uint32_t(c));
                const size_t at_x = size_t((n * v.h + h) * v.w + wi) * size_t(v.c) + size_t(c);
                const size_t at_w = size_t((i * v.s + j) * cg + cl) * size_t(v.k) + size_t(k);
                dx_want[at_x] += d * wv, dx_mag[at_x] += std::abs(d * wv);
                dw_want[at_w] += xv * d, dw_mag[at_w] += std::abs(xv * d);
              }
          }
  for (size_t e = 0; e < dx_want.size(); ++e)
    check_close(dx.values[e], dx_want[e], dx_mag[e], v.r * v.s * kg, dtype);
  for (size_t e = 0; e < dw_want.size(); ++e)
    check_close(dw.values[e], dw_want[e], dw_mag[e], v.n * p * q, dtype);
}

}  // namespace

TEST_CASE("conv2d gradients of a 3x3 layer of stride 2 and padding 1 equal their definition") {
  check_grads({2, 7, 7, 3, 4, 3, 3, 1, 2, 2, 1, 1}, DType::Fp32, 21);
}

TEST_CASE(
    "A weight gradient of many taps and few output channels, as dw^T, equals its definition") {
  // 72 taps against 2 output channels: dw^T = dy^T im2col(x), written back transposed.
  check_grads({2, 6, 6, 8, 2, 3, 3, 1, 1, 1, 1, 1}, DType::Fp32, 51);
}

TEST_CASE("The same in 2 groups, bf16: each group's dw^T lands in its own columns") {
  check_grads({2, 6, 6, 8, 4, 3, 3, 2, 1, 1, 1, 1}, DType::Bf16, 52);
}

TEST_CASE("Grouped conv2d gradients, uneven sizes, stride and dilation per axis, in bf16") {
  // x [1, 6, 5, 4] in 2 groups to 6 channels; a stride of 2 down and a dilation of 2 across.
  check_grads({1, 6, 5, 4, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2}, DType::Bf16, 31);
}

TEST_CASE("Depthwise conv2d gradients (groups = C, a multiplier of 2) equal their definition") {
  check_grads({2, 5, 5, 4, 8, 3, 3, 4, 2, 2, 1, 1}, DType::Fp32, 41);
}

TEST_CASE("conv2d's input gradient is exactly 0 where no window reads the input") {
  // 3x3 windows of stride 2 without padding over 8 x 6: the last row and column are never read,
  // so dx is 0 there (the bound of an empty sum is 0: the check is exact).
  check_grads({1, 8, 6, 5, 3, 3, 3, 1, 2, 2, 0, 0}, DType::Fp32, 91);
}

TEST_CASE("conv2d gradients name the tensor and what a conv2d of these attributes gives") {
  const auto message = [](const std::string& yaml) {
    try {
      g::validate(g::parse_graph_yaml(yaml, "g.graph.yaml"));
    } catch (const g::GraphError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string tensors =
      "version: 1\ntensors:\n"
      "  - {name: x, shape: [2, 7, 7, 3], dtype: fp32, role: input}\n"
      "  - {name: w, shape: [3, 3, 3, 4], dtype: fp32, role: weight}\n"
      "  - {name: dy, shape: [2, 4, 4, 4], dtype: fp32, role: input}\n"
      "  - {name: dx, shape: [2, 9, 9, 3], dtype: fp32}\n"
      "  - {name: dw, shape: [3, 3, 3, 4], dtype: fp32}\nops:\n";
  CHECK(message(tensors +
                "  - {name: gx, type: conv2d_grad_input, inputs: [dy, w], outputs: [dx],\n"
                "     attributes: {stride: 2, padding: 1, input_size: [9, 9]}}\n") ==
        "g.graph.yaml:9: op 'gx' (conv2d_grad_input): dy 'dy' [2, 4, 4, 4] should be [2, 5, 5, "
        "4]: a conv2d of [2, 9, 9, 3] by a 3x3 window with these attributes gives that");
  CHECK(message(tensors +
                "  - {name: gw, type: conv2d_grad_weight, inputs: [x, dy], outputs: [dw],\n"
                "     attributes: {stride: 2, padding: 1}}\n")
            .find("op 'gw' (conv2d_grad_weight): ") != std::string::npos);
  CHECK(message(tensors +
                "  - {name: gw, type: conv2d_grad_weight, inputs: [x, dy], outputs: [dw],\n"
                "     attributes: {stride: 2, padding: 1, kernel: 3, groups: 3}}\n") ==
        "g.graph.yaml:9: op 'gw' (conv2d_grad_weight): groups = 3 must divide both C = 3 of 'x' "
        "[2, 7, 7, 3] and K = 4 of 'dy' [2, 4, 4, 4]");
}

namespace {

// A pool's window over one axis: the pixels [at stride - pad, + kernel) inside [0, size).
struct Pool {
  int n, h, w, c, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  bool count_include_pad = false;
  int p() const { return (h + 2 * pad_h - kernel_h) / stride_h + 1; }
  int q() const { return (w + 2 * pad_w - kernel_w) / stride_w + 1; }
  std::string attributes() const {
    return "{kernel: " + shape({kernel_h, kernel_w}) + ", stride: " + shape({stride_h, stride_w}) +
           ", padding: " + shape({pad_h, pad_w}) + "}";
  }
};

// Values on a grid of quarters in [-1, 1]: many ties, so that the first-max rule decides.
Matrix tied_matrix(uint32_t rows, uint32_t cols, uint64_t seed) {
  Matrix m = random_matrix(rows, cols, seed, DType::Fp32);
  for (float& v : m.values) v = std::round(v * 4) / 4;
  return m;
}

// dx of max_pool (max = true) or avg_pool from its definition in double: each window (p, q) in
// turn gives dy[p, q] to the first position (rows, then columns) holding its max, or dy[p, q] /
// count to each of its pixels; checked against `dx` within the error of summing the windows'
// shares in fp32 (and 1 / count rounded to fp32).
void check_pool_grad(const Matrix& dx, const Matrix& dy, const Matrix& x, const Pool& v, bool max,
                     DType dtype) {
  const int p = v.p(), q = v.q();
  REQUIRE(dx.rows == uint32_t(v.n * v.h * v.w));
  std::vector<double> want(dx.values.size()), mag(dx.values.size());
  std::vector<int> terms(dx.values.size());
  for (int n = 0; n < v.n; ++n)
    for (int y = 0; y < p; ++y)
      for (int xo = 0; xo < q; ++xo)
        for (int c = 0; c < v.c; ++c) {
          const int h0 = std::max(0, y * v.stride_h - v.pad_h),
                    h1 = std::min(v.h, y * v.stride_h - v.pad_h + v.kernel_h);
          const int w0 = std::max(0, xo * v.stride_w - v.pad_w),
                    w1 = std::min(v.w, xo * v.stride_w - v.pad_w + v.kernel_w);
          const double d = dy.at(uint32_t((n * p + y) * q + xo), uint32_t(c));
          const double count =
              v.count_include_pad ? v.kernel_h * v.kernel_w : (h1 - h0) * (w1 - w0);
          size_t first = 0;
          double best = -INFINITY;
          for (int h = h0; h < h1; ++h)
            for (int w = w0; w < w1; ++w) {
              const size_t row = size_t((n * v.h + h) * v.w + w);
              const size_t at = row * size_t(v.c) + size_t(c);
              if (!max) want[at] += d / count, mag[at] += std::abs(d / count), ++terms[at];
              if (max && x.at(uint32_t(row), uint32_t(c)) > best)
                best = x.at(uint32_t(row), uint32_t(c)), first = at;
              if (max) ++terms[at];  // a share (zero or dy) the kernel adds for this window
            }
          if (max) want[first] += d, mag[first] += std::abs(d);
        }
  for (size_t e = 0; e < want.size(); ++e)
    check_close(dx.values[e], want[e], mag[e], terms[e] + 1, dtype);
}

// max_pool's and avg_pool's gradients of the same dy over x, in one run.
void check_pool_grads(const Pool& v, DType dtype, uint64_t seed) {
  const std::string t = std::string(", dtype: ") + (dtype == DType::Bf16 ? "bf16" : "fp32");
  const std::string yaml =
      "version: 1\ntensors:\n  - {name: x, shape: " + shape({v.n, v.h, v.w, v.c}) + t +
      ", role: input}\n  - {name: dy, shape: " + shape({v.n, v.p(), v.q(), v.c}) + t +
      ", role: input}\n  - {name: dmax, shape: " + shape({v.n, v.h, v.w, v.c}) + t +
      "}\n  - {name: davg, shape: " + shape({v.n, v.h, v.w, v.c}) + t +
      "}\nops:\n  - {name: gmax, type: max_pool_backward, inputs: [dy, x], outputs: [dmax], "
      "attributes: " +
      v.attributes() +
      "}\n  - {name: gavg, type: avg_pool_backward, inputs: [dy, x], outputs: [davg], "
      "attributes: " +
      v.attributes().substr(0, v.attributes().size() - 1) +
      ", count_include_pad: " + (v.count_include_pad ? "true" : "false") + "}}\n";
  const Matrix x =
      quantized(tied_matrix(uint32_t(v.n * v.h * v.w), uint32_t(v.c), seed), dtype, {});
  const Matrix dy = random_matrix(uint32_t(v.n * v.p() * v.q()), uint32_t(v.c), seed + 1, dtype);
  gr::RunOptions options;
  options.values = {{"x", x}, {"dy", dy}};
  const gr::GraphRun r = run_graph_text(yaml, options);
  REQUIRE(r.checked);
  CHECK(op_named(r, "gmax").bound_used <= 1.0);
  CHECK(op_named(r, "gavg").bound_used <= 1.0);
  check_pool_grad(r.outputs.at("dmax"), dy, x, v, true, dtype);
  check_pool_grad(r.outputs.at("davg"), dy, x, v, false, dtype);
}

}  // namespace

TEST_CASE("Pool gradients: overlapping 3x3 windows of stride 2 with padding, uneven sizes, ties") {
  // 20 channels: a register and a part of one; 2 x 7 x 9 pixels over the 16 nodes.
  check_pool_grads({2, 7, 9, 20, 3, 3, 2, 2, 1, 1}, DType::Fp32, 51);
}

TEST_CASE("Pool gradients in bf16: 2x3 windows of stride 1, padding counted in the average") {
  check_pool_grads({1, 6, 5, 40, 2, 3, 1, 1, 1, 1, true}, DType::Bf16, 61);
}

TEST_CASE("Pool gradients where no window reaches the last rows and columns") {
  // 2x2 windows of stride 3 leave every third pixel outside all windows: its gradient is 0.
  check_pool_grads({2, 8, 8, 16, 2, 2, 3, 3, 0, 0}, DType::Fp32, 71);
}

TEST_CASE("max_pool's gradient goes to the first position holding the window's max") {
  // One image of 2 x 4, one channel, equal values: each 2x2 window of stride 2 sends its dy to
  // its top-left pixel only (PyTorch's rule), whatever the nodes hold.
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [1, 2, 4, 1], dtype: fp32, role: input}
  - {name: dy, shape: [1, 1, 2, 1], dtype: fp32, role: input}
  - {name: dx, shape: [1, 2, 4, 1], dtype: fp32}
ops:
  - {name: gmax, type: max_pool_backward, inputs: [dy, x], outputs: [dx],
     attributes: {kernel: 2, stride: 2}}
)";
  gr::RunOptions options;
  Matrix x(8, 1), dy(2, 1);
  for (float& v : x.values) v = 0.5f;
  x.values[6] = 0.75f;  // the second window's max is its pixel (1, 2)
  dy.values = {3.0f, -2.0f};
  options.values = {{"x", x}, {"dy", dy}};
  const gr::GraphRun r = run_graph_text(yaml, options);
  REQUIRE(r.checked);
  CHECK(r.outputs.at("dx").values == std::vector<float>{3, 0, 0, 0, 0, 0, -2, 0});
}

TEST_CASE("global_avg_pool's gradient is dy times fp32(1 / (H W)), one rounding, at every pixel") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [3, 5, 7, 24], dtype: bf16, role: input}
  - {name: dy, shape: [3, 24], dtype: bf16, role: input}
  - {name: dx, shape: [3, 5, 7, 24], dtype: bf16}
ops:
  - {name: ggap, type: global_avg_pool_backward, inputs: [dy, x], outputs: [dx]}
)";
  gr::RunOptions options;
  const Matrix dy = random_matrix(3, 24, 81, DType::Bf16);
  options.values = {{"dy", dy}};
  const gr::GraphRun r = run_graph_text(yaml, options);
  REQUIRE(r.checked);
  const Matrix& dx = r.outputs.at("dx");
  REQUIRE(dx.rows == 3 * 5 * 7);
  const float factor = 1.0f / float(5 * 7);  // the forward's
  for (uint32_t row = 0; row < dx.rows; ++row)
    for (uint32_t c = 0; c < 24; ++c) {
      REQUIRE(dx.at(row, c) == quantize(DType::Bf16, dy.at(row / 35, c) * factor, {}));
      CHECK(std::abs(dx.at(row, c) - double(dy.at(row / 35, c)) / 35) <=
            std::ldexp(1.0, -8) * std::abs(dy.at(row / 35, c)) / 35 * 1.01);
    }
}

TEST_CASE("Pool gradients name dy and what the forward pool of x gives") {
  const std::string yaml = R"(version: 1
tensors:
  - {name: x, shape: [2, 9, 9, 8], dtype: fp32, role: input}
  - {name: dy, shape: [2, 4, 4, 8], dtype: fp32, role: input}
  - {name: dx, shape: [2, 9, 9, 8], dtype: fp32}
ops:
  - {name: gmax, type: max_pool_backward, inputs: [dy, x], outputs: [dx],
     attributes: {kernel: 3, stride: 2, padding: 1}}
)";
  try {
    g::validate(g::parse_graph_yaml(yaml, "g.graph.yaml"));
    FAIL("no error");
  } catch (const g::GraphError& e) {
    CHECK(std::string(e.what()) ==
          "g.graph.yaml:7: op 'gmax' (max_pool_backward): dy 'dy' [2, 4, 4, 8] should be [2, 5, "
          "5, 8]: a max_pool of 'x' [2, 9, 9, 8] with these attributes gives that");
  }
}
