// SPDX-License-Identifier: MIT
#include "rv64_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace dojosim::difftest {
namespace {

constexpr const char* kAbiNames[32] = {
    "zero", "ra", "sp",  "gp",  "tp", "t0", "t1", "t2", "s0", "s1", "a0",
    "a1",   "a2", "a3",  "a4",  "a5", "a6", "a7", "s2", "s3", "s4", "s5",
    "s6",   "s7", "s8",  "s9",  "s10", "s11", "t3", "t4", "t5", "t6"};

constexpr unsigned kSp = 2;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
  return x ^ (x >> 31);
}

// Values where implementations typically go wrong: signs, overflow, the 32-bit boundary that
// the W instructions and sign extension depend on, and the 12-bit immediate range.
constexpr uint64_t kEdgeValues[] = {
    0,
    1,
    2,
    ~uint64_t{0},
    ~uint64_t{1},
    0x8000000000000000,
    0x7FFFFFFFFFFFFFFF,
    0x8000000000000001,
    0x0000000080000000,
    0x000000007FFFFFFF,
    0x00000000FFFFFFFF,
    0xFFFFFFFF80000000,
    0xFFFFFFFF7FFFFFFF,
    0x0000000100000000,
    0x00000000000007FF,
    0x0000000000000800,
    0xFFFFFFFFFFFFF800,
    0x0000000000008000,
    0x000000000000FFFF,
    0x0000000000000080,
    0x00000000000000FF,
    31,
    32,
    63,
    64,
};
constexpr uint32_t kEdgeLow32[] = {0, 1, 0x80000000, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFE};

uint64_t random_value(Rng& rng) {
  switch (rng.below(10)) {
    case 0: case 1: case 2: case 3: return rng.bits();
    case 4: case 5: case 6: return rng.pick(kEdgeValues);
    case 7: return static_cast<uint64_t>(rng.range(-16, 16));
    case 8:  // garbage above an edge in the low word: W instructions must ignore it
      return (rng.bits() & 0xFFFFFFFF00000000) | rng.pick(kEdgeLow32);
    default: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(rng.bits())));
  }
}

class Generator {
 public:
  Generator(uint64_t seed, uint64_t index, const GeneratorOptions& options)
      : rng_(program_seed(seed, index)), options_(options) {
    program_.seed = seed;
    program_.index = index;
  }

  GeneratedProgram run() {
    base_ = 1 + static_cast<unsigned>(rng_.below(31));
    if (base_ == kSp) base_ = 31;
    program_.base_reg = base_;
    reserved_.push_back(base_);

    emit_comment(fmt::format("program {} (seed {:#x}); {} holds the data region's address",
                             program_.index, program_.seed, reg(base_)));
    label(fmt::format(".Lp{}_start", program_.index));
    for (unsigned r = 1; r < 32; ++r)
      if (r != kSp && r != base_) li(r, random_value(rng_));
    line(fmt::format("lla {}, {}", reg(base_), data_label()));

    program_.body_begin = program_.text.size();
    const auto items = rng_.range(options_.min_items, options_.max_items);
    for (int64_t i = 0; i < items; ++i) {
      item(/*in_loop=*/false);
      program_.item_ends.push_back(program_.text.size());
      program_.far_text.push_back(std::move(far_));
      far_.clear();
    }
    program_.dump_begin = program_.text.size();

    emit_comment("dump: data region, then x0..x31 except sp");
    for (unsigned r = 0; r < 32; ++r)
      if (r != kSp) line(fmt::format("sd {}, {}({})", reg(r), kDataBytes + 8 * r, reg(base_)));
    // a1 first: the data base may be one of a0, a2, a7.
    line(fmt::format("addi a1, {}, 0", reg(base_)));
    line("li a0, 1");
    line(fmt::format("li a2, {}", kRecordBytes));
    line("li a7, 64");
    line("ecall");

    emit_data();
    return std::move(program_);
  }

 private:
  enum Kind {
    AluRR, AluImm, ShiftImm, MulDiv, Upper, Mem, Fence,
    Branch, FarBranch, Jal, FarJump, Call, Jalr, Loop, kKinds
  };

  static std::string reg(unsigned r) { return fmt::format("x{}", r); }
  std::string data_label() const { return fmt::format(".Lp{}_data", program_.index); }
  std::string new_label() { return fmt::format(".Lp{}_{}", program_.index, labels_++); }
  void line(const std::string& s) { *out_ += "  " + s + "\n"; }
  void label(const std::string& l) { *out_ += l + ":\n"; }
  void emit_comment(const std::string& s) { *out_ += "  # " + s + "\n"; }

