// SPDX-License-Identifier: MIT
// Number formats against an independent double-precision reference: decoding from the bit
// layout formula, rounding by searching the sorted table of representable values. Nothing here
// calls the library to compute an expected value.
#include <fmt/format.h>

#include <algorithm>
#include <boost/math/distributions/binomial.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "isa/formats.h"

namespace {

using namespace dojosim::isa;

constexpr auto kRne = Rounding::NearestEven;
constexpr auto kSr = Rounding::Stochastic;
constexpr double kInf = std::numeric_limits<double>::infinity();

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}
double double_of(uint64_t b) {
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}
// Out-of-range double to float conversion is undefined behaviour in C++; saturate to Inf.
float to_float(double d) {
  constexpr float kInfF = std::numeric_limits<float>::infinity();
  if (std::fabs(d) > std::numeric_limits<float>::max()) return std::signbit(d) ? -kInfF : kInfF;
  return static_cast<float>(d);
}

// ---- reference ------------------------------------------------------------------------------

struct RefFormat {
  int exp_bits;
  int man_bits;
  int bias;
  bool ieee;  // all-ones exponent is Inf/NaN

  uint32_t sign_bit() const { return 1u << (exp_bits + man_bits); }
  uint32_t inf_code() const { return ((1u << exp_bits) - 1) << man_bits; }
};

// Straight from the value formula of docs/formats.md.
double ref_decode(uint32_t code, const RefFormat& f) {
  const uint32_t m = code % (1u << f.man_bits);
  const uint32_t e = (code >> f.man_bits) % (1u << f.exp_bits);
  const bool negative = ((code >> (f.exp_bits + f.man_bits)) & 1) != 0;
  const double frac = m / std::pow(2.0, f.man_bits);
  double mag;
  if (f.ieee && e == (1u << f.exp_bits) - 1) {
    mag = m == 0 ? kInf : std::numeric_limits<double>::quiet_NaN();
  } else if (e == 0) {
    mag = std::pow(2.0, 1 - f.bias) * frac;
  } else {
    mag = std::pow(2.0, static_cast<int>(e) - f.bias) * (1.0 + frac);
  }
  return negative ? -mag : mag;
}

// Rounds by looking the magnitude up among all representable magnitudes.
class RefRounder {
 public:
  explicit RefRounder(const RefFormat& f) : f_(f) {
    for (uint32_t c = 0; c < f.sign_bit(); ++c) {
      const double v = ref_decode(c, f);
      if (std::isfinite(v)) table_.push_back({v, c});
    }
    std::sort(table_.begin(), table_.end());
    const double max = table_.back().value;
    const double top_ulp = max - table_[table_.size() - 2].value;
    // IEEE rounds as if the exponent were unbounded: the next value after max overflows to Inf.
    beyond_max_ = {max + top_ulp, f.inf_code()};
  }

  const RefFormat& format() const { return f_; }
  double max_finite() const { return table_.back().value; }
  uint32_t max_code() const { return table_.back().code; }

  struct Entry {
    double value;
    uint32_t code;
    bool operator<(const Entry& o) const { return value < o.value; }
  };

  // Representable lo <= a < hi around a finite magnitude a that is not itself representable;
  // hi may be the overflow entry beyond max.
  std::pair<Entry, Entry> neighbours(double a) const {
    const auto it = std::upper_bound(table_.begin(), table_.end(), Entry{a, 0});
    const Entry lo = *(it - 1);
    const Entry hi = it == table_.end() ? beyond_max_ : *it;
    return {lo, hi};
  }
  const std::vector<Entry>& table() const { return table_; }
  Entry beyond_max() const { return beyond_max_; }

  // `mode` as in the library; random_bits only matters for Stochastic. x is not NaN.
  uint32_t round(double x, Rounding mode, uint32_t random_bits) const {
    const uint32_t sign = std::signbit(x) ? f_.sign_bit() : 0;
    const double a = std::fabs(x);
    if (!f_.ieee && a > max_finite()) return sign | max_code();
    if (f_.ieee && a >= beyond_max_.value) return sign | f_.inf_code();
    const auto [lo, hi] = neighbours(a);
    if (lo.value == a) return sign | lo.code;
    if (mode == Rounding::NearestEven) {
      const double mid = (lo.value + hi.value) / 2;  // exact: few significant bits
      if (a < mid) return sign | lo.code;
      if (a > mid) return sign | hi.code;
      return sign | ((lo.code & 1) == 0 ? lo.code : hi.code);
    }
    // a - lo is exact (Sterbenz, or lo == 0) and hi - lo is a power of two.
    const double frac32 = std::floor((a - lo.value) / (hi.value - lo.value) * 4294967296.0);
    const bool up = static_cast<double>(random_bits) + frac32 >= 4294967296.0;
    return sign | (up ? hi.code : lo.code);
  }

 private:
  RefFormat f_;
  std::vector<Entry> table_;
  Entry beyond_max_;
};

// ---- formats under test ---------------------------------------------------------------------

