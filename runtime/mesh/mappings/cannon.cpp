// SPDX-License-Identifier: MIT
// Mapping cannon (mesh_matmul.h): a q x q grid, node (i, j) owns C's block (i, j). The host
// places the skewed blocks: node (i, j) starts with A(i, t) and B(t, j), t = i + j mod q. At
// step s it multiplies A(i, t) B(t, j) with t = i + j + s mod q, while thread 1 shifts that A
// block one node west and thread 2 that B block one node north (wrapping) into the other
// buffer, so the shift of step s+1 overlaps the multiply of step s; a barrier ends each step.
//
// Accumulation order (reference): init, then K blocks t = b_i + b_j, b_i + b_j + 1, ... (mod q),
// where (b_i, b_j) is the grid block holding the element.
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
namespace reg = codegen::reg;

constexpr unsigned kThreads = 3;  // 0 multiplies; 1 and 2 shift A's and B's blocks
constexpr uint64_t kStackBytes = 8 * 1024;
constexpr unsigned kSemA = 1, kSemB = 2;

class CannonKernel;
struct GridNode {
  const CannonKernel& k;
  uint32_t i, j;
};

class CannonKernel final : public PlannedMatmul {
 public:
  CannonKernel(const hw::HardwareConfig& config, const MatmulProblem& problem);
  const NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return kThreads; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return a0_; }
  uint64_t data_end() const override { return plan_.sram_high_water; }
  std::vector<Shard> shards(Operand which) const override;
  static const codegen::ArgBlock<GridNode>& args();

 private:
  void place_bias(hw::Machine& machine, const std::vector<float>& bias) const override;
  std::string program_text(const MatmulSpec& first, const MatmulSpec& rest,
                           const isa::CoreConfig& core) const;
  uint32_t q() const { return plan_.grid_rows; }
  hw::Coord at(uint32_t i, uint32_t j) const {
    return plan_.nodes[size_t{i % q()} * q() + j % q()];
  }
  const MatmulLayout& layout(uint32_t i, uint32_t j) const { return layouts_[size_t{i} * q() + j]; }
  static uint64_t global(hw::Coord c) {
    return isa::global_address(uint32_t(c.x), uint32_t(c.y), 0);
  }

  NodeProgram program_;
  std::vector<MatmulLayout> layouts_;  // per grid node
  uint64_t a0_ = 0, a1_ = 0, b0_ = 0, b1_ = 0, c_ = 0, bias_ = 0;
};

const codegen::ArgBlock<GridNode>& CannonKernel::args() {
  using N = const GridNode&;
  static const codegen::ArgBlock<GridNode> block = {
      {"MEMBER", [](N) { return 1; }},
      {"WEST", [](N n) { return global(n.k.at(n.i, n.j + n.k.q() - 1)); }},
      {"NORTH", [](N n) { return global(n.k.at(n.i + n.k.q() - 1, n.j)); }},
      {"ABYTES", [](N n) { return n.k.layout(n.i, n.j).a.bytes(); }},
      {"BBYTES", [](N n) { return n.k.layout(n.i, n.j).b.bytes(); }},
      {"RBLK", [](N n) { return n.k.layout(n.i, n.j).row_blocks; }},
      {"CBLK", [](N n) { return n.k.layout(n.i, n.j).col_blocks; }},
      {"KIT", [](N n) { return n.k.layout(n.i, n.j).k_iterations; }},
      {"CBUF", [](N n) { return n.k.c_; }},
      {"BUFA0", [](N n) { return n.k.a0_; }},
      {"BUFA1", [](N n) { return n.k.a1_; }},
      {"BUFB0", [](N n) { return n.k.b0_; }},
      {"BUFB1", [](N n) { return n.k.b1_; }},
      {"BIAS", [](N n) { return n.k.bias_; }},
  };
  return block;
}

