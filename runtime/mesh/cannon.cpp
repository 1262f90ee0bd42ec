// SPDX-License-Identifier: MIT
// Mapping cannon (mesh_matmul.h): a q x q grid, node (i, j) owns C's block (i, j). The host
// places the skewed blocks: node (i, j) starts with A(i, t) and B(t, j), t = i + j mod q. At
// step s it multiplies A(i, t) B(t, j) with t = i + j + s mod q, while thread 1 shifts that A
// block one node west and thread 2 that B block one node north (wrapping) into the other
// buffer, so the shift of step s+1 overlaps the multiply of step s; a barrier ends each step.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "hw/node/node.h"
#include "runtime/layout.h"
#include "runtime/matmul_kernel.h"
#include "runtime/mesh/common.h"

namespace dojosim::runtime::mesh {
namespace {

constexpr unsigned kThreads = 3;  // 0 multiplies; 1 and 2 shift A's and B's blocks
constexpr uint64_t kStackBytes = 8 * 1024;
constexpr unsigned kSemA = 1, kSemB = 2;

enum Arg : unsigned {
  kMember,
  kWest,
  kNorth,
  kABytes,
  kBBytes,
  kRowBlocks,
  kColBlocks,
  kKIter,
  kC,
  kBufA0,
  kBufA1,
  kBufB0,
  kBufB1,
  kBias,
  kArgCount
};
constexpr const char* kArgNames[] = {"MEMBER", "WEST",  "NORTH", "ABYTES", "BBYTES",
                                     "RBLK",   "CBLK",  "KIT",   "CBUF",   "BUFA0",
                                     "BUFA1",  "BUFB0", "BUFB1", "BIAS"};
static_assert(std::size(kArgNames) == kArgCount);

// A thread that shifts one operand: at step s >= 1 it sends step s-1's block (buffer s-1 mod 2)
// to the neighbour's buffer s mod 2, which the neighbour last multiplied at step s-2, before
// barrier s-1; then it waits for its own next block and joins barrier s.
std::string mover(const char* label, const char* to, const char* buf0, const char* bytes,
                  const char* sem) {
  return fmt::format(R"(
{0}:
    beqz    s5, 8f
    beqz    s0, 8f                  # step 0's blocks were placed by the host
    andi    t0, s0, 1
    slli    t0, t0, 3
    add     t0, t0, s1
    ld      a1, {2}(t0)             # step s's buffer, here and at the neighbour
    xori    t0, t0, 8
    ld      a0, {2}(t0)             # step s-1's block
    ld      t1, {1}(s1)
    or      a1, a1, t1
    ld      a2, {3}(s1)
    push    a1, a0, a2, {4}
    li      t3, 1
    swait   {4}, t3
8:  barrier 0
    addi    s0, s0, 1
    bltu    s0, s4, {0}
    j       exit
)",
                     label, to, buf0, bytes, sem);
}

std::string program_text(const MatmulSpec& first, const MatmulSpec& rest,
                         const isa::CoreConfig& core, const MeshMatmulPlan& plan) {
  std::string s = arg_equs(kArgNames, kArgCount);
  s += fmt::format("    .equ S, {}\n    .equ SEMA, {}\n    .equ SEMB, {}\n", plan.steps, kSemA,
                   kSemB);
  s += R"(
    .text
    .globl _start
_start:
    la      s1, args
    li      s4, S
    li      s0, 0                   # step
    ld      s5, MEMBER(s1)
    csrr    t0, threadid
    li      t1, 1
    beq     t0, t1, mover_A
    bnez    t0, mover_B

# ---- thread 0: after barrier s, step s's blocks are in buffer s mod 2: multiply them
compute:
    barrier 0
    beqz    s5, 9f
    andi    t2, s0, 1
    slli    t2, t2, 3
    add     t2, t2, s1
    ld      a0, BUFA0(t2)
    ld      a1, BUFB0(t2)
    ld      a2, CBUF(s1)
    ld      a3, BIAS(s1)
    ld      a4, RBLK(s1)
    ld      a5, CBLK(s1)
    ld      a6, KIT(s1)
    bnez    s0, 4f
    call    matmul_first
    j       9f
4:  call    matmul_rest
9:  addi    s0, s0, 1
    bltu    s0, s4, compute
    j       exit
)";
  s += mover("mover_A", "WEST", "BUFA0", "ABYTES", "SEMA");
  s += mover("mover_B", "NORTH", "BUFB0", "BBYTES", "SEMB");
  return s + program_tail(first, &rest, core, kArgCount);
}

struct Build {
  MeshMatmulPlan plan;
  NodeProgram program;
  std::vector<MatmulLayout> layouts;  // per grid node
  uint64_t a0 = 0, a1 = 0, b0 = 0, b1 = 0, c = 0, bias = 0;
};

