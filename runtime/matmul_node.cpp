// SPDX-License-Identifier: MIT
#include "runtime/matmul_node.h"

#include <fmt/format.h>

#include <stdexcept>

#include "isa/assembler.h"

namespace dojosim::runtime {

NodeMatmulResult run_matmul_on_node(const MatmulSpec& spec, const MatmulOperands& ops,
                                    const isa::CoreConfig& config) {
  NodeMatmulResult r;
  r.layout = matmul_layout(spec.dtype, operand_shape(spec.init, ops), config);
  const isa::NodeRunOptions options;
  const uint64_t limit = config.sram_bytes - std::min(options.stack_bytes, config.sram_bytes);
  // The program's size hardly depends on the addresses it loads (li of larger values is a few
  // instructions longer): size it with addresses 0, then place the data after it with room.
  const uint64_t code_end =
      isa::assemble(matmul_program_asm(spec, r.layout, {}, config), "matmul_block.s").end_address();
  r.buffers = place_buffers(spec, r.layout, code_end + 256, limit);
  const isa::Program program = matmul_program(spec, r.layout, r.buffers, config);

  isa::NodeRunner node(config);
  node.load(program);
  auto put = [&](uint64_t at, const std::vector<uint8_t>& bytes) {
    node.sram().write(at, bytes.data(), bytes.size());
  };
  put(r.buffers.a, pack(ops.a, r.layout.a, spec.cfp8));
  put(r.buffers.b, pack(ops.b, r.layout.b, spec.cfp8));
  if (spec.init == MatmulInit::Accumulate) put(r.buffers.c, pack(ops.c, r.layout.c));
  if (spec.init == MatmulInit::Bias) put(r.buffers.bias, pack_bias(ops.bias, r.layout));

  r.run = node.run(options);
  if (r.run.outcome != isa::RunOutcome::Exited || r.run.threads.at(0).exit_code != 0)
    throw std::runtime_error(fmt::format("matmul block {}x{}x{} {} on one node did not finish: {}",
                                         r.layout.shape.m, r.layout.shape.n, r.layout.shape.k,
                                         dtype_name(spec.dtype), r.run.message));
  auto get = [&](uint64_t at, const TiledLayout& l) {
    std::vector<uint8_t> bytes(l.bytes());
    node.sram().read(at, bytes.data(), bytes.size());
    return unpack(bytes.data(), l, r.layout.shape.m, r.layout.shape.n);
  };
  r.c = get(r.buffers.c, r.layout.c);
  if (spec.bf16_output) r.d = get(r.buffers.d, r.layout.d);
  const isa::ThreadState& t = node.core().thread(0);
  r.stalls = t.stalls;
  r.class_counts = t.class_counts;
  r.issue_cycles = t.issue_cycles;
  r.cycles = r.run.cycles;
  r.useful_flops = 2.0 * r.layout.shape.m * r.layout.shape.n * r.layout.shape.k;
  r.peak_fraction = r.useful_flops / (double(r.cycles) * peak_flops_per_cycle(spec.dtype, config));
  return r;
}

}  // namespace dojosim::runtime
