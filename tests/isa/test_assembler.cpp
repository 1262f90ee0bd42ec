// SPDX-License-Identifier: MIT
// The assembler (isa/assembler.h). All cases are tagged [asm].
//  - round trip: every table row with operands at the edges of their ranges survives
//    encode -> disassemble -> assemble, and decode gives the fields back;
//  - differential: words hard-coded from the GNU toolchain (riscv64-unknown-elf-as 2.40);
//  - pseudo-instructions (li checked by running its expansion), labels, directives, sections;
//  - errors: each kind of bad input with its file:line:col and message;
//  - robustness and speed: hostile input ends in AsmError; 10k lines assemble quickly.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "isa/asm_forms.h"
#include "isa/assembler.h"
#include "isa/disassembler.h"
#include "isa/instructions.h"

namespace dojosim::isa {
namespace {

const Segment* segment(const Program& p, std::string_view name) {
  for (const Segment& s : p.segments)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<uint32_t> words_of(const Segment& s) {
  std::vector<uint32_t> w(s.bytes.size() / 4);
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = static_cast<uint32_t>(s.bytes[4 * i]) | static_cast<uint32_t>(s.bytes[4 * i + 1]) << 8 |
           static_cast<uint32_t>(s.bytes[4 * i + 2]) << 16 |
           static_cast<uint32_t>(s.bytes[4 * i + 3]) << 24;
  }
  return w;
}

std::vector<uint32_t> text_words(std::string_view src, uint64_t base = 0) {
  const Program p = assemble(src, "test.s", AsmOptions{base});
  const Segment* t = segment(p, ".text");
  return t ? words_of(*t) : std::vector<uint32_t>{};
}

uint32_t one_word(std::string_view src, uint64_t pc = 0) {
  const std::vector<uint32_t> w = text_words(src, pc);
  REQUIRE(w.size() == 1);
  return w[0];
}

AsmError error_of(std::string_view src) {
  try {
    assemble(src, "k.s");
  } catch (const AsmError& e) {
    return e;
  }
  FAIL("no AsmError for: " << src);
  throw std::logic_error("unreachable");
}

// Where the error points and the part of its message that matters.
void check_error(std::string_view src, int line, int col, const std::string& message) {
  const AsmError e = error_of(src);
  INFO("source: " << src << "\nerror: " << e.what());
  CHECK(e.file == "k.s");
  CHECK(e.line == line);
  CHECK(e.column == col);
  CHECK_THAT(e.message, Catch::Contains(message));
}

// Just enough of RV64I to run what li, la and %hi/%lo pairs expand to; returns x0..x31.
std::vector<uint64_t> run_straight_line(const std::vector<uint32_t>& words, uint64_t pc = 0) {
  std::vector<uint64_t> x(32, 0);
  for (uint32_t w : words) {
    const Decoded d = decode(w);
    const auto imm = static_cast<uint64_t>(static_cast<int64_t>(d.imm));
    switch (d.op) {
      case Op::LUI:
        x[d.rd] = imm;
        break;
      case Op::AUIPC:
        x[d.rd] = pc + imm;
        break;
      case Op::ADDI:
        x[d.rd] = x[d.rs1] + imm;
        break;
      case Op::ADDIW:
        x[d.rd] = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(x[d.rs1] + imm)));
        break;
      case Op::SLLI:
        x[d.rd] = x[d.rs1] << (d.imm & 63);
        break;
      default:
        FAIL("cannot run " << disassemble(w, pc));
    }
    x[0] = 0;
    pc += 4;
  }
  return x;
}

// ---- the table round trip ------------------------------------------------------------------

// Values at the edges of a kind's range: variant 0 the minimum, 1 the maximum, 2 in between.
int64_t edge(OperandKind k, int variant) {
  using K = OperandKind;
  auto pick = [variant](int64_t lo, int64_t hi, int64_t mid) {
    return variant == 0 ? lo : variant == 1 ? hi : mid;
  };
  switch (k) {
    case K::Rd:
    case K::Rs1:
    case K::Rs2:
    case K::Rs3:
    case K::MemBase:
    case K::Vd:
    case K::Vs1:
    case K::Vs2:
    case K::Vs3:
      return pick(0, 31, 10);
    case K::Acc:
    case K::Acc2:
      return pick(0, kNumAccs - 1, 3);
    case K::Uimm20:
      return pick(0, 0xFFFFF, 0x12345);
    case K::Csr:
      return pick(0, 0xFFF, 0xC00);
    case K::Part:
      return pick(0, 1, 1);  // every conversion has at least parts 0 and 1
    default: {
      const ImmRange r = imm_range(k);
      return pick(r.min, r.max, r.align * 3);
    }
  }
}

// Puts a value where the kind's field is, written independently of the assembler.
void set_field(Decoded& d, OperandKind k, int variant) {
  using K = OperandKind;
  const int64_t v = edge(k, variant);
  const auto u8 = static_cast<uint8_t>(v);
  switch (k) {
    case K::Rd:
    case K::Vd:
    case K::Vs3:
    case K::Acc:
    case K::Sem:
    case K::Group:
      d.rd = u8;
      break;
    case K::Rs1:
    case K::Vs1:
    case K::Zimm5:
    case K::Sem1:
    case K::MemBase:
      d.rs1 = u8;
      break;
    case K::Rs2:
    case K::Vs2:
    case K::Acc2:
    case K::Part:
      d.rs2 = u8;
      break;
    case K::Rs3:
      d.rs3 = u8;
      break;
    case K::Uimm20:
      d.imm = static_cast<int32_t>(static_cast<uint32_t>(v) << 12);
      break;
    case K::Mem:
      d.imm = static_cast<int32_t>(v);
      d.rs1 = static_cast<uint8_t>(edge(K::Rs1, (variant + 1) % 3));
      break;
    default:
      d.imm = static_cast<int32_t>(v);
      break;  // imm12, shamt, csr, targets
  }
}

void check_field(const Decoded& want, const Decoded& got, OperandKind k) {
  using K = OperandKind;
  switch (k) {
    case K::Rd:
    case K::Vd:
    case K::Vs3:
    case K::Acc:
    case K::Sem:
    case K::Group:
      CHECK(int{got.rd} == int{want.rd});
      break;
    case K::Rs1:
    case K::Vs1:
    case K::Zimm5:
    case K::Sem1:
    case K::MemBase:
      CHECK(int{got.rs1} == int{want.rs1});
      break;
    case K::Rs2:
    case K::Vs2:
    case K::Acc2:
    case K::Part:
      CHECK(int{got.rs2} == int{want.rs2});
      break;
    case K::Rs3:
      CHECK(int{got.rs3} == int{want.rs3});
      break;
    case K::Csr:
      CHECK((got.imm & 0xFFF) == want.imm);
      break;  // decode sign-extends imm[11:0]
    case K::Mem:
      CHECK(got.imm == want.imm);
      CHECK(int{got.rs1} == int{want.rs1});
      break;
    default:
      CHECK(got.imm == want.imm);
      break;
  }
}

TEST_CASE("every table row: encode -> disassemble -> assemble gives the same word", "[asm]") {
  int cases = 0;
  for (const InstrInfo* row = begin_table(); row != end_table(); ++row) {
    // Variants 0..2 put every operand at its minimum / maximum / a middle value; 3 mixes them.
    for (int variant = 0; variant < 4; ++variant) {
      if (row->operand_count == 0 && variant > 0) break;
      Decoded d;
      d.op = row->op;
      for (int i = 0; i < row->operand_count; ++i)
        set_field(d, row->operands[i], variant < 3 ? variant : (i + 1) % 3);
      // At pc 0 a negative target prints as an address just below 2^64 and must still work.
      const uint64_t pc = variant == 0 ? 0 : 0x10000;
      const uint32_t word = encode(d);
      const std::string text = disassemble(word, pc);
      INFO(row->mnemonic << ", variant " << variant << ": '" << text << "', word 0x" << std::hex
                         << word);
      const Decoded back = decode(word);
      REQUIRE(back.op == row->op);
      for (int i = 0; i < row->operand_count; ++i) check_field(d, back, row->operands[i]);
      CHECK(one_word(text, pc) == word);
      ++cases;
    }
  }
  CHECK(cases > 3 * (end_table() - begin_table()));
}

