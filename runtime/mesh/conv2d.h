// SPDX-License-Identifier: MIT
// conv2d placed across the mesh as im2col + matmul: the host lays the input out as the
// (N P Q) x (R S C) matrix of its windows (runtime/reference.h, im2col) and the weights as the
// (R S C) x K matrix, and a matmul mapping (runtime/mesh/mesh_matmul.h) multiplies them; C is
// the NHWC output, (N P Q) x K. The output-spatial (halo exchange) and output-channel mappings
// are not written yet.
#pragma once

#include <memory>
#include <vector>

#include "runtime/mesh/mesh_matmul.h"
#include "runtime/mesh/op.h"
#include "runtime/reference.h"

namespace dojosim::runtime {

// input in `layout` (NHWC: n h w c; NCHW: n c h w), weights HWIO (r s c k), bias (k values)
// or nullptr; the result's C holds the output in the same layout (as an (N P Q) x K matrix's
// values for NHWC, or N K P Q values in a matrix of that shape for NCHW). Throws
// std::invalid_argument naming the value for a bad shape or sizes that do not match it.
MeshMatmulResult run_conv2d(const hw::HardwareConfig& config, DType dtype, const Conv2dShape& shape,
                            const std::vector<float>& input, const std::vector<float>& weights,
                            const std::vector<float>* bias, const MeshMatmulOptions& options,
                            ActivationLayout layout = ActivationLayout::Nhwc);

namespace mesh {

/// conv2d as an op (op.h): a concrete matmul mapping's kernel on the im2col shape, placed from
/// the convolution's input and weights and read back in its activation layout.
class Conv2dKernel final : public Kernel {
 public:
  /// The matmul of the convolution: M = N P Q, N = K, K = R S C.
  static MatmulShape matmul_shape(const Conv2dShape& s);
  /// Plans with options.mapping (auto: the estimate's choice); throws std::invalid_argument as
  /// the mapping does.
  Conv2dKernel(const hw::HardwareConfig& config, DType dtype, const Conv2dShape& shape, bool bias,
               const MeshMatmulOptions& options, ActivationLayout layout, uint64_t sram_from = 0);

  const NodeProgram& program() const override { return matmul_->program(); }
  unsigned threads() const override { return matmul_->threads(); }
  uint64_t stack_bytes() const override { return matmul_->stack_bytes(); }
  void write_args(hw::Machine& machine) const override { matmul_->write_args(machine); }
  uint64_t data_begin() const override { return matmul_->data_begin(); }
  uint64_t data_end() const override { return matmul_->data_end(); }

  /// im2col of the input and the weight matrix (the operands the mapping multiplies).
  MatmulOperands operands(const std::vector<float>& input, const std::vector<float>& weights,
                          const std::vector<float>* bias) const;
  void place(hw::Machine& machine, const std::vector<float>& input,
             const std::vector<float>& weights, const std::vector<float>* bias) const;
  /// The output, in the activation layout.
  std::vector<float> read(const hw::Machine& machine) const;
  /// The output as the mapping computes it, bit for bit, in the activation layout.
  std::vector<float> reference(const std::vector<float>& input, const std::vector<float>& weights,
                               const std::vector<float>* bias) const;
  const PlannedMatmul& matmul() const { return *matmul_; }

 private:
  std::vector<float> to_layout(std::vector<float> nhwc) const;
  Conv2dShape shape_;
  ActivationLayout layout_;
  std::unique_ptr<PlannedMatmul> matmul_;
};

}  // namespace mesh
}  // namespace dojosim::runtime
