// SPDX-License-Identifier: MIT
#include "runtime/tensor.h"

#include <cstring>

namespace dojosim::runtime {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Fp32:
      return "fp32";
    case DType::Bf16:
      return "bf16";
    case DType::Cfp8:
      return "cfp8";
  }
  return "?";
}

void encode(DType t, float x, isa::Cfp8Format f, uint8_t* out) {
  using isa::Rounding;
  switch (t) {
    case DType::Fp32:
      std::memcpy(out, &x, 4);
      break;
    case DType::Bf16: {
      const uint16_t h = isa::f32_to_bf16(x, Rounding::NearestEven);
      std::memcpy(out, &h, 2);
      break;
    }
    case DType::Cfp8:
      *out = isa::f32_to_cfp8(x, f, Rounding::NearestEven);
      break;
  }
}

float decode(DType t, const uint8_t* in, isa::Cfp8Format f) {
  switch (t) {
    case DType::Fp32: {
      float x;
      std::memcpy(&x, in, 4);
      return x;
    }
    case DType::Bf16: {
      uint16_t h;
      std::memcpy(&h, in, 2);
      return isa::bf16_to_f32(h);
    }
    case DType::Cfp8:
      return isa::cfp8_to_f32(*in, f);
  }
  return 0.0f;
}

float quantize(DType t, float x, isa::Cfp8Format f) {
  uint8_t bytes[4];
  encode(t, x, f, bytes);
  return decode(t, bytes, f);
}

Matrix Matrix::block(uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1) const {
  Matrix b(r1 - r0, c1 - c0);
  for (uint32_t r = r0; r < r1; ++r)
    for (uint32_t c = c0; c < c1; ++c) b.at(r - r0, c - c0) = at(r, c);
  return b;
}

Matrix quantized(const Matrix& m, DType t, isa::Cfp8Format f) {
  Matrix q = m;
  for (float& v : q.values) v = quantize(t, v, f);
  return q;
}

std::vector<float> nhwc_to_nchw(const std::vector<float>& v, uint32_t n, uint32_t h, uint32_t w,
                                uint32_t c) {
  std::vector<float> out(v.size());
  for (uint32_t b = 0; b < n; ++b)
    for (uint32_t y = 0; y < h; ++y)
      for (uint32_t x = 0; x < w; ++x)
        for (uint32_t ch = 0; ch < c; ++ch)
          out[((size_t{b} * c + ch) * h + y) * w + x] = v[((size_t{b} * h + y) * w + x) * c + ch];
  return out;
}

std::vector<float> nchw_to_nhwc(const std::vector<float>& v, uint32_t n, uint32_t h, uint32_t w,
                                uint32_t c) {
  std::vector<float> out(v.size());
  for (uint32_t b = 0; b < n; ++b)
    for (uint32_t y = 0; y < h; ++y)
      for (uint32_t x = 0; x < w; ++x)
        for (uint32_t ch = 0; ch < c; ++ch)
          out[((size_t{b} * h + y) * w + x) * c + ch] = v[((size_t{b} * c + ch) * h + y) * w + x];
  return out;
}

}  // namespace dojosim::runtime