// A thread that shifts one operand: at step s >= 1 it sends step s-1's block (buffer s-1 mod 2)
// to the neighbour's buffer s mod 2, which the neighbour last multiplied at step s-2, before
// barrier s-1; then it waits for its own next block and joins barrier s.
void mover(AsmWriter& w, const char* label, const char* to, const char* buf0, const char* bytes,
           const char* sem) {
  w.raw("");
  w.label(label);
  w.op("beqz    s5, {}_barrier", label);
  w.op("beqz    s0, {}_barrier          # step 0's blocks were placed by the host", label);
  w.buffer_slot(reg::t0, reg::s0, reg::s1);
  w.op("ld      a1, {}(t0)             # step s's buffer, here and at the neighbour", buf0);
  w.op("xori    t0, t0, 8");
  w.op("ld      a0, {}(t0)             # step s-1's block", buf0);
  w.op("ld      t1, {}(s1)", to);
  w.op("or      a1, a1, t1");
  w.op("ld      a2, {}(s1)", bytes);
  w.op("push    a1, a0, a2, {}", sem);
  w.op("li      t3, 1");
  w.op("swait   {}, t3", sem);
  w.label(fmt::format("{}_barrier", label));
  w.op("barrier 0");
  w.op("addi    s0, s0, 1");
  w.op("bltu    s0, s4, {}", label);
  w.op("j       exit");
}

std::string CannonKernel::program_text(const MatmulSpec& first, const MatmulSpec& rest,
                                       const isa::CoreConfig& core) const {
  AsmWriter w;
  args().declare(w);
  w.equ("S", plan_.steps), w.equ("SEMA", kSemA), w.equ("SEMB", kSemB);
  w.raw(R"(
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

# ---- thread 0: after barrier s, step s's blocks are in buffer s mod 2: multiply them)");
  w.label("compute");
  w.op("barrier 0");
  w.op("beqz    s5, compute_next");
  w.buffer_slot(reg::t2, reg::s0, reg::s1);
  w.raw(R"(    ld      a0, BUFA0(t2)
    ld      a1, BUFB0(t2)
    ld      a2, CBUF(s1)
    ld      a3, BIAS(s1)
    ld      a4, RBLK(s1)
    ld      a5, CBLK(s1)
    ld      a6, KIT(s1)
    bnez    s0, compute_rest
    call    matmul_first
    j       compute_next
compute_rest:
    call    matmul_rest
compute_next:
    addi    s0, s0, 1
    bltu    s0, s4, compute
    j       exit)");
  mover(w, "mover_A", "WEST", "BUFA0", "ABYTES", "SEMA");
  mover(w, "mover_B", "NORTH", "BUFB0", "BBYTES", "SEMB");
  program_tail(w, first, &rest, core);
  args().reserve(w);
  return w.text();
}

CannonKernel::CannonKernel(const hw::HardwareConfig& config, const MatmulProblem& problem)
    : PlannedMatmul(problem) {
  const DType dtype = problem.dtype;
  const MatmulShape shape = problem.shape;
  MeshMatmulPlan& plan = plan_;
  plan.mapping = problem.options.mapping;
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
          layouts_.emplace_back(matmul_layout(dtype, {m, n, plan.k_chunk}, core));
      buf_a = std::max(buf_a, l.a.bytes());
      buf_b = std::max(buf_b, l.b.bytes());
      c_bytes = std::max(c_bytes, l.c.bytes());
      bias_bytes = std::max(bias_bytes, l.bias.bytes());
    }
  const MatmulSpec first{dtype,
                         problem.init == MatmulInit::Bias ? MatmulInit::Bias : MatmulInit::Zero,
                         false, problem.options.cfp8};
  const MatmulSpec rest{dtype, MatmulInit::Accumulate, false, problem.options.cfp8};
  program_ = assemble_program(program_text(first, rest, core), "cannon.s");
  SramMap map(program_, problem.sram_from);
  a0_ = map.take(buf_a), a1_ = map.take(buf_a), b0_ = map.take(buf_b), b1_ = map.take(buf_b);
  c_ = map.take(c_bytes), bias_ = map.take(bias_bytes);
  plan.sram_high_water = map.at;
  check_sram(config, dtype, shape, plan, kThreads, kStackBytes,
             "A and B blocks twice, its C block");
}

