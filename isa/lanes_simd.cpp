// SPDX-License-Identifier: MIT
// The lane arithmetic of lanes.h on host SIMD. Google Highway compiles this file once per
// target (foreach_target.h: SSE4, AVX2, AVX-512, ... and a portable fallback) and dispatches
// at run time to the best the CPU has. Every operation is the reference's, lane for lane:
// separate multiply and add (never MulAdd except where the reference calls fma, and then only on
// targets with a native fused instruction), the same minimumNumber/maximumNumber and the same
// NaN canonicalisation. The build's -ffp-contract=off keeps the compiler from fusing Mul and
// Add itself on targets with FMA.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "isa/lanes_simd.cpp"
#include <fmt/format.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "isa/lanes.h"

HWY_BEFORE_NAMESPACE();
namespace dojosim::isa::lanes {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr uint32_t kMaxLanes = 256;

// n lanes of a register in format f, widened to fp32. Inlined: the matrix unit calls it twice
// per mma on 32 lanes, where a call and a switch would cost as much as the work.
HWY_INLINE void Decode(Format f, const uint8_t* v, uint32_t n, float* out, const Cfp8Lanes& cfp8) {
  if (f == Format::F32) {
    std::memcpy(out, v, 4 * size_t{n});
    return;
  }
  uint32_t i = 0;
  if (f == Format::BF16) {
    const hn::ScalableTag<float> d;
    const hn::RebindToUnsigned<decltype(d)> du;
    const hn::Rebind<uint16_t, decltype(d)> d16;
    const auto* h = reinterpret_cast<const uint16_t*>(v);  // Highway loads bytes, unaligned
    const uint32_t step = static_cast<uint32_t>(hn::Lanes(d));
    for (; i + step <= n; i += step) {
      const auto wide = hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, h + i)));
      hn::StoreU(hn::BitCast(d, wide), d, out + i);
    }
  }
  for (; i < n; ++i) out[i] = get_lane(f, v, i, cfp8);
}

// n fp32 values rounded to nearest even into a register in format f.
void Encode(Format f, const float* in, uint32_t n, uint8_t* v, const Cfp8Lanes& cfp8) {
  if (f == Format::F32) {
    std::memcpy(v, in, 4 * size_t{n});
    return;
  }
  uint32_t i = 0;
  if (f == Format::BF16) {
    // Round to nearest even on the bits: add 0x7FFF plus the kept part's lowest bit and drop
    // the low half. Exact for every finite value and for Inf (a carry out of the largest
    // finite value lands on Inf, as IEEE overflow does); NaNs arrive canonical and stay so.
    const hn::ScalableTag<float> d;
    const hn::RebindToUnsigned<decltype(d)> du;
    const hn::RebindToSigned<decltype(d)> di;
    const hn::Rebind<uint16_t, decltype(d)> d16;
    const uint32_t step = static_cast<uint32_t>(hn::Lanes(d));
    for (; i + step <= n; i += step) {
      const auto u = hn::BitCast(du, hn::LoadU(d, in + i));
      const auto odd = hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1));
      const auto top = hn::ShiftRight<16>(hn::Add(hn::Add(u, hn::Set(du, 0x7FFF)), odd));
      uint16_t h[kMaxLanes];
      hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, top)), d16, h);
      std::memcpy(v + 2 * size_t{i}, h, 2 * size_t{step});
    }
  }
  for (; i < n; ++i) set_lane(f, v, i, in[i], cfp8);
}

template <class D, class V>
V Canonical(D d, V r) {
  return hn::IfThenElse(hn::Eq(r, r), r,
                        hn::BitCast(d, hn::Set(hn::RebindToUnsigned<D>(), kCanonicalNaN)));
}

template <class D, class V>
V MinNumber(D d, V a, V b) {
  const V unordered = hn::IfThenElse(hn::Eq(a, a), a, b);
  const V r = hn::IfThenElse(
      hn::Lt(a, b), a,
      hn::IfThenElse(hn::Lt(b, a), b, hn::IfThenElse(hn::Eq(a, b), hn::Or(a, b), unordered)));
  return Canonical(d, r);
}

template <class D, class V>
V MaxNumber(D d, V a, V b) {
  const V unordered = hn::IfThenElse(hn::Eq(a, a), a, b);
  const V r = hn::IfThenElse(
      hn::Lt(b, a), a,
      hn::IfThenElse(hn::Lt(a, b), b, hn::IfThenElse(hn::Eq(a, b), hn::And(a, b), unordered)));
  return Canonical(d, r);
}

