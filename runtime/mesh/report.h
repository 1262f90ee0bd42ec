// SPDX-License-Identifier: MIT
// The report of one matmul or conv2d run on the mesh, as `dojosim run --workload` writes it in
// its JSON "report" and the Python package returns it: the run report every run shares
// (hw/stats/run_report.h), rebuilt from the runtime result, then the workload's own figures
// (mapping, grid, steps, SRAM, estimates). One place, so the two never differ.
#pragma once

#include <nlohmann/json.hpp>

#include "hw/stats/run_report.h"
#include "runtime/mesh/mesh_matmul.h"

namespace dojosim::runtime {

// The run report of a runtime result, which keeps the time split's groups only (from_tree is
// false: instructions and energy are not known).
hw::RunReport run_report(const MeshMatmulResult& r);

// Every mapping's estimate: {mapping, fits, cycles, compute_cycles, exposed_cycles,
// sync_cycles, link_bytes, sram_bytes, nodes}, in matmul_mappings() order.
nlohmann::ordered_json estimates_json(const MeshMatmulResult& r);

// hw::to_json(run_report(r)) followed by mapping, grid, k_chunk, steps, sram_high_water_bytes,
// estimate_cycles and estimates (docs/outputs.md).
nlohmann::ordered_json report_json(const MeshMatmulResult& r);

}  // namespace dojosim::runtime