TEST_CASE("x registers by number and by ABI name are the same", "[asm]") {
  for (unsigned r = 0; r < 32; ++r) {
    const std::string abi(xreg_abi_name(r));
    INFO("x" << r << " = " << abi);
    CHECK(one_word("add x" + std::to_string(r) + ", x" + std::to_string(r) + ", x" +
                   std::to_string(r)) == one_word("add " + abi + ", " + abi + ", " + abi));
  }
  CHECK(one_word("addi fp, fp, 1") == one_word("addi s0, s0, 1"));
}

// ---- differential against the GNU toolchain ------------------------------------------------

// Each line assembled together as one program at 0x1000 between the labels `top:` and `end:`;
// the words are what GNU produced for the same text:
//   riscv64-unknown-elf-as -march=rv64im_zicsr_zifencei -mno-relax -o std.o std.s
//   riscv64-unknown-elf-ld --no-relax -Ttext=0x1000 std.o -o std.elf   (resolves la/call/tail)
//   riscv64-unknown-elf-objdump -d std.elf
struct GnuCase {
  const char* line;
  std::vector<uint32_t> words;
};
const GnuCase kGnuRv64[] = {
    {"lui a0, 0xfffff", {0xfffff537}},
    {"auipc t0, 0x12345", {0x12345297}},
    {"jal ra, top", {0xff9ff0ef}},
    {"jal zero, end", {0x1b80006f}},
    {"jalr ra, 0(a0)", {0x000500e7}},
    {"jalr zero, -4(t6)", {0xffcf8067}},
    {"beq a0, a1, top", {0xfeb504e3}},
    {"bne s0, s1, end", {0x1a941463}},
    {"blt t0, t1, top", {0xfe62c0e3}},
    {"bge a2, a3, end", {0x1ad65063}},
    {"bltu x31, x1, top", {0xfc1fece3}},
    {"bgeu sp, gp, end", {0x18317c63}},
    {"lb a0, -2048(sp)", {0x80010503}},
    {"lh a1, 2047(s0)", {0x7ff41583}},
    {"lw a2, 8(sp)", {0x00812603}},
    {"ld ra, 24(sp)", {0x01813083}},
    {"lbu t3, 1(a0)", {0x00154e03}},
    {"lhu t4, -2(a1)", {0xffe5de83}},
    {"lwu t5, 100(a2)", {0x06466f03}},
    {"sb a0, -1(sp)", {0xfea10fa3}},
    {"sh a1, 2(sp)", {0x00b11123}},
    {"sw a2, -2048(s11)", {0x80cda023}},
    {"sd ra, 2040(sp)", {0x7e113c23}},
    {"addi sp, sp, -16", {0xff010113}},
    {"slti a0, a1, -1", {0xfff5a513}},
    {"sltiu a0, a1, 2047", {0x7ff5b513}},
    {"xori a0, a0, -1", {0xfff54513}},
    {"ori t0, t1, 0x7ff", {0x7ff36293}},
    {"andi s2, s3, -2048", {0x8009f913}},
    {"slli a0, a0, 63", {0x03f51513}},
    {"srli a1, a1, 1", {0x0015d593}},
    {"srai a2, a2, 32", {0x42065613}},
    {"add a0, a1, a2", {0x00c58533}},
    {"sub t0, t1, t2", {0x407302b3}},
    {"sll s4, s5, s6", {0x016a9a33}},
    {"slt a3, a4, a5", {0x00f726b3}},
    {"sltu a6, a7, s7", {0x0178b833}},
    {"xor s8, s9, s10", {0x01accc33}},
    {"srl t3, t4, t5", {0x01eede33}},
    {"sra t6, zero, ra", {0x40105fb3}},
    {"or gp, tp, fp", {0x008261b3}},
    {"and a0, a0, a0", {0x00a57533}},
    {"fence", {0x0ff0000f}},
    {"fence.i", {0x0000100f}},
    {"ecall", {0x00000073}},
    {"ebreak", {0x00100073}},
    {"addiw a0, a0, -1", {0xfff5051b}},
    {"slliw a0, a1, 31", {0x01f5951b}},
    {"srliw a0, a1, 1", {0x0015d51b}},
    {"sraiw a0, a1, 17", {0x4115d51b}},
    {"addw a0, a1, a2", {0x00c5853b}},
    {"subw a0, a1, a2", {0x40c5853b}},
    {"sllw a0, a1, a2", {0x00c5953b}},
    {"srlw a0, a1, a2", {0x00c5d53b}},
    {"sraw a0, a1, a2", {0x40c5d53b}},
    {"mul a0, a1, a2", {0x02c58533}},
    {"mulh a3, a4, a5", {0x02f716b3}},
    {"mulhsu a6, a7, s2", {0x0328a833}},
    {"mulhu s3, s4, s5", {0x035a39b3}},
    {"div t0, t1, t2", {0x027342b3}},
    {"divu t3, t4, t5", {0x03eede33}},
    {"rem s6, s7, s8", {0x038beb33}},
    {"remu s9, s10, s11", {0x03bd7cb3}},
    {"mulw a0, a1, a2", {0x02c5853b}},
    {"divw a0, a1, a2", {0x02c5c53b}},
    {"divuw a0, a1, a2", {0x02c5d53b}},
    {"remw a0, a1, a2", {0x02c5e53b}},
    {"remuw a0, a1, a2", {0x02c5f53b}},
    {"csrrw a0, cycle, a1", {0xc0059573}},
    {"csrrs a0, time, zero", {0xc0102573}},
    {"csrrc zero, instret, t0", {0xc022b073}},
    {"csrrwi a0, 0x800, 31", {0x800fd573}},
    {"csrrsi zero, 0x801, 1", {0x8010e073}},
    {"csrrci a1, 0xcc0, 0", {0xcc0075f3}},
    {"nop", {0x00000013}},
    {"mv a0, a1", {0x00058513}},
    {"not t0, t1", {0xfff34293}},
    {"neg a2, a3", {0x40d00633}},
    {"negw a4, a5", {0x40f0073b}},
    {"sext.w s0, s1", {0x0004841b}},
    {"seqz a0, a1", {0x0015b513}},
    {"snez a0, a1", {0x00b03533}},
    {"sltz a0, a1", {0x0005a533}},
    {"sgtz a0, a1", {0x00b02533}},
    {"beqz a0, top", {0xea0508e3}},
    {"bnez a0, end", {0x06051863}},
    {"blez a0, top", {0xeaa054e3}},
    {"bgez a0, end", {0x06055463}},
    {"bltz a0, top", {0xea0540e3}},
    {"bgtz a0, end", {0x06a04063}},
    {"bgt a0, a1, top", {0xe8a5cce3}},
    {"ble a0, a1, end", {0x04a5dc63}},
    {"bgtu a0, a1, top", {0xe8a5e8e3}},
    {"bleu a0, a1, end", {0x04a5f863}},
    {"j top", {0xe89ff06f}},
    {"jal end", {0x048000ef}},
    {"jr t0", {0x00028067}},
    {"jalr t1", {0x000300e7}},
    {"ret", {0x00008067}},
    {"csrr a0, cycle", {0xc0002573}},
    {"csrw 0x800, a0", {0x80051073}},
    {"csrs 0x801, a1", {0x8015a073}},
    {"csrc 0x800, a2", {0x80063073}},
    {"csrwi 0x800, 7", {0x8003d073}},
    {"rdcycle a0", {0xc0002573}},
    {"rdtime a1", {0xc01025f3}},
    {"rdinstret a2", {0xc0202673}},
    {"la a0, top", {0x00000517, 0xe5450513}},
    {"call top", {0x00000097, 0xe4c080e7}},
    {"tail end", {0x00000317, 0x00830067}},
};

TEST_CASE("RV64IM, Zicsr and pseudo-instructions encode as GNU as does", "[asm]") {
  std::string src = "top:\n";
  for (const GnuCase& c : kGnuRv64) src += std::string(c.line) + "\n";
  src += "end:\n";
  const std::vector<uint32_t> got = text_words(src, 0x1000);
  size_t at = 0;
  for (const GnuCase& c : kGnuRv64) {
    for (uint32_t want : c.words) {
      INFO(c.line);
      REQUIRE(at < got.size());
      CHECK(got[at] == want);
      ++at;
    }
  }
  CHECK(at == got.size());
}

