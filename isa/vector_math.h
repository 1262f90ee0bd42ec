// SPDX-License-Identifier: MIT
// The elementary functions of the vector unit (vexp, vrecip, vrsqrt, vlog on fp32 lanes), defined
// once here: the interpreter's semantics and the runtime's bit-exact references both call
// these. Each is deterministic on any IEEE 754 host: the value is computed in double and
// rounded once to fp32 (nearest even), the double step being exact or correctly rounded except
// for exp and log (glibc's, under 1 ulp of double; docs/isa.md states the consequence).
#pragma once
// A NaN result is the canonical NaN, as every vector instruction's (isa/lanes.h).

namespace dojosim::isa {

/// fp32(exp(double(x))): exp(-inf) = 0, exp(inf) = inf, NaN stays NaN; overflows to inf
/// above ~88.72, underflows through the subnormals to 0 below ~-103.97.
float vector_exp(float x);
/// 1 / x correctly rounded: 1/0 = inf with x's sign, 1/inf = 0, NaN stays NaN.
float vector_recip(float x);
/// fp32(1 / sqrt(double(x))): x < 0 gives NaN, rsqrt(+-0) = +-inf, rsqrt(inf) = 0.
float vector_rsqrt(float x);
/// fp32(log(double(x))), the natural logarithm: log(+-0) = -inf, log(x < 0) = NaN,
/// log(inf) = inf, log(1) = 0; subnormal x is exact in double, so log(2^-149) ~ -103.28.
float vector_log(float x);

}  // namespace dojosim::isa
