// SPDX-License-Identifier: MIT
// Per-instruction semantics of the interpreter, with the edges that break interpreters:
// overflow, division by zero and INT_MIN / -1, shifts by 31/32/63/64, W-instruction sign
// extension, writes to x0, misaligned and out-of-range accesses, and every trap's message.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "isa/formats.h"
#include "isa/vector_math.h"
#include "run_helpers.h"

using dojosim::test::kExit;
using dojosim::test::run_asm;
using namespace dojosim;

namespace {

constexpr uint64_t kMin64 = 0x8000000000000000ull;

// Runs `body` with timing on and off; the registers must agree, and the run must exit.
test::NodeRun run_both(const std::string& body) {
  isa::CoreConfig off;
  off.timing = false;
  test::NodeRun a = run_asm(body + kExit);
  test::NodeRun b = run_asm(body + kExit, off);
  INFO(a.result.message);
  REQUIRE(a.result.outcome == isa::RunOutcome::Exited);
  REQUIRE(b.result.outcome == isa::RunOutcome::Exited);
  for (unsigned r = 0; r < 32; ++r) REQUIRE(a.x(r) == b.x(r));
  return a;
}

}  // namespace

TEST_CASE("add, sub and immediates wrap around on overflow", "[interp]") {
  auto r = run_both(R"(
    li t0, 0x7fffffffffffffff
    addi a0, t0, 1
    li t1, 0x8000000000000000
    addi a1, t1, -1
    sub a2, t1, t0
    li t2, -1
    add a3, t2, t2
    sltiu a4, zero, -1
    slti a5, t1, 0
  )");
  CHECK(r.x("a0") == kMin64);
  CHECK(r.x("a1") == 0x7fffffffffffffffull);
  CHECK(r.x("a2") == 1);
  CHECK(r.x("a3") == ~uint64_t{1});
  CHECK(r.x("a4") == 1);  // sltiu compares with the sign-extended immediate as unsigned
  CHECK(r.x("a5") == 1);
}

TEST_CASE("W instructions sign-extend their 32-bit results", "[interp]") {
  auto r = run_both(R"(
    li t0, 0x7fffffff
    addiw a0, t0, 1
    addw a1, t0, t0
    li t1, 0x100000000
    addw a2, t1, zero
    subw a3, zero, t0
    li t2, 0xffffffff80000000
    sraiw a4, t2, 31
    srliw a5, t2, 31
    slliw a6, t0, 1
    mulw s2, t0, t0
  )");
  CHECK(r.x("a0") == 0xffffffff80000000ull);
  CHECK(r.x("a1") == 0xfffffffffffffffeull);
  CHECK(r.x("a2") == 0);
  CHECK(r.x("a3") == 0xffffffff80000001ull);
  CHECK(r.x("a4") == ~uint64_t{0});
  CHECK(r.x("a5") == 1);
  CHECK(r.x("a6") == 0xfffffffffffffffeull);
  CHECK(r.x("s2") == 1);  // 0x7fffffff^2 = 0x3fffffff00000001: low word 1
}

TEST_CASE("shifts by 0, 31, 32, 63 and 64 use only the low bits of the amount", "[interp]") {
  auto r = run_both(R"(
    li t0, -1
    li t1, 64
    sll a0, t0, t1
    li t1, 63
    srl a1, t0, t1
    sra a2, t0, t1
    slli a3, t0, 63
    srai a4, a3, 63
    li t1, 32
    sllw a5, t0, t1
    li t1, 31
    srlw a6, t0, t1
    srli s2, t0, 0
  )");
  CHECK(r.x("a0") == ~uint64_t{0});
  CHECK(r.x("a1") == 1);
  CHECK(r.x("a2") == ~uint64_t{0});
  CHECK(r.x("a3") == kMin64);
  CHECK(r.x("a4") == ~uint64_t{0});
  CHECK(r.x("a5") == ~uint64_t{0});  // shift by 32 & 31 = 0
  CHECK(r.x("a6") == 1);
  CHECK(r.x("s2") == ~uint64_t{0});
}

TEST_CASE("division by zero and INT_MIN / -1 follow the RISC-V rules", "[interp]") {
  auto r = run_both(R"(
    li t0, 7
    div a0, t0, zero
    divu a1, t0, zero
    rem a2, t0, zero
    remu a3, t0, zero
    li t1, 0x8000000000000000
    li t2, -1
    div a4, t1, t2
    rem a5, t1, t2
    li t3, -7
    li t4, 2
    div a6, t3, t4
    rem s2, t3, t4
  )");
  CHECK(r.x("a0") == ~uint64_t{0});
  CHECK(r.x("a1") == ~uint64_t{0});
  CHECK(r.x("a2") == 7);
  CHECK(r.x("a3") == 7);
  CHECK(r.x("a4") == kMin64);
  CHECK(r.x("a5") == 0);
  CHECK(r.x("a6") == static_cast<uint64_t>(-3));  // toward zero
  CHECK(r.x("s2") == static_cast<uint64_t>(-1));
}

