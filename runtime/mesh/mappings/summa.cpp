// SPDX-License-Identifier: MIT
// Mappings summa, 1d and 1d-cols (mesh_matmul.h): one program. Every grid node owns a block of
// C; chunk s of A travels east around its grid row and chunk s of B south around its grid
// column, from their owners, while the previous chunk is multiplied. 1d is the same program on
// a P x 1 grid whose "column" is a ring of all nodes: A never moves (each node owns all of its
// rows' K); 1d-cols on a 1 x P grid: B never moves.
//
// Accumulation order (reference): init, then K chunks 0, 1, ..., S-1, each padded.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "hw/config/machine_params.h"
#include "hw/node/node.h"
#include "isa/global_address.h"
#include "runtime/layout.h"
#include "runtime/matmul_kernel.h"
#include "runtime/mesh/op.h"

namespace dojosim::runtime::mesh {
namespace {

using codegen::AsmWriter;
namespace reg = codegen::reg;

constexpr unsigned kThreads = 3;      // 0 multiplies; 1 and 2 move A's and B's chunks
constexpr unsigned kSummaPieces = 4;  // a chunk travels in pieces: forwarding overlaps arrival
// On 1d's long ring a piece's store-and-forward per hop dominates: smaller pieces, at least
// this many bytes so a piece's push and wait stay cheap against its transfer.
constexpr uint64_t kRingPieceBytes = 1024;
constexpr uint64_t kStackBytes = 8 * 1024;
constexpr unsigned kSemA = 1, kSemB = 2;

enum class Grid : uint8_t { Summa, Rows, Cols };  // summa, 1d, 1d-cols

struct NodePlan {
  MatmulLayout full, last;
  uint64_t owned_a_bytes = 0, owned_b_bytes = 0;
};

class SummaKernel;
// What the argument block is computed from: grid node (i, j) of a kernel.
struct GridNode {
  const SummaKernel& k;
  uint32_t i, j;
};

class SummaKernel final : public PlannedMatmul {
 public:
  SummaKernel(const hw::HardwareConfig& config, const MatmulProblem& problem, Grid grid,
              uint32_t k_chunk, bool host);
  const NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return kThreads; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return data_begin_; }
  uint64_t data_end() const override { return plan_.sram_high_water; }
  std::vector<Shard> shards(Operand which) const override;

  // The per-node argument block the host writes at the program's `args` label.
  static const codegen::ArgBlock<GridNode>& args();

 private:
  void place_bias(hw::Machine& machine, const std::vector<float>& bias) const override;
  std::string program_text(const MatmulSpec& first, const MatmulSpec& rest,
                           const isa::CoreConfig& core) const;
  const NodePlan& node(uint32_t i, uint32_t j) const {
    return nodes_[size_t{i} * plan_.grid_cols + j];
  }
  hw::Coord at(uint32_t i, uint32_t j) const {
    return plan_.nodes[size_t{i} * plan_.grid_cols + j];
  }
  static uint64_t global(hw::Coord c) {
    return isa::global_address(uint32_t(c.x), uint32_t(c.y), 0);
  }

