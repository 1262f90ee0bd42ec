// SPDX-License-Identifier: MIT
// The la.global pseudo-instruction: its expansion computes isa::global_address, a program
// that uses it reaches its own SRAM by push on a single node, generated programs can use it,
// and bad operands are errors that name the line and what was expected.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <random>

#include "isa/asm_forms.h"
#include "isa/global_address.h"
#include "run_helpers.h"

using namespace dojosim;
using namespace dojosim::isa;
using dojosim::test::run_asm;

namespace {

// Runs `la.global a0, t0, t1, offset` with t0 = x and t1 = y on one node; returns a0.
uint64_t la_global_value(uint64_t x, uint64_t y, uint32_t offset) {
  const std::string src = fmt::format(
      "li t0, {}\nli t1, {}\nla.global a0, t0, t1, {}\nmv s0, a0\nli a0, 0\nli a7, 93\necall\n",
      static_cast<int64_t>(x), static_cast<int64_t>(y), offset);
  const auto run = run_asm(src);
  REQUIRE(run.result.outcome == RunOutcome::Exited);
  return run.x("s0");
}

AsmError error_of(const std::string& src) {
  try {
    assemble(src, "k.s");
  } catch (const AsmError& e) {
    return e;
  }
  FAIL("no error for: " << src);
  throw;
}

}  // namespace

TEST_CASE("la.global computes isa::global_address for every field's corners and random values",
          "[asm][la.global]") {
  std::vector<std::tuple<uint64_t, uint64_t, uint32_t>> cases = {
      {0, 0, 0},           {1, 0, 0},          {0, 1, 0},
      {0, 0, 1},           {0, 0, 0x7FF},      {0, 0, 0x800},
      {0, 0, 0xFFF},       {0, 0, 0x1000},     {0, 0, 0x13FFC0},
      {17, 19, 0x140000},  {0x7FFF, 0xFFFF, 0xFFFFFFFF}, {0x7FFF, 0, 0x80000000},
      {0, 0xFFFF, 0x7FFFF800}, {0, 0, 0xFFFFF800}, {3, 5, 0x00FFF000},
      {0x8000, 7, 0x10},   // x past its 15 bits is masked, as global_address does
      {~uint64_t{0}, 2, 0x20},
  };
  std::mt19937_64 rng(7);
  for (int i = 0; i < 40; ++i)
    cases.emplace_back(rng() & 0x7FFF, rng() & 0xFFFF, static_cast<uint32_t>(rng()));
  for (const auto& [x, y, offset] : cases) {
    INFO("x " << x << ", y " << y << ", offset 0x" << std::hex << offset);
    CHECK(la_global_value(x, y, offset) ==
          global_address(static_cast<uint32_t>(x), static_cast<uint32_t>(y), offset));
  }
}

TEST_CASE("la.global never sets the host bit, even for a y past its field", "[asm][la.global]") {
  // y = -1 (the row above row 0) and y = 2^16 carry into x; they still name a node, not host
  // memory, so a push there traps as a bad node instead of writing HBM.
  for (uint64_t y : {~uint64_t{0}, uint64_t{0x10000}, uint64_t{0xFFFFFFFF}})
    for (uint64_t x : {uint64_t{0}, uint64_t{0x7FFF}}) {
      INFO("x " << x << ", y " << y);
      CHECK_FALSE(is_host_address(la_global_value(x, y, 0xFFFFFFFF)));
    }
}

TEST_CASE("la.global's expansion is 5 to 10 instructions and takes rd = xreg", "[asm][la.global]") {
  asm_detail::AsmInsn out[asm_detail::kMaxLaGlobalSteps];
  CHECK(asm_detail::la_global_sequence(10, 5, 6, 0, out) == 5);
  CHECK(asm_detail::la_global_sequence(10, 5, 6, 0x7FF, out) == 6);
  CHECK(asm_detail::la_global_sequence(10, 5, 6, 0x1000, out) == 7);  // one slli 12, no addi 0
  CHECK(asm_detail::la_global_sequence(10, 5, 6, 0x12345678, out) == 10);
  CHECK(asm_detail::la_global_sequence(10, 5, 6, 0x01000000, out) == 7);  // zero chunks: slli 24
  // rd may be xreg: x is read by the first instruction only.
  const auto run =
      run_asm("li t0, 9\nli t1, 4\nla.global t0, t0, t1, 0x40\nli a0, 0\nli a7, 93\necall\n");
  CHECK(run.x("t0") == global_address(9, 4, 0x40));
}

