// SPDX-License-Identifier: MIT
// fuzz_make_seeds ROOT OUT: writes the seeds that can be derived rather than checked in (see
// README.md), so they follow the instruction table and the assembler as these change:
//   OUT/fuzz_assembler/  every table row as one disassembled line; the example kernels
//   OUT/fuzz_exec/       the same rows as words, and every assembler seed assembled at 0
//   OUT/fuzz_disasm/     the same words, at address 0 and near the top of the address space
//   OUT/fuzz_assembler.dict  fuzz/fuzz_assembler.dict plus every mnemonic, register and CSR name
// A seed that does not assemble is skipped with a message: seeds must not break the build.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "isa/asm_forms.h"
#include "isa/assembler.h"
#include "isa/csr.h"
#include "isa/disassembler.h"
#include "isa/instructions.h"

namespace fs = std::filesystem;
using namespace dojosim::isa;

namespace {

constexpr uint64_t kMaxExecImage = 16 * 1024;  // what fuzz_exec reads after its header

// fuzz_exec headers: timing off with one thread; timing on, two threads, quantum 64.
constexpr uint8_t kExecHeaders[2][4] = {{0x00, 0, 0, 0}, {0x0B, 0, 0, 0}};

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_exec_seeds(const fs::path& dir, const std::string& stem, const std::string& image) {
  for (int h = 0; h < 2; ++h) {
    std::string bytes(reinterpret_cast<const char*>(kExecHeaders[h]), 4);
    bytes += image.substr(0, kMaxExecImage);
    write_file(dir / fmt::format("{}_{}.bin", stem, h == 0 ? "plain" : "timed"), bytes);
  }
}

// fuzz_disasm reads a 4-byte load address, then words.
void write_disasm_seed(const fs::path& path, uint32_t base, const std::string& image) {
  std::string bytes;
  for (int b = 0; b < 4; ++b) bytes += static_cast<char>(base >> (8 * b));
  write_file(path, bytes + image);
}

// One word per table row, with every field outside the row's mask set to something non-zero.
std::vector<uint32_t> one_word_per_row() {
  constexpr uint32_t kFields = 5u << 7 | 6u << 15 | 7u << 20 | 0x12u << 25 | 3u << 12;
  std::vector<uint32_t> words;
  for (const InstrInfo* row = begin_table(); row != end_table(); ++row) {
    const uint32_t w = row->encoding.match | (kFields & ~row->encoding.mask);
    if (decode(w).op == row->op)
      words.push_back(w);
    else
      words.push_back(row->encoding.match);  // a field value another row claims: plain
  }
  return words;
}

std::string dict_entry(std::string_view token) {
  std::string out = "\"";
  for (char c : token) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: fuzz_make_seeds REPO_ROOT OUT_DIR\n");
    return 2;
  }
  const fs::path root = argv[1], out = argv[2];
  const fs::path asm_dir = out / "fuzz_assembler", exec_dir = out / "fuzz_exec",
                 disasm_dir = out / "fuzz_disasm";
  for (const fs::path& dir : {asm_dir, exec_dir, disasm_dir}) fs::create_directories(dir);

  const std::vector<uint32_t> words = one_word_per_row();
  std::string listing, image;
  for (size_t i = 0; i < words.size(); ++i) {
    listing += disassemble(words[i], 4 * i) + "\n";
    for (int b = 0; b < 4; ++b) image += static_cast<char>(words[i] >> (8 * b));
  }
  write_file(asm_dir / "all_instructions.s", listing);
  write_exec_seeds(exec_dir, "all_instructions", image);
  write_disasm_seed(disasm_dir / "all_instructions_at_0.bin", 0, image);
  write_disasm_seed(disasm_dir / "all_instructions_high.bin", 0xFFFFF000u, image);

  std::vector<fs::path> sources;
  for (const fs::path& dir :
       {root / "fuzz" / "corpus" / "fuzz_assembler", root / "kernels" / "asm"})
    if (fs::is_directory(dir))
      for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().extension() == ".s") sources.push_back(entry.path());
  std::sort(sources.begin(), sources.end());
  for (const fs::path& src : sources) {
    const std::string text = read_file(src);
    if (src.parent_path().filename() == "asm") write_file(asm_dir / src.filename(), text);
    try {
      const Program p = assemble(text, src.string());
      std::string flat(std::min<uint64_t>(p.end_address(), kMaxExecImage), '\0');
      for (const Segment& s : p.segments)
        for (size_t i = 0; i < s.bytes.size() && s.address + i < flat.size(); ++i)
          flat[s.address + i] = static_cast<char>(s.bytes[i]);
      write_exec_seeds(exec_dir, src.stem().string(), flat);
      write_disasm_seed(disasm_dir / (src.stem().string() + ".bin"), 0, flat.substr(0, 1024));
    } catch (const AsmError& e) {
      fmt::print(stderr, "fuzz_make_seeds: skipping {}: {}\n", src.string(), e.what());
    }
  }

  std::string dict = read_file(root / "fuzz" / "fuzz_assembler.dict");
  dict += "\n# derived by fuzz_make_seeds\n";
  for (std::string_view m : asm_detail::all_mnemonics()) dict += dict_entry(m);
  for (const CsrInfo& c : kCsrs) dict += dict_entry(c.name);
  for (unsigned r = 0; r < kNumXRegs; ++r) {
    dict += dict_entry(xreg_abi_name(r));
    dict += dict_entry(fmt::format("x{}", r));
  }
  for (int r = 0; r < kNumVRegs; ++r) dict += dict_entry(fmt::format("v{}", r));
  for (int r = 0; r < kNumAccs; ++r) dict += dict_entry(fmt::format("acc{}", r));
  write_file(out / "fuzz_assembler.dict", dict);
  return 0;
}
