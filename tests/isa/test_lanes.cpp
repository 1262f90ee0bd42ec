// SPDX-License-Identifier: MIT
// The lane arithmetic of the vector and matrix instructions (isa/lanes.h): the scalar reference
// against the documented rules on chosen values, then every Highway target this host can run
// against the reference, bit for bit, on random and special values.
#include <fmt/format.h>
#include <hwy/targets.h>

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "isa/formats.h"
#include "isa/lanes.h"

namespace {

using namespace dojosim::isa;
using lanes::BinaryOp;
using lanes::Format;

// The bit views of isa/lanes.h, under the names these tests read best with.
constexpr auto bits_of = lanes::float_bits;
constexpr auto float_of = lanes::bits_float;

// A cfp8 format with its decoding table, as a thread holds them.
struct Cfp8Table {
  explicit Cfp8Table(Cfp8Format f) : format(f) {
    for (unsigned b = 0; b < 256; ++b) decode[b] = cfp8_to_f32(static_cast<uint8_t>(b), f);
  }
  lanes::Cfp8Lanes lanes() const { return {format, decode.data()}; }
  Cfp8Format format;
  std::array<float, 256> decode{};
};
const Cfp8Table kE4M3{default_cfp8_format(Cfp8Layout::E4M3)};

// One fp32 lane of each binary op through the reference, on a 16-byte register.
float ref_f32(BinaryOp op, float a, float b, float c = 0) {
  float va[4] = {a, a, a, a}, vb[4] = {b, b, b, b}, vd[4] = {c, c, c, c};
  uint8_t ra[16], rb[16], rd[16];
  std::memcpy(ra, va, 16);
  std::memcpy(rb, vb, 16);
  std::memcpy(rd, vd, 16);
  lanes::reference::binary(op, Format::F32, rd, ra, rb, 16, kE4M3.lanes());
  float out;
  std::memcpy(&out, rd, 4);
  return out;
}

const float kInf = std::numeric_limits<float>::infinity();
const float kMinSub = float_of(0x00000001);

TEST_CASE("lanes: a NaN result is the canonical quiet NaN, whatever the operands' NaN bits") {
  CHECK(bits_of(ref_f32(BinaryOp::Add, float_of(0xFFC00001), 1.0f)) == lanes::kCanonicalNaN);
  CHECK(bits_of(ref_f32(BinaryOp::Mul, 2.0f, float_of(0x7F800001))) == lanes::kCanonicalNaN);
  CHECK(bits_of(ref_f32(BinaryOp::Sub, kInf, kInf)) == lanes::kCanonicalNaN);  // x86: -NaN
  CHECK(bits_of(ref_f32(BinaryOp::Mul, 0.0f, -kInf)) == lanes::kCanonicalNaN);
  CHECK(bits_of(ref_f32(BinaryOp::Fma, 0.0f, kInf, 1.0f)) == lanes::kCanonicalNaN);
  // bf16 lanes: the canonical NaN rounds to the canonical bf16 NaN.
  const uint8_t a[16] = {0xC1, 0xFF, 0x80, 0x3F}, b[16] = {0x80, 0x3F};
  uint8_t d[16] = {};
  lanes::reference::binary(BinaryOp::Add, Format::BF16, d, a, b, 16, kE4M3.lanes());
  CHECK((d[0] | d[1] << 8) == 0x7FC0);  // NaN + 1
  CHECK((d[2] | d[3] << 8) == 0x3F80);  // 1 + 0
}

TEST_CASE("lanes: min and max are IEEE minimumNumber/maximumNumber, -0 below +0") {
  for (BinaryOp op : {BinaryOp::Min, BinaryOp::Max}) {
    const bool min = op == BinaryOp::Min;
    CHECK(bits_of(ref_f32(op, -0.0f, 0.0f)) == (min ? 0x80000000u : 0u));
    CHECK(bits_of(ref_f32(op, 0.0f, -0.0f)) == (min ? 0x80000000u : 0u));
    CHECK(ref_f32(op, float_of(0xFFC00001), 3.0f) == 3.0f);
    CHECK(ref_f32(op, -2.0f, float_of(0x7F800001)) == -2.0f);
    CHECK(bits_of(ref_f32(op, float_of(0xFFC00001), float_of(0x7FA00000))) == lanes::kCanonicalNaN);
    CHECK(ref_f32(op, -kInf, kInf) == (min ? -kInf : kInf));
    CHECK(ref_f32(op, kMinSub, -kMinSub) == (min ? -kMinSub : kMinSub));
  }
}

TEST_CASE("lanes: gate keeps a where b > 0 and gives +0 elsewhere, NaN b included") {
  CHECK(ref_f32(BinaryOp::Gate, -3.0f, kMinSub) == -3.0f);
  CHECK(ref_f32(BinaryOp::Gate, kInf, 2.0f) == kInf);
  CHECK(bits_of(ref_f32(BinaryOp::Gate, -3.0f, 0.0f)) == 0u);
  CHECK(bits_of(ref_f32(BinaryOp::Gate, -3.0f, -0.0f)) == 0u);
  CHECK(bits_of(ref_f32(BinaryOp::Gate, kInf, -1.0f)) == 0u);  // no inf x 0 = NaN
  CHECK(bits_of(ref_f32(BinaryOp::Gate, float_of(0xFFC00001), -1.0f)) == 0u);
  CHECK(bits_of(ref_f32(BinaryOp::Gate, 5.0f, float_of(0x7FC00000))) == 0u);
  CHECK(bits_of(ref_f32(BinaryOp::Gate, float_of(0xFFC00001), 1.0f)) == lanes::kCanonicalNaN);
}

TEST_CASE("lanes: subnormals are computed, never flushed") {
  CHECK(bits_of(ref_f32(BinaryOp::Add, kMinSub, 0.0f)) == 1u);
  CHECK(bits_of(ref_f32(BinaryOp::Mul, float_of(0x00000003), 0.5f)) == 2u);  // 1.5 ulp: even
  CHECK(bits_of(ref_f32(BinaryOp::Sub, float_of(0x00800000), kMinSub)) == 0x007FFFFFu);
  CHECK(bits_of(ref_f32(BinaryOp::Fma, 0.5f, kMinSub, kMinSub)) == 2u);  // 1.5 ulp, one rounding
}

TEST_CASE("lanes: mma rounds each product to fp32 before adding, also in the subnormal range") {
  // a*b = 0.75 * 2^-149 exactly: the product rounds to 2^-149, so acc = -2^-149 becomes +0;
  // a fused multiply-add would give -0.25 * 2^-149, which rounds to -0.
  const uint16_t a = f32_to_bf16(1.5f * std::ldexp(1.0f, -75), Rounding::NearestEven);
  const uint16_t b = f32_to_bf16(std::ldexp(1.0f, -75), Rounding::NearestEven);
  REQUIRE(bf16_to_f32(a) * bf16_to_f32(b) == kMinSub);
  REQUIRE(bits_of(std::fma(bf16_to_f32(a), bf16_to_f32(b), -kMinSub)) == 0x80000000u);
  uint8_t va[2], vb[2];
  std::memcpy(va, &a, 2);
  std::memcpy(vb, &b, 2);
  float acc = -kMinSub;
  lanes::reference::mma(Format::BF16, &acc, va, vb, 1, 1, 1, kE4M3.lanes());
  CHECK(bits_of(acc) == 0u);
  acc = -kMinSub;
  lanes::mma(Format::BF16, &acc, va, vb, 1, 1, 1, kE4M3.lanes());
  CHECK(bits_of(acc) == 0u);
}

TEST_CASE("lanes: mma adds the products in k order, rounding each sum") {
  // 2^24 + 1 - 2^24: in k order (2^24 + 1 rounds to 2^24) it is 0; any other order gives 1.
  const float a_row[3] = {1.0f, 1.0f, 1.0f};
  const float b_col[3] = {16777216.0f, 1.0f, -16777216.0f};
  uint8_t va[6], vb[6];
  for (int k = 0; k < 3; ++k) {
    const uint16_t ha = f32_to_bf16(a_row[k], Rounding::NearestEven);
    const uint16_t hb = f32_to_bf16(b_col[k], Rounding::NearestEven);
    std::memcpy(va + 2 * k, &ha, 2);
    std::memcpy(vb + 2 * k, &hb, 2);
  }
  float acc = 0;
  lanes::reference::mma(Format::BF16, &acc, va, vb, 1, 1, 3, kE4M3.lanes());
  CHECK(acc == 0.0f);
}

// ---- every SIMD target against the reference --------------------------------------------------

// fp32 bit patterns that exercise rounding, overflow, underflow and NaN handling.
const uint32_t kSpecialF32[] = {
    0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FC00001,
    0xFF800001, 0x7FBFFFFF, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000,
    0x80800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000, 0xBF800000, 0x3F808000, 0x3F818000,
    0x7F7F8000, 0x7F7F7FFF, 0x00008000, 0x00018000, 0x4B800000, 0xCB800000, 0x3F7FFFFF};

class LaneSource {
 public:
  explicit LaneSource(uint64_t seed) : rng_(seed) {}

