// SPDX-License-Identifier: MIT
#include "isa/instructions.h"

#include <array>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

namespace dojosim::isa {
namespace {

using namespace enc;

OperandKind parse_operand(std::string_view s) {
  static const std::pair<std::string_view, OperandKind> kNames[] = {
      {"rd", OperandKind::Rd},           {"rs1", OperandKind::Rs1},
      {"rs2", OperandKind::Rs2},         {"rs3", OperandKind::Rs3},
      {"vd", OperandKind::Vd},           {"vs1", OperandKind::Vs1},
      {"vs2", OperandKind::Vs2},         {"vs3", OperandKind::Vs3},
      {"acc", OperandKind::Acc},         {"acc2", OperandKind::Acc2},
      {"imm12", OperandKind::Imm12},     {"shamt6", OperandKind::Shamt6},
      {"shamt5", OperandKind::Shamt5},   {"uimm20", OperandKind::Uimm20},
      {"mem", OperandKind::Mem},         {"(rs1)", OperandKind::MemBase},
      {"btarget", OperandKind::BTarget}, {"jtarget", OperandKind::JTarget},
      {"csr", OperandKind::Csr},         {"zimm5", OperandKind::Zimm5},
      {"part2", OperandKind::Part},      {"part4", OperandKind::Part},
      {"sem", OperandKind::Sem},         {"sem1", OperandKind::Sem1},
      {"group", OperandKind::Group},
  };
  for (const auto& [name, kind] : kNames)
    if (name == s) return kind;
  std::abort();  // a typo in instructions.def; the table test catches it before anyone else
}

InstrInfo make_info(Op op, std::string_view mn, std::string_view ops, Encoding e, TimingClass tc,
                    std::string_view sem) {
  InstrInfo info{op, mn, ops, e, tc, sem, {}, 0, 0};
  while (!ops.empty()) {
    size_t comma = ops.find(',');
    const std::string_view operand = ops.substr(0, comma);
    info.operands[info.operand_count++] = parse_operand(operand);
    if (operand.rfind("part", 0) == 0) info.parts = static_cast<uint8_t>(operand.back() - '0');
    ops = comma == std::string_view::npos ? std::string_view{} : ops.substr(comma + 1);
  }
  return info;
}

// Ops that read their destination vector register as well as writing it.
bool reads_destination(Op op) {
  switch (op) {
    case Op::VFMA_F32:
    case Op::VFMA_BF16:
    case Op::VFMA_CFP8:
    case Op::VCVT_BF16_F32:
    case Op::VCVT_CFP8_F32:
    case Op::VCVT_CFP8_BF16:
    case Op::VCVT_BF16_F32_SR:
    case Op::VCVT_CFP8_F32_SR:
    case Op::VCVT_CFP8_BF16_SR:
      return true;
    default:
      return false;
  }
}

// Which register slots a row reads and writes: a register file's base slot and the field
// (0 rd, 1 rs1, 2 rs2, 3 rs3) that names the register.
struct RegRef {
  uint8_t base = 0xFF;  // 0, kVRegBase or kAccBase; 0xFF: none
  uint8_t field = 0;
};
struct RegUse {
  RegRef dst;
  RegRef src[3];
};

RegUse reg_use(const InstrInfo& row) {
  RegUse u;
  int n = 0;
  auto src = [&](uint8_t base, uint8_t field) {
    if (n == 3) std::abort();  // more sources than Decoded holds: the table test catches it
    u.src[n++] = {base, field};
  };
  for (int i = 0; i < row.operand_count; ++i) {
    switch (row.operands[i]) {
      case OperandKind::Rd:
        u.dst = {0, 0};
        break;
      case OperandKind::Rs1:
      case OperandKind::Mem:
      case OperandKind::MemBase:
        src(0, 1);
        break;
      case OperandKind::Rs2:
        src(0, 2);
        break;
      case OperandKind::Rs3:
        src(0, 3);
        break;
      case OperandKind::Vd:
        u.dst = {kVRegBase, 0};
        if (reads_destination(row.op)) src(kVRegBase, 0);
        break;
      case OperandKind::Vs1:
        src(kVRegBase, 1);
        break;
      case OperandKind::Vs2:
        src(kVRegBase, 2);
        break;
      case OperandKind::Vs3:
        src(kVRegBase, 0);
        break;
      case OperandKind::Acc:
        u.dst = {kAccBase, 0};
        break;
      case OperandKind::Acc2:
        src(kAccBase, 2);
        break;
      default:
        break;
    }
  }
  return u;
}

struct Table {
  std::vector<InstrInfo> rows;
  std::vector<RegUse> uses;  // by op, as rows
  std::array<std::vector<const InstrInfo*>, 128> by_opcode;
  std::unordered_map<std::string_view, const InstrInfo*> by_mnemonic;

