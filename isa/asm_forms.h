// SPDX-License-Identifier: MIT
// Assembler internals: what a mnemonic may stand for. A form is a row of the instruction table,
// an alias (a pseudo-instruction that is one table instruction with some fields fixed, itself a
// row of a small table here), or a macro that needs code (li, la, call, tail). One mnemonic can
// have several forms told apart by operand count (`jal rd, target` and `jal target`).
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

enum class Macro : uint8_t { Li, La, Call, Tail };
struct MacroInfo {
  std::string_view mnemonic;
  std::string_view syntax;
  Macro macro;
  Arg args[2];
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

}  // namespace dojosim::isa::asm_detail
