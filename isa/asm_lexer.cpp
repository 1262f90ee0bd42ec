// SPDX-License-Identifier: MIT
#include "isa/asm_lexer.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>

namespace dojosim::isa::asm_detail {
namespace {

int clamp_int(size_t v) {
  return v > INT_MAX ? INT_MAX : static_cast<int>(v);
}

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '$';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ident_char(char c) {
  return is_ident_start(c) || is_digit(c);
}
bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

// Digits of `s` in `base`; false on a bad digit or on overflow of 64 bits.
bool parse_digits(std::string_view s, unsigned base, uint64_t& out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    const auto d = static_cast<unsigned>(digit_value(c));
    if (d >= base) return false;
    if (v > (UINT64_MAX - d) / base) return false;
    v = v * base + d;
  }
  out = v;
  return true;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  std::vector<Token> run() {
    while (i_ < src_.size()) step();
    push(Tok::EndOfStatement, i_, 0);
    return std::move(out_);
  }

 private:
  Loc loc_at(size_t pos, size_t len) const {
    return Loc{line_, clamp_int(pos - line_start_ + 1), clamp_int(std::max<size_t>(len, 1))};
  }
  Token& push(Tok kind, size_t pos, size_t len) {
    Token t;
    t.kind = kind;
    t.loc = loc_at(pos, len);
    t.text = src_.substr(pos, len);
    out_.push_back(std::move(t));
    return out_.back();
  }
  char at(size_t pos) const { return pos < src_.size() ? src_[pos] : '\0'; }

  void newline() {
    ++line_;
    line_start_ = i_ + 1;
  }

  void step() {
    const char c = src_[i_];
    switch (c) {
      case '\n':
        push(Tok::EndOfStatement, i_, 0);
        newline();
        ++i_;
        return;
      case ' ':
      case '\t':
      case '\r':
      case '\f':
      case '\v':
        ++i_;
        return;
      case '#':
        skip_to_eol();
        return;
      case '"':
        string();
        return;
      case '\'':
        char_literal();
        return;
      case ';':
        push(Tok::EndOfStatement, i_, 1);
        ++i_;
        return;
      default:
        break;
    }
    if (c == '/' && at(i_ + 1) == '/') return skip_to_eol();
    if (c == '/' && at(i_ + 1) == '*') return block_comment();
    if (is_digit(c)) return number();
    if (is_ident_start(c)) {
      size_t j = i_;
      while (j < src_.size() && is_ident_char(src_[j])) ++j;
      push(Tok::Ident, i_, j - i_);
      i_ = j;
      return;
    }
    if ((c == '<' || c == '>') && at(i_ + 1) == c) {
      push(Tok::Punct, i_, 2).punct = c == '<' ? 'L' : 'R';
      i_ += 2;
      return;
    }
    static constexpr std::string_view kPunct = ",()+-*/%&|^~!:=";
    push(kPunct.find(c) != std::string_view::npos ? Tok::Punct : Tok::Other, i_, 1).punct = c;
    ++i_;
  }

  void skip_to_eol() {
    while (i_ < src_.size() && src_[i_] != '\n') ++i_;
  }

  // A block comment is whitespace, even across lines: the statement around it continues.
  void block_comment() {
    const Loc start = loc_at(i_, 2);
    for (i_ += 2; i_ < src_.size(); ++i_) {
      if (src_[i_] == '*' && at(i_ + 1) == '/') {
        i_ += 2;
        return;
      }
      if (src_[i_] == '\n') newline();
    }
    fail(start, "unterminated comment: '/*' without '*/'");
  }

  // Length of a floating-point literal at i_ (one with a fraction or an exponent), or 0.
  size_t float_length() const {
    size_t j = i_;
    auto digits = [&](bool hex) {
      const size_t from = j;
      while (j < src_.size() && digit_value(src_[j]) < (hex ? 16 : 10)) ++j;
      return j > from;
    };
    const bool hex = at(j) == '0' && (at(j + 1) == 'x' || at(j + 1) == 'X');
    if (hex) j += 2;
    digits(hex);
    bool is_float = false;
    if (at(j) == '.') {
      ++j;
      digits(hex);
      is_float = true;
    }
    const char e = at(j);
    if (hex ? (e == 'p' || e == 'P') : (e == 'e' || e == 'E')) {
      size_t k = j + 1;
      if (at(k) == '+' || at(k) == '-') ++k;
      if (!is_digit(at(k))) return 0;
      j = k;
      digits(false);
      is_float = true;
    } else if (hex && is_float) {
      return 0;  // a hex float needs its p exponent
    }
    return is_float && !is_ident_char(at(j)) ? j - i_ : 0;
  }

  void number() {
    if (const size_t n = float_length()) {
      push(Tok::Float, i_, n);
      i_ += n;
      return;
    }
    size_t j = i_;
    while (j < src_.size() && is_alnum(src_[j])) ++j;
    const std::string_view run = src_.substr(i_, j - i_);
    Token& t = push(Tok::Number, i_, run.size());
    i_ = j;
    const char p = run.size() > 1 ? run[1] : '\0';
    bool ok = false;
    if (run[0] == '0' && (p == 'x' || p == 'X')) {
      ok = parse_digits(run.substr(2), 16, t.value);
    } else if (run[0] == '0' && (p == 'b' || p == 'B') && run.size() > 2) {
      ok = parse_digits(run.substr(2), 2, t.value);
    } else if (run.size() > 1 && (run.back() == 'b' || run.back() == 'f') &&
               std::all_of(run.begin(), run.end() - 1, is_digit)) {
      t.kind = Tok::LocalRef;
      t.forward = run.back() == 'f';
      ok = parse_digits(run.substr(0, run.size() - 1), 10, t.value);
    } else if (run[0] == '0' && run.size() > 1) {
      ok = parse_digits(run, 8, t.value);  // as in C and GNU as: a leading 0 means octal
      if (!ok && std::all_of(run.begin(), run.end(), is_digit))
        fail(t.loc, fmt::format("invalid octal number {} (a leading 0 means octal)", quote(run)));
    } else {
      ok = parse_digits(run, 10, t.value);
    }
    if (ok) return;
    const bool all_hex = std::all_of(run.begin() + (run.size() > 2 ? 2 : 0), run.end(),
                                     [](char ch) { return digit_value(ch) < 16; });
    if (all_hex && run.size() > 2 && (p == 'x' || p == 'X'))
      fail(t.loc, fmt::format("number {} does not fit in 64 bits", quote(run)));
    if (std::all_of(run.begin(), run.end(), is_digit))
      fail(t.loc, fmt::format("number {} does not fit in 64 bits", quote(run)));
    fail(t.loc, fmt::format("invalid number {}", quote(run)));
  }

