// SPDX-License-Identifier: MIT
// Small tools for generating node assembly: a text writer, and a queue that spreads scalar
// bookkeeping (pointer arithmetic, counters) over the issue slots that a kernel's vector and
// matrix instructions leave free, keeping program order.
//
// Generators (runtime/matmul_kernel.cpp) emit a software-pipelined stream of mma/vfma and
// loads, one "slot" per matrix or SIMD instruction; after each slot they call
// ScalarQueue::fill() with the number of issue positions still free in that cycle.
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace dojosim::runtime::codegen {

/// An integer register by number; name() is its ABI name ("t0", "a3", ...).
struct XReg {
  unsigned n = 0;
  std::string_view name() const;
};

/// Assembly text, one statement per line.
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
  const std::string& text() const { return text_; }

 private:
  std::string text_;
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
