// SPDX-License-Identifier: MIT
// The estimate's shared model; each mapping describes its own steps (Mapping::estimate).
#include "runtime/mesh/estimate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "hw/config/machine_params.h"
#include "runtime/matmul_kernel.h"
#include "runtime/mesh/op.h"

namespace dojosim::runtime {
namespace mesh {

// Measured on d1 (docs/runtime.md, "Matmul mappings"): the kernel routine's fixed cost per call
// (prologue, the first block's operand loads, the last block's store).
constexpr double kCallCycles = 60;

double EstimateModel::multiply(double m, double n, double k) const {
  return kCallCycles + 2 * m * n * k / peak_flops_per_cycle(dtype, core);
}

double EstimateModel::ring_cycles(double bytes, uint32_t ring, uint32_t pieces,
                                  double hop_cycles) const {
  if (ring <= 1) return 0;
  return (ring - 2.0 + pieces) * std::ceil(bytes / pieces / 64) * 64 / link +
         (ring - 1) * hop_cycles;
}

}  // namespace mesh

MatmulEstimate estimate_matmul(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                               MatmulMapping mapping, const MeshMatmulOptions& options) {
  MatmulEstimate e;
  e.mapping = mapping;
  MeshMatmulOptions o = options;
  o.mapping = mapping;
  MeshMatmulPlan plan;
  try {
    plan = plan_matmul(config, dtype, shape, o);
  } catch (const std::invalid_argument& error) {
    e.why = error.what();
    return e;
  }
  e.fits = true;
  e.sram_bytes = plan.sram_high_water;
  e.nodes = plan.nodes.size();
  e.steps = plan.steps;
  mesh::EstimateModel model{config, dtype, config.core_config({0, 0})};
  model.link = config.noc.link_bytes_per_cycle;
  model.hop = config.noc.router_latency_cycles;
  model.elem = element_bytes(dtype);
  // The busiest node's block: C's largest block and the kernel's padding of it.
  uint32_t m = 0, n = 0;
  for (size_t i = 0; i + 1 < plan.row_start.size(); ++i)
    m = std::max(m, plan.row_start[i + 1] - plan.row_start[i]);
  for (size_t j = 0; j + 1 < plan.col_start.size(); ++j)
    n = std::max(n, plan.col_start[j + 1] - plan.col_start[j]);
  const MatmulLayout l = matmul_layout(dtype, {m, n, 1}, model.core);
  model.block_m = l.c.rows, model.block_n = l.c.cols;
  const hw::MachineParams params = hw::machine_params(config);
  const double barrier = params.barrier_latency
                             ? double(params.barrier_latency)
                             : 2.0 * (params.width + params.height) * params.noc.router_latency;

  const mesh::EstimateSteps steps = mesh::find_mapping(plan.mapping.name()).estimate(model, plan);
  e.link_bytes = steps.link_bytes;
  // t = move_0 + sum_s max(compute_s, move_{s+1}) + barriers; without overlap (ksplit's rounds
  // follow its one multiply) compute_s + move_{s+1} instead.
  double total = steps.move[0];
  for (size_t s = 0; s < steps.compute.size(); ++s) {
    const double next = s + 1 < steps.move.size() ? steps.move[s + 1] : 0;
    total += steps.overlapped ? std::max(steps.compute[s], next) : steps.compute[s] + next;
    e.compute_cycles += steps.compute[s];
  }
  e.exposed_cycles = total - e.compute_cycles;
  e.link_cycles = e.link_bytes / model.link;
  e.sync_cycles = barrier * plan.steps;
  e.cycles = total + e.sync_cycles;
  return e;
}

std::vector<MatmulEstimate> estimate_all(const hw::HardwareConfig& config, DType dtype,
                                         MatmulShape shape, const MeshMatmulOptions& options) {
  std::vector<MatmulEstimate> all;
  for (const MatmulMapping& m : matmul_mappings())
    all.push_back(estimate_matmul(config, dtype, shape, m, options));
  return all;
}

MatmulMapping choose_mapping(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                             const MeshMatmulOptions& options) {
  const std::vector<MatmulEstimate> all = estimate_all(config, dtype, shape, options);
  const MatmulEstimate* best = nullptr;
  std::string why;
  for (const MatmulEstimate& e : all) {
    if (e.fits && (!best || e.cycles < best->cycles)) best = &e;
    if (!e.fits) why += fmt::format("\n  {}: {}", mapping_name(e.mapping), e.why);
  }
  if (!best)
    throw std::invalid_argument(fmt::format("matmul {}x{}x{} {}: no mapping fits:{}", shape.m,
                                            shape.n, shape.k, dtype_name(dtype), why));
  return best->mapping;
}

}  // namespace dojosim::runtime
