// SPDX-License-Identifier: MIT
// What the node kernels of runtime/ops share: the check of the SRAM regions a kernel reads and
// writes, and the instruction costs their estimates are built from (all from the config's timing
// table). Internal to runtime/ops.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hw/config/hardware_config.h"
#include "isa/timing.h"
#include "runtime/codegen.h"
#include "runtime/mesh/common.h"

namespace dojosim::runtime::ops {

/// A stretch of SRAM a kernel uses, at the same address on every node.
struct Region {
  std::string_view name;
  uint64_t address = 0, bytes = 0;
};
/// Checks that each region starts on a VLEN boundary, above the program image and ends below
/// the stacks; returns the span [begin, end) of all of them. Throws std::invalid_argument
/// naming `what`, the region and its address.
std::pair<uint64_t, uint64_t> check_regions(const hw::HardwareConfig& config,
                                            const std::string& what,
                                            const mesh::NodeProgram& program,
                                            const std::vector<Region>& regions, unsigned threads,
                                            uint64_t stack_bytes);

/// Writes the loop that issues a node's pulls (image.h's RowPull) from the table at PULLS(s1),
/// NPULLS(s1) entries of source, destination and bytes, on semaphore 1, and waits for them.
/// With `none` a label, a node with no pulls jumps there; without, it must have one.
void write_pull_loop(codegen::AsmWriter& w, std::string_view none = {});

/// Instruction costs of the config that the kernels' estimates use (cycles).
struct LoopCosts {
  double vload_latency = 0, simd_latency = 0, reduce_latency = 0;
  double simd_occupancy = 0, store_occupancy = 0;
  double load_per_port = 0;                      // occupancy of a vector load over the load ports
  double branch_per_unit = 0, alu_per_unit = 0;  // a branch or ALU op over the node's units
  double loop_overhead = 0;  // a store, the counter's update and the branch after a register
  double row_overhead = 0;   // a row's pointers (a multiply, an add) and its length (a load)
  double prologue = 0;       // argument loads before the first row
};
LoopCosts loop_costs(const isa::TimingParams& t);

}  // namespace dojosim::runtime::ops
