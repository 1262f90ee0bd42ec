// SPDX-License-Identifier: MIT
// Timing-only mode (CoreConfig::values false, sim.values = off; docs/timing.md): vector and
// matrix arithmetic is skipped, everything else runs, and every cycle and counter equals the
// full run's. A program whose control flow or addresses need a skipped value stops with
// TrapCause::ValueUnknown (RunOutcome::NeedsValues) naming the register.
#include <catch2/catch.hpp>

#include "run_helpers.h"

using dojosim::test::kExit;
using dojosim::test::run_asm;
using namespace dojosim;

namespace {

isa::CoreConfig values_off(bool timing = true) {
  isa::CoreConfig c;
  c.values = false;
  c.timing = timing;
  return c;
}

// The same program with values on and off: same outcome, cycles, instructions, stalls and
// instruction classes on every thread.
void require_same_timing(const std::string& program, unsigned threads = 1) {
  for (bool timing : {true, false}) {
    INFO("timing " << timing);
    isa::CoreConfig on;
    on.timing = timing;
    isa::NodeRunOptions options;
    options.threads = threads;
    const test::NodeRun a = run_asm(program, on, options);
    const test::NodeRun b = run_asm(program, values_off(timing), options);
    INFO(a.result.message << " / " << b.result.message);
    REQUIRE(a.result.outcome == isa::RunOutcome::Exited);
    REQUIRE(b.result.outcome == isa::RunOutcome::Exited);
    REQUIRE(a.result.threads.size() == b.result.threads.size());
    for (size_t i = 0; i < a.result.threads.size(); ++i) {
      CHECK(a.result.threads[i].cycles == b.result.threads[i].cycles);
      CHECK(a.result.threads[i].instructions == b.result.threads[i].instructions);
      CHECK(a.thread(unsigned(i)).stalls == b.thread(unsigned(i)).stalls);
      CHECK(a.thread(unsigned(i)).class_counts == b.thread(unsigned(i)).class_counts);
      CHECK(a.thread(unsigned(i)).issue_cycles == b.thread(unsigned(i)).issue_cycles);
    }
  }
}

// A block of every kind of vector and matrix work, in a loop counted by a scalar register.
constexpr const char* kVectorLoop = R"(
    la t0, a
    la t1, c
    li t2, 5
loop:
    vle v1, 0(t0)
    vle v2, 64(t0)
    mma.bf16 acc1, v1, v2
    mma.cfp8 acc2, v1, v2
    vfma.fp32 v3, v1, v2
    vadd.bf16 v4, v3, v1
    vredsum.fp32 v5, v4
    vcvt.bf16.fp32.sr v6, v3, 1
    vcvt.fp32.cfp8 v7, v6, 3
    vbcast.fp32 v8, t2
    li t3, 8
    vlse32 v9, (t0), t3
    vsse32 v9, (t1), t3
    vse v5, 0(t1)
    mst acc1, 64(t1)
    mld acc3, 64(t1)
    vmv.x.fp32 a5, v5          # unknown, but only stored and overwritten: no stop
    sw a5, 512(t1)
    li a5, 0
    addi t2, t2, -1
    bnez t2, loop
    .data
    .align 6
a:  .bf16 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
    .bf16 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
    .bf16 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0
    .bf16 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0.5
c:  .space 1024
)";

}  // namespace

TEST_CASE("values off: vector and matrix work costs the same cycles and counters",
          "[interp][values]") {
  require_same_timing(std::string(kVectorLoop) + kExit);
}

TEST_CASE("values off: SMT threads sharing units keep the full run's cycles", "[interp][values]") {
  require_same_timing(std::string(kVectorLoop) + kExit, 4);
}

TEST_CASE("values off: the arithmetic is skipped and vector stores write zeros",
          "[interp][values]") {
  const std::string program = std::string(kVectorLoop) + kExit;
  const test::NodeRun on = run_asm(program);
  const test::NodeRun off = run_asm(program, values_off());
  REQUIRE(off.result.outcome == isa::RunOutcome::Exited);
  const uint64_t c = on.symbol("c");
  CHECK(on.mem<float>(c + 64) != 0.0f);  // acc1 stored by mst: a computed tile
  CHECK(off.mem<float>(c + 64) == 0.0f);
  CHECK(off.mem<uint32_t>(c + 512) == 0u);  // a5 from a skipped vmv.x reads as 0
  CHECK(off.thread().unknown_x == 0u);      // a5 was overwritten with a known value
}

