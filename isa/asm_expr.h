// SPDX-License-Identifier: MIT
// Assembler internals: symbols and constant expressions. Expressions are parsed once into an
// arena of nodes and evaluated in every layout pass; a value may be unknown while the layout
// settles (a symbol defined further down), which only the final, strict pass turns into an
// error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "isa/asm_lexer.h"

namespace dojosim::isa::asm_detail {

struct Symbol {
  std::string name;
  bool defined = false;  // a label or an assignment defines it somewhere
  bool local = false;    // one definition of a numeric label (`1:`), never exported
  Loc def_loc;
  bool known = false;  // `value` is set (in this pass or, for forward references, the last)
  uint64_t value = 0;
};

class Symbols {
 public:
  int32_t intern(std::string_view name);
  int32_t add_local(uint64_t number, const Loc& loc);
  Symbol& operator[](int32_t id) { return list_[static_cast<size_t>(id)]; }
  const Symbol& operator[](int32_t id) const { return list_[static_cast<size_t>(id)]; }
  const std::vector<Symbol>& list() const { return list_; }
  std::vector<Symbol>& list() { return list_; }

 private:
  std::vector<Symbol> list_;
  std::unordered_map<std::string, int32_t> index_;
};

using NodeId = int32_t;
constexpr NodeId kNoNode = -1;

enum class NodeKind : uint8_t {
  Const,
  Sym,
  Dot,
  LocalRef,
  Neg,
  BitNot,
  LogNot,
  Binary,
  Hi,
  Lo,
  PcrelHi,
  PcrelLo
};

struct Node {
  NodeKind kind = NodeKind::Const;
  char op = 0;           // Binary: the Punct character ('L' <<, 'R' >>)
  bool forward = false;  // LocalRef
  Loc loc;
  NodeId a = kNoNode, b = kNoNode;
  uint64_t value = 0;  // Const; LocalRef: the label number
  int32_t sym = -1;    // Sym (LocalRef once resolved)
  int32_t stmt = -1;   // LocalRef: the statement it appears in
};

// Nesting and size limits keep parsing and (recursive) evaluation bounded on any input.
constexpr int kMaxExprDepth = 64;
constexpr size_t kMaxExprNodes = 512;

// Parses tokens [begin, end) as one expression; all of them must be used. `stmt` is the index
// of the statement, for `1b`/`1f`. `empty_loc` is where to point if the range is empty.
NodeId parse_expr(std::vector<Node>& nodes, Symbols& syms, const Token* begin, const Token* end,
                  int32_t stmt, const Loc& empty_loc);
NodeId make_const(std::vector<Node>& nodes, uint64_t value, const Loc& loc);

struct EvalEnv {
  uint64_t dot = 0;     // value of `.`: the address of the instruction or data item
  bool strict = false;  // final pass: unknown values and bad operations throw Diag
  const Symbols* syms = nullptr;
  // auipc address -> target of its %pcrel_hi, so that %pcrel_lo(label) can find it.
  std::unordered_map<uint64_t, uint64_t>* pcrel_hi = nullptr;
};

// Wrapping 64-bit arithmetic; nullopt if a value is not known yet (never when strict).
std::optional<uint64_t> eval(const std::vector<Node>& nodes, NodeId id, const EvalEnv& env);

// The %hi/%lo split used by lui/auipc + addi: hi (20 bits, as written in lui) and lo (signed
// 12 bits) with (sext(hi << 12) + lo) == v; false if v is not reachable that way from 0 or pc.
bool split_hi_lo(uint64_t v, uint32_t& hi20, int32_t& lo12);

// Register numbers by name: x0..x31 and ABI names (fp is s0), v0..v31, acc0..acc7.
std::optional<unsigned> xreg_number(std::string_view s);
std::optional<unsigned> vreg_number(std::string_view s);
std::optional<unsigned> acc_number(std::string_view s);
bool is_register_name(std::string_view s);

}  // namespace dojosim::isa::asm_detail
