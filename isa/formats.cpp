// SPDX-License-Identifier: MIT
#include "isa/formats.h"

#include <algorithm>
#include <cstring>

namespace dojosim::isa {
namespace {

// Every narrow format is one of these; one encoder and one decoder serve them all so that
// rounding, denormals and saturation are written once.
struct Spec {
  int exp_bits;
  int man_bits;
  int bias;
  bool ieee_specials;  // all-ones exponent is Inf/NaN; otherwise it is finite and we saturate

  uint32_t sign_bit() const { return 1u << (exp_bits + man_bits); }
  uint32_t inf_code() const { return ((1u << exp_bits) - 1) << man_bits; }
  uint32_t max_finite_code() const { return ieee_specials ? inf_code() - 1 : sign_bit() - 1; }
};

constexpr Spec kBf16{8, 7, 127, true};
constexpr Spec kFp16{5, 10, 15, true};

Spec cfp8_spec(Cfp8Format f) {
  const int bias = f.bias & kMaxCfpBias;
  return f.layout == Cfp8Layout::E4M3 ? Spec{4, 3, bias, false} : Spec{5, 2, bias, false};
}
Spec cfp16_spec(uint8_t bias) {
  return Spec{5, 10, bias & kMaxCfpBias, false};
}

int bit_width(uint64_t v) {
#if defined(__GNUC__)
  return v == 0 ? 0 : 64 - __builtin_clzll(v);
#else
  int w = 0;
  for (; v != 0; v >>= 1) ++w;
  return w;
#endif
}

// An input value taken apart exactly: finite nonzero magnitudes are sig * 2^exp.
struct Unpacked {
  enum class Kind : uint8_t { Zero, Finite, Inf, NaN };
  Kind kind = Kind::Zero;
  bool negative = false;
  uint64_t sig = 0;
  int exp = 0;
  uint64_t nan_payload = 0;  // payload bits below the quiet bit, aligned to bit 63
};

template <typename Bits, int kExpBits, int kManBits, typename Float>
Unpacked unpack(Float x) {
  static_assert(sizeof(Bits) == sizeof(Float));
  Bits bits;
  std::memcpy(&bits, &x, sizeof bits);
  constexpr int kBias = (1 << (kExpBits - 1)) - 1;
  constexpr int kExpMax = (1 << kExpBits) - 1;
  constexpr Bits kManMask = (Bits{1} << kManBits) - 1;
  Unpacked u;
  u.negative = (bits >> (kExpBits + kManBits)) != 0;
  const int e = static_cast<int>((bits >> kManBits) & kExpMax);
  const Bits m = bits & kManMask;
  if (e == kExpMax) {
    u.kind = m == 0 ? Unpacked::Kind::Inf : Unpacked::Kind::NaN;
    u.nan_payload = static_cast<uint64_t>(m & (kManMask >> 1)) << (64 - (kManBits - 1));
  } else if (e == 0 && m == 0) {
    u.kind = Unpacked::Kind::Zero;
  } else {
    u.kind = Unpacked::Kind::Finite;
    u.sig = e == 0 ? m : (m | (Bits{1} << kManBits));
    u.exp = std::max(e, 1) - kBias - kManBits;
  }
  return u;
}

Unpacked unpack_f32(float x) {
  return unpack<uint32_t, 8, 23>(x);
}
Unpacked unpack_f64(double x) {
  return unpack<uint64_t, 11, 52>(x);
}

// Discarded bits of `sig` below the target ulp decide the rounding; `shift` (> 0) is how many.
bool round_up(uint64_t sig, int shift, bool lsb_odd, Rounding mode, uint32_t random_bits) {
  // Inputs have at most 53 significant bits, so beyond 64 discarded bits `rem` is all of sig.
  const uint64_t rem = shift < 64 ? sig & ((uint64_t{1} << shift) - 1) : sig;
  if (mode == Rounding::NearestEven) {
    if (shift > 64) return false;  // rem < 2^53 < half an ulp
    const uint64_t half = uint64_t{1} << (shift - 1);
    return rem > half || (rem == half && lsb_odd);
  }
  // Fraction of an ulp as 32 fraction bits; truncation below 2^-32 ulp can only occur when more
  // than 32 bits are discarded, and then biases by less than 2^-32 ulp.
  uint64_t frac32 = 0;
  if (shift <= 32) {
    frac32 = rem << (32 - shift);
  } else if (shift - 32 < 64) {
    frac32 = rem >> (shift - 32);
  }
  return uint64_t{random_bits} + frac32 >= (uint64_t{1} << 32);
}

uint32_t encode(const Unpacked& u, const Spec& s, Rounding mode, uint32_t random_bits) {
  const uint32_t sign = u.negative ? s.sign_bit() : 0;
  const uint32_t saturated = s.ieee_specials ? s.inf_code() : s.max_finite_code();
  switch (u.kind) {
    case Unpacked::Kind::Zero:
      return sign;
    case Unpacked::Kind::Inf:
      return sign | saturated;
    case Unpacked::Kind::NaN:
      if (s.ieee_specials) {
        const uint32_t quiet = 1u << (s.man_bits - 1);
        return sign | s.inf_code() | quiet |
               static_cast<uint32_t>(u.nan_payload >> (64 - (s.man_bits - 1)));
      }
      // NOTE: the sign of a NaN is arbitrary (x86 produces negative default NaNs), so any NaN
      // maps to +max finite: results stay host-independent and the garbage stays visible.
      return s.max_finite_code();
    case Unpacked::Kind::Finite:
      break;
  }

  const int top = u.exp + bit_width(u.sig) - 1;  // floor(log2 |x|)
  const int emin = 1 - s.bias;
  const int scale = std::max(top, emin);  // denormals share the ulp of the smallest normal
  const int shift = scale - s.man_bits - u.exp;
  uint64_t n;  // |x| in target ulps, after rounding
  if (shift <= 0) {
    n = u.sig << -shift;  // exact; n < 2^(man_bits + 1) so this never overflows
  } else {
    n = shift < 64 ? u.sig >> shift : 0;
    n += round_up(u.sig, shift, (n & 1) != 0, mode, random_bits) ? 1 : 0;
  }
  // With the exponent field counted from scale, a mantissa carry (n == 2^(M+1)) or a denormal
  // rounding up to the smallest normal (n == 2^M) lands on the right code by plain addition.
  const int64_t code =
      (static_cast<int64_t>(scale + s.bias - 1) << s.man_bits) + static_cast<int64_t>(n);
  if (code > static_cast<int64_t>(s.max_finite_code())) return sign | saturated;
  return sign | static_cast<uint32_t>(code);
}

// Every format decoded here has all its nonzero magnitudes inside the normal range of fp32
// (at most 2^32, at least 2^(1-63-10)), so the float is built directly from bits.
float decode(uint32_t code, const Spec& s) {
  const uint32_t exp_mask = (1u << s.exp_bits) - 1;
  const uint32_t e = (code >> s.man_bits) & exp_mask;
  const uint32_t m = code & ((1u << s.man_bits) - 1);
  uint32_t out = (code & s.sign_bit()) != 0 ? 0x80000000u : 0;
  if (s.ieee_specials && e == exp_mask) {
    out |= 0x7F800000u | (m << (23 - s.man_bits));
  } else {
    const uint32_t n = e != 0 ? (m | (1u << s.man_bits)) : m;
    if (n != 0) {
      const int lead = bit_width(n) - 1;
      const int exp2 = std::max<int>(static_cast<int>(e), 1) - s.bias - s.man_bits + lead;
      out |= static_cast<uint32_t>(exp2 + 127) << 23;
      out |= (n << (23 - lead)) & 0x007FFFFFu;
    }
  }
  float f;
  std::memcpy(&f, &out, sizeof f);
  return f;
}

FormatRange range_of(const Spec& s) {
  return {decode(s.max_finite_code(), s), decode(1u << s.man_bits, s), decode(1, s)};
}

}  // namespace

float bf16_to_f32(uint16_t bits) {
  // bf16 is the top half of fp32; bf16 denormals are fp32 denormals, which decode() avoids.
  const uint32_t wide = uint32_t{bits} << 16;
  float f;
  std::memcpy(&f, &wide, sizeof f);
  return f;
}
uint16_t f32_to_bf16(float x, Rounding r, uint32_t random_bits) {
  return static_cast<uint16_t>(encode(unpack_f32(x), kBf16, r, random_bits));
}
uint16_t f64_to_bf16(double x, Rounding r, uint32_t random_bits) {
  return static_cast<uint16_t>(encode(unpack_f64(x), kBf16, r, random_bits));
}

float fp16_to_f32(uint16_t bits) {
  return decode(bits, kFp16);
}
uint16_t f32_to_fp16(float x, Rounding r, uint32_t random_bits) {
  return static_cast<uint16_t>(encode(unpack_f32(x), kFp16, r, random_bits));
}
uint16_t f64_to_fp16(double x, Rounding r, uint32_t random_bits) {
  return static_cast<uint16_t>(encode(unpack_f64(x), kFp16, r, random_bits));
}

float cfp8_to_f32(uint8_t bits, Cfp8Format f) {
  return decode(bits, cfp8_spec(f));
}
uint8_t f32_to_cfp8(float x, Cfp8Format f, Rounding r, uint32_t random_bits) {
  return static_cast<uint8_t>(encode(unpack_f32(x), cfp8_spec(f), r, random_bits));
}
uint8_t f64_to_cfp8(double x, Cfp8Format f, Rounding r, uint32_t random_bits) {
  return static_cast<uint8_t>(encode(unpack_f64(x), cfp8_spec(f), r, random_bits));
}
FormatRange cfp8_range(Cfp8Format f) {
  return range_of(cfp8_spec(f));
}

float cfp16_to_f32(uint16_t bits, uint8_t bias) {
  return decode(bits, cfp16_spec(bias));
}
uint16_t f32_to_cfp16(float x, uint8_t bias, Rounding r, uint32_t random_bits) {
  return static_cast<uint16_t>(encode(unpack_f32(x), cfp16_spec(bias), r, random_bits));
}
uint16_t f64_to_cfp16(double x, uint8_t bias, Rounding r, uint32_t random_bits) {
  return static_cast<uint16_t>(encode(unpack_f64(x), cfp16_spec(bias), r, random_bits));
}
FormatRange cfp16_range(uint8_t bias) {
  return range_of(cfp16_spec(bias));
}

}  // namespace dojosim::isa
