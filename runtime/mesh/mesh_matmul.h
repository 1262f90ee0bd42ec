// SPDX-License-Identifier: MIT
// matmul placed across the mesh: C (M x N, fp32) = A (M x K) * B (K x N) [+ bias], run on the
// SystemC machine a hardware config describes, with the node kernel of runtime/matmul_kernel.h.
// docs/runtime.md ("Matmul mappings") describes each mapping, its accumulation order and the
// estimate that picks one.
//
// summa  2D block, output-stationary: the usable nodes form an R x G grid (mesh rows without a
//        disabled node, all columns); grid node (i, j) owns C's block (row block i, column
//        block j), and K is cut into S chunks. Chunk s of A's row block i starts at grid column
//        s mod G and travels east around the row, node to node; chunk s of B's column block j
//        starts at grid row s mod R and travels south around the column, each in pieces so that
//        a node forwards one piece while the next arrives. Threads 1 and 2 receive and forward
//        chunk s+1 while thread 0 multiplies chunk s (double buffering); a machine-wide barrier
//        separates the steps.
// 1d     SUMMA's program on a P x 1 grid: the P nodes (every usable node, in snake order, at
//        most one per block row of C) each own M/P rows of A and C; chunk s of B travels around
//        the ring of all P nodes.
// cannon systolic shift on a q x q grid (q = min(grid rows, grid cols)); the host places the
//        skewed blocks (node (i, j) starts with A(i, i+j mod q) and B(i+j mod q, j)); each step
//        multiplies, while threads 1 and 2 shift the blocks of the next step one node west (A)
//        and north (B), wrapping. K is cut into q equal blocks (zero padded).
// ksplit K is cut over P nodes (snake order); each computes a partial C (M x N) of its K range,
//        then a binary tree of pushes and vector adds reduces the partials onto the first node.
// auto   the mapping with the smallest estimate (runtime/mesh/estimate.h) that fits in SRAM.
//
// Shapes need not divide the grid: blocks differ by at most one row or column, and the kernel
// pads to its tile shapes with zeros. run_matmul() builds a machine (an Executor,
// runtime/mesh/executor.h) for one matmul; SystemC elaborates once per process, so it runs once
// per process. Each mapping is one file in runtime/mesh/mappings/ (runtime/mesh/op.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hw/config/hardware_config.h"
#include "hw/machine/outcome.h"
#include "hw/noc/geometry.h"
#include "runtime/matmul.h"
#include "runtime/tensor.h"

namespace dojosim::runtime {

// A mapping, by the name it is registered under (runtime/mesh/mappings.def: summa, 1d,
// 1d-cols, cannon, ksplit), or `auto`: the estimate chooses. 1d splits C's rows over a ring of
// all nodes (B's chunks travel; for conv2d: an output-spatial split, each node a band of output
// pixels, its input windows halo included placed by im2col); 1d-cols splits C's columns (A's
// chunks travel; for conv2d: an output-channel split).
class MatmulMapping {
 public:
  explicit MatmulMapping(std::string name) : name_(std::move(name)) {}
  static const MatmulMapping Auto;
  const std::string& name() const { return name_; }
  bool operator==(const MatmulMapping& o) const { return name_ == o.name_; }
  bool operator!=(const MatmulMapping& o) const { return name_ != o.name_; }

