// SPDX-License-Identifier: MIT
#include "runtime/mesh/mesh_matmul.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "hw/config/derived.h"
#include "hw/config/machine_params.h"
#include "hw/machine/machine.h"
#include "hw/node/node.h"
#include "hw/stats/stats.h"
#include "isa/assembler.h"
#include "runtime/layout.h"
#include "runtime/matmul_kernel.h"

namespace dojosim::runtime {
namespace {

constexpr unsigned kThreads = 3;  // 0 multiplies; 1 and 2 move A's and B's chunks
constexpr unsigned kPieces = 4;   // a chunk travels in pieces: forwarding overlaps arrival
constexpr uint64_t kStackBytes = 8 * 1024;
constexpr unsigned kSemA = 1, kSemB = 2;

// The per-node argument block the host writes at the program's `args` label; the offsets are
// the .equ names of the program below.
enum Arg : unsigned {
  kMember, kCol, kRow, kEastBase, kSouthBase, kRowBlocks, kColBlocks, kKFull, kKLast,
  kABytesFull, kABytesLast, kBBytesFull, kBBytesLast, kOwnedA, kOwnedB, kC, kBufA0, kBufA1,
  kBufB0, kBufB1, kBias, kArgCount
};
constexpr const char* kArgNames[] = {
    "MEMBER", "COL", "ROW", "EAST", "SOUTH", "RBLK", "CBLK", "KFULL", "KLAST", "ABF", "ABL",
    "BBF", "BBL", "OWNA", "OWNB", "CBUF", "BUFA0", "BUFA1", "BUFB0", "BUFB1", "BIAS"};
static_assert(std::size(kArgNames) == kArgCount);

uint32_t round_up(uint32_t v, uint32_t to) { return (v + to - 1) / to * to; }
uint64_t align(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

// Splits `total` into `parts` nearly equal pieces: part p starts at result[p].
std::vector<uint32_t> split(uint32_t total, uint32_t parts) {
  std::vector<uint32_t> start(parts + 1);
  for (uint32_t p = 0; p <= parts; ++p) start[p] = static_cast<uint32_t>(uint64_t{total} * p / parts);
  return start;
}

// The SPMD program: both threads, and the two kernel routines (first step, later steps).
std::string program_text(const MatmulSpec& first, const MatmulSpec& rest, const isa::CoreConfig& core,
                         const MeshMatmulPlan& plan) {
  std::string s;
  for (unsigned a = 0; a < kArgCount; ++a) s += fmt::format("    .equ {}, {}\n", kArgNames[a], 8 * a);
  s += fmt::format("    .equ G, {}\n    .equ R, {}\n    .equ S, {}\n", plan.grid_cols, plan.grid_rows, plan.steps);
  s += fmt::format("    .equ SEMA, {}\n    .equ SEMB, {}\n", kSemA, kSemB);
  s += fmt::format("    .equ PIECES, {}\n    .equ PIECES1, {}\n", kPieces, kPieces - 1);
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
    divu    t0, s0, s2              # ... or the owner's own copy
    ld      t1, ABF(s1)
    mul     t0, t0, t1
    ld      a0, OWNA(s1)
    add     a0, a0, t0
1:  remu    t0, s0, s3              # grid row that owns B's chunk s
    ld      t1, ROW(s1)
    ld      a1, BUFB0(t2)
    bne     t0, t1, 2f
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

# ---- thread 1: put A's chunk s in place on every grid node, then barrier s. The chunk
# travels east around the grid row, from its owner, in PIECES pieces so that a node
# forwards one piece while the next is still arriving.
mover_A:
    beqz    s5, 8f
    andi    s6, s0, 1
    slli    s6, s6, 3
    add     s6, s6, s1
    ld      a0, BUFA0(s6)         # this step's buffer
    addi    t0, s0, 1
    ld      a2, ABF(s1)
    bltu    t0, s4, 1f
    ld      a2, ABL(s1)            # the last step's chunk is the short one
1:  addi    a2, a2, PIECES1
    li      t0, PIECES
    divu    a2, a2, t0
    addi    a2, a2, 63
    andi    a2, a2, -64              # piece size: a 64-byte multiple
    remu    t0, s0, s2          # the owner's grid column
    ld      t1, COL(s1)
    addi    t2, t1, 1
    remu    t2, t2, s2          # the next node's
    sub     s8, t2, t0               # 0: the next node is the owner: the chunk went round
    ld      t3, EAST(s1)
    or      a1, t3, a0               # the same buffer at the next node
    bne     t0, t1, 3f
    divu    t3, s0, s2          # the owner sends its own copy
    ld      t4, ABF(s1)
    mul     t3, t3, t4
    ld      a0, OWNA(s1)
    add     a0, a0, t3
    beqz    s8, 8f
    li      s9, PIECES
2:  push    a1, a0, a2, SEMA
    add     a0, a0, a2
    add     a1, a1, a2
    addi    s9, s9, -1
    bnez    s9, 2b
    j       8f
3:  li      s9, PIECES
    li      t3, 1
4:  swait   SEMA, t3
    beqz    s8, 5f
    push    a1, a0, a2, SEMA
5:  add     a0, a0, a2
    add     a1, a1, a2
    addi    s9, s9, -1
    bnez    s9, 4b
8:  barrier 0
    addi    s0, s0, 1
    bltu    s0, s4, mover_A
    j       exit

# ---- thread 2: put B's chunk s in place on every grid node, then barrier s. The chunk
# travels south around the grid column, from its owner, in PIECES pieces so that a node
# forwards one piece while the next is still arriving.
mover_B:
    beqz    s5, 8f
    andi    s6, s0, 1
    slli    s6, s6, 3
    add     s6, s6, s1
    ld      a0, BUFB0(s6)         # this step's buffer
    addi    t0, s0, 1
    ld      a2, BBF(s1)
    bltu    t0, s4, 1f
    ld      a2, BBL(s1)            # the last step's chunk is the short one
1:  addi    a2, a2, PIECES1
    li      t0, PIECES
    divu    a2, a2, t0
    addi    a2, a2, 63
    andi    a2, a2, -64              # piece size: a 64-byte multiple
    remu    t0, s0, s3          # the owner's grid row
    ld      t1, ROW(s1)
    addi    t2, t1, 1
    remu    t2, t2, s3          # the next node's
    sub     s8, t2, t0               # 0: the next node is the owner: the chunk went round
    ld      t3, SOUTH(s1)
    or      a1, t3, a0               # the same buffer at the next node
    bne     t0, t1, 3f
    divu    t3, s0, s3          # the owner sends its own copy
    ld      t4, BBF(s1)
    mul     t3, t3, t4
    ld      a0, OWNB(s1)
    add     a0, a0, t3
    beqz    s8, 8f
    li      s9, PIECES
2:  push    a1, a0, a2, SEMB
    add     a0, a0, a2
    add     a1, a1, a2
    addi    s9, s9, -1
    bnez    s9, 2b
    j       8f
3:  li      s9, PIECES
    li      t3, 1
4:  swait   SEMB, t3
    beqz    s8, 5f
    push    a1, a0, a2, SEMB
5:  add     a0, a0, a2
    add     a1, a1, a2
    addi    s9, s9, -1
    bnez    s9, 4b
8:  barrier 0
    addi    s0, s0, 1
    bltu    s0, s4, mover_B
    j       exit

exit:
    li      a0, 0
    li      a7, 93
    ecall
)";
  s += matmul_routine_asm(first, core, "matmul_first");
  s += matmul_routine_asm(rest, core, "matmul_rest");
  s += "\n    .data\n    .align 3\nargs:\n    .space " + std::to_string(8 * kArgCount) + "\n";
  return s;
}

// Mesh rows with no disabled node, and all columns: the grid SUMMA runs on.
void choose_grid(const hw::HardwareConfig& config, MeshMatmulPlan& plan) {
  const int w = static_cast<int>(config.mesh_width()), h = static_cast<int>(config.mesh_height());
  for (int y = 0; y < h; ++y) {
    bool full = true;
    for (int x = 0; x < w && full; ++x) full = !config.is_disabled({x, y});
    if (full) plan.mesh_y.push_back(y);
  }
  if (plan.mesh_y.empty()) throw std::invalid_argument("matmul: the mesh has no row without a disabled node");
  for (int x = 0; x < w; ++x) plan.mesh_x.push_back(x);
}

struct NodePlan {
  MatmulLayout full, last;
  uint64_t owned_a_bytes = 0, owned_b_bytes = 0;
};

}  // namespace

std::string_view mapping_name(MatmulMapping m) {
  switch (m) {
    case MatmulMapping::Summa: return "summa";
  }
  return "?";
}

MatmulMapping parse_mapping(const std::string& name) {
  if (name == "summa") return MatmulMapping::Summa;
  throw std::invalid_argument(fmt::format("mapping '{}': expected summa", name));
}

MeshMatmulPlan plan_matmul(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                           const MeshMatmulOptions& options) {
  if (shape.m == 0 || shape.n == 0 || shape.k == 0)
    throw std::invalid_argument(fmt::format("matmul {}x{}x{}: every dimension must be at least 1", shape.m, shape.n, shape.k));
  MeshMatmulPlan plan;
  choose_grid(config, plan);
  // No grid row or column without work.
  plan.grid_rows = std::min<uint32_t>(static_cast<uint32_t>(plan.mesh_y.size()), shape.m);
  plan.grid_cols = std::min<uint32_t>(static_cast<uint32_t>(plan.mesh_x.size()), shape.n);
  plan.mesh_y.resize(plan.grid_rows);
  plan.mesh_x.resize(plan.grid_cols);
  plan.row_start = split(shape.m, plan.grid_rows);
  plan.col_start = split(shape.n, plan.grid_cols);
  const isa::CoreConfig core = config.core_config({0, 0});
  const uint32_t k_unit = matmul_layout(dtype, {1, 1, 1}, core).a.cols;  // the kernel's k padding
  plan.k_chunk = round_up(std::min(shape.k, options.k_chunk ? options.k_chunk : 128u), k_unit);
  plan.steps = (shape.k + plan.k_chunk - 1) / plan.k_chunk;
  const uint32_t k_last = shape.k - (plan.steps - 1) * plan.k_chunk;
  plan.padded_k = (plan.steps - 1) * plan.k_chunk + round_up(k_last, k_unit);
  return plan;
}

MeshMatmulResult run_matmul(const hw::HardwareConfig& config, DType dtype, const MatmulOperands& ops,
                            MatmulInit init, const MeshMatmulOptions& options) {
  if (init == MatmulInit::Accumulate)
    throw std::invalid_argument("matmul on the mesh: init must be zero or bias (accumulate is for node blocks)");
  const MatmulShape shape = operand_shape(init, ops);
  MeshMatmulResult result;
  MeshMatmulPlan& plan = result.plan = plan_matmul(config, dtype, shape, options);
  const uint32_t R = plan.grid_rows, G = plan.grid_cols, S = plan.steps;
  const uint32_t k_last = shape.k - (S - 1) * plan.k_chunk;

  hw::MachineParams params = hw::machine_params(config);
  params.threads = kThreads;
  params.stack_bytes = kStackBytes;
  const isa::CoreConfig& core = params.core;

  MatmulSpec first{dtype, init == MatmulInit::Bias ? MatmulInit::Bias : MatmulInit::Zero, false, options.cfp8};
  MatmulSpec rest{dtype, MatmulInit::Accumulate, false, options.cfp8};
  const isa::Program program = isa::assemble(program_text(first, rest, core, plan), "summa.s");
  uint64_t program_end = 0;
  for (const isa::Segment& seg : program.segments)
    program_end = std::max(program_end, seg.address + seg.bytes.size() + seg.zero_fill);
  const auto args_sym = program.symbols.find("args");
  if (args_sym == program.symbols.end()) throw std::logic_error("summa program without args");
  const uint64_t args_addr = args_sym->second;

  // Layouts and SRAM maps per grid node; every node of a grid row shares A's layouts and every
  // node of a column B's, so a chunk forwarded verbatim fits its next node.
  std::vector<NodePlan> nodes(size_t{R} * G);
  uint64_t buf_a = 0, buf_b = 0, c_bytes = 0, bias_bytes = 0, own_a = 0, own_b = 0;
  for (uint32_t i = 0; i < R; ++i)
    for (uint32_t j = 0; j < G; ++j) {
      NodePlan& n = nodes[size_t{i} * G + j];
      const uint32_t m = plan.row_start[i + 1] - plan.row_start[i], nn = plan.col_start[j + 1] - plan.col_start[j];
      n.full = matmul_layout(dtype, {m, nn, plan.k_chunk}, core);
      n.last = matmul_layout(dtype, {m, nn, k_last}, core);
      const uint32_t owned_a = (S + G - 1 - j) / G, owned_b = (S + R - 1 - i) / R;  // chunks s = j, j+G, ...
      n.owned_a_bytes = owned_a * n.full.a.bytes();
      n.owned_b_bytes = owned_b * n.full.b.bytes();
      buf_a = std::max(buf_a, n.full.a.bytes());
      buf_b = std::max(buf_b, n.full.b.bytes());
      c_bytes = std::max(c_bytes, n.full.c.bytes());
      bias_bytes = std::max(bias_bytes, n.full.bias.bytes());
      own_a = std::max(own_a, n.owned_a_bytes);
      own_b = std::max(own_b, n.owned_b_bytes);
    }
  // The same addresses on every node: a forwarded chunk lands where the sender keeps its own.
  uint64_t at = align(program_end, 64);
  const auto take = [&](uint64_t bytes) { const uint64_t a = at; at = align(at + bytes, 64); return a; };
  // Pieces are whole 64-byte multiples: the last may run up to 64 bytes per piece past a chunk.
  const uint64_t slack = 64 * kPieces;
  const uint64_t a0 = take(buf_a + slack), a1 = take(buf_a + slack), b0 = take(buf_b + slack), b1 = take(buf_b + slack);
  const uint64_t c_addr = take(c_bytes), bias_addr = take(bias_bytes);
  const uint64_t owned_a_addr = take(own_a + slack), owned_b_addr = take(own_b + slack);
  plan.sram_high_water = at;
  const uint64_t limit = core.sram_bytes - kThreads * kStackBytes;
  if (at > limit)
    throw std::invalid_argument(fmt::format(
        "matmul {}x{}x{} {}: each node of the {}x{} grid needs {} bytes of SRAM (A and B chunks "
        "twice, its C block, its own chunks) but has {} below the stacks; operands this large "
        "must stream through host memory, which this mapping does not do yet",
        shape.m, shape.n, shape.k, dtype_name(dtype), R, G, at, limit));

  hw::Machine machine(params);
  machine.load(program);
  const auto global_base = [](int x, int y) { return uint64_t(uint32_t(x)) << 48 | uint64_t(uint32_t(y)) << 32; };
  for (uint32_t i = 0; i < R; ++i)
    for (uint32_t j = 0; j < G; ++j) {
      const NodePlan& n = nodes[size_t{i} * G + j];
      hw::NodeModule* node = machine.node({plan.mesh_x[j], plan.mesh_y[i]});
      const uint32_t r0 = plan.row_start[i], r1 = plan.row_start[i + 1];
      const uint32_t c0 = plan.col_start[j], c1 = plan.col_start[j + 1];
      uint64_t args[kArgCount] = {};
      args[kMember] = 1, args[kCol] = j, args[kRow] = i;
      args[kEastBase] = global_base(plan.mesh_x[(j + 1) % G], plan.mesh_y[i]);
      args[kSouthBase] = global_base(plan.mesh_x[j], plan.mesh_y[(i + 1) % R]);
      args[kRowBlocks] = n.full.row_blocks, args[kColBlocks] = n.full.col_blocks;
      args[kKFull] = n.full.k_iterations, args[kKLast] = n.last.k_iterations;
      args[kABytesFull] = n.full.a.bytes(), args[kABytesLast] = n.last.a.bytes();
      args[kBBytesFull] = n.full.b.bytes(), args[kBBytesLast] = n.last.b.bytes();
      args[kOwnedA] = owned_a_addr, args[kOwnedB] = owned_b_addr, args[kC] = c_addr;
      args[kBufA0] = a0, args[kBufA1] = a1, args[kBufB0] = b0, args[kBufB1] = b1, args[kBias] = bias_addr;
      node->sram().write(args_addr, args, sizeof args);
      // Chunks this node owns: A's s = j, j + G, ... of its row block; B's s = i, i + R, ...
      for (uint32_t s = j, t = 0; s < S; s += G, ++t) {
        const uint32_t k0 = s * plan.k_chunk, k1 = std::min(shape.k, k0 + plan.k_chunk);
        Matrix part(r1 - r0, k1 - k0);
        for (uint32_t r = r0; r < r1; ++r)
          for (uint32_t k = k0; k < k1; ++k) part.at(r - r0, k - k0) = ops.a.at(r, k);
        const std::vector<uint8_t> bytes = pack(part, s + 1 == S ? n.last.a : n.full.a, options.cfp8);
        node->sram().write(owned_a_addr + t * n.full.a.bytes(), bytes.data(), bytes.size());
      }
      for (uint32_t s = i, t = 0; s < S; s += R, ++t) {
        const uint32_t k0 = s * plan.k_chunk, k1 = std::min(shape.k, k0 + plan.k_chunk);
        Matrix part(k1 - k0, c1 - c0);
        for (uint32_t k = k0; k < k1; ++k)
          for (uint32_t c = c0; c < c1; ++c) part.at(k - k0, c - c0) = ops.b.at(k, c);
        const std::vector<uint8_t> bytes = pack(part, s + 1 == S ? n.last.b : n.full.b, options.cfp8);
        node->sram().write(owned_b_addr + t * n.full.b.bytes(), bytes.data(), bytes.size());
      }
      if (init == MatmulInit::Bias) {
        const std::vector<float> bias(ops.bias.begin() + c0, ops.bias.begin() + c1);
        const std::vector<uint8_t> bytes = pack_bias(bias, n.full);
        node->sram().write(bias_addr, bytes.data(), bytes.size());
      }
    }

  const hw::MachineOutcome outcome = machine.run();
  result.ok = outcome == hw::MachineOutcome::Finished;
  result.outcome = result.ok ? "finished" : machine.message();
  result.cycles = machine.cycles();
  result.c = Matrix(shape.m, shape.n);
  if (result.ok) {
    std::vector<uint8_t> bytes;
    for (uint32_t i = 0; i < R; ++i)
      for (uint32_t j = 0; j < G; ++j) {
        const NodePlan& n = nodes[size_t{i} * G + j];
        const uint32_t r0 = plan.row_start[i], c0 = plan.col_start[j];
        const uint32_t rows = plan.row_start[i + 1] - r0, cols = plan.col_start[j + 1] - c0;
        bytes.resize(n.full.c.bytes());
        machine.node({plan.mesh_x[j], plan.mesh_y[i]})->sram().read(c_addr, bytes.data(), bytes.size());
        const Matrix block = unpack(bytes.data(), n.full.c, rows, cols);
        for (uint32_t r = 0; r < rows; ++r)
          for (uint32_t c = 0; c < cols; ++c) result.c.at(r0 + r, c0 + c) = block.at(r, c);
      }
  }

  // The report's figures, from the statistics tree (docs/outputs.md).
  const hw::StatsNode stats = hw::collect_stats(machine, config);
  result.seconds = stats.value("seconds");
  result.flop = 2.0 * shape.m * shape.n * shape.k;
  result.flop_per_s = result.seconds > 0 ? result.flop / result.seconds : 0;
  const hw::Precision precision = dtype == DType::Bf16 ? hw::Precision::Bf16 : dtype == DType::Cfp8 ? hw::Precision::Cfp8 : hw::Precision::Fp32;
  result.peak_flop_per_s = hw::peak_flops(config, precision, hw::Scale::Machine);
  for (uint32_t i = 0; i < R; ++i)
    for (uint32_t j = 0; j < G; ++j) {
      const isa::ThreadState& t = machine.node({plan.mesh_x[j], plan.mesh_y[i]})->core().thread(0);
      const auto stall = [&](isa::StallCause c) { return double(t.stalls[static_cast<size_t>(c)]); };
      const double cycles = double(machine.node({plan.mesh_x[j], plan.mesh_y[i]})->core().cycles(t));
      result.compute_cycles += double(t.issue_cycles) + stall(isa::StallCause::Dependency) +
                               stall(isa::StallCause::SramPort) + stall(isa::StallCause::UnitBusy);
      result.wait_data_cycles += stall(isa::StallCause::Semaphore);
      result.sync_cycles += stall(isa::StallCause::Barrier);
      result.dma_queue_cycles += stall(isa::StallCause::DmaQueue);
      result.total_cycles += cycles;
    }
  result.other_cycles = std::max(0.0, result.total_cycles - result.compute_cycles - result.wait_data_cycles -
                                          result.sync_cycles - result.dma_queue_cycles);
  for (const hw::StatsNode& die : stats.children) {
    if (const hw::Stat* s = die.find("mesh_link_bytes")) result.mesh_link_bytes += std::get<uint64_t>(s->value);
    if (const hw::Stat* s = die.find("die_edge_link_bytes")) result.die_edge_bytes += std::get<uint64_t>(s->value);
  }
  result.host_bytes = stats.counter("host_bytes_read") + stats.counter("host_bytes_written");
  return result;
}

}  // namespace dojosim::runtime
