// SPDX-License-Identifier: MIT
#include "isa/asm_expr.h"

#include <fmt/format.h>

#include "isa/instructions.h"

namespace dojosim::isa::asm_detail {
namespace {

std::optional<unsigned> numbered(std::string_view s, std::string_view prefix, unsigned count) {
  if (s.size() <= prefix.size() || s.substr(0, prefix.size()) != prefix) return std::nullopt;
  const std::string_view digits = s.substr(prefix.size());
  // Canonical spelling only: "x01" is not a register name.
  if (digits.size() > 2 || (digits.size() == 2 && digits[0] == '0')) return std::nullopt;
  unsigned v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v < count ? std::optional<unsigned>(v) : std::nullopt;
}

int binary_precedence(const Token& t) {
  if (t.kind != Tok::Punct) return 0;
  switch (t.punct) {
    case '|':
      return 1;
    case '^':
      return 2;
    case '&':
      return 3;
    case 'L':
    case 'R':
      return 4;
    case '+':
    case '-':
      return 5;
    case '*':
    case '/':
    case '%':
      return 6;
    default:
      return 0;
  }
}

class Parser {
 public:
  Parser(std::vector<Node>& nodes, Symbols& syms, const Token* begin, const Token* end,
         int32_t stmt)
      : nodes_(nodes), syms_(syms), p_(begin), end_(end), stmt_(stmt), first_(nodes.size()) {}

  NodeId parse(const Loc& empty_loc) {
    if (p_ == end_) fail(empty_loc, "expected an expression");
    const NodeId id = binary(1);
    if (p_ != end_) {
      fail(p_->loc, fmt::format("unexpected {} after expression{}", quote(p_->text),
                                p_->kind == Tok::Ident || p_->kind == Tok::Number
                                    ? " (missing an operator or ','?)"
                                    : ""));
    }
    return id;
  }

 private:
  NodeId add(Node n) {
    if (nodes_.size() - first_ >= kMaxExprNodes)
      fail(n.loc, fmt::format("expression too long (more than {} terms)", kMaxExprNodes));
    nodes_.push_back(n);
    return static_cast<NodeId>(nodes_.size() - 1);
  }
  Loc end_loc() const {
    const Token& last = *(p_ - 1);
    return Loc{last.loc.line, last.loc.col + last.loc.len, 1};
  }

  NodeId binary(int min_prec) {
    NodeId lhs = unary();
    while (p_ != end_) {
      const int prec = binary_precedence(*p_);
      if (prec == 0 || prec < min_prec) break;
      const Token& op = *p_++;
      const NodeId rhs = binary(prec + 1);
      Node n;
      n.kind = NodeKind::Binary;
      n.op = op.punct;
      n.loc = op.loc;
      n.a = lhs;
      n.b = rhs;
      lhs = add(n);
    }
    return lhs;
  }

  NodeId unary() {
    if (p_ == end_) fail((p_ - 1)->loc, "expected an expression after this");
    if (++depth_ > kMaxExprDepth)
      fail(p_->loc,
           fmt::format("expression nested too deeply (more than {} levels)", kMaxExprDepth));
    NodeId id;
    const Token& t = *p_;
    if (t.kind == Tok::Punct &&
        (t.punct == '-' || t.punct == '~' || t.punct == '!' || t.punct == '+')) {
      ++p_;
      const NodeId child = unary();
      if (t.punct == '+') {
        id = child;
      } else {
        Node n;
        n.kind = t.punct == '-'   ? NodeKind::Neg
                 : t.punct == '~' ? NodeKind::BitNot
                                  : NodeKind::LogNot;
        n.loc = t.loc;
        n.a = child;
        id = add(n);
      }
    } else {
      id = primary();
    }
    --depth_;
    return id;
  }

  NodeId parenthesised(const Token& open) {
    if (p_ == end_ || p_->kind != Tok::Punct || p_->punct != '(')
      fail(p_ == end_ ? end_loc() : p_->loc,
           fmt::format("expected '(' after {}", quote(open.text)));
    const Token& paren = *p_++;
    const NodeId id = binary(1);
    if (p_ == end_ || p_->kind != Tok::Punct || p_->punct != ')')
      fail(paren.loc, "missing ')' for this '('");
    ++p_;
    return id;
  }

