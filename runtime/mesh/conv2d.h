// SPDX-License-Identifier: MIT
// conv2d placed across the mesh as im2col + matmul: the host lays the input out as the
// (N P Q) x (R S C) matrix of its windows (runtime/reference.h, im2col) and the weights as the
// (R S C) x K matrix, and a matmul mapping (runtime/mesh/mesh_matmul.h) multiplies them; C is
// the NHWC output, (N P Q) x K. The output-spatial (halo exchange) and output-channel mappings
// are not written yet.
#pragma once

#include <vector>

#include "runtime/mesh/mesh_matmul.h"
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

}  // namespace dojosim::runtime
