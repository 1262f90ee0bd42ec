// SPDX-License-Identifier: MIT
#include "isa/vector_math.h"

#include <cmath>

#include "isa/lanes.h"

namespace dojosim::isa {

float vector_exp(float x) {
  return lanes::canonical(static_cast<float>(std::exp(static_cast<double>(x))));
}

float vector_recip(float x) {
  return lanes::canonical(1.0f / x);
}

float vector_rsqrt(float x) {
  // sqrt in double is exact-rounded, and so is the division; a 24-bit value's square root
  // and its reciprocal in 53 bits leave one rounding to fp32 that decides the result.
  return lanes::canonical(static_cast<float>(1.0 / std::sqrt(static_cast<double>(x))));
}

float vector_log(float x) {
  return lanes::canonical(static_cast<float>(std::log(static_cast<double>(x))));
}

}  // namespace dojosim::isa
