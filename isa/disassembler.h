// SPDX-License-Identifier: MIT
// Disassembly driven by the instruction table. The text re-assembles to the same word when
// assembled at the same pc (branch and jump targets are printed as absolute addresses).
// NOTE: one exception: fence's pred/succ bits are ignored, as the interpreter ignores them, so
// every fence disassembles as `fence` and re-assembles as `fence iorw, iorw` (0x0ff0000f).
#pragma once

#include <cstdint>
#include <string>

#include "isa/instructions.h"

namespace dojosim::isa {

std::string disassemble(uint32_t word, uint64_t pc = 0);
std::string disassemble(const Decoded& d, uint64_t pc = 0);
// The operand as written in assembly: "a0", "v3", "acc1", "-16(sp)", "0x1c", "cycle", "3".
std::string format_operand(OperandKind kind, const Decoded& d, uint64_t pc);

}  // namespace dojosim::isa
