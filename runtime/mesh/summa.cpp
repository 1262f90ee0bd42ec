// SPDX-License-Identifier: MIT
// Mappings summa and 1d (mesh_matmul.h): one program. Every grid node owns a block of C; chunk
// s of A travels east around its grid row and chunk s of B south around its grid column, from
// their owners, while the previous chunk is multiplied. 1d is the same program on a P x 1 grid
// whose "column" is a ring of all nodes: A never moves (each node owns all of its rows' K).
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "hw/config/machine_params.h"
#include "hw/node/node.h"
#include "runtime/layout.h"
#include "runtime/matmul_kernel.h"
#include "runtime/mesh/common.h"

namespace dojosim::runtime::mesh {
namespace {

constexpr unsigned kThreads = 3;      // 0 multiplies; 1 and 2 move A's and B's chunks
constexpr unsigned kSummaPieces = 4;  // a chunk travels in pieces: forwarding overlaps arrival
// On 1d's long ring a piece's store-and-forward per hop dominates: smaller pieces, at least
// this many bytes so a piece's push and wait stay cheap against its transfer.
constexpr uint64_t kRingPieceBytes = 1024;
constexpr uint64_t kStackBytes = 8 * 1024;
constexpr unsigned kSemA = 1, kSemB = 2;

// The per-node argument block the host writes at the program's `args` label; the offsets are
// the .equ names of the program below.
enum Arg : unsigned {
  kMember,
  kCol,
  kRow,
  kEastBase,
  kSouthBase,
  kRowBlocks,
  kColBlocks,
  kKFull,
  kKLast,
  kABytesFull,
  kABytesLast,
  kBBytesFull,
  kBBytesLast,
  kOwnedA,
  kOwnedB,
  kC,
  kBufA0,
  kBufA1,
  kBufB0,
  kBufB1,
  kBias,
  kHostA,  // host global address of this node's A chunks (its row's), 0: they are in SRAM
  kHostB,  // of its B chunks (its column's)
  kArgCount
};
constexpr const char* kArgNames[] = {"MEMBER", "COL",   "ROW",   "EAST",  "SOUTH", "RBLK",  "CBLK",
                                     "KFULL",  "KLAST", "ABF",   "ABL",   "BBF",   "BBL",   "OWNA",
                                     "OWNB",   "CBUF",  "BUFA0", "BUFA1", "BUFB0", "BUFB1", "BIAS",
                                     "HOSTA",  "HOSTB"};
static_assert(std::size(kArgNames) == kArgCount);

// A mover thread's loop for operand X: put X's chunk s in place on every grid node, then
// barrier s. `count` holds the ring's length, COORD and NEXT name the argument words of this
// node's position along the ring and of the next node's global base.
std::string mover_asm(char X, int thread, const char* dir, const char* line, const char* count, const char* coord,
                      const char* COORD, const char* NEXT) {
  return fmt::format(R"(# ---- thread {thread}: put {X}'s chunk s in place on every grid node, then barrier s. The chunk
# travels {dir} around the grid {line}, from its owner, in PIECES pieces so that a node
# forwards one piece while the next is still arriving.
mover_{X}:
    beqz    s5, 8f
    andi    s6, s0, 1
    slli    s6, s6, 3
    add     s6, s6, s1
    ld      a0, BUF{X}0(s6)         # this step's buffer
    addi    t0, s0, 1
    ld      a2, {X}BF(s1)
    bltu    t0, s4, 1f
    ld      a2, {X}BL(s1)            # the last step's chunk is the short one
1:  li      t0, PIECES1
    add     a2, a2, t0
    li      t0, PIECES
    divu    a2, a2, t0
    addi    a2, a2, 63
    andi    a2, a2, -64              # piece size: a 64-byte multiple
    remu    t0, s0, {count}          # the owner's grid {coord}
    ld      t1, {COORD}(s1)
    addi    t2, t1, 1
    remu    t2, t2, {count}          # the next node's
    sub     s8, t2, t0               # 0: the next node is the owner: the chunk went round
    ld      t3, {NEXT}(s1)
    or      a1, t3, a0               # the same buffer at the next node
    bne     t0, t1, 3f
    ld      t3, HOST{X}(s1)
    beqz    t3, 6f
    ld      t4, {X}BF(s1)            # in host memory: the owner pulls chunk s into its buffer
    mul     t4, t4, s0
    add     t3, t3, t4               # chunk s is at HOST + s x (full chunk bytes)
    ld      t5, {X}BF(s1)
    addi    t6, s0, 1
    bltu    t6, s4, 7f
    ld      t5, {X}BL(s1)
7:  pull    a0, t3, t5, SEM{X}
    li      t4, 1
    swait   SEM{X}, t4
    j       9f
6:  divu    t3, s0, {count}          # the owner sends its own copy
    ld      t4, {X}BF(s1)
    mul     t3, t3, t4
    ld      a0, OWN{X}(s1)
    add     a0, a0, t3
9:  beqz    s8, 8f
    li      s9, PIECES
2:  push    a1, a0, a2, SEM{X}
    add     a0, a0, a2
    add     a1, a1, a2
    addi    s9, s9, -1
    bnez    s9, 2b
    j       8f
3:  li      s9, PIECES
    li      t3, 1
4:  swait   SEM{X}, t3
    beqz    s8, 5f
    push    a1, a0, a2, SEM{X}
5:  add     a0, a0, a2
    add     a1, a1, a2
    addi    s9, s9, -1
    bnez    s9, 4b
8:  barrier 0
    addi    s0, s0, 1
    bltu    s0, s4, mover_{X}
    j       exit

)", fmt::arg("X", X), fmt::arg("thread", thread), fmt::arg("dir", dir),
                     fmt::arg("line", line), fmt::arg("count", count), fmt::arg("coord", coord),
                     fmt::arg("COORD", COORD), fmt::arg("NEXT", NEXT));
}

// The SPMD program: both threads, and the two kernel routines (first step, later steps).
std::string program_text(const MatmulSpec& first, const MatmulSpec& rest,
                         const isa::CoreConfig& core, const MeshMatmulPlan& plan) {
  std::string s = arg_equs(kArgNames, kArgCount);
  s += fmt::format("    .equ G, {}\n    .equ R, {}\n    .equ S, {}\n", plan.grid_cols,
                   plan.grid_rows, plan.steps);
  s += fmt::format("    .equ SEMA, {}\n    .equ SEMB, {}\n", kSemA, kSemB);
  s += fmt::format("    .equ PIECES, {}\n    .equ PIECES1, {}\n", plan.pieces, plan.pieces - 1);
  s += R"(
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

# ---- thread 0: after barrier s, chunk s is in place on every node: multiply it
compute:
    barrier 0
    beqz    s5, 9f
    remu    t0, s0, s2              # grid column that owns A's chunk s
    ld      t1, COL(s1)
    andi    t2, s0, 1
    slli    t2, t2, 3
    add     t2, t2, s1
    ld      a0, BUFA0(t2)           # the chunk's buffer ...
    bne     t0, t1, 1f
    ld      t3, HOSTA(s1)
    bnez    t3, 1f                  # (from host memory the owner pulls into the buffer too)
    divu    t0, s0, s2              # ... or the owner's own copy
    ld      t1, ABF(s1)
    mul     t0, t0, t1
    ld      a0, OWNA(s1)
    add     a0, a0, t0
1:  remu    t0, s0, s3              # grid row that owns B's chunk s
    ld      t1, ROW(s1)
    ld      a1, BUFB0(t2)
    bne     t0, t1, 2f
    ld      t3, HOSTB(s1)
    bnez    t3, 2f
    divu    t0, s0, s3
    ld      t1, BBF(s1)
    mul     t0, t0, t1
    ld      a1, OWNB(s1)
    add     a1, a1, t0
2:  ld      a2, CBUF(s1)
    ld      a3, BIAS(s1)
    ld      a4, RBLK(s1)
    ld      a5, CBLK(s1)
    ld      a6, KFULL(s1)
    addi    t0, s0, 1
    bne     t0, s4, 3f
    ld      a6, KLAST(s1)
3:  bnez    s0, 4f
    call    matmul_first
    j       9f
4:  call    matmul_rest
9:  addi    s0, s0, 1
    bltu    s0, s4, compute
    j       exit

)";
  s += mover_asm('A', 1, "east", "row", "s2", "column", "COL", "EAST");
  s += mover_asm('B', 2, "south", "column", "s3", "row", "ROW", "SOUTH");
  return s + program_tail(first, &rest, core, kArgCount);
}