template <class D, class V>
V Apply(D d, BinaryOp op, V a, V b, V c) {
  switch (op) {
    case BinaryOp::Add:
      return Canonical(d, hn::Add(a, b));
    case BinaryOp::Sub:
      return Canonical(d, hn::Sub(a, b));
    case BinaryOp::Mul:
      return Canonical(d, hn::Mul(a, b));
    case BinaryOp::Fma:
      return Canonical(d, hn::MulAdd(a, b, c));
    case BinaryOp::Min:
      return MinNumber(d, a, b);
    case BinaryOp::Max:
      return MaxNumber(d, a, b);
    case BinaryOp::Gate:
      return hn::IfThenElseZero(hn::Lt(hn::Zero(d), b), Canonical(d, a));
  }
  return c;
}

void BinaryImpl(BinaryOp op, Format f, uint8_t* vd, const uint8_t* vs1, const uint8_t* vs2,
                uint32_t vlen, const Cfp8Lanes& cfp8) {
  const uint32_t n = vlen / lane_bytes(f);
  float a[kMaxLanes], b[kMaxLanes], c[kMaxLanes], r[kMaxLanes];
  Decode(f, vs1, n, a, cfp8);
  Decode(f, vs2, n, b, cfp8);
  Decode(f, vd, n, c, cfp8);
  const hn::ScalableTag<float> d;
  const uint32_t step = static_cast<uint32_t>(hn::Lanes(d));
  uint32_t i = 0;
  // Without a native fused multiply-add (MulAdd would round twice), fma stays scalar.
  const bool simd = op != BinaryOp::Fma || HWY_NATIVE_FMA;
  for (; simd && i + step <= n; i += step) {
    const auto va = hn::LoadU(d, a + i), vb = hn::LoadU(d, b + i);
    hn::StoreU(Apply(d, op, va, vb, hn::LoadU(d, c + i)), d, r + i);
  }
  for (; i < n; ++i) r[i] = reference::binary_lane(op, a[i], b[i], c[i]);
  Encode(f, r, n, vd, cfp8);
}

// acc += A * B for rows of n fp32 lanes in vectors of D; a and b already widened to fp32.
// Four rows at a time with k innermost: four independent chains of adds keep the host's adder
// pipeline busy, where one row's chain would wait out each add's latency. kK > 0 is k known at
// compile time (D1's 4 for bf16, 8 for cfp8), so the k loop unrolls and its indices fold.
template <uint32_t kK, class D>
void MmaRows(D d, float* acc, const float* a, const float* b, uint32_t m, uint32_t n,
             uint32_t k_runtime) {
  const uint32_t k = kK ? kK : k_runtime;
  const uint32_t step = static_cast<uint32_t>(hn::Lanes(d));
  uint32_t j = 0;
  for (; j + step <= n; j += step) {
    uint32_t i = 0;
    for (; i + 4 <= m; i += 4) {
      float* row = acc + i * n + j;
      const float* ai = a + i * k;
      auto c0 = hn::LoadU(d, row), c1 = hn::LoadU(d, row + n);
      auto c2 = hn::LoadU(d, row + 2 * n), c3 = hn::LoadU(d, row + 3 * n);
#pragma GCC unroll 8
      for (uint32_t kk = 0; kk < k; ++kk) {
        const auto bk = hn::LoadU(d, b + kk * n + j);
        c0 = hn::Add(c0, hn::Mul(hn::Set(d, ai[kk]), bk));
        c1 = hn::Add(c1, hn::Mul(hn::Set(d, ai[k + kk]), bk));
        c2 = hn::Add(c2, hn::Mul(hn::Set(d, ai[2 * k + kk]), bk));
        c3 = hn::Add(c3, hn::Mul(hn::Set(d, ai[3 * k + kk]), bk));
      }
      hn::StoreU(Canonical(d, c0), d, row);
      hn::StoreU(Canonical(d, c1), d, row + n);
      hn::StoreU(Canonical(d, c2), d, row + 2 * n);
      hn::StoreU(Canonical(d, c3), d, row + 3 * n);
    }
    for (; i < m; ++i) {
      auto c = hn::LoadU(d, acc + i * n + j);
      for (uint32_t kk = 0; kk < k; ++kk)
        c = hn::Add(c, hn::Mul(hn::Set(d, a[i * k + kk]), hn::LoadU(d, b + kk * n + j)));
      hn::StoreU(Canonical(d, c), d, acc + i * n + j);
    }
  }
  for (; j < n; ++j)
    for (uint32_t i = 0; i < m; ++i) {
      float sum = acc[i * n + j];
      for (uint32_t kk = 0; kk < k; ++kk) sum = sum + a[i * k + kk] * b[kk * n + j];
      acc[i * n + j] = canonical(sum);
    }
}