  void li(unsigned r, uint64_t v) {
    line(fmt::format("li {}, {}", reg(r), static_cast<int64_t>(v)));
  }

  bool is_reserved(unsigned r) const {
    return std::find(reserved_.begin(), reserved_.end(), r) != reserved_.end();
  }
  // Any register but sp, whose value differs between qemu and the node.
  unsigned src() {
    unsigned r;
    do r = static_cast<unsigned>(rng_.below(32));
    while (r == kSp);
    return r;
  }
  // A register the body may overwrite; x0 now and then, since writes to it must vanish.
  unsigned dst() {
    if (rng_.percent(4)) return 0;
    return scratch();
  }
  unsigned scratch() {
    unsigned r;
    do r = 1 + static_cast<unsigned>(rng_.below(31));
    while (r == kSp || is_reserved(r));
    return r;
  }

  void item(bool in_loop) {
    unsigned weights[kKinds] = {};
    weights[AluRR] = 22;
    weights[AluImm] = 14;
    weights[ShiftImm] = 8;
    if (options_.mul_div) weights[MulDiv] = 14;
    if (options_.upper_imm) weights[Upper] = 4;
    if (options_.loads_stores) weights[Mem] = 18;
    weights[Fence] = 1;
    if (options_.control_flow) {
      weights[Branch] = 7;
      weights[FarBranch] = 1;
      weights[Jal] = 2;
      weights[FarJump] = 2;
      weights[Call] = 2;
      weights[Jalr] = 3;
      if (!in_loop) weights[Loop] = 5;
    }
    unsigned total = 0;
    for (unsigned w : weights) total += w;
    auto pick = static_cast<unsigned>(rng_.below(total));
    int kind = 0;
    while (pick >= weights[kind]) pick -= weights[kind++];
    switch (kind) {
      case AluRR: alu_rr(); break;
      case AluImm: alu_imm(); break;
      case ShiftImm: shift_imm(); break;
      case MulDiv: mul_div(); break;
      case Upper: upper(); break;
      case Mem: mem(); break;
      case Fence: line("fence"); break;
      case Branch: branch(/*allow_nested=*/!in_loop); break;
      case FarBranch: far_branch(); break;
      case Jal: jal(); break;
      case FarJump: far_jump(); break;
      case Call: call(); break;
      case Jalr: jalr(); break;
      case Loop: loop(); break;
      default: break;
    }
  }

  // Straight-line items, for the bodies of skipped and jumped-over blocks.
  void simple() {
    switch (rng_.below(options_.loads_stores ? 4 : 3)) {
      case 0: alu_rr(); break;
      case 1: alu_imm(); break;
      case 2: shift_imm(); break;
      default: mem(); break;
    }
  }

  void alu_rr() {
    static constexpr const char* kOps[] = {"add", "sub", "sll", "slt", "sltu", "xor",
                                           "srl", "sra", "or",  "and"};
    static constexpr const char* kWordOps[] = {"addw", "subw", "sllw", "srlw", "sraw"};
    const bool word = options_.word_ops && rng_.percent(30);
    const std::string op = word ? rng_.pick(kWordOps) : rng_.pick(kOps);
    const bool shift = op.find("sl") == 0 || op.find("sr") == 0;
    unsigned rs1 = src(), rs2 = rng_.percent(10) ? rs1 : src();
    if (shift && rng_.percent(35)) {
      // Amounts at and beyond the operand width: only the low 5 or 6 bits may count.
      static constexpr int64_t kAmounts[] = {0, 1, 31, 32, 33, 63, 64, 65, 95, -1, -32};
      rs2 = scratch();
      li(rs2, static_cast<uint64_t>(rng_.pick(kAmounts)));
    }
    line(fmt::format("{} {}, {}, {}", op, reg(dst()), reg(rs1), reg(rs2)));
  }

  void alu_imm() {
    static constexpr const char* kOps[] = {"addi", "slti", "sltiu", "xori", "ori", "andi"};
    static constexpr int64_t kEdges[] = {0, 1, -1, 2047, -2048, -2, 0x7FF, 0x400};
    const bool word = options_.word_ops && rng_.percent(15);
    const std::string op = word ? "addiw" : rng_.pick(kOps);
    const int64_t imm = rng_.percent(35) ? rng_.pick(kEdges) : rng_.range(-2048, 2047);
    line(fmt::format("{} {}, {}, {}", op, reg(dst()), reg(src()), imm));
  }

