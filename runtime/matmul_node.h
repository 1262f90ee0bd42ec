// SPDX-License-Identifier: MIT
// Runs one matmul block on one node, without the hardware model: generate the program, pack
// and place the operands after it, run it on isa::NodeRunner, unpack C. The engine of the
// runtime tests and of bench/matmul_block_bench.cpp.
#pragma once

#include <array>
#include <cstdint>

#include "isa/node_runner.h"
#include "runtime/matmul_kernel.h"

namespace dojosim::runtime {

struct NodeMatmulResult {
  MatmulLayout layout;
  MatmulBuffers buffers;
  Matrix c;  ///< m x n, fp32
  Matrix d;  ///< m x n bf16 values (spec.bf16_output)
  isa::NodeRunResult run;
  uint64_t cycles = 0;       ///< of the whole program: call, routine, exit
  double useful_flops = 0;   ///< 2 m n k of the block as asked (not the padding)
  double peak_fraction = 0;  ///< useful_flops / (cycles * peak_flops_per_cycle)
  /// Thread 0's timing counters (the routine runs on one thread).
  std::array<uint64_t, isa::kStallCauseCount> stalls{};
  std::array<uint64_t, static_cast<size_t>(isa::TimingClass::kCount)> class_counts{};
  uint64_t issue_cycles = 0;
};

/// Throws std::invalid_argument for bad operands or a block too large for SRAM, and
/// std::runtime_error if the program does not exit cleanly (the message says why).
NodeMatmulResult run_matmul_on_node(const MatmulSpec& spec, const MatmulOperands& ops,
                                    const isa::CoreConfig& config);

}  // namespace dojosim::runtime