TEST_CASE("32-bit division edges sign-extend", "[interp]") {
  auto r = run_both(R"(
    li t0, 0x80000000
    li t1, -1
    divw a0, t0, t1
    remw a1, t0, t1
    divuw a2, t0, zero
    remuw a3, t0, zero
    divw a4, t0, zero
    remw a5, t0, zero
    li t2, 0xffffffff
    li t3, 2
    divuw a6, t2, t3
  )");
  CHECK(r.x("a0") == 0xffffffff80000000ull);
  CHECK(r.x("a1") == 0);
  CHECK(r.x("a2") == ~uint64_t{0});
  CHECK(r.x("a3") == 0xffffffff80000000ull);
  CHECK(r.x("a4") == ~uint64_t{0});
  CHECK(r.x("a5") == 0xffffffff80000000ull);
  CHECK(r.x("a6") == 0x7fffffff);
}

TEST_CASE("high multiplies of signed and unsigned operands", "[interp]") {
  auto r = run_both(R"(
    li t0, -1
    li t1, 2
    mulh a0, t0, t1
    mulhu a1, t0, t1
    mulhsu a2, t0, t1
    mulhsu a3, t1, t0
    li t2, 0x8000000000000000
    mulh a4, t2, t2
    mul a5, t2, t2
  )");
  CHECK(r.x("a0") == ~uint64_t{0});
  CHECK(r.x("a1") == 1);
  CHECK(r.x("a2") == ~uint64_t{0});
  CHECK(r.x("a3") == 1);
  CHECK(r.x("a4") == 0x4000000000000000ull);
  CHECK(r.x("a5") == 0);
}

TEST_CASE("writes to x0 are discarded", "[interp]") {
  auto r = run_both(R"(
    la t0, data
    addi zero, zero, 5
    lui zero, 0x12345
    ld zero, 0(t0)
    jal zero, 1f
1:  add a0, zero, zero
    .data
data: .dword 0x1234
  )");
  CHECK(r.x(0u) == 0);
  CHECK(r.x("a0") == 0);
}

TEST_CASE("loads sign- or zero-extend and stores write only their width", "[interp]") {
  auto r = run_both(R"(
    la t0, data
    lb a0, 0(t0)
    lbu a1, 0(t0)
    lh a2, 0(t0)
    lhu a3, 0(t0)
    lw a4, 0(t0)
    lwu a5, 0(t0)
    ld a6, 0(t0)
    li t1, 0x1122334455667788
    sd t1, 8(t0)
    sb zero, 8(t0)
    sh zero, 10(t0)
    sw zero, 12(t0)
    ld s2, 8(t0)
    .data
    .align 3
data: .dword 0xfedcba9876543280
      .dword 0
  )");
  CHECK(r.x("a0") == 0xffffffffffffff80ull);
  CHECK(r.x("a1") == 0x80);
  CHECK(r.x("a2") == 0x3280);
  CHECK(r.x("a3") == 0x3280);
  CHECK(r.x("a4") == 0x76543280);
  CHECK(r.x("a5") == 0x76543280);
  CHECK(r.x("a6") == 0xfedcba9876543280ull);
  CHECK(r.x("s2") == 0x0000000000007700ull);
}

TEST_CASE("branches compare signed and unsigned", "[interp]") {
  auto r = run_both(R"(
    li t0, -1
    li t1, 1
    li a0, 0
    blt t0, t1, 1f
    ori a0, a0, 1
1:  bltu t0, t1, 2f
    ori a0, a0, 2
2:  bge t1, t0, 3f
    ori a0, a0, 4
3:  bgeu t1, t0, 4f
    ori a0, a0, 8
4:  beq t0, t0, 5f
    ori a0, a0, 16
5:  bne t0, t0, 6f
    ori a0, a0, 32
6:
  )");
  CHECK(r.x("a0") == (2 | 8 | 32));
}

TEST_CASE("jal and jalr link pc + 4 and jalr clears bit 0", "[interp]") {
  auto r = run_both(R"(
    jal ra, 1f
back:
    j 2f
1:  mv a0, ra
    la t0, back
    addi t0, t0, 1
    jalr a1, 0(t0)
2:  la a2, back
  )");
  CHECK(r.x("a0") == r.x("a2"));
  CHECK(r.x("a1") != 0);
}

TEST_CASE("auipc and lui build addresses and constants", "[interp]") {
  auto r = run_both(R"(
here:
    auipc a0, 0
    lui a1, 0xfffff
    auipc a2, 1
  )");
  CHECK(r.x("a0") == r.symbol("here"));
  CHECK(r.x("a1") == 0xfffffffffffff000ull);
  CHECK(r.x("a2") == r.symbol("here") + 8 + 0x1000);
}