struct Codec {
  std::string name;
  RefFormat ref;
  std::function<float(uint32_t)> decode;
  std::function<uint32_t(float, Rounding, uint32_t)> from_f32;
  std::function<uint32_t(double, Rounding, uint32_t)> from_f64;
};

Codec bf16_codec() {
  return {"bf16",
          {8, 7, 127, true},
          [](uint32_t c) { return bf16_to_f32(uint16_t(c)); },
          [](float x, Rounding r, uint32_t b) { return uint32_t{f32_to_bf16(x, r, b)}; },
          [](double x, Rounding r, uint32_t b) { return uint32_t{f64_to_bf16(x, r, b)}; }};
}
Codec fp16_codec() {
  return {"fp16",
          {5, 10, 15, true},
          [](uint32_t c) { return fp16_to_f32(uint16_t(c)); },
          [](float x, Rounding r, uint32_t b) { return uint32_t{f32_to_fp16(x, r, b)}; },
          [](double x, Rounding r, uint32_t b) { return uint32_t{f64_to_fp16(x, r, b)}; }};
}
Codec cfp8_codec(Cfp8Layout layout, int bias) {
  const Cfp8Format f{layout, uint8_t(bias)};
  const bool e4 = layout == Cfp8Layout::E4M3;
  return {fmt::format("cfp8_{}(bias {})", e4 ? "e4m3" : "e5m2", bias),
          {e4 ? 4 : 5, e4 ? 3 : 2, bias, false},
          [f](uint32_t c) { return cfp8_to_f32(uint8_t(c), f); },
          [f](float x, Rounding r, uint32_t b) { return uint32_t{f32_to_cfp8(x, f, r, b)}; },
          [f](double x, Rounding r, uint32_t b) { return uint32_t{f64_to_cfp8(x, f, r, b)}; }};
}
Codec cfp16_codec(int bias) {
  const auto b8 = uint8_t(bias);
  return {fmt::format("cfp16(bias {})", bias),
          {5, 10, bias, false},
          [b8](uint32_t c) { return cfp16_to_f32(uint16_t(c), b8); },
          [b8](float x, Rounding r, uint32_t b) { return uint32_t{f32_to_cfp16(x, b8, r, b)}; },
          [b8](double x, Rounding r, uint32_t b) { return uint32_t{f64_to_cfp16(x, b8, r, b)}; }};
}

std::vector<Codec> rounding_codecs() {
  std::vector<Codec> v{bf16_codec(), fp16_codec()};
  for (int bias : {0, 7, 31, 63}) v.push_back(cfp8_codec(Cfp8Layout::E4M3, bias));
  for (int bias : {0, 15, 31, 63}) v.push_back(cfp8_codec(Cfp8Layout::E5M2, bias));
  for (int bias : {0, 15, 63}) v.push_back(cfp16_codec(bias));
  return v;
}

// Collects mismatches of a sweep so one CHECK reports the count and the first few cases.
class Mismatches {
 public:
  void add(std::string what) {
    if (shown_.size() < 8) shown_.push_back(std::move(what));
    ++count_;
  }
  size_t count() const { return count_; }
  std::string report() const {
    std::string s = fmt::format("{} mismatches", count_);
    for (const auto& m : shown_) s += "\n  " + m;
    return s;
  }

 private:
  size_t count_ = 0;
  std::vector<std::string> shown_;
};

#define CHECK_NO_MISMATCH(m) \
  do {                       \
    INFO((m).report());      \
    CHECK((m).count() == 0); \
  } while (false)

// Every check of one float input against the reference: both roundings, fp32 and fp64 entry.
void check_conversion(const Codec& c, const RefRounder& ref, float x, uint32_t random_bits,
                      Mismatches& bad) {
  const uint32_t want_rne = ref.round(x, kRne, 0);
  const uint32_t want_sr = ref.round(x, kSr, random_bits);
  const uint32_t got_rne32 = c.from_f32(x, kRne, 0);
  const uint32_t got_rne64 = c.from_f64(x, kRne, 0);
  const uint32_t got_sr32 = c.from_f32(x, kSr, random_bits);
  const uint32_t got_sr64 = c.from_f64(x, kSr, random_bits);
  if (got_rne32 != want_rne || got_rne64 != want_rne || got_sr32 != want_sr ||
      got_sr64 != want_sr) {
    bad.add(
        fmt::format("{} x={:a} r={:#010x}: rne want {:#x} got {:#x}/{:#x}; sr want {:#x} got "
                    "{:#x}/{:#x}",
                    c.name, double(x), random_bits, want_rne, got_rne32, got_rne64, want_sr,
                    got_sr32, got_sr64));
  }
}

uint32_t mix32(uint64_t v) {  // a fixed hash, to spread random_bits over the sweep
  v = (v ^ (v >> 33)) * 0xFF51AFD7ED558CCDull;
  v = (v ^ (v >> 33)) * 0xC4CEB9FE1A85EC53ull;
  return static_cast<uint32_t>(v ^ (v >> 33));
}

