// SPDX-License-Identifier: MIT
// Mapping ksplit (mesh_matmul.h): K is cut over P nodes; node p computes the partial
// C_p = A[:, K_p] B[K_p, :] of its range (node 0 starts from the bias), then a binary tree
// reduces the partials onto node 0. In round r (d = 2^r) node p with p mod 2d = d pushes its
// C_p into the receive buffer of node p - d, which adds it to its own with vadd.fp32:
// C_{p-d} = C_{p-d} + C_p. A barrier ends each round, so a receive buffer is reused only after
// its previous contents were added.
//
// Accumulation order (reference): partials P_p over range p (P_0 from init, the others from
// +0), then for d = 1, 2, 4, ...: P_p = P_p + P_{p+d} for p = 0, 2d, 4d, ... with p + d < P.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "hw/node/node.h"
#include "isa/global_address.h"
#include "runtime/layout.h"
#include "runtime/matmul_kernel.h"
#include "runtime/mesh/op.h"

namespace dojosim::runtime::mesh {
namespace {

using codegen::AsmWriter;

constexpr unsigned kThreads = 1;
constexpr uint64_t kStackBytes = 8 * 1024;
constexpr unsigned kSemR = 1;
// K per node by default: shorter ranges add reduction rounds without saving much multiply time.
constexpr uint32_t kDefaultKPerNode = 128;
// The vector add per VLEN bytes (two loads, an add and a store, four vectors per loop from one
// thread), measured on d1 (docs/runtime.md, "Matmul mappings").
constexpr double kAddCyclesPerVector = 3.5;

uint32_t rounds_for(uint32_t p) {
  uint32_t r = 0;
  while ((1u << r) < p) ++r;
  return r;
}

class KSplitKernel;
struct RingNode {
  const KSplitKernel& k;
  uint32_t p;
};

class KSplitKernel final : public PlannedMatmul {
 public:
  KSplitKernel(const hw::HardwareConfig& config, const MatmulProblem& problem);
  const NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return kThreads; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return a_; }
  uint64_t data_end() const override { return plan_.sram_high_water; }
  std::vector<Shard> shards(Operand which) const override;
  static const codegen::ArgBlock<RingNode>& args();

 private:
  void place_bias(hw::Machine& machine, const std::vector<float>& bias) const override;
  std::string program_text(const MatmulSpec& first, const isa::CoreConfig& core) const;
  // Node p > 0 sends in round ctz(p) to p - 2^ctz(p); node 0 never sends (round = rounds).
  uint32_t send_round(uint32_t p) const {
    for (uint32_t r = 0; r < plan_.steps; ++r)
      if (p & (1u << r)) return r;
    return plan_.steps;
  }
  // Before it sends, node p receives in each round r from p + 2^r, if that node exists.
  uint64_t receive_mask(uint32_t p) const {
    uint64_t mask = 0;
    for (uint32_t r = 0; r < send_round(p); ++r)
      if (p + (1u << r) < plan_.grid_rows) mask |= uint64_t{1} << r;
    return mask;
  }