  void shift_imm() {
    static constexpr const char* kOps[] = {"slli", "srli", "srai"};
    static constexpr const char* kWordOps[] = {"slliw", "srliw", "sraiw"};
    static constexpr int64_t kEdges[] = {0, 1, 31, 32, 33, 62, 63};
    static constexpr int64_t kWordEdges[] = {0, 1, 15, 16, 31};
    const bool word = options_.word_ops && rng_.percent(35);
    const char* op = word ? rng_.pick(kWordOps) : rng_.pick(kOps);
    const int64_t shamt = rng_.percent(40) ? (word ? rng_.pick(kWordEdges) : rng_.pick(kEdges))
                                          : rng_.range(0, word ? 31 : 63);
    line(fmt::format("{} {}, {}, {}", op, reg(dst()), reg(src()), shamt));
  }

  void mul_div() {
    static constexpr const char* kOps[] = {"mul", "mulh", "mulhsu", "mulhu", "div",
                                           "divu", "rem", "remu"};
    static constexpr const char* kWordOps[] = {"mulw", "divw", "divuw", "remw", "remuw"};
    const bool word = options_.word_ops && rng_.percent(35);
    const char* op = word ? rng_.pick(kWordOps) : rng_.pick(kOps);
    unsigned rs1 = src(), rs2 = src();
    if (rng_.percent(45)) {
      // Division by zero and the one overflowing quotient, INT_MIN / -1, at both widths;
      // the 32-bit forms get garbage in the high half that they must ignore.
      const uint64_t hi = rng_.percent(50) ? 0 : rng_.bits() & 0xFFFFFFFF00000000;
      const uint64_t dividends[] = {0x8000000000000000, hi | 0x80000000, 0xFFFFFFFF80000000,
                                    ~uint64_t{0},       0x7FFFFFFFFFFFFFFF, random_value(rng_)};
      const uint64_t divisors[] = {0, hi, ~uint64_t{0}, hi | 0xFFFFFFFF, 1,
                                   random_value(rng_)};
      rs1 = scratch();
      do rs2 = scratch();
      while (rs2 == rs1);
      li(rs1, rng_.pick(dividends));
      li(rs2, rng_.pick(divisors));
    }
    line(fmt::format("{} {}, {}, {}", op, reg(dst()), reg(rs1), reg(rs2)));
  }

  void upper() {
    static constexpr int64_t kEdges[] = {0, 1, 0x7FFFF, 0x80000, 0xFFFFF};
    const int64_t imm = rng_.percent(40) ? rng_.pick(kEdges) : rng_.range(0, 0xFFFFF);
    line(fmt::format("{} {}, {:#x}", rng_.percent(50) ? "lui" : "auipc", reg(dst()), imm));
  }

  void mem() {
    static constexpr const char* kLoads[][2] = {
        {"lb", "lbu"}, {"lh", "lhu"}, {"lw", "lwu"}, {"ld", "ld"}};
    static constexpr const char* kStores[] = {"sb", "sh", "sw", "sd"};
    const unsigned log_width = static_cast<unsigned>(rng_.below(4));
    const int64_t width = int64_t{1} << log_width;
    const int64_t target = width * static_cast<int64_t>(rng_.below(kDataBytes / width));
    const bool store = rng_.percent(40);
    // Sometimes through a second register, so negative offsets and other bases occur too.
    unsigned base = base_;
    int64_t offset = target;
    if (rng_.percent(30)) {
      base = scratch();
      // Offsets then span most of the 12-bit immediate: [-2040, 2047].
      const int64_t moved = 8 * rng_.range(-192, 255);
      line(fmt::format("addi {}, {}, {}", reg(base), reg(base_), moved));
      offset = target - moved;
    }
    const std::string addr = fmt::format("{}({})", offset, reg(base));
    if (store)
      line(fmt::format("{} {}, {}", kStores[log_width], reg(src()), addr));
    else
      line(fmt::format("{} {}, {}", kLoads[log_width][rng_.below(2)], reg(dst()), addr));
  }

  // "bge x5, x7, <target>", after setting up the operands if needed.
  std::string conditional_branch(const std::string& target) {
    static constexpr const char* kOps[] = {"beq", "bne", "blt", "bge", "bltu", "bgeu"};
    unsigned rs1 = src(), rs2 = src();
    switch (rng_.below(4)) {
      case 0: rs2 = rs1; break;  // always or never taken
      case 1:
        rs2 = scratch();
        li(rs2, rng_.pick(kEdgeValues));
        break;
      default: break;
    }
    return fmt::format("{} {}, {}, {}", rng_.pick(kOps), reg(rs1), reg(rs2), target);
  }