// ---- exhaustive decode and round trip -------------------------------------------------------

// Decoding matches the formula for every encoding, and every non-NaN encoding survives
// decode -> encode under both roundings (representable values are never perturbed by SR).
void check_exhaustive(const Codec& c) {
  Mismatches bad;
  const uint32_t codes = c.ref.sign_bit() << 1;
  for (uint32_t code = 0; code < codes; ++code) {
    const double want = ref_decode(code, c.ref);
    const float got = c.decode(code);
    if (std::isnan(want)) {
      if (!std::isnan(got)) bad.add(fmt::format("{} {:#x}: decoded {} not NaN", c.name, code, got));
      continue;
    }
    if (double(got) != want || std::signbit(got) != std::signbit(want)) {
      bad.add(fmt::format("{} {:#x}: decoded {:a} want {:a}", c.name, code, double(got), want));
    }
    for (uint32_t r : {0u, 0x80000000u, 0xFFFFFFFFu, mix32(code)}) {
      const Rounding mode = r == 0 ? kRne : kSr;
      const uint32_t back32 = c.from_f32(got, mode, r);
      const uint32_t back64 = c.from_f64(want, mode, r);
      if (back32 != code || back64 != code) {
        bad.add(fmt::format("{} {:#x}: round trip r={:#x} gave {:#x}/{:#x}", c.name, code, r,
                            back32, back64));
      }
    }
  }
  CHECK_NO_MISMATCH(bad);
}

TEST_CASE("bf16: every encoding decodes to the formula and round-trips", "[formats][bf16]") {
  check_exhaustive(bf16_codec());
  SECTION("NaN: widening keeps the bits, narrowing quiets and keeps sign and payload") {
    Mismatches bad;
    for (uint32_t code = 0; code < 0x10000; ++code) {
      if ((code & 0x7F80) != 0x7F80 || (code & 0x7F) == 0) continue;
      const float f = bf16_to_f32(uint16_t(code));
      if (bits_of(f) != code << 16) bad.add(fmt::format("widen {:#x}", code));
      if (f32_to_bf16(f, kRne) != (code | 0x40)) bad.add(fmt::format("narrow {:#x}", code));
      if (f32_to_bf16(f, kSr, 0xFFFFFFFF) != (code | 0x40)) bad.add(fmt::format("sr {:#x}", code));
    }
    CHECK_NO_MISMATCH(bad);
  }
}

TEST_CASE("fp16: every encoding decodes to the formula and round-trips", "[formats][fp16]") {
  check_exhaustive(fp16_codec());
  SECTION("NaN: widening keeps the bits, narrowing quiets and keeps sign and payload") {
    Mismatches bad;
    for (uint32_t code = 0; code < 0x10000; ++code) {
      if ((code & 0x7C00) != 0x7C00 || (code & 0x3FF) == 0) continue;
      const float f = fp16_to_f32(uint16_t(code));
      const uint32_t want = ((code & 0x8000) << 16) | 0x7F800000u | ((code & 0x3FF) << 13);
      if (bits_of(f) != want) bad.add(fmt::format("widen {:#x} gave {:#x}", code, bits_of(f)));
      if (f32_to_fp16(f, kRne) != (code | 0x200)) bad.add(fmt::format("narrow {:#x}", code));
      if (f32_to_fp16(f, kSr, 0xFFFFFFFF) != (code | 0x200)) bad.add(fmt::format("sr {:#x}", code));
    }
    CHECK_NO_MISMATCH(bad);
  }
}

TEST_CASE("cfp8: every encoding of every bias decodes to the formula and round-trips",
          "[formats][cfp8]") {
  for (auto layout : {Cfp8Layout::E4M3, Cfp8Layout::E5M2}) {
    for (int bias = 0; bias <= kMaxCfpBias; ++bias) {
      const Codec c = cfp8_codec(layout, bias);
      check_exhaustive(c);
      Mismatches bad;
      const Cfp8Format f{layout, uint8_t(bias)};
      for (uint32_t code = 1; code < 0x80; ++code) {
        if (!(cfp8_to_f32(uint8_t(code), f) > cfp8_to_f32(uint8_t(code - 1), f))) {
          bad.add(fmt::format("{}: {:#x} not above its predecessor", c.name, code));
        }
        if (cfp8_to_f32(uint8_t(code | 0x80), f) != -cfp8_to_f32(uint8_t(code), f)) {
          bad.add(fmt::format("{}: {:#x} not the negation of {:#x}", c.name, code | 0x80, code));
        }
      }
      const float neg_zero = cfp8_to_f32(0x80, f);
      if (neg_zero != 0.0f || !std::signbit(neg_zero)) bad.add(c.name + ": 0x80 is not -0.0");
      // The bias is a 6-bit field.
      const Cfp8Format aliased{layout, uint8_t(bias + 64)};
      if (cfp8_to_f32(0x7F, aliased) != cfp8_to_f32(0x7F, f) || !(aliased == f)) {
        bad.add(c.name + ": bias + 64 is not the same format");
      }
      CHECK_NO_MISMATCH(bad);
    }
  }
}

