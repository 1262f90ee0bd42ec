// SPDX-License-Identifier: MIT
// fuzz_assembler: the input is assembly source. The assembler's contract (isa/assembler.h):
// every input assembles or throws AsmError; anything else (a crash, another exception, UB, a
// leak, a hang) is a bug. On success the program must also respect the image cap and lay its
// segments out without overlap.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "isa/assembler.h"
#include "isa/disassembler.h"

namespace {

using namespace dojosim::isa;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "fuzz_assembler: contract violated: %s\n", what);
  std::abort();
}

void check_program(const Program& p) {
  uint64_t total = 0;
  for (const Segment& s : p.segments) total += s.bytes.size() + s.zero_fill;
  if (total > kMaxImageBytes) violated("the image is larger than kMaxImageBytes");
  for (size_t i = 0; i < p.segments.size(); ++i) {
    const Segment& a = p.segments[i];
    const uint64_t a_end = a.address + a.bytes.size() + a.zero_fill;
    if (a_end < a.address) violated("a segment wraps around the address space");
    for (size_t j = i + 1; j < p.segments.size(); ++j) {
      const Segment& b = p.segments[j];
      const uint64_t b_end = b.address + b.bytes.size() + b.zero_fill;
      if (a.address < b_end && b.address < a_end && a_end > a.address && b_end > b.address)
        violated("two segments overlap");
    }
  }
  // Whatever was assembled must disassemble (traps print the faulting instruction).
  for (const Segment& s : p.segments) {
    if (s.name != ".text") continue;
    for (size_t off = 0; off + 4 <= s.bytes.size() && off < 4096; off += 4) {
      const uint32_t word = s.bytes[off] | s.bytes[off + 1] << 8 | s.bytes[off + 2] << 16 |
                            static_cast<uint32_t>(s.bytes[off + 3]) << 24;
      if (disassemble(word, s.address + off).empty()) violated("empty disassembly");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  try {
    check_program(assemble(source, "fuzz.s"));
  } catch (const AsmError& e) {
    // The source is in memory, so every diagnostic points into it.
    if (e.line < 1 || e.column < 1) violated("AsmError without a source position");
    if (std::string_view(e.what()).substr(0, 7) != "fuzz.s:")
      violated("AsmError not naming the file");
  }
  return 0;
}
