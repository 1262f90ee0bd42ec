// SPDX-License-Identifier: MIT
// Assembler internals: what a mnemonic may stand for. A form is a row of the instruction table,
// an alias (a pseudo-instruction that is one table instruction with some fields fixed, itself a
// row of a small table here), or a macro that needs code (li, la, call, tail, la.global). One
// mnemonic can have several forms told apart by operand count (`jal rd, target` and `jal target`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "isa/instructions.h"

namespace dojosim::isa::asm_detail {

// How an operand is written, whatever field it then goes to.
enum class Arg : uint8_t { XReg, VReg, AccReg, Expr, Mem, MemBase, Csr };
Arg arg_of(OperandKind k);

struct Alias {
  std::string_view mnemonic;
  std::string_view syntax;  // operands as documented, e.g. "rd, rs"
  Op op;
  OperandKind operands[3];  // where each written operand goes, as in the table
  uint8_t count;
  uint8_t rd, rs1, rs2;  // fields not written
  int32_t imm;
};

enum class Macro : uint8_t { Li, La, Call, Tail, LaGlobal };
struct MacroInfo {
  std::string_view mnemonic;
  std::string_view syntax;
  Macro macro;
  Arg args[4];
  uint8_t count;
};

struct Form {
  const InstrInfo* row = nullptr;
  const Alias* alias = nullptr;
  const MacroInfo* macro = nullptr;

  int operand_count() const;
  Arg arg(int i) const;
  OperandKind kind(int i) const;  // table rows and aliases only
  std::string_view mnemonic() const;
  // "add rd, rs1, rs2": the syntax for messages and docs.
  std::string syntax() const;
  // Name of operand i as the syntax writes it ("rd", "imm12", "btarget").
  std::string_view operand_name(int i) const;
};

// All forms of a mnemonic (exact, lower case); nullptr if it is none.
const std::vector<Form>* forms_of(std::string_view mnemonic);
// Every mnemonic, for suggestions.
const std::vector<std::string_view>& all_mnemonics();
const std::vector<Alias>& aliases();
const std::vector<MacroInfo>& macros();

// li rd, value as GNU as expands it (its load_const): lui/addiw for 32-bit values, then
// slli/addi steps for wider ones. Returns the instruction count (1..8).
struct LiStep {
  Op op;           // LUI, ADDI, ADDIW or SLLI
  int32_t imm;     // lui: the 20-bit immediate as written; addi(w): signed 12-bit; slli: shift
  bool from_zero;  // addi/addiw reads x0 instead of rd
};
constexpr int kMaxLiSteps = 8;
int li_sequence(uint64_t value, LiStep out[kMaxLiSteps]);

// la.global rd, xreg, yreg, offset: rd = the global address of SRAM `offset` in node
// (xreg, yreg), in the encoding of isa/global_address.h, written with rd as the only scratch
// register (so rd must not be yreg; it may be xreg):
//   slli rd, xreg, 64-XB; srli rd, rd, 64-XB-YB   x, masked to its field, above a y field
//   add  rd, rd, yreg                             y joins it
//   slli rd, rd, 64-XB-YB; srli rd, rd, ...       drops anything above the x field (bit 63, the
//                                                 host bit, is always 0) and moves up so that
//   addi / slli 12 pairs                          the offset goes in 12 bits at a time
// The result equals isa::global_address(x, y, offset) for y below 2^16 (every mesh
// coordinate); a larger y carries into x, never into the host bit. Returns the count (5..10).
struct AsmInsn {
  Op op;  // SLLI, SRLI, ADD or ADDI
  uint8_t rd, rs1, rs2;
  int32_t imm;
};
constexpr int kMaxLaGlobalSteps = 10;
int la_global_sequence(uint8_t rd, uint8_t xreg, uint8_t yreg, uint32_t offset,
                       AsmInsn out[kMaxLaGlobalSteps]);

}  // namespace dojosim::isa::asm_detail
