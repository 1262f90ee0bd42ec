// SPDX-License-Identifier: MIT
// The ELF loader and the C-kernel toolchain (kernels/, docs/kernels-c.md):
//  - errors: every malformed image is a LoadError whose message names the problem, and no
//    prefix or byte-flip of a valid image escapes as anything else;
//  - smoke: C kernels built with riscv64-unknown-elf-gcc + picolibc run on a node, timing on
//    and off, and print what they should;
//  - sync: every dojo.h wrapper compiles to the instruction isa/instructions.def says.
// The kernel tests need DOJOSIM_KERNEL_DIR (set when CMake found the cross toolchain).
#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "isa/csr.h"
#include "isa/elf_loader.h"
#include "isa/global_address.h"
#include "isa/instructions.h"
#include "isa/node_runner.h"

namespace {

using namespace dojosim::isa;

// A minimal valid executable, built field by field so that each test can break one field:
// one PT_LOAD of code at address 0 (a0 = 7; exit) plus 16 bytes of .bss, and section headers
// with .text, .symtab, .strtab, .shstrtab.
struct TinyElf {
  static constexpr uint64_t kCodeOff = 0x80;
  std::vector<uint32_t> code = {0x00700513 /* li a0,7 */, 0x05d00893 /* li a7,93 */,
                                0x00000073 /* ecall */};
  std::string strtab = std::string("\0_start\0local_sym\0", 18);
  std::string shstrtab = std::string("\0.text\0.symtab\0.strtab\0.shstrtab\0", 33);
  Elf64_Ehdr eh{};
  Elf64_Phdr ph{};
  std::vector<Elf64_Sym> syms;
  std::vector<Elf64_Shdr> sh;

  TinyElf() {
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_RISCV;
    eh.e_version = EV_CURRENT;
    eh.e_entry = 0;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 1;
    eh.e_shentsize = sizeof(Elf64_Shdr);
    ph.p_type = PT_LOAD;
    ph.p_flags = PF_R | PF_X;
    ph.p_offset = kCodeOff;
    ph.p_vaddr = ph.p_paddr = 0;
    ph.p_filesz = code.size() * 4;
    ph.p_memsz = ph.p_filesz + 16;
    Elf64_Sym null{}, start{}, local{};
    start.st_name = 1;
    start.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
    start.st_shndx = 1;
    local.st_name = 8;
    local.st_info = ELF64_ST_INFO(STB_LOCAL, STT_OBJECT);
    local.st_shndx = 1;
    local.st_value = 8;
    syms = {null, start, local};
  }

