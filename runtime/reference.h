// SPDX-License-Identifier: MIT
// Reference results for the node kernels.
//
// Bit-exact references compute exactly what the kernels compute, in the same order: for every
// element of C, one fp32 rounding per k, in increasing k over the padded K (the padding adds
// +0 products), starting from the initial value:
//   bf16, cfp8: c = c + a*b   (a*b in fp32: exact for every cfp8 pair and for bf16 products
//                              of 0 or in fp32's normal range; a bf16 product below 2^-126
//                              that is not a multiple of 2^-149 is rounded first, one above
//                              2^128 overflows. docs/runtime-kernels.md)
//   fp32:       c = fma(a, b, c)
// which is the matrix unit's order (isa/interpreter.cpp, mma: k order within a block, blocks in
// k order) and the SIMD unit's (one vfma.fp32 per k). Register blocking and the order in which
// blocks are computed do not change any element's order.
//
// The float64 references compute init + sum a*b in double from the unrounded host values and
// return, per element, a bound on how far a kernel's result may be from it; the derivation is
// in docs/runtime-kernels.md.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/matmul.h"
#include "runtime/tensor.h"

namespace dojosim::runtime {

/// C as the node kernel computes it: a and b rounded to `dtype` (RNE), accumulated in fp32 in
/// the documented order over padded_k (>= k) terms.
Matrix reference_matmul_exact(DType dtype, isa::Cfp8Format f, MatmulInit init,
                              const MatmulOperands& ops, uint32_t padded_k);

/// Values in double and a per-element error bound.
struct Reference64 {
  uint32_t rows = 0, cols = 0;
  std::vector<double> value, bound;
  double at(uint32_t r, uint32_t c) const { return value[size_t{r} * cols + c]; }
  double bound_at(uint32_t r, uint32_t c) const { return bound[size_t{r} * cols + c]; }
};

/// init + A*B in double from the unrounded values, with the bound on |kernel - value| for a
/// kernel that rounds a and b to dtype and accumulates padded_k terms in fp32. Valid while no
/// input exceeds the format's largest value and no product or sum leaves fp32's normal range.
Reference64 reference_matmul_f64(DType dtype, isa::Cfp8Format f, MatmulInit init,
                                 const MatmulOperands& ops, uint32_t padded_k);

/// The relative part of that bound: |kernel - exact| <= tol * (|init| + sum |a||b|), ignoring
/// denormal inputs. 2u + u^2 + gamma_K (1 + u)^2 with u the input format's unit roundoff and
/// gamma_K = K u32 / (1 - K u32), u32 = 2^-24.
double matmul_tolerance(DType dtype, isa::Cfp8Format f, uint32_t padded_k);

/// A 2D convolution, NHWC input, weights as [r][s][c][k] (HWIO), NHWC output of p x q.
struct Conv2dShape {
  uint32_t n = 1, h = 0, w = 0, c = 0;  ///< input batch, height, width, channels
  uint32_t k = 0, r = 0, s = 0;         ///< output channels, window height and width
  uint32_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  uint32_t p() const;  ///< output height
  uint32_t q() const;  ///< output width
};
/// Throws std::invalid_argument naming the value if a size is 0 or the window does not fit.
void check_conv2d(const Conv2dShape& s);

/// The (n*p*q) x (r*s*c) matrix whose row (b, y, x) holds the input window of output (b, y, x),
/// column (i*s + j)*c + ch (zero where the window reads padding): conv2d = im2col * weights.
Matrix im2col(const std::vector<float>& input, const Conv2dShape& s);
/// The weights as an (r*s*c) x k matrix (the HWIO array, read row-major).
Matrix conv2d_weight_matrix(const std::vector<float>& weights, const Conv2dShape& s);

/// Bit-exact conv2d of a kernel that runs the matmul kernel on im2col(input) and the weight
/// matrix: output (n*p*q) x k, i.e. NHWC. Accumulation order: k = (i, j, ch) lexicographic.
/// NOTE: that is one kernel call's order over the whole K, which across the mesh is SUMMA's
/// and 1d's (K chunks in order). mapping=auto often picks another mapping for convolutions
/// (Cannon for the tutorial's layer on tiny and for 24 of ResNet-50's 54 layers at batch 32 on
/// d1), whose K order differs; a mesh run is
/// checked against reference_mesh_matmul_exact() on im2col(input) and the weight matrix with
/// its plan (runtime/mesh/mesh_matmul.h), as tools/workload.cpp does, not against this.
Matrix reference_conv2d_exact(DType dtype, isa::Cfp8Format f, const Conv2dShape& s,
                              const std::vector<float>& input, const std::vector<float>& weights,
                              const std::vector<float>* bias, uint32_t padded_k);
/// Direct convolution in double (no im2col) with the same bound as reference_matmul_f64.
Reference64 reference_conv2d_f64(DType dtype, isa::Cfp8Format f, const Conv2dShape& s,
                                 const std::vector<float>& input, const std::vector<float>& weights,
                                 const std::vector<float>* bias, uint32_t padded_k);

}  // namespace dojosim::runtime
