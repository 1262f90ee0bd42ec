// SPDX-License-Identifier: MIT
// Assembler internals (see isa/assembler.h): source positions, the internal error and the
// tokenizer. Only the asm_*.cpp files and assembler.cpp include this.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dojosim::isa::asm_detail {

// 1-based line and byte column, and how many bytes a message underlines.
struct Loc {
  int line = 0;
  int col = 0;
  int len = 1;
};
// From the start of `a` to the end of `b` (both on one line).
Loc span(const Loc& a, const Loc& b);

// Thrown inside the assembler; assemble() adds the file name and source line (AsmError).
struct Diag {
  Loc loc;
  std::string message;
};
[[noreturn]] void fail(const Loc& loc, std::string message);

enum class Tok : uint8_t {
  Ident,           // names, mnemonics, directives, registers and `.`
  Number,          // integer or character literal in `value`
  Float,           // 1.5, 2e-3, 0x1.8p3: only .float/.double/.bf16 read these (from `text`)
  LocalRef,        // `1b` / `1f`: label number in `value`, direction in `forward`
  String,          // "...": bytes after escapes in `str`
  Punct,           // `punct` is one of , ( ) + - * / % & | ^ ~ ! : = or 'L' (<<), 'R' (>>)
  Other,           // any other byte; an error wherever it has to be parsed
  EndOfStatement,  // newline or `;`
};

struct Token {
  Tok kind = Tok::Other;
  char punct = 0;
  bool forward = false;
  Loc loc;
  std::string_view text;  // as written; points into the source
  uint64_t value = 0;
  std::string str;
};

// Splits the whole source; every statement ends with an EndOfStatement token, including the
// last. Comments (`#` and `//` to end of line, `/* */`) are dropped. Throws Diag for
// unterminated strings, character literals and comments, and malformed numbers.
std::vector<Token> tokenize(std::string_view source);

// 'text' for a message, unprintable bytes escaped and long text shortened.
std::string quote(std::string_view text);

// The candidate closest to `word` by edit distance, or empty if none is close enough to be a
// plausible typo.
std::string_view closest(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace dojosim::isa::asm_detail