  // Serialises: header, phdr, code, strtab, symtab, shstrtab, section headers.
  std::vector<uint8_t> bytes() {
    std::vector<uint8_t> out(kCodeOff, 0);
    auto append = [&out](const void* p, size_t n, size_t align) {
      const size_t at = (out.size() + align - 1) / align * align;
      out.resize(at + n);
      std::memcpy(out.data() + at, p, n);
      return static_cast<uint64_t>(at);
    };
    append(code.data(), code.size() * 4, 4);
    const uint64_t str_off = append(strtab.data(), strtab.size(), 1);
    const uint64_t sym_off = append(syms.data(), syms.size() * sizeof(Elf64_Sym), 8);
    const uint64_t shstr_off = append(shstrtab.data(), shstrtab.size(), 1);
    if (sh.empty()) {
      sh.resize(5);
      sh[1] = {1, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 0, kCodeOff, code.size() * 4, 0, 0, 4,
               0};
      sh[2] = {7, SHT_SYMTAB,       0, 0, sym_off, syms.size() * sizeof(Elf64_Sym), 3, 2,
               8, sizeof(Elf64_Sym)};
      sh[3] = {15, SHT_STRTAB, 0, 0, str_off, strtab.size(), 0, 0, 1, 0};
      sh[4] = {23, SHT_STRTAB, 0, 0, shstr_off, shstrtab.size(), 0, 0, 1, 0};
      if (eh.e_shstrndx == 0) eh.e_shstrndx = 4;
      if (eh.e_shnum == 0) eh.e_shnum = 5;
    }
    if (eh.e_shoff == 0) eh.e_shoff = (out.size() + 7) & ~size_t{7};
    append(sh.data(), sh.size() * sizeof(Elf64_Shdr), 8);
    std::memcpy(out.data(), &eh, sizeof eh);
    std::memcpy(out.data() + sizeof eh, &ph, sizeof ph);
    return out;
  }
};

// The LoadError message of loading `image`, or "" if it loaded.
std::string load_error(const std::vector<uint8_t>& image) {
  try {
    load_elf(image, "bad.elf");
  } catch (const LoadError& e) {
    return e.what();
  }
  return "";
}

template <class Mutate>
std::string error_after(Mutate mutate) {
  TinyElf e;
  std::vector<uint8_t> image = e.bytes();
  mutate(e, image);
  return load_error(image);
}

// Rewrites the header or program header of an already serialised image.
void put_eh(std::vector<uint8_t>& img, const Elf64_Ehdr& eh) {
  std::memcpy(img.data(), &eh, sizeof eh);
}
void put_ph(std::vector<uint8_t>& img, const Elf64_Phdr& ph) {
  std::memcpy(img.data() + sizeof(Elf64_Ehdr), &ph, sizeof ph);
}

}  // namespace

TEST_CASE("a minimal executable loads: segment, entry, symbols, and runs", "[elf]") {
  TinyElf e;
  const Program p = load_elf(e.bytes(), "tiny.elf");
  CHECK(p.source_name == "tiny.elf");
  CHECK(p.entry == 0);
  REQUIRE(p.segments.size() == 1);
  CHECK(p.segments[0].name == ".text");
  CHECK(p.segments[0].address == 0);
  CHECK(p.segments[0].bytes.size() == 12);
  CHECK(p.segments[0].zero_fill == 16);
  CHECK(p.symbols == std::map<std::string, uint64_t>{{"_start", 0}, {"local_sym", 8}});

  NodeRunner node(CoreConfig{});
  node.load(p);
  const NodeRunResult r = node.run({});
  REQUIRE(r.outcome == RunOutcome::Exited);
  CHECK(r.threads.at(0).exit_code == 7);
}

TEST_CASE("without section headers a segment is named by its index", "[elf]") {
  TinyElf e;
  std::vector<uint8_t> img = e.bytes();
  e.eh.e_shoff = 0;
  e.eh.e_shnum = 0;
  e.eh.e_shstrndx = 0;
  put_eh(img, e.eh);
  const Program p = load_elf(img, "stripped.elf");
  REQUIRE(p.segments.size() == 1);
  CHECK(p.segments[0].name == "PT_LOAD #0");
  CHECK(p.symbols.empty());
}