 private:
  std::string name_;
};
inline const MatmulMapping MatmulMapping::Auto{"auto"};
/// The registered mappings (every one but auto), in the order reports list them.
std::vector<MatmulMapping> matmul_mappings();
std::string_view mapping_name(const MatmulMapping& m);
MatmulMapping parse_mapping(const std::string& name);  // throws std::invalid_argument

// Where A and B start: in the nodes' SRAM (each node holds the chunks it owns), or in host
// memory (the DIPs' HBM), from which each chunk's owner pulls it on its step, so operands
// larger than the mesh's SRAM fit (summa only). Auto: SRAM if it fits, else host memory.
enum class OperandPlacement : uint8_t { Auto, Sram, Host };

struct MeshMatmulOptions {
  MatmulMapping mapping = MatmulMapping::Auto;  // as the CLI's default
  OperandPlacement placement = OperandPlacement::Auto;
  uint32_t k_chunk =
      0;  // K per step (summa, 1d); 0: the default (128, rounded to the kernel's k unit)
  isa::Cfp8Format cfp8{};
  std::function<void(uint64_t cycle)> progress;  // hw::Machine::set_progress, during the run
};

// How the work was placed, before it ran.
struct MeshMatmulPlan {
  MatmulMapping mapping = MatmulMapping("summa");  // never Auto: the one chosen
  uint32_t grid_rows = 0, grid_cols = 0;         // R x G nodes (1d, ksplit: P x 1)
  std::vector<hw::Coord> nodes;                  // grid node (i, j) at nodes[i * grid_cols + j]
  std::vector<uint32_t> row_start, col_start;    // R + 1 and G + 1 offsets into M and N
  // K ranges: step s (summa, 1d), block t (cannon) or node p (ksplit) covers
  // [k_start[s], k_start[s + 1]) and is padded with zeros to k_padded[s] terms.
  std::vector<uint32_t> k_start, k_padded;
  uint32_t k_chunk = 0, steps = 0;  // K per step (the largest) and steps (barriers)
  // The fp32 roundings of one element at most (the float64 bound's K): the padded K for
  // summa, 1d and cannon; for ksplit the padded K of all ranges, which bounds the deepest
  // range plus the reduction's additions.
  uint32_t padded_k = 0;
  uint32_t pieces = 1;           // a forwarded chunk travels in this many pieces
  uint64_t sram_high_water = 0;  // bytes of the busiest node's SRAM the plan uses
  bool operands_in_host = false;  // A and B stream from host memory (OperandPlacement::Host)
};

// The analytical estimate of one mapping (runtime/mesh/estimate.h).
struct MatmulEstimate {
  MatmulMapping mapping = MatmulMapping("summa");
  bool fits = false;  // the plan exists and fits in SRAM
  std::string why;    // when it does not fit: the planner's message
  uint64_t nodes = 0, steps = 0;
  double compute_cycles = 0;  // the busiest node's padded multiply-adds at its peak
  double link_bytes = 0;      // bytes through the busiest link (or injection port)
  double link_cycles = 0;     // ... at the link's bytes per cycle
  double exposed_cycles = 0;  // data movement not hidden behind the multiply (fill, hops, pieces)
  double sync_cycles = 0;     // steps x barrier latency
  double cycles = 0;          // the prediction (docs/runtime.md: the model)
  uint64_t sram_bytes = 0;    // the busiest node's SRAM
};

struct MeshMatmulResult {
  Matrix c;  // M x N
  MeshMatmulPlan plan;
  hw::MachineOutcome ended = hw::MachineOutcome::Finished;
  std::string outcome;  // "finished", or the machine's trap / deadlock / limit report
  bool ok = false;
  uint64_t cycles = 0;
  double seconds = 0, flop = 0, flop_per_s = 0, peak_flop_per_s = 0;
  // Where the grid's compute threads' cycles went, summed over them: issuing and stalls of the
  // core (compute), waiting for a semaphore (data), at a barrier (sync), for the DMA queue.
  double total_cycles = 0, compute_cycles = 0, wait_data_cycles = 0, sync_cycles = 0,
         dma_queue_cycles = 0, other_cycles = 0;
  uint64_t mesh_link_bytes = 0, die_edge_bytes = 0, host_bytes = 0;
  double estimate_cycles = 0;             // the estimate of plan.mapping
  std::vector<MatmulEstimate> estimates;  // every mapping's, in matmul_mappings() order
};

// Plans without running (the grid, the chunks and the SRAM each node needs); throws
// std::invalid_argument naming what does not fit. Auto plans the mapping choose_mapping() picks.
MeshMatmulPlan plan_matmul(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                           const MeshMatmulOptions& options);

// Builds the machine (an Executor), places A and B (and the bias) in the nodes' SRAM or host
// memory, runs, reads C back.
MeshMatmulResult run_matmul(const hw::HardwareConfig& config, DType dtype,
                            const MatmulOperands& ops, MatmulInit init,
                            const MeshMatmulOptions& options);

// C as the plan's mapping computes it, bit for bit: each element accumulated in fp32 over the
// plan's K ranges in the mapping's order (docs/runtime.md; Mapping::reference), ksplit's
// partials added in its reduction tree's order. For summa and 1d it equals
// reference_matmul_exact(.., plan.padded_k).
Matrix reference_mesh_matmul_exact(DType dtype, isa::Cfp8Format f, MatmulInit init,
                                   const MatmulOperands& ops, const MeshMatmulPlan& plan);

}  // namespace dojosim::runtime