TEST_CASE("a program on one node pushes to its own SRAM through a la.global address",
          "[asm][la.global]") {
  // The runner accepts a push only to its own (node_x, node_y): the address must be exact.
  const char* src = R"(
        .equ SEM, 1
_start: csrr    s0, nodex
        csrr    s1, nodey
        la.global a0, s0, s1, inbox       # where the data goes: this node's inbox
        la      a1, outbox
        li      a2, 64
        push    a0, a1, a2, SEM
        li      t0, 1
        swait   SEM, t0
        la      t1, inbox
        ld      t2, 0(t1)
        li      t3, 0x0123456789abcdef
        li      a0, 1
        bne     t2, t3, 1f
        li      a0, 0
1:      li      a7, 93
        ecall
        .data
        .balign 64
outbox: .dword  0x0123456789abcdef
        .space  56
        .space  0x3000                    # the inbox lies beyond 12 bits of offset
inbox:  .space  64
)";
  CoreConfig config;
  config.node_x = 13;
  config.node_y = 6;
  config.mesh_w = 18;
  config.mesh_h = 20;
  const auto run = run_asm(src, config);
  INFO(run.result.message);
  REQUIRE(run.result.outcome == RunOutcome::Exited);
  CHECK(run.thread().exit_code == 0);
  CHECK(run.x("a0") == 0);
}

TEST_CASE("generated programs use la.global like hand-written ones, at any text base",
          "[asm][la.global]") {
  // The way runtime/ writes node programs: text built in C++, coordinates as .equ arguments,
  // a forward reference to a buffer whose size decides how long the expansion is.
  for (uint32_t pad : {0u, 0x800u, 0x40000u}) {
    const std::string src = fmt::format(R"(
        # Generated: store the global address of `buffer` in node (X, Y) at `result`.
        .equ X, 12
        .equ Y, 7
        li      t0, X
        li      t1, Y
        la.global a0, t0, t1, buffer
        la      a1, result
        sd      a0, 0(a1)
        li      a0, 0
        li      a7, 93
        ecall
        .data
result: .dword  0
        .space  {}
buffer: .space  8
)",
                                        pad);
    const Program p = assemble(src, "generated.s", AsmOptions{0x1000});
    NodeRunner node(CoreConfig{});
    node.load(p);
    REQUIRE(node.run({}).outcome == RunOutcome::Exited);
    uint64_t stored = 0;
    node.sram().read(p.symbols.at("result"), &stored, 8);
    CHECK(stored == global_address(12, 7, static_cast<uint32_t>(p.symbols.at("buffer"))));
  }
}

TEST_CASE("la.global errors name the line and say what was expected", "[asm][la.global]") {
  struct Bad {
    const char* src;
    int line;
    const char* message;
  };
  const Bad bad[] = {
      {"nop\nla.global a0, t0, t1", 2,
       "'la.global' takes 4 operands ('la.global rd, xreg, yreg, offset'), got 3"},
      {"la.global a0, v1, t1, 0", 1,
       "bad register 'v1' for xreg: expected an x register"},
      {"la.global a0, t0, 5, 0", 1, "bad register '5' for yreg: expected an x register"},
      {"la.global 0x10, t0, t1, 0", 1, "bad register '0x10' for rd"},
      {"nop\nnop\nla.global a1, t0, a1, 0", 3,
       "la.global writes rd before it reads yreg, so yreg must be another register than rd "
       "('a1' is both); xreg may be rd"},
      {"la.global a0, t0, t1, -4", 1,
       "offset -4 is out of range 0..0xffffffff: la.global takes an offset in the node's SRAM, "
       "32 bits"},
      {"la.global a0, t0, t1, 0x100000000", 1, "offset 4294967296 is out of range 0..0xffffffff"},
      {"la.global a0, t0, t1, inbx\ninbox: nop", 1, "inbx"},
  };
  for (const Bad& b : bad) {
    const AsmError e = error_of(b.src);
    INFO("source: " << b.src << "\nerror: " << e.what());
    CHECK(e.line == b.line);
    CHECK_THAT(e.message, Catch::Contains(b.message));
  }
}