TEST_CASE("traps name the cause, pc, address and instruction", "[interp][errors]") {
  struct Case {
    const char* program;
    isa::TrapCause cause;
    const char* text;
  };
  const Case cases[] = {
      {"li t0, 2\n lw a0, 0(t0)", isa::TrapCause::LoadMisaligned,
       "misaligned load at pc 0x4: address 0x2 is not a multiple of 4 in `lw a0, 0(t0)`"},
      {"li t0, 1\n sd a0, 0(t0)", isa::TrapCause::StoreMisaligned,
       "misaligned store at pc 0x4: address 0x1 is not a multiple of 8 in `sd a0, 0(t0)`"},
      {"li t0, 0x140000\n lb a0, 0(t0)", isa::TrapCause::LoadOutOfRange,
       "load outside SRAM at pc 0x4: address 0x140000 (+1 bytes) is outside SRAM [0, 0x140000)"},
      {"li t0, -8\n sd a0, 0(t0)", isa::TrapCause::StoreOutOfRange,
       "store outside SRAM at pc 0x4: address 0xfffffffffffffff8"},
      {".word 0", isa::TrapCause::IllegalInstruction,
       "illegal instruction at pc 0x0: no instruction has this encoding in `.word 0x00000000`"},
      {"li t0, 0x200000\n jr t0", isa::TrapCause::FetchOutOfRange,
       "instruction fetch outside SRAM at pc 0x200000"},
      {"li t0, 0x102\n jr t0", isa::TrapCause::FetchMisaligned,
       "misaligned instruction fetch at pc 0x4: jump target 0x102 is not a multiple of 4 in `jalr "
       "zero, 0(t0)`"},
      {"ebreak", isa::TrapCause::Breakpoint, "breakpoint at pc 0x0 in `ebreak`"},
      {"li a7, 1\n ecall", isa::TrapCause::BadEcall,
       "a7 = 1: supported are 93 (exit) and 64 (write)"},
      {"li a0, 3\n li a7, 64\n ecall", isa::TrapCause::BadEcall, "write to fd 3"},
      {"csrw cycle, a0", isa::TrapCause::BadCsr, "CSR cycle is read-only"},
      {"csrr a0, 0x7c0", isa::TrapCause::BadCsr, "CSR 0x7c0 does not exist"},
      {".word 0x023130ab", isa::TrapCause::IllegalInstruction,
       "`.word 0x023130ab`"},  // part 3 of 2
      {"li t0, 4\n vle v1, 0(t0)", isa::TrapCause::LoadMisaligned, "is not a multiple of 8"},
      // Fields wider than what they name are illegal (found by fuzz_exec and fuzz_disasm).
      {".word 0x00000c5b", isa::TrapCause::IllegalInstruction,
       "`.word 0x00000c5b`"},  // mzero acc24
      {".word 0x058b500b", isa::TrapCause::IllegalInstruction, "`.word 0x058b500b`"},  // mst acc24
      {".word 0x027332ab", isa::TrapCause::IllegalInstruction, "`.word 0x027332ab`"},  // part 7
  };
  for (const Case& c : cases) {
    INFO(c.program);
    auto r = run_asm(std::string(c.program) + kExit);
    REQUIRE(r.result.outcome == isa::RunOutcome::Trapped);
    CHECK(r.thread().trap.cause == c.cause);
    CHECK_THAT(r.result.message, Catch::Contains(c.text));
    CHECK_THAT(r.result.message, Catch::StartsWith("node (0,0) thread 0: "));
  }
}

TEST_CASE("CSRs report node, thread and counters; fmtcfg and srseed are writable", "[interp]") {
  auto r = run_both(R"(
    csrr a0, threadid
    csrr a1, nodex
    csrr a2, nthreads
    csrr a3, sramsize
    li t0, 0x4f
    csrw fmtcfg, t0
    csrr a4, fmtcfg
    nop
    nop
    rdinstret a5
  )");
  CHECK(r.x("a0") == 0);
  CHECK(r.x("a1") == 0);
  CHECK(r.x("a2") == 1);  // threads started, not the 4 the node has
  CHECK(r.x("a3") == 0x140000);
  CHECK(r.x("a4") == 0x4f);
  CHECK(r.thread().cfp8.layout == isa::Cfp8Layout::E5M2);
  CHECK(r.thread().cfp8.bias == 15);
  CHECK(r.x("a5") >= 8);
}