  // One (possibly escaped) character of a string or character literal at i_; advances.
  uint8_t escaped_char(const Loc& literal) {
    const char c = src_[i_++];
    if (c != '\\') return static_cast<uint8_t>(c);
    if (i_ >= src_.size() || src_[i_] == '\n') fail(literal, "unterminated escape sequence");
    const size_t esc_pos = i_ - 1;
    const char e = src_[i_++];
    switch (e) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'a':
        return '\a';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case 'e':
        return 0x1b;
      case '\\':
        return '\\';
      case '"':
        return '"';
      case '\'':
        return '\'';
      case 'x': {
        unsigned v = 0;
        int n = 0;
        for (; n < 2 && digit_value(at(i_)) < 16; ++n)
          v = v * 16 + static_cast<unsigned>(digit_value(src_[i_++]));
        if (n == 0) fail(loc_at(esc_pos, 2), "'\\x' needs hexadecimal digits");
        return static_cast<uint8_t>(v);
      }
      default:
        if (e >= '0' && e <= '7') {
          unsigned v = static_cast<unsigned>(e - '0');
          for (int n = 1; n < 3 && at(i_) >= '0' && at(i_) <= '7'; ++n)
            v = v * 8 + static_cast<unsigned>(src_[i_++] - '0');
          return static_cast<uint8_t>(v);
        }
        fail(loc_at(esc_pos, 2),
             fmt::format("unknown escape sequence {}", quote(src_.substr(esc_pos, 2))));
    }
  }

  void string() {
    const size_t start = i_;
    const Loc open = loc_at(i_, 1);
    std::string bytes;
    ++i_;
    while (true) {
      if (i_ >= src_.size() || src_[i_] == '\n')
        fail(open, "unterminated string: missing closing '\"'");
      if (src_[i_] == '"') break;
      bytes.push_back(static_cast<char>(escaped_char(open)));
    }
    ++i_;
    Token& t = push(Tok::String, start, i_ - start);
    t.str = std::move(bytes);
  }

  void char_literal() {
    const size_t start = i_;
    const Loc open = loc_at(i_, 1);
    ++i_;
    if (i_ >= src_.size() || src_[i_] == '\n' || src_[i_] == '\'')
      fail(open, "empty or unterminated character literal");
    const uint8_t v = escaped_char(open);
    if (at(i_) != '\'') fail(open, "unterminated character literal: missing closing \"'\"");
    ++i_;
    push(Tok::Number, start, i_ - start).value = v;
  }

  std::string_view src_;
  size_t i_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
  std::vector<Token> out_;
};

}  // namespace

Loc span(const Loc& a, const Loc& b) {
  if (a.line != b.line || b.col < a.col) return a;
  return Loc{a.line, a.col, b.col + b.len - a.col};
}

void fail(const Loc& loc, std::string message) {
  throw Diag{loc, std::move(message)};
}

std::vector<Token> tokenize(std::string_view source) {
  return Lexer(source).run();
}

std::string quote(std::string_view text) {
  constexpr size_t kMax = 48;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f)
      out.push_back(static_cast<char>(c));
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (text.size() > kMax) out += "...";
  out += "'";
  return out;
}

std::string_view closest(std::string_view word, const std::vector<std::string_view>& candidates) {
  // Long words are not typos of short mnemonics, and the distance is quadratic in length.
  if (word.empty() || word.size() > 32) return {};
  const size_t limit = word.size() <= 3 ? 1 : word.size() <= 6 ? 2 : 3;
  std::string_view best;
  size_t best_d = limit + 1;
  std::vector<size_t> row;
  for (std::string_view c : candidates) {
    if (c.size() > word.size() + limit || c.size() + limit < word.size()) continue;
    row.resize(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= word.size(); ++i) {
      size_t diag = row[0];
      row[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        const size_t up = row[j];
        const size_t cost = to_lower(word[i - 1]) == to_lower(c[j - 1]) ? 0 : 1;
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
        diag = up;
      }
    }
    // On a tie, the candidate sharing the longer prefix ('ad' is more likely 'add' than 'ld'),
    // then the shorter one (a doubled letter is a common slip: 'addd' is 'add', not 'addi').
    auto prefix = [&](std::string_view x) {
      size_t k = 0;
      while (k < x.size() && k < word.size() && to_lower(x[k]) == to_lower(word[k])) ++k;
      return k;
    };
    const size_t d = row[c.size()];
    const bool better_tie =
        !best.empty() &&
        (prefix(c) > prefix(best) || (prefix(c) == prefix(best) && c.size() < best.size()));
    if (d < best_d || (d == best_d && better_tie)) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

}  // namespace dojosim::isa::asm_detail
