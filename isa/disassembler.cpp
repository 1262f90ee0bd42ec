// SPDX-License-Identifier: MIT
#include "isa/disassembler.h"

#include <fmt/format.h>

#include "isa/csr.h"

namespace dojosim::isa {

std::string format_operand(OperandKind kind, const Decoded& d, uint64_t pc) {
  auto x = [](unsigned r) { return std::string(xreg_abi_name(r)); };
  auto target = [&] { return fmt::format("0x{:x}", pc + static_cast<int64_t>(d.imm)); };
  switch (kind) {
    case OperandKind::Rd: return x(d.rd);
    case OperandKind::Rs1: return x(d.rs1);
    case OperandKind::Rs2: return x(d.rs2);
    case OperandKind::Rs3: return x(d.rs3);
    case OperandKind::Vd:
    case OperandKind::Vs3: return fmt::format("v{}", d.rd);
    case OperandKind::Vs1: return fmt::format("v{}", d.rs1);
    case OperandKind::Vs2: return fmt::format("v{}", d.rs2);
    case OperandKind::Acc: return fmt::format("acc{}", d.rd);
    case OperandKind::Acc2: return fmt::format("acc{}", d.rs2);
    case OperandKind::Imm12:
    case OperandKind::Shamt6:
    case OperandKind::Shamt5: return fmt::format("{}", d.imm);
    case OperandKind::Uimm20:
      return fmt::format("0x{:x}", static_cast<uint32_t>(d.imm) >> 12);
    case OperandKind::Mem: return fmt::format("{}({})", d.imm, x(d.rs1));
    case OperandKind::MemBase: return fmt::format("({})", x(d.rs1));
    case OperandKind::BTarget:
    case OperandKind::JTarget: return target();
    case OperandKind::Csr: {
      const uint32_t n = static_cast<uint32_t>(d.imm) & 0xFFF;
      if (const CsrInfo* c = find_csr(n)) return std::string(c->name);
      return fmt::format("0x{:x}", n);
    }
    case OperandKind::Zimm5:
    case OperandKind::Sem1: return fmt::format("{}", d.rs1);
    case OperandKind::Part: return fmt::format("{}", d.rs2);
    case OperandKind::Sem:
    case OperandKind::Group: return fmt::format("{}", d.rd);
  }
  return "?";
}

std::string disassemble(const Decoded& d, uint64_t pc) {
  if (d.op == Op::kInvalid) return "(illegal)";
  const InstrInfo& row = info(d.op);
  std::string out(row.mnemonic);
  for (int i = 0; i < row.operand_count; ++i) {
    out += i == 0 ? " " : ", ";
    out += format_operand(row.operands[i], d, pc);
  }
  return out;
}

std::string disassemble(uint32_t word, uint64_t pc) {
  const Decoded d = decode(word);
  if (d.op == Op::kInvalid) return fmt::format(".word 0x{:08x}", word);
  return disassemble(d, pc);
}

}  // namespace dojosim::isa