TEST_CASE("ecall write prints with the node and thread prefix; exit code is a0", "[interp]") {
  auto r = run_asm(R"(
    la a1, msg
    li a2, 12
    li a0, 1
    li a7, 64
    ecall
    mv s0, a0
    li a0, 2
    la a1, msg
    li a2, 5
    li a7, 64
    ecall
    li a0, 42
    li a7, 93
    ecall
    .data
msg: .ascii "hello\nworld\n"
  )");
  REQUIRE(r.result.outcome == isa::RunOutcome::Exited);
  CHECK(r.out == "[0,0 t0] hello\n[0,0 t0] world\n");
  CHECK(r.err == "[0,0 t0] hello\n");
  CHECK(r.x("s0") == 12);
  CHECK(r.result.threads[0].exit_code == 42);
}

TEST_CASE("code written to SRAM after it ran is decoded again", "[interp]") {
  auto r = run_both(R"(
    li s1, 0
again:
patch:
    addi a0, zero, 1
    bnez s1, done
    la t0, patch
    la t1, replacement
    lw t2, 0(t1)
    sw t2, 0(t0)
    li s1, 1
    j again
replacement:
    addi a0, zero, 2
done:
  )");
  CHECK(r.x("a0") == 2);
}

TEST_CASE("vexp, vrecip and vrsqrt give isa/vector_math.h's values, specials included",
          "[interp][vector]") {
  auto r = run_both(R"(
    la t0, a
    vle v1, 0(t0)
    vexp.fp32 v2, v1
    vrecip.fp32 v3, v1
    vrsqrt.fp32 v4, v1
    la t2, out
    vse v2, 0(t2)
    vse v3, 64(t2)
    vse v4, 128(t2)
    .data
    .align 6
a:  .float 0, -0, 1, -1, 0.5, 3, 88, 89, -104, -200, 1e-40, 1e30, -2, 7, inf, -inf
out: .space 192
  )");
  const float in[16] = {0,    -0.0f, 1,      -1,    0.5f, 3, 88,       89,
                        -104, -200,  1e-40f, 1e30f, -2,   7, INFINITY, -INFINITY};
  const uint64_t out = r.symbol("out");
  auto same = [](float got, float want) {
    return std::isnan(want) ? std::isnan(got) : std::memcmp(&got, &want, 4) == 0;
  };
  for (int i = 0; i < 16; ++i) {
    INFO("lane " << i << ": " << in[i]);
    CHECK(same(r.mem<float>(out + 4 * i), isa::vector_exp(in[i])));
    CHECK(same(r.mem<float>(out + 64 + 4 * i), isa::vector_recip(in[i])));
    CHECK(same(r.mem<float>(out + 128 + 4 * i), isa::vector_rsqrt(in[i])));
  }
  // The documented specials.
  CHECK(isa::vector_exp(-INFINITY) == 0.0f);
  CHECK(isa::vector_exp(89.0f) == INFINITY);
  CHECK(isa::vector_exp(-200.0f) == 0.0f);
  CHECK(isa::vector_exp(1.0f) == 2.71828182845904523536f);
  CHECK(isa::vector_recip(-0.0f) == -INFINITY);
  CHECK(isa::vector_recip(3.0f) == 1.0f / 3.0f);
  CHECK(std::isnan(isa::vector_rsqrt(-2.0f)));
  CHECK(isa::vector_rsqrt(0.0f) == INFINITY);
  CHECK(isa::vector_rsqrt(-0.0f) == -INFINITY);
  CHECK(isa::vector_rsqrt(INFINITY) == 0.0f);
  CHECK(isa::vector_rsqrt(4.0f) == 0.5f);
}

TEST_CASE("vlog gives isa/vector_math.h's values on zeros, negatives, subnormals, inf and NaN",
          "[interp][vector]") {
  auto r = run_both(R"(
    la t0, a
    vle v1, 0(t0)
    vlog.fp32 v2, v1
    la t2, out
    vse v2, 0(t2)
    .data
    .align 6
a:  .float 0, -0, 1, -1, 2, 0.5, 10, 3e38, 1e-40, 1.4e-45, 1.17549435e-38, -1e-40, inf, -inf
    .word 0x7fc00000, 0xffa00001
out: .space 64
  )");
  const float in[14] = {
      0,        -0.0f,           1,       -1,       2,        0.5f, 10, 3e38f, 1e-40f,
      1.4e-45f, 1.17549435e-38f, -1e-40f, INFINITY, -INFINITY};
  const uint64_t out = r.symbol("out");
  for (int i = 0; i < 14; ++i) {
    INFO("lane " << i << ": " << in[i]);
    const float got = r.mem<float>(out + 4 * i), want = isa::vector_log(in[i]);
    if (std::isnan(want))
      CHECK(std::isnan(got));
    else
      CHECK(std::memcmp(&got, &want, 4) == 0);
  }
  // NaN lanes (quiet and signalling) give the canonical NaN.
  CHECK(r.mem<uint32_t>(out + 56) == 0x7fc00000u);
  CHECK(r.mem<uint32_t>(out + 60) == 0x7fc00000u);
  // The documented specials and a few exact values.
  CHECK(isa::vector_log(0.0f) == -INFINITY);
  CHECK(isa::vector_log(-0.0f) == -INFINITY);
  CHECK(std::isnan(isa::vector_log(-1.0f)));
  CHECK(std::isnan(isa::vector_log(-1e-40f)));
  CHECK(std::isnan(isa::vector_log(-INFINITY)));
  CHECK(isa::vector_log(INFINITY) == INFINITY);
  CHECK(isa::vector_log(1.0f) == 0.0f);
  CHECK(isa::vector_log(2.0f) == 0.693147180559945309f);
  CHECK(isa::vector_log(1.4e-45f) == static_cast<float>(-149 * 0.693147180559945309));
  CHECK(isa::vector_log(isa::vector_exp(3.0f)) == 3.0f);
}