// Each word is what GNU as assembles from the .insn line beside it, so the extension's
// encodings are the ones the standard toolchain emits for those opcodes and fields. Regenerate:
// put the .insn lines in insn.s, then
//   riscv64-unknown-elf-as -march=rv64im -o insn.o insn.s && riscv64-unknown-elf-objdump -d insn.o
struct InsnCase {
  const char* ours;
  const char* insn;
  uint32_t word;
};
const InsnCase kCustom[] = {
    {"vle v1, -8(a1)", ".insn i 0x0B, 0, x1, -8(x11)", 0xff85808b},
    {"vse v12, 64(t6)", ".insn s 0x0B, 1, x12, 64(x31)", 0x04cf900b},
    {"vlse8 v3, (t1), t5", ".insn r 0x0B, 2, 0x00, x3, x6, x30", 0x01e3218b},
    {"vlse16 v4, (ra), sp", ".insn r 0x0B, 2, 0x01, x4, x1, x2", 0x0220a20b},
    {"vlse32 v5, (a7), s1", ".insn r 0x0B, 2, 0x02, x5, x17, x9", 0x0498a28b},
    {"vsse8 v6, (s0), t6", ".insn r 0x0B, 3, 0x00, x6, x8, x31", 0x01f4330b},
    {"vsse16 v7, (a1), t0", ".insn r 0x0B, 3, 0x01, x7, x11, x5", 0x0255b38b},
    {"vsse32 v8, (t6), a2", ".insn r 0x0B, 3, 0x02, x8, x31, x12", 0x04cfb40b},
    {"mld acc0, -8(t1)", ".insn i 0x0B, 4, x0, -8(x6)", 0xff83400b},
    {"mst acc6, 64(ra)", ".insn s 0x0B, 5, x6, 64(x1)", 0x0460d00b},
    {"vadd.fp32 v11, v8, v1", ".insn r 0x2B, 0, 0x00, x11, x8, x1", 0x001405ab},
    {"vadd.bf16 v12, v15, v14", ".insn r 0x2B, 1, 0x00, x12, x15, x14", 0x00e7962b},
    {"vadd.cfp8 v13, v22, v27", ".insn r 0x2B, 2, 0x00, x13, x22, x27", 0x01bb26ab},
    {"vsub.fp32 v14, v29, v8", ".insn r 0x2B, 0, 0x01, x14, x29, x8", 0x028e872b},
    {"vsub.bf16 v15, v4, v21", ".insn r 0x2B, 1, 0x01, x15, x4, x21", 0x035217ab},
    {"vsub.cfp8 v16, v11, v2", ".insn r 0x2B, 2, 0x01, x16, x11, x2", 0x0225a82b},
    {"vmul.fp32 v17, v18, v15", ".insn r 0x2B, 0, 0x02, x17, x18, x15", 0x04f908ab},
    {"vmul.bf16 v18, v25, v28", ".insn r 0x2B, 1, 0x02, x18, x25, x28", 0x05cc992b},
    {"vmul.cfp8 v19, v0, v9", ".insn r 0x2B, 2, 0x02, x19, x0, x9", 0x049029ab},
    {"vfma.fp32 v20, v7, v22", ".insn r 0x2B, 0, 0x03, x20, x7, x22", 0x07638a2b},
    {"vfma.bf16 v21, v14, v3", ".insn r 0x2B, 1, 0x03, x21, x14, x3", 0x06371aab},
    {"vfma.cfp8 v22, v21, v16", ".insn r 0x2B, 2, 0x03, x22, x21, x16", 0x070aab2b},
    {"vmin.fp32 v23, v28, v29", ".insn r 0x2B, 0, 0x04, x23, x28, x29", 0x09de0bab},
    {"vmin.bf16 v24, v3, v10", ".insn r 0x2B, 1, 0x04, x24, x3, x10", 0x08a19c2b},
    {"vmin.cfp8 v25, v10, v23", ".insn r 0x2B, 2, 0x04, x25, x10, x23", 0x09752cab},
    {"vmax.fp32 v26, v17, v4", ".insn r 0x2B, 0, 0x05, x26, x17, x4", 0x0a488d2b},
    {"vmax.bf16 v27, v24, v17", ".insn r 0x2B, 1, 0x05, x27, x24, x17", 0x0b1c1dab},
    {"vmax.cfp8 v28, v31, v30", ".insn r 0x2B, 2, 0x05, x28, x31, x30", 0x0befae2b},
    {"vgate.fp32 v5, v6, v7", ".insn r 0x2B, 0, 0x10, x5, x6, x7", 0x207302ab},
    {"vgate.bf16 v8, v9, v10", ".insn r 0x2B, 1, 0x10, x8, x9, x10", 0x20a4942b},
    {"vgate.cfp8 v11, v12, v13", ".insn r 0x2B, 2, 0x10, x11, x12, x13", 0x20d625ab},
    {"vredsum.fp32 v29, v6", ".insn r 0x2B, 0, 0x06, x29, x6, x0", 0x0c030eab},
    {"vredsum.bf16 v30, v13", ".insn r 0x2B, 1, 0x06, x30, x13, x0", 0x0c069f2b},
    {"vredsum.cfp8 v31, v20", ".insn r 0x2B, 2, 0x06, x31, x20, x0", 0x0c0a2fab},
    {"vredmax.fp32 v1, v27", ".insn r 0x2B, 0, 0x07, x1, x27, x0", 0x0e0d80ab},
    {"vredmax.bf16 v2, v2", ".insn r 0x2B, 1, 0x07, x2, x2, x0", 0x0e01112b},
    {"vredmax.cfp8 v3, v9", ".insn r 0x2B, 2, 0x07, x3, x9, x0", 0x0e04a1ab},
    {"vredmin.fp32 v4, v16", ".insn r 0x2B, 0, 0x08, x4, x16, x0", 0x1008022b},
    {"vredmin.bf16 v5, v23", ".insn r 0x2B, 1, 0x08, x5, x23, x0", 0x100b92ab},
    {"vredmin.cfp8 v6, v30", ".insn r 0x2B, 2, 0x08, x6, x30, x0", 0x100f232b},
    {"vbcast.fp32 v7, t6", ".insn r 0x2B, 0, 0x09, x7, x31, x0", 0x120f83ab},
    {"vbcast.bf16 v8, t1", ".insn r 0x2B, 1, 0x09, x8, x6, x0", 0x1203142b},
    {"vbcast.cfp8 v9, ra", ".insn r 0x2B, 2, 0x09, x9, x1, x0", 0x1200a4ab},
    {"vmv.x.fp32 t6, v26", ".insn r 0x2B, 0, 0x0a, x31, x26, x0", 0x140d0fab},
    {"vmv.x.bf16 ra, v1", ".insn r 0x2B, 1, 0x0a, x1, x1, x0", 0x140090ab},
    {"vmv.x.cfp8 a0, v8", ".insn r 0x2B, 2, 0x0a, x10, x8, x0", 0x1404252b},
    {"vmv v13, v15", ".insn r 0x2B, 0, 0x0b, x13, x15, x0", 0x160786ab},
    {"vexp.fp32 v9, v12", ".insn r 0x2B, 0, 0x0c, x9, x12, x0", 0x180604ab},
    {"vrecip.fp32 v10, v31", ".insn r 0x2B, 0, 0x0d, x10, x31, x0", 0x1a0f852b},
    {"vrsqrt.fp32 v31, v1", ".insn r 0x2B, 0, 0x0e, x31, x1, x0", 0x1c008fab},
    {"vlog.fp32 v11, v3", ".insn r 0x2B, 0, 0x0f, x11, x3, x0", 0x1e0185ab},
    {"vcvt.bf16.fp32 v14, v22, 1", ".insn r 0x2B, 3, 0x01, x14, x22, x1", 0x021b372b},
    {"vcvt.cfp8.fp32 v15, v29, 1", ".insn r 0x2B, 3, 0x02, x15, x29, x1", 0x041eb7ab},
    {"vcvt.cfp8.bf16 v16, v4, 1", ".insn r 0x2B, 3, 0x03, x16, x4, x1", 0x0612382b},
    {"vcvt.fp32.bf16 v17, v11, 1", ".insn r 0x2B, 3, 0x04, x17, x11, x1", 0x0815b8ab},
    {"vcvt.fp32.cfp8 v18, v18, 1", ".insn r 0x2B, 3, 0x05, x18, x18, x1", 0x0a19392b},
    {"vcvt.bf16.cfp8 v19, v25, 1", ".insn r 0x2B, 3, 0x06, x19, x25, x1", 0x0c1cb9ab},
    {"vcvt.bf16.fp32.sr v20, v0, 1", ".insn r 0x2B, 4, 0x01, x20, x0, x1", 0x02104a2b},
    {"vcvt.cfp8.fp32.sr v21, v7, 1", ".insn r 0x2B, 4, 0x02, x21, x7, x1", 0x0413caab},
    {"vcvt.cfp8.bf16.sr v22, v14, 1", ".insn r 0x2B, 4, 0x03, x22, x14, x1", 0x06174b2b},
    {"mzero acc5", ".insn r 0x5B, 0, 0x00, x5, x0, x0", 0x000002db},
    {"mma.bf16 acc6, v28, v29", ".insn r 0x5B, 1, 0x00, x6, x28, x29", 0x01de135b},
    {"mma.cfp8 acc7, v3, v10", ".insn r 0x5B, 2, 0x00, x7, x3, x10", 0x00a1a3db},
    {"push t5, t1, a2, 24", ".insn r4 0x7B, 0, 0, x24, x6, x30, x12", 0x61e30c7b},
    {"pull t5, t1, a2, 24", ".insn r4 0x7B, 0, 1, x24, x6, x30, x12", 0x63e30c7b},
    {"swait 29, ra", ".insn r 0x7B, 1, 0x00, x29, x1, x0", 0x00009efb},
    {"ssignal 2, a7", ".insn r 0x7B, 2, 0x00, x2, x17, x0", 0x0008a17b},
    {"sread ra, 16", ".insn r 0x7B, 4, 0x00, x1, x16, x0", 0x000840fb},
    {"barrier 20", ".insn r 0x7B, 3, 0x00, x20, x0, x0", 0x00003a7b},
};