  // A register of vlen bytes in format f: per lane a special value (a third of the time) or
  // random bits; for bf16 the special's top half, for cfp8 any byte.
  void fill(Format f, uint8_t* v, uint32_t vlen) {
    const uint32_t w = lanes::lane_bytes(f);
    for (uint32_t i = 0; i < vlen; i += w) {
      uint32_t bits = static_cast<uint32_t>(rng_());
      if (rng_() % 3 == 0) bits = kSpecialF32[rng_() % std::size(kSpecialF32)];
      if (f == Format::BF16) bits >>= 16;
      std::memcpy(v + i, &bits, w);  // little-endian: the low bytes
    }
  }
  // fp32 values of an accumulator: specials, random bits, and moderate numbers.
  float acc_value() {
    const uint64_t r = rng_() % 3;
    if (r == 0) return float_of(kSpecialF32[rng_() % std::size(kSpecialF32)]);
    if (r == 1) return float_of(static_cast<uint32_t>(rng_()));
    return static_cast<float>(static_cast<int64_t>(rng_() % 2001) - 1000) / 64.0f;
  }
  Cfp8Format cfp8_format() {
    return {rng_() % 2 ? Cfp8Layout::E4M3 : Cfp8Layout::E5M2, static_cast<uint8_t>(rng_() % 64)};
  }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

std::string hex(const uint8_t* v, uint32_t n) {
  std::string s;
  for (uint32_t i = 0; i < n; ++i) s += fmt::format("{:02x}", v[i]);
  return s;
}

// Runs `body` once per compiled Highway target this CPU supports, that target dispatched.
template <class Body>
void for_each_target(Body body) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  REQUIRE(!targets.empty());
  for (const int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    const std::string name = hwy::TargetName(target);
    INFO("Highway target " << name);
    REQUIRE(std::string(lanes::simd_target_name()) == name);
    body();
  }
  hwy::SetSupportedTargetsForTest(0);
}

TEST_CASE("lanes: vector arithmetic on every SIMD target equals the reference bit for bit") {
  const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Fma,
                          BinaryOp::Min, BinaryOp::Max, BinaryOp::Gate};
  const char* op_names[] = {"add", "sub", "mul", "fma", "min", "max", "gate"};
  const char* format_names[] = {"fp32", "bf16", "cfp8"};
  for_each_target([&] {
    LaneSource src(42);
    for (uint32_t vlen : {16u, 64u, 256u})
      for (Format f : {Format::F32, Format::BF16, Format::CFP8})
        for (int o = 0; o < 7; ++o)
          for (int trial = 0; trial < 40; ++trial) {
            const Cfp8Table cfp8(src.cfp8_format());
            uint8_t a[256], b[256], d[256], expect[256], got[256];
            src.fill(f, a, vlen);
            src.fill(f, b, vlen);
            src.fill(f, d, vlen);
            std::memcpy(expect, d, vlen);
            std::memcpy(got, d, vlen);
            lanes::reference::binary(ops[o], f, expect, a, b, vlen, cfp8.lanes());
            lanes::binary(ops[o], f, got, a, b, vlen, cfp8.lanes());
            uint8_t kept[256];  // through the kernels the interpreter keeps
            std::memcpy(kept, d, vlen);
            lanes::kernels().binary(ops[o], f, kept, a, b, vlen, cfp8.lanes());
            INFO(op_names[o] << "." << format_names[static_cast<int>(f)] << " vlen " << vlen
                             << " a " << hex(a, vlen) << " b " << hex(b, vlen) << " d "
                             << hex(d, vlen));
            REQUIRE(hex(got, vlen) == hex(expect, vlen));
            REQUIRE(hex(kept, vlen) == hex(expect, vlen));
            // vd aliasing vs1, as `vadd v1, v1, v2` does.
            std::memcpy(expect, a, vlen);
            std::memcpy(got, a, vlen);
            lanes::reference::binary(ops[o], f, expect, expect, b, vlen, cfp8.lanes());
            lanes::binary(ops[o], f, got, got, b, vlen, cfp8.lanes());
            REQUIRE(hex(got, vlen) == hex(expect, vlen));
          }
  });
}

