// SPDX-License-Identifier: MIT
#include "isa/asm_forms.h"

#include <iterator>
#include <unordered_map>

#include "isa/global_address.h"

namespace dojosim::isa::asm_detail {
namespace {

using K = OperandKind;
constexpr uint8_t kZero = 0, kRa = 1;

// The usual RISC-V pseudo-instructions that are one instruction. Written operands go to the
// fields their kinds name (as in the instruction table); the other fields come from the row.
// clang-format off
constexpr Alias kAliases[] = {
    // mnemonic   syntax                   op         written operands       n  rd    rs1   rs2  imm
    {"nop",      "",                      Op::ADDI,  {},                    0, kZero, kZero, 0, 0},
    {"mv",       "rd, rs",                Op::ADDI,  {K::Rd, K::Rs1},       2, 0, 0, 0, 0},
    {"not",      "rd, rs",                Op::XORI,  {K::Rd, K::Rs1},       2, 0, 0, 0, -1},
    {"neg",      "rd, rs",                Op::SUB,   {K::Rd, K::Rs2},       2, 0, kZero, 0, 0},
    {"negw",     "rd, rs",                Op::SUBW,  {K::Rd, K::Rs2},       2, 0, kZero, 0, 0},
    {"sext.w",   "rd, rs",                Op::ADDIW, {K::Rd, K::Rs1},       2, 0, 0, 0, 0},
    {"zext.b",   "rd, rs",                Op::ANDI,  {K::Rd, K::Rs1},       2, 0, 0, 0, 255},
    {"seqz",     "rd, rs",                Op::SLTIU, {K::Rd, K::Rs1},       2, 0, 0, 0, 1},
    {"snez",     "rd, rs",                Op::SLTU,  {K::Rd, K::Rs2},       2, 0, kZero, 0, 0},
    {"sltz",     "rd, rs",                Op::SLT,   {K::Rd, K::Rs1},       2, 0, 0, kZero, 0},
    {"sgtz",     "rd, rs",                Op::SLT,   {K::Rd, K::Rs2},       2, 0, kZero, 0, 0},
    {"sgt",      "rd, rs, rt",            Op::SLT,   {K::Rd, K::Rs2, K::Rs1}, 3, 0, 0, 0, 0},
    {"sgtu",     "rd, rs, rt",            Op::SLTU,  {K::Rd, K::Rs2, K::Rs1}, 3, 0, 0, 0, 0},
    {"beqz",     "rs, btarget",           Op::BEQ,   {K::Rs1, K::BTarget},  2, 0, 0, kZero, 0},
    {"bnez",     "rs, btarget",           Op::BNE,   {K::Rs1, K::BTarget},  2, 0, 0, kZero, 0},
    {"blez",     "rs, btarget",           Op::BGE,   {K::Rs2, K::BTarget},  2, 0, kZero, 0, 0},
    {"bgez",     "rs, btarget",           Op::BGE,   {K::Rs1, K::BTarget},  2, 0, 0, kZero, 0},
    {"bltz",     "rs, btarget",           Op::BLT,   {K::Rs1, K::BTarget},  2, 0, 0, kZero, 0},
    {"bgtz",     "rs, btarget",           Op::BLT,   {K::Rs2, K::BTarget},  2, 0, kZero, 0, 0},
    {"bgt",      "rs, rt, btarget",       Op::BLT,   {K::Rs2, K::Rs1, K::BTarget}, 3, 0, 0, 0, 0},
    {"ble",      "rs, rt, btarget",       Op::BGE,   {K::Rs2, K::Rs1, K::BTarget}, 3, 0, 0, 0, 0},
    {"bgtu",     "rs, rt, btarget",       Op::BLTU,  {K::Rs2, K::Rs1, K::BTarget}, 3, 0, 0, 0, 0},
    {"bleu",     "rs, rt, btarget",       Op::BGEU,  {K::Rs2, K::Rs1, K::BTarget}, 3, 0, 0, 0, 0},
    {"j",        "jtarget",               Op::JAL,   {K::JTarget},          1, kZero, 0, 0, 0},
    {"jal",      "jtarget",               Op::JAL,   {K::JTarget},          1, kRa, 0, 0, 0},
    {"jr",       "rs",                    Op::JALR,  {K::Rs1},              1, kZero, 0, 0, 0},
    {"jalr",     "rs",                    Op::JALR,  {K::Rs1},              1, kRa, 0, 0, 0},
    {"ret",      "",                      Op::JALR,  {},                    0, kZero, kRa, 0, 0},
    {"csrr",     "rd, csr",               Op::CSRRS, {K::Rd, K::Csr},       2, 0, kZero, 0, 0},
    {"csrw",     "csr, rs",               Op::CSRRW, {K::Csr, K::Rs1},      2, kZero, 0, 0, 0},
    {"csrs",     "csr, rs",               Op::CSRRS, {K::Csr, K::Rs1},      2, kZero, 0, 0, 0},
    {"csrc",     "csr, rs",               Op::CSRRC, {K::Csr, K::Rs1},      2, kZero, 0, 0, 0},
    {"csrwi",    "csr, zimm5",            Op::CSRRWI, {K::Csr, K::Zimm5},   2, kZero, 0, 0, 0},
    {"csrsi",    "csr, zimm5",            Op::CSRRSI, {K::Csr, K::Zimm5},   2, kZero, 0, 0, 0},
    {"csrci",    "csr, zimm5",            Op::CSRRCI, {K::Csr, K::Zimm5},   2, kZero, 0, 0, 0},
    {"rdcycle",  "rd",                    Op::CSRRS, {K::Rd},               1, 0, kZero, 0, 0xC00},
    {"rdtime",   "rd",                    Op::CSRRS, {K::Rd},               1, 0, kZero, 0, 0xC01},
    {"rdinstret", "rd",                   Op::CSRRS, {K::Rd},               1, 0, kZero, 0, 0xC02},
};
// clang-format on

// clang-format off
constexpr MacroInfo kMacros[] = {
    {"li",   "rd, value",  Macro::Li,   {Arg::XReg, Arg::Expr}, 2},
    {"la",   "rd, symbol", Macro::La,   {Arg::XReg, Arg::Expr}, 2},
    {"lla",  "rd, symbol", Macro::La,   {Arg::XReg, Arg::Expr}, 2},
    {"call", "symbol",     Macro::Call, {Arg::Expr},            1},
    {"tail", "symbol",     Macro::Tail, {Arg::Expr},            1},
    {"la.global", "rd, xreg, yreg, offset", Macro::LaGlobal,
     {Arg::XReg, Arg::XReg, Arg::XReg, Arg::Expr}, 4},
};
// clang-format on

struct Index {
  std::unordered_map<std::string_view, std::vector<Form>> by_name;
  std::vector<std::string_view> names;