  void branch(bool allow_nested) {
    const std::string skip = new_label();
    line(conditional_branch(skip));
    const auto n = rng_.range(1, 5);
    for (int64_t i = 0; i < n; ++i) {
      // A nested forward branch now and then: its target is inside the outer skipped block.
      if (allow_nested && rng_.percent(10)) branch(false);
      else simple();
    }
    label(skip);
  }

  // A branch across up to 4 KiB of zeros (illegal instructions, should it land there), forward or
  // backward, so that every bit of the branch offset is exercised; both paths then join.
  void far_branch() {
    const std::string taken = new_label(), join = new_label();
    const std::string gap = fmt::format(".skip {}", 4 * rng_.range(0, 1000));
    if (rng_.percent(50)) {
      line(conditional_branch(taken));
      simple();
      line(fmt::format("jal x0, {}", join));
      line(gap);
      label(taken);
      simple();
    } else {
      const std::string setup = new_label();
      line(fmt::format("jal x0, {}", setup));
      label(taken);
      simple();
      line(fmt::format("jal x0, {}", join));
      line(gap);
      label(setup);
      line(conditional_branch(taken));
      simple();
    }
    label(join);
  }

  // A jal to code after the whole batch and back: long offsets in both directions.
  void far_jump() {
    const std::string there = new_label(), back = new_label();
    const bool through_link = rng_.percent(50);
    const unsigned link = through_link ? scratch() : dst();
    line(fmt::format("jal {}, {}", reg(link), there));
    label(back);
    std::string* const saved = out_;
    out_ = &far_;
    label(there);
    if (through_link) reserved_.push_back(link);
    const auto n = rng_.range(1, 3);
    for (int64_t i = 0; i < n; ++i) simple();
    if (through_link) {
      reserved_.pop_back();
      line(fmt::format("jalr x0, 0({})", reg(link)));
    } else {
      line(fmt::format("jal x0, {}", back));
    }
    out_ = saved;
  }

  // Jumps over dead code; the link register receives an address both sides agree on.
  void jal() {
    const std::string target = new_label();
    line(fmt::format("jal {}, {}", reg(dst()), target));
    const auto n = rng_.range(1, 3);
    for (int64_t i = 0; i < n; ++i) simple();
    label(target);
  }

  // A subroutine reached by jal and left by jalr through the link register: a backward jump
  // through a register.
  void call() {
    const unsigned link = scratch();
    const std::string sub = new_label(), after = new_label();
    line(fmt::format("jal {}, {}", reg(link), sub));
    line(fmt::format("jal x0, {}", after));
    label(sub);
    reserved_.push_back(link);
    const auto n = rng_.range(1, 4);
    for (int64_t i = 0; i < n; ++i) simple();
    reserved_.pop_back();
    line(fmt::format("jalr x0, 0({})", reg(link)));
    label(after);
  }

  void jalr() {
    const unsigned t = scratch();
    const std::string target = new_label();
    line(fmt::format("lla {}, {}", reg(t), target));
    int64_t offset = 0;
    switch (rng_.below(4)) {
      case 0: break;
      case 1:  // the target is register + offset
        offset = 4 * rng_.range(-8, 8);
        line(fmt::format("addi {}, {}, {}", reg(t), reg(t), -offset));
        break;
      case 2:  // jalr clears bit 0 of the target
        line(fmt::format("addi {}, {}, 1", reg(t), reg(t)));
        break;
      default:
        offset = 1;
        break;
    }
    // rd may be the base register: the target must be computed from the old value.
    const unsigned rd = rng_.percent(25) ? t : dst();
    line(fmt::format("jalr {}, {}({})", reg(rd), offset, reg(t)));
    const auto n = rng_.range(1, 3);
    for (int64_t i = 0; i < n; ++i) simple();
    label(target);
  }

