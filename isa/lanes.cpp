// SPDX-License-Identifier: MIT
// The scalar reference of the lane arithmetic (lanes.h): one lane, one operation at a time.
#include "isa/lanes.h"

namespace dojosim::isa::lanes::reference {

namespace {
constexpr uint32_t kMaxLanes = 256;
}

void binary(BinaryOp op, Format f, uint8_t* vd, const uint8_t* vs1, const uint8_t* vs2,
            uint32_t vlen, const Cfp8Lanes& cfp8) {
  const uint32_t n = vlen / lane_bytes(f);
  float a[kMaxLanes], b[kMaxLanes], c[kMaxLanes];
  for (uint32_t i = 0; i < n; ++i) {
    a[i] = get_lane(f, vs1, i, cfp8);
    b[i] = get_lane(f, vs2, i, cfp8);
    c[i] = get_lane(f, vd, i, cfp8);
  }
  for (uint32_t i = 0; i < n; ++i) set_lane(f, vd, i, binary_lane(op, a[i], b[i], c[i]), cfp8);
}

void mma(Format f, float* acc, const uint8_t* a, const uint8_t* b, uint32_t m, uint32_t n,
         uint32_t k, const Cfp8Lanes& cfp8) {
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t j = 0; j < n; ++j) {
      float sum = acc[i * n + j];
      for (uint32_t kk = 0; kk < k; ++kk) {
        const float product = get_lane(f, a, i * k + kk, cfp8) * get_lane(f, b, kk * n + j, cfp8);
        sum = sum + product;
      }
      acc[i * n + j] = canonical(sum);
    }
}

}  // namespace dojosim::isa::lanes::reference