#if HWY_TARGET != HWY_SCALAR
// MmaRows for a vector of two rows (Lanes(d) == 2 n, m even, 2 k == Lanes(d) or half of it): D1's
// 8-lane rows on AVX-512. Row pair p is one vector of acc; each step multiplies it by row kk of B
// in both halves and by A's (2p, kk) in the low half and (2p + 1, kk) in the high half, picked out
// of the pair's 2 k values of A by one lane permutation. The same products and sums, in the same k
// order, as MmaRows and the reference.
template <uint32_t kK, class D>
void MmaRowPairs(D d, float* acc, const float* a, const float* b, uint32_t m, uint32_t n,
                 uint32_t k_runtime) {
  const uint32_t k = kK ? kK : k_runtime;
  const hn::Half<D> dh;
  const hn::RebindToSigned<D> di;
  using VI = hn::Vec<decltype(di)>;
  // Lane l of the index for step kk: kk in the low half, k + kk in the high half.
  const VI high =
      hn::IfThenElseZero(hn::Lt(hn::Set(di, static_cast<int32_t>(n) - 1), hn::Iota(di, 0)),
                         hn::Set(di, static_cast<int32_t>(k)));
  for (uint32_t i = 0; i < m; i += 2) {
    float* rows = acc + i * n;
    // The pair's 2 k values of A: a whole vector or its low half (the high half zero).
    const auto ai = 2 * k == hn::Lanes(d) ? hn::LoadU(d, a + i * k)
                                          : hn::ZeroExtendVector(d, hn::LoadU(dh, a + i * k));
    auto c = hn::LoadU(d, rows);
    for (uint32_t kk = 0; kk < k; ++kk) {
      const auto bh = hn::LoadU(dh, b + kk * n);
      const auto bk = hn::Combine(d, bh, bh);
      const auto idx = hn::IndicesFromVec(d, hn::Add(high, hn::Set(di, static_cast<int32_t>(kk))));
      c = hn::Add(c, hn::Mul(hn::TableLookupLanes(ai, idx), bk));
    }
    hn::StoreU(Canonical(d, c), d, rows);
  }
}

// n bf16 lanes at p (n = Lanes(dh)) widened to fp32: the top halves of the fp32 values.
template <class DH>
HWY_INLINE hn::Vec<DH> WidenBf16(DH dh, const uint16_t* p) {
  const hn::RebindToUnsigned<DH> du;
  const hn::Rebind<uint16_t, DH> d16;
  return hn::BitCast(dh, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, p))));
}

// MmaRowPairs for bf16 A and B with 2 k == n == Lanes(d) / 2 (D1's 8x8x4 on AVX-512), widening
// A's row pairs and B's rows where they are used instead of into arrays first.
template <class D>
void MmaRowPairsBf16(D d, float* acc, const uint16_t* a, const uint16_t* b, uint32_t m, uint32_t n,
                     uint32_t k) {
  const hn::Half<D> dh;
  const hn::RebindToSigned<D> di;
  const auto high =
      hn::IfThenElseZero(hn::Lt(hn::Set(di, static_cast<int32_t>(n) - 1), hn::Iota(di, 0)),
                         hn::Set(di, static_cast<int32_t>(k)));
  for (uint32_t i = 0; i < m; i += 2) {
    float* rows = acc + i * n;
    const auto ai = hn::ZeroExtendVector(d, WidenBf16(dh, a + i * k));
    auto c = hn::LoadU(d, rows);
    for (uint32_t kk = 0; kk < k; ++kk) {
      const auto bh = WidenBf16(dh, b + kk * n);
      const auto idx = hn::IndicesFromVec(d, hn::Add(high, hn::Set(di, static_cast<int32_t>(kk))));
      c = hn::Add(c, hn::Mul(hn::TableLookupLanes(ai, idx), hn::Combine(d, bh, bh)));
    }
    hn::StoreU(Canonical(d, c), d, rows);
  }
}
#endif

template <uint32_t kK>
void MmaWidened(float* acc, const float* a, const float* b, uint32_t m, uint32_t n, uint32_t k) {
  // The widest vector a row fills: D1's rows are 8 lanes, half an AVX-512 register.
  const hn::ScalableTag<float> full;
  if (n >= hn::Lanes(full)) return MmaRows<kK>(full, acc, a, b, m, n, k);
#if HWY_TARGET != HWY_SCALAR
  if (2 * n == hn::Lanes(full) && m % 2 == 0 &&
      (2 * k == hn::Lanes(full) || 4 * k == hn::Lanes(full)))
    return MmaRowPairs<kK>(full, acc, a, b, m, n, k);
#endif
  if (n >= 8) return MmaRows<kK>(hn::CappedTag<float, 8>(), acc, a, b, m, n, k);
  MmaRows<kK>(hn::CappedTag<float, 4>(), acc, a, b, m, n, k);
}

