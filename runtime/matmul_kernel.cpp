// SPDX-License-Identifier: MIT
// The matmul block kernel generator. Layouts, calling convention and schedule are described in
// docs/runtime-kernels.md; the comments here say why the code is as it is.
#include "runtime/matmul_kernel.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "isa/assembler.h"
#include "isa/node_runner.h"
#include "runtime/codegen.h"

namespace dojosim::runtime {
namespace {

using codegen::AsmWriter;
using codegen::imm12;
using codegen::op2;
using codegen::op2i;
using codegen::op3;
using codegen::ScalarQueue;
using codegen::XReg;

bool on_matrix_unit(DType t) {
  return t != DType::Fp32;
}

// The shape of the work: C is computed in blocks of R x Q tiles of tile_m x tile_n, k advances
// kstep elements per matrix (or SIMD) instruction and `unroll` steps per loop iteration.
struct Geometry {
  uint32_t vlen = 0, elem = 0;
  uint32_t tile_m = 0, tile_n = 0, kstep = 0;
  uint32_t R = 0, Q = 0, unroll = 0;
  uint32_t a_tile_rows = 0;  // rows of an A tile: one mma operand, or a whole fp32 block
  uint32_t block_m() const { return R * tile_m; }
  uint32_t block_n() const { return Q * tile_n; }
  uint32_t k_granule() const { return unroll * kstep; }
  uint32_t acc_bytes() const { return tile_m * tile_n * 4; }  // one C tile, fp32
  uint32_t c_block_bytes() const { return block_m() * block_n() * 4; }
  uint32_t bias_block_bytes() const { return tile_m * block_n() * 4; }
};

Geometry geometry(DType dtype, const isa::CoreConfig& config) {
  if (const std::string err = config.validate(); !err.empty())
    throw std::invalid_argument("matmul kernel: invalid core config: " + err);
  Geometry g;
  g.vlen = config.vlen_bytes;
  g.elem = element_bytes(dtype);
  if (on_matrix_unit(dtype)) {
    // 2 x 2 tiles per block: 4 loads feed 4 mma, and two blocks' worth of accumulators (8)
    // let one block's results be stored while the next one computes.
    g.tile_m = config.matrix_m;
    g.tile_n = config.matrix_n;
    g.kstep = config.matrix_k * (dtype == DType::Cfp8 ? 2 : 1);  // mma.cfp8 takes K' = 2K
    g.R = g.Q = 2;
    g.unroll = 4;
    g.a_tile_rows = g.tile_m;
    if (g.tile_m * g.kstep * g.elem != g.vlen || g.kstep * g.tile_n * g.elem != g.vlen)
      throw std::invalid_argument(fmt::format(
          "matmul kernel: matrix unit {}x{}x{} with {} B vector registers: the generator needs "
          "the {} A ({}x{}) and B ({}x{}) tiles to fill exactly one vector register",
          config.matrix_m, config.matrix_n, config.matrix_k, g.vlen, dtype_name(dtype), g.tile_m,
          g.kstep, g.kstep, g.tile_n));
    if (2 * g.R * g.Q > isa::kNumAccs || g.unroll < g.R * g.Q)
      throw std::logic_error("matmul kernel: blocking needs two halves of the accumulators");
  } else {
    // fp32 on the SIMD unit: C rows of vlen/4 lanes; 4 rows x 4 registers of accumulators,
    // each k adds 4 broadcast A values times 4 B registers (16 vfma).
    g.tile_m = 1;
    g.tile_n = g.vlen / 4;
    g.kstep = 1;
    g.R = 4;
    g.Q = 4;
    g.unroll = 2;
    g.a_tile_rows = g.R;
  }
  return g;
}

uint32_t round_up(uint32_t v, uint32_t to) {
  return (v + to - 1) / to * to;
}

// ---- registers ---------------------------------------------------------------------------
constexpr XReg t0{5}, t1{6}, t2{7}, t3{28}, t4{29}, t5{30}, t6{31};
constexpr XReg a0{10}, a1{11}, a2{12}, a3{13}, a4{14}, a5{15}, a6{16}, a7{17};
constexpr XReg s0{8}, s1{9}, s2{18}, s3{19}, s4{20}, s5{21}, s6{22}, s7{23};
constexpr XReg kSaved[] = {s0, s1, s2, s3, s4, s5, s6, s7};
constexpr int kFrameBytes = 64;  // the saved s registers; keeps sp 16-byte aligned

void emit_entry(AsmWriter& w, const std::string& label) {
  w.raw("    .text");
  w.label(label);
  w.op("addi sp, sp, -{}", kFrameBytes);
  for (int i = 0; i < 8; ++i) w.op("sd {}, {}(sp)", kSaved[i].name(), 8 * i);
}

void emit_return(AsmWriter& w) {
  for (int i = 0; i < 8; ++i) w.op("ld {}, {}(sp)", kSaved[i].name(), 8 * i);
  w.op("addi sp, sp, {}", kFrameBytes);
  w.op("ret");
}

// bf16 copy of C: fp32 bytes [src, end) to bf16 at dst. Chunks of 8 registers alternate
// between two register sets, so that one chunk converts while the next loads and the one before
// is stored: the SIMD unit (one conversion per cycle) is the bound. Clobbers src, dst and tmp.
void emit_bf16_conversion(AsmWriter& w, const Geometry& g, const std::string& label, XReg src,
                          XReg end, XReg dst, XReg tmp) {
  constexpr uint32_t kIn = 8;           // fp32 registers per chunk
  const uint32_t chunk = kIn * g.vlen;  // bytes of C per chunk
  if (g.c_block_bytes() % (2 * chunk))
    throw std::invalid_argument(
        "matmul kernel: the C block is not a whole number of conversion chunks");
  auto in = [&](int set, uint32_t i) { return fmt::format("v{}", 16 + set * kIn + i); };
  auto out = [&](int set, uint32_t o) { return fmt::format("v{}", set * kIn / 2 + o); };
  // Converts the chunk in `set`; loads the next chunk (at src + load_off) into the other set and
  // stores the other set's converted chunk (at dst + store_off), each if asked.
  auto phase = [&](int set, const int64_t* load_off, const int64_t* store_off) {
    for (uint32_t j = 0; j < kIn; ++j) {
      const uint32_t o = j % (kIn / 2), part = j / (kIn / 2);  // part 0 of all, then part 1
      w.op("vcvt.bf16.fp32 {}, {}, {}", out(set, o), in(set, 2 * o + part), part);
      if (load_off)
        w.op("vle {}, {}({})", in(1 - set, j), imm12(*load_off + j * g.vlen, "offset"), src.name());
      if (store_off && j < kIn / 2)
        w.op("vse {}, {}({})", out(1 - set, j), imm12(*store_off + j * g.vlen, "offset"),
             dst.name());
    }
  };
  const int64_t next = chunk, after_next = 2 * chunk, zero = 0, half = chunk / 2;
  w.comment("D = bf16(C), rounded to nearest even");
  for (uint32_t j = 0; j < kIn; ++j) w.op("vle {}, {}({})", in(0, j), j * g.vlen, src.name());
  phase(0, &next, nullptr);
  w.op("addi {}, {}, {}", src.name(), src.name(), chunk);  // src: the chunk in set 1
  w.op("addi {}, {}, {}", tmp.name(), src.name(), chunk);
  w.op("bgeu {}, {}, {}_last", tmp.name(), end.name(), label);
  w.label(label);
  phase(1, &next, &zero);
  phase(0, &after_next, &half);
  w.op("addi {}, {}, {}", src.name(), src.name(), imm12(2 * chunk, "conversion step"));
  w.op("addi {}, {}, {}", dst.name(), dst.name(), imm12(chunk, "conversion step"));
  w.op("addi {}, {}, {}", tmp.name(), src.name(), chunk);
  w.op("bltu {}, {}, {}", tmp.name(), end.name(), label);
  w.label(label + "_last");
  phase(1, nullptr, &zero);
  for (uint32_t o = 0; o < kIn / 2; ++o)
    w.op("vse {}, {}({})", out(1, o), imm12(half + o * g.vlen, "offset"), dst.name());
}

void emit_zero_tile(AsmWriter& w, const Geometry& g, const std::string& label) {
  w.raw("    .data");
  w.raw("    .balign 64");
  w.label(label);
  w.op(".space {}", std::max(g.acc_bytes(), g.vlen));
  w.raw("    .text");
}

// Issue positions left for scalar ops in a slot that already holds `others` instructions.
int scalar_capacity(const isa::CoreConfig& config, int others) {
  const auto& p = config.timing_params;
  const int alus = p.unit_instances[static_cast<size_t>(isa::Unit::Alu)];
  return std::max(0, std::min(alus, int{p.issue_width} - others));
}

// ---- bf16 / cfp8 on the matrix unit ---------------------------------------------------------
//
// Blocks of R x Q accumulator tiles; consecutive blocks use alternate halves of the 8
// accumulators. While block b runs on half h, the other half's result (block b-1) is stored
// during b's first loop iteration ("head") and the other half is loaded with block b+1's
// initial value during b's last iteration ("tail"). Operands of k-step s+2 load during step s,
// across block boundaries, so the matrix unit never waits for the load latency.
class MmaKernel {
 public:
  MmaKernel(const MatmulSpec& spec, const isa::CoreConfig& config, std::string label)
      : spec_(spec), config_(config), g_(geometry(spec.dtype, config)), label_(std::move(label)) {
    a_step_ = g_.R * g_.vlen;
    b_step_ = g_.Q * g_.vlen;
    // Operands in the order of their first use by the step's mma sequence (row-major tiles).
    for (uint32_t j = 0; j < g_.R * g_.Q; ++j) {
      const Operand a{true, j / g_.Q}, b{false, j % g_.Q};
      for (const Operand& o : {a, b})
        if (std::find(loads_.begin(), loads_.end(), o) == loads_.end()) loads_.push_back(o);
    }
    if (loads_.size() > g_.R * g_.Q)
      throw std::logic_error("matmul kernel: too many loads per step");
  }