TEST_CASE("lanes: mma on every SIMD target equals the reference bit for bit") {
  struct Shape {
    uint32_t m, n, k;
  };
  // D1's 8x8x4 (and 8x8x8 for cfp8), rows wider and narrower than a host vector, odd sizes.
  const Shape shapes[] = {{8, 8, 4}, {8, 8, 8},  {16, 16, 4}, {4, 32, 2}, {3, 5, 7},
                          {1, 1, 1}, {5, 12, 3}, {2, 64, 1},  {16, 4, 8}};
  for_each_target([&] {
    LaneSource src(7);
    for (const Shape& s : shapes)
      for (Format f : {Format::BF16, Format::CFP8})
        for (int trial = 0; trial < 30; ++trial) {
          const Cfp8Table cfp8(src.cfp8_format());
          const uint32_t w = lanes::lane_bytes(f);
          uint8_t a[256], b[256];
          src.fill(f, a, s.m * s.k * w);
          src.fill(f, b, s.k * s.n * w);
          std::vector<float> init(s.m * s.n);
          for (float& x : init) x = src.acc_value();
          std::vector<float> expect = init, got = init;
          lanes::reference::mma(f, expect.data(), a, b, s.m, s.n, s.k, cfp8.lanes());
          lanes::mma(f, got.data(), a, b, s.m, s.n, s.k, cfp8.lanes());
          std::vector<float> kept = init;  // through the kernels the interpreter keeps
          lanes::kernels().mma(f, kept.data(), a, b, s.m, s.n, s.k, cfp8.lanes());
          // D1's bf16 shape through its own kernel, dispatched and kept.
          const bool d1 = f == Format::BF16 && s.m == 8 && s.n == 8 && s.k == 4;
          std::vector<float> fixed = init, fixed_kept = init;
          if (d1) {
            lanes::mma_bf16_8x8x4(fixed.data(), a, b);
            lanes::kernels().mma_bf16_8x8x4(fixed_kept.data(), a, b);
          }
          INFO("mma " << (f == Format::BF16 ? "bf16 " : "cfp8 ") << s.m << "x" << s.n << "x" << s.k
                      << " trial " << trial);
          for (uint32_t i = 0; i < s.m * s.n; ++i) {
            INFO("lane " << i << " acc " << fmt::format("{:08x}", bits_of(init[i])));
            REQUIRE(fmt::format("{:08x}", bits_of(got[i])) ==
                    fmt::format("{:08x}", bits_of(expect[i])));
            REQUIRE(bits_of(kept[i]) == bits_of(expect[i]));
            if (d1) {
              REQUIRE(bits_of(fixed[i]) == bits_of(expect[i]));
              REQUIRE(bits_of(fixed_kept[i]) == bits_of(expect[i]));
            }
          }
        }
  });
}

