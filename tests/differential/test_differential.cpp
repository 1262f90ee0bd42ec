// SPDX-License-Identifier: MIT
// Differential tests of the scalar ISA: random RV64IM programs, run on qemu-riscv64 and on a
// dojosim node, must leave the same registers and memory. See README.md.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <set>
#include <string>

#include "harness.h"
#include "isa/instructions.h"

using namespace dojosim;
using namespace dojosim::difftest;

namespace {

constexpr uint64_t kCiSeed = 0xD0D0'2024;
constexpr uint64_t kCiPrograms = 10000;

// Each test case gets its own directory: ctest runs them as parallel processes.
std::string work_dir(const char* test) { return std::string(DOJOSIM_DIFF_WORK_DIR) + "/" + test; }

Tools require_tools() {
  const Tools tools = configured_tools();
  const std::string missing = tools.missing();
  if (!missing.empty())
    FAIL("the differential tests need a RISC-V toolchain and qemu:\n" << missing);
  return tools;
}

void put_word(std::string& bytes, size_t offset, uint64_t v) { std::memcpy(&bytes[offset], &v, 8); }

}  // namespace

TEST_CASE("random RV64IM programs give the same registers and memory as qemu-riscv64",
          "[differential]") {
  const Tools tools = require_tools();
  RunConfig config;
  try {
    config = run_config_from_env(kCiSeed, kCiPrograms);
  } catch (const std::exception& e) {
    FAIL(e.what());
  }
  const auto start = std::chrono::steady_clock::now();
  const RunReport report = run_differential(tools, work_dir("programs"), config);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(fmt::format("seed {:#x}, programs {}..{}, {} batches ({} also with timing on), {} node "
                   "instructions, {:.1f} s",
                   config.seed, config.first, config.first + config.programs - 1, report.batches,
                   report.timing_batches, report.node_instructions, seconds));
  for (const auto& f : report.failures) UNSCOPED_INFO(f);
  CHECK(report.failures.empty());
  CHECK(report.programs == config.programs);
}

// The test above passes if the comparison never looks: check that it does, by feeding it
// qemu's own output with one register, one data word and then a whole record tampered with.
TEST_CASE("the differential comparator reports what differs", "[differential]") {
  const Tools tools = require_tools();
  const std::string dir = work_dir("self_check");
  prepare_work_dir(dir);
  const uint64_t index = 7;
  const GeneratedProgram program = generate_program(kCiSeed, index);
  const std::string elf = build_elf(tools, dir, "self_check", batch_source({program}));
  const RunOutput qemu = run_qemu(tools, elf);
  REQUIRE(qemu.error.empty());
  const RunOutput node = run_node(elf, false, 1'000'000);
  REQUIRE(node.error.empty());
  REQUIRE(compare_records(qemu.bytes, node.bytes, index, 1).ok());

  SECTION("a register") {
    std::string bad = node.bytes;
    const size_t a0 = kDataBytes + 8 * 10;
    uint64_t v;
    std::memcpy(&v, &bad[a0], 8);
    put_word(bad, a0, v ^ 0x100);
    const Comparison c = compare_records(qemu.bytes, bad, index, 1);
    REQUIRE(c.mismatches.size() == 1);
    CHECK(c.error.empty());
    CHECK(c.mismatches[0].program == index);
    CHECK(c.mismatches[0].where == "x10 (a0)");
    CHECK(c.mismatches[0].expected == v);
    CHECK(c.mismatches[0].actual == (v ^ 0x100));
    CHECK_THAT(c.describe(), Catch::Contains("program 7: x10 (a0): qemu 0x"));
  }
  SECTION("a data word") {
    std::string bad = node.bytes;
    bad[0x1F9] = static_cast<char>(bad[0x1F9] ^ 1);
    const Comparison c = compare_records(qemu.bytes, bad, index, 1);
    REQUIRE(c.mismatches.size() == 1);
    CHECK(c.mismatches[0].where == "data+0x1f8");
  }
  SECTION("a missing record") {
    const Comparison c = compare_records(qemu.bytes, "\n", index, 1);
    CHECK_FALSE(c.ok());
    CHECK_THAT(c.error, Catch::Contains("dojosim wrote 1 bytes, expected 769"));
  }
  SECTION("a record of another program") {
    const Comparison c = compare_records(qemu.bytes, node.bytes, index + 1, 1);
    CHECK_FALSE(c.ok());
    CHECK_THAT(c.error, Catch::Contains("lacks its marker"));
  }
  SECTION("the node's line prefixes are removed exactly") {
    std::string bytes, error;
    CHECK(strip_line_prefixes("[0,0 t0] a\n[0,0 t0] \n[0,0 t0] b\n", "[0,0 t0] ", bytes, error));
    CHECK(bytes == "a\n\nb\n");
    CHECK_FALSE(strip_line_prefixes("[0,0 t0] a\nb\n", "[0,0 t0] ", bytes, error));
    CHECK_THAT(error, Catch::Contains("byte 11"));
  }
}

// Coverage is a property of the generator, so a change to it must not drop an instruction
// silently. Checked on the source text of the CI run's first batch; needs no tools.
TEST_CASE("the generator is deterministic and emits every RV64IM instruction", "[differential]") {
  std::vector<GeneratedProgram> programs;
  for (uint64_t i = 0; i < 100; ++i) programs.push_back(generate_program(kCiSeed, i));
  const std::string source = batch_source(programs);
  CHECK(batch_source({generate_program(kCiSeed, 42)}) == batch_source({programs[42]}));
  CHECK(generate_program(kCiSeed, 42).text != generate_program(kCiSeed + 1, 42).text);

  std::set<std::string> missing;
  for (const isa::InstrInfo* row = isa::begin_table(); row != isa::end_table(); ++row) {
    if (row->op > isa::Op::REMUW) continue;  // the extension's rows follow RV64IM's
    // fence.i needs Zifencei and ebreak stops the program: neither belongs in a random body.
    if (row->op == isa::Op::FENCE_I || row->op == isa::Op::EBREAK) continue;
    const std::string m(row->mnemonic);
    if (source.find("\n  " + m + " ") == std::string::npos &&
        source.find("\n  " + m + "\n") == std::string::npos)
      missing.insert(m);
  }
  std::string list;
  for (const auto& m : missing) list += " " + m;
  INFO("not generated:" << list);
  CHECK(missing.empty());
}