struct NodePlan {
  MatmulLayout full, last;
  uint64_t owned_a_bytes = 0, owned_b_bytes = 0;
};

// Everything a run needs, computed once by plan_summa() and run_summa().
struct Build {
  MeshMatmulPlan plan;
  NodeProgram program;
  std::vector<NodePlan> nodes;  // per grid node, as plan.nodes
  uint64_t a0 = 0, a1 = 0, b0 = 0, b1 = 0, c = 0, bias = 0, owned_a = 0, owned_b = 0;
  // With operands in host memory: where each grid row's A chunks and each column's B chunks
  // start (host addresses; chunk s at + s x full chunk bytes).
  std::vector<uint64_t> host_a, host_b;
};

Build build(const hw::HardwareConfig& config, DType dtype, MatmulShape shape, MatmulMapping mapping,
            uint32_t k_chunk, MatmulInit init, const isa::Cfp8Format& cfp8, bool host) {
  Build b;
  MeshMatmulPlan& plan = b.plan;
  plan.mapping = mapping;
  plan.operands_in_host = host;
  const isa::CoreConfig core = config.core_config({0, 0});
  if (mapping == MatmulMapping::Summa) {
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
    const bool rows = mapping == MatmulMapping::OneD;
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
  b.nodes.resize(size_t{R} * G);
  uint64_t buf_a = 0, buf_b = 0, c_bytes = 0, bias_bytes = 0, own_a = 0, own_b = 0;
  for (uint32_t i = 0; i < R; ++i)
    for (uint32_t j = 0; j < G; ++j) {
      NodePlan& n = b.nodes[size_t{i} * G + j];
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
  if (mapping == MatmulMapping::OneD) {
    buf_a = 0;  // A never travels
    plan.pieces = static_cast<uint32_t>(std::max<uint64_t>(kSummaPieces, buf_b / kRingPieceBytes));
  } else if (mapping == MatmulMapping::OneDCols) {
    buf_b = 0;  // B never travels
    plan.pieces = static_cast<uint32_t>(std::max<uint64_t>(kSummaPieces, buf_a / kRingPieceBytes));
  }

  MatmulSpec first{dtype, init == MatmulInit::Bias ? MatmulInit::Bias : MatmulInit::Zero, false,
                   cfp8};
  MatmulSpec rest{dtype, MatmulInit::Accumulate, false, cfp8};
  b.program = assemble_program(program_text(first, rest, core, plan),
                               std::string(mapping_name(mapping)) + ".s");
  // The same addresses on every node: a forwarded chunk lands where the sender keeps its own.
  SramMap map{align(b.program.end, 64)};
  // Pieces are whole 64-byte multiples: the last may run up to 64 bytes per piece past a chunk.
  const uint64_t slack = 64 * plan.pieces;
  b.a0 = map.take(buf_a ? buf_a + slack : 0), b.a1 = map.take(buf_a ? buf_a + slack : 0);
  b.b0 = map.take(buf_b + slack), b.b1 = map.take(buf_b + slack);
  b.c = map.take(c_bytes), b.bias = map.take(bias_bytes);
  if (host) {
    own_a = own_b = 0;  // owners pull their chunks from host memory into the buffers
    uint64_t at = 0;
    for (uint32_t i = 0; i < R; ++i) b.host_a.push_back(at), at = align(at + uint64_t{S} * b.nodes[size_t{i} * G].full.a.bytes(), 64);
    for (uint32_t j = 0; j < G; ++j) b.host_b.push_back(at), at = align(at + uint64_t{S} * b.nodes[j].full.b.bytes(), 64);
    const std::vector<hw::DipParams> dips = hw::host_params(config);
    if (dips.empty() || at > dips.front().capacity)
      throw std::invalid_argument(fmt::format(
          "matmul {}x{}x{} {}: operands in host memory need {} bytes in one DIP, and this machine has {}",
          shape.m, shape.n, shape.k, dtype_name(dtype), at,
          dips.empty() ? std::string("no DIP (tile.host.edges)") : fmt::format("{} bytes per DIP", dips.front().capacity)));
  }
  b.owned_a = map.take(own_a ? own_a + slack : 0), b.owned_b = map.take(own_b ? own_b + slack : 0);
  plan.sram_high_water = map.at;
  check_sram(config, dtype, shape, plan, kThreads, kStackBytes,
             mapping == MatmulMapping::Summa
                 ? (host ? "A and B chunks twice, its C block" : "A and B chunks twice, its C block, its own chunks")
                 : mapping == MatmulMapping::OneD ? "B chunks twice, its C rows, its A rows, its own B chunks"
                                                  : "A chunks twice, its C columns, its B columns, its own A chunks");
  return b;
}

// The default K chunk is 128; 1d halves it (to the k unit) until its B chunks fit in SRAM.
// summa's operands go to host memory when asked, or (auto) when they do not fit in SRAM.
Build build_fitting(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                    const MeshMatmulOptions& options, MatmulInit init) {
  const bool summa = options.mapping == MatmulMapping::Summa;  // plan_matmul refused host for 1d
  const bool ring = options.mapping == MatmulMapping::OneD || options.mapping == MatmulMapping::OneDCols;
  if (options.k_chunk || !ring) {
    const uint32_t k_chunk = options.k_chunk ? options.k_chunk : 128;
    if (options.placement != OperandPlacement::Auto || !summa)
      return build(config, dtype, shape, options.mapping, k_chunk, init, options.cfp8,
                   options.placement == OperandPlacement::Host);
    try {
      return build(config, dtype, shape, options.mapping, k_chunk, init, options.cfp8, false);
    } catch (const std::invalid_argument&) {
      if (hw::host_params(config).empty()) throw;
      return build(config, dtype, shape, options.mapping, k_chunk, init, options.cfp8, true);
    }
  }
  const uint32_t unit = k_unit(dtype, config.core_config({0, 0}));
  for (uint32_t k_chunk = 128;; k_chunk /= 2) {
    try {
      return build(config, dtype, shape, options.mapping, k_chunk, init, options.cfp8, false);
    } catch (const std::invalid_argument&) {
      if (k_chunk / 2 < unit) throw;
    }
  }
}

}  // namespace

MeshMatmulPlan plan_summa(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                          const MeshMatmulOptions& options) {
  return build_fitting(config, dtype, shape, options, MatmulInit::Zero).plan;
}

void run_summa(const hw::HardwareConfig& config, DType dtype, const MatmulOperands& ops,
               MatmulInit init, const MeshMatmulOptions& options, MeshMatmulResult& result) {
  const MatmulShape shape = operand_shape(init, ops);
  const Build b = build_fitting(config, dtype, shape, options, init);
  const MeshMatmulPlan& plan = result.plan = b.plan;
  const uint32_t R = plan.grid_rows, G = plan.grid_cols, S = plan.steps;

  hw::Machine machine(machine_params_for(config, kThreads, kStackBytes));
  if (options.progress) machine.set_progress(options.progress);
  machine.load(b.program.program);
  for (uint32_t i = 0; i < R; ++i)
    for (uint32_t j = 0; j < G; ++j) {
      const NodePlan& n = b.nodes[size_t{i} * G + j];
      hw::NodeModule* node = machine.node(plan.nodes[size_t{i} * G + j]);
      const uint32_t r0 = plan.row_start[i], r1 = plan.row_start[i + 1];
      const uint32_t c0 = plan.col_start[j], c1 = plan.col_start[j + 1];
      uint64_t args[kArgCount] = {};
      args[kMember] = 1, args[kCol] = j, args[kRow] = i;
      args[kEastBase] = global_base(plan.nodes[size_t{i} * G + (j + 1) % G]);
      args[kSouthBase] = global_base(plan.nodes[size_t{(i + 1) % R} * G + j]);
      args[kRowBlocks] = n.full.row_blocks, args[kColBlocks] = n.full.col_blocks;
      args[kKFull] = n.full.k_iterations, args[kKLast] = n.last.k_iterations;
      args[kABytesFull] = n.full.a.bytes(), args[kABytesLast] = n.last.a.bytes();
      args[kBBytesFull] = n.full.b.bytes(), args[kBBytesLast] = n.last.b.bytes();
      args[kOwnedA] = b.owned_a, args[kOwnedB] = b.owned_b, args[kC] = b.c;
      args[kBufA0] = b.a0, args[kBufA1] = b.a1, args[kBufB0] = b.b0, args[kBufB1] = b.b1,
      args[kBias] = b.bias;
      const uint64_t host_bit = uint64_t{1} << 63;
      if (plan.operands_in_host) args[kHostA] = host_bit | b.host_a[i], args[kHostB] = host_bit | b.host_b[j];
      node->sram().write(b.program.args, args, sizeof args);
      // Chunks this node owns: A's s = j, j + G, ... of its row block; B's s = i, i + R, ...
      for (uint32_t s = j, t = 0; s < S; s += G, ++t) {
        const Matrix part = ops.a.block(r0, r1, plan.k_start[s], plan.k_start[s + 1]);
        const std::vector<uint8_t> bytes =
            pack(part, s + 1 == S ? n.last.a : n.full.a, options.cfp8);
        if (!plan.operands_in_host)
          node->sram().write(b.owned_a + t * n.full.a.bytes(), bytes.data(), bytes.size());
        else  // the row's chunk s, packed once by its owner
          machine.host().write(b.host_a[i] + uint64_t{s} * n.full.a.bytes(), bytes.data(), bytes.size());
      }
      for (uint32_t s = i, t = 0; s < S; s += R, ++t) {
        const Matrix part = ops.b.block(plan.k_start[s], plan.k_start[s + 1], c0, c1);
        const std::vector<uint8_t> bytes =
            pack(part, s + 1 == S ? n.last.b : n.full.b, options.cfp8);
        if (!plan.operands_in_host)
          node->sram().write(b.owned_b + t * n.full.b.bytes(), bytes.data(), bytes.size());
        else
          machine.host().write(b.host_b[j] + uint64_t{s} * n.full.b.bytes(), bytes.data(), bytes.size());
      }
      if (init == MatmulInit::Bias) {
        const std::vector<float> bias(ops.bias.begin() + c0, ops.bias.begin() + c1);
        const std::vector<uint8_t> bytes = pack_bias(bias, n.full);
        node->sram().write(b.bias, bytes.data(), bytes.size());
      }
    }

  std::vector<TiledLayout> c_layouts;
  for (const NodePlan& n : b.nodes) c_layouts.push_back(n.full.c);
  run_and_collect(machine, config, dtype, shape, c_layouts, b.c, result);
}

}  // namespace dojosim::runtime::mesh