TEST_CASE("lanes: DOJOSIM_SIMD caps the target; a name of no target is an error naming it") {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  REQUIRE(!targets.empty());
  const std::string worst = hwy::TargetName(targets.back());  // the last bit: the fallback
  setenv("DOJOSIM_SIMD", "NOSUCH", 1);
  CHECK_THROWS_WITH(lanes::simd_target_name(),
                    Catch::Contains("DOJOSIM_SIMD=NOSUCH") && Catch::Contains(worst));
  CHECK_THROWS_AS(lanes::kernels(), std::invalid_argument);
  setenv("DOJOSIM_SIMD", worst.c_str(), 1);
  CHECK(std::string(lanes::simd_target_name()) == worst);
  uint8_t a[64], b[64], expect[64] = {}, got[64] = {};
  LaneSource src(3);
  src.fill(Format::F32, a, 64);
  src.fill(Format::F32, b, 64);
  lanes::reference::binary(BinaryOp::Mul, Format::F32, expect, a, b, 64, kE4M3.lanes());
  lanes::kernels().binary(BinaryOp::Mul, Format::F32, got, a, b, 64, kE4M3.lanes());
  CHECK(hex(got, 64) == hex(expect, 64));
  unsetenv("DOJOSIM_SIMD");
  hwy::DisableTargets(0);  // the rest of this process chooses freely again
  CHECK(std::string(lanes::simd_target_name()) == hwy::TargetName(targets.front()));
}

}  // namespace
