// SPDX-License-Identifier: MIT
#include "runtime/reference.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace dojosim::runtime {
namespace {

constexpr double kU32 = 0x1p-24;  // fp32 unit roundoff
constexpr double kU64 = 0x1p-53;  // fp64 unit roundoff

double gamma(double n, double u) {
  return n * u / (1.0 - n * u);
}

// |x - quantize(x)| <= u |x| + h for x within the format's range.
struct InputError {
  double u = 0, h = 0;
};

InputError input_error(DType t, isa::Cfp8Format f) {
  switch (t) {
    case DType::Fp32:
      return {};  // host values are floats: stored exactly
    case DType::Bf16:
      return {0x1p-8, 0x1p-134};
    case DType::Cfp8: {
      const int mantissa = f.layout == isa::Cfp8Layout::E4M3 ? 3 : 2;
      return {std::ldexp(1.0, -(mantissa + 1)), isa::cfp8_range(f).min_denormal / 2.0};
    }
  }
  return {};
}

float initial(MatmulInit init, const MatmulOperands& ops, uint32_t i, uint32_t j) {
  switch (init) {
    case MatmulInit::Zero:
      return 0.0f;
    case MatmulInit::Bias:
      return ops.bias[j];
    case MatmulInit::Accumulate:
      return ops.c.at(i, j);
  }
  return 0.0f;
}

// Sums a*b terms of one element in double, and the pieces of its bound.
struct Accumulator64 {
  InputError e;
  double value = 0, input_err = 0, magnitude = 0, plain = 0;
  void add(double a, double b) {
    value += a * b;
    const double ea = e.u * std::fabs(a) + e.h, eb = e.u * std::fabs(b) + e.h;
    input_err += ea * std::fabs(b) + std::fabs(a) * eb + ea * eb;
    magnitude += (std::fabs(a) + ea) * (std::fabs(b) + eb);
    plain += std::fabs(a * b);
  }
  // The kernel rounds padded_k additions in fp32; this sum made as many in fp64.
  double bound(double init, uint32_t padded_k, uint32_t terms) const {
    return input_err + gamma(padded_k, kU32) * (std::fabs(init) + magnitude) +
           gamma(terms + 1.0, kU64) * (std::fabs(init) + plain);
  }
};

uint32_t out_size(uint32_t in, uint32_t pad, uint32_t window, uint32_t dilation, uint32_t stride) {
  const int64_t span = int64_t{dilation} * (window - 1) + 1;
  const int64_t room = int64_t{in} + 2 * int64_t{pad} - span;
  return room < 0 ? 0 : static_cast<uint32_t>(room / stride + 1);
}

// Input element of window position (i, j) for output (b, y, x), or nullptr in the padding.
const float* window_input(const std::vector<float>& input, const Conv2dShape& s, uint32_t b,
                          uint32_t y, uint32_t x, uint32_t i, uint32_t j) {
  const int64_t iy = int64_t{y} * s.stride_h + int64_t{i} * s.dilation_h - s.pad_h;
  const int64_t ix = int64_t{x} * s.stride_w + int64_t{j} * s.dilation_w - s.pad_w;
  if (iy < 0 || ix < 0 || iy >= s.h || ix >= s.w) return nullptr;
  return &input[((size_t{b} * s.h + iy) * s.w + ix) * s.c];
}

void check_sizes(const Conv2dShape& s, const std::vector<float>& input,
                 const std::vector<float>& weights, const std::vector<float>* bias) {
  check_conv2d(s);
  if (input.size() != size_t{s.n} * s.h * s.w * s.c)
    throw std::invalid_argument(fmt::format("conv2d: input has {} values; n*h*w*c = {}",
                                            input.size(), size_t{s.n} * s.h * s.w * s.c));
  if (weights.size() != size_t{s.r} * s.s * s.c * s.k)
    throw std::invalid_argument(fmt::format("conv2d: weights have {} values; r*s*c*k = {}",
                                            weights.size(), size_t{s.r} * s.s * s.c * s.k));
  if (bias && bias->size() != s.k)
    throw std::invalid_argument(
        fmt::format("conv2d: bias has {} values; k = {}", bias->size(), s.k));
}

}  // namespace

Matrix reference_matmul_exact(DType dtype, isa::Cfp8Format f, MatmulInit init,
                              const MatmulOperands& ops, uint32_t padded_k) {
  const MatmulShape s = operand_shape(init, ops);
  if (padded_k < s.k)
    throw std::invalid_argument(fmt::format("padded_k = {} is less than k = {}", padded_k, s.k));
  const Matrix a = quantized(ops.a, dtype, f), b = quantized(ops.b, dtype, f);
  Matrix c(s.m, s.n);
  for (uint32_t i = 0; i < s.m; ++i)
    for (uint32_t j = 0; j < s.n; ++j) {
      float acc = initial(init, ops, i, j);
      for (uint32_t k = 0; k < padded_k; ++k) {
        const float x = k < s.k ? a.at(i, k) : 0.0f, y = k < s.k ? b.at(k, j) : 0.0f;
        if (dtype == DType::Fp32)
          acc = std::fma(x, y, acc);
        else
          acc = acc + x * y;  // x * y is exact; built with -ffp-contract=off
      }
      c.at(i, j) = acc;
    }
  return c;
}