TEST_CASE("every custom instruction matches GNU as's .insn encoding", "[asm]") {
  std::set<std::string> covered;
  for (const InsnCase& c : kCustom) {
    INFO(c.ours << "  vs  " << c.insn);
    CHECK(one_word(c.ours) == c.word);
    const std::string s = c.ours;
    covered.insert(s.substr(0, s.find(' ')));
  }
  // A new row in a custom opcode fails here until it has a case above.
  for (const InstrInfo* row = begin_table(); row != end_table(); ++row) {
    const uint32_t opcode = row->encoding.match & 0x7F;
    if (opcode == 0x0B || opcode == 0x2B || opcode == 0x5B || opcode == 0x7B) {
      INFO(row->mnemonic);
      CHECK(covered.count(std::string(row->mnemonic)) == 1);
    }
  }
}

// ---- pseudo-instructions -------------------------------------------------------------------

std::string fmt_li(unsigned rd, uint64_t v) {
  return "li x" + std::to_string(rd) + ", " + std::to_string(v);
}

uint64_t parse_constant(const std::string& s) {
  return s[0] == '-' ? 0 - std::stoull(s.substr(1), nullptr, 0) : std::stoull(s, nullptr, 0);
}

// Words from `riscv64-unknown-elf-as -march=rv64im` for `li a0, <value>`.
struct LiCase {
  const char* value;
  std::vector<uint32_t> gnu;
};
const LiCase kLi[] = {
    {"0", {0x00000513}},
    {"-1", {0xfff00513}},
    {"1", {0x00100513}},
    {"2047", {0x7ff00513}},
    {"-2048", {0x80000513}},
    {"2048", {0x00001537, 0x8005051b}},
    {"-2049", {0xfffff537, 0x7ff5051b}},
    {"4096", {0x00001537}},
    {"0x7ff", {0x7ff00513}},
    {"0x800", {0x00001537, 0x8005051b}},
    {"0x7fffffff", {0x80000537, 0xfff5051b}},
    {"0x7ffff800", {0x80000537, 0x8005051b}},
    {"0x80000000", {0x0010051b, 0x01f51513}},
    {"-0x80000000", {0x80000537}},
    {"-0x80000001", {0xfff0051b, 0x01f51513, 0xfff50513}},
    {"0xffffffff", {0x0010051b, 0x02051513, 0xfff50513}},
    {"0x100000000", {0x0010051b, 0x02051513}},
    {"0x8000000000000000", {0xfff0051b, 0x03f51513}},
    {"0x7fffffffffffffff", {0xfff0051b, 0x03f51513, 0xfff50513}},
    {"0x123456789abcdef0",
     {0x00247537, 0x8ad5051b, 0x00e51513, 0xc4d50513, 0x00c51513, 0x5e750513, 0x00d51513,
      0xef050513}},
    {"0xfedcba9876543210",
     {0xfff6e537, 0x5d55051b, 0x00c51513, 0xc3b50513, 0x00d51513, 0x54350513, 0x00c51513,
      0x21050513}},
    {"0xffffffff00000000", {0xfff0051b, 0x02051513}},
    {"0x00000fffffffffff", {0x0010051b, 0x02c51513, 0xfff50513}},
    {"0x1234567800000000", {0x02469537, 0xacf5051b, 0x02351513}},
    {"0x8000000000000800", {0xfff0051b, 0x03351513, 0x00150513, 0x00c51513, 0x80050513}},
    {"0xaaaaaaaaaaaaaaaa",
     {0xfaaab537, 0xaab5051b, 0x00c51513, 0xaab50513, 0x00c51513, 0xaab50513, 0x00c51513,
      0xaaa50513}},
};

TEST_CASE("li: same sequence as GNU as, and it computes the value", "[asm]") {
  for (const LiCase& c : kLi) {
    INFO("li a0, " << c.value);
    const std::vector<uint32_t> w = text_words(std::string("li a0, ") + c.value);
    CHECK(w == c.gnu);
    CHECK(run_straight_line(w)[10] == parse_constant(c.value));
  }
}

TEST_CASE("li: any 64-bit value in at most 8 instructions, into any register", "[asm]") {
  std::vector<uint64_t> values = {0, ~0ull, 1ull << 63, ~0ull >> 1};
  for (int b = 0; b < 64; ++b) {
    values.push_back(1ull << b);
    values.push_back((1ull << b) - 1);
    values.push_back(~(1ull << b));
    values.push_back(0 - (1ull << b));
  }
  std::mt19937_64 rng(20240601);
  for (int i = 0; i < 3000; ++i) values.push_back(rng() >> (rng() % 64));
  int wrong = 0;
  for (uint64_t v : values) {
    const unsigned rd = static_cast<unsigned>(v % 31) + 1;
    const std::vector<uint32_t> w = text_words(fmt_li(rd, v));
    if (w.size() > 8 || run_straight_line(w)[rd] != v) {
      ++wrong;
      INFO("li x" << rd << ", " << v);
      CHECK(run_straight_line(w)[rd] == v);
      CHECK(w.size() <= 8);
    }
  }
  CHECK(wrong == 0);
}

// Each pseudo-instruction and the base instructions it stands for.
const std::pair<const char*, const char*> kPseudo[] = {
    {"nop", "addi zero, zero, 0"},
    {"mv a0, a1", "addi a0, a1, 0"},
    {"not a0, a1", "xori a0, a1, -1"},
    {"neg a0, a1", "sub a0, zero, a1"},
    {"negw a0, a1", "subw a0, zero, a1"},
    {"sext.w a0, a1", "addiw a0, a1, 0"},
    {"zext.b a0, a1", "andi a0, a1, 255"},
    {"seqz a0, a1", "sltiu a0, a1, 1"},
    {"snez a0, a1", "sltu a0, zero, a1"},
    {"sltz a0, a1", "slt a0, a1, zero"},
    {"sgtz a0, a1", "slt a0, zero, a1"},
    {"sgt a0, a1, a2", "slt a0, a2, a1"},
    {"sgtu a0, a1, a2", "sltu a0, a2, a1"},
    {"beqz a0, 0x40", "beq a0, zero, 0x40"},
    {"bnez a0, 0x40", "bne a0, zero, 0x40"},
    {"blez a0, 0x40", "bge zero, a0, 0x40"},
    {"bgez a0, 0x40", "bge a0, zero, 0x40"},
    {"bltz a0, 0x40", "blt a0, zero, 0x40"},
    {"bgtz a0, 0x40", "blt zero, a0, 0x40"},
    {"bgt a0, a1, 0x40", "blt a1, a0, 0x40"},
    {"ble a0, a1, 0x40", "bge a1, a0, 0x40"},
    {"bgtu a0, a1, 0x40", "bltu a1, a0, 0x40"},
    {"bleu a0, a1, 0x40", "bgeu a1, a0, 0x40"},
    {"j 0x40", "jal zero, 0x40"},
    {"jal 0x40", "jal ra, 0x40"},
    {"jr a0", "jalr zero, 0(a0)"},
    {"jalr a0", "jalr ra, 0(a0)"},
    {"ret", "jalr zero, 0(ra)"},
    {"csrr a0, fmtcfg", "csrrs a0, fmtcfg, zero"},
    {"csrw srseed, a0", "csrrw zero, srseed, a0"},
    {"csrs fmtcfg, a1", "csrrs zero, fmtcfg, a1"},
    {"csrc fmtcfg, a1", "csrrc zero, fmtcfg, a1"},
    {"csrwi fmtcfg, 7", "csrrwi zero, fmtcfg, 7"},
    {"csrsi fmtcfg, 1", "csrrsi zero, fmtcfg, 1"},
    {"csrci fmtcfg, 31", "csrrci zero, fmtcfg, 31"},
    {"rdcycle a0", "csrrs a0, cycle, zero"},
    {"rdtime a0", "csrrs a0, time, zero"},
    {"rdinstret a0", "csrrs a0, instret, zero"},
    {"li a0, 5", "addi a0, zero, 5"},
    {"la a0, 0x1234", "auipc a0, 0x1; addi a0, a0, 0x234"},
    {"lla a0, 0x1ffff800", "auipc a0, 0x20000; addi a0, a0, -0x800"},
    {"call 0x1234", "auipc ra, 0x1; jalr ra, 0x234(ra)"},
    {"tail -0x1000", "auipc t1, 0xfffff; jalr zero, 0(t1)"},
    // x masked into its field above y; y added; the node bits moved up, then the offset.
    {"la.global a0, t0, t1, 0x1234",
     "slli a0, t0, 49; srli a0, a0, 33; add a0, a0, t1; slli a0, a0, 33; srli a0, a0, 13; "
     "addi a0, a0, 1; slli a0, a0, 12; addi a0, a0, 0x234"},
};