TEST_CASE("cfp16 (SHP): every encoding decodes to the formula and round-trips",
          "[formats][cfp16]") {
  for (int bias : {0, 15, 31, 63}) check_exhaustive(cfp16_codec(bias));
}

// ---- published ranges -----------------------------------------------------------------------

TEST_CASE("cfp8 ranges match the whitepaper's normal ranges and our defaults", "[formats][cfp8]") {
  // Whitepaper Table 4 (CFloat8_1_4_3): bias 0 -> [1.000b x 2^1, 1.111b x 2^15],
  // bias 31 -> [2^-30, 1.111b x 2^-16], bias 63 -> [2^-62, 1.111b x 2^-48].
  const Cfp8Format e4_0{Cfp8Layout::E4M3, 0};
  CHECK(cfp8_range(e4_0).min_normal == 2.0f);
  CHECK(cfp8_range(e4_0).max_finite == 1.875f * 32768.0f);
  CHECK(cfp8_range({Cfp8Layout::E4M3, 31}).min_normal == std::ldexp(1.0f, -30));
  CHECK(cfp8_range({Cfp8Layout::E4M3, 31}).max_finite == std::ldexp(1.875f, -16));
  CHECK(cfp8_range({Cfp8Layout::E4M3, 63}).min_normal == std::ldexp(1.0f, -62));
  CHECK(cfp8_range({Cfp8Layout::E4M3, 63}).max_finite == std::ldexp(1.875f, -48));
  // CFloat8_1_5_2 spans exponents [-62, 31] over all biases.
  CHECK(cfp8_range({Cfp8Layout::E5M2, 0}).max_finite == std::ldexp(1.75f, 31));
  CHECK(cfp8_range({Cfp8Layout::E5M2, 63}).min_normal == std::ldexp(1.0f, -62));

  // Defaults (ours): IEEE-like biases; the all-ones exponent stays finite.
  CHECK(kDefaultCfp8Bias(Cfp8Layout::E4M3) == 7);
  CHECK(kDefaultCfp8Bias(Cfp8Layout::E5M2) == 15);
  CHECK(Cfp8Format{} == default_cfp8_format(Cfp8Layout::E4M3));
  const FormatRange e4 = cfp8_range(default_cfp8_format(Cfp8Layout::E4M3));
  CHECK(e4.max_finite == 480.0f);
  CHECK(e4.min_normal == std::ldexp(1.0f, -6));
  CHECK(e4.min_denormal == std::ldexp(1.0f, -9));
  const FormatRange e5 = cfp8_range(default_cfp8_format(Cfp8Layout::E5M2));
  CHECK(e5.max_finite == 114688.0f);
  CHECK(e5.min_normal == std::ldexp(1.0f, -14));
  CHECK(e5.min_denormal == std::ldexp(1.0f, -16));

  const FormatRange shp = cfp16_range(kDefaultCfp16Bias);
  CHECK(shp.max_finite == 131008.0f);  // 2^16 * (2 - 2^-10): the all-ones exponent is finite
  CHECK(shp.min_denormal == std::ldexp(1.0f, -24));
}

// ---- rounding against the reference ---------------------------------------------------------

TEST_CASE("conversions of a sweep over all fp32 bit patterns match the reference",
          "[formats][rounding]") {
  // An odd stride reaches every exponent and sign, and varied low mantissa bits.
  constexpr uint64_t kStride = 4093;
  for (const Codec& c : rounding_codecs()) {
    const RefRounder ref(c.ref);
    Mismatches bad;
    for (uint64_t b = 0; b < (uint64_t{1} << 32); b += kStride) {
      const float x = float_of(static_cast<uint32_t>(b));
      if (std::isnan(x)) continue;
      check_conversion(c, ref, x, mix32(b), bad);
    }
    INFO(c.name);
    CHECK_NO_MISMATCH(bad);
  }
}

TEST_CASE("conversions at and around every midpoint match the reference", "[formats][rounding]") {
  // At a midpoint f == 1/2 exactly, so random_bits 2^31 is the first value that rounds up.
  const uint32_t kRandom[] = {0u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu};
  for (const Codec& c : rounding_codecs()) {
    const RefRounder ref(c.ref);
    Mismatches bad;
    std::vector<RefRounder::Entry> points = ref.table();
    points.push_back(ref.beyond_max());
    for (size_t i = 0; i + 1 < points.size(); ++i) {
      const double lo = points[i].value;
      const double hi = points[i + 1].value;
      const double mid = (lo + hi) / 2;
      const float midf = to_float(mid);  // exact: at most 12 significant bits
      const float near[] = {midf,
                            std::nextafter(midf, 0.0f),
                            std::nextafter(midf, float(kInf)),
                            to_float(lo),
                            std::nextafter(to_float(lo), float(kInf)),
                            std::nextafter(to_float(hi), 0.0f)};
      for (float x : near) {
        for (uint32_t r : kRandom) {
          check_conversion(c, ref, x, r, bad);
          check_conversion(c, ref, -x, r, bad);
        }
      }
      // From fp64 a value one fp64 ulp off the midpoint must not be rounded as a tie, which
      // rounding through fp32 first would do.
      for (double x : {std::nextafter(mid, 0.0), std::nextafter(mid, kInf)}) {
        for (double sx : {x, -x}) {
          if (c.from_f64(sx, kRne, 0) != ref.round(sx, kRne, 0)) {
            bad.add(fmt::format("{} fp64 {:a}: got {:#x}", c.name, sx, c.from_f64(sx, kRne, 0)));
          }
        }
      }
    }
    INFO(c.name);
    CHECK_NO_MISMATCH(bad);
  }
}