Reference64 reference_matmul_f64(DType dtype, isa::Cfp8Format f, MatmulInit init,
                                 const MatmulOperands& ops, uint32_t padded_k) {
  const MatmulShape s = operand_shape(init, ops);
  Reference64 r{s.m, s.n, std::vector<double>(size_t{s.m} * s.n),
                std::vector<double>(size_t{s.m} * s.n)};
  for (uint32_t i = 0; i < s.m; ++i)
    for (uint32_t j = 0; j < s.n; ++j) {
      const double init_value = initial(init, ops, i, j);
      Accumulator64 acc{input_error(dtype, f)};
      for (uint32_t k = 0; k < s.k; ++k) acc.add(ops.a.at(i, k), ops.b.at(k, j));
      r.value[size_t{i} * s.n + j] = init_value + acc.value;
      r.bound[size_t{i} * s.n + j] = acc.bound(init_value, padded_k, s.k);
    }
  return r;
}

double matmul_tolerance(DType dtype, isa::Cfp8Format f, uint32_t padded_k) {
  const double u = input_error(dtype, f).u;
  return 2 * u + u * u + gamma(padded_k, kU32) * (1 + u) * (1 + u);
}

uint32_t Conv2dShape::p() const {
  return out_size(h, pad_h, r, dilation_h, stride_h);
}
uint32_t Conv2dShape::q() const {
  return out_size(w, pad_w, s, dilation_w, stride_w);
}

void check_conv2d(const Conv2dShape& s) {
  const std::pair<const char*, uint32_t> sizes[] = {{"n", s.n},
                                                    {"h", s.h},
                                                    {"w", s.w},
                                                    {"c", s.c},
                                                    {"k", s.k},
                                                    {"r", s.r},
                                                    {"s", s.s},
                                                    {"stride_h", s.stride_h},
                                                    {"stride_w", s.stride_w},
                                                    {"dilation_h", s.dilation_h},
                                                    {"dilation_w", s.dilation_w}};
  for (const auto& [name, v] : sizes)
    if (v == 0)
      throw std::invalid_argument(fmt::format("conv2d: {} = 0; it must be at least 1", name));
  if (s.p() == 0 || s.q() == 0)
    throw std::invalid_argument(fmt::format(
        "conv2d: a {}x{} window with dilation {}x{} does not fit the {}x{} input padded by {}x{}",
        s.r, s.s, s.dilation_h, s.dilation_w, s.h, s.w, s.pad_h, s.pad_w));
}

Matrix im2col(const std::vector<float>& input, const Conv2dShape& s) {
  check_conv2d(s);
  Matrix m(s.n * s.p() * s.q(), s.r * s.s * s.c);
  uint32_t row = 0;
  for (uint32_t b = 0; b < s.n; ++b)
    for (uint32_t y = 0; y < s.p(); ++y)
      for (uint32_t x = 0; x < s.q(); ++x, ++row)
        for (uint32_t i = 0; i < s.r; ++i)
          for (uint32_t j = 0; j < s.s; ++j)
            if (const float* in = window_input(input, s, b, y, x, i, j))
              for (uint32_t ch = 0; ch < s.c; ++ch) m.at(row, (i * s.s + j) * s.c + ch) = in[ch];
  return m;
}

Matrix conv2d_weight_matrix(const std::vector<float>& weights, const Conv2dShape& s) {
  Matrix m(s.r * s.s * s.c, s.k);
  m.values = weights;
  return m;
}

Matrix reference_conv2d_exact(DType dtype, isa::Cfp8Format f, const Conv2dShape& s,
                              const std::vector<float>& input, const std::vector<float>& weights,
                              const std::vector<float>* bias, uint32_t padded_k) {
  check_sizes(s, input, weights, bias);
  MatmulOperands ops{
      im2col(input, s), conv2d_weight_matrix(weights, s), bias ? *bias : std::vector<float>{}, {}};
  return reference_matmul_exact(dtype, f, bias ? MatmulInit::Bias : MatmulInit::Zero, ops,
                                padded_k);
}

Reference64 reference_conv2d_f64(DType dtype, isa::Cfp8Format f, const Conv2dShape& s,
                                 const std::vector<float>& input, const std::vector<float>& weights,
                                 const std::vector<float>* bias, uint32_t padded_k) {
  check_sizes(s, input, weights, bias);
  const uint32_t rows = s.n * s.p() * s.q();
  Reference64 r{rows, s.k, std::vector<double>(size_t{rows} * s.k),
                std::vector<double>(size_t{rows} * s.k)};
  uint32_t row = 0;
  for (uint32_t b = 0; b < s.n; ++b)
    for (uint32_t y = 0; y < s.p(); ++y)
      for (uint32_t x = 0; x < s.q(); ++x, ++row)
        for (uint32_t o = 0; o < s.k; ++o) {
          const double init = bias ? (*bias)[o] : 0.0;
          Accumulator64 acc{input_error(dtype, f)};
          for (uint32_t i = 0; i < s.r; ++i)
            for (uint32_t j = 0; j < s.s; ++j)
              if (const float* in = window_input(input, s, b, y, x, i, j))
                for (uint32_t ch = 0; ch < s.c; ++ch)
                  acc.add(in[ch], weights[((size_t{i} * s.s + j) * s.c + ch) * s.k + o]);
          r.value[size_t{row} * s.k + o] = init + acc.value;
          r.bound[size_t{row} * s.k + o] = acc.bound(init, padded_k, s.r * s.s * s.c);
        }
  return r;
}

}  // namespace dojosim::runtime
