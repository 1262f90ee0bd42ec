// SPDX-License-Identifier: MIT
#include "runtime/mesh/conv2d.h"

#include <fmt/format.h>

#include <stdexcept>

#include "runtime/mesh/estimate.h"
#include "runtime/mesh/executor.h"

namespace dojosim::runtime {
namespace mesh {

MatmulShape Conv2dKernel::matmul_shape(const Conv2dShape& s) {
  return {s.n * s.p() * s.q(), s.k, s.r * s.s * s.c};
}

Conv2dKernel::Conv2dKernel(const hw::HardwareConfig& config, DType dtype, const Conv2dShape& shape,
                           bool bias, const MeshMatmulOptions& options, ActivationLayout layout,
                           uint64_t sram_from)
    : shape_(shape), layout_(layout) {
  MatmulProblem problem{dtype, matmul_shape(shape), bias ? MatmulInit::Bias : MatmulInit::Zero,
                        options, sram_from};
  if (options.mapping == MatmulMapping::Auto)
    problem.options.mapping = choose_mapping(config, dtype, problem.shape, options);
  matmul_ = find_mapping(problem.options.mapping.name()).plan(config, problem);
}

MatmulOperands Conv2dKernel::operands(const std::vector<float>& input,
                                      const std::vector<float>& weights,
                                      const std::vector<float>* bias) const {
  // The nodes work in NHWC; an NCHW input is reordered on the host, and so is the output.
  MatmulOperands ops;
  ops.a = im2col(layout_ == ActivationLayout::Nchw
                     ? nchw_to_nhwc(input, shape_.n, shape_.h, shape_.w, shape_.c)
                     : input,
                 shape_);
  ops.b = conv2d_weight_matrix(weights, shape_);
  if (bias) ops.bias = *bias;
  return ops;
}

void Conv2dKernel::place(hw::Machine& machine, const std::vector<float>& input,
                         const std::vector<float>& weights, const std::vector<float>* bias) const {
  matmul_->place(machine, operands(input, weights, bias));
}

std::vector<float> Conv2dKernel::to_layout(std::vector<float> nhwc) const {
  return layout_ == ActivationLayout::Nchw
             ? nhwc_to_nchw(nhwc, shape_.n, shape_.p(), shape_.q(), shape_.k)
             : nhwc;
}

std::vector<float> Conv2dKernel::read(const hw::Machine& machine) const {
  return to_layout(matmul_->read(machine).values);
}

std::vector<float> Conv2dKernel::reference(const std::vector<float>& input,
                                           const std::vector<float>& weights,
                                           const std::vector<float>* bias) const {
  const MatmulProblem& p = matmul_->problem();
  return to_layout(reference_mesh_matmul_exact(p.dtype, p.options.cfp8, p.init,
                                               operands(input, weights, bias), matmul_->plan())
                       .values);
}

}  // namespace mesh

MeshMatmulResult run_conv2d(const hw::HardwareConfig& config, DType dtype, const Conv2dShape& shape,
                            const std::vector<float>& input, const std::vector<float>& weights,
                            const std::vector<float>* bias, const MeshMatmulOptions& options,
                            ActivationLayout layout) {
  check_conv2d(shape);
  const size_t in = size_t{shape.n} * shape.h * shape.w * shape.c;
  const size_t wt = size_t{shape.r} * shape.s * shape.c * shape.k;
  if (input.size() != in || weights.size() != wt || (bias && bias->size() != shape.k))
    throw std::invalid_argument(
        fmt::format("conv2d: {} input values for N H W C = {} x {} x {} x {} ({} expected), {} "
                    "weights for R S C K "
                    "= {} x {} x {} x {} ({} expected){}",
                    input.size(), shape.n, shape.h, shape.w, shape.c, in, weights.size(), shape.r,
                    shape.s, shape.c, shape.k, wt,
                    bias ? fmt::format(", {} bias values for K = {}", bias->size(), shape.k) : ""));
  const MatmulShape ms = mesh::Conv2dKernel::matmul_shape(shape);
  MeshMatmulResult result;
  result.estimates = estimate_all(config, dtype, ms, options);
  MeshMatmulOptions o = options;
  if (o.mapping == MatmulMapping::Auto) o.mapping = choose_mapping(config, dtype, ms, options);
  const mesh::Conv2dKernel kernel(config, dtype, shape, bias != nullptr, o, layout);
  for (const MatmulEstimate& e : result.estimates)
    if (e.mapping == o.mapping) result.estimate_cycles = e.cycles;
  Executor executor(config, kernel.threads(), kernel.stack_bytes());
  if (options.progress) executor.machine().set_progress(options.progress);
  kernel.place(executor.machine(), input, weights, bias);
  executor.run_matmul(kernel.matmul(), result);
  if (layout == ActivationLayout::Nchw)
    result.c.values = nhwc_to_nchw(result.c.values, shape.n, shape.p(), shape.q(), shape.k);
  return result;
}

}  // namespace dojosim::runtime