TEST_CASE("vector fp32 arithmetic, reductions, broadcast and moves", "[interp][vector]") {
  auto r = run_both(R"(
    la t0, a
    vle v1, 0(t0)
    li t1, 0x40000000          # 2.0f
    vbcast.fp32 v2, t1
    vmul.fp32 v3, v1, v2
    vadd.fp32 v4, v3, v1
    vsub.fp32 v5, v4, v2
    vmax.fp32 v6, v1, v2
    vmin.fp32 v7, v1, v2
    vfma.fp32 v4, v1, v2       # v4 = 3a + 2a = 5a
    vredsum.fp32 v8, v4
    vmv.x.fp32 a0, v8
    vredmax.fp32 v9, v1
    vmv.x.fp32 a1, v9
    vredmin.fp32 v10, v1
    vmv.x.fp32 a2, v10
    la t2, out
    vse v6, 0(t2)
    vse v7, 64(t2)
    vmv v11, v5
    vse v11, 128(t2)
    .data
    .align 6
a:  .float 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
out: .space 192
  )");
  auto f = [](uint64_t bits) {
    float v;
    uint32_t b = static_cast<uint32_t>(bits);
    std::memcpy(&v, &b, 4);
    return v;
  };
  CHECK(f(r.x("a0")) == 5 * 136.0f);
  CHECK(f(r.x("a1")) == 16.0f);
  CHECK(f(r.x("a2")) == 1.0f);
  const uint64_t out = r.symbol("out");
  for (int i = 0; i < 16; ++i) {
    const float a = float(i + 1);
    CHECK(r.mem<float>(out + 4 * i) == std::max(a, 2.0f));
    CHECK(r.mem<float>(out + 64 + 4 * i) == std::min(a, 2.0f));
    CHECK(r.mem<float>(out + 128 + 4 * i) == 3 * a - 2);
  }
}

TEST_CASE("vector NaN results are the canonical NaN, and vmin/vmax put -0 below +0",
          "[interp][vector]") {
  auto r = run_both(R"(
    li t0, 0x7f800000          # +Inf
    vbcast.fp32 v1, t0
    vsub.fp32 v2, v1, v1       # Inf - Inf: x86 makes -NaN, the ISA the canonical +NaN
    vmv.x.fp32 a0, v2
    li t1, 0x80000000          # -0
    vbcast.fp32 v3, t1
    vbcast.fp32 v4, zero       # +0
    vmin.fp32 v5, v4, v3
    vmv.x.fp32 a1, v5
    vmax.fp32 v6, v3, v4
    vmv.x.fp32 a2, v6
    li t2, 0xff80              # bf16 -Inf
    vbcast.bf16 v7, t2
    li t3, 0x7f80              # bf16 +Inf
    vbcast.bf16 v8, t3
    vadd.bf16 v9, v7, v8
    vmv.x.bf16 a3, v9
  )");
  CHECK(static_cast<uint32_t>(r.x("a0")) == 0x7FC00000u);
  CHECK(static_cast<uint32_t>(r.x("a1")) == 0x80000000u);
  CHECK(static_cast<uint32_t>(r.x("a2")) == 0u);
  CHECK(r.x("a3") == 0x7FC0u);
}