  void loop() {
    const unsigned counter = scratch();
    const int64_t trips = rng_.range(1, 6);
    const std::string top = new_label();
    const auto shape = rng_.below(5);
    const int64_t start = shape == 2 ? trips - 1 : shape == 4 ? -trips : trips;
    li(counter, static_cast<uint64_t>(start));
    label(top);
    reserved_.push_back(counter);
    const auto n = rng_.range(1, 8);
    for (int64_t i = 0; i < n; ++i) item(/*in_loop=*/true);
    reserved_.pop_back();
    const std::string c = reg(counter);
    const char* step = shape == 4 ? "1" : "-1";
    line(fmt::format("addi {0}, {0}, {1}", c, step));
    switch (shape) {
      case 0: line(fmt::format("bne {}, x0, {}", c, top)); break;
      case 1: line(fmt::format("blt x0, {}, {}", c, top)); break;
      case 2: line(fmt::format("bge {}, x0, {}", c, top)); break;
      case 3: line(fmt::format("bltu x0, {}, {}", c, top)); break;
      default: line(fmt::format("blt {}, x0, {}", c, top)); break;
    }
  }

  void emit_data() {
    std::string& d = program_.data;
    d += "  .balign 8\n" + data_label() + ":\n";
    for (unsigned i = 0; i < kDataBytes / 8; i += 4)
      d += fmt::format("  .dword {:#018x}, {:#018x}, {:#018x}, {:#018x}\n", random_value(rng_),
                       random_value(rng_), random_value(rng_), random_value(rng_));
    for (unsigned i = 0; i < kDumpSlots; ++i)
      d += fmt::format("  .dword {:#018x}\n", i == kMarkerSlot ? record_marker(program_.index) : 0);
  }

  Rng rng_;
  GeneratorOptions options_;
  GeneratedProgram program_;
  std::string far_;                      // the current body item's far code
  std::string* out_ = &program_.text;   // where code goes: the program's text or far_
  unsigned base_ = 0;
  std::vector<unsigned> reserved_;  // registers the code being generated must not overwrite
  unsigned labels_ = 0;
};

}  // namespace

GeneratedProgram GeneratedProgram::prefix(size_t n) const {
  GeneratedProgram p = *this;
  n = std::min(n, items());
  const size_t end = n == 0 ? body_begin : item_ends[n - 1];
  p.text = text.substr(0, end) + text.substr(dump_begin);
  p.item_ends.resize(n);
  p.far_text.resize(n);
  p.dump_begin = end;
  return p;
}

std::string GeneratedProgram::item_text(size_t i) const {
  const size_t begin = i == 0 ? body_begin : item_ends[i - 1];
  return text.substr(begin, item_ends[i] - begin);
}

uint64_t program_seed(uint64_t seed, uint64_t index) {
  return splitmix64(seed ^ splitmix64(index + 0x5EED));
}

GeneratedProgram generate_program(uint64_t seed, uint64_t index, const GeneratorOptions& options) {
  return Generator(seed, index, options).run();
}

std::string batch_source(const std::vector<GeneratedProgram>& programs) {
  std::string s = "# Generated by tests/differential/rv64_generator.cpp.\n";
  if (!programs.empty())
    s += fmt::format("# seed {:#x}, programs {}..{}\n", programs.front().seed,
                     programs.front().index, programs.back().index);
  s += "  .option norvc\n  .text\n  .globl _start\n_start:\n";
  for (const auto& p : programs) s += p.text;
  // The final newline ends the node's last output line, so its runner adds none of its own.
  s += "  # end: a newline, then exit(0)\n"
       "  lla a1, .Lnewline\n  li a0, 1\n  li a2, 1\n  li a7, 64\n  ecall\n"
       "  li a0, 0\n  li a7, 93\n  ecall\n";
  s += "  # far code, reached by jal from the programs above\n"
       "  .section .text.far, \"ax\", @progbits\n";
  for (const auto& p : programs)
    for (const auto& f : p.far_text) s += f;
  s += "  .data\n";
  for (const auto& p : programs) s += p.data;
  s += ".Lnewline:\n  .byte 10\n";
  return s;
}

std::string linker_script() {
  return "ENTRY(_start)\n"
         "SECTIONS {\n"
         "  . = 0x10000;\n"
         "  .text : { *(.text) }\n"
         // 576 KiB on: offsets of jal to the far code from early programs have bit 19 set.
         "  . = 0xA0000;\n"
         "  .text.far : { *(.text.far) }\n"
         "  . = ALIGN(0x1000);\n"
         "  .data : { *(.data*) *(.sdata*) *(.bss*) *(.sbss*) }\n"
         "}\n";
}

std::string register_name(unsigned r) {
  return r < 32 ? fmt::format("x{} ({})", r, kAbiNames[r]) : fmt::format("x{}", r);
}

}  // namespace dojosim::difftest
