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
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>

#include "isa/lanes.h"

HWY_BEFORE_NAMESPACE();
namespace dojosim::isa::lanes {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr uint32_t kMaxLanes = 256;

// n lanes of a register in format f, widened to fp32.
void Decode(Format f, const uint8_t* v, uint32_t n, float* out, const Cfp8Lanes& cfp8) {
  if (f == Format::F32) {
    std::memcpy(out, v, 4 * size_t{n});
    return;
  }
  uint32_t i = 0;
  if (f == Format::BF16) {
    const hn::ScalableTag<float> d;
    const hn::RebindToUnsigned<decltype(d)> du;
    const hn::Rebind<uint16_t, decltype(d)> d16;
    const uint32_t step = static_cast<uint32_t>(hn::Lanes(d));
    for (; i + step <= n; i += step) {
      uint16_t h[kMaxLanes];
      std::memcpy(h, v + 2 * size_t{i}, 2 * size_t{step});
      const auto wide = hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, h)));
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
template <class D>
void MmaRows(D d, float* acc, const float* a, const float* b, uint32_t m, uint32_t n, uint32_t k) {
  const uint32_t step = static_cast<uint32_t>(hn::Lanes(d));
  for (uint32_t i = 0; i < m; ++i) {
    uint32_t j = 0;
    for (; j + step <= n; j += step) {
      auto c = hn::LoadU(d, acc + i * n + j);
      for (uint32_t kk = 0; kk < k; ++kk)
        c = hn::Add(c, hn::Mul(hn::Set(d, a[i * k + kk]), hn::LoadU(d, b + kk * n + j)));
      hn::StoreU(Canonical(d, c), d, acc + i * n + j);
    }
    for (; j < n; ++j) {
      float sum = acc[i * n + j];
      for (uint32_t kk = 0; kk < k; ++kk) sum = sum + a[i * k + kk] * b[kk * n + j];
      acc[i * n + j] = canonical(sum);
    }
  }
}

void MmaImpl(Format f, float* acc, const uint8_t* a, const uint8_t* b, uint32_t m, uint32_t n,
             uint32_t k, const Cfp8Lanes& cfp8) {
  float wa[kMaxLanes], wb[kMaxLanes];
  Decode(f, a, m * k, wa, cfp8);
  Decode(f, b, k * n, wb, cfp8);
  // The widest vector a row fills: D1's rows are 8 lanes, half an AVX-512 register.
  const hn::ScalableTag<float> full;
  if (n >= hn::Lanes(full)) return MmaRows(full, acc, wa, wb, m, n, k);
  if (n >= 8) return MmaRows(hn::CappedTag<float, 8>(), acc, wa, wb, m, n, k);
  MmaRows(hn::CappedTag<float, 4>(), acc, wa, wb, m, n, k);
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
HWY_EXPORT(TargetImpl);

void binary(BinaryOp op, Format f, uint8_t* vd, const uint8_t* vs1, const uint8_t* vs2,
            uint32_t vlen, const Cfp8Lanes& cfp8) {
  HWY_DYNAMIC_DISPATCH(BinaryImpl)(op, f, vd, vs1, vs2, vlen, cfp8);
}

void mma(Format f, float* acc, const uint8_t* a, const uint8_t* b, uint32_t m, uint32_t n,
         uint32_t k, const Cfp8Lanes& cfp8) {
  HWY_DYNAMIC_DISPATCH(MmaImpl)(f, acc, a, b, m, n, k, cfp8);
}

const char* simd_target_name() {
  return hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetImpl)());
}

}  // namespace dojosim::isa::lanes
#endif  // HWY_ONCE
