// SPDX-License-Identifier: MIT
// fuzz_elf: the input is an ELF image. The loader's contract (isa/elf_loader.h): every input
// yields a Program or throws LoadError whose message starts with the file's name, and the parser
// never reads outside the image. A Program it accepts must also be one a node can take: segments
// inside the 32-bit SRAM offset space, and loading it into a node either works or throws
// LoadError.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "isa/elf_loader.h"
#include "isa/node_runner.h"

namespace {

using namespace dojosim::isa;

constexpr const char* kName = "fuzz.elf";

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "fuzz_elf: contract violated: %s\n", what);
  std::abort();
}

void check_program(const Program& p, size_t image_size) {
  if (p.source_name != kName) violated("Program::source_name is not the name given");
  for (const Segment& s : p.segments) {
    if (s.bytes.size() > image_size) violated("a segment holds more bytes than the file");
    const uint64_t end = s.address + s.bytes.size() + s.zero_fill;
    if (end < s.address || end > (uint64_t{1} << 32))
      violated("a segment reaches beyond the 32-bit SRAM offset space");
  }
  CoreConfig config;
  config.sram_bytes = 256 * 1024;
  config.threads = 1;
  NodeRunner node(config);
  try {
    node.load(p);
  } catch (const LoadError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> image(data, data + size);
  try {
    check_program(load_elf(image, kName), size);
  } catch (const LoadError& e) {
    if (std::string_view(e.what()).substr(0, 10) != "fuzz.elf: ")
      violated("LoadError not starting with the file's name");
  }
  return 0;
}