  std::string generate();

 private:
  struct Operand {
    bool a;
    uint32_t index;
    bool operator==(const Operand& o) const { return a == o.a && index == o.index; }
  };
  static constexpr uint32_t kLookahead = 2;  // steps between an operand's load and its use
  static constexpr uint32_t kSets = 4;       // register sets in rotation (> kLookahead)

  // Working registers (see docs/runtime-kernels.md for what each holds).
  static constexpr XReg pA = t0, pB = t1, nA = t2, nB = t3, prevC = t4, curC = t5, nI = t6;
  static constexpr XReg kcnt = a0, Bbase = a1, nb = a2, bias = a3, left = a4, NB = a5, panel = a6,
                        D = a7;
  static constexpr XReg kb4m2 = s0, single = s1, T0 = s2, T1 = s3, T2 = s4, Cbase = s5,
                        fmt_saved = s6;

  uint32_t rq() const { return g_.R * g_.Q; }
  std::string acc(int half, uint32_t j) const { return fmt::format("acc{}", half * rq() + j); }
  std::string vreg(uint32_t set, const Operand& o) const {
    return fmt::format("v{}", set * (g_.R + g_.Q) + (o.a ? 0 : g_.R) + o.index);
  }
  int64_t init_offset(uint32_t j) const {
    switch (spec_.init) {
      case MatmulInit::Accumulate:
        return j * g_.acc_bytes();  // C tiles, row-major
      case MatmulInit::Bias:
        return (j % g_.Q) * g_.acc_bytes();  // same tile per row
      case MatmulInit::Zero:
        break;
    }
    return 0;
  }
  std::string name(std::string_view what, int half = -1) const {
    return half < 0 ? fmt::format("{}_{}", label_, what)
                    : fmt::format("{}_{}{}", label_, what, half);
  }