void MmaImpl(Format f, float* acc, const uint8_t* a, const uint8_t* b, uint32_t m, uint32_t n,
             uint32_t k, const Cfp8Lanes& cfp8) {
#if HWY_TARGET != HWY_SCALAR
  {
    const hn::ScalableTag<float> full;
    if (f == Format::BF16 && 2 * n == hn::Lanes(full) && 4 * k == hn::Lanes(full) && m % 2 == 0)
      return MmaRowPairsBf16(full, acc, reinterpret_cast<const uint16_t*>(a),
                             reinterpret_cast<const uint16_t*>(b), m, n, k);
  }
#endif
  float wa[kMaxLanes], wb[kMaxLanes];
  if (f == Format::BF16) {
    Decode(Format::BF16, a, m * k, wa, cfp8);
    Decode(Format::BF16, b, k * n, wb, cfp8);
  } else {
    Decode(Format::CFP8, a, m * k, wa, cfp8);
    Decode(Format::CFP8, b, k * n, wb, cfp8);
  }
  switch (k) {
    case 4:
      return MmaWidened<4>(acc, wa, wb, m, n, k);
    case 8:
      return MmaWidened<8>(acc, wa, wb, m, n, k);
    default:
      return MmaWidened<0>(acc, wa, wb, m, n, k);
  }
}

// MmaImpl(BF16, acc, a, b, 8, 8, 4) with the shape fixed. On a target of 16 fp32 lanes
// (AVX-512), MmaRowPairsBf16 unrolled: the four row pairs of acc in four registers, B's four rows
// widened once (each in both halves of a register) instead of once per row pair, A's 32 values
// widened into two registers and each step's pair of A values picked by one lane permutation
// with a constant index. Each output lane still adds its four products in k order, each product
// and each sum rounded to fp32, as the reference does.
void MmaBf16_8x8x4Impl(float* acc, const uint8_t* a_bytes, const uint8_t* b_bytes) {
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<float> d;
  if constexpr (hn::MaxLanes(hn::ScalableTag<float>()) == 16) {
    if (hn::Lanes(d) == 16) {
      const hn::RebindToSigned<decltype(d)> di;
      const auto* a = reinterpret_cast<const uint16_t*>(a_bytes);
      const auto* b = reinterpret_cast<const uint16_t*>(b_bytes);
      // Row kk of B (8 lanes) in both halves: its 16 bytes loaded into both 128-bit blocks of
      // 16 bf16 lanes, widened.
      const hn::RebindToUnsigned<decltype(d)> du;
      const hn::Rebind<uint16_t, decltype(d)> d16;
      auto b_row = [&](uint32_t kk) {
        return hn::BitCast(d,
                           hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadDup128(d16, b + 8 * kk))));
      };
      const auto b0 = b_row(0), b1 = b_row(1), b2 = b_row(2), b3 = b_row(3);
      // A's rows 0-3 and 4-7, row-major: A(r, kk) is lane 4 (r % 4) + kk of its register.
      const auto a03 = WidenBf16(d, a), a47 = WidenBf16(d, a + 16);
      // Row pair (2q, 2q + 1) of a register's four rows, step kk: lane 8q + kk in the low half,
      // 8q + 4 + kk in the high half. Constants, loaded rather than computed per call.
      alignas(64) static constexpr int32_t kPick[2][4][16] = {
          {{0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4},
           {1, 1, 1, 1, 1, 1, 1, 1, 5, 5, 5, 5, 5, 5, 5, 5},
           {2, 2, 2, 2, 2, 2, 2, 2, 6, 6, 6, 6, 6, 6, 6, 6},
           {3, 3, 3, 3, 3, 3, 3, 3, 7, 7, 7, 7, 7, 7, 7, 7}},
          {{8, 8, 8, 8, 8, 8, 8, 8, 12, 12, 12, 12, 12, 12, 12, 12},
           {9, 9, 9, 9, 9, 9, 9, 9, 13, 13, 13, 13, 13, 13, 13, 13},
           {10, 10, 10, 10, 10, 10, 10, 10, 14, 14, 14, 14, 14, 14, 14, 14},
           {11, 11, 11, 11, 11, 11, 11, 11, 15, 15, 15, 15, 15, 15, 15, 15}}};
      auto pick = [&](uint32_t q, uint32_t kk) {
        return hn::IndicesFromVec(d, hn::Load(di, kPick[q][kk]));
      };
      auto c0 = hn::LoadU(d, acc), c1 = hn::LoadU(d, acc + 16);
      auto c2 = hn::LoadU(d, acc + 32), c3 = hn::LoadU(d, acc + 48);
      auto step = [&](uint32_t kk, decltype(b0) bk) {
        const auto i0 = pick(0, kk), i1 = pick(1, kk);
        c0 = hn::Add(c0, hn::Mul(hn::TableLookupLanes(a03, i0), bk));
        c1 = hn::Add(c1, hn::Mul(hn::TableLookupLanes(a03, i1), bk));
        c2 = hn::Add(c2, hn::Mul(hn::TableLookupLanes(a47, i0), bk));
        c3 = hn::Add(c3, hn::Mul(hn::TableLookupLanes(a47, i1), bk));
      };
      step(0, b0);
      step(1, b1);
      step(2, b2);
      step(3, b3);
      hn::StoreU(Canonical(d, c0), d, acc);
      hn::StoreU(Canonical(d, c1), d, acc + 16);
      hn::StoreU(Canonical(d, c2), d, acc + 32);
      hn::StoreU(Canonical(d, c3), d, acc + 48);
      return;
    }
  }
