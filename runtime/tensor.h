// SPDX-License-Identifier: MIT
// Element types of the runtime and a host-side matrix of values.
//
// A Matrix holds values as float whatever the element type; encode() and decode() move single
// values to and from the bytes a node stores, with isa/formats.h conversions (round to nearest
// even). quantize() is decode(encode(x)): the value a node actually sees.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "isa/formats.h"

namespace dojosim::runtime {

/// Element types of tensors in node SRAM. Cfp8 is the 1-4-3 (E4M3) layout, or whatever
/// layout and bias the Cfp8Format passed alongside says.
enum class DType : uint8_t { Fp32, Bf16, Cfp8 };

std::string_view dtype_name(DType t);

constexpr uint32_t element_bytes(DType t) {
  return t == DType::Fp32 ? 4 : t == DType::Bf16 ? 2 : 1;
}

/// Writes element_bytes(t) little-endian bytes of x rounded to t (RNE; cfp8 saturates).
void encode(DType t, float x, isa::Cfp8Format f, uint8_t* out);
/// The exact value of the element at `in`.
float decode(DType t, const uint8_t* in, isa::Cfp8Format f);
/// decode(encode(x)).
float quantize(DType t, float x, isa::Cfp8Format f);

/// A dense row-major matrix of values on the host.
struct Matrix {
  uint32_t rows = 0, cols = 0;
  std::vector<float> values;

  Matrix() = default;
  Matrix(uint32_t r, uint32_t c, float fill = 0.0f)
      : rows(r), cols(c), values(size_t{r} * c, fill) {}
  float& at(uint32_t r, uint32_t c) { return values[size_t{r} * cols + c]; }
  float at(uint32_t r, uint32_t c) const { return values[size_t{r} * cols + c]; }
  /// Rows [r0, r1) and columns [c0, c1) as a matrix of their own.
  Matrix block(uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1) const;
};

/// Activation layouts: NHWC (channels last: what im2col reads and the matmul writes) or NCHW.
enum class ActivationLayout : uint8_t { Nhwc, Nchw };
/// n x h x w x c values (NHWC) reordered to n x c x h x w (NCHW), and back.
std::vector<float> nhwc_to_nchw(const std::vector<float>& v, uint32_t n, uint32_t h, uint32_t w,
                                uint32_t c);
std::vector<float> nchw_to_nhwc(const std::vector<float>& v, uint32_t n, uint32_t h, uint32_t w,
                                uint32_t c);

/// Every value of m quantized to t.
Matrix quantized(const Matrix& m, DType t, isa::Cfp8Format f);

}  // namespace dojosim::runtime
