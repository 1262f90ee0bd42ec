// SPDX-License-Identifier: MIT
// matmul placed across the mesh: C (M x N, fp32) = A (M x K) * B (K x N) [+ bias], run on the
// SystemC machine a hardware config describes, with the node kernel of runtime/matmul_kernel.h.
//
// Mapping SUMMA (2D block, output-stationary): the usable nodes form an R x G grid (mesh rows
// without a disabled node, all columns); grid node (j, i) owns C's block (row block i, column
// block j), and K is cut into S chunks. Chunk s of A's row block i starts at grid column
// s mod G and travels east around the row, node to node; chunk s of B's column block j starts at
// grid row s mod R and travels south around the column, each in pieces so that a node forwards
// one piece while the next arrives. Each node runs three threads: threads 1 and 2 receive and
// forward A's and B's chunk s+1 while thread 0 multiplies chunk s (double buffering), and a
// machine-wide barrier separates the steps. Shapes need not divide the grid: blocks differ by
// at most one row or column, and the kernel pads to its tile shapes with zeros.
//
// One machine per process (SystemC elaborates once): run_matmul() once per process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/config/hardware_config.h"
#include "runtime/matmul.h"
#include "runtime/tensor.h"

namespace dojosim::runtime {

enum class MatmulMapping : uint8_t { Summa };
std::string_view mapping_name(MatmulMapping m);
MatmulMapping parse_mapping(const std::string& name);  // throws std::invalid_argument

struct MeshMatmulOptions {
  MatmulMapping mapping = MatmulMapping::Summa;
  uint32_t k_chunk = 0;  // K per step; 0: the default (128, rounded to the kernel's k unit)
  isa::Cfp8Format cfp8{};
};

// How the work was placed, before it ran.
struct MeshMatmulPlan {
  uint32_t grid_rows = 0, grid_cols = 0;  // R x G nodes
  std::vector<int> mesh_x, mesh_y;        // grid column j -> mesh x; grid row i -> mesh y
  std::vector<uint32_t> row_start, col_start;  // R + 1 and G + 1 offsets into M and N
  uint32_t k_chunk = 0, steps = 0;
  uint32_t padded_k = 0;                  // K with the kernel's padding of the last chunk
  uint64_t sram_high_water = 0;           // bytes of the busiest node's SRAM the plan uses
};

struct MeshMatmulResult {
  Matrix c;  // M x N
  MeshMatmulPlan plan;
  std::string outcome;  // "finished", or the machine's trap / deadlock report
  bool ok = false;
  uint64_t cycles = 0;
  double seconds = 0, flop = 0, flop_per_s = 0, peak_flop_per_s = 0;
  // Where the grid's compute threads' cycles went, summed over them: issuing and stalls of the
  // core (compute), waiting for a semaphore (data), at a barrier (sync), for the DMA queue.
  double total_cycles = 0, compute_cycles = 0, wait_data_cycles = 0, sync_cycles = 0, dma_queue_cycles = 0, other_cycles = 0;
  uint64_t mesh_link_bytes = 0, die_edge_bytes = 0, host_bytes = 0;
};

// Plans without running (the grid, the chunks and the SRAM each node needs); throws
// std::invalid_argument naming what does not fit.
MeshMatmulPlan plan_matmul(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                           const MeshMatmulOptions& options);

// Builds the machine, places A and B (and the bias) in the nodes' SRAM, runs, reads C back.
MeshMatmulResult run_matmul(const hw::HardwareConfig& config, DType dtype, const MatmulOperands& ops,
                            MatmulInit init, const MeshMatmulOptions& options);

}  // namespace dojosim::runtime
