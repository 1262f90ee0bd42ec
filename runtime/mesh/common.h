// SPDX-License-Identifier: MIT
// What the matmul mappings of runtime/mesh share: the node lists they run on, K ranges, the
// SPMD program's tail, SRAM maps and the report read from the machine after a run. Internal to
// runtime/mesh; the public API is mesh_matmul.h; the op interface is op.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "hw/config/hardware_config.h"
#include "hw/machine/machine.h"
#include "isa/program.h"
#include "runtime/codegen.h"
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

// An assembled SPMD program, its source text, where its argument block sits and where its
// image ends.
struct NodeProgram {
  isa::Program program;
  uint64_t args = 0, end = 0;
  std::string text;
};
NodeProgram assemble_program(const std::string& text, const std::string& name);
// How every mapping's program ends: the `exit` label (exit code 0) and the kernel routines the
// threads call (`matmul_first`, and `matmul_rest` unless null). The argument block follows.
void program_tail(codegen::AsmWriter& w, const MatmulSpec& first, const MatmulSpec* rest,
                  const isa::CoreConfig& core);

// Hands out 64-byte aligned SRAM ranges from `at` up; the same on every node. A kernel's map
// starts above its program image, and at or above `sram_from` (op.h: MatmulProblem).
struct SramMap {
  SramMap(const NodeProgram& program, uint64_t sram_from)
      : at(std::max(align(program.end, 64), sram_from)) {}
  uint64_t at = 0;
  uint64_t take(uint64_t bytes) {
    const uint64_t a = at;
    at = align(at + bytes, 64);
    return a;
  }
};
// Throws std::invalid_argument for placement=host: only summa streams operands from host memory.
void refuse_host_placement(const MeshMatmulOptions& options);
// Throws std::invalid_argument if `used` passes the SRAM below the stacks: names the shape,
// the grid and `what` the bytes are.
void check_sram(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                const MeshMatmulPlan& plan, unsigned threads, uint64_t stack_bytes,
                const char* what);

// After the run: cycles, FLOP/s, thread 0's time split over `compute_nodes` and the traffic.
void collect_report(const hw::Machine& machine, const hw::HardwareConfig& config, DType dtype,
                    MatmulShape shape, const std::vector<hw::Coord>& compute_nodes,
                    MeshMatmulResult& result);

}  // namespace dojosim::runtime::mesh