  Index() {
    auto add = [&](std::string_view name, Form f) {
      auto& v = by_name[name];
      if (v.empty()) names.push_back(name);
      v.push_back(f);
    };
    for (const InstrInfo* r = begin_table(); r != end_table(); ++r)
      add(r->mnemonic, Form{r, nullptr, nullptr});
    for (const Alias& a : aliases()) add(a.mnemonic, Form{nullptr, &a, nullptr});
    for (const MacroInfo& m : macros()) add(m.mnemonic, Form{nullptr, nullptr, &m});
  }
};

const Index& index() {
  static const Index i;
  return i;
}

// The i-th comma-separated name of a syntax string ("rd,rs1" or "rd, rs").
std::string_view nth_name(std::string_view syntax, int i) {
  for (; i > 0; --i) {
    const size_t comma = syntax.find(',');
    if (comma == std::string_view::npos) return {};
    syntax.remove_prefix(comma + 1);
  }
  syntax = syntax.substr(0, syntax.find(','));
  while (!syntax.empty() && syntax.front() == ' ') syntax.remove_prefix(1);
  return syntax;
}

}  // namespace

Arg arg_of(OperandKind k) {
  switch (k) {
    case K::Rd:
    case K::Rs1:
    case K::Rs2:
    case K::Rs3:
      return Arg::XReg;
    case K::Vd:
    case K::Vs1:
    case K::Vs2:
    case K::Vs3:
      return Arg::VReg;
    case K::Acc:
    case K::Acc2:
      return Arg::AccReg;
    case K::Mem:
      return Arg::Mem;
    case K::MemBase:
      return Arg::MemBase;
    case K::Csr:
      return Arg::Csr;
    default:
      return Arg::Expr;
  }
}

int Form::operand_count() const {
  if (row) return row->operand_count;
  if (alias) return alias->count;
  return macro->count;
}

Arg Form::arg(int i) const {
  return macro ? macro->args[i] : arg_of(kind(i));
}

OperandKind Form::kind(int i) const {
  return row ? row->operands[i] : alias->operands[i];
}

std::string_view Form::mnemonic() const {
  return row ? row->mnemonic : alias ? alias->mnemonic : macro->mnemonic;
}

std::string_view Form::operand_name(int i) const {
  return nth_name(row ? row->operand_syntax : alias ? alias->syntax : macro->syntax, i);
}

std::string Form::syntax() const {
  std::string s(mnemonic());
  for (int i = 0; i < operand_count(); ++i) {
    s += i == 0 ? " " : ", ";
    s += operand_name(i);
  }
  return s;
}

const std::vector<Form>* forms_of(std::string_view mnemonic) {
  const auto& m = index().by_name;
  auto it = m.find(mnemonic);
  return it == m.end() ? nullptr : &it->second;
}

const std::vector<std::string_view>& all_mnemonics() {
  return index().names;
}
const std::vector<Alias>& aliases() {
  static const std::vector<Alias> v(std::begin(kAliases), std::end(kAliases));
  return v;
}
const std::vector<MacroInfo>& macros() {
  static const std::vector<MacroInfo> v(std::begin(kMacros), std::end(kMacros));
  return v;
}

namespace {

bool fits_sext32(uint64_t v) {
  const auto s = static_cast<int64_t>(v);
  return s >= INT32_MIN && s <= INT32_MAX;
}
uint64_t sar(uint64_t v, unsigned n) {
  const uint64_t fill = (v >> 63) ? ~0ull : 0;
  return n == 0 ? v : (v >> n) | (fill << (64 - n));
}

// GNU as's load_const (gas/config/tc-riscv.c), step for step, so `li` matches it bit for bit.
void load_const(uint64_t v, LiStep* out, int& n) {
  const int64_t lower = static_cast<int64_t>(((v & 0xFFF) ^ 0x800)) - 0x800;
  const uint64_t upper = v - static_cast<uint64_t>(lower);
  if (!fits_sext32(v)) {
    unsigned shift = 12;
    while (((upper >> shift) & 1) == 0) ++shift;  // upper != 0: v is wider than 32 bits
    load_const(sar(upper, shift), out, n);
    out[n++] = {Op::SLLI, static_cast<int32_t>(shift), false};
    if (lower != 0) out[n++] = {Op::ADDI, static_cast<int32_t>(lower), false};
    return;
  }
  bool have_hi = false;
  if (upper != 0) {
    out[n++] = {Op::LUI, static_cast<int32_t>((static_cast<uint32_t>(upper) >> 12) & 0xFFFFF),
                false};
    have_hi = true;
  }
  if (lower != 0 || !have_hi) out[n++] = {Op::ADDIW, static_cast<int32_t>(lower), !have_hi};
}

}  // namespace

int li_sequence(uint64_t value, LiStep out[kMaxLiSteps]) {
  const auto s = static_cast<int64_t>(value);
  // GNU as matches `li rd, imm12` to the addi alias before trying the load_const macro.
  if (s >= -2048 && s <= 2047) {
    out[0] = {Op::ADDI, static_cast<int32_t>(s), true};
    return 1;
  }
  int n = 0;
  load_const(value, out, n);
  return n;
}

int la_global_sequence(uint8_t rd, uint8_t xreg, uint8_t yreg, uint32_t offset,
                       AsmInsn out[kMaxLaGlobalSteps]) {
  // The x and y fields sit side by side just below the host bit, above the offset.
  static_assert(kGlobalXShift == kGlobalYShift + kGlobalYBits, "x lies right above y");
  static_assert(kHostBitShift == kGlobalXShift + kGlobalXBits, "the host bit lies above x");
  static_assert(kGlobalYShift == kGlobalOffsetBits, "the offset fills the bits below y");
  constexpr int32_t kNodeBits = kGlobalXBits + kGlobalYBits;  // 31
  int n = 0;
  auto put = [&](Op op, uint8_t rs1, uint8_t rs2, int32_t imm) {
    out[n++] = {op, rd, rs1, rs2, imm};
  };
  put(Op::SLLI, xreg, 0, 64 - static_cast<int32_t>(kGlobalXBits));
  put(Op::SRLI, rd, 0, 64 - kNodeBits);
  put(Op::ADD, rd, yreg, 0);
  put(Op::SLLI, rd, 0, 64 - kNodeBits);

  // offset = sum of signed 12-bit chunks << 12 k, highest first: (((c2 << 12) + c1) << 12) + c0.
  auto sext12 = [](int64_t v) { return ((v & 0xFFF) ^ 0x800) - 0x800; };
  int64_t chunks[3];
  int count = 0;
  for (int64_t rest = offset;;) {
    chunks[count++] = sext12(rest);
    rest = (rest - chunks[count - 1]) >> 12;
    if (rest == 0) break;
  }
  // The node bits now end at bit 63; the first chunk is added where they end at bit
  // kGlobalYShift + 12 (count - 1) + kNodeBits - 1, and each later slli 12 moves them up.
  const int32_t first = static_cast<int32_t>(kGlobalYShift) - 12 * (count - 1);
  put(Op::SRLI, rd, 0, 64 - kNodeBits - first);
  for (int k = count - 1; k >= 0; --k) {
    if (chunks[k] != 0) put(Op::ADDI, rd, 0, static_cast<int32_t>(chunks[k]));
    if (k > 0) {
      if (out[n - 1].op == Op::SLLI && out[n - 1].rs1 == rd)
        out[n - 1].imm += 12;  // a zero chunk: one longer shift
      else
        put(Op::SLLI, rd, 0, 12);
    }
  }
  return n;
}

}  // namespace dojosim::isa::asm_detail
