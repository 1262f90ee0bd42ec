// SPDX-License-Identifier: MIT
#include "runtime/mesh/conv2d.h"

#include <fmt/format.h>

#include <stdexcept>

namespace dojosim::runtime {

MeshMatmulResult run_conv2d(const hw::HardwareConfig& config, DType dtype, const Conv2dShape& shape,
                            const std::vector<float>& input, const std::vector<float>& weights,
                            const std::vector<float>* bias, const MeshMatmulOptions& options,
                            ActivationLayout layout) {
  check_conv2d(shape);
  const size_t in = size_t{shape.n} * shape.h * shape.w * shape.c;
  const size_t wt = size_t{shape.r} * shape.s * shape.c * shape.k;
  if (input.size() != in || weights.size() != wt || (bias && bias->size() != shape.k))
    throw std::invalid_argument(fmt::format(
        "conv2d: {} input values for N H W C = {} x {} x {} x {} ({} expected), {} weights for R S C K "
        "= {} x {} x {} x {} ({} expected){}",
        input.size(), shape.n, shape.h, shape.w, shape.c, in, weights.size(), shape.r, shape.s, shape.c,
        shape.k, wt, bias ? fmt::format(", {} bias values for K = {}", bias->size(), shape.k) : ""));
  // The nodes work in NHWC; an NCHW input is reordered on the host, and so is the output.
  const bool nchw = layout == ActivationLayout::Nchw;
  MatmulOperands ops;
  ops.a = im2col(nchw ? nchw_to_nhwc(input, shape.n, shape.h, shape.w, shape.c) : input, shape);
  ops.b = conv2d_weight_matrix(weights, shape);
  if (bias) ops.bias = *bias;
  MeshMatmulResult r = run_matmul(config, dtype, ops, bias ? MatmulInit::Bias : MatmulInit::Zero, options);
  if (nchw) r.c.values = nhwc_to_nchw(r.c.values, shape.n, shape.p(), shape.q(), shape.k);
  return r;
}

}  // namespace dojosim::runtime