Build build(const hw::HardwareConfig& config, DType dtype, MatmulShape shape, MatmulInit init,
            const isa::Cfp8Format& cfp8) {
  Build b;
  MeshMatmulPlan& plan = b.plan;
  plan.mapping = MatmulMapping::Cannon;
  std::vector<int> xs, ys;
  full_rows(config, xs, ys);
  // Square, and no grid row or column without work.
  const uint32_t q = std::min(
      {static_cast<uint32_t>(xs.size()), static_cast<uint32_t>(ys.size()), shape.m, shape.n});
  plan.grid_rows = plan.grid_cols = q;
  for (uint32_t i = 0; i < q; ++i)
    for (uint32_t j = 0; j < q; ++j) plan.nodes.push_back({xs[j], ys[i]});
  plan.row_start = split(shape.m, q);
  plan.col_start = split(shape.n, q);
  // q blocks of K, all padded to one size so that every shifted block fits every buffer.
  const isa::CoreConfig core = config.core_config({0, 0});
  plan.k_chunk = round_up(div_up(shape.k, q), k_unit(dtype, core));
  plan.steps = q;
  for (uint32_t t = 0; t <= q; ++t) plan.k_start.push_back(std::min(shape.k, t * plan.k_chunk));
  plan.k_padded.assign(q, plan.k_chunk);
  plan.padded_k = q * plan.k_chunk;

  uint64_t buf_a = 0, buf_b = 0, c_bytes = 0, bias_bytes = 0;
  for (uint32_t i = 0; i < q; ++i)
    for (uint32_t j = 0; j < q; ++j) {
      const uint32_t m = plan.row_start[i + 1] - plan.row_start[i],
                     n = plan.col_start[j + 1] - plan.col_start[j];
      const MatmulLayout& l =
          b.layouts.emplace_back(matmul_layout(dtype, {m, n, plan.k_chunk}, core));
      buf_a = std::max(buf_a, l.a.bytes());
      buf_b = std::max(buf_b, l.b.bytes());
      c_bytes = std::max(c_bytes, l.c.bytes());
      bias_bytes = std::max(bias_bytes, l.bias.bytes());
    }
  MatmulSpec first{dtype, init == MatmulInit::Bias ? MatmulInit::Bias : MatmulInit::Zero, false,
                   cfp8};
  MatmulSpec rest{dtype, MatmulInit::Accumulate, false, cfp8};
  b.program = assemble_program(program_text(first, rest, core, plan), "cannon.s");
  SramMap map{align(b.program.end, 64)};
  b.a0 = map.take(buf_a), b.a1 = map.take(buf_a), b.b0 = map.take(buf_b), b.b1 = map.take(buf_b);
  b.c = map.take(c_bytes), b.bias = map.take(bias_bytes);
  plan.sram_high_water = map.at;
  check_sram(config, dtype, shape, plan, kThreads, kStackBytes,
             "A and B blocks twice, its C block");
  return b;
}

}  // namespace

MeshMatmulPlan plan_cannon(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                           const MeshMatmulOptions& options) {
  return build(config, dtype, shape, MatmulInit::Zero, options.cfp8).plan;
}

void run_cannon(const hw::HardwareConfig& config, DType dtype, const MatmulOperands& ops,
                MatmulInit init, const MeshMatmulOptions& options, MeshMatmulResult& result) {
  const MatmulShape shape = operand_shape(init, ops);
  const Build b = build(config, dtype, shape, init, options.cfp8);
  const MeshMatmulPlan& plan = result.plan = b.plan;
  const uint32_t q = plan.grid_rows;
  const auto at = [&](uint32_t i, uint32_t j) { return plan.nodes[size_t{i % q} * q + j % q]; };

  hw::Machine machine(machine_params_for(config, kThreads, kStackBytes));
  if (options.progress) machine.set_progress(options.progress);
  machine.load(b.program.program);
  for (uint32_t i = 0; i < q; ++i)
    for (uint32_t j = 0; j < q; ++j) {
      const MatmulLayout& l = b.layouts[size_t{i} * q + j];
      hw::NodeModule* node = machine.node(at(i, j));
      const uint32_t r0 = plan.row_start[i], r1 = plan.row_start[i + 1];
      const uint32_t c0 = plan.col_start[j], c1 = plan.col_start[j + 1];
      uint64_t args[kArgCount] = {};
      args[kMember] = 1;
      args[kWest] = global_base(at(i, j + q - 1)), args[kNorth] = global_base(at(i + q - 1, j));
      args[kABytes] = l.a.bytes(), args[kBBytes] = l.b.bytes();
      args[kRowBlocks] = l.row_blocks, args[kColBlocks] = l.col_blocks,
      args[kKIter] = l.k_iterations;
      args[kC] = b.c, args[kBufA0] = b.a0, args[kBufA1] = b.a1, args[kBufB0] = b.b0,
      args[kBufB1] = b.b1;
      args[kBias] = b.bias;
      node->sram().write(b.program.args, args, sizeof args);
      // The skew: K block t = i + j mod q; pack() zero-fills the layout past K.
      const uint32_t t = (i + j) % q, k0 = plan.k_start[t], k1 = plan.k_start[t + 1];
      const std::vector<uint8_t> a_bytes = pack(ops.a.block(r0, r1, k0, k1), l.a, options.cfp8),
                                 b_bytes = pack(ops.b.block(k0, k1, c0, c1), l.b, options.cfp8);
      node->sram().write(b.a0, a_bytes.data(), a_bytes.size());
      node->sram().write(b.b0, b_bytes.data(), b_bytes.size());
      if (init == MatmulInit::Bias) {
        const std::vector<float> bias(ops.bias.begin() + c0, ops.bias.begin() + c1);
        const std::vector<uint8_t> bytes = pack_bias(bias, l);
        node->sram().write(b.bias, bytes.data(), bytes.size());
      }
    }

  std::vector<TiledLayout> c_layouts;
  for (const MatmulLayout& l : b.layouts) c_layouts.push_back(l.c);
  run_and_collect(machine, config, dtype, shape, c_layouts, b.c, result);
}

}  // namespace dojosim::runtime::mesh