TEST_CASE("malformed ELF images are LoadErrors naming the file and the problem", "[elf]") {
  using Catch::Matchers::Contains;
  auto header = [](auto change) {
    return error_after([&](TinyElf& e, std::vector<uint8_t>& img) {
      change(e.eh);
      put_eh(img, e.eh);
    });
  };
  auto phdr = [](auto change) {
    return error_after([&](TinyElf& e, std::vector<uint8_t>& img) {
      change(e.ph);
      put_ph(img, e.ph);
    });
  };

  SECTION("not ELF") {
    CHECK_THAT(load_error({'#', '!', '/', 'b', 'i', 'n'}), Contains("bad.elf: not an ELF file"));
    CHECK_THAT(load_error({}), Contains("not an ELF file"));
  }
  SECTION("truncated") {
    std::vector<uint8_t> img = TinyElf().bytes();
    img.resize(40);
    CHECK_THAT(load_error(img), Contains("bad.elf: truncated: 40 bytes") && Contains("ELF header"));
    img = TinyElf().bytes();
    img.resize(100);  // header complete, program header cut
    CHECK_THAT(load_error(img), Contains("program header table") &&
                                    Contains("past the end of the file (100 bytes)"));
    img = TinyElf().bytes();
    img.resize(TinyElf::kCodeOff + 4);  // code cut
    CHECK_THAT(load_error(img),
               Contains("section header table") && Contains("past the end of the file"));
  }
  SECTION("wrong class, byte order, machine, type") {
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_ident[EI_CLASS] = ELFCLASS32; }),
               Contains("32-bit ELF (ELFCLASS32)") && Contains("-march=rv64im -mabi=lp64"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_ident[EI_DATA] = ELFDATA2MSB; }),
               Contains("big-endian"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_machine = EM_X86_64; }),
               Contains("built for x86-64 (EM_X86_64), not RISC-V"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_machine = 4321; }),
               Contains("machine 4321 is not RISC-V"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_type = ET_REL; }),
               Contains("relocatable object (ET_REL)"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_type = ET_DYN; }),
               Contains("ET_DYN") && Contains("-static"));
  }
  SECTION("compressed instructions and float ABIs") {
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_flags = EF_RISCV_RVC; }),
               Contains("built with the C extension") && Contains("build with -march=rv64im"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_flags = EF_RISCV_FLOAT_ABI_DOUBLE; }),
               Contains("double-precision hard-float ABI (lp64d)") && Contains("-mabi=lp64"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_flags = EF_RISCV_FLOAT_ABI_SINGLE; }),
               Contains("single-precision hard-float ABI (lp64f)"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_flags = EF_RISCV_FLOAT_ABI_QUAD; }),
               Contains("quad-precision hard-float ABI"));
  }
  SECTION("program headers") {
    CHECK_THAT(
        header([](Elf64_Ehdr& h) { h.e_phoff = 0xFFFFFFFFFFFFFFF0u; }),
        Contains(
            "program header table (1 entries of 56 bytes at offset 0xfffffffffffffff0) lies past "
            "the end of the file"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_phnum = 0xFFFE; }), Contains("program header table"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_phentsize = 32; }),
               Contains("program header table entries are 32 bytes, expected 56"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_phnum = 0; }), Contains("has no program headers"));
    CHECK_THAT(
        phdr([](Elf64_Phdr& p) { p.p_offset = 0x7FFFFFFFFFFFFFFFu; }),
        Contains("PT_LOAD #0: its 0xc bytes at file offset 0x7fffffffffffffff lie past the end"));
    CHECK_THAT(phdr([](Elf64_Phdr& p) {
                 p.p_filesz = 0x1000000;
                 p.p_memsz = 0x1000000;
               }),
               Contains("PT_LOAD #0") && Contains("past the end of the file"));
    CHECK_THAT(phdr([](Elf64_Phdr& p) {
                 p.p_filesz = 64;
                 p.p_memsz = 8;
               }),
               Contains("PT_LOAD #0: file size 0x40 exceeds its memory size 0x8"));
    CHECK_THAT(phdr([](Elf64_Phdr& p) {
                 p.p_vaddr = 0xFFFFFFFFFFFFF000u;
                 p.p_memsz = 0x2000;
               }),
               Contains("reach past 4 GiB"));
    CHECK_THAT(phdr([](Elf64_Phdr& p) { p.p_memsz = 0xFFFFFFFFFFFFFFFFu; }),
               Contains("reach past 4 GiB"));
    CHECK_THAT(phdr([](Elf64_Phdr& p) { p.p_type = PT_INTERP; }),
               Contains("PT_INTERP") && Contains("-static"));
    CHECK_THAT(phdr([](Elf64_Phdr& p) { p.p_type = PT_NOTE; }), Contains("has no PT_LOAD segment"));
  }
  SECTION("entry point") {
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_entry = 2; }),
               Contains("entry point 0x2 is not 4-byte aligned"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_entry = 0x1000; }),
               Contains("entry point 0x1000 is not inside the file bytes of any PT_LOAD segment"));
  }
  SECTION("sections and symbols") {
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_shoff = 0xFFFFFFFFFFFFFF00u; }),
               Contains("section header table") && Contains("past the end of the file"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_shstrndx = 9; }),
               Contains("section-name table index 9 is not below the section count 5"));
    CHECK_THAT(header([](Elf64_Ehdr& h) { h.e_shstrndx = 1; }),
               Contains("section-name table (section 1) is not a string table"));
    CHECK_THAT(error_after([](TinyElf& e, std::vector<uint8_t>& img) {
                 Elf64_Shdr s = e.sh[2];
                 s.sh_link = 77;
                 std::memcpy(img.data() + e.eh.e_shoff + 2 * sizeof s, &s, sizeof s);
               }),
               Contains("symbol table (section 2) links to string table 77, which does not exist"));
    CHECK_THAT(error_after([](TinyElf& e, std::vector<uint8_t>& img) {
                 Elf64_Shdr s = e.sh[2];
                 s.sh_size = sizeof(Elf64_Sym) << 40;
                 std::memcpy(img.data() + e.eh.e_shoff + 2 * sizeof s, &s, sizeof s);
               }),
               Contains("symbol table") && Contains("past the end of the file"));
    CHECK_THAT(error_after([](TinyElf& e, std::vector<uint8_t>& img) {
                 Elf64_Shdr s = e.sh[3];
                 s.sh_size = 3;  // cuts "_start" before its NUL
                 std::memcpy(img.data() + e.eh.e_shoff + 3 * sizeof s, &s, sizeof s);
               }),
               Contains("symbol name at offset 1 is not NUL-terminated"));
    CHECK_THAT(error_after([](TinyElf& e, std::vector<uint8_t>& img) {
                 Elf64_Sym s = e.syms[1];
                 s.st_name = 5000;
                 std::memcpy(img.data() + e.sh[2].sh_offset + sizeof s, &s, sizeof s);
               }),
               Contains("symbol name offset 5000 is past the end of its string table (18 bytes)"));
  }
}