TEST_CASE("conversions of boundary values match the reference", "[formats][rounding]") {
  const float kFloats[] = {0.0f,
                           std::numeric_limits<float>::denorm_min(),
                           std::numeric_limits<float>::min(),
                           std::nextafter(std::numeric_limits<float>::min(), 0.0f),
                           std::numeric_limits<float>::max(),
                           std::numeric_limits<float>::infinity(),
                           1.0f,
                           std::nextafter(1.0f, 2.0f),
                           std::nextafter(1.0f, 0.0f)};
  const uint32_t kRandom[] = {0u, 1u, 0x80000000u, 0xFFFFFFFFu};
  for (const Codec& c : rounding_codecs()) {
    const RefRounder ref(c.ref);
    Mismatches bad;
    const auto& t = ref.table();
    const float min_denormal = float(t[1].value);
    const float max = float(ref.max_finite());
    std::vector<float> xs(std::begin(kFloats), std::end(kFloats));
    for (float v : {min_denormal, max, float(t[size_t(1) << c.ref.man_bits].value)}) {
      for (float scale : {0.25f, 0.5f, 0.75f, 1.0f, 1.5f, 2.0f, 4.0f}) xs.push_back(v * scale);
      xs.push_back(std::nextafter(v, 0.0f));
      xs.push_back(std::nextafter(v, float(kInf)));
    }
    for (float x : xs) {
      for (uint32_t r : kRandom) {
        check_conversion(c, ref, x, r, bad);
        check_conversion(c, ref, -x, r, bad);
      }
    }
    // The stochastic threshold at its finest: discarded fractions of 2^-32 ulp (frac32 == 1, so
    // only random_bits 0xFFFFFFFF rounds up) and of 2^-33 ulp (truncated to 0: never rounds up).
    const double min_normal = t[size_t(1) << c.ref.man_bits].value;
    const double ulp_there = t[(size_t(1) << c.ref.man_bits) + 1].value - min_normal;
    const double fine[] = {
        min_normal + std::ldexp(ulp_there, -32), min_normal + std::ldexp(ulp_there, -33),
        t[1].value * (1 + std::ldexp(1.0, -32)), t[1].value * std::ldexp(1.0, -32),
        t[1].value * (0.5 + std::ldexp(1.0, -40))};
    for (double x : fine) {
      for (uint32_t r : {0xFFFFFFFFu, 0xFFFFFFFEu}) {
        for (double sx : {x, -x}) {
          if (c.from_f64(sx, kSr, r) != ref.round(sx, kSr, r)) {
            bad.add(fmt::format("{} fp64 {:a} r={:#x}: got {:#x}", c.name, sx, r,
                                c.from_f64(sx, kSr, r)));
          }
        }
      }
    }
    for (double x : {std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max(),
                     std::ldexp(1.0, -200), std::ldexp(1.0, 200)}) {
      for (uint32_t r : kRandom) {
        for (double sx : {x, -x}) {
          const uint32_t want_rne = ref.round(sx, kRne, 0);
          const uint32_t want_sr = ref.round(sx, kSr, r);
          if (c.from_f64(sx, kRne, 0) != want_rne || c.from_f64(sx, kSr, r) != want_sr) {
            bad.add(fmt::format("{} fp64 {:a} r={:#x}", c.name, sx, r));
          }
        }
      }
    }
    INFO(c.name);
    CHECK_NO_MISMATCH(bad);
  }
}