void CannonKernel::write_args(hw::Machine& machine) const {
  for (uint32_t i = 0; i < q(); ++i)
    for (uint32_t j = 0; j < q(); ++j) {
      const std::vector<uint64_t> v = args().values({*this, i, j});
      machine.node(at(i, j))->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
    }
}

std::vector<Shard> CannonKernel::shards(Operand which) const {
  std::vector<Shard> out;
  for (uint32_t i = 0; i < q(); ++i)
    for (uint32_t j = 0; j < q(); ++j) {
      const MatmulLayout& l = layout(i, j);
      const uint32_t r0 = plan_.row_start[i], r1 = plan_.row_start[i + 1];
      const uint32_t c0 = plan_.col_start[j], c1 = plan_.col_start[j + 1];
      // The skew: K block t = i + j mod q; pack() zero-fills the layout past K.
      const uint32_t t = (i + j) % q(), k0 = plan_.k_start[t], k1 = plan_.k_start[t + 1];
      if (which == Operand::A) out.push_back({at(i, j), a0_, l.a, r0, r1, k0, k1});
      if (which == Operand::B) out.push_back({at(i, j), b0_, l.b, k0, k1, c0, c1});
      if (which == Operand::C) out.push_back({at(i, j), c_, l.c, r0, r1, c0, c1});
    }
  return out;
}

void CannonKernel::place_bias(hw::Machine& machine, const std::vector<float>& bias) const {
  for (uint32_t i = 0; i < q(); ++i)
    for (uint32_t j = 0; j < q(); ++j) {
      const uint32_t c0 = plan_.col_start[j], c1 = plan_.col_start[j + 1];
      const std::vector<uint8_t> bytes =
          pack_bias(std::vector<float>(bias.begin() + c0, bias.begin() + c1), layout(i, j));
      machine.node(at(i, j))->sram().write(bias_, bytes.data(), bytes.size());
    }
}

// Which grid block holds C's row i (or column j): the last start at or before it.
uint32_t block_of(const std::vector<uint32_t>& start, uint32_t i) {
  return static_cast<uint32_t>(std::upper_bound(start.begin(), start.end(), i) - start.begin() - 1);
}

class Cannon final : public Mapping {
 public:
  Cannon() : Mapping(__FILE__) {}

  std::unique_ptr<PlannedMatmul> plan(const hw::HardwareConfig& config,
                                      const MatmulProblem& problem) const override {
    refuse_host_placement(problem.options);
    return std::make_unique<CannonKernel>(config, problem);
  }

  EstimateSteps estimate(const EstimateModel& e, const MeshMatmulPlan& plan) const override {
    EstimateSteps t;
    const double k = plan.k_chunk;
    for (uint32_t s = 0; s < plan.steps; ++s) {
      t.compute.push_back(e.multiply(e.block_m, e.block_n, k));
      // A one hop west and B one hop north, on different links; the wrap takes q - 1 hops.
      const double bytes =
          s == 0 || plan.grid_rows == 1 ? 0 : std::max(e.block_m, e.block_n) * k * e.elem;
      t.move.push_back(bytes / e.link + (s ? (plan.grid_rows - 1) * e.hop : 0));
      t.link_bytes += bytes;
    }
    return t;
  }

  float reference(const ReferenceInputs& in, uint32_t i, uint32_t j, float acc) const override {
    // Block (bi, bj) starts at K block bi + bj mod q.
    const size_t q = in.plan.k_padded.size(),
                 first = block_of(in.plan.row_start, i) + block_of(in.plan.col_start, j);
    for (size_t t = 0; t < q; ++t) acc = in.over_range((first + t) % q, i, j, acc);
    return acc;
  }
};

}  // namespace

const Mapping& cannon_mapping() {
  static const Cannon m;
  return m;
}

}  // namespace dojosim::runtime::mesh