TEST_CASE("vgate keeps vs1 where vs2 > 0 and writes +0 elsewhere (relu's gradient)",
          "[interp][vector]") {
  auto r = run_both(R"(
    la t0, dy
    vle v1, 0(t0)
    la t0, x
    vle v2, 0(t0)
    vgate.fp32 v3, v1, v2
    la t1, out
    vse v3, 0(t1)
    li t2, 0xc040              # bf16 -3.0
    vbcast.bf16 v4, t2
    li t3, 0x0001              # bf16's smallest subnormal: > 0
    vbcast.bf16 v5, t3
    vgate.bf16 v6, v4, v5
    vmv.x.bf16 a0, v6
    vgate.bf16 v7, v4, v4
    vmv.x.bf16 a1, v7
    .data
    .align 6
dy: .float -3, 4, inf, -inf
    .word 0x7fc00000           # NaN
    .float 7, -8, 9, 1, 2, 3, 4, 5, 6, 7, 8
x:  .float 1, -1, -2, 0, -0
    .word 0x7fc00000           # NaN
    .float 1.4e-45, -inf, inf, 0, 0, 0, 0, 0, 0, 0
out: .space 64
  )");
  const uint64_t out = r.symbol("out");
  const uint32_t want[16] = {0xc0400000u, 0, 0, 0, 0, 0, 0xc1000000u, 0,
                             0x3f800000u, 0, 0, 0, 0, 0, 0,           0};
  for (int i = 0; i < 16; ++i) CHECK(r.mem<uint32_t>(out + 4 * i) == want[i]);
  CHECK(r.x("a0") == 0xc040u);
  CHECK(r.x("a1") == 0u);
}

TEST_CASE("bf16 and cfp8 lanes compute in fp32 and round to nearest even", "[interp][vector]") {
  auto r = run_both(R"(
    li t0, 0x3f80              # bf16 1.0
    vbcast.bf16 v1, t0
    li t1, 0x3b80              # bf16 2^-8: 1 + 2^-8 is a tie between 1 and 1 + 2^-7
    vbcast.bf16 v2, t1
    vadd.bf16 v3, v1, v2
    vmv.x.bf16 a0, v3
    li t2, 0x38                # cfp8 1-4-3 bias 7: 1.0
    vbcast.cfp8 v4, t2
    vadd.cfp8 v5, v4, v4
    vmv.x.cfp8 a1, v5
    li t3, 0x77                # the largest 1-4-3 value (480 with bias 7)
    vbcast.cfp8 v6, t3
    vadd.cfp8 v7, v6, v6       # saturates
    vmv.x.cfp8 a2, v7
  )");
  CHECK(r.x("a0") == 0x3f80);  // tie to even: stays 1.0
  CHECK(r.x("a1") == isa::f32_to_cfp8(2.0f, {}, isa::Rounding::NearestEven));
  CHECK(r.x("a2") == isa::f32_to_cfp8(1e9f, {}, isa::Rounding::NearestEven));
}

TEST_CASE("conversions move between formats part by part", "[interp][vector]") {
  auto r = run_both(R"(
    la t0, a
    vle v1, 0(t0)              # 16 fp32: 1..16
    vle v2, 64(t0)             # 16 fp32: 17..32
    vcvt.bf16.fp32 v3, v1, 0
    vcvt.bf16.fp32 v3, v2, 1   # v3 = 32 bf16 lanes 1..32
    vcvt.fp32.bf16 v4, v3, 1   # v4 = fp32 of lanes 16..31 = 17..32
    vcvt.cfp8.fp32 v5, v1, 0
    vcvt.fp32.cfp8 v6, v5, 0
    vcvt.cfp8.bf16 v7, v3, 0
    vcvt.bf16.cfp8 v8, v7, 0
    la t1, out
    vse v3, 0(t1)
    vse v4, 64(t1)
    vse v6, 128(t1)
    vse v8, 192(t1)
    .data
    .align 6
a:  .float 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
    .float 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
out: .space 256
  )");
  const uint64_t out = r.symbol("out");
  const isa::Cfp8Format e4m3{};
  for (int i = 0; i < 32; ++i)
    CHECK(isa::bf16_to_f32(r.mem<uint16_t>(out + 2 * i)) == float(i + 1));
  for (int i = 0; i < 16; ++i) {
    CHECK(r.mem<float>(out + 64 + 4 * i) == float(i + 17));
    const float c =
        isa::cfp8_to_f32(isa::f32_to_cfp8(float(i + 1), e4m3, isa::Rounding::NearestEven), e4m3);
    CHECK(r.mem<float>(out + 128 + 4 * i) == c);
    CHECK(isa::bf16_to_f32(r.mem<uint16_t>(out + 192 + 2 * i)) == c);
  }
}

TEST_CASE("stochastic rounding is reproducible from srseed and unbiased in the mean",
          "[interp][vector]") {
  const std::string program = R"(
    li t0, 7
    csrw srseed, t0
    li t1, 0x3f814000          # fp32 1 + 2^-7 + 2^-9: a quarter of the way between two bf16
    vbcast.fp32 v1, t1
    li s0, 64
    la s1, out
1:  vcvt.bf16.fp32.sr v2, v1, 0
    vse v2, 0(s1)
    addi s1, s1, 64
    addi s0, s0, -1
    bnez s0, 1b
    .data
    .align 6
out: .space 4096
  )";
  auto a = run_both(program);
  auto b = run_both(program);
  const uint64_t out = a.symbol("out");
  int up = 0, n = 0;
  for (int v = 0; v < 64; ++v)
    for (int i = 0; i < 16; ++i, ++n) {
      const uint16_t h = a.mem<uint16_t>(out + 64 * v + 2 * i);
      CHECK(h == b.mem<uint16_t>(out + 64 * v + 2 * i));
      REQUIRE((h == 0x3f81 || h == 0x3f82));
      up += h == 0x3f82;
    }
  // P(up) = 1/4 over 1024 draws: mean 256, sd 13.9; 6 sd either side.
  CHECK(up > 256 - 84);
  CHECK(up < 256 + 84);
}