TEST_CASE("hand-checked conversions", "[formats][rounding]") {
  // bf16: FLT_MAX is above max + ulp/2 and overflows; a tie at 1 + 2^-8 goes to even (1.0).
  CHECK(f32_to_bf16(std::numeric_limits<float>::max(), kRne) == 0x7F80);
  CHECK(f32_to_bf16(1.0f + std::ldexp(1.0f, -8), kRne) == 0x3F80);
  CHECK(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8), kRne) == 0x3F82);
  CHECK(f32_to_bf16(std::numeric_limits<float>::denorm_min(), kRne) == 0x0000);
  CHECK(f32_to_bf16(-std::numeric_limits<float>::denorm_min(), kRne) == 0x8000);
  // Stochastic: 1 + 2^-8 is half an ulp above 1.0: the top random bit decides.
  CHECK(f32_to_bf16(1.0f + std::ldexp(1.0f, -8), kSr, 0x7FFFFFFF) == 0x3F80);
  CHECK(f32_to_bf16(1.0f + std::ldexp(1.0f, -8), kSr, 0x80000000) == 0x3F81);
  // fp16: max 65504; 65520 is the tie with the overflow value and goes to Inf.
  CHECK(f32_to_fp16(65504.0f, kRne) == 0x7BFF);
  CHECK(f32_to_fp16(65519.0f, kRne) == 0x7BFF);
  CHECK(f32_to_fp16(65520.0f, kRne) == 0x7C00);
  CHECK(f32_to_fp16(-1e9f, kRne) == 0xFC00);
  CHECK(f32_to_fp16(65520.0f, kSr, 0x7FFFFFFF) == 0x7BFF);
  CHECK(f32_to_fp16(65520.0f, kSr, 0x80000000) == 0x7C00);
  // fp16 denormals: 2^-25 ties to 0, just above it rounds to the smallest denormal.
  CHECK(f32_to_fp16(std::ldexp(1.0f, -25), kRne) == 0x0000);
  CHECK(f32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f), kRne) == 0x0001);
  CHECK(f32_to_fp16(std::ldexp(3.0f, -25), kRne) == 0x0002);
  // Largest denormal rounding up into the smallest normal.
  CHECK(f32_to_fp16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -26), kRne) == 0x0400);
  // cfp8 e4m3 bias 7: 1.0 = 0x38, max 480 = 0x7F, saturating; 0.5 ulp above max stays max.
  const Cfp8Format e4 = default_cfp8_format(Cfp8Layout::E4M3);
  CHECK(f32_to_cfp8(1.0f, e4, kRne) == 0x38);
  CHECK(f32_to_cfp8(480.0f, e4, kRne) == 0x7F);
  CHECK(f32_to_cfp8(496.0f, e4, kRne) == 0x7F);
  CHECK(f32_to_cfp8(1e30f, e4, kRne) == 0x7F);
  CHECK(f32_to_cfp8(-1e30f, e4, kSr, 0xFFFFFFFF) == 0xFF);
  CHECK(f32_to_cfp8(464.0f, e4, kRne) == 0x7E);  // tie between 448 (0x7E) and 480: to even
  CHECK(f32_to_cfp8(std::ldexp(1.0f, -10), e4, kRne) == 0x00);  // half the smallest: to even 0
  CHECK(f32_to_cfp8(-std::ldexp(1.0f, -10), e4, kRne) == 0x80);
  CHECK(f32_to_cfp8(std::ldexp(3.0f, -11), e4, kRne) == 0x01);
  // cfp8 e5m2 bias 15: max 114688.
  const Cfp8Format e5 = default_cfp8_format(Cfp8Layout::E5M2);
  CHECK(f32_to_cfp8(114688.0f, e5, kRne) == 0x7F);
  CHECK(f32_to_cfp8(1.0f, e5, kRne) == 0x3C);
}

TEST_CASE("special values", "[formats][specials]") {
  const float inf = std::numeric_limits<float>::infinity();
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  const float snan_payload = float_of(0x7FA12345u);  // signalling, payload 0x212345
  const float neg_nan = float_of(0xFFC00001u);
  for (Rounding r : {kRne, kSr}) {
    const uint32_t rb = r == kSr ? 0xFFFFFFFFu : 0u;
    CHECK(f32_to_bf16(inf, r, rb) == 0x7F80);
    CHECK(f32_to_bf16(-inf, r, rb) == 0xFF80);
    CHECK(f32_to_bf16(-0.0f, r, rb) == 0x8000);
    CHECK(f32_to_bf16(snan_payload, r, rb) == 0x7FE1);  // quiet bit set, top payload bits kept
    CHECK(f32_to_bf16(neg_nan, r, rb) == 0xFFC0);
    // The same signalling NaN as fp64: payload bits 50..0 hold 0x212345 << 29.
    CHECK(f64_to_bf16(double_of(0x7FF0000000000000ull | (0x212345ull << 29)), r, rb) == 0x7FE1);
    CHECK(f32_to_fp16(inf, r, rb) == 0x7C00);
    CHECK(f32_to_fp16(-inf, r, rb) == 0xFC00);
    CHECK(f32_to_fp16(-0.0f, r, rb) == 0x8000);
    CHECK(f32_to_fp16(snan_payload, r, rb) == 0x7E00 + (0x212345 >> 13));
    CHECK(f32_to_fp16(qnan, r, rb) == 0x7E00);
    CHECK(f32_to_fp16(neg_nan, r, rb) == 0xFE00);
    for (auto layout : {Cfp8Layout::E4M3, Cfp8Layout::E5M2}) {
      for (uint8_t bias : {uint8_t(0), uint8_t(7), uint8_t(63)}) {
        const Cfp8Format f{layout, bias};
        CHECK(f32_to_cfp8(inf, f, r, rb) == 0x7F);
        CHECK(f32_to_cfp8(-inf, f, r, rb) == 0xFF);
        CHECK(f32_to_cfp8(qnan, f, r, rb) == 0x7F);
        CHECK(f32_to_cfp8(neg_nan, f, r, rb) == 0x7F);  // NaN sign is ignored
        CHECK(f64_to_cfp8(-std::numeric_limits<double>::quiet_NaN(), f, r, rb) == 0x7F);
        CHECK(f32_to_cfp8(0.0f, f, r, rb) == 0x00);
        CHECK(f32_to_cfp8(-0.0f, f, r, rb) == 0x80);
      }
    }
    CHECK(f32_to_cfp16(inf, 15, r, rb) == 0x7FFF);
    CHECK(f32_to_cfp16(-inf, 15, r, rb) == 0xFFFF);
    CHECK(f32_to_cfp16(neg_nan, 15, r, rb) == 0x7FFF);
  }
  CHECK(std::isnan(bf16_to_f32(0x7FC0)));
  CHECK(std::isinf(fp16_to_f32(0xFC00)));
  CHECK(fp16_to_f32(0xFC00) < 0);
}