  void load(uint32_t t, const Operand& o, bool tail, uint32_t unroll);
  void iteration(bool head, bool tail, int h);
  void push_head_ops(bool advance_pointers);
  void push_tail_ops();
  void block(int h);

  const MatmulSpec& spec_;
  const isa::CoreConfig& config_;
  Geometry g_;
  std::string label_;
  uint32_t a_step_ = 0, b_step_ = 0;  // bytes of one k-step of an A / B panel
  std::vector<Operand> loads_;
  AsmWriter w_;
  ScalarQueue q_;
};

// Loads operand o of k-step t, counted from the current iteration's first step; in the tail,
// steps past the iteration belong to the next block.
void MmaKernel::load(uint32_t t, const Operand& o, bool tail, uint32_t unroll) {
  const bool next_block = tail && t >= unroll;
  XReg base = o.a ? (next_block ? nA : pA) : (next_block ? nB : pB);
  const uint32_t step_bytes = o.a ? a_step_ : b_step_;
  int64_t off = int64_t{next_block ? t - unroll : t} * step_bytes + int64_t{o.index} * g_.vlen;
  if (next_block) q_.require(w_, base);
  off -= q_.advanced(base);
  w_.op("vle {}, {}({})", vreg(t % kSets, o), imm12(off, "operand offset"), base.name());
}

void MmaKernel::iteration(bool head, bool tail, int h) {
  const int o = 1 - h;
  const char* mma = spec_.dtype == DType::Cfp8 ? "mma.cfp8" : "mma.bf16";
  q_.reset_advances();
  for (uint32_t s = 0; s < g_.unroll; ++s) {
    for (uint32_t j = 0; j < rq(); ++j) {
      const int slot = static_cast<int>(s * rq() + j);
      const Operand a{true, j / g_.Q}, b{false, j % g_.Q};
      w_.op("{} {}, {}, {}", mma, acc(h, j), vreg(s % kSets, a), vreg(s % kSets, b));
      int others = 1;
      if (j == 0 && s < rq()) {
        // Accumulator s of the other half: stored 4 cycles after its last mma at the earliest,
        // and loaded at least its latency before the next block's first mma into it.
        if (head) {
          w_.op("mst {}, {}({})", acc(o, s), imm12(s * g_.acc_bytes(), "C offset"), prevC.name());
          ++others;
        }
        if (tail) {
          if (head) q_.require(w_, nI);
          w_.op("mld {}, {}({})", acc(o, s), imm12(init_offset(s), "init offset"), nI.name());
          ++others;
        }
      }
      if (j < loads_.size()) {
        load(s + kLookahead, loads_[j], tail, g_.unroll);
        ++others;
      }
      q_.fill(w_, slot, scalar_capacity(config_, others));
    }
  }
  q_.flush(w_);
}

void MmaKernel::push_head_ops(bool advance_pointers) {
  using codegen::advance;
  const int last_store_slot = static_cast<int>((rq() - 1) * rq());
  q_.push(op2i("addi", left, left, -1));
  q_.push(op2("mv", kcnt, kb4m2));
  // Next block: column nb+1 of this row, or column 0 of the next row (mask T0 = all ones).
  q_.push(op2i("addi", nb, nb, 1));
  q_.push(op3("xor", T0, nb, NB));
  q_.push(op2("seqz", T0, T0));
  q_.push(op2("neg", T0, T0));
  // T2 = 0 for the last block, all ones otherwise: the last block "prefetches" itself.
  q_.push(op2("seqz", T2, left));
  q_.push(op2i("addi", T2, T2, -1));
  q_.push(op3("and", T1, T0, panel));
  q_.push(op3("and", T1, T1, T2));
  q_.push(op3("add", nA, pA, T1));
  q_.push(op3("add", nB, pB, panel));
  q_.push(op3("sub", T1, Bbase, nB));
  q_.push(op3("and", T1, T1, T0));
  q_.push(op3("add", nB, nB, T1));
  if (spec_.init == MatmulInit::Bias) {  // the next column's bias tiles, or the first
    q_.push(op2i("addi", nI, nI, g_.bias_block_bytes()));
    q_.push(op3("sub", T1, bias, nI));
    q_.push(op3("and", T1, T1, T0));
    q_.push(op3("add", nI, nI, T1));
  }
  if (spec_.init == MatmulInit::Accumulate) {  // the next block's C, or this one's if last
    q_.push(op2i("andi", T1, T2, g_.c_block_bytes()));
    q_.push(op3("add", nI, curC, T1));
  }
  q_.push(op2("not", T0, T0));
  q_.push(op3("and", nb, nb, T0));
  if (advance_pointers) {
    q_.push(advance(pA, int64_t{g_.unroll} * a_step_));
    q_.push(advance(pB, int64_t{g_.unroll} * b_step_));
  }
  // After the last store of the previous block: block b-1's C is done with.
  codegen::ScalarOp prev = op2("mv", prevC, curC);
  prev.not_before = last_store_slot;
  q_.push(prev);
  codegen::ScalarOp cur = op2i("addi", curC, curC, g_.c_block_bytes());
  cur.not_before = last_store_slot;
  q_.push(cur);
}

void MmaKernel::push_tail_ops() {
  // After the last load of this block's own operands.
  const int after = static_cast<int>((g_.unroll - kLookahead) * rq());
  for (auto [dst, src] : {std::pair{pA, nA}, std::pair{pB, nB}}) {
    codegen::ScalarOp op = op2("mv", dst, src);
    op.not_before = after;
    q_.push(op);
  }
}

void MmaKernel::block(int h) {
  w_.label(name("block", h));
  w_.op("bnez {}, {}", single.name(), name("single", h));
  w_.comment("head: store the other half's previous block, find the next block");
  push_head_ops(true);
  iteration(true, false, h);
  w_.op("beqz {}, {}", kcnt.name(), name("tail", h));
  w_.label(name("body", h));
  q_.push(op2i("addi", kcnt, kcnt, -1));
  q_.push(codegen::advance(pA, int64_t{g_.unroll} * a_step_));
  q_.push(codegen::advance(pB, int64_t{g_.unroll} * b_step_));
  iteration(false, false, h);
  w_.op("bnez {}, {}", kcnt.name(), name("body", h));
  w_.label(name("tail", h));
  w_.comment("tail: load the other half with the next block's initial value");
  push_tail_ops();
  iteration(false, true, h);
  w_.label(name("end", h));
  if (h == 0)
    w_.op("beqz {}, {}", left.name(), name("done", 0));
  else
    w_.op("bnez {}, {}", left.name(), name("block", 0));
}

std::string MmaKernel::generate() {
  const bool cfp8 = spec_.dtype == DType::Cfp8;
  w_.raw(
      fmt::format("# {}: {} matmul block on the matrix unit, init {}{}; generated by "
                  "runtime/matmul_kernel.cpp, see docs/runtime-kernels.md",
                  label_, dtype_name(spec_.dtype), matmul_init_name(spec_.init),
                  spec_.bf16_output ? ", bf16 copy in D" : ""));
  emit_entry(w_, label_);
  if (cfp8) {
    const uint64_t fmtcfg = (spec_.cfp8.bias & isa::kMaxCfpBias) |
                            (spec_.cfp8.layout == isa::Cfp8Layout::E5M2 ? 0x40 : 0);
    w_.op("li {}, {}", T0.name(), fmtcfg);
    w_.op("csrrw {}, fmtcfg, {}", fmt_saved.name(), T0.name());
  }
  w_.op("mv {}, a2", Cbase.name());
  w_.op("mul {}, a4, a5", left.name());
  w_.op("addi {}, a6, -2", kb4m2.name());
  w_.op("addi {}, a6, -1", single.name());
  w_.op("seqz {}, {}", single.name(), single.name());
  w_.op("li {}, {}", T0.name(), g_.unroll * a_step_);
  w_.op("mul {}, a6, {}", panel.name(), T0.name());
  w_.op("mv {}, a0", pA.name());
  w_.op("mv {}, a1", pB.name());
  w_.op("mv {}, a2", prevC.name());  // block 0 stores the idle half into its own C: harmless
  w_.op("mv {}, a2", curC.name());
  switch (spec_.init) {
    case MatmulInit::Zero:
      w_.op("la {}, {}", nI.name(), name("zero"));
      break;
    case MatmulInit::Bias:
      w_.op("mv {}, a3", nI.name());
      break;
    case MatmulInit::Accumulate:
      w_.op("mv {}, a2", nI.name());
      break;
  }
  w_.op("li {}, 0", nb.name());
  for (uint32_t j = 0; j < rq(); ++j)
    w_.op("mld {}, {}({})", acc(0, j), imm12(init_offset(j), "init offset"), nI.name());
  q_.reset_advances();
  for (uint32_t t = 0; t < kLookahead; ++t)
    for (const Operand& o : loads_) load(t, o, false, g_.unroll);

  block(0);
  block(1);
  w_.label(name("done", 1));
  for (uint32_t j = 0; j < rq(); ++j)
    w_.op("mst {}, {}({})", acc(1, j), imm12(j * g_.acc_bytes(), "C offset"), prevC.name());
  w_.op("j {}", name("finish"));
  w_.label(name("done", 0));
  for (uint32_t j = 0; j < rq(); ++j)
    w_.op("mst {}, {}({})", acc(0, j), imm12(j * g_.acc_bytes(), "C offset"), prevC.name());
  w_.label(name("finish"));
  if (spec_.bf16_output) {
    w_.op("addi {}, {}, {}", T2.name(), prevC.name(), g_.c_block_bytes());
    emit_bf16_conversion(w_, g_, name("to_bf16"), Cbase, T2, D, T1);
  }
  if (cfp8) w_.op("csrw fmtcfg, {}", fmt_saved.name());
  emit_return(w_);

  // Blocks of a single loop iteration: head and tail in one.
  for (int h = 0; h < 2; ++h) {
    w_.label(name("single", h));
    push_head_ops(false);
    push_tail_ops();
    iteration(true, true, h);
    w_.op("j {}", name("end", h));
  }
  if (spec_.init == MatmulInit::Zero) emit_zero_tile(w_, g_, name("zero"));
  return w_.text();
}

// ---- fp32 on the SIMD unit -------------------------------------------------------------------
//
// Blocks of R rows x Q vector registers of C held in v16..v31. Each k broadcasts R values of A
// (vlse32 with stride 0) and loads Q registers of B; operands of k+1 load during k. A block's
// epilogue is short next to its R*Q*K SIMD cycles, so blocks do not overlap.
class Fp32Kernel {
 public:
  Fp32Kernel(const MatmulSpec& spec, const isa::CoreConfig& config, std::string label)
      : spec_(spec), config_(config), g_(geometry(spec.dtype, config)), label_(std::move(label)) {
    if (g_.R + g_.Q > 8 || g_.R * g_.Q > 16)
      throw std::logic_error("fp32 kernel: blocking does not fit the vector registers");
  }
  std::string generate();

