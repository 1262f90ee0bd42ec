// SPDX-License-Identifier: MIT
// Small tools for generating node assembly: a text writer with the snippets generated programs
// share (double-buffer selection, forwarding a buffer in pieces, the exit), a per-node argument
// block declared once, and a queue that spreads scalar bookkeeping (pointer arithmetic,
// counters) over the issue slots that a kernel's vector and matrix instructions leave free,
// keeping program order.
//
// Generators (runtime/matmul_kernel.cpp) emit a software-pipelined stream of mma/vfma and
// loads, one "slot" per matrix or SIMD instruction; after each slot they call
// ScalarQueue::fill() with the number of issue positions still free in that cycle.
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace dojosim::runtime::codegen {

/// An integer register by number; name() is its ABI name ("t0", "a3", ...).
struct XReg {
  unsigned n = 0;
  std::string_view name() const;
};

/// The integer registers by ABI name.
namespace reg {
inline constexpr XReg zero{0}, ra{1}, sp{2}, t0{5}, t1{6}, t2{7}, s0{8}, s1{9}, a0{10}, a1{11},
    a2{12}, a3{13}, a4{14}, a5{15}, a6{16}, a7{17}, s2{18}, s3{19}, s4{20}, s5{21}, s6{22},
    s7{23}, s8{24}, s9{25}, s10{26}, s11{27}, t3{28}, t4{29}, t5{30}, t6{31};
}  // namespace reg

/// Assembly text, one statement per line, and the snippets generated programs share. A snippet
/// names its labels after a `prefix` the caller gives, so a program can hold several.
class AsmWriter {
 public:
  template <class... Args>
  void op(fmt::format_string<Args...> f, Args&&... args) {
    text_ += "    ";
    text_ += fmt::format(f, std::forward<Args>(args)...);
    text_ += '\n';
  }
  void label(std::string_view name) { text_ += fmt::format("{}:\n", name); }
  void comment(std::string_view c) { text_ += fmt::format("    # {}\n", c); }
  void raw(std::string_view line) { text_ += fmt::format("{}\n", line); }
  void equ(std::string_view name, int64_t value) { op(".equ {}, {}", name, value); }
  const std::string& text() const { return text_; }

  /// Double buffering: `slot` = `args` + 8 x (`step` mod 2), so that `ld rd, BUF0(slot)` reads
  /// this step's buffer of a pair of argument words BUF0, BUF1 (and `xori slot, slot, 8` turns
  /// it to the other one).
  void buffer_slot(XReg slot, XReg step, XReg args);
  /// Pushes `pieces` (a register) pieces of `piece` bytes from `src` to the global address `dst`,
  /// each signalling semaphore `sem` there; advances src and dst; clobbers `pieces`.
  void send_pieces(std::string_view prefix, XReg dst, XReg src, XReg piece, XReg pieces,
                   std::string_view sem);
  /// Waits for `pieces` pieces of `piece` bytes arriving at `src` (semaphore `sem`, one count
  /// each) and, unless `forward` is 0, pushes each on to the global address `dst` as it arrives;
  /// advances src and dst; clobbers `pieces` and `one`.
  void receive_pieces(std::string_view prefix, XReg dst, XReg src, XReg piece, XReg pieces,
                      XReg forward, XReg one, std::string_view sem);
  /// The label `exit`: the thread ends with exit code 0.
  void exit_program();

 private:
  std::string text_;
};

/// A generated program's per-node arguments, each declared once with its `.equ` name and how
/// the host computes its value for a node (`Node` is the generator's description of one node).
/// The program reads argument NAME with `ld rd, NAME(rs)`, rs holding the address of `args`;
/// the host writes values(node) there after loading the program.
template <class Node>
class ArgBlock {
 public:
  struct Arg {
    std::string name;
    std::function<uint64_t(const Node&)> value;
  };
  ArgBlock(std::initializer_list<Arg> args) : args_(args) {}
  /// `.equ NAME, offset` for every argument, in declaration order.
  void declare(AsmWriter& w) const {
    for (size_t i = 0; i < args_.size(); ++i) w.equ(args_[i].name, static_cast<int64_t>(8 * i));
  }
  /// The `args` label and its room in .data.
  void reserve(AsmWriter& w) const {
    w.raw("\n    .data\n    .align 3\nargs:");
    w.op(".space {}", 8 * args_.size());
  }
  std::vector<uint64_t> values(const Node& node) const {
    std::vector<uint64_t> v;
    for (const Arg& a : args_) v.push_back(a.value(node));
    return v;
  }
  size_t size() const { return args_.size(); }

 private:
  std::vector<Arg> args_;
};

/// Throws std::invalid_argument naming `what` unless v fits a 12-bit signed immediate.
int64_t imm12(int64_t v, std::string_view what);

/// One scalar instruction and the registers it writes and reads, so that the queue never puts
/// a consumer in the same issue group as its producer.
struct ScalarOp {
  std::string text;
  int dst = -1;                       // register written, -1 none
  std::array<int, 2> src = {-1, -1};  // registers read
  int not_before = 0;                 // earliest slot it may be emitted in
  int64_t advance = 0;                // for `addi r, r, c` on a pointer: c (see advanced())
};

// Constructors for the ops the kernels use.
ScalarOp op3(std::string_view mnemonic, XReg rd, XReg rs1, XReg rs2);
ScalarOp op2i(std::string_view mnemonic, XReg rd, XReg rs1, int64_t imm);  // addi/andi/slli...
ScalarOp op2(std::string_view mnemonic, XReg rd, XReg rs);                 // mv/neg/seqz/not
/// addi p, p, c on a pointer that loads are addressed from: the queue tracks how far it moved.
ScalarOp advance(XReg p, int64_t c);

/// Scalar ops waiting to be emitted, in program order (fill() may hoist independent ones).
class ScalarQueue {
 public:
  void push(ScalarOp op) { pending_.push_back(std::move(op)); }
  /// Emits up to `capacity` ops allowed at `slot`: the first pending ones, or later ones that
  /// do not depend on (nor clobber a register of) an earlier pending op; never an op beside
  /// the one whose result it reads, nor before its not_before slot.
  void fill(AsmWriter& w, int slot, int capacity);
  /// Emits every pending op up to the last one that writes `reg` (a consumer needs it now).
  void require(AsmWriter& w, XReg reg);
  /// Emits everything left.
  void flush(AsmWriter& w);
  /// How far the emitted advance() ops have moved pointer `reg` since reset_advances():
  /// a load emitted now subtracts this from its offset.
  int64_t advanced(XReg reg) const { return advanced_[reg.n]; }
  void reset_advances() { advanced_.fill(0); }
  bool empty() const { return pending_.empty(); }

 private:
  void emit_at(AsmWriter& w, size_t i);
  std::deque<ScalarOp> pending_;
  std::array<int64_t, 32> advanced_{};
};

}  // namespace dojosim::runtime::codegen