#if defined(__FLT16_MANT_DIG__) && defined(__x86_64__)
TEST_CASE("fp16 RNE agrees with the compiler's _Float16 conversion", "[formats][fp16]") {
  Mismatches bad;
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 1021) {
    const float x = float_of(static_cast<uint32_t>(b));
    if (std::isnan(x)) continue;
    const _Float16 h = static_cast<_Float16>(x);
    uint16_t want;
    std::memcpy(&want, &h, sizeof want);
    if (f32_to_fp16(x, kRne) != want) bad.add(fmt::format("{:a}", double(x)));
  }
  CHECK_NO_MISMATCH(bad);
}
#endif

// ---- stochastic rounding statistics ---------------------------------------------------------

struct SrCase {
  Codec codec;
  double x;  // not representable; its neighbours are lo and hi
};

// Rounds x N times with bits from a seeded StochasticRng and checks that every result is one of
// the two neighbours and that the number of round-ups is plausible for Binomial(N, p) with
// p = (|x| - lo) / ulp, i.e. that the expected result is x.
void check_unbiased(const SrCase& sc, uint64_t seed) {
  constexpr int kSamples = 1 << 20;
  constexpr double kAlpha = 1e-9;  // two-sided; the seed is fixed, so this never flakes
  const Codec& c = sc.codec;
  const RefRounder ref(c.ref);
  const float x = to_float(sc.x);  // the input actually converted
  const auto [lo, hi] = ref.neighbours(std::fabs(x));
  const uint32_t sign = std::signbit(x) ? c.ref.sign_bit() : 0;
  const double ulp = hi.value - lo.value;
  const double p = (std::fabs(x) - lo.value) / ulp;
  REQUIRE(p > 0.0);
  REQUIRE(p < 1.0);

  StochasticRng rng(seed);
  int64_t ups = 0;
  int64_t strays = 0;
  for (int i = 0; i < kSamples; ++i) {
    const uint32_t code = c.from_f32(x, kSr, rng.next());
    if (code == (sign | hi.code)) {
      ++ups;
    } else if (code != (sign | lo.code)) {
      ++strays;
    }
  }
  const boost::math::binomial_distribution<double> dist(kSamples, p);
  const double k_min = boost::math::quantile(dist, kAlpha / 2);
  const double k_max = boost::math::quantile(boost::math::complement(dist, kAlpha / 2));
  // Mean of |rounded| - |x| in ulps; hi.value stands in for Inf when hi is the overflow value.
  const double mean_err = (lo.value + double(ups) / kSamples * ulp - std::fabs(x)) / ulp;
  const double sigma = std::sqrt(p * (1 - p) / kSamples);  // of the mean error, in ulps
  INFO(fmt::format("{} x={:a} p={} ups={} allowed [{}, {}] mean error {:.3g} ulp, sigma {:.3g}",
                   c.name, double(x), p, ups, k_min, k_max, mean_err, sigma));
  CHECK(strays == 0);
  CHECK(double(ups) >= k_min);
  CHECK(double(ups) <= k_max);
  CHECK(std::fabs(mean_err) <= 6 * sigma);
}

