// SPDX-License-Identifier: MIT
#include "runtime/mesh/common.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "hw/config/derived.h"
#include "hw/config/machine_params.h"
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

uint64_t global_base(hw::Coord c) {
  return uint64_t(uint32_t(c.x)) << 48 | uint64_t(uint32_t(c.y)) << 32;
}

void full_rows(const hw::HardwareConfig& config, std::vector<int>& xs, std::vector<int>& ys) {
  const int w = static_cast<int>(config.mesh_width()), h = static_cast<int>(config.mesh_height());
  for (int y = 0; y < h; ++y) {
    bool full = true;
    for (int x = 0; x < w && full; ++x) full = !config.is_disabled({x, y});
    if (full) ys.push_back(y);
  }
  if (ys.empty())
    throw std::invalid_argument("matmul: the mesh has no row without a disabled node");
  for (int x = 0; x < w; ++x) xs.push_back(x);
}

std::vector<hw::Coord> ring_of_nodes(const hw::HardwareConfig& config) {
  const int w = static_cast<int>(config.mesh_width()), h = static_cast<int>(config.mesh_height());
  std::vector<hw::Coord> snake;
  for (int y = 0; y < h; ++y)
    for (int i = 0; i < w; ++i) {
      const hw::Coord c{y % 2 ? w - 1 - i : i, y};
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
  NodeProgram p{isa::assemble(text, name), 0, 0};
  for (const isa::Segment& seg : p.program.segments)
    p.end = std::max(p.end, seg.address + seg.bytes.size() + seg.zero_fill);
  const auto args = p.program.symbols.find("args");
  if (args == p.program.symbols.end()) throw std::logic_error(name + ": program without args");
  p.args = args->second;
  return p;
}

std::string arg_equs(const char* const* names, unsigned count) {
  std::string s;
  for (unsigned a = 0; a < count; ++a) s += fmt::format("    .equ {}, {}\n", names[a], 8 * a);
  return s;
}

std::string args_block(unsigned count) {
  return "\n    .data\n    .align 3\nargs:\n    .space " + std::to_string(8 * count) + "\n";
}

std::string program_tail(const MatmulSpec& first, const MatmulSpec* rest, const isa::CoreConfig& core,
                         unsigned arg_count) {
  std::string s = "\nexit:\n    li      a0, 0\n    li      a7, 93\n    ecall\n";
  s += matmul_routine_asm(first, core, "matmul_first");
  if (rest) s += matmul_routine_asm(*rest, core, "matmul_rest");
  return s + args_block(arg_count);
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

void read_blocks(const hw::Machine& machine, const MeshMatmulPlan& plan,
                 const std::vector<TiledLayout>& c_layouts, uint64_t c_addr, Matrix& c) {
  const size_t across = plan.col_start.size() - 1;
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i + 1 < plan.row_start.size(); ++i)
    for (size_t j = 0; j < across; ++j) {
      const TiledLayout& l = c_layouts[i * across + j];
      const uint32_t r0 = plan.row_start[i], c0 = plan.col_start[j];
      const uint32_t rows = plan.row_start[i + 1] - r0, cols = plan.col_start[j + 1] - c0;
      bytes.resize(l.bytes());
      machine.node(plan.nodes[i * across + j])->sram().read(c_addr, bytes.data(), bytes.size());
      const Matrix block = unpack(bytes.data(), l, rows, cols);
      for (uint32_t r = 0; r < rows; ++r)
        for (uint32_t k = 0; k < cols; ++k) c.at(r0 + r, c0 + k) = block.at(r, k);
    }
}

hw::MachineParams machine_params_for(const hw::HardwareConfig& config, unsigned threads,
                                     uint64_t stack_bytes) {
  hw::MachineParams params = hw::machine_params(config);
  params.threads = threads;
  params.stack_bytes = stack_bytes;
  return params;
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

void run_and_collect(hw::Machine& machine, const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                     const std::vector<TiledLayout>& c_layouts, uint64_t c_addr, MeshMatmulResult& result) {
  const hw::MachineOutcome outcome = machine.run();
  result.ok = outcome == hw::MachineOutcome::Finished;
  result.outcome = result.ok ? "finished" : machine.message();
  result.c = Matrix(shape.m, shape.n);
  if (result.ok) read_blocks(machine, result.plan, c_layouts, c_addr, result.c);
  collect_report(machine, config, dtype, shape, result.plan.nodes, result);
}

}  // namespace dojosim::runtime::mesh