  Table() {
    rows = {
#define X(op, mn, ops, en, tc, sem) make_info(Op::op, mn, ops, en, TimingClass::tc, sem),
#include "isa/instructions.def"
#undef X
    };
    for (const auto& row : rows) {
      by_opcode[row.encoding.match & kOpMask].push_back(&row);
      by_mnemonic.emplace(row.mnemonic, &row);
      uses.push_back(reg_use(row));
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

int32_t sext(uint32_t v, int bits) {
  const uint32_t m = 1u << (bits - 1);
  return static_cast<int32_t>((v ^ m) - m);
}
uint32_t bits(uint32_t w, int hi, int lo) { return (w >> lo) & ((1u << (hi - lo + 1)) - 1); }

}  // namespace

std::string_view timing_class_name(TimingClass c) {
  // clang-format off
  static constexpr std::string_view kNames[] = {
      "alu",    "mul",      "div",      "load",          "store",          "branch",
      "jump",   "csr",      "system",   "vload",         "vstore",         "vload_strided",
      "vstore_strided",     "acc_load", "acc_store",     "simd",           "simd_reduce",
      "simd_math", "convert", "acc_move", "matrix",  "matrix_cfp8",   "push",        "sync"};
  // clang-format on
  static_assert(std::size(kNames) == static_cast<size_t>(TimingClass::kCount));
  return kNames[static_cast<size_t>(c)];
}

const InstrInfo& info(Op op) { return table().rows.at(static_cast<size_t>(op)); }
const InstrInfo* begin_table() { return table().rows.data(); }
const InstrInfo* end_table() { return table().rows.data() + table().rows.size(); }

const InstrInfo* find_mnemonic(std::string_view mnemonic) {
  const auto& m = table().by_mnemonic;
  auto it = m.find(mnemonic);
  return it == m.end() ? nullptr : it->second;
}

Decoded decode(uint32_t w) {
  Decoded d;
  const InstrInfo* row = nullptr;
  for (const InstrInfo* r : table().by_opcode[w & kOpMask]) {
    if ((w & r->encoding.mask) == r->encoding.match) {
      row = r;
      break;
    }
  }
  if (!row) return d;
  d.op = row->op;
  switch (row->encoding.format) {
    case Format::R4:
      d.rs3 = static_cast<uint8_t>(bits(w, 31, 27));
      [[fallthrough]];
    case Format::R:
      d.rd = static_cast<uint8_t>(bits(w, 11, 7));
      d.rs1 = static_cast<uint8_t>(bits(w, 19, 15));
      d.rs2 = static_cast<uint8_t>(bits(w, 24, 20));
      break;
    case Format::I:
      d.rd = static_cast<uint8_t>(bits(w, 11, 7));
      d.rs1 = static_cast<uint8_t>(bits(w, 19, 15));
      d.imm = sext(bits(w, 31, 20), 12);
      break;
    case Format::Shift6:
    case Format::Shift5:
      d.rd = static_cast<uint8_t>(bits(w, 11, 7));
      d.rs1 = static_cast<uint8_t>(bits(w, 19, 15));
      d.imm = static_cast<int32_t>(bits(w, row->encoding.format == Format::Shift6 ? 25 : 24, 20));
      break;
    case Format::S:
      d.rs1 = static_cast<uint8_t>(bits(w, 19, 15));
      d.rs2 = static_cast<uint8_t>(bits(w, 24, 20));
      d.imm = sext(bits(w, 31, 25) << 5 | bits(w, 11, 7), 12);
      break;
    case Format::B:
      d.rs1 = static_cast<uint8_t>(bits(w, 19, 15));
      d.rs2 = static_cast<uint8_t>(bits(w, 24, 20));
      d.imm = sext(bits(w, 31, 31) << 12 | bits(w, 7, 7) << 11 | bits(w, 30, 25) << 5 |
                       bits(w, 11, 8) << 1,
                   13);
      break;
    case Format::U:
      d.rd = static_cast<uint8_t>(bits(w, 11, 7));
      d.imm = static_cast<int32_t>(w & 0xFFFFF000u);
      break;
    case Format::J:
      d.rd = static_cast<uint8_t>(bits(w, 11, 7));
      d.imm = sext(bits(w, 31, 31) << 20 | bits(w, 19, 12) << 12 | bits(w, 20, 20) << 11 |
                       bits(w, 30, 21) << 1,
                   21);
      break;
    case Format::Fence:
    case Format::Fixed:
      break;
  }
  // Fields wider than what they name (accumulator 8..31, conversion part 4..31) make the
  // word illegal, so that everything decoded also disassembles and re-assembles.
  for (int i = 0; i < row->operand_count; ++i) {
    const OperandKind k = row->operands[i];
    if ((k == OperandKind::Acc && d.rd >= kNumAccs) ||
        (k == OperandKind::Acc2 && d.rs2 >= kNumAccs) ||
        (k == OperandKind::Part && d.rs2 >= row->parts))
      return Decoded{};
  }
  const RegUse& u = table().uses[static_cast<size_t>(row->op)];
  const uint8_t fields[4] = {d.rd, d.rs1, d.rs2, d.rs3};
  for (int i = 0; i < 3; ++i)
    if (u.src[i].base != 0xFF)
      d.src_slot[i] = static_cast<uint8_t>(u.src[i].base + fields[u.src[i].field]);
  if (u.dst.base != 0xFF) d.dst_slot = static_cast<uint8_t>(u.dst.base + fields[u.dst.field]);
  return d;
}

uint32_t encode(const Decoded& d) {
  const InstrInfo& row = info(d.op);
  uint32_t w = row.encoding.match;
  const uint32_t rd = d.rd & 31u, rs1 = d.rs1 & 31u, rs2 = d.rs2 & 31u, rs3 = d.rs3 & 31u;
  const auto imm = static_cast<uint32_t>(d.imm);
  switch (row.encoding.format) {
    case Format::R4:
      w |= rs3 << 27;
      [[fallthrough]];
    case Format::R:
      w |= rd << 7 | rs1 << 15 | rs2 << 20;
      break;
    case Format::I:
      w |= rd << 7 | rs1 << 15 | (imm & 0xFFF) << 20;
      break;
    case Format::Shift6:
      w |= rd << 7 | rs1 << 15 | (imm & 0x3F) << 20;
      break;
    case Format::Shift5:
      w |= rd << 7 | rs1 << 15 | (imm & 0x1F) << 20;
      break;
    case Format::S:
      w |= rs1 << 15 | rs2 << 20 | (imm & 0x1F) << 7 | ((imm >> 5) & 0x7F) << 25;
      break;
    case Format::B:
      w |= rs1 << 15 | rs2 << 20 | ((imm >> 11) & 1) << 7 | ((imm >> 1) & 0xF) << 8 |
           ((imm >> 5) & 0x3F) << 25 | ((imm >> 12) & 1) << 31;
      break;
    case Format::U:
      w |= rd << 7 | (imm & 0xFFFFF000u);
      break;
    case Format::J:
      w |= rd << 7 | ((imm >> 12) & 0xFF) << 12 | ((imm >> 11) & 1) << 20 |
           ((imm >> 1) & 0x3FF) << 21 | ((imm >> 20) & 1) << 31;
      break;
    case Format::Fence:
      if (d.op == Op::FENCE) w |= 0x0FF00000u;  // fence iorw, iorw: what `fence` assembles to
      break;
    case Format::Fixed:
      break;
  }
  return w;
}

ImmRange imm_range(OperandKind k) {
  switch (k) {
    case OperandKind::Imm12:
    case OperandKind::Mem: return {-2048, 2047, 1};
    case OperandKind::Shamt6: return {0, 63, 1};
    case OperandKind::Shamt5:
    case OperandKind::Zimm5: return {0, 31, 1};
    case OperandKind::Uimm20: return {0, 0xFFFFF, 1};
    case OperandKind::BTarget: return {-4096, 4094, 2};
    case OperandKind::JTarget: return {-(1 << 20), (1 << 20) - 2, 2};
    case OperandKind::Csr: return {0, 0xFFF, 1};
    case OperandKind::Part: return {0, 3, 1};
    case OperandKind::Sem:
    case OperandKind::Sem1: return {0, kNumSemaphores - 1, 1};
    case OperandKind::Group: return {0, kNumGroups - 1, 1};
    default: return {0, 0, 1};
  }
}

std::string_view xreg_abi_name(unsigned r) {
  static constexpr std::string_view kNames[32] = {
      "zero", "ra", "sp", "gp", "tp",  "t0",  "t1", "t2", "s0", "s1", "a0",
      "a1",   "a2", "a3", "a4", "a5",  "a6",  "a7", "s2", "s3", "s4", "s5",
      "s6",   "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"};
  return kNames[r & 31];
}

}  // namespace dojosim::isa
