// SPDX-License-Identifier: MIT
// fuzz_disasm: the input is a load address (4 bytes, little-endian) and instruction words. The
// promise of isa/disassembler.h: the disassembly of a word, assembled at the same pc, is the
// same instruction again. Every word of the input is printed at its pc (invalid ones as .word),
// the listing is assembled at that address, and each word must disassemble as the original did.
// NOTE: compared as text, not as words or Decoded fields: the decoder ignores fields that an
// instruction has no operand in (rs2 of vbcast, rs1 and rs2 of mzero), so a word with junk there
// is the same instruction as the canonical one the assembler makes, and prints the same.
// Separate from fuzz_exec so that a finding here does not stop the interpreter being fuzzed.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "isa/assembler.h"
#include "isa/disassembler.h"
#include "isa/instructions.h"

namespace {

using namespace dojosim::isa;

constexpr size_t kMaxWords = 256;  // assembling is the slow part; a listing this long is plenty

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "fuzz_disasm: promise broken: %s\n", what.c_str());
  std::abort();
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

uint32_t word_at(const uint8_t* p) {
  return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  // Any 4-aligned 32-bit address: branch targets near 0 and near 4 GiB print differently.
  const uint64_t base = word_at(data) & ~uint32_t{3};
  std::vector<uint32_t> words;
  for (size_t off = 4; off + 4 <= size && words.size() < kMaxWords; off += 4)
    words.push_back(word_at(data + off));

  std::string source;
  for (size_t i = 0; i < words.size(); ++i) {
    const uint32_t w = words[i];
    source += decode(w).op == Op::kInvalid ? ".word " + hex(w) : disassemble(w, base + 4 * i);
    source += '\n';
  }
  AsmOptions options;
  options.text_base = base;
  Program p;
  try {
    p = assemble(source, "listing.s", options);
  } catch (const AsmError& e) {
    const size_t i = e.line >= 1 ? static_cast<size_t>(e.line) - 1 : words.size();
    violated((i < words.size() ? hex(words[i]) + " at pc " + hex(base + 4 * i) : std::string("?")) +
             " disassembles to text that does not assemble: " + e.what());
  }
  const Segment* text = nullptr;
  for (const Segment& s : p.segments)
    if (s.name == ".text") text = &s;
  if (!text || text->address != base || text->bytes.size() != 4 * words.size())
    violated(std::to_string(words.size()) + " lines did not assemble to as many words at " +
             hex(base));
  for (size_t i = 0; i < words.size(); ++i) {
    const uint32_t got = word_at(&text->bytes[4 * i]);
    const uint64_t pc = base + 4 * i;
    const std::string want = disassemble(words[i], pc), have = disassemble(got, pc);
    if (decode(got).op != decode(words[i]).op || want != have)
      violated(hex(words[i]) + " at pc " + hex(pc) + " disassembles to '" + want +
               "', which assembles to " + hex(got) + ", '" + have + "'");
  }
  return 0;
}