TEST_CASE("mma.bf16 and mma.cfp8 accumulate tile products in fp32", "[interp][matrix]") {
  auto r = run_both(R"(
    la t0, a
    vle v1, 0(t0)              # A: 8x4 bf16
    vle v2, 64(t0)             # B: 4x8 bf16
    mzero acc1
    mma.bf16 acc1, v1, v2
    mma.bf16 acc1, v1, v2
    la t1, c
    mst acc1, 0(t1)
    mld acc2, 0(t1)
    mma.bf16 acc2, v1, v2
    mst acc2, 256(t1)
    li t2, 0x38
    vbcast.cfp8 v3, t2         # cfp8 1.0 everywhere
    mzero acc3
    mma.cfp8 acc3, v3, v3
    mst acc3, 512(t1)
    .data
    .align 6
a:  .bf16 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
    .bf16 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
    .bf16 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0
    .bf16 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0.5
c:  .space 768
  )");
  const uint64_t c = r.symbol("c");
  const float b[4][8] = {{1, 0, 0, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0, 0, 0},
                         {0, 0, 1, 0, 0, 0, 0, 0}, {0, 0, 0, 1, 0, 0, 0, 0.5f}};
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) {
      float ref = 0;
      for (int k = 0; k < 4; ++k) ref += float(i * 4 + k + 1) * b[k][j];
      CHECK(r.mem<float>(c + 4 * (i * 8 + j)) == 2 * ref);
      CHECK(r.mem<float>(c + 256 + 4 * (i * 8 + j)) == 3 * ref);
      CHECK(r.mem<float>(c + 512 + 4 * (i * 8 + j)) == 8.0f);
    }
}

TEST_CASE("strided vector loads and stores gather and scatter lanes", "[interp][vector]") {
  auto r = run_both(R"(
    la t0, a
    li t1, 8
    vlse32 v1, (t0), t1        # every other word
    la t2, out
    li t3, 4
    vsse32 v1, (t2), t3
    li t4, 2
    vlse16 v2, (t0), t4
    vsse16 v2, (t2), t4
    .data
    .align 6
a:  .word 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .word 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
out: .space 64
  )");
  const uint64_t a = r.symbol("a");
  for (int i = 0; i < 16; ++i) CHECK(r.mem<uint32_t>(a + 4 * i) == uint32_t(i));
  (void)a;
}

TEST_CASE("threads synchronise on semaphores and barriers", "[interp][sync]") {
  isa::NodeRunOptions o;
  o.threads = 4;
  auto r = run_asm(R"(
    csrr t0, threadid
    bnez t0, worker
    li t1, 3
    swait 5, t1                # thread 0 waits until the 3 workers have signalled
    sread a0, 5
    barrier 0
    li a7, 93
    li a0, 0
    ecall
worker:
    li t1, 1
    ssignal 5, t1
    barrier 0
    li a0, 0
    li a7, 93
    ecall
  )", {}, o);
  REQUIRE(r.result.outcome == isa::RunOutcome::Exited);
  for (unsigned t = 0; t < 4; ++t) CHECK(r.result.threads[t].status == isa::ThreadStatus::Exited);
  CHECK(r.node->semaphore(5) == 0);
  CHECK(r.thread(0).stalls[static_cast<size_t>(isa::StallCause::Semaphore)] +
            r.thread(0).stalls[static_cast<size_t>(isa::StallCause::Barrier)] > 0);
}

TEST_CASE("push copies into the node's own SRAM and signals the semaphore", "[interp][sync]") {
  auto r = run_asm(R"(
    la a0, src
    la a1, dst                 # global address of our own node (0,0): just the offset
    li a2, 16
    push a1, a0, a2, 2
    li t0, 1
    swait 2, t0
    ld a3, 0(a1)
    ld a4, 8(a1)
    li a7, 93
    li a0, 0
    ecall
    .data
    .align 3
src: .dword 0x1111, 0x2222
dst: .dword 0, 0
  )");
  REQUIRE(r.result.outcome == isa::RunOutcome::Exited);
  CHECK(r.x("a3") == 0x1111);
  CHECK(r.x("a4") == 0x2222);
}