TEST_CASE("pseudo-instructions expand to the base instructions", "[asm]") {
  std::set<std::string> covered;
  for (const auto& [pseudo, base] : kPseudo) {
    INFO(pseudo << "  ==  " << base);
    CHECK(text_words(pseudo) == text_words(base));
    const std::string s = pseudo;
    covered.insert(s.substr(0, s.find(' ')));
  }
  for (const auto& a : asm_detail::aliases()) {
    INFO(a.mnemonic);
    CHECK(covered.count(std::string(a.mnemonic)) == 1);
  }
  for (const auto& m : asm_detail::macros()) {
    INFO(m.mnemonic);
    CHECK(covered.count(std::string(m.mnemonic)) == 1);
  }
}

TEST_CASE("la, %hi/%lo and %pcrel_hi/%pcrel_lo compute the address", "[asm]") {
  for (int64_t v : {int64_t{0}, int64_t{0x7ff}, int64_t{0x800}, int64_t{0xfff}, int64_t{0x12345678},
                    int64_t{0x7ffff7ff}, int64_t{-0x80000000LL}, int64_t{-1}, int64_t{-0x800}}) {
    INFO("sym = " << v);
    const std::string equ = ".equ sym, " + std::to_string(v) + "\n";
    const auto w =
        text_words(equ + "lui a0, %hi(sym)\naddi a0, a0, %lo(sym)\nlw a1, %lo(sym)(a0)\n");
    REQUIRE(w.size() == 3);
    CHECK(run_straight_line({w[0], w[1]})[10] == static_cast<uint64_t>(v));
    CHECK(decode(w[2]).imm == ((v & 0xFFF) ^ 0x800) - 0x800);
  }
  const char* src = R"(
      nop
  1:  auipc a0, %pcrel_hi(target)
      addi a0, a0, %pcrel_lo(1b)
      la a1, target
      .data
      .space 0x1234
  target: .word 0
  )";
  const auto w = text_words(src, 0x40000);
  const auto x = run_straight_line(w, 0x40000);
  const uint64_t target = assemble(src, "t.s", AsmOptions{0x40000}).symbols.at("target");
  CHECK(x[10] == target);
  CHECK(x[11] == target);
}

// ---- labels, expressions, directives, sections ---------------------------------------------

TEST_CASE("labels resolve forward and backward; numeric targets are absolute", "[asm]") {
  const char* with_labels = R"(
  start:
      beq a0, a1, done   # forward
      addi a0, a0, 1
  loop: bne a0, a1, loop
      jal ra, start
  done:
      j start
  )";
  const char* with_addresses = R"(
      beq a0, a1, 0x110
      addi a0, a0, 1
      bne a0, a1, 0x108
      jal ra, 0x100
      jal zero, 0x100
  )";
  CHECK(text_words(with_labels, 0x100) == text_words(with_addresses, 0x100));
}

TEST_CASE("numeric local labels: 1b is the nearest before, 1f the nearest after", "[asm]") {
  const char* src = R"(
  1:  addi a0, a0, -1
      bnez a0, 1b
      beqz a0, 1f
      j 1b
  1:  j 1b              # a label on the same line comes before the instruction
  2:  j 2f
  2:  j 2b
  )";
  const char* expect = R"(
      addi a0, a0, -1
      bne a0, zero, 0x0
      beq a0, zero, 0x10
      jal zero, 0x0
      jal zero, 0x10
      jal zero, 0x18
      jal zero, 0x18
  )";
  CHECK(text_words(src) == text_words(expect));
  CHECK(text_words("010: j 010b") == text_words("j 0"));  // decimal, despite the leading 0
  // Local labels are not exported.
  CHECK(assemble(src, "t.s").symbols.empty());
}

TEST_CASE("expressions: operators, precedence, literals, symbols and '.'", "[asm]") {
  auto value = [](const std::string& expr) {
    const Program p = assemble(".data\n.dword " + expr, "t.s");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p.segments.at(0).bytes.at(i)) << (8 * i);
    return v;
  };
  CHECK(value("1 + 2 * 3") == 7);
  CHECK(value("(1 + 2) * 3") == 9);
  CHECK(value("1 << 4 + 1") == 32);  // C precedence: + binds tighter than <<
  CHECK(value("6 & 3 | 8 ^ 1") == ((6 & 3) | (8 ^ 1)));
  CHECK(value("-7 / 2") == static_cast<uint64_t>(-3));
  CHECK(value("-7 % 2") == static_cast<uint64_t>(-1));
  CHECK(value("-16 >> 2") == static_cast<uint64_t>(-4));
  CHECK(value("~0") == ~0ull);
  CHECK(value("!0 + !5") == 1);
  CHECK(value("0x10 + 0b101 + 010 + 'A' + '\\n'") == 16 + 5 + 8 + 65 + 10);
  CHECK(value("0xffffffffffffffff + 2") == 1);  // wraps
  CHECK(value("-0x8000000000000000 / -1") == 0x8000000000000000ull);
  CHECK(value("%hi(0x12345800) << 12") == 0x12346000);
  CHECK(value("%lo(0x12345800)") == static_cast<uint64_t>(-0x800));
  CHECK(value("K * 2\n.equ K, 21") == 42);  // forward reference to an .equ
  CHECK(value("K\nK = 3 + 4") == 7);

  const char* dots = R"(
  start:
      j . + 8
      nop
      .word . - start
      .equ here, .
      .word here
      .space 32 - (. - start)
  end: .word end - start
  )";
  const std::vector<uint32_t> w = text_words(dots, 0x200);
  REQUIRE(w.size() == 9);
  CHECK(w[0] == one_word("jal zero, 0x208", 0x200));
  CHECK(w[2] == 8);
  CHECK(w[3] == 0x20c);
  CHECK(w[8] == 0x20);
}

TEST_CASE("data directives produce the expected bytes", "[asm]") {
  const char* src = R"(
  .data
  d0: .byte 1, -1, 255, 'A', '\n'
      .half 0x1234, -2
      .short 7
      .word 0xdeadbeef, d0
      .dword -2, d0 + 1
      .quad 0x0102030405060708
      .2byte 1
      .4byte 2
      .long 3
      .8byte 4
      .ascii "ab", "c"
      .asciz "x\ty"
      .string "\x41\101\""
      .space 3
      .zero 2, 0xee
      .skip 1, -1
      .float 1.5, -0.0, 0x1.8p1
      .double 0.1
      .bf16 1.0, 3.140625, 1.00390625, 1.01171875, -2.0, 1e-3
      .balign 8, 0xaa
      .byte 9
  )";
  const Program p = assemble(src, "t.s", AsmOptions{0x1000});
  const Segment* d = segment(p, ".data");
  REQUIRE(d);
  std::vector<uint8_t> want;
  auto le = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) want.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  const uint64_t d0 = 0x1000;  // nothing in .text, so .data starts at text_base
  le(1, 1), le(0xff, 1), le(255, 1), le('A', 1), le('\n', 1);
  le(0x1234, 2), le(0xfffe, 2), le(7, 2);
  le(0xdeadbeef, 4), le(d0, 4);
  le(static_cast<uint64_t>(-2), 8), le(d0 + 1, 8), le(0x0102030405060708, 8);
  le(1, 2), le(2, 4), le(3, 4), le(4, 8);
  for (char c : std::string("abcx\ty")) le(static_cast<uint8_t>(c), 1);
  le(0, 1);
  le('A', 1), le('A', 1), le('"', 1), le(0, 1);
  le(0, 3), le(0xeeee, 2), le(0xff, 1);
  le(0x3fc00000, 4), le(0x80000000, 4), le(0x40400000, 4);
  le(0x3fb999999999999aull, 8);
  // bf16, round to nearest even: 1.00390625 and 1.01171875 are ties between neighbours.
  le(0x3f80, 2), le(0x4049, 2), le(0x3f80, 2), le(0x3f82, 2), le(0xc000, 2), le(0x3a83, 2);
  while ((d0 + want.size()) % 8 != 0) le(0xaa, 1);
  le(9, 1);
  CHECK(d->address == d0);
  CHECK(d->bytes == want);
}