  NodeProgram program_;
  std::vector<NodePlan> nodes_;  // per grid node, as plan_.nodes
  uint64_t data_begin_ = 0;
  uint64_t a0_ = 0, a1_ = 0, b0_ = 0, b1_ = 0, c_ = 0, bias_ = 0, owned_a_ = 0, owned_b_ = 0;
  // With operands in host memory: where each grid row's A chunks and each column's B chunks
  // start (host addresses; chunk s at + s x full chunk bytes).
  std::vector<uint64_t> host_a_, host_b_;
};

const codegen::ArgBlock<GridNode>& SummaKernel::args() {
  using N = const GridNode&;
  static const codegen::ArgBlock<GridNode> block = {
      {"MEMBER", [](N) { return 1; }},
      {"COL", [](N n) { return n.j; }},
      {"ROW", [](N n) { return n.i; }},
      {"EAST", [](N n) { return global(n.k.at(n.i, (n.j + 1) % n.k.plan_.grid_cols)); }},
      {"SOUTH", [](N n) { return global(n.k.at((n.i + 1) % n.k.plan_.grid_rows, n.j)); }},
      {"RBLK", [](N n) { return n.k.node(n.i, n.j).full.row_blocks; }},
      {"CBLK", [](N n) { return n.k.node(n.i, n.j).full.col_blocks; }},
      {"KFULL", [](N n) { return n.k.node(n.i, n.j).full.k_iterations; }},
      {"KLAST", [](N n) { return n.k.node(n.i, n.j).last.k_iterations; }},
      {"ABF", [](N n) { return n.k.node(n.i, n.j).full.a.bytes(); }},
      {"ABL", [](N n) { return n.k.node(n.i, n.j).last.a.bytes(); }},
      {"BBF", [](N n) { return n.k.node(n.i, n.j).full.b.bytes(); }},
      {"BBL", [](N n) { return n.k.node(n.i, n.j).last.b.bytes(); }},
      {"OWNA", [](N n) { return n.k.owned_a_; }},
      {"OWNB", [](N n) { return n.k.owned_b_; }},
      {"CBUF", [](N n) { return n.k.c_; }},
      {"BUFA0", [](N n) { return n.k.a0_; }},
      {"BUFA1", [](N n) { return n.k.a1_; }},
      {"BUFB0", [](N n) { return n.k.b0_; }},
      {"BUFB1", [](N n) { return n.k.b1_; }},
      {"BIAS", [](N n) { return n.k.bias_; }},
      // The host address of this node's A chunks (its row's), 0: they are in SRAM.
      {"HOSTA",
       [](N n) { return n.k.plan_.operands_in_host ? isa::host_address(n.k.host_a_[n.i]) : 0; }},
      {"HOSTB",
       [](N n) { return n.k.plan_.operands_in_host ? isa::host_address(n.k.host_b_[n.j]) : 0; }},
  };
  return block;
}

// Thread 0 takes chunk s of X from its buffer, or from its own copy when this node owns it
// (grid `coord` COORD equals s mod `count`) and the operands are in SRAM.
void own_chunk(AsmWriter& w, char X, codegen::XReg into, codegen::XReg count, const char* COORD,
               const char* next) {
  w.op("remu    t0, s0, {}", count.name());
  w.op("ld      t1, {}(s1)", COORD);
  if (X == 'A') {
    w.buffer_slot(reg::t2, reg::s0, reg::s1);
    w.op("ld      {}, BUFA0(t2)           # the chunk's buffer ...", into.name());
  } else {
    w.op("ld      {}, BUFB0(t2)", into.name());
  }
  w.op("bne     t0, t1, {}", next);
  w.op("ld      t3, HOST{}(s1)", X);
  w.op("bnez    t3, {}  # (from host memory the owner pulls into the buffer too)", next);
  w.op("divu    t0, s0, {}  # ... or the owner's own copy", count.name());
  w.op("ld      t1, {}BF(s1)", X);
  w.op("mul     t0, t0, t1");
  w.op("ld      {}, OWN{}(s1)", into.name(), X);
  w.op("add     {}, {}, t0", into.name(), into.name());
}

// A mover thread's loop for operand X: put X's chunk s in place on every grid node, then
// barrier s. `count` holds the ring's length, COORD and NEXT name the argument words of this
// node's position along the ring and of the next node's global base.
void mover(AsmWriter& w, char X, int thread, const char* dir, const char* line, codegen::XReg count,
           const char* coord, const char* COORD, const char* NEXT) {
  const std::string l = fmt::format("mover_{}", X);
  const std::string c(count.name());
  w.raw(fmt::format(
      "\n# ---- thread {}: put {}'s chunk s in place on every grid node, then barrier s. The "
      "chunk\n"
      "# travels {} around the grid {}, from its owner, in PIECES pieces so that a node\n"
      "# forwards one piece while the next is still arriving.",
      thread, X, dir, line));
  w.label(l);
  w.op("beqz    s5, {}_barrier", l);
  w.buffer_slot(reg::s6, reg::s0, reg::s1);
  w.op("ld      a0, BUF{}0(s6)         # this step's buffer", X);
  w.op("addi    t0, s0, 1");
  w.op("ld      a2, {}BF(s1)", X);
  w.op("bltu    t0, s4, {}_piece_size", l);
  w.op("ld      a2, {}BL(s1)            # the last step's chunk is the short one", X);
  w.label(l + "_piece_size");
  w.op("li      t0, PIECES1");
  w.op("add     a2, a2, t0");
  w.op("li      t0, PIECES");
  w.op("divu    a2, a2, t0");
  w.op("addi    a2, a2, 63");
  w.op("andi    a2, a2, -64              # piece size: a 64-byte multiple");
  w.op("remu    t0, s0, {}               # the owner's grid {}", c, coord);
  w.op("ld      t1, {}(s1)", COORD);
  w.op("addi    t2, t1, 1");
  w.op("remu    t2, t2, {}               # the next node's", c);
  w.op("sub     s8, t2, t0               # 0: the next node is the owner: the chunk went round");
  w.op("ld      t3, {}(s1)", NEXT);
  w.op("or      a1, t3, a0               # the same buffer at the next node");
  w.op("bne     t0, t1, {}_relay", l);
  w.op("ld      t3, HOST{}(s1)", X);
  w.op("beqz    t3, {}_own_copy", l);
  w.op("ld      t4, {}BF(s1)            # in host memory: the owner pulls chunk s into its buffer",
       X);
  w.op("mul     t4, t4, s0");
  w.op("add     t3, t3, t4               # chunk s is at HOST + s x (full chunk bytes)");
  w.op("ld      t5, {}BF(s1)", X);
  w.op("addi    t6, s0, 1");
  w.op("bltu    t6, s4, {}_pull", l);
  w.op("ld      t5, {}BL(s1)", X);
  w.label(l + "_pull");
  w.op("pull    a0, t3, t5, SEM{}", X);
  w.op("li      t4, 1");
  w.op("swait   SEM{}, t4", X);
  w.op("j       {}_send", l);
  w.label(l + "_own_copy");
  w.op("divu    t3, s0, {}               # the owner sends its own copy", c);
  w.op("ld      t4, {}BF(s1)", X);
  w.op("mul     t3, t3, t4");
  w.op("ld      a0, OWN{}(s1)", X);
  w.op("add     a0, a0, t3");
  w.label(l + "_send");
  w.op("beqz    s8, {}_barrier", l);
  w.op("li      s9, PIECES");
  const std::string sem = fmt::format("SEM{}", X);
  w.send_pieces(l, reg::a1, reg::a0, reg::a2, reg::s9, sem);
  w.op("j       {}_barrier", l);
  w.label(l + "_relay");
  w.op("li      s9, PIECES");
  w.receive_pieces(l, reg::a1, reg::a0, reg::a2, reg::s9, reg::s8, reg::t3, sem);
  w.label(l + "_barrier");
  w.op("barrier 0");
  w.op("addi    s0, s0, 1");
  w.op("bltu    s0, s4, {}", l);
  w.op("j       exit");
}

// The SPMD program: the three threads, and the two kernel routines (first step, later steps).
std::string SummaKernel::program_text(const MatmulSpec& first, const MatmulSpec& rest,
                                      const isa::CoreConfig& core) const {
  AsmWriter w;
  args().declare(w);
  w.equ("G", plan_.grid_cols), w.equ("R", plan_.grid_rows), w.equ("S", plan_.steps);
  w.equ("SEMA", kSemA), w.equ("SEMB", kSemB);
  w.equ("PIECES", plan_.pieces), w.equ("PIECES1", plan_.pieces - 1);
  w.raw(R"(
    .text
    .globl _start
_start:
    la      s1, args
    li      s2, G
    li      s3, R
    li      s4, S
    li      s0, 0                   # step
    ld      s5, MEMBER(s1)
    csrr    t0, threadid
    li      t1, 1
    beq     t0, t1, mover_A
    bnez    t0, mover_B

# ---- thread 0: after barrier s, chunk s is in place on every node: multiply it)");
  w.label("compute");
  w.op("barrier 0");
  w.op("beqz    s5, compute_next");
  own_chunk(w, 'A', reg::a0, reg::s2, "COL", "compute_b");  // grid column that owns A's chunk s
  w.label("compute_b");
  own_chunk(w, 'B', reg::a1, reg::s3, "ROW", "compute_call");  // grid row that owns B's chunk s
  w.label("compute_call");
  w.raw(R"(    ld      a2, CBUF(s1)
    ld      a3, BIAS(s1)
    ld      a4, RBLK(s1)
    ld      a5, CBLK(s1)
    ld      a6, KFULL(s1)
    addi    t0, s0, 1
    bne     t0, s4, compute_k_set
    ld      a6, KLAST(s1)
compute_k_set:
    bnez    s0, compute_rest
    call    matmul_first
    j       compute_next
compute_rest:
    call    matmul_rest
compute_next:
    addi    s0, s0, 1
    bltu    s0, s4, compute
    j       exit)");
  mover(w, 'A', 1, "east", "row", reg::s2, "column", "COL", "EAST");
  mover(w, 'B', 2, "south", "column", reg::s3, "row", "ROW", "SOUTH");
  program_tail(w, first, &rest, core);
  args().reserve(w);
  return w.text();
}

SummaKernel::SummaKernel(const hw::HardwareConfig& config, const MatmulProblem& problem, Grid grid,
                         uint32_t k_chunk, bool host)
    : PlannedMatmul(problem) {
  const DType dtype = problem.dtype;
  const MatmulShape shape = problem.shape;
  MeshMatmulPlan& plan = plan_;
  plan.mapping = problem.options.mapping;
  plan.operands_in_host = host;
  const isa::CoreConfig core = config.core_config({0, 0});
  if (grid == Grid::Summa) {
    std::vector<int> xs, ys;
    full_rows(config, xs, ys);
    // No grid row or column without work.
    plan.grid_rows = std::min<uint32_t>(static_cast<uint32_t>(ys.size()), shape.m);
    plan.grid_cols = std::min<uint32_t>(static_cast<uint32_t>(xs.size()), shape.n);
    for (uint32_t i = 0; i < plan.grid_rows; ++i)
      for (uint32_t j = 0; j < plan.grid_cols; ++j) plan.nodes.push_back({xs[j], ys[i]});
    plan.pieces = kSummaPieces;
  } else {
    // A ring of every node, split along C's rows (1d: a P x 1 grid) or columns (1d-cols:
    // 1 x P); at most one node per block of the kernel's padding, which a node pads anyway.
    plan.nodes = ring_of_nodes(config);
    const uint32_t ring = static_cast<uint32_t>(plan.nodes.size());
    const bool rows = grid == Grid::Rows;
    plan.grid_rows = rows ? std::min(ring, div_up(shape.m, m_unit(dtype, core))) : 1;
    plan.grid_cols = rows ? 1 : std::min(ring, div_up(shape.n, n_unit(dtype, core)));
    plan.nodes.resize(size_t{plan.grid_rows} * plan.grid_cols);
  }
  const uint32_t R = plan.grid_rows, G = plan.grid_cols;
  plan.row_start = split(shape.m, R);
  plan.col_start = split(shape.n, G);
  chunk_k(plan, shape.k, k_chunk, k_unit(dtype, core));
  const uint32_t S = plan.steps, k_last = shape.k - (S - 1) * plan.k_chunk;

  // Layouts and SRAM maps per grid node; every node of a grid row shares A's layouts and every
  // node of a column B's, so a chunk forwarded verbatim fits its next node.
  nodes_.resize(size_t{R} * G);
  uint64_t buf_a = 0, buf_b = 0, c_bytes = 0, bias_bytes = 0, own_a = 0, own_b = 0;
  for (uint32_t i = 0; i < R; ++i)
    for (uint32_t j = 0; j < G; ++j) {
      NodePlan& n = nodes_[size_t{i} * G + j];
      const uint32_t m = plan.row_start[i + 1] - plan.row_start[i],
                     nn = plan.col_start[j + 1] - plan.col_start[j];
      n.full = matmul_layout(dtype, {m, nn, plan.k_chunk}, core);
      n.last = matmul_layout(dtype, {m, nn, k_last}, core);
      const uint32_t owned_a = (S + G - 1 - j) / G,
                     owned_b = (S + R - 1 - i) / R;  // chunks s = j, j+G, ...
      n.owned_a_bytes = owned_a * n.full.a.bytes();
      n.owned_b_bytes = owned_b * n.full.b.bytes();
      buf_a = std::max(buf_a, n.full.a.bytes());
      buf_b = std::max(buf_b, n.full.b.bytes());
      c_bytes = std::max(c_bytes, n.full.c.bytes());
      bias_bytes = std::max(bias_bytes, n.full.bias.bytes());
      own_a = std::max(own_a, n.owned_a_bytes);
      own_b = std::max(own_b, n.owned_b_bytes);
    }
  if (grid == Grid::Rows) {
    buf_a = 0;  // A never travels
    plan.pieces = static_cast<uint32_t>(std::max<uint64_t>(kSummaPieces, buf_b / kRingPieceBytes));
  } else if (grid == Grid::Cols) {
    buf_b = 0;  // B never travels
    plan.pieces = static_cast<uint32_t>(std::max<uint64_t>(kSummaPieces, buf_a / kRingPieceBytes));
  }

  const MatmulSpec first{dtype,
                         problem.init == MatmulInit::Bias ? MatmulInit::Bias : MatmulInit::Zero,
                         false, problem.options.cfp8};
  const MatmulSpec rest{dtype, MatmulInit::Accumulate, false, problem.options.cfp8};
  program_ = assemble_program(program_text(first, rest, core), plan.mapping.name() + ".s");
  // The same addresses on every node: a forwarded chunk lands where the sender keeps its own.
  SramMap map(program_, problem.sram_from);
  data_begin_ = map.at;
  // Pieces are whole 64-byte multiples: the last may run up to 64 bytes per piece past a chunk.
  const uint64_t slack = 64 * plan.pieces;
  a0_ = map.take(buf_a ? buf_a + slack : 0), a1_ = map.take(buf_a ? buf_a + slack : 0);
  b0_ = map.take(buf_b + slack), b1_ = map.take(buf_b + slack);
  c_ = map.take(c_bytes), bias_ = map.take(bias_bytes);
  if (host) {
    own_a = own_b = 0;  // owners pull their chunks from host memory into the buffers
    uint64_t at = 0;
    for (uint32_t i = 0; i < R; ++i)
      host_a_.push_back(at), at = align(at + uint64_t{S} * node(i, 0).full.a.bytes(), 64);
    for (uint32_t j = 0; j < G; ++j)
      host_b_.push_back(at), at = align(at + uint64_t{S} * node(0, j).full.b.bytes(), 64);
    const std::vector<hw::DipParams> dips = hw::host_params(config);
    if (dips.empty() || at > dips.front().capacity)
      throw std::invalid_argument(
          fmt::format("matmul {}x{}x{} {}: operands in host memory need {} bytes in one DIP, and "
                      "this machine has {}",
                      shape.m, shape.n, shape.k, dtype_name(dtype), at,
                      dips.empty() ? std::string("no DIP (tile.host.edges)")
                                   : fmt::format("{} bytes per DIP", dips.front().capacity)));
  }
  owned_a_ = map.take(own_a ? own_a + slack : 0), owned_b_ = map.take(own_b ? own_b + slack : 0);
  plan.sram_high_water = map.at;
  check_sram(config, dtype, shape, plan, kThreads, kStackBytes,
             grid == Grid::Summa ? (host ? "A and B chunks twice, its C block"
                                         : "A and B chunks twice, its C block, its own chunks")
             : grid == Grid::Rows
                 ? "B chunks twice, its C rows, its A rows, its own B chunks"
                 : "A chunks twice, its C columns, its B columns, its own A chunks");
}

void SummaKernel::write_args(hw::Machine& machine) const {
  for (uint32_t i = 0; i < plan_.grid_rows; ++i)
    for (uint32_t j = 0; j < plan_.grid_cols; ++j) {
      const std::vector<uint64_t> v = args().values({*this, i, j});
      machine.node(at(i, j))->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
    }
}

std::vector<Shard> SummaKernel::shards(Operand which) const {
  const MeshMatmulPlan& plan = plan_;
  const uint32_t R = plan.grid_rows, G = plan.grid_cols, S = plan.steps;
  const bool host = plan.operands_in_host;
  std::vector<Shard> out;
  for (uint32_t i = 0; i < R; ++i)
    for (uint32_t j = 0; j < G; ++j) {
      const NodePlan& n = node(i, j);
      const uint32_t r0 = plan.row_start[i], r1 = plan.row_start[i + 1];
      const uint32_t c0 = plan.col_start[j], c1 = plan.col_start[j + 1];
      if (which == Operand::C) out.push_back({at(i, j), c_, n.full.c, r0, r1, c0, c1});
      // Chunks this node owns: A's s = j, j + G, ... of its row block; B's s = i, i + R, ...
      // In host memory each row's (column's) chunk s is packed once, by its owner.
      if (which == Operand::A)
        for (uint32_t s = j, t = 0; s < S; s += G, ++t)
          out.push_back(
              {at(i, j),
               host ? host_a_[i] + uint64_t{s} * n.full.a.bytes() : owned_a_ + t * n.full.a.bytes(),
               s + 1 == S ? n.last.a : n.full.a, r0, r1, plan.k_start[s], plan.k_start[s + 1],
               host});
      if (which == Operand::B)
        for (uint32_t s = i, t = 0; s < S; s += R, ++t)
          out.push_back(
              {at(i, j),
               host ? host_b_[j] + uint64_t{s} * n.full.b.bytes() : owned_b_ + t * n.full.b.bytes(),
               s + 1 == S ? n.last.b : n.full.b, plan.k_start[s], plan.k_start[s + 1], c0, c1,
               host});
    }
  return out;
}

void SummaKernel::place_bias(hw::Machine& machine, const std::vector<float>& bias) const {
  for (uint32_t i = 0; i < plan_.grid_rows; ++i)
    for (uint32_t j = 0; j < plan_.grid_cols; ++j) {
      const uint32_t c0 = plan_.col_start[j], c1 = plan_.col_start[j + 1];
      const std::vector<uint8_t> bytes =
          pack_bias(std::vector<float>(bias.begin() + c0, bias.begin() + c1), node(i, j).full);
      machine.node(at(i, j))->sram().write(bias_, bytes.data(), bytes.size());
    }
}

class SummaFamily final : public Mapping {
 public:
  explicit SummaFamily(Grid grid) : Mapping(__FILE__), grid_(grid) {}

  // The default K chunk is 128; 1d and 1d-cols halve it (to the k unit) until their chunks fit
  // in SRAM. summa's operands go to host memory when asked, or (auto) when they do not fit.
  std::unique_ptr<PlannedMatmul> plan(const hw::HardwareConfig& config,
                                      const MatmulProblem& problem) const override {
    const MeshMatmulOptions& o = problem.options;
    if (grid_ != Grid::Summa) refuse_host_placement(o);
    const auto make = [&](uint32_t k_chunk, bool host) {
      return std::make_unique<SummaKernel>(config, problem, grid_, k_chunk, host);
    };
    if (o.k_chunk || grid_ == Grid::Summa) {
      const uint32_t k_chunk = o.k_chunk ? o.k_chunk : 128;
      if (o.placement != OperandPlacement::Auto || grid_ != Grid::Summa)
        return make(k_chunk, o.placement == OperandPlacement::Host);
      try {
        return make(k_chunk, false);
      } catch (const std::invalid_argument&) {
        if (hw::host_params(config).empty()) throw;
        return make(k_chunk, true);
      }
    }
    const uint32_t unit = k_unit(problem.dtype, config.core_config({0, 0}));
    for (uint32_t k_chunk = 128;; k_chunk /= 2) {
      try {
        return make(k_chunk, false);
      } catch (const std::invalid_argument&) {
        if (k_chunk / 2 < unit) throw;
      }
    }
  }

  EstimateSteps estimate(const EstimateModel& e, const MeshMatmulPlan& plan) const override {
    // On the rings of 1d and 1d-cols neighbours are up to two snake positions apart.
    EstimateSteps t;
    for (uint32_t s = 0; s < plan.steps; ++s) {
      const double k = plan.k_padded[s];
      t.compute.push_back(e.multiply(e.block_m, e.block_n, k));
      const double a = e.ring_cycles(e.block_m * k * e.elem, plan.grid_cols, plan.pieces,
                                     grid_ == Grid::Cols ? 2 * e.hop : e.hop);
      const double b = e.ring_cycles(k * e.block_n * e.elem, plan.grid_rows, plan.pieces,
                                     grid_ == Grid::Rows ? 2 * e.hop : e.hop);
      // From host memory the owners first pull the step's chunks, all from DIP 0, then ring.
      double pull = 0;
      if (plan.operands_in_host) {
        const hw::DipParams dip = hw::host_params(e.config).front();
        const double bytes = (plan.grid_rows * e.block_m + plan.grid_cols * e.block_n) * k * e.elem;
        pull = double(dip.latency) +
               bytes / std::min(dip.hbm_bytes_per_cycle, dip.link_bytes_per_cycle);
      }
      t.move.push_back(pull + std::max(a, b));
      t.link_bytes += std::max(plan.grid_cols > 1 ? e.block_m * k * e.elem : 0.0,
                               plan.grid_rows > 1 ? k * e.block_n * e.elem : 0.0);
    }
    return t;
  }

  float reference(const ReferenceInputs& in, uint32_t i, uint32_t j, float acc) const override {
    for (size_t t = 0; t + 1 < in.plan.k_start.size(); ++t) acc = in.over_range(t, i, j, acc);
    return acc;
  }

 private:
  Grid grid_;
};

}  // namespace

const Mapping& summa_mapping() {
  static const SummaFamily m(Grid::Summa);
  return m;
}
const Mapping& one_d_mapping() {
  static const SummaFamily m(Grid::Rows);
  return m;
}
const Mapping& one_d_cols_mapping() {
  static const SummaFamily m(Grid::Cols);
  return m;
}

}  // namespace dojosim::runtime::mesh
