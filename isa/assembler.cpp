// SPDX-License-Identifier: MIT
// How it works: the source is tokenized and parsed once into statements whose operands are
// registers or expression trees. Layout passes then walk the statements computing sizes and
// symbol values until nothing changes (a forward reference may change the size of an `li` or a
// `.space`); a last, strict pass emits the bytes and turns anything still unknown or out of
// range into an error. Everything instruction-specific comes from the instruction table
// (isa/instructions.def) and the pseudo-instruction tables in asm_forms.cpp.
#include "isa/assembler.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>

#include "isa/asm_expr.h"
#include "isa/asm_forms.h"
#include "isa/asm_lexer.h"
#include "isa/csr.h"
#include "isa/formats.h"
#include "isa/instructions.h"

namespace dojosim::isa {
namespace {

using namespace asm_detail;

enum SectionId : uint8_t { kText, kRodata, kData, kBss, kNumSections };
constexpr std::string_view kSectionNames[kNumSections] = {".text", ".rodata", ".data", ".bss"};
constexpr uint64_t kSectionAlign = 16;
// A layout that has not settled after this many passes has a size that depends on itself.
constexpr int kMaxLayoutPasses = 16;
constexpr unsigned kMaxAlignLog2 = 30;
constexpr uint8_t kRa = 1, kT1 = 6;

enum class DirKind : uint8_t {
  Section,
  NamedSection,
  Align,
  Data,
  Float,
  String,
  Space,
  Assign,
  Global,
  Ignore
};

struct DirInfo {
  std::string_view name;
  DirKind kind;
  // Section: which one; Align: 0 if the operand is log2, 1 if bytes; Data/Float: bytes per
  // item; String: 1 if each string gets a terminating NUL.
  uint8_t arg;
  std::string_view syntax;
  int min_ops, max_ops;  // max -1: any number
};

constexpr int kAny = -1;
constexpr DirInfo kDirectives[] = {
    {".text", DirKind::Section, kText, ".text", 0, 0},
    {".rodata", DirKind::Section, kRodata, ".rodata", 0, 0},
    {".data", DirKind::Section, kData, ".data", 0, 0},
    {".bss", DirKind::Section, kBss, ".bss", 0, 0},
    {".section", DirKind::NamedSection, 0, ".section name[, flags...]", 1, kAny},
    {".align", DirKind::Align, 0, ".align log2[, fill[, max]]", 1, 3},
    {".p2align", DirKind::Align, 0, ".p2align log2[, fill[, max]]", 1, 3},
    {".balign", DirKind::Align, 1, ".balign bytes[, fill[, max]]", 1, 3},
    {".byte", DirKind::Data, 1, ".byte value[, value...]", 1, kAny},
    {".half", DirKind::Data, 2, ".half value[, value...]", 1, kAny},
    {".short", DirKind::Data, 2, ".short value[, value...]", 1, kAny},
    {".2byte", DirKind::Data, 2, ".2byte value[, value...]", 1, kAny},
    {".word", DirKind::Data, 4, ".word value[, value...]", 1, kAny},
    {".long", DirKind::Data, 4, ".long value[, value...]", 1, kAny},
    {".4byte", DirKind::Data, 4, ".4byte value[, value...]", 1, kAny},
    {".dword", DirKind::Data, 8, ".dword value[, value...]", 1, kAny},
    {".quad", DirKind::Data, 8, ".quad value[, value...]", 1, kAny},
    {".8byte", DirKind::Data, 8, ".8byte value[, value...]", 1, kAny},
    {".float", DirKind::Float, 4, ".float number[, number...]", 1, kAny},
    {".double", DirKind::Float, 8, ".double number[, number...]", 1, kAny},
    {".bf16", DirKind::Float, 2, ".bf16 number[, number...]", 1, kAny},
    {".ascii", DirKind::String, 0, ".ascii \"text\"[, \"text\"...]", 1, kAny},
    {".asciz", DirKind::String, 1, ".asciz \"text\"[, \"text\"...]", 1, kAny},
    {".string", DirKind::String, 1, ".string \"text\"[, \"text\"...]", 1, kAny},
    {".space", DirKind::Space, 0, ".space size[, fill]", 1, 2},
    {".zero", DirKind::Space, 0, ".zero size[, fill]", 1, 2},
    {".skip", DirKind::Space, 0, ".skip size[, fill]", 1, 2},
    {".equ", DirKind::Assign, 0, ".equ name, value", 2, 2},
    {".set", DirKind::Assign, 0, ".set name, value", 2, 2},
    {".equiv", DirKind::Assign, 0, ".equiv name, value", 2, 2},
    {".globl", DirKind::Global, 0, ".globl name[, name...]", 1, kAny},
    {".global", DirKind::Global, 0, ".global name[, name...]", 1, kAny},
    // Accepted for compatibility with compiler output; they mean nothing without a linker.
    {".type", DirKind::Ignore, 0, ".type name, @function", 0, kAny},
    {".size", DirKind::Ignore, 0, ".size name, size", 0, kAny},
    {".option", DirKind::Ignore, 0, ".option ...", 0, kAny},
    {".file", DirKind::Ignore, 0, ".file \"name\"", 0, kAny},
    {".ident", DirKind::Ignore, 0, ".ident \"text\"", 0, kAny},
    {".attribute", DirKind::Ignore, 0, ".attribute ...", 0, kAny},
};

const DirInfo* find_directive(std::string_view name) {
  for (const DirInfo& d : kDirectives)
    if (d.name == name) return &d;
  return nullptr;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view text_of(const Token* b, const Token* e) {
  const char* first = b->text.data();
  const char* last = (e - 1)->text.data() + (e - 1)->text.size();
  return std::string_view(first, static_cast<size_t>(last - first));
}

Loc loc_of(const Token* b, const Token* e) {
  return span(b->loc, (e - 1)->loc);
}

bool is_punct(const Token& t, char c) {
  return t.kind == Tok::Punct && t.punct == c;
}

uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

std::string_view line_of(std::string_view src, int line) {
  size_t start = 0;
  for (int l = 1; l < line; ++l) {
    const size_t nl = src.find('\n', start);
    if (nl == std::string_view::npos) return {};
    start = nl + 1;
  }
  const size_t end = src.find('\n', start);
  std::string_view s =
      src.substr(start, end == std::string_view::npos ? src.size() - start : end - start);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

struct Operand {
  Loc loc;
  uint8_t reg = 0;        // register, or the base register of imm(rs1) / (rs1)
  NodeId expr = kNoNode;  // immediate, offset, target or CSR number
};

enum class StmtKind : uint8_t { Label, Assign, Section, Instr, Data, Bytes, Space, Align };

struct Stmt {
  StmtKind kind;
  Loc loc;           // the label, mnemonic or directive
  uint8_t arg = 0;   // Section: which; Data: bytes per item; Align: DirInfo::arg
  int32_t sym = -1;  // Label, Assign
  Form form;         // Instr
  std::vector<Operand> ops;
  std::string bytes;    // Bytes
  uint8_t li_slot =
      0;  // li, la.global: instructions reserved; only grows, so passes cannot oscillate
};

using Range = std::pair<const Token*, const Token*>;

class Assembler {
 public:
  Assembler(std::string_view source, const AsmOptions& opt) : src_(source), opt_(opt) {}

  Program run(std::string_view file_name) {
    parse();
    layout();
    pass(/*strict=*/true);
    return program(file_name);
  }

 private:
  struct SectionState {
    uint64_t base = 0;
    uint64_t size = 0;
    std::vector<uint8_t> bytes;
  };

  // ---- parsing --------------------------------------------------------------------------------

  void parse() {
    toks_ = tokenize(src_);
    const Token* p = toks_.data();
    const Token* const end = p + toks_.size();
    while (p < end) {
      const Token* q = p;
      while (q->kind != Tok::EndOfStatement) ++q;  // the lexer ends with one
      if (q != p) statement(p, q);
      p = q + 1;
    }
    resolve_local_labels();
  }

  Stmt& add(StmtKind kind, const Loc& loc) {
    Stmt s;
    s.kind = kind;
    s.loc = loc;
    stmts_.push_back(std::move(s));
    return stmts_.back();
  }
  // The statement being parsed (already added), for `1b`/`1f` in its operands.
  int32_t current_stmt() const { return static_cast<int32_t>(stmts_.size()) - 1; }

  void statement(const Token* b, const Token* e) {
    while (e - b >= 2 && is_punct(b[1], ':') && (b->kind == Tok::Ident || b->kind == Tok::Number)) {
      label(*b);
      b += 2;
    }
    if (b == e) return;
    if (b->kind == Tok::Ident && e - b >= 2 && is_punct(b[1], '='))
      return assignment(*b, b + 2, e, b[1].loc);
    if (b->kind != Tok::Ident || b->text == ".")
      fail(b->loc,
           fmt::format("expected an instruction, directive or label, got {}", quote(b->text)));
    if (b->text[0] == '.')
      directive(b, e);
    else
      instruction(b, e);
  }

  void define(int32_t sym, const Token& name) {
    if (name.text == ".") fail(name.loc, "'.' is the current address and cannot be defined");
    if (is_register_name(name.text))
      fail(name.loc, fmt::format("cannot define {}: it is a register name", quote(name.text)));
    Symbol& s = syms_[sym];
    if (s.defined)
      fail(name.loc, fmt::format("duplicate definition of {}: first defined on line {}",
                                 quote(name.text), s.def_loc.line));
    s.defined = true;
    s.def_loc = name.loc;
  }

  void label(const Token& t) {
    int32_t sym;
    if (t.kind == Tok::Number) {
      if (!std::all_of(t.text.begin(), t.text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        fail(t.loc, fmt::format("a label is a name or a decimal number, got {}", quote(t.text)));
      // Decimal even with a leading 0, as `01b` reads it (the token's value would be octal).
      uint64_t number = 0;
      if (std::from_chars(t.text.data(), t.text.data() + t.text.size(), number).ec != std::errc{})
        fail(t.loc, fmt::format("label number {} does not fit in 64 bits", quote(t.text)));
      sym = syms_.add_local(number, t.loc);
      local_defs_[number].push_back({static_cast<int32_t>(stmts_.size()), sym});
    } else {
      sym = syms_.intern(t.text);
      define(sym, t);
    }
    add(StmtKind::Label, t.loc).sym = sym;
  }

  void assignment(const Token& name, const Token* b, const Token* e, const Loc& after) {
    const int32_t sym = syms_.intern(name.text);
    define(sym, name);
    Stmt& s = add(StmtKind::Assign, name.loc);
    s.sym = sym;
    Operand op;
    op.loc = b == e ? after : loc_of(b, e);
    op.expr = expr(b, e, after);
    s.ops.push_back(op);
  }

  NodeId expr(const Token* b, const Token* e, const Loc& empty_loc) {
    return parse_expr(nodes_, syms_, b, e, current_stmt(), empty_loc);
  }

  // Operands split at top-level commas. `allow_empty` admits GNU's `.balign 8,,4`.
  std::vector<Range> split_operands(const Token* b, const Token* e, bool allow_empty = false) {
    std::vector<Range> out;
    if (b == e) return out;
    std::vector<const Token*> open;
    const Token* start = b;
    for (const Token* p = b; p != e; ++p) {
      if (is_punct(*p, '(')) {
        open.push_back(p);
      } else if (is_punct(*p, ')')) {
        if (open.empty()) fail(p->loc, "unmatched ')'");
        open.pop_back();
      } else if (is_punct(*p, ',') && open.empty()) {
        if (start == p && !allow_empty) fail(p->loc, "missing operand before ','");
        out.push_back({start, p});
        start = p + 1;
      }
    }
    if (!open.empty()) fail(open.back()->loc, "missing ')' for this '('");
    if (start == e && !allow_empty) fail((e - 1)->loc, "missing operand after ','");
    out.push_back({start, e});
    return out;
  }

  void instruction(const Token* b, const Token* e) {
    const Token& m = *b;
    const std::vector<Form>* forms = forms_of(m.text);
    if (!forms) unknown_mnemonic(m);
    const std::vector<Range> ops = split_operands(b + 1, e);
    const Form* form = nullptr;
    for (const Form& f : *forms)
      if (static_cast<size_t>(f.operand_count()) == ops.size()) form = &f;
    if (!form) operand_count_error(m, *forms, ops);
    if (section_ == kBss) fail(m.loc, "instructions cannot go in .bss, which holds only zeros");
    Stmt& s = add(StmtKind::Instr, m.loc);
    s.form = *form;
    for (int i = 0; i < form->operand_count(); ++i)
      s.ops.push_back(operand(form->arg(i), ops[static_cast<size_t>(i)], form->operand_name(i)));
    if (form->macro && form->macro->macro == Macro::LaGlobal && s.ops[0].reg == s.ops[2].reg)
      fail(s.ops[2].loc,
           fmt::format("la.global writes rd before it reads yreg, so yreg must be another register "
                       "than rd ({} is both); xreg may be rd",
                       quote(xreg_abi_name(s.ops[0].reg))));
  }

  [[noreturn]] void unknown_mnemonic(const Token& m) {
    std::string msg = fmt::format("unknown instruction {}", quote(m.text));
    const std::string low = lower(m.text);
    if (forms_of(low)) {
      msg += fmt::format("; mnemonics are lower case: '{}'", low);
    } else if (std::string_view c = closest(m.text, all_mnemonics()); !c.empty()) {
      msg += fmt::format("; did you mean '{}'?", c);
    }
    fail(m.loc, msg);
  }

  [[noreturn]] void operand_count_error(const Token& m, const std::vector<Form>& forms,
                                        const std::vector<Range>& ops) {
    const size_t got = ops.size();
    size_t most = 0;
    std::string expected;
    for (const Form& f : forms) {
      if (!expected.empty()) expected += " or ";
      expected += fmt::format("'{}'", f.syntax());
      most = std::max(most, static_cast<size_t>(f.operand_count()));
    }
    std::string msg;
    if (forms.size() == 1) {
      const int n = forms[0].operand_count();
      msg = fmt::format("'{}' takes {} operand{} ({}), got {}", m.text,
                        n == 0 ? "no" : std::to_string(n), n == 1 ? "" : "s", expected, got);
    } else {
      msg = fmt::format("wrong number of operands for '{}': expected {}, got {}", m.text, expected,
                        got);
    }
    // Point at the first operand too many, or at the mnemonic when some are missing.
    const Loc where = got > most ? loc_of(ops[most].first, ops.back().second) : m.loc;
    fail(where, msg);
  }

  // `name` is the operand as the syntax calls it, or "" for the base register of a memory operand.
  unsigned reg(Arg arg, const Range& r, std::string_view name) {
    const auto [b, e] = r;
    if (e - b == 1 && b->kind == Tok::Ident) {
      const auto n = arg == Arg::XReg   ? xreg_number(b->text)
                     : arg == Arg::VReg ? vreg_number(b->text)
                                        : acc_number(b->text);
      if (n) return *n;
    }
    const char* want = arg == Arg::XReg
                           ? "an x register (x0..x31 or zero ra sp gp tp t0-t6 s0-s11 fp a0-a7)"
                       : arg == Arg::VReg ? "a vector register (v0..v31)"
                                          : "an accumulator (acc0..acc7)";
    fail(loc_of(b, e),
         name.empty() ? fmt::format("bad base register {}: expected {}", quote(text_of(b, e)), want)
                      : fmt::format("bad register {} for {}: expected {}", quote(text_of(b, e)),
                                    name, want));
  }

  Operand operand(Arg arg, const Range& r, std::string_view name) {
    const auto [b, e] = r;
    Operand op;
    op.loc = loc_of(b, e);
    switch (arg) {
      case Arg::XReg:
      case Arg::VReg:
      case Arg::AccReg:
        op.reg = static_cast<uint8_t>(reg(arg, r, name));
        break;
      case Arg::Expr:
        op.expr = expr(b, e, op.loc);
        break;
      case Arg::Csr:
        if (e - b == 1 && b->kind == Tok::Ident) {
          if (const CsrInfo* c = find_csr(b->text)) {
            op.expr = make_const(nodes_, c->number, b->loc);
            break;
          }
        }
        op.expr = expr(b, e, op.loc);
        break;
      case Arg::Mem: {
        if (!is_punct(*(e - 1), ')'))
          fail(op.loc, fmt::format("{} must be written offset(register), as in 8(sp); got {}", name,
                                   quote(text_of(b, e))));
        const Token* open = e - 1;
        for (int depth = 0;; --open) {
          if (is_punct(*open, ')')) ++depth;
          if (is_punct(*open, '(') && --depth == 0) break;
        }
        if (e - open != 3)
          fail(loc_of(open, e),
               fmt::format("expected a base register in parentheses, as in 8(sp); got {}",
                           quote(text_of(open, e))));
        op.reg = static_cast<uint8_t>(reg(Arg::XReg, {open + 1, open + 2}, ""));
        op.expr = open == b ? make_const(nodes_, 0, op.loc) : expr(b, open, op.loc);
        break;
      }
      case Arg::MemBase:
        if (e - b != 3 || !is_punct(b[0], '(') || !is_punct(b[2], ')'))
          fail(
              op.loc,
              fmt::format("{} is a base register in parentheses without offset, as in (a0); got {}",
                          name, quote(text_of(b, e))));
        op.reg = static_cast<uint8_t>(reg(Arg::XReg, {b + 1, b + 2}, ""));
        break;
    }
    return op;
  }

  void directive(const Token* b, const Token* e) {
    const Token& d = *b;
    const DirInfo* info = find_directive(d.text);
    if (!info) {
      std::vector<std::string_view> names;
      for (const DirInfo& x : kDirectives) names.push_back(x.name);
      std::string msg = fmt::format("unknown directive {}", quote(d.text));
      if (std::string_view c = closest(d.text, names); !c.empty())
        msg += fmt::format("; did you mean '{}'?", c);
      fail(d.loc, msg);
    }
    if (info->kind == DirKind::Ignore) return;
    const std::vector<Range> ops = split_operands(b + 1, e, info->kind == DirKind::Align);
    const int n = static_cast<int>(ops.size());
    if (n < info->min_ops || (info->max_ops != kAny && n > info->max_ops)) {
      const Loc where = n > info->max_ops && info->max_ops != kAny
                            ? loc_of(ops[static_cast<size_t>(info->max_ops)].first, e)
                            : d.loc;
      fail(where, fmt::format("wrong number of operands for '{}': expected '{}', got {}", d.text,
                              info->syntax, n));
    }
    const bool emits_data = info->kind == DirKind::Data || info->kind == DirKind::Float ||
                            info->kind == DirKind::String;
    if (emits_data && section_ == kBss)
      fail(d.loc, fmt::format("'{}' in .bss: .bss holds only zeros; use .space or .zero", d.text));
    switch (info->kind) {
      case DirKind::Section:
        section_ = static_cast<SectionId>(info->arg);
        add(StmtKind::Section, d.loc).arg = info->arg;
        break;
      case DirKind::NamedSection:
        named_section(d, ops[0]);
        break;
      case DirKind::Align: {
        if (ops[0].first == ops[0].second)
          fail(d.loc, fmt::format("'{}' needs an alignment", d.text));
        Stmt& s = add(StmtKind::Align, d.loc);
        s.arg = info->arg;
        for (const Range& r : ops) {
          Operand op;
          if (r.first != r.second) {
            op.loc = loc_of(r.first, r.second);
            op.expr = expr(r.first, r.second, op.loc);
          }
          s.ops.push_back(op);
        }
        break;
      }
      case DirKind::Data:
      case DirKind::Space: {
        Stmt& s = add(info->kind == DirKind::Data ? StmtKind::Data : StmtKind::Space, d.loc);
        s.arg = info->arg;
        for (const Range& r : ops) s.ops.push_back(operand(Arg::Expr, r, "value"));
        break;
      }
      case DirKind::Float: {
        Stmt& s = add(StmtKind::Bytes, d.loc);
        for (const Range& r : ops) float_bytes(r, info->arg, s.bytes);
        break;
      }
      case DirKind::String: {
        Stmt& s = add(StmtKind::Bytes, d.loc);
        for (const Range& r : ops) {
          if (r.second - r.first != 1 || r.first->kind != Tok::String)
            fail(loc_of(r.first, r.second),
                 fmt::format("'{}' expects strings in double quotes, got {}", d.text,
                             quote(text_of(r.first, r.second))));
          s.bytes += r.first->str;
          if (info->arg) s.bytes.push_back('\0');
        }
        break;
      }
      case DirKind::Assign: {
        const Range& name = ops[0];
        if (name.second - name.first != 1 || name.first->kind != Tok::Ident)
          fail(loc_of(name.first, name.second),
               fmt::format("'{}' expects a symbol name first, got {}", d.text,
                           quote(text_of(name.first, name.second))));
        assignment(*name.first, ops[1].first, ops[1].second, ops[1].first->loc);
        break;
      }
      case DirKind::Global:
        for (const Range& r : ops) {
          if (r.second - r.first != 1 || r.first->kind != Tok::Ident)
            fail(loc_of(r.first, r.second), fmt::format("'{}' expects symbol names, got {}", d.text,
                                                        quote(text_of(r.first, r.second))));
        }
        break;
      case DirKind::Ignore:
        break;
    }
  }

  void named_section(const Token& d, const Range& r) {
    const Token& t = *r.first;
    if (t.kind != Tok::Ident && t.kind != Tok::String)
      fail(t.loc, fmt::format("'.section' expects a section name, got {}", quote(t.text)));
    const std::string_view name = t.kind == Tok::String ? std::string_view(t.str) : t.text;
    auto is = [&](std::string_view base) {
      return name == base || (name.size() > base.size() && name.substr(0, base.size()) == base &&
                              name[base.size()] == '.');
    };
    SectionId id;
    if (is(".text"))
      id = kText;
    else if (is(".rodata") || is(".srodata"))
      id = kRodata;
    else if (is(".data") || is(".sdata"))
      id = kData;
    else if (is(".bss") || is(".sbss"))
      id = kBss;
    else
      fail(t.loc, fmt::format("unknown section {}: a program has .text, .rodata, .data and .bss "
                              "(and names starting with them, like .text.init)",
                              quote(name)));
    section_ = id;
    add(StmtKind::Section, d.loc).arg = id;
  }

  // A float literal (decimal, hex float, inf, nan, optional sign) as `size` little-endian bytes:
  // fp32 (4), fp64 (8) or bf16 (2), rounded to nearest even. fp32 and fp64 round once from the
  // literal; bf16 rounds its fp64 value, which differs only for a literal of more than 16
  // significant digits lying within 2^-53 of a bf16 tie.
  void float_bytes(const Range& r, uint8_t size, std::string& out) {
    const Loc loc = loc_of(r.first, r.second);
    std::string_view t = text_of(r.first, r.second);
    const bool negative = !t.empty() && t[0] == '-';
    if (!t.empty() && (t[0] == '-' || t[0] == '+')) t.remove_prefix(1);
    auto fmt_kind = std::chars_format::general;
    if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
      t.remove_prefix(2);
      fmt_kind = std::chars_format::hex;
    }
    const char* name = size == 4 ? "fp32" : size == 8 ? "fp64" : "bf16";
    auto bad = [&](const char* why) {
      fail(loc, fmt::format("{} {} for {}", quote(text_of(r.first, r.second)), why, name));
    };
    double d = 0;
    auto res = std::from_chars(t.data(), t.data() + t.size(), d, fmt_kind);
    if (res.ptr != t.data() + t.size() || t.empty() || res.ec == std::errc::invalid_argument)
      bad("is not a floating-point number");
    if (res.ec == std::errc::result_out_of_range) bad("is out of range");
    uint64_t bits = 0;
    if (size == 4) {
      float f = 0;
      res = std::from_chars(t.data(), t.data() + t.size(), f, fmt_kind);
      if (res.ec == std::errc::result_out_of_range) {
        if (std::fabs(d) > 1.0) bad("is out of range");
        f = static_cast<float>(d);  // a denormal or zero: fp32's underflow, not an error
      }
      if (negative) f = -f;
      uint32_t u;
      std::memcpy(&u, &f, 4);
      bits = u;
    } else if (size == 8) {
      if (negative) d = -d;
      std::memcpy(&bits, &d, 8);
    } else {
      if (negative) d = -d;
      bits = f64_to_bf16(d, Rounding::NearestEven);
      if (std::isfinite(d) && (bits & 0x7FFF) == 0x7F80) bad("is out of range");
    }
    for (int i = 0; i < size; ++i) out.push_back(static_cast<char>(bits >> (8 * i)));
  }

  void resolve_local_labels() {
    for (Node& n : nodes_) {
      if (n.kind != NodeKind::LocalRef) continue;
      auto it = local_defs_.find(n.value);
      int32_t sym = -1;
      if (it != local_defs_.end()) {
        // Definitions are in statement order: the first after the reference, or the last before.
        const auto& defs = it->second;
        const auto after =
            std::upper_bound(defs.begin(), defs.end(), n.stmt,
                             [](int32_t stmt, const auto& def) { return stmt < def.first; });
        const auto before =
            std::lower_bound(defs.begin(), defs.end(), n.stmt,
                             [](const auto& def, int32_t stmt) { return def.first < stmt; });
        if (n.forward && after != defs.end()) sym = after->second;
        if (!n.forward && before != defs.begin()) sym = std::prev(before)->second;
      }
      if (sym < 0)
        fail(n.loc, fmt::format("no local label '{}:' {} this line", n.value,
                                n.forward ? "after" : "before"));
      n.kind = NodeKind::Sym;
      n.sym = sym;
    }
  }

  // ---- layout and emission ---------------------------------------------------------------------

  using Snapshot = std::pair<std::vector<uint64_t>, std::vector<std::pair<bool, uint64_t>>>;
  Snapshot snapshot() const {
    Snapshot s;
    s.first = sizes_;
    for (const Symbol& y : syms_.list()) s.second.push_back({y.known, y.value});
    return s;
  }

  void layout() {
    sizes_.assign(stmts_.size(), 0);
    for (auto& s : sections_) s.base = opt_.text_base;
    Snapshot prev = snapshot();
    for (int p = 0; p < kMaxLayoutPasses; ++p) {
      pass(/*strict=*/false);
      Snapshot now = snapshot();
      if (p > 0 && now == prev) return;
      prev = std::move(now);
    }
    // Report the first statement whose size still moves, or else the first symbol.
    const std::vector<uint64_t> last = sizes_;
    pass(false);
    for (size_t i = 0; i < stmts_.size(); ++i)
      if (sizes_[i] != last[i])
        fail(stmts_[i].loc,
             "the size of this statement does not settle: it depends on an address that depends on "
             "it");
    for (size_t i = 0; i < syms_.list().size(); ++i) {
      const Symbol& y = syms_.list()[i];
      if (y.defined && prev.second[i] != std::make_pair(y.known, y.value))
        fail(y.def_loc,
             fmt::format("the value of {} does not settle: it depends on itself", quote(y.name)));
    }
  }

  void pass(bool strict) {
    strict_ = strict;
    cur_ = kText;
    total_ = 0;
    pcrel_.clear();
    for (auto& s : sections_) {
      s.size = 0;
      s.bytes.clear();
    }
    const std::vector<uint64_t> layout_sizes = sizes_;
    for (size_t i = 0; i < stmts_.size(); ++i) {
      const uint64_t before = total_;
      at_ = &stmts_[i];
      exec(stmts_[i]);
      sizes_[i] = total_ - before;
    }
    if (strict && sizes_ != layout_sizes)
      fail(Loc{}, "internal error: emitted sizes differ from the layout");
    uint64_t next = opt_.text_base;
    for (int i = 0; i < kNumSections; ++i) {
      if (i > 0) next = align_up(next, kSectionAlign);
      sections_[i].base = next;
      next += sections_[i].size;
    }
  }

  uint64_t pc() const { return sections_[cur_].base + sections_[cur_].size; }

  bool grow(uint64_t n) {
    if (n > kMaxImageBytes - total_) {
      if (strict_)
        fail(at_->loc, fmt::format("the program would exceed {} MiB", kMaxImageBytes >> 20));
      return false;
    }
    if (n > UINT64_MAX - pc()) {  // only with a text_base near 2^64
      if (strict_) fail(at_->loc, "the program would run past the end of the address space");
      return false;
    }
    total_ += n;
    sections_[cur_].size += n;
    return true;
  }
  void put_fill(uint64_t n, uint8_t byte) {
    if (!grow(n) || !strict_ || cur_ == kBss) return;
    auto& v = sections_[cur_].bytes;
    v.insert(v.end(), n, byte);
  }
  void put_le(uint64_t value, int n) {
    if (!grow(static_cast<uint64_t>(n)) || !strict_ || cur_ == kBss) return;
    for (int i = 0; i < n; ++i)
      sections_[cur_].bytes.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
  // `count` copies of a word, doubling the copied run so that megabytes of padding stay fast.
  void put_words(uint32_t word, uint64_t count) {
    if (count == 0 || !grow(4 * count) || !strict_ || cur_ == kBss) return;
    auto& v = sections_[cur_].bytes;
    const size_t start = v.size(), bytes = static_cast<size_t>(4 * count);
    v.resize(start + bytes);
    for (int i = 0; i < 4; ++i)
      v[start + static_cast<size_t>(i)] = static_cast<uint8_t>(word >> (8 * i));
    for (size_t done = 4; done < bytes; done *= 2)
      std::memcpy(&v[start + done], &v[start], std::min(done, bytes - done));
  }
  void put_bytes(const std::string& s) {
    if (!grow(s.size()) || !strict_ || cur_ == kBss) return;
    sections_[cur_].bytes.insert(sections_[cur_].bytes.end(), s.begin(), s.end());
  }

  std::optional<uint64_t> value(NodeId id, uint64_t dot) {
    EvalEnv env;
    env.dot = dot;
    env.strict = strict_;
    env.syms = &syms_;
    env.pcrel_hi = &pcrel_;
    return eval(nodes_, id, env);
  }
  // Strict-pass value: eval() has already thrown if it is unknown.
  int64_t strict_value(const Operand& op, uint64_t dot) {
    const auto v = value(op.expr, dot);
    if (!v) fail(op.loc, "internal error: value unknown in the final pass");
    return static_cast<int64_t>(*v);
  }

  void exec(Stmt& s) {
    switch (s.kind) {
      case StmtKind::Label: {
        Symbol& y = syms_[s.sym];
        y.value = pc();
        y.known = true;
        break;
      }
      case StmtKind::Assign: {
        const auto v = value(s.ops[0].expr, pc());
        Symbol& y = syms_[s.sym];
        y.known = v.has_value();
        if (v) y.value = *v;
        break;
      }
      case StmtKind::Section:
        cur_ = static_cast<SectionId>(s.arg);
        break;
      case StmtKind::Instr:
        if (s.form.macro)
          exec_macro(s);
        else
          exec_instr(s);
        break;
      case StmtKind::Data:
        for (const Operand& op : s.ops) {
          const auto v = value(op.expr, pc());
          if (strict_) check_fits(static_cast<int64_t>(*v), s.arg, op.loc);
          put_le(v.value_or(0), s.arg);
        }
        break;
      case StmtKind::Bytes:
        put_bytes(s.bytes);
        break;
      case StmtKind::Space:
        exec_space(s);
        break;
      case StmtKind::Align:
        exec_align(s);
        break;
    }
  }

  // Data items may be written signed or unsigned: .byte takes -128..255.
  static void check_fits(int64_t v, int bytes, const Loc& loc) {
    if (bytes >= 8) return;
    const int64_t min = -(int64_t{1} << (8 * bytes - 1)), max = (int64_t{1} << (8 * bytes)) - 1;
    if (v < min || v > max)
      fail(loc, fmt::format("value {} does not fit in {} byte{}: allowed {}..{}", v, bytes,
                            bytes == 1 ? "" : "s", min, max));
  }

  uint8_t fill_byte(const Operand& op) {
    const auto v = value(op.expr, pc());
    if (!strict_) return static_cast<uint8_t>(v.value_or(0));
    check_fits(static_cast<int64_t>(*v), 1, op.loc);
    if (cur_ == kBss && *v != 0) fail(op.loc, ".bss holds only zeros: the fill must be 0");
    return static_cast<uint8_t>(*v);
  }

  void exec_space(const Stmt& s) {
    const auto n = value(s.ops[0].expr, pc());
    const uint8_t fill = s.ops.size() > 1 ? fill_byte(s.ops[1]) : 0;
    if (!n) return;  // not known yet: take no room in this pass
    if (static_cast<int64_t>(*n) < 0) {
      if (strict_) fail(s.ops[0].loc, fmt::format("negative size {}", static_cast<int64_t>(*n)));
      return;
    }
    put_fill(*n, fill);
  }

  void exec_align(const Stmt& s) {
    const auto a = value(s.ops[0].expr, pc());
    if (!a) return;
    uint64_t bytes;
    if (s.arg == 0) {
      if (*a > kMaxAlignLog2) {
        if (strict_)
          fail(s.ops[0].loc, fmt::format("alignment 2^{} is too large: at most 2^{}",
                                         static_cast<int64_t>(*a), kMaxAlignLog2));
        return;
      }
      bytes = uint64_t{1} << *a;
    } else {
      if (*a == 0 || (*a & (*a - 1)) != 0 || *a > (uint64_t{1} << kMaxAlignLog2)) {
        if (strict_)
          fail(s.ops[0].loc, fmt::format("alignment {} must be a power of two up to 2^{}",
                                         static_cast<int64_t>(*a), kMaxAlignLog2));
        return;
      }
      bytes = *a;
    }
    const bool has_fill = s.ops.size() > 1 && s.ops[1].expr != kNoNode;
    const uint8_t fill = has_fill ? fill_byte(s.ops[1]) : 0;
    const uint64_t pad = (bytes - pc() % bytes) % bytes;
    if (s.ops.size() > 2 && s.ops[2].expr != kNoNode) {
      const auto max = value(s.ops[2].expr, pc());
      if (!max || pad > *max) return;  // GNU's max-skip: don't align if it costs more
    }
    if (pad > kMaxImageBytes - total_ || !strict_ || cur_ != kText || has_fill) {
      put_fill(pad, fill);  // checks the cap before anything is allocated
      return;
    }
    // Code is padded with nops (after zeros up to a 4-byte boundary), so it can run through.
    const uint64_t head = std::min(pad, (4 - pc() % 4) % 4);
    put_fill(head, 0);
    put_words(encode_nop(), (pad - head) / 4);
    put_fill((pad - head) % 4, 0);
  }

  static uint32_t encode_nop() {
    Decoded d;
    d.op = Op::ADDI;
    return encode(d);
  }

  void check_instruction_alignment() {
    if (pc() % 4 != 0)
      fail(at_->loc,
           fmt::format("instruction at 0x{:x} is not 4-byte aligned (put '.align 2' before it)",
                       pc()));
  }

  void exec_instr(const Stmt& s) {
    if (!strict_) {
      grow(4);  // every table instruction and alias is one word
      return;
    }
    check_instruction_alignment();
    Decoded d;
    if (s.form.row) {
      d.op = s.form.row->op;
    } else {
      const Alias& a = *s.form.alias;
      d.op = a.op;
      d.rd = a.rd;
      d.rs1 = a.rs1;
      d.rs2 = a.rs2;
      d.imm = a.imm;
    }
    for (int i = 0; i < s.form.operand_count(); ++i)
      place(d, s.form.kind(i), s.ops[static_cast<size_t>(i)], s.form.operand_name(i));
    put_le(encode(d), 4);
  }

  // Range-checks an immediate operand against the table's range for its kind.
  int64_t immediate(OperandKind k, const Operand& op, std::string_view name) {
    const int64_t v = strict_value(op, pc());
    const ImmRange r = imm_range(k);
    if (v < r.min || v > r.max) {
      const bool hex = k == OperandKind::Uimm20 || k == OperandKind::Csr;
      const std::string what = k == OperandKind::Mem ? fmt::format("offset {} in {}", v, name)
                                                     : fmt::format("{} value {}", name, v);
      fail(op.loc, hex ? fmt::format("{} is out of range 0x{:x}..0x{:x}", what, r.min, r.max)
                       : fmt::format("{} is out of range {}..{}", what, r.min, r.max));
    }
    return v;
  }

  // A target is an absolute address (a label or a number, as in GNU as); it is encoded
  // relative to this instruction.
  int32_t target(OperandKind k, const Operand& op, std::string_view name) {
    const uint64_t here = pc();
    const auto t = static_cast<uint64_t>(strict_value(op, here));
    const auto off = static_cast<int64_t>(t - here);
    const ImmRange r = imm_range(k);
    if (off < r.min || off > r.max)
      fail(op.loc,
           fmt::format("{} 0x{:x} is out of range: offset {} from pc 0x{:x}, allowed {}..{}", name,
                       t, off, here, r.min, r.max));
    if (off % r.align != 0)
      fail(op.loc, fmt::format("misaligned {} 0x{:x}: offset {} is not a multiple of {}", name, t,
                               off, r.align));
    return static_cast<int32_t>(off);
  }

  void check_csr_name(const Operand& op) {
    const Node& n = nodes_[static_cast<size_t>(op.expr)];
    if (n.kind != NodeKind::Sym || syms_[n.sym].defined) return;
    std::vector<std::string_view> names;
    for (const CsrInfo& c : kCsrs) names.push_back(c.name);
    std::string msg = fmt::format("unknown CSR {}", quote(syms_[n.sym].name));
    if (std::string_view c = closest(syms_[n.sym].name, names); !c.empty())
      msg += fmt::format("; did you mean '{}'?", c);
    fail(op.loc, msg + " (or write its number)");
  }

  // Puts operand `op` of kind `k` into the field the kind names (see OperandKind).
  void place(Decoded& d, OperandKind k, const Operand& op, std::string_view name) {
    using K = OperandKind;
    auto u8 = [](int64_t v) { return static_cast<uint8_t>(v); };
    switch (k) {
      case K::Rd:
      case K::Vd:
      case K::Vs3:
      case K::Acc:
        d.rd = op.reg;
        return;
      case K::Rs1:
      case K::Vs1:
      case K::MemBase:
        d.rs1 = op.reg;
        return;
      case K::Rs2:
      case K::Vs2:
      case K::Acc2:
        d.rs2 = op.reg;
        return;
      case K::Rs3:
        d.rs3 = op.reg;
        return;
      case K::Mem:
        d.rs1 = op.reg;
        d.imm = static_cast<int32_t>(immediate(k, op, name));
        return;
      case K::BTarget:
      case K::JTarget:
        d.imm = target(k, op, name);
        return;
      case K::Csr:
        check_csr_name(op);
        d.imm = static_cast<int32_t>(immediate(k, op, name));
        return;
      case K::Uimm20:
        d.imm = static_cast<int32_t>(static_cast<uint32_t>(immediate(k, op, name)) << 12);
        return;
      case K::Imm12:
      case K::Shamt6:
      case K::Shamt5:
        d.imm = static_cast<int32_t>(immediate(k, op, name));
        return;
      case K::Zimm5:
      case K::Sem1:
        d.rs1 = u8(immediate(k, op, name));
        return;
      case K::Part: {
        const int64_t part = immediate(k, op, name);
        const InstrInfo& row = info(d.op);
        if (part >= row.parts)
          fail(op.loc, fmt::format("{} value {} is out of range 0..{} for {}", name, part,
                                   row.parts - 1, row.mnemonic));
        d.rs2 = u8(part);
        return;
      }
      case K::Sem:
      case K::Group:
        d.rd = u8(immediate(k, op, name));
        return;
    }
  }

  void put_insn(Op op, uint8_t rd, uint8_t rs1, int32_t imm) {
    Decoded d;
    d.op = op;
    d.rd = rd;
    d.rs1 = rs1;
    d.imm = imm;
    put_le(encode(d), 4);
  }

  void exec_macro(Stmt& s) {
    const uint64_t here = pc();
    const Macro m = s.form.macro->macro;
    if (m == Macro::LaGlobal) return exec_la_global(s);
    if (m == Macro::Li) {
      LiStep steps[kMaxLiSteps];
      const auto v = value(s.ops[1].expr, here);
      const int n = v ? li_sequence(*v, steps) : 1;
      if (!strict_) {
        s.li_slot = static_cast<uint8_t>(std::max<int>(s.li_slot, n));
        grow(4u * s.li_slot);
        return;
      }
      check_instruction_alignment();
      if (n > s.li_slot) fail(s.loc, "internal error: li grew after layout");
      const uint8_t rd = s.ops[0].reg;
      for (int i = 0; i < n; ++i) {
        const LiStep& st = steps[i];
        const int32_t imm =
            st.op == Op::LUI ? static_cast<int32_t>(static_cast<uint32_t>(st.imm) << 12) : st.imm;
        put_insn(st.op, rd, st.op == Op::LUI || st.from_zero ? 0 : rd, imm);
      }
      // Only when a forward reference made an earlier pass reserve more room.
      for (int i = n; i < s.li_slot; ++i) put_le(encode_nop(), 4);
      return;
    }
    if (!strict_) {
      grow(8);  // auipc + addi/jalr, always: no relaxation
      return;
    }
    check_instruction_alignment();
    const Operand& sym = s.ops.back();
    const auto t = static_cast<uint64_t>(strict_value(sym, here));
    uint32_t hi;
    int32_t lo;
    if (!split_hi_lo(t - here, hi, lo))
      fail(sym.loc, fmt::format("{} target 0x{:x} is more than 2 GiB away from pc 0x{:x}",
                                s.form.mnemonic(), t, here));
    const uint8_t rd = m == Macro::La ? s.ops[0].reg : m == Macro::Call ? kRa : kT1;
    put_insn(Op::AUIPC, rd, 0, static_cast<int32_t>(hi << 12));
    if (m == Macro::La)
      put_insn(Op::ADDI, rd, rd, lo);
    else
      put_insn(Op::JALR, m == Macro::Call ? kRa : 0, rd, lo);
  }

  // la.global rd, xreg, yreg, offset (asm_forms.h has the sequence). Its length depends on the
  // offset, which may be defined further down, so it reserves room as li does.
  void exec_la_global(Stmt& s) {
    const Operand& off = s.ops[3];
    const auto v = value(off.expr, pc());
    const bool fits = v && static_cast<int64_t>(*v) >= 0 && *v <= UINT32_MAX;
    if (strict_ && !fits)
      fail(off.loc, fmt::format("offset {} is out of range 0..0xffffffff: la.global takes an "
                                "offset in the node's SRAM, 32 bits",
                                static_cast<int64_t>(v.value_or(0))));
    AsmInsn steps[kMaxLaGlobalSteps];
    const int n = la_global_sequence(s.ops[0].reg, s.ops[1].reg, s.ops[2].reg,
                                     fits ? static_cast<uint32_t>(*v) : 0, steps);
    if (!strict_) {
      s.li_slot = static_cast<uint8_t>(std::max<int>(s.li_slot, n));
      grow(4u * s.li_slot);
      return;
    }
    check_instruction_alignment();
    if (n > s.li_slot) fail(s.loc, "internal error: la.global grew after layout");
    for (int i = 0; i < n; ++i) {
      Decoded d;
      d.op = steps[i].op;
      d.rd = steps[i].rd;
      d.rs1 = steps[i].rs1;
      d.rs2 = steps[i].rs2;
      d.imm = steps[i].imm;
      put_le(encode(d), 4);
    }
    for (int i = n; i < s.li_slot; ++i) put_le(encode_nop(), 4);
  }

  Program program(std::string_view file_name) const {
    Program p;
    p.source_name = std::string(file_name);
    for (int i = 0; i < kNumSections; ++i) {
      const SectionState& s = sections_[i];
      if (s.size == 0) continue;
      Segment seg;
      seg.name = std::string(kSectionNames[i]);
      seg.address = s.base;
      if (i == kBss)
        seg.zero_fill = s.size;
      else
        seg.bytes = s.bytes;
      p.segments.push_back(std::move(seg));
    }
    for (const Symbol& y : syms_.list())
      if (y.defined && !y.local && y.known) p.symbols[y.name] = y.value;
    auto start = p.symbols.find("_start");
    p.entry = start != p.symbols.end() ? start->second : opt_.text_base;
    return p;
  }

  std::string_view src_;
  AsmOptions opt_;
  std::vector<Token> toks_;
  Symbols syms_;
  std::vector<Node> nodes_;
  std::vector<Stmt> stmts_;
  std::map<uint64_t, std::vector<std::pair<int32_t, int32_t>>> local_defs_;  // n -> (stmt, sym)
  SectionId section_ = kText;                                                // while parsing

  std::vector<uint64_t> sizes_;  // bytes per statement in the last pass
  std::array<SectionState, kNumSections> sections_;
  SectionId cur_ = kText;
  bool strict_ = false;
  uint64_t total_ = 0;
  const Stmt* at_ = nullptr;
  std::unordered_map<uint64_t, uint64_t> pcrel_;
};

std::string format_what(const std::string& file, int line, int column, const std::string& message,
                        std::string_view source_line, int length) {
  if (line <= 0) return fmt::format("{}: {}", file, message);
  std::string out = fmt::format("{}:{}:{}: {}\n    ", file, line, column, message);
  for (char c : source_line)
    out.push_back(c == '\t' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
  out += "\n    ";
  const size_t col = static_cast<size_t>(std::max(column, 1));
  out.append(col - 1, ' ');
  out.push_back('^');
  size_t len = static_cast<size_t>(std::max(length, 1));
  if (col - 1 + len > source_line.size())
    len = source_line.size() > col ? source_line.size() - col + 1 : 1;
  out.append(len - 1, '~');
  return out;
}

// Why the first bytes of a file are not text, or "" if they are: a NUL byte or bytes that are
// not UTF-8. Only a prefix is looked at (a sequence cut by its end is fine); a stray byte
// further on is left to the lexer, which points at its line.
std::string not_text(std::string_view s) {
  constexpr size_t kPrefix = 4096;
  const size_t n = std::min(s.size(), kPrefix);
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  for (size_t i = 0; i < n;) {
    const unsigned char c = byte(i);
    if (c == 0) return fmt::format("a NUL byte at offset {}", i);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xC0 || c == 0xC1 || c > 0xF4) len = 0;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    for (size_t k = 1; k < len && i + k < s.size(); ++k) {
      if (i + k >= n) break;
      const unsigned char d = byte(i + k);
      if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) len = 0;
    }
    if (len == 0 || (i + len > s.size()))
      return fmt::format("byte 0x{:02x} at offset {} is not UTF-8", c, i);
    i += len;
  }
  return {};
}

}  // namespace

AsmError::AsmError(std::string file_, int line_, int column_, std::string message_,
                   std::string_view source_line, int length)
    : std::runtime_error(format_what(file_, line_, column_, message_, source_line, length)),
      file(std::move(file_)),
      line(line_),
      column(column_),
      message(std::move(message_)) {}

Program assemble(std::string_view source, std::string_view file_name, const AsmOptions& opt) {
  try {
    return Assembler(source, opt).run(file_name);
  } catch (const Diag& d) {
    throw AsmError(std::string(file_name), d.loc.line, d.loc.col, d.message,
                   line_of(source, d.loc.line), d.loc.len);
  }
}

Program assemble_file(const std::string& path, const AsmOptions& opt) {
  // stdio rather than iostreams: reading a directory must fail (EISDIR), not give "".
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw AsmError(path, 0, 0, fmt::format("cannot open: {}", std::strerror(errno)));
  std::string source;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) source.append(buf, n);
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err) throw AsmError(path, 0, 0, fmt::format("cannot read: {}", std::strerror(err)));
  if (const std::string why = not_text(source); !why.empty())
    throw AsmError(path, 0, 0, "not an ELF and not assembly text: " + why);
  Program p = assemble(source, path, opt);
  const bool has_code = std::any_of(p.segments.begin(), p.segments.end(),
                                    [](const Segment& s) { return s.name == ".text"; });
  if (!has_code)
    throw AsmError(path, 0, 0,
                   source.find_first_not_of(" \t\r\n") == std::string::npos
                       ? "no instructions: the file is empty"
                       : "no instructions: .text is empty, so a node would have nothing to run");
  return p;
}

}  // namespace dojosim::isa
