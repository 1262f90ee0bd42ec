// SPDX-License-Identifier: MIT
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>
#include <iterator>

#include "isa/assembler.h"
#include "isa/disassembler.h"
#include "isa/elf_loader.h"
#include "isa/node_runner.h"
#include "isa/reference_doc.h"
#include "runtime/collectives/collective.h"
#include "runtime/graph/op_table.h"
#include "tools/commands.h"
#include "tools/options.h"
#include "tools/output_file.h"

namespace dojosim::cli {

namespace po = boost::program_options;

namespace {

void print_words(const isa::Segment& s) {
  for (size_t i = 0; i + 4 <= s.bytes.size(); i += 4) {
    uint32_t w;
    std::memcpy(&w, s.bytes.data() + i, 4);
    const uint64_t pc = s.address + i;
    fmt::print("{:8x}:  {:08x}  {}\n", pc, w, isa::disassemble(w, pc));
  }
}

void print_bytes(const isa::Segment& s) {
  for (size_t i = 0; i < s.bytes.size(); i += 16) {
    fmt::print("{:8x}: ", s.address + i);
    for (size_t j = i; j < std::min(s.bytes.size(), i + 16); ++j) fmt::print(" {:02x}", s.bytes[j]);
    fmt::print("\n");
  }
  if (s.zero_fill) fmt::print("{:8x}:  ({} zero bytes)\n", s.address + s.bytes.size(), s.zero_fill);
}

bool is_code(const isa::Segment& s) { return s.name.rfind(".text", 0) == 0; }

}  // namespace

int cmd_asm(const std::vector<std::string>& args) {
  po::options_description opts(
      "dojosim asm FILE [-o OUT]\n"
      "Assembles FILE. Without -o prints a listing (address, word, disassembly); with -o writes\n"
      "a flat binary image of node SRAM from address 0 to the end of the program.\n\n"
      "examples:\n"
      "  dojosim asm kernels/asm/dot.s\n"
      "  dojosim asm kernels/asm/dot.s -o dot.bin && dojosim disasm dot.bin\n\n"
      "options");
  std::string file, out;
  opts.add_options()("help,h", "show this help")("output,o", po::value<std::string>(&out),
                                                 "write the flat binary here")(
      "file", po::value<std::string>(&file), "assembly source");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "asm")) return kUsage;
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kOk;
  }
  if (file.empty()) return usage_error("asm", "missing FILE (an assembly source)");
  try {
    const isa::Program p = isa::assemble_file(file);
    if (out.empty()) {
      for (const auto& s : p.segments) {
        fmt::print("{} at 0x{:x}, {} bytes\n", s.name, s.address, s.bytes.size() + s.zero_fill);
        is_code(s) ? print_words(s) : print_bytes(s);
      }
      return kOk;
    }
    std::vector<uint8_t> image(p.end_address(), 0);
    for (const auto& s : p.segments)
      std::copy(s.bytes.begin(), s.bytes.end(), image.begin() + s.address);
    write_file(out, std::string_view(reinterpret_cast<const char*>(image.data()), image.size()));
    return kOk;
  } catch (const isa::AsmError& e) {
    fmt::print(stderr, "{}\n", e.what());
    return kUsage;
  } catch (const std::runtime_error& e) {  // the output file (a full disk)
    fmt::print(stderr, "dojosim asm: {}\n", e.what());
    return kUsage;
  }
}

int cmd_disasm(const std::vector<std::string>& args) {
  po::options_description opts(
      "dojosim disasm FILE [--base ADDR]\n"
      "Disassembles the code of a RISC-V ELF, or every word of a flat binary loaded at ADDR.\n\n"
      "examples:\n"
      "  dojosim disasm build/kernels/hello.elf\n"
      "  dojosim disasm dot.bin --base 0\n\n"
      "options");
  std::string file;
  uint64_t base = 0;
  opts.add_options()("help,h", "show this help")(
      "base", po::value<uint64_t>(&base)->default_value(0), "load address of a flat binary")(
      "file", po::value<std::string>(&file), "ELF or flat binary");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "disasm")) return kUsage;
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kOk;
  }
  if (file.empty()) return usage_error("disasm", "missing FILE (an ELF or flat binary)");
  try {
    if (isa::is_elf_file(file)) {
      for (const auto& s : isa::load_elf(file).segments) {
        fmt::print("{} at 0x{:x}\n", s.name, s.address);
        is_code(s) ? print_words(s) : print_bytes(s);
      }
      return kOk;
    }
    std::ifstream f(file, std::ios::binary);
    if (!f) return usage_error("disasm", fmt::format("cannot read '{}'", file));
    isa::Segment s{".text", base, {std::istreambuf_iterator<char>(f), {}}, 0};
    print_words(s);
    return kOk;
  } catch (const isa::LoadError& e) {
    fmt::print(stderr, "dojosim disasm: {}\n", e.what());
    return kUsage;
  }
}

int cmd_doc(const std::vector<std::string>& args) {
  if (args.size() == 1 && args[0] == "isa") {
    fmt::print("{}", isa::reference_markdown());
    return kOk;
  }
  if (args.size() == 1 && args[0] == "graph-ops") {
    fmt::print("{}", runtime::graph::op_reference_markdown());
    return kOk;
  }
  if (args.size() == 1 && args[0] == "collectives") {
    fmt::print("{}", runtime::collectives::algorithm_reference_markdown());
    return kOk;
  }
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    fmt::print(
        "dojosim doc isa|graph-ops|collectives\nPrints the instruction, timing and CSR tables "
        "of docs/isa.md, generated from the instruction table, the op reference of "
        "docs/graphs.md, generated from runtime/graph/ops.def, or the algorithm table of "
        "docs/collectives.md, generated from runtime/collectives/algorithms.def "
        "(scripts/gen-docs.sh splices them in).\n\n"
        "examples:\n  dojosim doc isa | less\n  dojosim doc isa | grep mma\n"
        "  dojosim doc graph-ops\n  dojosim doc collectives\n");
    return kOk;
  }
  return usage_error("doc", "expected 'isa', 'graph-ops' or 'collectives'");
}

}  // namespace dojosim::cli