TEST_CASE("stochastic rounding is unbiased", "[formats][stochastic]") {
  const std::vector<SrCase> cases = {
      {bf16_codec(), 1.0 + 0.625 * std::ldexp(1.0, -7)},        // p = 0.625
      {bf16_codec(), -(3.0 + std::ldexp(1.0, -18))},            // tiny p, negative
      {bf16_codec(), 0.3 * std::ldexp(1.0, -133)},              // below the smallest denormal
      {fp16_codec(), 1000.0 + 0.1},                             // p ~ 0.2 (fp32 of 1000.1)
      {fp16_codec(), std::ldexp(1.0, -24) * 0.71875},           // denormal region, p = 0.71875
      {fp16_codec(), 65504.0 + 8},                              // beyond max: Inf with p = 1/4
      {cfp8_codec(Cfp8Layout::E4M3, 7), 1.1},                   // fp32 1.1
      {cfp8_codec(Cfp8Layout::E4M3, 7), -470.0},                // near max, in range
      {cfp8_codec(Cfp8Layout::E4M3, 7), std::ldexp(0.75, -9)},  // below the smallest denormal
      {cfp8_codec(Cfp8Layout::E5M2, 15), 3.0e-3},
      {cfp8_codec(Cfp8Layout::E5M2, 63), std::ldexp(1.0, -60) * 1.3},
      {cfp8_codec(Cfp8Layout::E4M3, 0), 20000.0},
      {cfp16_codec(15), 1.0 + std::ldexp(1.0, -12)},
  };
  uint64_t seed = 1;
  for (const SrCase& sc : cases) check_unbiased(sc, seed++);
}

TEST_CASE("stochastic rounding of many values has zero mean error", "[formats][stochastic]") {
  // Different p every sample: the mean error over all of them must be zero within 6 sigma of the
  // sum of the per-sample variances p(1-p).
  constexpr int kSamples = 1 << 20;
  for (const Codec& c : {bf16_codec(), fp16_codec(), cfp8_codec(Cfp8Layout::E4M3, 7)}) {
    const RefRounder ref(c.ref);
    StochasticRng values(99);
    StochasticRng rng(100);
    double sum_err = 0;  // in ulps of each sample
    double var = 0;
    for (int i = 0; i < kSamples; ++i) {
      const float x = 1.0f + float(values.next() >> 8) * std::ldexp(1.0f, -24);  // [1, 2)
      const auto [lo, hi] = ref.neighbours(x);
      if (lo.value == x) continue;
      const double ulp = hi.value - lo.value;
      const double p = (x - lo.value) / ulp;
      sum_err += (double(c.decode(c.from_f32(x, kSr, rng.next()))) - x) / ulp;
      var += p * (1 - p);
    }
    INFO(fmt::format("{}: summed error {} ulp, sigma {}", c.name, sum_err, std::sqrt(var)));
    CHECK(std::fabs(sum_err) <= 6 * std::sqrt(var));
  }
}

// ---- the generator --------------------------------------------------------------------------

TEST_CASE("StochasticRng is reproducible and pinned", "[formats][rng]") {
  // xoshiro128** seeded by two splitmix64 steps; values from an independent Python transcription
  // of Vigna's reference code. A change here changes every stochastic result of every program.
  const uint32_t kSeed0[] = {0xDEC9045Du, 0x9A089D75u, 0xAB77D362u, 0xC3E16405u,
                             0x5C95A8DAu, 0x60DEA056u, 0xC25A5140u, 0xA4290614u};
  const uint32_t kSeedX[] = {0x3DEC9F5Du, 0xE7CDCD35u, 0xE39F89B5u, 0x13921962u,
                             0x84618E7Fu, 0xDFDBD178u, 0x67C12E2Au, 0xC2E8BC40u};
  StochasticRng a(0);
  for (uint32_t v : kSeed0) CHECK(a.next() == v);
  StochasticRng b(0x0123456789ABCDEFull);
  for (uint32_t v : kSeedX) CHECK(b.next() == v);
  b.reseed(0);
  for (uint32_t v : kSeed0) CHECK(b.next() == v);

  SECTION("same seed, same rounding sequence; another seed, another") {
    StochasticRng r1(42), r2(42), r3(43);
    const float x = 1.0f + std::ldexp(1.0f, -9);
    int same = 0, differ = 0;
    for (int i = 0; i < 1000; ++i) {
      const uint16_t v1 = f32_to_bf16(x, kSr, r1.next());
      same += v1 == f32_to_bf16(x, kSr, r2.next());
      differ += v1 != f32_to_bf16(x, kSr, r3.next());
    }
    CHECK(same == 1000);
    CHECK(differ > 0);
  }

  SECTION("every bit is balanced") {
    constexpr int kDraws = 1 << 20;
    StochasticRng r(7);
    int64_t ones[32] = {};
    for (int i = 0; i < kDraws; ++i) {
      const uint32_t v = r.next();
      for (int bit = 0; bit < 32; ++bit) ones[bit] += (v >> bit) & 1;
    }
    const boost::math::binomial_distribution<double> dist(kDraws, 0.5);
    const double lo = boost::math::quantile(dist, 1e-9);
    const double hi = boost::math::quantile(boost::math::complement(dist, 1e-9));
    for (int bit = 0; bit < 32; ++bit) {
      INFO("bit " << bit << " ones " << ones[bit]);
      CHECK(double(ones[bit]) >= lo);
      CHECK(double(ones[bit]) <= hi);
    }
  }
}

}  // namespace