 private:
  static constexpr XReg pB = t4, pC = t5, kcnt = t6;
  static constexpr XReg Arow = s0, nbc = s1, Bcol = s2, panelA = s3, panelB = s4, biasp = s5,
                        Cbase = s6, T0 = s7;
  static constexpr XReg pa[4] = {t0, t1, t2, t3};

  std::string name(std::string_view what) const { return fmt::format("{}_{}", label_, what); }
  std::string va(uint32_t set, uint32_t r) const { return fmt::format("v{}", set * 8 + r); }
  std::string vb(uint32_t set, uint32_t q) const { return fmt::format("v{}", set * 8 + 4 + q); }
  std::string vc(uint32_t r, uint32_t q) const { return fmt::format("v{}", 16 + r * g_.Q + q); }
  uint32_t k_bytes_b() const { return g_.block_n() * 4; }  // one k of a B panel
  void pair(bool last);

  const MatmulSpec& spec_;
  const isa::CoreConfig& config_;
  Geometry g_;
  std::string label_;
  AsmWriter w_;
  ScalarQueue q_;
};

// Two k steps (register sets 0 and 1); each loads the next k into the other set, except the
// last step of the block.
void Fp32Kernel::pair(bool last) {
  q_.reset_advances();
  if (!last) {
    q_.push(op2i("addi", kcnt, kcnt, -1));
    q_.push(codegen::advance(pB, 2 * k_bytes_b()));
  }
  for (uint32_t u = 0; u < 2; ++u) {
    const bool loads = !(last && u == 1);
    for (uint32_t j = 0; j < g_.R * g_.Q; ++j) {
      const uint32_t r = j / g_.Q, q = j % g_.Q;
      w_.op("vfma.fp32 {}, {}, {}", vc(r, q), va(u, r), vb(u, q));
      int others = 1;
      // One load every other vfma: the broadcasts first (latency 6), then B.
      if (loads && j % 2 == 0 && j / 2 < g_.R + g_.Q) {
        const uint32_t i = j / 2;
        if (i < g_.R) {
          q_.require(w_, pa[i]);
          w_.op("vlse32 {}, ({}), zero", va(1 - u, i), pa[i].name());
          if (!last) q_.push(op2i("addi", pa[i], pa[i], 4 * g_.R));
        } else {
          const uint32_t qq = i - g_.R;
          const int64_t off = int64_t{u + 1} * k_bytes_b() + qq * g_.vlen - q_.advanced(pB);
          w_.op("vle {}, {}({})", vb(1 - u, qq), imm12(off, "operand offset"), pB.name());
        }
        ++others;
      }
      q_.fill(w_, static_cast<int>(u * g_.R * g_.Q + j), scalar_capacity(config_, others));
    }
  }
  q_.flush(w_);
}

std::string Fp32Kernel::generate() {
  w_.raw(fmt::format(
      "# {}: fp32 matmul block on the SIMD unit, init {}{}; generated by "
      "runtime/matmul_kernel.cpp, see docs/runtime-kernels.md",
      label_, matmul_init_name(spec_.init), spec_.bf16_output ? ", bf16 copy in D" : ""));
  emit_entry(w_, label_);
  const uint32_t a_k_bytes = g_.R * 4;
  w_.op("li {}, {}", T0.name(), 2 * a_k_bytes);
  w_.op("mul {}, a6, {}", panelA.name(), T0.name());
  w_.op("li {}, {}", T0.name(), 2 * k_bytes_b());
  w_.op("mul {}, a6, {}", panelB.name(), T0.name());
  w_.op("mv {}, a0", Arow.name());
  w_.op("mv {}, a2", pC.name());
  w_.op("mv {}, a2", Cbase.name());
  w_.label(name("row"));
  w_.op("mv {}, a1", Bcol.name());
  w_.op("mv {}, a5", nbc.name());
  if (spec_.init == MatmulInit::Zero)
    w_.op("la {}, {}", biasp.name(), name("zero"));
  else
    w_.op("mv {}, a3", biasp.name());
  w_.label(name("col"));
  for (uint32_t r = 0; r < g_.R; ++r)
    for (uint32_t q = 0; q < g_.Q; ++q) {
      switch (spec_.init) {
        case MatmulInit::Zero:
          w_.op("vle {}, 0({})", vc(r, q), biasp.name());
          break;
        case MatmulInit::Bias:
          w_.op("vle {}, {}({})", vc(r, q), q * g_.vlen, biasp.name());
          break;
        case MatmulInit::Accumulate:
          w_.op("vle {}, {}({})", vc(r, q), imm12((r * g_.Q + q) * g_.vlen, "C offset"), pC.name());
          break;
      }
    }
  for (uint32_t r = 0; r < g_.R; ++r) {
    w_.op("addi {}, {}, {}", pa[r].name(), Arow.name(), 4 * r);
    w_.op("vlse32 {}, ({}), zero", va(0, r), pa[r].name());
    w_.op("addi {}, {}, {}", pa[r].name(), pa[r].name(), a_k_bytes);
  }
  w_.op("mv {}, {}", pB.name(), Bcol.name());
  for (uint32_t q = 0; q < g_.Q; ++q) w_.op("vle {}, {}({})", vb(0, q), q * g_.vlen, pB.name());
  w_.op("addi {}, a6, -1", kcnt.name());
  w_.op("beqz {}, {}", kcnt.name(), name("last"));
  w_.label(name("loop"));
  pair(false);
  w_.op("bnez {}, {}", kcnt.name(), name("loop"));
  w_.label(name("last"));
  pair(true);
  for (uint32_t r = 0; r < g_.R; ++r)
    for (uint32_t q = 0; q < g_.Q; ++q)
      w_.op("vse {}, {}({})", vc(r, q), imm12((r * g_.Q + q) * g_.vlen, "C offset"), pC.name());
  w_.op("addi {}, {}, {}", pC.name(), pC.name(), imm12(g_.c_block_bytes(), "C block"));
  w_.op("add {}, {}, {}", Bcol.name(), Bcol.name(), panelB.name());
  if (spec_.init == MatmulInit::Bias)
    w_.op("addi {}, {}, {}", biasp.name(), biasp.name(),
          imm12(g_.bias_block_bytes(), "bias block"));
  w_.op("addi {}, {}, -1", nbc.name(), nbc.name());
  w_.op("bnez {}, {}", nbc.name(), name("col"));
  w_.op("add {}, {}, {}", Arow.name(), Arow.name(), panelA.name());
  w_.op("addi a4, a4, -1");
  w_.op("bnez a4, {}", name("row"));
  if (spec_.bf16_output) emit_bf16_conversion(w_, g_, name("to_bf16"), Cbase, pC, a7, T0);
  emit_return(w_);
  if (spec_.init == MatmulInit::Zero) emit_zero_tile(w_, g_, name("zero"));
  return w_.text();
}

struct Range {
  const char* name;
  uint64_t start, bytes;
};

std::vector<Range> used_ranges(const MatmulSpec& spec, const MatmulLayout& l,
                               const MatmulBuffers& b) {
  std::vector<Range> r = {
      {"A", b.a, l.a.bytes()}, {"B", b.b, l.b.bytes()}, {"C", b.c, l.c.bytes()}};
  if (spec.init == MatmulInit::Bias) r.push_back({"bias", b.bias, l.bias.bytes()});
  if (spec.bf16_output) r.push_back({"D", b.d, l.d.bytes()});
  return r;
}

std::string shape_text(const MatmulLayout& l) {
  return fmt::format("{}x{}x{} {}", l.shape.m, l.shape.n, l.shape.k, dtype_name(l.dtype));
}

}  // namespace

MatmulLayout matmul_layout(DType dtype, MatmulShape shape, const isa::CoreConfig& config) {
  for (auto [what, v] : {std::pair{"m", shape.m}, std::pair{"n", shape.n}, std::pair{"k", shape.k}})
    if (v == 0)
      throw std::invalid_argument(
          fmt::format("matmul block {}x{}x{}: {} = 0; every dimension "
                      "must be at least 1",
                      shape.m, shape.n, shape.k, what));
  const Geometry g = geometry(dtype, config);
  MatmulLayout l;
  l.dtype = dtype;
  l.shape = shape;
  const uint32_t mp = round_up(shape.m, g.block_m()), np = round_up(shape.n, g.block_n()),
                 kp = round_up(shape.k, g.k_granule());
  l.row_blocks = mp / g.block_m();
  l.col_blocks = np / g.block_n();
  l.k_iterations = kp / g.k_granule();
  // A: panels of block_m rows, one k-step after another; B: panels of block_n columns.
  l.a = {dtype, mp, kp, g.block_m(), g.kstep, g.a_tile_rows, g.kstep, false};
  l.b = {dtype, kp, np, g.kstep, g.block_n(), g.kstep, g.tile_n, true};
  l.c = {DType::Fp32, mp, np, g.block_m(), g.block_n(), g.tile_m, g.tile_n, false};
  l.bias = {DType::Fp32, g.tile_m, np, g.tile_m, g.block_n(), g.tile_m, g.tile_n, false};
  l.d = l.c;
  l.d.dtype = DType::Bf16;
  return l;
}

std::vector<uint8_t> pack_bias(const std::vector<float>& bias, const MatmulLayout& layout) {
  if (bias.size() != layout.shape.n)
    throw std::invalid_argument(fmt::format("bias has {} values; the block has n = {} columns",
                                            bias.size(), layout.shape.n));
  Matrix rows(layout.bias.rows, layout.shape.n);
  for (uint32_t r = 0; r < rows.rows; ++r)
    for (uint32_t c = 0; c < rows.cols; ++c) rows.at(r, c) = bias[c];
  return pack(rows, layout.bias);
}

void check_buffers(const MatmulSpec& spec, const MatmulLayout& layout, const MatmulBuffers& buf,
                   uint64_t sram_bytes) {
  const auto ranges = used_ranges(spec, layout, buf);
  for (size_t i = 0; i < ranges.size(); ++i) {
    const Range& a = ranges[i];
    if (a.start % 8)
      throw std::invalid_argument(fmt::format("matmul block {}: {} at 0x{:x} is not 8-byte aligned",
                                              shape_text(layout), a.name, a.start));
    if (a.start > sram_bytes || a.bytes > sram_bytes - a.start)
      throw std::invalid_argument(
          fmt::format("matmul block {}: {} [0x{:x}, 0x{:x}) ({} bytes) lies outside the node's {} "
                      "bytes of SRAM",
                      shape_text(layout), a.name, a.start, a.start + a.bytes, a.bytes, sram_bytes));
    for (size_t j = 0; j < i; ++j) {
      const Range& b = ranges[j];
      if (a.start < b.start + b.bytes && b.start < a.start + a.bytes)
        throw std::invalid_argument(
            fmt::format("matmul block {}: {} [0x{:x}, 0x{:x}) overlaps {} "
                        "[0x{:x}, 0x{:x})",
                        shape_text(layout), a.name, a.start, a.start + a.bytes, b.name, b.start,
                        b.start + b.bytes));
    }
  }
}

MatmulBuffers place_buffers(const MatmulSpec& spec, const MatmulLayout& layout, uint64_t base,
                            uint64_t limit, uint64_t align) {
  MatmulBuffers buf;
  uint64_t at = base;
  auto take = [&](uint64_t bytes) {
    at = (at + align - 1) / align * align;
    const uint64_t start = at;
    at += bytes;
    return start;
  };
  buf.a = take(layout.a.bytes());
  buf.b = take(layout.b.bytes());
  buf.c = take(layout.c.bytes());
  if (spec.init == MatmulInit::Bias) buf.bias = take(layout.bias.bytes());
  if (spec.bf16_output) buf.d = take(layout.d.bytes());
  if (at > limit) {
    std::string parts;
    for (const Range& r : used_ranges(spec, layout, buf))
      parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", r.name, r.bytes);
    throw std::invalid_argument(fmt::format(
        "matmul block {} does not fit in SRAM: it needs {} bytes ({}) from 0x{:x}, but only {} "
        "bytes are free below 0x{:x}",
        shape_text(layout), at - base, parts, base, limit > base ? limit - base : 0, limit));
  }
  return buf;
}

std::string matmul_routine_asm(const MatmulSpec& spec, const isa::CoreConfig& config,
                               const std::string& label) {
  if (spec.dtype == DType::Fp32) return Fp32Kernel(spec, config, label).generate();
  return MmaKernel(spec, config, label).generate();
}

std::string matmul_call_asm(const MatmulSpec& spec, const MatmulLayout& layout,
                            const MatmulBuffers& buf, const std::string& label) {
  AsmWriter w;
  w.op("li a0, {}", buf.a);
  w.op("li a1, {}", buf.b);
  w.op("li a2, {}", buf.c);
  w.op("li a3, {}", spec.init == MatmulInit::Bias ? buf.bias : 0);
  w.op("li a4, {}", layout.row_blocks);
  w.op("li a5, {}", layout.col_blocks);
  w.op("li a6, {}", layout.k_iterations);
  w.op("li a7, {}", spec.bf16_output ? buf.d : 0);
  w.op("call {}", label);
  return w.text();
}

std::string matmul_program_asm(const MatmulSpec& spec, const MatmulLayout& layout,
                               const MatmulBuffers& buf, const isa::CoreConfig& config) {
  return "    .text\n    .globl _start\n_start:\n" + matmul_call_asm(spec, layout, buf) +
         "    li a0, 0\n    li a7, 93\n    ecall\n" + matmul_routine_asm(spec, config);
}

isa::Program matmul_program(const MatmulSpec& spec, const MatmulLayout& layout,
                            const MatmulBuffers& buf, const isa::CoreConfig& config) {
  const uint64_t stack = isa::NodeRunOptions{}.stack_bytes;
  check_buffers(spec, layout, buf, config.sram_bytes - std::min(stack, config.sram_bytes));
  isa::Program program =
      isa::assemble(matmul_program_asm(spec, layout, buf, config), "matmul_block.s");
  for (const Range& r : used_ranges(spec, layout, buf))
    if (r.start < program.end_address())
      throw std::invalid_argument(
          fmt::format("matmul block {}: {} at 0x{:x} overlaps the program, "
                      "which ends at 0x{:x}",
                      shape_text(layout), r.name, r.start, program.end_address()));
  return program;
}

double peak_flops_per_cycle(DType dtype, const isa::CoreConfig& config) {
  const auto& p = config.timing_params;
  auto instances = [&](isa::Unit u) { return double(p.unit_instances[static_cast<size_t>(u)]); };
  if (dtype == DType::Fp32) {
    const auto& simd = p.of(isa::TimingClass::Simd);
    return 2.0 * (config.vlen_bytes / 4) * instances(simd.unit) / simd.occupancy;
  }
  const auto& mma =
      p.of(dtype == DType::Cfp8 ? isa::TimingClass::MatrixCfp8 : isa::TimingClass::Matrix);
  const double k = config.matrix_k * (dtype == DType::Cfp8 ? 2.0 : 1.0);
  return 2.0 * config.matrix_m * config.matrix_n * k * instances(mma.unit) / mma.occupancy;
}

}  // namespace dojosim::runtime
