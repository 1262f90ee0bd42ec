// SPDX-License-Identifier: MIT
// The analytical estimate of a matmul mapping's cycles, from the hardware config and the shape
// only (no simulation), and the choice of mapping it drives (MatmulMapping::Auto). The model
// is in docs/runtime.md ("Matmul mappings"): per step, the slower of the busiest node's
// multiply and the step's data movement, plus a barrier; the data movement is the bytes on the
// busiest link at the link's width plus the hops and pieces of the pipeline's fill.
#pragma once

#include <vector>

#include "hw/config/hardware_config.h"
#include "runtime/matmul.h"
#include "runtime/mesh/mesh_matmul.h"

namespace dojosim::runtime {

/// The estimate of one concrete mapping (not Auto). A mapping whose plan does not fit in SRAM
/// (or cannot be made) comes back with fits = false and the planner's message in `why`.
MatmulEstimate estimate_matmul(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                               MatmulMapping mapping, const MeshMatmulOptions& options = {});
/// Every mapping's estimate, in kMatmulMappings order.
std::vector<MatmulEstimate> estimate_all(const hw::HardwareConfig& config, DType dtype,
                                         MatmulShape shape, const MeshMatmulOptions& options = {});
/// The mapping with the fewest estimated cycles among those that fit; throws
/// std::invalid_argument with every mapping's reason when none fits.
MatmulMapping choose_mapping(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                             const MeshMatmulOptions& options = {});

}  // namespace dojosim::runtime