  NodeId primary() {
    const Token& t = *p_++;
    Node n;
    n.loc = t.loc;
    switch (t.kind) {
      case Tok::Number:
        n.kind = NodeKind::Const;
        n.value = t.value;
        return add(n);
      case Tok::LocalRef:
        n.kind = NodeKind::LocalRef;
        n.value = t.value;
        n.forward = t.forward;
        n.stmt = stmt_;
        return add(n);
      case Tok::Ident:
        if (t.text == ".") {
          n.kind = NodeKind::Dot;
        } else {
          n.kind = NodeKind::Sym;
          n.sym = syms_.intern(t.text);
        }
        return add(n);
      case Tok::Float:
        fail(t.loc,
             fmt::format("expected an integer, got the floating-point number {}", quote(t.text)));
      case Tok::Punct:
        if (t.punct == '(') {
          --p_;
          return parenthesised(t);
        }
        if (t.punct == '%') return relocation(t);
        break;
      default:
        break;
    }
    fail(t.loc, fmt::format("expected an expression, got {}", quote(t.text)));
  }

  // %hi(expr), %lo(expr), %pcrel_hi(expr), %pcrel_lo(label)
  NodeId relocation(const Token& percent) {
    static const std::pair<std::string_view, NodeKind> kFns[] = {{"hi", NodeKind::Hi},
                                                                 {"lo", NodeKind::Lo},
                                                                 {"pcrel_hi", NodeKind::PcrelHi},
                                                                 {"pcrel_lo", NodeKind::PcrelLo}};
    if (p_ != end_ && p_->kind == Tok::Ident && p_->loc.col == percent.loc.col + 1) {
      const Token& name = *p_;
      for (const auto& [fn, kind] : kFns) {
        if (name.text != fn) continue;
        ++p_;
        Node n;
        n.kind = kind;
        n.loc = span(percent.loc, name.loc);
        n.a = parenthesised(name);
        return add(n);
      }
      fail(span(percent.loc, name.loc),
           fmt::format("unknown operator '%{}': use %hi, %lo, %pcrel_hi or %pcrel_lo", name.text));
    }
    fail(percent.loc, "expected an expression, got '%'");
  }