#endif
  MmaImpl(Format::BF16, acc, a_bytes, b_bytes, 8, 8, 4, Cfp8Lanes{Cfp8Format{}, nullptr});
}

int64_t TargetImpl() {
  return HWY_TARGET;
}

}  // namespace HWY_NAMESPACE
}  // namespace dojosim::isa::lanes
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dojosim::isa::lanes {

HWY_EXPORT(BinaryImpl);
HWY_EXPORT(MmaImpl);
HWY_EXPORT(MmaBf16_8x8x4Impl);
HWY_EXPORT(TargetImpl);

namespace {
// DOJOSIM_SIMD=<target> (a name of hwy::TargetName) caps the choice at that target: to compare
// targets, or for a tool that emulates less than the CPU reports (valgrind 3.19 reports
// AVX-512 and cannot run it). Read at each call, which is once per core.
void apply_simd_cap() {
  const char* want = std::getenv("DOJOSIM_SIMD");
  if (want == nullptr || *want == 0) return;
  std::string names;
  for (int64_t targets = HWY_TARGETS; targets != 0; targets &= targets - 1) {
    const int64_t target = targets & -targets;
    if (want == std::string_view(hwy::TargetName(target))) {
      hwy::DisableTargets(HWY_TARGETS & (target - 1));  // lower bits are the better targets
      return;
    }
    names += (names.empty() ? "" : ", ") + std::string(hwy::TargetName(target));
  }
  throw std::invalid_argument(
      fmt::format("DOJOSIM_SIMD={}: not a SIMD target of this build (one of {})", want, names));
}
}  // namespace

void binary(BinaryOp op, Format f, uint8_t* vd, const uint8_t* vs1, const uint8_t* vs2,
            uint32_t vlen, const Cfp8Lanes& cfp8) {
  HWY_DYNAMIC_DISPATCH(BinaryImpl)(op, f, vd, vs1, vs2, vlen, cfp8);
}

void mma(Format f, float* acc, const uint8_t* a, const uint8_t* b, uint32_t m, uint32_t n,
         uint32_t k, const Cfp8Lanes& cfp8) {
  HWY_DYNAMIC_DISPATCH(MmaImpl)(f, acc, a, b, m, n, k, cfp8);
}

Kernels kernels() {
  apply_simd_cap();
#if (HWY_TARGETS & (HWY_TARGETS - 1)) == 0
  const size_t i = 0;  // one target compiled: its table has one entry
#else
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  const size_t i = hwy::GetChosenTarget().GetIndex();
#endif
  return {HWY_DISPATCH_TABLE(BinaryImpl)[i], HWY_DISPATCH_TABLE(MmaImpl)[i],
          HWY_DISPATCH_TABLE(MmaBf16_8x8x4Impl)[i]};
}

void mma_bf16_8x8x4(float* acc, const uint8_t* a, const uint8_t* b) {
  HWY_DYNAMIC_DISPATCH(MmaBf16_8x8x4Impl)(acc, a, b);
}

const char* simd_target_name() {
  apply_simd_cap();
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  return hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetImpl)());
}

}  // namespace dojosim::isa::lanes
#endif  // HWY_ONCE