TEST_CASE("no prefix or byte-flip of a valid image escapes as anything but LoadError", "[elf]") {
  const std::vector<uint8_t> good = TinyElf().bytes();
  int loaded = 0, rejected = 0;
  std::vector<std::string> escaped;  // anything thrown that is not a LoadError
  auto attempt = [&](const std::vector<uint8_t>& img) {
    try {
      load_elf(img, "x.elf");
      ++loaded;
    } catch (const LoadError&) {
      ++rejected;
    } catch (const std::exception& e) {
      escaped.push_back(e.what());
    }
  };
  for (size_t n = 0; n < good.size(); ++n)
    attempt(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
  CHECK(rejected == static_cast<int>(good.size()));  // every proper prefix is truncated
  std::mt19937_64 rng(12345);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> img = good;
    for (int k = 0; k < 1 + i % 4; ++k) {
      const size_t at = rng() % img.size();
      img[at] = (i & 1) ? static_cast<uint8_t>(rng())
                        : static_cast<uint8_t>(img[at] ^ (1u << (rng() % 8)));
    }
    attempt(img);
  }
  CHECK(escaped.empty());
  CHECK(loaded > 0);  // some flips hit bytes that do not matter
  CHECK(rejected > 0);
}

TEST_CASE("load_elf(path) and is_elf_file on missing and non-ELF files", "[elf]") {
  using Catch::Matchers::Contains;
  CHECK_FALSE(is_elf_file("/nonexistent/dir/k.elf"));
  CHECK_THROWS_WITH(load_elf(std::string("/nonexistent/dir/k.elf")),
                    Contains("/nonexistent/dir/k.elf: cannot open"));
  const std::string text = std::string(DOJOSIM_SOURCE_DIR) + "/isa/instructions.def";
  CHECK_FALSE(is_elf_file(text));
  CHECK_THROWS_WITH(load_elf(text), Contains("instructions.def: not an ELF file"));
}