  std::vector<Node>& nodes_;
  Symbols& syms_;
  const Token* p_;
  const Token* end_;
  int32_t stmt_;
  size_t first_;
  int depth_ = 0;
};

int64_t sext12(uint64_t v) {
  return static_cast<int64_t>(((v & 0xFFF) ^ 0x800)) - 0x800;
}

// Arithmetic right shift without relying on implementation-defined signed shifts.
uint64_t sar(uint64_t v, unsigned n) {
  const uint64_t fill = (v >> 63) ? ~0ull : 0;
  return n == 0 ? v : (v >> n) | (fill << (64 - n));
}

}  // namespace

int32_t Symbols::intern(std::string_view name) {
  auto it = index_.find(std::string(name));
  if (it != index_.end()) return it->second;
  const auto id = static_cast<int32_t>(list_.size());
  Symbol s;
  s.name = std::string(name);
  list_.push_back(std::move(s));
  index_.emplace(std::string(name), id);
  return id;
}

int32_t Symbols::add_local(uint64_t number, const Loc& loc) {
  Symbol s;
  s.name = fmt::format("{}", number);
  s.local = true;
  s.defined = true;
  s.def_loc = loc;
  list_.push_back(std::move(s));
  return static_cast<int32_t>(list_.size() - 1);
}

NodeId parse_expr(std::vector<Node>& nodes, Symbols& syms, const Token* begin, const Token* end,
                  int32_t stmt, const Loc& empty_loc) {
  return Parser(nodes, syms, begin, end, stmt).parse(empty_loc);
}

NodeId make_const(std::vector<Node>& nodes, uint64_t value, const Loc& loc) {
  Node n;
  n.kind = NodeKind::Const;
  n.value = value;
  n.loc = loc;
  nodes.push_back(n);
  return static_cast<NodeId>(nodes.size() - 1);
}

bool split_hi_lo(uint64_t v, uint32_t& hi20, int32_t& lo12) {
  const uint64_t hi = (v + 0x800) & ~uint64_t{0xFFF};
  hi20 = static_cast<uint32_t>(hi >> 12) & 0xFFFFF;
  lo12 = static_cast<int32_t>(sext12(v));
  const auto shi = static_cast<int64_t>(hi);
  return shi >= INT32_MIN && shi <= INT32_MAX;
}

std::optional<uint64_t> eval(const std::vector<Node>& nodes, NodeId id, const EvalEnv& env) {
  const Node& n = nodes[static_cast<size_t>(id)];
  auto sub = [&](NodeId child) { return eval(nodes, child, env); };
  switch (n.kind) {
    case NodeKind::Const:
      return n.value;
    case NodeKind::Dot:
      return env.dot;
    case NodeKind::LocalRef:  // resolved to Sym after parsing; reaching here is a bug
      if (env.strict) fail(n.loc, "internal error: unresolved local label");
      return std::nullopt;
    case NodeKind::Sym: {
      const Symbol& s = (*env.syms)[n.sym];
      if (s.known) return s.value;
      if (!env.strict) return std::nullopt;
      if (s.defined)
        fail(n.loc,
             fmt::format("the value of {} cannot be computed: its definition depends on itself",
                         quote(s.name)));
      if (is_register_name(s.name))
        fail(n.loc, fmt::format("expected a value, got register {}", quote(s.name)));
      fail(n.loc, fmt::format("undefined symbol {}", quote(s.name)));
    }
    case NodeKind::Neg: {
      auto a = sub(n.a);
      return a ? std::optional<uint64_t>(0 - *a) : std::nullopt;
    }
    case NodeKind::BitNot: {
      auto a = sub(n.a);
      return a ? std::optional<uint64_t>(~*a) : std::nullopt;
    }
    case NodeKind::LogNot: {
      auto a = sub(n.a);
      return a ? std::optional<uint64_t>(*a == 0 ? 1 : 0) : std::nullopt;
    }
    case NodeKind::Binary: {
      const auto a = sub(n.a), b = sub(n.b);
      if (!a || !b) return std::nullopt;
      const uint64_t x = *a, y = *b;
      switch (n.op) {
        case '+':
          return x + y;
        case '-':
          return x - y;
        case '*':
          return x * y;
        case '&':
          return x & y;
        case '|':
          return x | y;
        case '^':
          return x ^ y;
        case '/':
        case '%': {
          if (y == 0) {
            if (env.strict) fail(n.loc, n.op == '/' ? "division by zero" : "remainder by zero");
            return std::nullopt;
          }
          // Signed, as in GNU as; INT64_MIN / -1 wraps instead of trapping.
          const auto sx = static_cast<int64_t>(x), sy = static_cast<int64_t>(y);
          if (sx == INT64_MIN && sy == -1) return n.op == '/' ? x : 0;
          return static_cast<uint64_t>(n.op == '/' ? sx / sy : sx % sy);
        }
        case 'L':
        case 'R':
          if (y >= 64) {
            if (env.strict)
              fail(n.loc,
                   fmt::format("shift count {} out of range 0..63", static_cast<int64_t>(y)));
            return std::nullopt;
          }
          return n.op == 'L' ? x << y : sar(x, static_cast<unsigned>(y));
        default:
          break;
      }
      return std::nullopt;
    }
    case NodeKind::Hi:
    case NodeKind::Lo:
    case NodeKind::PcrelHi: {
      const auto a = sub(n.a);
      if (!a) return std::nullopt;
      const uint64_t v = n.kind == NodeKind::PcrelHi ? *a - env.dot : *a;
      uint32_t hi20;
      int32_t lo12;
      if (!split_hi_lo(v, hi20, lo12) && env.strict && n.kind != NodeKind::Lo) {
        fail(n.loc,
             n.kind == NodeKind::Hi
                 ? fmt::format("%hi: 0x{:x} is beyond lui's reach (the 32-bit signed range)", *a)
                 : fmt::format("%pcrel_hi: 0x{:x} is more than 2 GiB away from pc 0x{:x}", *a,
                               env.dot));
      }
      if (n.kind == NodeKind::PcrelHi && env.pcrel_hi) (*env.pcrel_hi)[env.dot] = *a;
      return n.kind == NodeKind::Lo ? static_cast<uint64_t>(static_cast<int64_t>(lo12)) : hi20;
    }
    case NodeKind::PcrelLo: {
      const auto a = sub(n.a);
      if (!a) return std::nullopt;
      if (env.pcrel_hi) {
        auto it = env.pcrel_hi->find(*a);
        if (it != env.pcrel_hi->end()) return static_cast<uint64_t>(sext12(it->second - *a));
      }
      if (env.strict)
        fail(n.loc, fmt::format("%pcrel_lo: no earlier auipc with %pcrel_hi at 0x{:x}; "
                                "the operand must be the label of that auipc",
                                *a));
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<unsigned> xreg_number(std::string_view s) {
  if (auto n = numbered(s, "x", kNumXRegs)) return n;
  if (s == "fp") return 8u;
  for (unsigned r = 0; r < kNumXRegs; ++r)
    if (xreg_abi_name(r) == s) return r;
  return std::nullopt;
}
std::optional<unsigned> vreg_number(std::string_view s) {
  return numbered(s, "v", kNumVRegs);
}
std::optional<unsigned> acc_number(std::string_view s) {
  return numbered(s, "acc", kNumAccs);
}
bool is_register_name(std::string_view s) {
  return xreg_number(s) || vreg_number(s) || acc_number(s);
}

}  // namespace dojosim::isa::asm_detail