TEST_CASE("values off: a branch on a reduction stops with the register, pc and instruction",
          "[interp][values][errors]") {
  const std::string program = R"(
    vredsum.fp32 v1, v0
    vmv.x.fp32 a0, v1
    addi a1, a0, 1             # derived: still unknown
    beqz a1, done
    nop
done:
)" + std::string(kExit);
  const test::NodeRun on = run_asm(program);
  REQUIRE(on.result.outcome == isa::RunOutcome::Exited);
  const test::NodeRun off = run_asm(program, values_off());
  REQUIRE(off.result.outcome == isa::RunOutcome::NeedsValues);
  CHECK(off.thread().trap.cause == isa::TrapCause::ValueUnknown);
  CHECK_THAT(off.result.message,
             Catch::StartsWith("node (0,0) thread 0: value not computed in "
                               "timing-only mode (sim.values = off) at pc 0xc"));
  CHECK_THAT(off.result.message, Catch::Contains("x11 (a1)"));
  CHECK_THAT(off.result.message, Catch::Contains("`beq a1, zero"));
}

TEST_CASE("values off: addresses, DMA, semaphores, CSRs and ecalls need known registers",
          "[interp][values][errors]") {
  struct Case {
    const char* use;
    const char* reg;
  };
  const Case cases[] = {
      {"lw t0, 0(a0)", "x10 (a0)"},
      {"sd zero, 0(a0)", "x10 (a0)"},
      {"vle v2, 0(a0)", "x10 (a0)"},
      {"mst acc0, 0(a0)", "x10 (a0)"},
      {"li t0, 0\n vlse32 v2, (t0), a0", "x10 (a0)"},
      {"jalr zero, 0(a0)", "x10 (a0)"},
      {"li t0, 0\n li t1, 0\n push t0, t1, a0, 1", "x10 (a0)"},
      {"swait 1, a0", "x10 (a0)"},
      {"ssignal 1, a0", "x10 (a0)"},
      {"csrw fmtcfg, a0", "x10 (a0)"},
      {"li a7, 93\n ecall", "x10 (a0)"},  // the exit code
      {"mv a7, a0\n ecall", "x17 (a7)"},
  };
  for (const Case& c : cases) {
    INFO(c.use);
    const test::NodeRun off =
        run_asm(std::string("vmv.x.bf16 a0, v1\n") + c.use + kExit, values_off());
    REQUIRE(off.result.outcome == isa::RunOutcome::NeedsValues);
    CHECK_THAT(off.result.message, Catch::Contains(c.reg));
  }
  // Known values stay known: a scalar store of an unknown value, a CSR read, a load of a word
  // overwritten with a known value.
  const test::NodeRun ok = run_asm(R"(
    vmv.x.bf16 a0, v1
    la t0, buf
    sd a0, 0(t0)               # allowed: the word is now unknown
    sd zero, 0(t0)             # known again
    ld a0, 0(t0)
    bnez a0, 1f
1:  vmv.x.bf16 a1, v1
    csrr a1, cycle
    bnez a1, 2f
2:  li a0, 0
    .data
    .align 3
buf: .dword 0
)" + std::string(kExit),
                                   values_off());
  CHECK(ok.result.outcome == isa::RunOutcome::Exited);
}

TEST_CASE("values off: memory written from vector state is unknown to scalar loads",
          "[interp][values][errors]") {
  const char* const writes[] = {
      "vse v1, 0(t0)",                     // a vector store
      "mst acc0, 0(t0)",                   // an accumulator store
      "li t1, 4\n vsse32 v1, (t0), t1",    // a strided store
      "vmv.x.fp32 a1, v1\n sw a1, 4(t0)",  // a spilled unknown register
  };
  for (const char* w : writes) {
    INFO(w);
    const test::NodeRun off = run_asm(std::string("la t0, buf\n") + w + R"(
    lw a2, 4(t0)
    beqz a2, 1f
1:  .data
    .align 6
buf: .space 256
)" + kExit,
                                      values_off());
    REQUIRE(off.result.outcome == isa::RunOutcome::NeedsValues);
    CHECK_THAT(off.result.message, Catch::Contains("x12 (a2)"));
  }
}

TEST_CASE("values off: what a DMA copies over memory is known or unknown as its source",
          "[interp][values]") {
  // buf is written from vector state (unknown); a push of known words over it makes them
  // known (a branch on them runs), a push of unknown words elsewhere makes those unknown.
  const auto program = [](const char* source) {
    return std::string("la t0, buf\n vse v1, 0(t0)\n la a0, ") + source + R"(
    la a1, dst
    li a2, 16
    push a1, a0, a2, 2
    li t1, 1
    swait 2, t1
    lw a3, 4(a1)
    beqz a3, 1f
1:  .data
    .align 6
buf: .space 64
known: .dword 1, 2
dst: .space 64
)" + kExit;
  };
  std::string over_buf = program("known");
  over_buf.replace(over_buf.find("la a1, dst"), 10, "la a1, buf");
  const test::NodeRun known = run_asm(over_buf, values_off());
  INFO(known.result.message);
  CHECK(known.result.outcome == isa::RunOutcome::Exited);
  const test::NodeRun copied = run_asm(program("buf"), values_off());
  REQUIRE(copied.result.outcome == isa::RunOutcome::NeedsValues);
  CHECK_THAT(copied.result.message, Catch::Contains("x13 (a3)"));
}