TEST_CASE("push to another node is an error in a single-node run", "[interp][sync][errors]") {
  auto r = run_asm(R"(
    li a1, 0x0001000000000000    # node (1,0), offset 0
    li a2, 8
    push a1, a0, a2, 1
  )" + std::string(kExit));
  REQUIRE(r.result.outcome == isa::RunOutcome::Trapped);
  CHECK_THAT(r.result.message, Catch::Contains("node (1,0), offset 0x0, 8 bytes"));
  CHECK_THAT(r.result.message, Catch::Contains("push to global address"));
  CHECK_THAT(r.result.message, Catch::Contains("can only reach its own SRAM"));
}

TEST_CASE("pull copies from the node's own SRAM and signals a local semaphore", "[interp][sync]") {
  auto r = run_asm(R"(
    la a0, src                 # global address of our own node (0,0): just the offset
    la a1, dst
    li a2, 16
    pull a1, a0, a2, 3
    li t0, 1
    swait 3, t0
    ld a3, 0(a1)
    ld a4, 8(a1)
    li a7, 93
    li a0, 0
    ecall
    .data
    .align 3
src: .dword 0x3333, 0x4444
dst: .dword 0, 0
  )");
  REQUIRE(r.result.outcome == isa::RunOutcome::Exited);
  CHECK(r.x("a3") == 0x3333);
  CHECK(r.x("a4") == 0x4444);
}

TEST_CASE("pull from host memory is an error in a single-node run", "[interp][sync][errors]") {
  auto r = run_asm(R"(
    li a0, 1
    slli a0, a0, 63            # host address 0
    li a2, 8
    pull a1, a0, a2, 1
  )" + std::string(kExit));
  REQUIRE(r.result.outcome == isa::RunOutcome::Trapped);
  CHECK_THAT(r.result.message,
             Catch::Contains("pull from global address 0x8000000000000000 (host memory, 8 bytes)"));
}

TEST_CASE("pull into a range outside SRAM traps at the instruction", "[interp][sync][errors]") {
  auto r = run_asm(R"(
    li a1, 0x7FFFFFF0
    li a2, 64
    pull a1, a0, a2, 1
  )" + std::string(kExit));
  REQUIRE(r.result.outcome == isa::RunOutcome::Trapped);
  CHECK_THAT(r.result.message, Catch::Contains("pull destination"));
}

TEST_CASE("deadlock is detected and names who waits on what", "[interp][sync][errors]") {
  isa::NodeRunOptions o;
  o.threads = 2;
  auto r = run_asm(R"(
    csrr t0, threadid
    bnez t0, 1f
    li t1, 2
    swait 3, t1
    li a7, 93
    ecall
1:  barrier 4
    li a7, 93
    ecall
  )", {}, o);
  REQUIRE(r.result.outcome == isa::RunOutcome::Deadlock);
  CHECK_THAT(r.result.message,
             Catch::Contains("thread 0 at pc 0xc waits on semaphore 3 (value 0, needs 2)"));
  CHECK_THAT(r.result.message, Catch::Contains("thread 1 at pc 0x18 waits at barrier 4"));
}

TEST_CASE("a barrier that an exited thread never reaches is a deadlock", "[interp][sync][errors]") {
  isa::NodeRunOptions o;
  o.threads = 2;
  auto r = run_asm(R"(
    csrr t0, threadid
    bnez t0, 1f
    barrier 0
1:  li a7, 93
    ecall
  )", {}, o);
  REQUIRE(r.result.outcome == isa::RunOutcome::Deadlock);
  CHECK_THAT(r.result.message, Catch::Contains("waits at barrier 0"));
}

TEST_CASE("a runaway program stops at the cycle limit", "[interp][errors]") {
  isa::NodeRunOptions o;
  o.max_cycles = 10000;
  for (bool timing : {true, false}) {
    isa::CoreConfig c;
    c.timing = timing;
    auto r = run_asm("1: j 1b\n", c, o);
    REQUIRE(r.result.outcome == isa::RunOutcome::CycleLimit);
    CHECK_THAT(r.result.message, Catch::Contains("limit 10000 reached"));
  }
}

TEST_CASE("a program that overlaps the thread stacks is rejected before it runs",
          "[interp][errors]") {
  isa::NodeRunner node({});
  isa::Program p;
  p.source_name = "big.s";
  p.segments.push_back({".data", 0x130000, std::vector<uint8_t>(0x9000, 1), 0});
  node.load(p);
  isa::NodeRunOptions o;
  o.threads = 2;
  CHECK_THROWS_WITH(node.run(o), Catch::Contains("stacks of 2 threads"));
  p.segments[0].address = 0x13fff0;
  CHECK_THROWS_WITH(node.load(p),
                    Catch::Contains("big.s: segment .data [0x13fff0, 0x148ff0) does not fit"));
}
