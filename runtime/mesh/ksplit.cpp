// SPDX-License-Identifier: MIT
// Mapping ksplit (mesh_matmul.h): K is cut over P nodes; node p computes the partial
// C_p = A[:, K_p] B[K_p, :] of its range (node 0 starts from the bias), then a binary tree
// reduces the partials onto node 0. In round r (d = 2^r) node p with p mod 2d = d pushes its
// C_p into the receive buffer of node p - d, which adds it to its own with vadd.fp32:
// C_{p-d} = C_{p-d} + C_p. A barrier ends each round, so a receive buffer is reused only after
// its previous contents were added. The order of additions is the reference's
// (reference_mesh_matmul_exact).
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "hw/node/node.h"
#include "runtime/layout.h"
#include "runtime/matmul_kernel.h"
#include "runtime/mesh/common.h"

namespace dojosim::runtime::mesh {
namespace {

constexpr unsigned kThreads = 1;
constexpr uint64_t kStackBytes = 8 * 1024;
constexpr unsigned kSemR = 1;
// K per node by default: shorter ranges add reduction rounds without saving much multiply time.
constexpr uint32_t kDefaultKPerNode = 128;

enum Arg : unsigned {
  kMember,
  kSendRound,
  kSendTo,
  kRecvMask,
  kRowBlocks,
  kColBlocks,
  kKIter,
  kA,
  kB,
  kC,
  kRecv,
  kBias,
  kCBytes,
  kAddBytes,
  kArgCount
};
constexpr const char* kArgNames[] = {"MEMBER", "SENDR", "SENDTO", "RMASK",   "RBLK",
                                     "CBLK",   "KIT",   "ABUF",   "BBUF",    "CBUF",
                                     "RECV",   "BIAS",  "CBYTES", "ADDBYTES"};
static_assert(std::size(kArgNames) == kArgCount);

uint32_t rounds_for(uint32_t p) {
  uint32_t r = 0;
  while ((1u << r) < p) ++r;
  return r;
}

std::string program_text(const MatmulSpec& first, const isa::CoreConfig& core, uint32_t rounds) {
  std::string s = arg_equs(kArgNames, kArgCount);
  s += fmt::format("    .equ ROUNDS, {}\n    .equ SEMR, {}\n", rounds, kSemR);
  for (unsigned v = 1; v <= 4; ++v)
    s += fmt::format("    .equ V{}, {}\n", v, v * core.vlen_bytes);  // vector offsets
  s += R"(
    .text
    .globl _start
_start:
    la      s1, args
    ld      s5, MEMBER(s1)
    beqz    s5, 1f
    ld      a0, ABUF(s1)
    ld      a1, BBUF(s1)
    ld      a2, CBUF(s1)
    ld      a3, BIAS(s1)
    ld      a4, RBLK(s1)
    ld      a5, CBLK(s1)
    ld      a6, KIT(s1)
    call    matmul_first

# ---- the reduction: every node joins every round's barrier
1:  li      s0, 0                   # round
    li      s4, ROUNDS
2:  bgeu    s0, s4, exit
    beqz    s5, 5f
    ld      t0, SENDR(s1)
    bne     s0, t0, 3f
    ld      a0, CBUF(s1)            # send: this node's C is final
    ld      a1, SENDTO(s1)
    ld      t1, RECV(s1)
    or      a1, a1, t1
    ld      a2, CBYTES(s1)
    push    a1, a0, a2, SEMR
    j       5f
3:  ld      t0, RMASK(s1)
    srl     t0, t0, s0
    andi    t0, t0, 1
    beqz    t0, 5f
    li      t3, 1                   # receive: C = C + the partial that arrived
    swait   SEMR, t3
    ld      a0, CBUF(s1)
    ld      a1, RECV(s1)
    ld      a2, ADDBYTES(s1)
    add     a2, a2, a0
4:  vle     v0, 0(a0)               # four vectors at a time: their loads and adds overlap
    vle     v1, V1(a0)
    vle     v2, V2(a0)
    vle     v3, V3(a0)
    vle     v4, 0(a1)
    vle     v5, V1(a1)
    vle     v6, V2(a1)
    vle     v7, V3(a1)
    vadd.fp32 v0, v0, v4
    vadd.fp32 v1, v1, v5
    vadd.fp32 v2, v2, v6
    vadd.fp32 v3, v3, v7
    vse     v0, 0(a0)
    vse     v1, V1(a0)
    vse     v2, V2(a0)
    vse     v3, V3(a0)
    addi    a0, a0, V4
    addi    a1, a1, V4
    bltu    a0, a2, 4b
5:  barrier 0
    addi    s0, s0, 1
    j       2b
)";
  return s + program_tail(first, nullptr, core, kArgCount);
}

struct Build {
  MeshMatmulPlan plan;
  NodeProgram program;
  std::vector<MatmulLayout> layouts;  // per node
  uint64_t a = 0, b = 0, c = 0, recv = 0, bias = 0;
};

Build build(const hw::HardwareConfig& config, DType dtype, MatmulShape shape, uint32_t k_per_node,
            MatmulInit init, const isa::Cfp8Format& cfp8) {
  Build b;
  MeshMatmulPlan& plan = b.plan;
  plan.mapping = MatmulMapping::KSplit;
  const isa::CoreConfig core = config.core_config({0, 0});
  const uint32_t unit = k_unit(dtype, core);
  plan.nodes = ring_of_nodes(config);
  const uint32_t P = std::min<uint32_t>(
      static_cast<uint32_t>(plan.nodes.size()),
      div_up(shape.k, round_up(k_per_node ? k_per_node : kDefaultKPerNode, unit)));
  plan.nodes.resize(P);
  plan.grid_rows = P, plan.grid_cols = 1;
  plan.row_start = {0, shape.m};
  plan.col_start = {0, shape.n};
  plan.k_start = split(shape.k, P);
  plan.steps = rounds_for(P);
  uint64_t buf_a = 0, buf_b = 0, c_bytes = 0, bias_bytes = 0;
  for (uint32_t p = 0; p < P; ++p) {
    const uint32_t len = plan.k_start[p + 1] - plan.k_start[p];
    plan.k_padded.push_back(round_up(len, unit));
    plan.padded_k += plan.k_padded.back();
    plan.k_chunk = std::max(plan.k_chunk, len);
    const MatmulLayout& l =
        b.layouts.emplace_back(matmul_layout(dtype, {shape.m, shape.n, len}, core));
    buf_a = std::max(buf_a, l.a.bytes());
    buf_b = std::max(buf_b, l.b.bytes());
    c_bytes = std::max(c_bytes, l.c.bytes());
    bias_bytes = std::max(bias_bytes, l.bias.bytes());
  }
  const MatmulSpec first{dtype, init == MatmulInit::Bias ? MatmulInit::Bias : MatmulInit::Zero,
                         false, cfp8};
  b.program = assemble_program(program_text(first, core, plan.steps), "ksplit.s");
  SramMap map{align(b.program.end, 64)};
  // The add loop takes four vectors a time: C and the receive buffer get room for its overrun.
  const uint64_t add_slack = 4 * core.vlen_bytes;
  b.a = map.take(buf_a), b.b = map.take(buf_b), b.c = map.take(c_bytes + add_slack),
  b.recv = map.take(c_bytes + add_slack);
  b.bias = map.take(bias_bytes);
  plan.sram_high_water = map.at;
  check_sram(config, dtype, shape, plan, kThreads, kStackBytes, "its A and B ranges, C twice");
  return b;
}

}  // namespace

