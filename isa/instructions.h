// SPDX-License-Identifier: MIT
// The instruction table (isa/instructions.def) and what is derived from it: the Op enum,
// per-instruction facts, encoding and decoding. Everything that needs to know about an
// instruction asks here; nothing else lists instructions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dojosim::isa {

// Bit layout of a 32-bit instruction word; decides where fields and immediates sit.
enum class Format : uint8_t { R, I, S, B, U, J, R4, Shift6, Shift5, Fence, Fixed };

struct Encoding {
  uint32_t match;
  uint32_t mask;
  Format format;
};

namespace enc {
constexpr uint32_t kOpMask = 0x7F, kF3Mask = 0x7000, kF7Mask = 0xFE000000;
constexpr Encoding R(uint32_t op, uint32_t f3, uint32_t f7) {
  return {op | f3 << 12 | f7 << 25, kOpMask | kF3Mask | kF7Mask, Format::R};
}
constexpr Encoding R4(uint32_t op, uint32_t f3, uint32_t f2) {
  return {op | f3 << 12 | f2 << 25, kOpMask | kF3Mask | 0x3u << 25, Format::R4};
}
constexpr Encoding I(uint32_t op, uint32_t f3) {
  return {op | f3 << 12, kOpMask | kF3Mask, Format::I};
}
constexpr Encoding S(uint32_t op, uint32_t f3) {
  return {op | f3 << 12, kOpMask | kF3Mask, Format::S};
}
constexpr Encoding B(uint32_t op, uint32_t f3) {
  return {op | f3 << 12, kOpMask | kF3Mask, Format::B};
}
constexpr Encoding U(uint32_t op) { return {op, kOpMask, Format::U}; }
constexpr Encoding J(uint32_t op) { return {op, kOpMask, Format::J}; }
constexpr Encoding SH6(uint32_t op, uint32_t f3, uint32_t f6) {
  return {op | f3 << 12 | f6 << 26, kOpMask | kF3Mask | 0xFC000000u, Format::Shift6};
}
constexpr Encoding SH5(uint32_t op, uint32_t f3, uint32_t f7) {
  return {op | f3 << 12 | f7 << 25, kOpMask | kF3Mask | kF7Mask, Format::Shift5};
}
// fence's pred/succ/fm fields are accepted and ignored (as qemu does).
constexpr Encoding FENCE_ENC(uint32_t op, uint32_t f3) {
  return {op | f3 << 12, kOpMask | kF3Mask, Format::Fence};
}
constexpr Encoding FIXED(uint32_t word) { return {word, 0xFFFFFFFFu, Format::Fixed}; }
}  // namespace enc

enum class Op : uint16_t {
#define X(op, mn, ops, en, tc, sem) op,
#include "isa/instructions.def"
#undef X
  kCount,
  kInvalid = kCount,
};
constexpr int kOpCount = static_cast<int>(Op::kCount);

// Cost classes; their latency, occupancy and unit come from TimingParams (isa/timing.h).
// clang-format off
enum class TimingClass : uint8_t {
  Alu, Mul, Div, Load, Store, Branch, Jump, Csr, System,
  VLoad, VStore, VLoadStrided, VStoreStrided, AccLoad, AccStore,
  Simd, SimdReduce, SimdMath, Convert, AccMove, Matrix, MatrixCfp8, Push, Sync,
  kCount
};
// clang-format on
std::string_view timing_class_name(TimingClass c);

// What an operand is, and so which field it lives in and how it is written in assembly.
enum class OperandKind : uint8_t {
  Rd, Rs1, Rs2, Rs3,           // x registers in the rd / rs1 / rs2 / rs3 fields
  Vd, Vs1, Vs2, Vs3,           // vector registers (vs3: a stored vector in the rd field)
  Acc, Acc2,                   // accumulators in the rd / rs2 field
  Imm12, Shamt6, Shamt5, Uimm20,
  Mem,                         // imm(rs1), immediate in the I or S position
  MemBase,                     // (rs1)
  BTarget, JTarget,            // pc-relative targets, written as labels or offsets
  Csr, Zimm5,                  // CSR number in imm[11:0]; 5-bit immediate in the rs1 field
  Part,                        // conversion part 0..parts-1 in the rs2 field ("part2", "part4")
  Sem, Sem1, Group,            // semaphore/group numbers in the rd / rs1 / rd field
};
constexpr int kMaxOperands = 4;

struct InstrInfo {
  Op op;
  std::string_view mnemonic;
  std::string_view operand_syntax;  // as written in the table, e.g. "rd,rs1,rs2"
  Encoding encoding;
  TimingClass timing;
  std::string_view semantics;
  OperandKind operands[kMaxOperands];
  uint8_t operand_count;
  uint8_t parts;  // conversions: how many parts the narrower format has ("part2", "part4")
};

const InstrInfo& info(Op op);
const InstrInfo* begin_table();
const InstrInfo* end_table();
// Looks up a mnemonic (exact, lower case); nullptr if unknown.
const InstrInfo* find_mnemonic(std::string_view mnemonic);

constexpr int kNumXRegs = 32, kNumVRegs = 32, kNumAccs = 8, kNumSemaphores = 32, kNumGroups = 32;

// Register slots, one numbering over the register files (the interpreter's scoreboard):
// x0..x31, then v0..v31, then acc0..acc7. Slot 0 (x0) is never written, so it also stands
// for "no register".
constexpr int kVRegBase = 32, kAccBase = 64, kRegSlots = 72;

// A decoded instruction: fields by position, immediates sign-extended per format.
struct Decoded {
  Op op = Op::kInvalid;
  uint8_t rd = 0, rs1 = 0, rs2 = 0, rs3 = 0;
  int32_t imm = 0;
  // Derived from the fields and the table's operands, so that the timing model reads them
  // without decoding again: the register slots the instruction reads (unused: 0) and writes
  // (none or x0: 0). A conversion or vfma reads its vd as well.
  uint8_t src_slot[3] = {};
  uint8_t dst_slot = 0;
};

Decoded decode(uint32_t word);
// Encodes fields (as Decoded holds them) into a word; the caller has range-checked them.
uint32_t encode(const Decoded& d);
// Immediate range per operand kind, for the assembler's checks and the fuzzers.
struct ImmRange { int64_t min, max, align; };
ImmRange imm_range(OperandKind k);

std::string_view xreg_abi_name(unsigned r);

}  // namespace dojosim::isa
