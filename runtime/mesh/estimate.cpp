// SPDX-License-Identifier: MIT
#include "runtime/mesh/estimate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "hw/config/machine_params.h"
#include "runtime/matmul_kernel.h"
#include "runtime/mesh/common.h"

namespace dojosim::runtime {
namespace {

// Measured on d1 (docs/runtime.md, "Matmul mappings"): the kernel routine's fixed cost per call
// (prologue, the first block's operand loads, the last block's store), and ksplit's vector
// add per VLEN bytes (two loads, an add and a store, four vectors per loop from one thread).
constexpr double kCallCycles = 60;
constexpr double kAddCyclesPerVector = 3.5;

// The busiest node's padded block: C's largest block and the kernel's padding of it.
struct Block {
  double m = 0, n = 0;  // padded rows and columns of C
};
Block largest_block(const MeshMatmulPlan& plan, DType dtype, const isa::CoreConfig& core) {
  uint32_t m = 0, n = 0;
  for (size_t i = 0; i + 1 < plan.row_start.size(); ++i)
    m = std::max(m, plan.row_start[i + 1] - plan.row_start[i]);
  for (size_t j = 0; j + 1 < plan.col_start.size(); ++j)
    n = std::max(n, plan.col_start[j + 1] - plan.col_start[j]);
  const MatmulLayout l = matmul_layout(dtype, {m, n, 1}, core);
  return {double(l.c.rows), double(l.c.cols)};
}

// One chunk of `bytes` forwarded around a ring of `ring` nodes in `pieces` pieces, store and
// forward per piece, `hop` cycles of latency per ring hop: the last node has it after
// (ring - 1 + pieces - 1) piece times. Every link of the ring carries the chunk once.
double ring_cycles(double bytes, uint32_t ring, uint32_t pieces, double link, double hop) {
  if (ring <= 1) return 0;
  return (ring - 2.0 + pieces) * std::ceil(bytes / pieces / 64) * 64 / link + (ring - 1) * hop;
}

}  // namespace

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
  const isa::CoreConfig core = config.core_config({0, 0});
  const double peak = peak_flops_per_cycle(dtype, core);
  const double link = config.noc.link_bytes_per_cycle, hop = config.noc.router_latency_cycles;
  const hw::MachineParams params = mesh::machine_params_for(config, 1, 0);
  const double barrier = params.barrier_latency
                             ? double(params.barrier_latency)
                             : 2.0 * (params.width + params.height) * params.noc.router_latency;
  const double elem = element_bytes(dtype);
  const Block blk = largest_block(plan, dtype, core);
  const auto multiply = [&](double m, double n, double k) {
    return kCallCycles + 2 * m * n * k / peak;
  };

  // Each mapping as steps: the first step's data arrives before it starts, later steps' data
  // moves while the previous step multiplies, and a barrier ends each step.
  std::vector<double> compute, move;
  switch (plan.mapping) {
    case MatmulMapping::Summa:
    case MatmulMapping::OneD:
    case MatmulMapping::OneDCols: {
      // On the rings of 1d and 1d-cols neighbours are up to two snake positions apart.
      const bool one_d = plan.mapping == MatmulMapping::OneD, cols = plan.mapping == MatmulMapping::OneDCols;
      for (uint32_t s = 0; s < plan.steps; ++s) {
        const double k = plan.k_padded[s];
        compute.push_back(multiply(blk.m, blk.n, k));
        const double a = ring_cycles(blk.m * k * elem, plan.grid_cols, plan.pieces, link, cols ? 2 * hop : hop);
        const double b =
            ring_cycles(k * blk.n * elem, plan.grid_rows, plan.pieces, link, one_d ? 2 * hop : hop);
        // From host memory the owners first pull the step's chunks, all from DIP 0, then ring.
        double pull = 0;
        if (plan.operands_in_host) {
          const hw::DipParams dip = hw::host_params(config).front();
          const double bytes = (plan.grid_rows * blk.m + plan.grid_cols * blk.n) * k * elem;
          pull = double(dip.latency) + bytes / std::min(dip.hbm_bytes_per_cycle, dip.link_bytes_per_cycle);
        }
        move.push_back(pull + std::max(a, b));
        e.link_bytes += std::max(plan.grid_cols > 1 ? blk.m * k * elem : 0.0,
                                 plan.grid_rows > 1 ? k * blk.n * elem : 0.0);
      }
      break;
    }
    case MatmulMapping::Cannon: {
      const double k = plan.k_chunk;
      for (uint32_t s = 0; s < plan.steps; ++s) {
        compute.push_back(multiply(blk.m, blk.n, k));
        // A one hop west and B one hop north, on different links; the wrap takes q - 1 hops.
        const double bytes = s == 0 || plan.grid_rows == 1 ? 0 : std::max(blk.m, blk.n) * k * elem;
        move.push_back(bytes / link + (s ? (plan.grid_rows - 1) * hop : 0));
        e.link_bytes += bytes;
      }
      break;
    }
    case MatmulMapping::KSplit: {
      const double k = *std::max_element(plan.k_padded.begin(), plan.k_padded.end());
      const double c_bytes = blk.m * blk.n * 4;
      // One step multiplies; then round r moves a partial 2^r ring positions (two snake
      // positions each) and adds it.
      compute.push_back(multiply(blk.m, blk.n, k));
      move.push_back(0);
      for (uint32_t r = 0; r < plan.steps; ++r) {
        compute.push_back(0);
        move.push_back(c_bytes / link + 2.0 * double(1u << r) * hop +
                       c_bytes / core.vlen_bytes * kAddCyclesPerVector);
        e.link_bytes += c_bytes;
      }
      break;
    }
    case MatmulMapping::Auto:
      break;
  }
  // t = move_0 + sum_s max(compute_s, move_{s+1}) + barriers. ksplit's rounds come after its
  // one multiply and do not overlap it: compute_s + move_{s+1} instead.
  const bool overlapped = plan.mapping != MatmulMapping::KSplit;
  double total = move[0];
  for (size_t s = 0; s < compute.size(); ++s) {
    const double next = s + 1 < move.size() ? move[s + 1] : 0;
    total += overlapped ? std::max(compute[s], next) : compute[s] + next;
    e.compute_cycles += compute[s];
  }
  e.exposed_cycles = total - e.compute_cycles;
  e.link_cycles = e.link_bytes / link;
  e.sync_cycles = barrier * plan.steps;
  e.cycles = total + e.sync_cycles;
  return e;
}

std::vector<MatmulEstimate> estimate_all(const hw::HardwareConfig& config, DType dtype,
                                         MatmulShape shape, const MeshMatmulOptions& options) {
  std::vector<MatmulEstimate> all;
  for (const MatmulMapping m : kMatmulMappings)
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