TEST_CASE("sections are placed in order, each 16-aligned, .bss as zero fill", "[asm]") {
  const char* src = R"(
  .text
  _start: nop
      nop
      nop
  .rodata
  ro: .byte 1, 2, 3, 4, 5
  .data
  da: .space 17, 0xab
  .bss
  bs: .space 100
  .section .text.more
  more: ret
  .section .sdata, "aw", @progbits
  more_data: .byte 9
  .section ".sbss"
      .zero 4
  .equ K, 5
  .globl _start
  .type _start, @function
  .size _start, . - _start
  .option norvc
  )";
  const Program p = assemble(src, "s.s", AsmOptions{0x1000});
  REQUIRE(p.segments.size() == 4);
  CHECK(p.segments[0].name == ".text");
  CHECK(p.segments[0].address == 0x1000);
  CHECK(p.segments[0].bytes.size() == 16);
  CHECK(p.segments[1].name == ".rodata");
  CHECK(p.segments[1].address == 0x1010);
  CHECK(p.segments[1].bytes == std::vector<uint8_t>{1, 2, 3, 4, 5});
  CHECK(p.segments[2].name == ".data");
  CHECK(p.segments[2].address == 0x1020);
  CHECK(p.segments[2].bytes.size() == 18);
  CHECK(p.segments[3].name == ".bss");
  CHECK(p.segments[3].address == 0x1040);
  CHECK(p.segments[3].bytes.empty());
  CHECK(p.segments[3].zero_fill == 104);
  CHECK(p.end_address() == 0x1040 + 104);
  const std::map<std::string, uint64_t> want = {
      {"_start", 0x1000},    {"more", 0x100c}, {"ro", 0x1010}, {"da", 0x1020},
      {"more_data", 0x1031}, {"bs", 0x1040},   {"K", 5}};
  CHECK(p.symbols == want);
  CHECK(p.entry == 0x1000);
  CHECK(p.source_name == "s.s");
  CHECK(assemble("nop\nnop\nmain: nop", "t.s", AsmOptions{0x400}).entry == 0x400);
  CHECK(assemble("nop\n_start: nop", "t.s", AsmOptions{0x400}).entry == 0x404);
  CHECK(assemble("", "t.s").segments.empty());
}

TEST_CASE("alignment pads code with nops and data with the fill byte", "[asm]") {
  const uint32_t nop = one_word("nop");
  CHECK(text_words("nop\n.align 4\nnop") == std::vector<uint32_t>(5, nop));
  CHECK(text_words("nop\n.p2align 3\nnop") == std::vector<uint32_t>(3, nop));
  CHECK(text_words("nop\n.balign 16, 0, 4\nnop") == std::vector<uint32_t>(2, nop));  // max skip
  CHECK(text_words("nop\n.balign 16,,12\nnop") == std::vector<uint32_t>(5, nop));
  const Program p = assemble(".data\n.byte 1\n.align 2, 0x55\n.byte 2\n.balign 8\n.byte 3", "t.s");
  CHECK(p.segments.at(0).bytes == std::vector<uint8_t>{1, 0x55, 0x55, 0x55, 2, 0, 0, 0, 3});
  // Alignment is of the absolute address, not of the offset in the section.
  CHECK(text_words("nop\n.align 3\nnop", 0x1004) == std::vector<uint32_t>(2, nop));
}

TEST_CASE("forward references that change sizes settle", "[asm]") {
  // li of a label further down needs lui+addiw once the label is known.
  const char* src = R"(
      li a0, far
      li a1, N
      nop
  far: nop
      .equ N, 0x12345
  )";
  const Program p = assemble(src, "t.s", AsmOptions{0x10000});
  const std::vector<uint32_t> w = words_of(p.segments.at(0));
  const auto x = run_straight_line({w.begin(), w.end() - 2}, 0x10000);
  CHECK(x[10] == p.symbols.at("far"));
  CHECK(x[11] == 0x12345);
  CHECK(p.symbols.at("far") == 0x10000 + 4 * (w.size() - 1));
  // A .space sized by a later label.
  const Program q = assemble(".data\n.space c - b\n.byte 7\nb: .word 0, 0\nc:", "t.s");
  CHECK(q.segments.at(0).bytes.size() == 17);
}

TEST_CASE("comments, statement separators and blank lines", "[asm]") {
  const char* src =
      "  # a comment\n"
      "// another\n"
      "addi a0, a0, 1 # trailing\n"
      "addi a0, a0, 2 // trailing\n"
      "addi a0, /* inline */ a0, 3\n"
      "/* spanning\n lines */ addi a0, a0, 4 ; addi a0, a0, 5;\n"
      "\r\n"
      ".data\n.ascii \"# not a comment; nor this\"\n";
  const Program p = assemble(src, "t.s");
  CHECK(words_of(p.segments.at(0)) ==
        text_words("addi a0,a0,1\naddi a0,a0,2\naddi a0,a0,3\naddi a0,a0,4\naddi a0,a0,5"));
  CHECK(std::string(p.segments.at(1).bytes.begin(), p.segments.at(1).bytes.end()) ==
        "# not a comment; nor this");
}

// ---- errors --------------------------------------------------------------------------------

TEST_CASE("error: the message format", "[asm]") {
  const AsmError e = error_of("nop\n\taddi a0, a0, 5000 # big\n");
  CHECK(e.line == 2);
  CHECK(e.column == 15);
  CHECK(e.message == "imm12 value 5000 is out of range -2048..2047");
  CHECK(std::string(e.what()) ==
        "k.s:2:15: imm12 value 5000 is out of range -2048..2047\n"
        "     addi a0, a0, 5000 # big\n"
        "                  ^~~~");
}

TEST_CASE("error: unknown mnemonic, with the closest suggestion", "[asm]") {
  check_error("nop\n  addd a0, a1, a2", 2, 3, "unknown instruction 'addd'; did you mean 'add'?");
  check_error("vadd.fp16 v1, v2, v3", 1, 1, "did you mean 'vadd.fp32'?");
  check_error("ADD a0, a1, a2", 1, 1, "mnemonics are lower case: 'add'");
  check_error("frobnicate a0", 1, 1, "unknown instruction 'frobnicate'");
}

TEST_CASE("error: wrong operand count names the syntax", "[asm]") {
  check_error("add a0, a1", 1, 1, "'add' takes 3 operands ('add rd, rs1, rs2'), got 2");
  check_error("add a0, a1, a2, a3", 1, 17, "got 4");
  check_error("ret a0", 1, 5, "'ret' takes no operands ('ret'), got 1");
  check_error("jal a0, a1, a2", 1, 13, "expected 'jal rd, jtarget' or 'jal jtarget', got 3");
  check_error("add a0,, a1", 1, 8, "missing operand before ','");
  check_error("add a0, a1,", 1, 11, "missing operand after ','");
}

TEST_CASE("error: bad registers", "[asm]") {
  check_error("add a0, a1, x32", 1, 13, "bad register 'x32' for rs2: expected an x register");
  check_error("vle a0, 0(a1)", 1, 5,
              "bad register 'a0' for vd: expected a vector register (v0..v31)");
  check_error("mzero acc8", 1, 7,
              "bad register 'acc8' for acc: expected an accumulator (acc0..acc7)");
  check_error("lw a0, 8(v1)", 1, 10, "bad base register 'v1'");
  check_error("add a0, a1, 5", 1, 13, "bad register '5' for rs2");
  check_error("addi a0, a1, t0", 1, 14, "expected a value, got register 't0'");
}

