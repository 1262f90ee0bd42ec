// SPDX-License-Identifier: MIT
#include "runtime/mesh/common.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "hw/config/derived.h"
#include "hw/node/node.h"
#include "hw/stats/run_report.h"
#include "isa/assembler.h"
#include "runtime/matmul_kernel.h"

namespace dojosim::runtime::mesh {

std::vector<uint32_t> split(uint32_t total, uint32_t parts) {
  std::vector<uint32_t> start(parts + 1);
  for (uint32_t p = 0; p <= parts; ++p)
    start[p] = static_cast<uint32_t>(uint64_t{total} * p / parts);
  return start;
}

void full_rows(const hw::HardwareConfig& config, std::vector<int>& xs, std::vector<int>& ys) {
  const hw::HardwareConfig::Region r = config.runtime_region();
  const int x0 = r.origin.x, y0 = r.origin.y, w = int(r.width), h = int(r.height);
  for (int y = y0; y < y0 + h; ++y) {
    bool full = true;
    for (int x = x0; x < x0 + w && full; ++x) full = !config.is_disabled({x, y});
    if (full) ys.push_back(y);
  }
  if (ys.empty())
    throw std::invalid_argument("matmul: the mesh has no row without a disabled node");
  for (int x = x0; x < x0 + w; ++x) xs.push_back(x);
}

std::vector<hw::Coord> ring_of_nodes(const hw::HardwareConfig& config) {
  const hw::HardwareConfig::Region r = config.runtime_region();
  const int x0 = r.origin.x, y0 = r.origin.y, w = int(r.width), h = int(r.height);
  std::vector<hw::Coord> snake;
  for (int y = y0; y < y0 + h; ++y)
    for (int i = 0; i < w; ++i) {
      const hw::Coord c{x0 + ((y - y0) % 2 ? w - 1 - i : i), y};
      if (!config.is_disabled(c)) snake.push_back(c);
    }
  std::vector<hw::Coord> ring;
  for (size_t p = 0; p < snake.size(); p += 2) ring.push_back(snake[p]);
  for (size_t p = snake.size() - 1 - snake.size() % 2; p < snake.size(); p -= 2)
    ring.push_back(snake[p]);
  return ring;
}

uint32_t k_unit(DType dtype, const isa::CoreConfig& core) {
  return matmul_layout(dtype, {1, 1, 1}, core).a.cols;
}
uint32_t m_unit(DType dtype, const isa::CoreConfig& core) {
  return matmul_layout(dtype, {1, 1, 1}, core).c.rows;
}
uint32_t n_unit(DType dtype, const isa::CoreConfig& core) {
  return matmul_layout(dtype, {1, 1, 1}, core).c.cols;
}

void chunk_k(MeshMatmulPlan& plan, uint32_t k, uint32_t k_chunk, uint32_t unit) {
  plan.k_chunk = round_up(std::min(k, k_chunk), unit);
  plan.steps = div_up(k, plan.k_chunk);
  plan.k_start.clear();
  plan.k_padded.clear();
  plan.padded_k = 0;
  for (uint32_t s = 0; s < plan.steps; ++s) {
    const uint32_t k0 = s * plan.k_chunk, k1 = std::min(k, k0 + plan.k_chunk);
    plan.k_start.push_back(k0);
    plan.k_padded.push_back(round_up(k1 - k0, unit));
    plan.padded_k += plan.k_padded.back();
  }
  plan.k_start.push_back(k);
}

NodeProgram assemble_program(const std::string& text, const std::string& name) {
  NodeProgram p{isa::assemble(text, name), 0, 0, text};
  for (const isa::Segment& seg : p.program.segments)
    p.end = std::max(p.end, seg.address + seg.bytes.size() + seg.zero_fill);
  const auto args = p.program.symbols.find("args");
  if (args == p.program.symbols.end()) throw std::logic_error(name + ": program without args");
  p.args = args->second;
  return p;
}

void program_tail(codegen::AsmWriter& w, const MatmulSpec& first, const MatmulSpec* rest,
                  const isa::CoreConfig& core) {
  w.exit_program();
  w.raw(matmul_routine_asm(first, core, "matmul_first"));
  if (rest) w.raw(matmul_routine_asm(*rest, core, "matmul_rest"));
}

void refuse_host_placement(const MeshMatmulOptions& options) {
  if (options.placement == OperandPlacement::Host)
    throw std::invalid_argument(
        fmt::format("placement=host: only the summa mapping streams operands from host "
                    "memory, not {}",
                    mapping_name(options.mapping)));
}

void check_sram(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                const MeshMatmulPlan& plan, unsigned threads, uint64_t stack_bytes,
                const char* what) {
  const uint64_t limit = config.node.core.sram_bytes - threads * stack_bytes;
  if (plan.sram_high_water > limit)
    throw std::invalid_argument(fmt::format(
        "matmul {}x{}x{} {} ({}): each node of the {}x{} grid needs {} bytes of SRAM ({}) but has "
        "{} below the stacks; operands this large must stream through host memory, which this "
        "mapping does not do yet",
        shape.m, shape.n, shape.k, dtype_name(dtype), mapping_name(plan.mapping), plan.grid_rows,
        plan.grid_cols, plan.sram_high_water, what, limit));
}

void collect_report(const hw::Machine& machine, const hw::HardwareConfig& config, DType dtype,
                    MatmulShape shape, const std::vector<hw::Coord>& compute_nodes,
                    MeshMatmulResult& result) {
  // One run report (hw/stats/run_report.h): the compute nodes' thread 0, the one multiplying.
  hw::ReportScope scope;
  scope.precision = dtype == DType::Bf16   ? hw::Precision::Bf16
                    : dtype == DType::Cfp8 ? hw::Precision::Cfp8
                                           : hw::Precision::Fp32;
  scope.nodes = compute_nodes;
  scope.thread = 0;
  scope.work_flop = 2.0 * shape.m * shape.n * shape.k;
  const hw::RunReport r = hw::run_report(hw::collect_stats(machine, config), config, scope);
  result.cycles = r.cycles;
  result.seconds = r.seconds;
  result.flop = r.flop;
  result.flop_per_s = r.flop_per_s;
  result.peak_flop_per_s = r.peak_flop_per_s;
  result.total_cycles = double(r.thread_cycles);
  result.compute_cycles = double(r.compute_cycles());
  result.wait_data_cycles = double(r.wait_data_cycles());
  result.sync_cycles = double(r.sync_cycles());
  result.dma_queue_cycles = double(r.dma_queue_cycles());
  result.other_cycles = double(r.other_cycles());
  result.mesh_link_bytes = r.mesh_link_bytes;
  result.die_edge_bytes = r.die_edge_link_bytes;
  result.host_bytes = r.host_bytes;
}

}  // namespace dojosim::runtime::mesh
