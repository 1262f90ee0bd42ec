// SPDX-License-Identifier: MIT
#pragma once

// Number formats of the lanes: bf16, IEEE fp16, Tesla CFloat8 (1-4-3 / 1-5-2) and CFloat16 SHP
// with a configurable exponent bias, conversions from fp32/fp64 with round-to-nearest-even or
// stochastic rounding, and the seeded generator of the stochastic-rounding bits.
// The full reference (bit layouts, ranges per bias, specials, assumptions) is docs/formats.md.
//
// Contract shared by every function here:
//  - Pure: the result depends only on the arguments, never on host rounding mode, FPU flags or
//    global state, so the same program and seed give the same bits on every host.
//  - Widening (`*_to_f32`) is exact for every encoding.
//  - Narrowing (`f32_to_*`, `f64_to_*`) rounds the exact input value once (the fp64 versions do
//    not round through fp32 first), so the fp32 and fp64 versions agree on every float input.

#include <cstdint>
#include <limits>

namespace dojosim::isa {

static_assert(std::numeric_limits<float>::is_iec559 && std::numeric_limits<double>::is_iec559,
              "dojosim models fp32 lanes with the host's IEEE 754 float");

/// How a narrowing conversion chooses between the two representable neighbours of a value.
///  - NearestEven: IEEE 754 roundTiesToEven.
///  - Stochastic: with f in [0,1) the discarded part of the magnitude in units of the target ulp
///    (truncated to 32 fraction bits) and u = random_bits / 2^32, the magnitude is rounded up
///    iff f + u >= 1, else truncated. For a uniform random_bits, P(up) == f, so the expected
///    result equals the input exactly; representable inputs are never changed.
enum class Rounding : uint8_t { NearestEven, Stochastic };

/// CFloat8 after Tesla's "Configurable Floating Point Formats" whitepaper (Oct 2021): sign,
/// 4 exponent + 3 mantissa bits or 5 + 2, with a configurable unsigned 6-bit exponent bias.
/// Denormals are supported; all 256 encodings are finite numbers (no Inf/NaN encodings).
enum class Cfp8Layout : uint8_t { E4M3, E5M2 };

/// NOTE: `bias` is a 6-bit field: conversions use `bias & 63`, as a hardware register would.
/// NOTE: `Cfp8Format{Cfp8Layout::E5M2}` keeps the E4M3 default bias 7; use
/// `default_cfp8_format(layout)` for the IEEE-like default of each layout.
struct Cfp8Format {
  Cfp8Layout layout = Cfp8Layout::E4M3;
  uint8_t bias = 7;
};

constexpr uint8_t kMaxCfpBias = 63;

/// IEEE-like default bias (2^(exponent bits - 1) - 1): 7 for E4M3, 15 for E5M2. Our assumption;
/// the whitepaper names no default.
constexpr uint8_t kDefaultCfp8Bias(Cfp8Layout l) {
  return l == Cfp8Layout::E4M3 ? 7 : 15;
}
constexpr Cfp8Format default_cfp8_format(Cfp8Layout l) {
  return {l, kDefaultCfp8Bias(l)};
}
constexpr bool operator==(Cfp8Format a, Cfp8Format b) {
  return a.layout == b.layout && (a.bias & kMaxCfpBias) == (b.bias & kMaxCfpBias);
}
constexpr bool operator!=(Cfp8Format a, Cfp8Format b) {
  return !(a == b);
}

/// CFloat16 "Signed Half Precision" (SHP) of the whitepaper: 1-5-10 with a configurable 6-bit
/// bias (used as `bias & 63`), denormals, no Inf/NaN encodings (saturating like cfp8).
constexpr uint8_t kDefaultCfp16Bias = 15;

/// Magnitudes that bound a format (all positive, exact as float).
struct FormatRange {
  float max_finite;
  float min_normal;
  float min_denormal;
};

// ---- bf16: 1-8-7, bias 127, IEEE specials ---------------------------------------------------
/// Exact; NaN payloads and the quiet bit are kept as they are.
float bf16_to_f32(uint16_t bits);
/// Inf stays Inf; NaN becomes a quiet NaN (top mantissa bit set) keeping the sign and the top
/// payload bits; values that round beyond max finite become Inf (IEEE overflow, both modes).
uint16_t f32_to_bf16(float x, Rounding r, uint32_t random_bits = 0);
uint16_t f64_to_bf16(double x, Rounding r, uint32_t random_bits = 0);

// ---- fp16: IEEE binary16, 1-5-10, bias 15 ---------------------------------------------------
/// Same special-value rules as bf16.
float fp16_to_f32(uint16_t bits);
uint16_t f32_to_fp16(float x, Rounding r, uint32_t random_bits = 0);
uint16_t f64_to_fp16(double x, Rounding r, uint32_t random_bits = 0);

// ---- cfp8 -----------------------------------------------------------------------------------
/// value = (-1)^s * 2^(e - bias) * (1 + m/2^M) for e > 0, (-1)^s * 2^(1 - bias) * m/2^M for
/// e == 0. 0x80 is -0.0.
float cfp8_to_f32(uint8_t bits, Cfp8Format f);
/// Saturating: magnitudes that round beyond max finite, and +-Inf, give +-max finite (0x7F/0xFF);
/// NaN of either sign gives +max finite (0x7F). -0.0 and negative values that round to zero
/// give 0x80.
uint8_t f32_to_cfp8(float x, Cfp8Format f, Rounding r, uint32_t random_bits = 0);
uint8_t f64_to_cfp8(double x, Cfp8Format f, Rounding r, uint32_t random_bits = 0);
FormatRange cfp8_range(Cfp8Format f);

// ---- cfp16 (SHP) ----------------------------------------------------------------------------
/// Same formula and special-value rules as cfp8 with 5 exponent and 10 mantissa bits.
float cfp16_to_f32(uint16_t bits, uint8_t bias);
uint16_t f32_to_cfp16(float x, uint8_t bias, Rounding r, uint32_t random_bits = 0);
uint16_t f64_to_cfp16(double x, uint8_t bias, Rounding r, uint32_t random_bits = 0);
FormatRange cfp16_range(uint8_t bias);

/// Deterministic source of `random_bits` for stochastic rounding: xoshiro128** whose 128-bit
/// state is filled from the seed by two steps of splitmix64. Same seed, same sequence, on every
/// host; the sequence is pinned by tests/isa/test_formats.cpp. Not for cryptography.
class StochasticRng {
 public:
  explicit StochasticRng(uint64_t seed) { reseed(seed); }

  /// Restarts the sequence exactly as a fresh `StochasticRng(seed)` would.
  void reseed(uint64_t seed) {
    auto splitmix64 = [&seed] {
      uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return z ^ (z >> 31);
    };
    // Two distinct splitmix64 outputs are never both zero, so the state is never all-zero.
    const uint64_t a = splitmix64();
    const uint64_t b = splitmix64();
    s_[0] = static_cast<uint32_t>(a);
    s_[1] = static_cast<uint32_t>(a >> 32);
    s_[2] = static_cast<uint32_t>(b);
    s_[3] = static_cast<uint32_t>(b >> 32);
  }

  /// Uniform over all 2^32 values. Inline because it is called once per rounded lane.
  uint32_t next() {
    const uint32_t result = rotl(s_[1] * 5u, 7) * 9u;
    const uint32_t t = s_[1] << 9;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 11);
    return result;
  }

 private:
  static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
  uint32_t s_[4];
};

}  // namespace dojosim::isa
