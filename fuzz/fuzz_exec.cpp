// SPDX-License-Identifier: MIT
// fuzz_exec: the input is a node configuration and a program. Bytes 0..3 steer the run (layout
// in README.md: timing, threads, quantum, VLEN, matrix shape); the rest are little-endian
// instruction words placed at address 0 of a 64 KiB node. Every outcome of the run (exit, trap,
// deadlock, cycle limit) is fine; a crash, UB or an exception is a bug. Cheap invariants:
//  - decode(encode(decode(w))) == decode(w) for every valid word of the input;
//  - after the run x0 is 0 in every thread, with timing off a thread's cycles are its
//    instructions, and an Exited run has every thread exited.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "isa/instructions.h"
#include "isa/node_runner.h"

namespace {

using namespace dojosim::isa;

constexpr size_t kHeaderBytes = 4;
constexpr size_t kMaxWords = 4096;  // 16 KiB of code; the stacks take the top 16 KiB
constexpr uint64_t kSramBytes = 64 * 1024;
constexpr uint64_t kMaxCycles = 20'000;

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "fuzz_exec: invariant violated: %s\n", what.c_str());
  std::abort();
}

bool same(const Decoded& a, const Decoded& b) {
  return a.op == b.op && a.rd == b.rd && a.rs1 == b.rs1 && a.rs2 == b.rs2 && a.rs3 == b.rs3 &&
         a.imm == b.imm;
}

std::string describe(const Decoded& d) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "{op %d rd %u rs1 %u rs2 %u rs3 %u imm %" PRId32 "}",
                static_cast<int>(d.op), d.rd, d.rs1, d.rs2, d.rs3, d.imm);
  return buf;
}

std::string hex(uint32_t w) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", w);
  return buf;
}

uint32_t word_at(const uint8_t* p) {
  return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24;
}

CoreConfig steer_config(const uint8_t* h) {
  CoreConfig c;
  c.sram_bytes = kSramBytes;
  c.threads = 2;
  c.timing = h[0] & 1;
  static constexpr uint32_t kVlens[8] = {64, 16, 32, 64, 128, 256, 64, 64};
  c.vlen_bytes = kVlens[h[1] & 7];
  if (h[2] != 0) {  // 0 keeps D1's 8x8x4
    c.matrix_m = static_cast<uint8_t>(1 + (h[2] & 7));
    c.matrix_n = static_cast<uint8_t>(1 + ((h[2] >> 3) & 7));
    c.matrix_k = static_cast<uint8_t>(1 + ((h[2] >> 6) & 3));
  }
  if (!c.validate().empty()) {  // a shape that does not fit this VLEN: D1's instead
    c.vlen_bytes = 64;
    c.matrix_m = 8, c.matrix_n = 8, c.matrix_k = 4;
  }
  return c;
}

void check_encoding(const std::vector<uint32_t>& words) {
  for (uint32_t w : words) {
    const Decoded d = decode(w);
    if (d.op == Op::kInvalid) continue;
    const Decoded again = decode(encode(d));
    if (!same(d, again))
      violated("decode(encode(decode(" + hex(w) + "))) = " + describe(again) +
               " but decode gives " + describe(d));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return 0;
  const uint8_t* header = data;
  std::vector<uint32_t> words;
  for (size_t off = kHeaderBytes; off + 4 <= size && words.size() < kMaxWords; off += 4)
    words.push_back(word_at(data + off));

  check_encoding(words);

  const CoreConfig config = steer_config(header);
  Program program;
  program.source_name = "fuzz_exec";
  Segment text;
  text.name = ".text";
  text.bytes.assign(data + kHeaderBytes, data + kHeaderBytes + 4 * words.size());
  program.segments.push_back(std::move(text));

  NodeRunner node(config);
  node.load(program);
  NodeRunOptions options;
  options.threads = (header[0] & 2) ? 2 : 1;
  options.stack_bytes = 8 * 1024;
  static constexpr uint64_t kQuanta[4] = {1, 3, 64, 1000};
  options.quantum = kQuanta[(header[0] >> 2) & 3];
  options.max_cycles = kMaxCycles;
  const NodeRunResult r = node.run(options);

  for (unsigned i = 0; i < options.threads; ++i) {
    const ThreadState& t = node.core().thread(i);
    if (t.x[0] != 0)
      violated("x0 is " + std::to_string(t.x[0]) + " in thread " + std::to_string(i));
    if (!config.timing && node.core().cycles(t) != t.instret)
      violated("timing off, but a thread's cycles differ from its instructions");
    if (r.outcome == RunOutcome::Exited && t.status != ThreadStatus::Exited)
      violated("outcome Exited, but thread " + std::to_string(i) + " has not exited");
  }
  if (r.threads.size() != options.threads) violated("one ThreadResult per started thread");
  return 0;
}
