// SPDX-License-Identifier: MIT
// Batchnorm in training (batch statistics) and its gradient: the references of the graph ops
// batchnorm_train and batchnorm_train_backward. They have no node kernel of their own: the graph
// run composes them from kernels that exist (runtime/graph/run/run.cpp), each pushing its
// partial sums between nodes as it always does:
//
//   the sums over rows   global_avg_pool.h with `sum` (fp32, its order; the dtype at the end)
//   a product by f       activation.h's scale, f = fp32(1 / R) (R rows: every axis but the last)
//   x - v, x v           elementwise.h's sub and mul, v a [C] vector over the rows or x's shape
//   batchnorm            batchnorm.h (inference), with vectors the run computed or constants
//
// x [R, C] lies as split_image()'s RowSplit of the image [1, R, 1, C]; that split fixes the
// order of the sums, so the references below take it.
//
// batchnorm_train(x; scale, bias) -> y, mean, variance (two passes over x, not E[x^2] - E[x]^2):
//   mean = f sum(x);  d = x - mean;  variance = f sum(d d)
//   y = batchnorm(x; scale, bias, mean, variance) = (x - mean) scale rsqrt(variance + eps) + bias
// batchnorm_train_backward(dy, x, scale, mean, variance) -> dx, dscale, dbias:
//   x^ = batchnorm(x; 1, 0, mean, variance);  dscale = sum(dy x^);  dbias = sum(dy)
//   dx = batchnorm(dy - f dbias - x^ (f dscale); scale, 0, 0, variance)
// the second the op's dx = scale rstd / R (R dy - dbias - x^ dscale) with the 1/R taken inside.
// Every step's result is rounded to the dtype, as its kernel writes it (bf16: the statistics
// and the intermediates are bf16 values).
//
// NOTE: one row (R = 1) is allowed (PyTorch refuses it in training): mean = x, variance = 0,
// y = bias and dx = 0 up to rounding.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/ops/row_split.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

/// f = fp32(1 / rows), the factor of the means.
float batchnorm_train_factor(uint32_t rows);

struct BatchNormTrainOutputs {
  Matrix y, mean, variance;  // y as x; mean and variance 1 x C
};
struct BatchNormTrainOutputs64 {
  Reference64 y, mean, variance;
};

/// The outputs bit for bit as the composed kernels give them, x (rows x C) lying as `split`
/// (split_image() of [1, rows, 1, C]); x, scale and bias rounded to the dtype first.
BatchNormTrainOutputs batchnorm_train_reference(const RowSplit& split, float epsilon,
                                                const Matrix& x, const std::vector<float>& scale,
                                                const std::vector<float>& bias);
/// In double from the dtype's values: the batch statistics and y of the formulas, each element
/// with a bound on |run - value| carried through every step (docs/ops.md).
BatchNormTrainOutputs64 batchnorm_train_reference_f64(DType dtype, float epsilon, const Matrix& x,
                                                      const std::vector<float>& scale,
                                                      const std::vector<float>& bias);

struct BatchNormTrainGradients {
  Matrix dx, dscale, dbias;  // dx as dy; dscale and dbias 1 x C
};
struct BatchNormTrainGradients64 {
  Reference64 dx, dscale, dbias;
};

/// The gradients bit for bit as the composed kernels give them, dy and x lying as `split`.
BatchNormTrainGradients batchnorm_train_backward_reference(const RowSplit& split, float epsilon,
                                                           const Matrix& dy, const Matrix& x,
                                                           const std::vector<float>& scale,
                                                           const std::vector<float>& mean,
                                                           const std::vector<float>& variance);
/// In double from the dtype's values of the inputs (mean and variance as given: the forward's
/// outputs), with bounds carried through every step (docs/ops.md).
BatchNormTrainGradients64 batchnorm_train_backward_reference_f64(
    DType dtype, float epsilon, const Matrix& dy, const Matrix& x, const std::vector<float>& scale,
    const std::vector<float>& mean, const std::vector<float>& variance);

}  // namespace dojosim::runtime::ops
