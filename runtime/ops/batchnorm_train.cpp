// SPDX-License-Identifier: MIT
#include "runtime/ops/batchnorm_train.h"

#include <cmath>
#include <limits>

#include "runtime/ops/activation.h"
#include "runtime/ops/batchnorm.h"
#include "runtime/ops/elementwise.h"
#include "runtime/ops/global_avg_pool.h"

namespace dojosim::runtime::ops {
namespace {

// ---- the bit-exact references: the kernels' references in the run's order -----------------

ImageShape image_of(const Matrix& x) {
  return {1, x.rows, 1, x.cols};
}

Matrix scaled_by(DType dtype, const Matrix& v, float factor) {
  return activation_reference(ActivationOp::Scale, dtype, v, nullptr, factor);
}

// ---- float64 with bounds ------------------------------------------------------------------
//
// Each intermediate is a value in double (the formula from the dtype's values of the op's
// inputs) with a bound on |run - value|. A step on inputs that carry bounds bounds its result by
// what the inputs' errors move it (prop) plus its own rounding of the result it computed from
// them, which lies within prop of the value: prop + r (|value| + prop).

constexpr double kU = 0x1p-24;  // fp32's unit roundoff

// r: one result rounded to fp32 (its kernels compute in fp32), or for bf16 to fp32 then bf16.
double rounding(DType dtype) {
  return dtype == DType::Fp32 ? kU : 0x1p-8 + 0x1p-23;
}

struct Approx {
  double v = 0, e = 0;  // the value and the bound on |run - v|
};

Approx rounded_result(DType dtype, double value, double prop) {
  return {value, prop + rounding(dtype) * (std::fabs(value) + prop)};
}
Approx sub(DType dtype, Approx a, Approx b) {
  return rounded_result(dtype, a.v - b.v, a.e + b.e);
}
Approx mul(DType dtype, Approx a, Approx b) {
  return rounded_result(dtype, a.v * b.v, std::fabs(a.v) * b.e + std::fabs(b.v) * a.e + a.e * b.e);
}
// a / R as f a: f's own error |f - 1/R| moves it by |a| |f - 1/R|.
Approx mean_of(DType dtype, Approx a, uint32_t rows) {
  const double exact = 1.0 / rows, f = batchnorm_train_factor(rows);
  const double df = std::fabs(f - exact) + 0x1p-52 * exact;
  return rounded_result(dtype, a.v * exact, std::fabs(f) * a.e + std::fabs(a.v) * df);
}

// The sums over rows of t (rows x cols, row-major): any order of additions in fp32 gives each
// term at most rows - 1 roundings (gamma_R of the sum of magnitudes), then one rounding to bf16.
std::vector<Approx> column_sums(DType dtype, const std::vector<Approx>& t, uint32_t rows,
                                uint32_t cols) {
  const double gamma = rows * kU / (1 - rows * kU);
  const double u_out = dtype == DType::Fp32 ? 0.0 : 0x1p-8;
  std::vector<Approx> out;
  for (uint32_t c = 0; c < cols; ++c) {
    double total = 0, errors = 0, magnitude = 0;
    for (uint32_t r = 0; r < rows; ++r) {
      const Approx& a = t[size_t{r} * cols + c];
      total += a.v;
      errors += a.e;
      magnitude += std::fabs(a.v) + a.e;
    }
    const double prop = errors + gamma * magnitude;
    out.push_back({total, prop + u_out * (std::fabs(total) + prop)});
  }
  return out;
}

// batchnorm's kernel (batchnorm.h) on x, mean and variance that carry bounds (scale and bias
// exact): y = (x - mean) a + bias, a = scale / sqrt(variance + eps). The inputs' errors move y
// by at most (|x - mean| + ex + em) |scale| D + (ex + em) |a|, D = rstd(variance - ev) -
// rstd(variance) the most rstd can move (it falls and is convex); the kernel's own rounding is
// batchnorm_reference_f64's bound at the largest inputs the bounds allow. A variance whose bound
// reaches -eps has no bound (infinite).
Approx normalised(DType dtype, float epsilon, Approx x, Approx mean, Approx variance, double scale,
                  double bias) {
  const double u_out = dtype == DType::Fp32 ? 0.0 : 0x1p-8;
  const double rstd = 1 / std::sqrt(variance.v + epsilon);
  const double y = (x.v - mean.v) * (scale * rstd) + bias;
  const double low = variance.v + epsilon - variance.e;
  if (!(low > 0)) return {y, std::numeric_limits<double>::infinity()};
  const double rstd_high = 1 / std::sqrt(low), s = std::fabs(scale);
  const double prop =
      (std::fabs(x.v - mean.v) + x.e + mean.e) * s * (rstd_high - rstd) + (x.e + mean.e) * s * rstd;
  const double a = s * rstd_high, b = std::fabs(bias) + (std::fabs(mean.v) + mean.e) * a;
  const double most = std::fabs(y) + prop;
  const double kernel = 4 * kU * (std::fabs(x.v) + x.e + std::fabs(mean.v) + mean.e) * a +
                        2 * kU * (b + most) + u_out * most;
  return {y, prop + kernel};
}

std::vector<double> dtype_values(DType dtype, const std::vector<float>& v) {
  std::vector<double> out;
  for (float f : v) out.push_back(quantize(dtype, f, {}));
  return out;
}
std::vector<Approx> exact(DType dtype, const Matrix& m) {
  std::vector<Approx> out;
  for (float f : m.values) out.push_back({quantize(dtype, f, {}), 0.0});
  return out;
}

Reference64 reference_of(uint32_t rows, uint32_t cols, const std::vector<Approx>& a) {
  Reference64 r{rows, cols, {}, {}};
  for (const Approx& x : a) r.value.push_back(x.v), r.bound.push_back(x.e);
  return r;
}

}  // namespace

float batchnorm_train_factor(uint32_t rows) {
  return float(1.0 / double(rows));
}

BatchNormTrainOutputs batchnorm_train_reference(const RowSplit& split, float epsilon,
                                                const Matrix& x, const std::vector<float>& scale,
                                                const std::vector<float>& bias) {
  const DType dtype = split.dtype;
  const ImageShape image = image_of(x);
  const float f = batchnorm_train_factor(x.rows);
  const Matrix q = quantized(x, dtype, {});
  BatchNormTrainOutputs out;
  out.mean = scaled_by(dtype, global_avg_pool_reference(split, image, q, true), f);
  const Matrix d = elementwise_reference(ElementwiseOp::Sub, dtype, q, out.mean);
  const Matrix squares = elementwise_reference(ElementwiseOp::Mul, dtype, d, d);
  out.variance = scaled_by(dtype, global_avg_pool_reference(split, image, squares, true), f);
  out.y =
      batchnorm_reference(dtype, epsilon, q, {scale, bias, out.mean.values, out.variance.values});
  return out;
}

BatchNormTrainOutputs64 batchnorm_train_reference_f64(DType dtype, float epsilon, const Matrix& x,
                                                      const std::vector<float>& scale,
                                                      const std::vector<float>& bias) {
  const uint32_t rows = x.rows, cols = x.cols;
  const std::vector<double> s = dtype_values(dtype, scale), b = dtype_values(dtype, bias);
  const std::vector<Approx> q = exact(dtype, x);
  std::vector<Approx> mean = column_sums(dtype, q, rows, cols);
  for (Approx& m : mean) m = mean_of(dtype, m, rows);
  std::vector<Approx> squares;
  for (size_t i = 0; i < q.size(); ++i) {
    const Approx d = sub(dtype, q[i], mean[i % cols]);
    squares.push_back(mul(dtype, d, d));
  }
  std::vector<Approx> variance = column_sums(dtype, squares, rows, cols);
  for (Approx& v : variance) v = mean_of(dtype, v, rows);
  std::vector<Approx> y;
  for (size_t i = 0; i < q.size(); ++i) {
    const size_t c = i % cols;
    y.push_back(normalised(dtype, epsilon, q[i], mean[c], variance[c], s[c], b[c]));
  }
  return {reference_of(rows, cols, y), reference_of(1, cols, mean),
          reference_of(1, cols, variance)};
}

BatchNormTrainGradients batchnorm_train_backward_reference(const RowSplit& split, float epsilon,
                                                           const Matrix& dy, const Matrix& x,
                                                           const std::vector<float>& scale,
                                                           const std::vector<float>& mean,
                                                           const std::vector<float>& variance) {
  const DType dtype = split.dtype;
  const ImageShape image = image_of(x);
  const float f = batchnorm_train_factor(x.rows);
  const std::vector<float> zeros(x.cols, 0.0f), ones(x.cols, 1.0f);
  const Matrix qdy = quantized(dy, dtype, {});
  const Matrix x_hat = batchnorm_reference(dtype, epsilon, x, {ones, zeros, mean, variance});
  const Matrix t = elementwise_reference(ElementwiseOp::Mul, dtype, qdy, x_hat);
  BatchNormTrainGradients g;
  g.dscale = global_avg_pool_reference(split, image, t, true);
  g.dbias = global_avg_pool_reference(split, image, qdy, true);
  const Matrix mean_dy = scaled_by(dtype, g.dbias, f), mean_t = scaled_by(dtype, g.dscale, f);
  const Matrix centred = elementwise_reference(ElementwiseOp::Sub, dtype, qdy, mean_dy);
  const Matrix along = elementwise_reference(ElementwiseOp::Mul, dtype, x_hat, mean_t);
  const Matrix inner = elementwise_reference(ElementwiseOp::Sub, dtype, centred, along);
  g.dx = batchnorm_reference(dtype, epsilon, inner, {scale, zeros, zeros, variance});
  return g;
}

BatchNormTrainGradients64 batchnorm_train_backward_reference_f64(
    DType dtype, float epsilon, const Matrix& dy, const Matrix& x, const std::vector<float>& scale,
    const std::vector<float>& mean, const std::vector<float>& variance) {
  const uint32_t rows = x.rows, cols = x.cols;
  const std::vector<double> s = dtype_values(dtype, scale), m = dtype_values(dtype, mean),
                            var = dtype_values(dtype, variance);
  const std::vector<Approx> qdy = exact(dtype, dy), qx = exact(dtype, x);
  std::vector<Approx> x_hat, t;
  for (size_t i = 0; i < qx.size(); ++i) {
    const size_t c = i % cols;
    x_hat.push_back(normalised(dtype, epsilon, qx[i], {m[c], 0}, {var[c], 0}, 1, 0));
    t.push_back(mul(dtype, qdy[i], x_hat.back()));
  }
  const std::vector<Approx> dscale = column_sums(dtype, t, rows, cols),
                            dbias = column_sums(dtype, qdy, rows, cols);
  std::vector<Approx> dx;
  for (size_t i = 0; i < qx.size(); ++i) {
    const size_t c = i % cols;
    const Approx centred = sub(dtype, qdy[i], mean_of(dtype, dbias[c], rows));
    const Approx along = mul(dtype, x_hat[i], mean_of(dtype, dscale[c], rows));
    dx.push_back(normalised(dtype, epsilon, sub(dtype, centred, along), {}, {var[c], 0}, s[c], 0));
  }
  return {reference_of(rows, cols, dx), reference_of(1, cols, dscale),
          reference_of(1, cols, dbias)};
}

}  // namespace dojosim::runtime::ops