  NodeProgram program_;
  std::vector<MatmulLayout> layouts_;  // per node
  uint64_t a_ = 0, b_ = 0, c_ = 0, recv_ = 0, bias_ = 0;
  uint32_t vlen_ = 0;
};

const codegen::ArgBlock<RingNode>& KSplitKernel::args() {
  using N = const RingNode&;
  static const codegen::ArgBlock<RingNode> block = {
      {"MEMBER", [](N) { return 1; }},
      {"SENDR", [](N n) { return n.k.send_round(n.p); }},
      {"SENDTO",
       [](N n) -> uint64_t {
         const uint32_t r = n.k.send_round(n.p);
         if (r >= n.k.plan_.steps) return 0;
         const hw::Coord to = n.k.plan_.nodes[n.p - (1u << r)];
         return isa::global_address(uint32_t(to.x), uint32_t(to.y), 0);
       }},
      {"RMASK", [](N n) { return n.k.receive_mask(n.p); }},
      {"RBLK", [](N n) { return n.k.layouts_[n.p].row_blocks; }},
      {"CBLK", [](N n) { return n.k.layouts_[n.p].col_blocks; }},
      {"KIT", [](N n) { return n.k.layouts_[n.p].k_iterations; }},
      {"ABUF", [](N n) { return n.k.a_; }},
      {"BBUF", [](N n) { return n.k.b_; }},
      {"CBUF", [](N n) { return n.k.c_; }},
      {"RECV", [](N n) { return n.k.recv_; }},
      {"BIAS", [](N n) { return n.k.bias_; }},
      {"CBYTES", [](N n) { return n.k.layouts_[n.p].c.bytes(); }},
      {"ADDBYTES", [](N n) { return align(n.k.layouts_[n.p].c.bytes(), 4 * n.k.vlen_); }},
  };
  return block;
}

std::string KSplitKernel::program_text(const MatmulSpec& first, const isa::CoreConfig& core) const {
  AsmWriter w;
  args().declare(w);
  w.equ("ROUNDS", plan_.steps), w.equ("SEMR", kSemR);
  for (unsigned v = 1; v <= 4; ++v)
    w.equ(fmt::format("V{}", v), v * core.vlen_bytes);  // vector offsets
  w.raw(R"(
    .text
    .globl _start
_start:
    la      s1, args
    ld      s5, MEMBER(s1)
    beqz    s5, reduce
    ld      a0, ABUF(s1)
    ld      a1, BBUF(s1)
    ld      a2, CBUF(s1)
    ld      a3, BIAS(s1)
    ld      a4, RBLK(s1)
    ld      a5, CBLK(s1)
    ld      a6, KIT(s1)
    call    matmul_first

# ---- the reduction: every node joins every round's barrier
reduce:
    li      s0, 0                   # round
    li      s4, ROUNDS
round:
    bgeu    s0, s4, exit
    beqz    s5, round_end
    ld      t0, SENDR(s1)
    bne     s0, t0, receive
    ld      a0, CBUF(s1)            # send: this node's C is final
    ld      a1, SENDTO(s1)
    ld      t1, RECV(s1)
    or      a1, a1, t1
    ld      a2, CBYTES(s1)
    push    a1, a0, a2, SEMR
    j       round_end
receive:
    ld      t0, RMASK(s1)
    srl     t0, t0, s0
    andi    t0, t0, 1
    beqz    t0, round_end
    li      t3, 1                   # receive: C = C + the partial that arrived
    swait   SEMR, t3
    ld      a0, CBUF(s1)
    ld      a1, RECV(s1)
    ld      a2, ADDBYTES(s1)
    add     a2, a2, a0
add_partial:
    vle     v0, 0(a0)               # four vectors at a time: their loads and adds overlap
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
    bltu    a0, a2, add_partial
round_end:
    barrier 0
    addi    s0, s0, 1
    j       round)");
  program_tail(w, first, nullptr, core);
  args().reserve(w);
  return w.text();
}

KSplitKernel::KSplitKernel(const hw::HardwareConfig& config, const MatmulProblem& problem)
    : PlannedMatmul(problem) {
  const DType dtype = problem.dtype;
  const MatmulShape shape = problem.shape;
  MeshMatmulPlan& plan = plan_;
  plan.mapping = problem.options.mapping;
  const isa::CoreConfig core = config.core_config({0, 0});
  vlen_ = core.vlen_bytes;
  const uint32_t unit = k_unit(dtype, core);
  const uint32_t k_per_node = problem.options.k_chunk;
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
        layouts_.emplace_back(matmul_layout(dtype, {shape.m, shape.n, len}, core));
    buf_a = std::max(buf_a, l.a.bytes());
    buf_b = std::max(buf_b, l.b.bytes());
    c_bytes = std::max(c_bytes, l.c.bytes());
    bias_bytes = std::max(bias_bytes, l.bias.bytes());
  }
  const MatmulSpec first{dtype,
                         problem.init == MatmulInit::Bias ? MatmulInit::Bias : MatmulInit::Zero,
                         false, problem.options.cfp8};
  program_ = assemble_program(program_text(first, core), "ksplit.s");
  SramMap map(program_, problem.sram_from);
  // The add loop takes four vectors a time: C and the receive buffer get room for its overrun.
  const uint64_t add_slack = 4 * core.vlen_bytes;
  a_ = map.take(buf_a), b_ = map.take(buf_b), c_ = map.take(c_bytes + add_slack),
  recv_ = map.take(c_bytes + add_slack);
  bias_ = map.take(bias_bytes);
  plan.sram_high_water = map.at;
  check_sram(config, dtype, shape, plan, kThreads, kStackBytes, "its A and B ranges, C twice");
}