#ifdef DOJOSIM_KERNEL_DIR

namespace {

std::string kernel_path(const char* name) {
  return std::string(DOJOSIM_KERNEL_DIR) + "/" + name;
}

struct KernelRun {
  NodeRunResult result;
  std::string out, err;
};

KernelRun run_kernel(const char* name, bool timing, unsigned threads = 1) {
  CoreConfig config;
  config.timing = timing;
  NodeRunner node(config);
  node.load(load_elf(kernel_path(name)));
  std::ostringstream out, err;
  NodeRunOptions options;
  options.threads = threads;
  options.out = &out;
  options.err = &err;
  KernelRun run;
  run.result = node.run(options);
  run.out = out.str();
  run.err = err.str();
  return run;
}

std::vector<std::string> sorted_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace

TEST_CASE("hello.elf: segments, symbols, entry at _start", "[elf]") {
  REQUIRE(is_elf_file(kernel_path("hello.elf")));
  const Program p = load_elf(kernel_path("hello.elf"));
  CHECK(p.entry == 0);
  CHECK(p.symbols.at("_start") == 0);
  CHECK(p.symbols.count("main") == 1);
  CHECK(p.symbols.count("__global_pointer$") == 1);
  CHECK(p.symbols.at("__sram_end") == 0x140000);
  REQUIRE(p.segments.size() == 2);
  CHECK(p.segments[0].name == ".text+.rodata");
  CHECK(p.segments[1].name.find(".data") != std::string::npos);
  CHECK(p.end_address() <= p.symbols.at("__stacks_start"));
}

TEST_CASE("hello.elf prints through picolibc and exits 0, timing on and off", "[elf]") {
  const bool timing = GENERATE(true, false);
  INFO("timing " << timing);
  const KernelRun run = run_kernel("hello.elf", timing);
  INFO(run.result.message);
  REQUIRE(run.result.outcome == RunOutcome::Exited);
  CHECK(run.result.threads.at(0).exit_code == 0);
  CHECK(run.out == "[0,0 t0] hello from node (0,0), thread 0\n");
  CHECK(run.err.empty());
}

TEST_CASE("hello.elf on 4 threads: one whole line each (per-thread stdio buffers and TLS)",
          "[elf]") {
  const bool timing = GENERATE(true, false);
  const KernelRun run = run_kernel("hello.elf", timing, 4);
  INFO(run.result.message);
  REQUIRE(run.result.outcome == RunOutcome::Exited);
  for (const ThreadResult& t : run.result.threads) CHECK(t.exit_code == 0);
  CHECK(sorted_lines(run.out) == std::vector<std::string>{
                                     "[0,0 t0] hello from node (0,0), thread 0",
                                     "[0,0 t1] hello from node (0,0), thread 1",
                                     "[0,0 t2] hello from node (0,0), thread 2",
                                     "[0,0 t3] hello from node (0,0), thread 3",
                                 });
}

TEST_CASE("vector_dot.elf: vector and matrix units agree with scalar C, timing on and off",
          "[elf]") {
  const bool timing = GENERATE(true, false);
  INFO("timing " << timing);
  const KernelRun run = run_kernel("vector_dot.elf", timing);
  INFO(run.result.message);
  INFO(run.out);
  REQUIRE(run.result.outcome == RunOutcome::Exited);
  CHECK(run.result.threads.at(0).exit_code == 0);
  CHECK(run.out ==
        "[0,0 t0] dot fp32: vector -0.75, scalar -0.75: match\n"
        "[0,0 t0] dot bf16: vector -0.75, scalar -0.75: match\n"
        "[0,0 t0] mma.bf16 8x8 tile, C[0][0] = 0.625, C[7][7] = 1: match\n"
        "[0,0 t0] vector_dot: PASS\n");
}

TEST_CASE("runtime: per-thread TLS and output, and every way a thread ends", "[elf]") {
  const bool timing = GENERATE(true, false);
  INFO("timing " << timing);
  const KernelRun run = run_kernel("runtime_paths.elf", timing, 4);
  INFO(run.result.message);
  REQUIRE(run.result.outcome == RunOutcome::Exited);
  REQUIRE(run.result.threads.size() == 4);
  CHECK(run.result.threads[0].exit_code == 0);    // return from main
  CHECK(run.result.threads[1].exit_code == 3);    // exit(3)
  CHECK(run.result.threads[2].exit_code == 134);  // failed assert: 128 + SIGABRT
  CHECK(run.result.threads[3].exit_code == 5);    // dojo_exit(5)
  CHECK(sorted_lines(run.out) == std::vector<std::string>{
                                     "[0,0 t0] tls 100 errno 0",
                                     "[0,0 t1] tls 101 errno 1",
                                     "[0,0 t2] tls 102 errno 2",
                                     "[0,0 t3] tls 103 errno 3",
                                 });
  const std::vector<std::string> err = sorted_lines(run.err);
  REQUIRE(err.size() == 5);
  CHECK(err[0] == "[0,0 t0] t0 to stderr");
  CHECK(err[1] == "[0,0 t1] t1 to stderr");
  CHECK(err[2].rfind("[0,0 t2] assertion \"t == 0\" failed", 0) == 0);
  CHECK(err[3] == "[0,0 t2] t2 to stderr");
  CHECK(err[4] == "[0,0 t3] t3 to stderr");
}

namespace {

// The Op of each enumerator name in isa/instructions.def ("VADD_F32" -> Op::VADD_F32).
const std::map<std::string, Op>& op_by_name() {
  static const std::map<std::string, Op> m = {
#define X(op, mn, ops, en, tc, sem) {#op, Op::op},
#include "isa/instructions.def"
#undef X
  };
  return m;
}

bool is_extension_opcode(uint32_t word) {
  const uint32_t opc = word & 0x7F;
  return opc == 0x0B || opc == 0x2B || opc == 0x5B || opc == 0x7B;
}

// The words of the function at `addr`, up to and including its first `ret`.
std::vector<uint32_t> function_words(const Program& p, uint64_t addr) {
  for (const Segment& s : p.segments) {
    if (addr < s.address || addr >= s.address + s.bytes.size()) continue;
    std::vector<uint32_t> words;
    for (uint64_t a = addr; a + 4 <= s.address + s.bytes.size() && words.size() < 64; a += 4) {
      uint32_t w;
      std::memcpy(&w, s.bytes.data() + (a - s.address), 4);
      words.push_back(w);
      if (w == 0x00008067) break;  // ret
    }
    return words;
  }
  return {};
}

}  // namespace

TEST_CASE("a C kernel skips disabled nodes with dojo_node_usable", "[elf][nodeok]") {
  CoreConfig config;
  config.mesh_w = 8;
  config.mesh_h = 3;
  config.node_x = 5;
  config.node_y = 2;
  // East of (5,2): 6 and 7 disabled, wrap to 0 disabled, 1 usable.
  config.set_disabled({{6, 2}, {7, 2}, {0, 2}, {3, 2}, {6, 1}});
  NodeRunner node(config);
  node.load(load_elf(kernel_path("east_neighbour.elf")));
  std::ostringstream out;
  NodeRunOptions options;
  options.out = &out;
  const NodeRunResult r = node.run(options);
  INFO(r.message);
  REQUIRE(r.outcome == RunOutcome::Exited);
  CHECK(r.threads[0].exit_code == 0);
  CHECK(out.str() == fmt::format("[5,2 t0] east neighbour (1,2) after skipping 3 disabled, "
                                 "global address 0x{:x}\n",
                                 global_address(1, 2, 0x100)));
}

TEST_CASE("every dojo.h wrapper compiles to the instruction and fields of its table row", "[elf]") {
  const Program p = load_elf(kernel_path("dojo_h_wrappers.elf"));
  int checked = 0;
  for (const auto& [name, op] : op_by_name()) {
    const InstrInfo& in = info(op);
    if (!is_extension_opcode(in.encoding.match)) continue;
    INFO(fmt::format("{} ({})", in.mnemonic, name));
    const auto sym = p.symbols.find("w_" + name);
    REQUIRE(sym != p.symbols.end());  // kernels/check/dojo_h_wrappers.c lacks this instruction
    std::vector<uint32_t> ext;
    for (uint32_t w : function_words(p, sym->second))
      if (is_extension_opcode(w)) ext.push_back(w);
    REQUIRE(ext.size() == 1);
    const Decoded d = decode(ext[0]);
    INFO(fmt::format("word 0x{:08x}", ext[0]));
    CHECK(d.op == op);
    // Field convention of dojo_h_wrappers.c: rd-field numbers 5, rs1 6, rs2 7, part 1.
    for (int i = 0; i < in.operand_count; ++i) {
      switch (in.operands[i]) {
        case OperandKind::Vd:
        case OperandKind::Vs3:
        case OperandKind::Acc:
        case OperandKind::Sem:
        case OperandKind::Group:
          CHECK(d.rd == 5);
          break;
        case OperandKind::Vs1:
        case OperandKind::Sem1:
          CHECK(d.rs1 == 6);
          break;
        case OperandKind::Vs2:
        case OperandKind::Acc2:
          CHECK(d.rs2 == 7);
          break;
        case OperandKind::Part:
          CHECK(d.rs2 == 1);
          break;
        default:
          break;  // x registers: the compiler's choice
      }
    }
    if (op == Op::PUSH) {  // three distinct x registers: src, dst, len
      CHECK(d.rs1 != d.rs2);
      CHECK(d.rs1 != d.rs3);
      CHECK(d.rs2 != d.rs3);
    }
    ++checked;
  }
  CHECK(checked >= 60);
  // And no wrapper function claims an instruction the table does not have.
  for (const auto& [sym, addr] : p.symbols)
    if (sym.rfind("w_", 0) == 0) CHECK(op_by_name().count(sym.substr(2)) == 1);
}

TEST_CASE("dojo.h CSR accessors read and write the CSR numbers of isa/csr.h", "[elf]") {
  const Program p = load_elf(kernel_path("dojo_h_wrappers.elf"));
  auto csr_word = [&](const std::string& fn) {
    INFO(fn);
    const auto sym = p.symbols.find(fn);
    REQUIRE(sym != p.symbols.end());
    for (uint32_t w : function_words(p, sym->second))
      if ((w & 0x7F) == 0x73) return decode(w);
    FAIL("no SYSTEM-opcode word in " << fn);
    return Decoded{};
  };
  for (const CsrInfo& c : kCsrs) {
    if (c.name == "time") continue;  // an alias of cycle: dojo.h offers dojo_cycles()
    INFO(c.name);
    const Decoded r = csr_word("csr_" + std::string(c.name));
    CHECK(r.op == Op::CSRRS);
    CHECK(r.rs1 == 0);
    CHECK((static_cast<uint32_t>(r.imm) & 0xFFF) == c.number);
    if (c.access == CsrAccess::ReadWrite) {
      const Decoded w = csr_word("csrw_" + std::string(c.name));
      CHECK(w.op == Op::CSRRW);
      CHECK(w.rd == 0);
      CHECK((static_cast<uint32_t>(w.imm) & 0xFFF) == c.number);
    }
  }
}

#endif  // DOJOSIM_KERNEL_DIR