MeshMatmulPlan plan_ksplit(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                           const MeshMatmulOptions& options) {
  return build(config, dtype, shape, options.k_chunk, MatmulInit::Zero, options.cfp8).plan;
}

void run_ksplit(const hw::HardwareConfig& config, DType dtype, const MatmulOperands& ops,
                MatmulInit init, const MeshMatmulOptions& options, MeshMatmulResult& result) {
  const MatmulShape shape = operand_shape(init, ops);
  const Build b = build(config, dtype, shape, options.k_chunk, init, options.cfp8);
  const MeshMatmulPlan& plan = result.plan = b.plan;
  const uint32_t P = plan.grid_rows;

  hw::Machine machine(machine_params_for(config, kThreads, kStackBytes));
  if (options.progress) machine.set_progress(options.progress);
  machine.load(b.program.program);
  for (uint32_t p = 0; p < P; ++p) {
    const MatmulLayout& l = b.layouts[p];
    hw::NodeModule* node = machine.node(plan.nodes[p]);
    // Node p > 0 sends in round ctz(p) to p - 2^ctz(p); before that it receives in each round r
    // from p + 2^r, if that node exists. Node 0 never sends.
    uint32_t send_round = plan.steps;
    for (uint32_t r = 0; r < plan.steps; ++r)
      if (p & (1u << r)) {
        send_round = r;
        break;
      }
    uint64_t recv_mask = 0;
    for (uint32_t r = 0; r < send_round; ++r)
      if (p + (1u << r) < P) recv_mask |= uint64_t{1} << r;
    uint64_t args[kArgCount] = {};
    args[kMember] = 1, args[kSendRound] = send_round, args[kRecvMask] = recv_mask;
    args[kSendTo] = send_round < plan.steps ? global_base(plan.nodes[p - (1u << send_round)]) : 0;
    args[kRowBlocks] = l.row_blocks, args[kColBlocks] = l.col_blocks, args[kKIter] = l.k_iterations;
    args[kA] = b.a, args[kB] = b.b, args[kC] = b.c, args[kRecv] = b.recv, args[kBias] = b.bias;
    args[kCBytes] = l.c.bytes(),
    args[kAddBytes] = align(l.c.bytes(), 4 * config.node.core.vlen_bytes);
    node->sram().write(b.program.args, args, sizeof args);
    const uint32_t k0 = plan.k_start[p], k1 = plan.k_start[p + 1];
    const std::vector<uint8_t> a_bytes = pack(ops.a.block(0, shape.m, k0, k1), l.a, options.cfp8),
                               b_bytes = pack(ops.b.block(k0, k1, 0, shape.n), l.b, options.cfp8);
    node->sram().write(b.a, a_bytes.data(), a_bytes.size());
    node->sram().write(b.b, b_bytes.data(), b_bytes.size());
    if (init == MatmulInit::Bias) {
      // The bias is added once, by node 0; the others start from zero.
      const std::vector<float> bias = p == 0 ? ops.bias : std::vector<float>(shape.n, 0.0f);
      const std::vector<uint8_t> bytes = pack_bias(bias, l);
      node->sram().write(b.bias, bytes.data(), bytes.size());
    }
  }

  run_and_collect(machine, config, dtype, shape, {b.layouts[0].c}, b.c, result);
}

}  // namespace dojosim::runtime::mesh
