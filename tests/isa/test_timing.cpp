// SPDX-License-Identifier: MIT
// Fidelity of the core timing model: cycle counts equal what the timing parameters say.
#include <catch2/catch.hpp>

#include <numeric>

#include "run_helpers.h"

using dojosim::test::kExit;
using dojosim::test::run_asm;
using namespace dojosim;

namespace {

std::string repeat(const std::string& line, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += line + "\n";
  return s;
}

uint64_t bucket_sum(const isa::ThreadState& t) {
  return t.issue_cycles + std::accumulate(t.stalls.begin(), t.stalls.end(), uint64_t{0});
}

}  // namespace

TEST_CASE("a chain of dependent multiplies takes the multiply latency each", "[timing]") {
  const auto p = isa::TimingParams::d1_defaults();
  const int n = 100;
  auto r = run_asm("li a0, 3\n" + repeat("mul a0, a0, a0", n) + kExit);
  const uint64_t mul_latency = p.of(isa::TimingClass::Mul).latency;
  // li issues at 0; mul k issues at 1 + k * latency; then the exit sequence.
  const isa::ThreadState& t = r.thread();
  CHECK(t.cycle >= 1 + (n - 1) * mul_latency);
  CHECK(t.cycle <= 1 + (n - 1) * mul_latency + mul_latency + 2);
  CHECK(t.stalls[static_cast<size_t>(isa::StallCause::Dependency)] >= (n - 1) * (mul_latency - 1));
  CHECK(bucket_sum(t) == t.cycle + 1);
}

TEST_CASE("independent ALU operations issue two per cycle on the two ALUs", "[timing]") {
  const int n = 400;
  std::string body;
  for (int i = 0; i < n; ++i) body += "addi a" + std::to_string(i % 6) + ", zero, 1\n";
  auto r = run_asm(body + kExit);
  const isa::ThreadState& t = r.thread();
  CHECK(t.cycle >= n / 2 - 1);
  CHECK(t.cycle <= n / 2 + 4);
  CHECK(bucket_sum(t) == t.cycle + 1);
}

TEST_CASE("vector loads are limited by the two SRAM load ports", "[timing]") {
  const int n = 200;
  std::string body = "la a0, buf\n";
  for (int i = 0; i < n; ++i) body += "vle v" + std::to_string(i % 16) + ", 0(a0)\n";
  auto r = run_asm(body + kExit + "\n.data\n.align 6\nbuf: .space 64\n");
  const isa::ThreadState& t = r.thread();
  CHECK(t.cycle >= n / 2);
  CHECK(t.cycle <= n / 2 + 8);
}

TEST_CASE("an unrolled matrix-unit loop reaches at least 95% of the node's peak",
          "[timing][matrix]") {
  // 8 accumulators, one mma per cycle: 256 MAC = 512 FLOP per cycle is the configured peak.
  std::string body = R"(
    la a0, tiles
    vle v1, 0(a0)
    vle v2, 64(a0)
    li t0, 200
1:
)";
  for (int i = 0; i < 32; ++i) body += "    mma.bf16 acc" + std::to_string(i % 8) + ", v1, v2\n";
  body.insert(body.find("1:\n") + 3, "    addi t0, t0, -1\n");
  body += "    bnez t0, 1b\n";
  auto r = run_asm(body + kExit + "\n.data\n.align 6\ntiles: .space 128\n");
  REQUIRE(r.result.outcome == isa::RunOutcome::Exited);
  const isa::ThreadState& t = r.thread();
  const uint64_t mmas = t.class_counts[static_cast<size_t>(isa::TimingClass::Matrix)];
  REQUIRE(mmas == 200 * 32);
  const isa::CoreConfig c;
  const double flops = double(mmas) * 2 * c.matrix_m * c.matrix_n * c.matrix_k;
  const double peak_flops_per_cycle = 2.0 * c.matrix_m * c.matrix_n * c.matrix_k;  // 512
  const double utilisation = flops / (peak_flops_per_cycle * double(r.result.cycles));
  INFO("cycles " << r.result.cycles << ", utilisation " << utilisation);
  CHECK(utilisation >= 0.95);
  CHECK(utilisation <= 1.0);
}

TEST_CASE("cfp8 mma runs at the same MAC rate as bf16: twice the work in two cycles",
          "[timing][matrix]") {
  std::string body = "la a0, t\nvle v1, 0(a0)\n";
  for (int i = 0; i < 100; ++i) body += "mma.cfp8 acc" + std::to_string(i % 8) + ", v1, v1\n";
  auto r = run_asm(body + kExit + "\n.data\n.align 6\nt: .space 64\n");
  CHECK(r.thread().cycle >= 2 * 99);
  CHECK(r.thread().cycle <= 2 * 99 + 8);
}

TEST_CASE("an mma waits for an mld into its accumulator", "[timing][matrix]") {
  // mld's latency must pass before the mma that adds into the loaded tile may start; mma
  // after mma into one accumulator is pipelined (tested above).
  const isa::TimingParams p = isa::TimingParams::d1_defaults();
  const uint64_t acc_load = p.classes[static_cast<size_t>(isa::TimingClass::AccLoad)].latency;
  const std::string data = "\n.data\n.align 6\nt: .space 256\n";
  const std::string ready_v1 =
      "la a0, t\n vle v1, 0(a0)\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n";
  // In-order issue: the rdcycle after the mma issues no earlier than the mma started.
  auto loaded =
      run_asm(ready_v1 + "mld acc0, 0(a0)\n mma.bf16 acc0, v1, v1\n rdcycle s1\n" + kExit + data);
  auto other =
      run_asm(ready_v1 + "mld acc1, 0(a0)\n mma.bf16 acc0, v1, v1\n rdcycle s1\n" + kExit + data);
  // The dependent mma starts acc_load cycles after the mld; the independent one does not wait.
  INFO("dependent mma issued by " << loaded.x("s1") << ", independent by " << other.x("s1"));
  CHECK(loaded.x("s1") >= other.x("s1") + acc_load - 1);
}

TEST_CASE("timing off counts one cycle per instruction and gives the same results", "[timing]") {
  isa::CoreConfig off;
  off.timing = false;
  auto r = run_asm("li a0, 5\nmul a0, a0, a0\ndiv a0, a0, a0\n" + std::string(kExit), off);
  CHECK(r.result.cycles == r.result.instructions);
  CHECK(r.x("a0") == 1);
}
