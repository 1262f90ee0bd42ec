// SPDX-License-Identifier: MIT
// The lane arithmetic of the vector and matrix instructions (docs/isa.md, docs/formats.md),
// twice: `reference::` is plain scalar C++, one lane at a time, written to be read; the
// functions at namespace level do the same work on the host's SIMD unit (Google Highway,
// lanes_simd.cpp), with the instruction set chosen at run time. The two give the same bits on
// every input (tests/isa/test_lanes.cpp runs every compiled target against the reference), so
// a result never depends on the host's instruction set.
//
// Contract shared by every function here:
//  - fp32 arithmetic is IEEE binary32, round to nearest even, with subnormals (no flush to zero,
//    whatever the host's FTZ/DAZ would be: the host's default is used and never changed).
//  - A NaN result of any fp32 operation is the canonical quiet NaN kCanonicalNaN (RISC-V's rule),
//    so NaN bits never depend on the host or the operand order.
//  - bf16 and cfp8 lanes are widened exactly, computed in fp32 and rounded to the lane format
//    to nearest even (formats.h); cfp8 lanes use the thread's format through `Cfp8Lanes`.
//  - Sources are read whole before the destination is written, so vd may alias vs1 or vs2.
//  - Nothing is allocated.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "isa/formats.h"

namespace dojosim::isa::lanes {

enum class Format : uint8_t { F32, BF16, CFP8 };
constexpr uint32_t lane_bytes(Format f) {
  return f == Format::F32 ? 4 : f == Format::BF16 ? 2 : 1;
}

// vd[i] = op(vs1[i], vs2[i]); Fma is fma(vs1[i], vs2[i], vd[i]) with one rounding in fp32;
// Gate is vs1[i] where vs2[i] > 0, else +0 (gate()).
enum class BinaryOp : uint8_t { Add, Sub, Mul, Fma, Min, Max, Gate };

// A thread's cfp8 format and its decoding table (the 256 fp32 values, `cfp8_to_f32`).
struct Cfp8Lanes {
  Cfp8Format format;
  const float* decode;
};

constexpr uint32_t kCanonicalNaN = 0x7FC00000u;

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline float canonical(float f) {
  return f != f ? bits_float(kCanonicalNaN) : f;
}
// IEEE 754-2019 minimumNumber / maximumNumber: a NaN loses to a number, -0 < +0.
inline float min_number(float a, float b) {
  if (a < b) return a;
  if (b < a) return b;
  if (a == b) return bits_float(float_bits(a) | float_bits(b));  // -0 if either is -0
  return canonical(a != a ? b : a);
}
inline float max_number(float a, float b) {
  if (a > b) return a;
  if (b > a) return b;
  if (a == b) return bits_float(float_bits(a) & float_bits(b));  // +0 if either is +0
  return canonical(a != a ? b : a);
}
// a where b > 0, else +0: relu's gradient (dy where x > 0), as PyTorch's threshold_backward: a
// NaN b gives +0, and an infinite or NaN a does not leak where b <= 0 (a product with a 0/1 mask
// would give NaN there, and -0 for a negative a).
inline float gate(float a, float b) {
  return b > 0 ? canonical(a) : 0.0f;
}

// Dispatched: the host's best SIMD target.
// `vlen` bytes per register, a power of two in [16, 256].
void binary(BinaryOp op, Format f, uint8_t* vd, const uint8_t* vs1, const uint8_t* vs2,
            uint32_t vlen, const Cfp8Lanes& cfp8);
// acc (m x n fp32, row-major) += A (m x k) * B (k x n), A and B row-major bf16 (Format::BF16)
// or cfp8 (Format::CFP8, k = 2K) lanes: for each (i, j), in k order, the product is rounded to
// fp32, then the sum (never fused). m * k and k * n are at most 256.
void mma(Format f, float* acc, const uint8_t* a, const uint8_t* b, uint32_t m, uint32_t n,
         uint32_t k, const Cfp8Lanes& cfp8);
// The Highway target the dispatched functions run on now (hwy::TargetName of it), for reports.
// The environment variable DOJOSIM_SIMD=<name> caps the choice at that target (to compare
// targets, or for a tool that cannot run the best one); this and kernels() apply it, and throw
// std::invalid_argument naming the variable if it names no target of this build.
const char* simd_target_name();

// mma(Format::BF16, acc, a, b, 8, 8, 4, ...): D1's matrix unit, the shape nearly every mma has,
// with nothing left to decide at run time (on AVX-512, two rows to a register, unrolled).
void mma_bf16_8x8x4(float* acc, const uint8_t* a, const uint8_t* b);

// The functions above for the target chosen now, looked up once: the interpreter keeps them so
// that an instruction pays no dispatch.
struct Kernels {
  void (*binary)(BinaryOp, Format, uint8_t*, const uint8_t*, const uint8_t*, uint32_t,
                 const Cfp8Lanes&);
  void (*mma)(Format, float*, const uint8_t*, const uint8_t*, uint32_t, uint32_t, uint32_t,
              const Cfp8Lanes&);
  void (*mma_bf16_8x8x4)(float*, const uint8_t*, const uint8_t*);
};
Kernels kernels();

namespace reference {
void binary(BinaryOp op, Format f, uint8_t* vd, const uint8_t* vs1, const uint8_t* vs2,
            uint32_t vlen, const Cfp8Lanes& cfp8);
void mma(Format f, float* acc, const uint8_t* a, const uint8_t* b, uint32_t m, uint32_t n,
         uint32_t k, const Cfp8Lanes& cfp8);

// One lane of `binary`, in fp32: what both implementations compute.
inline float binary_lane(BinaryOp op, float a, float b, float c) {
  switch (op) {
    case BinaryOp::Add:
      return canonical(a + b);
    case BinaryOp::Sub:
      return canonical(a - b);
    case BinaryOp::Mul:
      return canonical(a * b);
    case BinaryOp::Fma:
      return canonical(std::fma(a, b, c));
    case BinaryOp::Min:
      return min_number(a, b);
    case BinaryOp::Max:
      return max_number(a, b);
    case BinaryOp::Gate:
      return gate(a, b);
  }
  return 0;
}
}  // namespace reference

// Lane i of a register in format f, widened to fp32 (exact).
inline float get_lane(Format f, const uint8_t* v, uint32_t i, const Cfp8Lanes& cfp8) {
  switch (f) {
    case Format::F32: {
      float x;
      std::memcpy(&x, v + 4 * i, 4);
      return x;
    }
    case Format::BF16: {
      uint16_t h;
      std::memcpy(&h, v + 2 * i, 2);
      return bits_float(uint32_t{h} << 16);
    }
    case Format::CFP8:
      return cfp8.decode[v[i]];
  }
  return 0;
}
// Lane i of a register in format f = x rounded to nearest even.
inline void set_lane(Format f, uint8_t* v, uint32_t i, float x, const Cfp8Lanes& cfp8) {
  switch (f) {
    case Format::F32:
      std::memcpy(v + 4 * i, &x, 4);
      return;
    case Format::BF16: {
      const uint16_t h = f32_to_bf16(x, Rounding::NearestEven);
      std::memcpy(v + 2 * i, &h, 2);
      return;
    }
    case Format::CFP8:
      v[i] = f32_to_cfp8(x, cfp8.format, Rounding::NearestEven);
      return;
  }
}

}  // namespace dojosim::isa::lanes
