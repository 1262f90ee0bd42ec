// SPDX-License-Identifier: MIT
// The assembler: RISC-V style assembly text (RV64IM, Zicsr and the dojosim extension of
// isa/instructions.def) to a loadable Program. The syntax reference is docs/assembler.md.
//
// Contract:
//  - Driven by the instruction table: every row is accepted with the operands its syntax names,
//    and whatever disassemble() prints assembles back to the same word at the same pc.
//  - All addresses are absolute and known at assembly time (no relocations, no linker):
//    .text starts at AsmOptions::text_base, then .rodata, .data and .bss, each starting at the
//    next multiple of 16 after the previous one.
//  - Any input either assembles or throws AsmError pointing at the offending token; none
//    crashes, hangs or allocates without bound (the image is capped at kMaxImageBytes).
//  - Pure: no global state; safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "isa/program.h"

namespace dojosim::isa {

struct AsmOptions {
  uint64_t text_base = 0;  ///< address of the first byte of .text
};

/// Largest program image (all sections, .bss included) the assembler builds.
constexpr uint64_t kMaxImageBytes = uint64_t{64} << 20;

/// A diagnostic for one bad input. what() reads
///   file:line:col: message
///       <the source line>
///       ^~~~
/// with the caret under the offending token. For a file that cannot be read, line and column
/// are 0 and what() is "file: message".
class AsmError : public std::runtime_error {
 public:
  AsmError(std::string file, int line, int column, std::string message,
           std::string_view source_line = {}, int length = 1);

  std::string file;
  int line;    ///< 1-based; 0 when the error concerns the whole file
  int column;  ///< 1-based byte column
  std::string message;
};

/// Assembles `source`; `file_name` only labels messages and Program::source_name.
/// Program::entry is the symbol `_start` if defined, else the start of .text. Program::symbols
/// holds every label and .equ/.set symbol except numeric local labels.
Program assemble(std::string_view source, std::string_view file_name, const AsmOptions& = {});

/// Reads and assembles a program file: what `dojosim exec`, `run` and `asm` call for anything
/// that is not an ELF. Throws AsmError with line 0 ("path: message") when the file cannot be
/// read, when its first 4 KiB hold a NUL byte or bytes that are not UTF-8 ("not an ELF and not
/// assembly text: ..."), and when it assembles to no instructions (an empty .text: a node
/// would start at the text base with nothing to run). assemble() refuses neither: a snippet or
/// a data image in memory need not be a program.
Program assemble_file(const std::string& path, const AsmOptions& = {});

}  // namespace dojosim::isa