TEST_CASE("error: immediates out of range give the value and the range", "[asm]") {
  check_error("addi a0, a0, 2048", 1, 14, "imm12 value 2048 is out of range -2048..2047");
  check_error("addi a0, a0, -2049", 1, 14, "imm12 value -2049 is out of range -2048..2047");
  check_error("slli a0, a0, 64", 1, 14, "shamt6 value 64 is out of range 0..63");
  check_error("slliw a0, a0, 32", 1, 15, "shamt5 value 32 is out of range 0..31");
  check_error("lui a0, 0x100000", 1, 9, "uimm20 value 1048576 is out of range 0x0..0xfffff");
  check_error("lui a0, -1", 1, 9, "uimm20 value -1 is out of range");
  check_error("lw a0, 2048(sp)", 1, 8, "offset 2048 in mem is out of range -2048..2047");
  check_error("csrrw a0, 0x1000, a1", 1, 11, "csr value 4096 is out of range 0x0..0xfff");
  check_error("csrrwi a0, cycle, 32", 1, 19, "zimm5 value 32 is out of range 0..31");
  check_error("vcvt.bf16.fp32 v0, v1, 4", 1, 24, "part2 value 4 is out of range 0..3");
  check_error("vcvt.bf16.fp32 v0, v1, 2", 1, 24,
              "part2 value 2 is out of range 0..1 for vcvt.bf16.fp32");
  check_error("vcvt.cfp8.fp32 v0, v1, 4", 1, 24, "part4 value 4 is out of range 0..3");
  check_error("push a0, a1, a2, 32", 1, 18, "sem value 32 is out of range 0..31");
  check_error("barrier -1", 1, 9, "group value -1 is out of range 0..31");
  check_error(".byte 256", 1, 7, "value 256 does not fit in 1 byte: allowed -128..255");
  check_error(".half -32769", 1, 7, "does not fit in 2 bytes");
}

TEST_CASE("error: branch and jump targets out of range or misaligned", "[asm]") {
  check_error("beq a0, a1, 0x1000", 1, 13,
              "btarget 0x1000 is out of range: offset 4096 from pc 0x0, allowed -4096..4094");
  check_error("nop\nbne a0, a1, 3", 2, 13,
              "misaligned btarget 0x3: offset -1 is not a multiple of 2");
  check_error("jal ra, 0x100000", 1, 9, "jtarget 0x100000 is out of range");
  check_error("j 0x101", 1, 3, "misaligned jtarget 0x101");
  check_error("la a0, 0x100000000", 1, 8, "la target 0x100000000 is more than 2 GiB away");
}

TEST_CASE("error: symbols", "[asm]") {
  check_error("j nowhere", 1, 3, "undefined symbol 'nowhere'");
  check_error("x: nop\n  x: nop", 2, 3, "duplicate definition of 'x': first defined on line 1");
  check_error("x: nop\n.equ x, 1", 2, 6, "duplicate definition of 'x'");
  check_error("a0: nop", 1, 1, "cannot define 'a0': it is a register name");
  check_error("x = x + 1", 1, 5, "the value of 'x' cannot be computed");
  check_error("beqz a0, 1f", 1, 10, "no local label '1:' after this line");
  check_error("1: j 2b", 1, 6, "no local label '2:' before this line");
  check_error("csrr a0, cycel", 1, 10, "unknown CSR 'cycel'; did you mean 'cycle'?");
  check_error("lui a0, %hi(0x7ffff800)", 1, 9, "%hi: 0x7ffff800 is beyond lui's reach");
  check_error("addi a0, a0, %pcrel_lo(0x40)", 1, 14,
              "%pcrel_lo: no earlier auipc with %pcrel_hi at 0x40");
  check_error("addi a0, a0, %lu(1)", 1, 14, "unknown operator '%lu'");
}

TEST_CASE("error: directives", "[asm]") {
  check_error(".wrod 5", 1, 1, "unknown directive '.wrod'; did you mean '.word'?");
  check_error(".space", 1, 1,
              "wrong number of operands for '.space': expected '.space size[, fill]', got 0");
  check_error(".space 1, 2, 3", 1, 14, "got 3");
  check_error(".section .foo", 1, 10, "unknown section '.foo'");
  check_error(".bss\n.word 1", 2, 1, "'.word' in .bss: .bss holds only zeros");
  check_error(".bss\nnop", 2, 1, "instructions cannot go in .bss");
  check_error(".bss\n.space 4, 1", 2, 11, "the fill must be 0");
  check_error(".byte 1\nnop", 2, 1, "instruction at 0x1 is not 4-byte aligned");
  check_error(".data\n.space -1", 2, 8, "negative size -1");
  check_error(".balign 3", 1, 9, "alignment 3 must be a power of two");
  check_error(".align 31", 1, 8, "alignment 2^31 is too large");
  check_error(".ascii abc", 1, 8, "'.ascii' expects strings in double quotes");
  check_error(".equ 5, 1", 1, 6, "'.equ' expects a symbol name first");
  check_error(".globl 1", 1, 8, "'.globl' expects symbol names");
  check_error(".data\n.float 1e39", 2, 8, "'1e39' is out of range for fp32");
  check_error(".data\n.bf16 1e39", 2, 7, "'1e39' is out of range for bf16");
  check_error(".data\n.float 1.5x", 2, 8, "is not a floating-point number");
  check_error(". = 4", 1, 1, "'.' is the current address and cannot be defined");
  check_error(".", 1, 1, "expected an instruction, directive or label, got '.'");
}

TEST_CASE("error: lexical", "[asm]") {
  check_error(".ascii \"abc", 1, 8, "unterminated string");
  check_error("li a0, 'a", 1, 8, "unterminated character literal");
  check_error("nop /* open", 1, 5, "unterminated comment");
  check_error(".ascii \"\\q\"", 1, 9, "unknown escape sequence '\\q'");
  check_error("li a0, 0x", 1, 8, "invalid number '0x'");
  check_error("li a0, 12ab", 1, 8, "invalid number '12ab'");
  check_error("li a0, 09", 1, 8, "invalid octal number '09'");
  check_error("li a0, 0x10000000000000000", 1, 8, "does not fit in 64 bits");
  check_error("li a0, 18446744073709551616", 1, 8, "does not fit in 64 bits");
  check_error("li a0, 2.5", 1, 8, "expected an integer, got the floating-point number '2.5'");
  check_error("nop\n\x01", 2, 1, "expected an instruction, directive or label, got '\\x01'");
}

TEST_CASE("error: expressions", "[asm]") {
  check_error("li a0, 1/0", 1, 9, "division by zero");
  check_error("li a0, 1%0", 1, 9, "remainder by zero");
  check_error("li a0, 1 << 64", 1, 10, "shift count 64 out of range 0..63");
  check_error("li a0, 1 +", 1, 10, "expected an expression after this");
  check_error("li a0, (1 + 2", 1, 8, "missing ')' for this '('");
  check_error("li a0, 1 + 2)", 1, 13, "unmatched ')'");
  check_error("li a0, 1 2", 1, 10, "unexpected '2' after expression");
  check_error("lw a0, a1", 1, 8, "mem must be written offset(register), as in 8(sp); got 'a1'");
  check_error("lw a0, 8(a1 + 1)", 1, 9, "expected a base register in parentheses");
  check_error("vlse8 v1, 4(a1), t0", 1, 11,
              "(rs1) is a base register in parentheses without offset");
  check_error("li a0, " + std::string(100, '(') + "1" + std::string(100, ')'), 1, 72,
              "expression nested too deeply");
  check_error("li a0, " + std::string(100, '-') + "1", 1, 72, "expression nested too deeply");
}

TEST_CASE("error: layouts that cannot settle and images that are too large", "[asm]") {
  check_error("a: .space 8 - 2 * (b - a)\nb:", 1, 4, "does not settle");
  check_error(".space 0x4000001", 1, 1, "the program would exceed 64 MiB");
  check_error(".data\n.byte 1\n.align 30", 3, 1, "the program would exceed 64 MiB");
  check_error(".bss\n.space 0x10000000", 2, 1, "the program would exceed 64 MiB");
  try {
    assemble("nop\nnop\nnop", "k.s", AsmOptions{~uint64_t{0} - 7});
    FAIL("no error");
  } catch (const AsmError& e) {
    CHECK(e.line == 2);  // it would end at 2^64
    CHECK(e.message == "the program would run past the end of the address space");
  }
}

