// SPDX-License-Identifier: MIT
// What the matmul mappings of runtime/mesh share: the node lists they run on, K ranges, the
// SPMD program's argument block, SRAM maps and the report read from the machine after a run.
// Internal to runtime/mesh; the public API is mesh_matmul.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/config/hardware_config.h"
#include "hw/machine/machine.h"
#include "isa/program.h"
#include "runtime/layout.h"
#include "runtime/matmul_kernel.h"
#include "runtime/mesh/mesh_matmul.h"

namespace dojosim::runtime::mesh {

inline uint32_t round_up(uint32_t v, uint32_t to) {
  return (v + to - 1) / to * to;
}
inline uint64_t align(uint64_t v, uint64_t to) {
  return (v + to - 1) / to * to;
}
inline uint32_t div_up(uint32_t v, uint32_t by) {
  return (v + by - 1) / by;
}

// Splits `total` into `parts` nearly equal pieces: part p starts at result[p].
std::vector<uint32_t> split(uint32_t total, uint32_t parts);
// The address of byte 0 of a node's SRAM as a push destination.
uint64_t global_base(hw::Coord c);

// Mesh rows with no disabled node (their y) and all columns (x): the 2D grid.
void full_rows(const hw::HardwareConfig& config, std::vector<int>& xs, std::vector<int>& ys);
// Every usable node as a ring whose hops are short: the mesh walked as a snake (rows
// alternating direction), then its even positions forward and its odd ones back, so that no
// hop is the long way from the snake's end to its start.
std::vector<hw::Coord> ring_of_nodes(const hw::HardwareConfig& config);

// The kernel's k padding unit for dtype, and its smallest block of C's rows.
uint32_t k_unit(DType dtype, const isa::CoreConfig& core);
uint32_t m_unit(DType dtype, const isa::CoreConfig& core);
uint32_t n_unit(DType dtype, const isa::CoreConfig& core);  // C's column padding

// K cut into `parts` ranges of k_chunk (the last one shorter), each padded to the k unit.
void chunk_k(MeshMatmulPlan& plan, uint32_t k, uint32_t k_chunk, uint32_t unit);

// An assembled SPMD program, where its argument block sits and where its image ends.
struct NodeProgram {
  isa::Program program;
  uint64_t args = 0, end = 0;
};
NodeProgram assemble_program(const std::string& text, const std::string& name);
// ".equ NAME, offset" for each 8-byte argument, and the `args` block of `count` of them.
std::string arg_equs(const char* const* names, unsigned count);
std::string args_block(unsigned count);
// How every mapping's program ends: the `exit` label (exit code 0), the kernel routines the
// threads call (`matmul_first`, and `matmul_rest` unless null), and the `args` block.
std::string program_tail(const MatmulSpec& first, const MatmulSpec* rest, const isa::CoreConfig& core,
                         unsigned arg_count);

// Hands out 64-byte aligned SRAM ranges from `at` up; the same on every node.
struct SramMap {
  uint64_t at = 0;
  uint64_t take(uint64_t bytes) {
    const uint64_t a = at;
    at = align(at + bytes, 64);
    return a;
  }
};
// Throws std::invalid_argument if `used` passes the SRAM below the stacks: names the shape,
// the grid and `what` the bytes are.
void check_sram(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                const MeshMatmulPlan& plan, unsigned threads, uint64_t stack_bytes,
                const char* what);

// Reads C's blocks back into c: block (i, j) of plan.row_start x plan.col_start from
// plan.nodes[i * blocks across + j] at c_addr, in c_layouts[same index].
void read_blocks(const hw::Machine& machine, const MeshMatmulPlan& plan,
                 const std::vector<TiledLayout>& c_layouts, uint64_t c_addr, Matrix& c);

// Machine parameters for a mapping's run: `threads` started per node.
hw::MachineParams machine_params_for(const hw::HardwareConfig& config, unsigned threads,
                                     uint64_t stack_bytes);
// After the run: cycles, FLOP/s, thread 0's time split over `compute_nodes` and the traffic.
void collect_report(const hw::Machine& machine, const hw::HardwareConfig& config, DType dtype,
                    MatmulShape shape, const std::vector<hw::Coord>& compute_nodes,
                    MeshMatmulResult& result);

// Runs a loaded machine to the end and fills result: ok and outcome, C read back with
// read_blocks (when it finished) and the report. result.plan must already be set.
void run_and_collect(hw::Machine& machine, const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                     const std::vector<TiledLayout>& c_layouts, uint64_t c_addr, MeshMatmulResult& result);

// The mappings, one file each (summa.cpp holds summa and 1d, which share one program).
// plan_*: the plan, SRAM included, for init zero; throws std::invalid_argument when it does
// not fit. run_*: plans again for `init`, runs, fills result (c, plan, outcome, report).
MeshMatmulPlan plan_summa(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                          const MeshMatmulOptions& options);
void run_summa(const hw::HardwareConfig& config, DType dtype, const MatmulOperands& ops,
               MatmulInit init, const MeshMatmulOptions& options, MeshMatmulResult& result);
MeshMatmulPlan plan_cannon(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                           const MeshMatmulOptions& options);
void run_cannon(const hw::HardwareConfig& config, DType dtype, const MatmulOperands& ops,
                MatmulInit init, const MeshMatmulOptions& options, MeshMatmulResult& result);
MeshMatmulPlan plan_ksplit(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                           const MeshMatmulOptions& options);
void run_ksplit(const hw::HardwareConfig& config, DType dtype, const MatmulOperands& ops,
                MatmulInit init, const MeshMatmulOptions& options, MeshMatmulResult& result);

}  // namespace dojosim::runtime::mesh