void KSplitKernel::write_args(hw::Machine& machine) const {
  for (uint32_t p = 0; p < plan_.grid_rows; ++p) {
    const std::vector<uint64_t> v = args().values({*this, p});
    machine.node(plan_.nodes[p])
        ->sram()
        .write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

std::vector<Shard> KSplitKernel::shards(Operand which) const {
  const MatmulShape shape = problem_.shape;
  if (which == Operand::C) return {{plan_.nodes[0], c_, layouts_[0].c, 0, shape.m, 0, shape.n}};
  std::vector<Shard> out;
  for (uint32_t p = 0; p < plan_.grid_rows; ++p) {
    const uint32_t k0 = plan_.k_start[p], k1 = plan_.k_start[p + 1];
    if (which == Operand::A) out.push_back({plan_.nodes[p], a_, layouts_[p].a, 0, shape.m, k0, k1});
    if (which == Operand::B) out.push_back({plan_.nodes[p], b_, layouts_[p].b, k0, k1, 0, shape.n});
  }
  return out;
}

void KSplitKernel::place_bias(hw::Machine& machine, const std::vector<float>& bias) const {
  // The bias is added once, by node 0; the others start from zero.
  for (uint32_t p = 0; p < plan_.grid_rows; ++p) {
    const std::vector<uint8_t> bytes =
        pack_bias(p == 0 ? bias : std::vector<float>(problem_.shape.n, 0.0f), layouts_[p]);
    machine.node(plan_.nodes[p])->sram().write(bias_, bytes.data(), bytes.size());
  }
}

class KSplit final : public Mapping {
 public:
  KSplit() : Mapping(__FILE__) {}

  std::unique_ptr<PlannedMatmul> plan(const hw::HardwareConfig& config,
                                      const MatmulProblem& problem) const override {
    refuse_host_placement(problem.options);
    return std::make_unique<KSplitKernel>(config, problem);
  }

  // One step multiplies; then round r moves a partial 2^r ring positions (two snake positions
  // each) and adds it. The rounds follow the multiply: no overlap.
  EstimateSteps estimate(const EstimateModel& e, const MeshMatmulPlan& plan) const override {
    EstimateSteps t;
    t.overlapped = false;
    const double k = *std::max_element(plan.k_padded.begin(), plan.k_padded.end());
    const double c_bytes = e.block_m * e.block_n * 4;
    t.compute.push_back(e.multiply(e.block_m, e.block_n, k));
    t.move.push_back(0);
    for (uint32_t r = 0; r < plan.steps; ++r) {
      t.compute.push_back(0);
      t.move.push_back(c_bytes / e.link + 2.0 * double(1u << r) * e.hop +
                       c_bytes / e.core.vlen_bytes * kAddCyclesPerVector);
      t.link_bytes += c_bytes;
    }
    return t;
  }

  float reference(const ReferenceInputs& in, uint32_t i, uint32_t j, float init) const override {
    const size_t ranges = in.plan.k_padded.size();
    std::vector<float> partial(ranges);
    for (size_t p = 0; p < ranges; ++p) partial[p] = in.over_range(p, i, j, p ? 0.0f : init);
    for (size_t d = 1; d < ranges; d *= 2)
      for (size_t p = 0; p + d < ranges; p += 2 * d) partial[p] = partial[p] + partial[p + d];
    return partial[0];
  }
};

}  // namespace

const Mapping& ksplit_mapping() {
  static const KSplit m;
  return m;
}

}  // namespace dojosim::runtime::mesh