TEST_CASE("error: a file that cannot be read", "[asm]") {
  try {
    assemble_file("/nonexistent/dir/prog.s");
    FAIL("no error");
  } catch (const AsmError& e) {
    CHECK(e.line == 0);
    CHECK(e.file == "/nonexistent/dir/prog.s");
    CHECK_THAT(std::string(e.what()), Catch::StartsWith("/nonexistent/dir/prog.s: cannot open"));
  }
  try {
    assemble_file(DOJOSIM_SOURCE_DIR);  // a directory
    FAIL("no error");
  } catch (const AsmError& e) {
    CHECK(e.line == 0);
    CHECK_THAT(e.message, Catch::StartsWith("cannot"));
  }
  // A file that exists assembles like the same text in memory.
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("dojosim_asm_test_" + std::to_string(std::random_device{}()) + ".s"))
                               .string();
  { std::ofstream(path) << "_start: li a0, 42\n ecall\n"; }
  const Program p = assemble_file(path);
  std::filesystem::remove(path);
  CHECK(p.source_name == path);
  CHECK(words_of(p.segments.at(0)) == text_words("li a0, 42\necall"));
}

namespace {
// Writes `bytes` to a fresh temporary file, assembles it and returns the error's what().
std::string assemble_file_error(const std::string& bytes, const std::string& name) {
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("dojosim_" + std::to_string(std::random_device{}()) + "_" + name))
          .string();
  { std::ofstream(path, std::ios::binary) << bytes; }
  std::string what;
  try {
    assemble_file(path);
  } catch (const AsmError& e) {
    CHECK(e.line == 0);
    CHECK(e.file == path);
    what = e.what();
  }
  std::filesystem::remove(path);
  REQUIRE_FALSE(what.empty());
  CHECK_THAT(what, Catch::StartsWith(path + ": "));
  return what.substr(path.size() + 2);
}
}  // namespace

TEST_CASE("error: a program file with no instructions is refused, naming the file", "[asm]") {
  CHECK(assemble_file_error("", "empty.s") == "no instructions: the file is empty");
  CHECK(assemble_file_error("  \n\t\n", "blank.s") == "no instructions: the file is empty");
  const std::string data_only =
      "no instructions: .text is empty, so a node would have nothing to run";
  CHECK(assemble_file_error("# only a comment\n", "comment.s") == data_only);
  CHECK(assemble_file_error(".data\nx: .word 1\n", "data.s") == data_only);
  CHECK(assemble_file_error(".equ N, 4\n.bss\n.space N\n", "bss.s") == data_only);
  // In memory the same texts assemble: snippets and data images are not programs to run.
  CHECK(assemble("", "t.s").segments.empty());
}

TEST_CASE("error: a binary file is 'not an ELF and not assembly text', with the first bad byte",
          "[asm]") {
  using namespace std::string_literals;
  CHECK(assemble_file_error("\x01\x02\x00\x03 nop"s, "nul.bin") ==
        "not an ELF and not assembly text: a NUL byte at offset 2");
  CHECK(assemble_file_error("nop\n\xff\xfe", "ff.bin") ==
        "not an ELF and not assembly text: byte 0xff at offset 4 is not UTF-8");
  // Overlong encodings, surrogates, stray continuation bytes and a sequence cut by the end.
  CHECK_THAT(assemble_file_error("\xc0\xafnop", "overlong.bin"),
             Catch::EndsWith("byte 0xc0 at offset 0 is not UTF-8"));
  CHECK_THAT(assemble_file_error("\xed\xa0\x80", "surrogate.bin"),
             Catch::EndsWith("byte 0xed at offset 0 is not UTF-8"));
  CHECK_THAT(assemble_file_error("a\x80", "continuation.bin"),
             Catch::EndsWith("byte 0x80 at offset 1 is not UTF-8"));
  CHECK_THAT(assemble_file_error("nop # \xe2\x82", "cut.bin"),
             Catch::EndsWith("byte 0xe2 at offset 6 is not UTF-8"));
  // UTF-8 text (in a comment or a string) is text: it assembles.
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("dojosim_utf8_" + std::to_string(std::random_device{}()) + ".s"))
                               .string();
  {
    std::ofstream(path) << "# Grüße, 𝜋 ≈ 3.14\n_start: li a0, 0\n ecall\n"
                        << " .data\n .asciz \"µs\"\n";
  }
  CHECK_NOTHROW(assemble_file(path));
  std::filesystem::remove(path);
}

// ---- robustness and speed ------------------------------------------------------------------

TEST_CASE("hostile input ends in AsmError, never a crash or a hang", "[asm]") {
  // Pieces that reach the tricky paths: labels, local refs, relocations, sizes, sections.
  static const char* kPieces[] = {"add",
                                  "addi",
                                  "li",
                                  "la",
                                  "la.global",
                                  "call",
                                  "beq",
                                  "j",
                                  "lw",
                                  "push",
                                  "vle",
                                  "mma.bf16",
                                  "csrr",
                                  "a0",
                                  "x31",
                                  "v31",
                                  "acc7",
                                  "cycle",
                                  ",",
                                  "(",
                                  ")",
                                  "+",
                                  "-",
                                  "*",
                                  "/",
                                  "%",
                                  "<<",
                                  ">>",
                                  "~",
                                  "!",
                                  "&",
                                  "|",
                                  "^",
                                  "0",
                                  "1",
                                  "-1",
                                  "0x7fffffff",
                                  "0xffffffffffffffff",
                                  "2047",
                                  "label",
                                  "label:",
                                  "1:",
                                  "1b",
                                  "1f",
                                  "%hi(",
                                  "%lo(",
                                  "%pcrel_hi(",
                                  "%pcrel_lo(",
                                  ".",
                                  ".word",
                                  ".byte",
                                  ".space",
                                  ".align",
                                  ".balign",
                                  ".equ",
                                  ".set",
                                  "=",
                                  ".data",
                                  ".bss",
                                  ".text",
                                  ".section",
                                  ".ascii",
                                  "\"s\"",
                                  "\"",
                                  "'",
                                  "'a'",
                                  "#",
                                  "//",
                                  "/*",
                                  "*/",
                                  "\n",
                                  ";",
                                  "\\",
                                  "8(sp)",
                                  "(a1)",
                                  ".float",
                                  ".bf16",
                                  "1.5",
                                  "inf",
                                  "4",
                                  "30",
                                  "@"};
  std::mt19937 rng(7);
  const int pieces = static_cast<int>(std::size(kPieces));
  int errors = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string src;
    const int n = 1 + static_cast<int>(rng() % 24);
    for (int j = 0; j < n; ++j) {
      src += kPieces[rng() % static_cast<unsigned>(pieces)];
      src += rng() % 3 ? " " : "";
    }
    try {
      assemble(src, "fuzz.s");
    } catch (const AsmError& e) {
      ++errors;
      CHECK(e.line >= 1);
    }
  }
  CHECK(errors > 0);
  for (int i = 0; i < 2000; ++i) {
    std::string src(rng() % 64, '\0');
    for (char& c : src) c = static_cast<char>(rng());
    try {
      assemble(src, "bytes.s");
    } catch (const AsmError&) {
    }
  }
  // Deep nesting and long expressions are refused, not recursed into.
  CHECK_THROWS_AS(
      assemble("li a0, " + std::string(100000, '(') + "1" + std::string(100000, ')'), "t.s"),
      AsmError);
  std::string chain = ".word 1";
  for (int i = 0; i < 100000; ++i) chain += "+1";
  CHECK_THROWS_AS(assemble(chain, "t.s"), AsmError);
  CHECK_THROWS_AS(assemble(std::string(100000, '-') + "1", "t.s"), AsmError);
}

TEST_CASE("10k lines assemble in well under a second", "[asm]") {
  std::string src = ".text\n_start:\n";
  for (int i = 0; i < 2500; ++i) {
    src += "l" + std::to_string(i) + ": addi a0, a0, " + std::to_string(i % 2000) + "\n";
    src += "  li t0, " + std::to_string(i * 7919LL * 104729LL) + "\n";
    src += "  beq a0, t0, l" + std::to_string(i) + "\n";
    src += "  jal ra, l" + std::to_string((i + 7) % 2500) + "  # forward and backward\n";
  }
  const auto start = std::chrono::steady_clock::now();
  const Program p = assemble(src, "big.s");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(p.symbols.size() == 2501);
  // Generous for sanitizer builds; a release build takes a few milliseconds.
  CHECK(seconds < 1.0);
}

}  // namespace
}  // namespace dojosim::isa
