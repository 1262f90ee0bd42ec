// SPDX-License-Identifier: MIT
#include "isa/elf_loader.h"

#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <string_view>

namespace dojosim::isa {

// The structs of <elf.h> are read with memcpy at their file offsets, so the host must share the
// image's byte order; every host we build on (x86-64, aarch64) is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the ELF loader assumes a little-endian host");

namespace {

// A push's global address keeps 32 bits of SRAM offset, so nothing a node runs can live above.
constexpr uint64_t kAddressSpace = uint64_t{1} << 32;
// A linker script makes a handful of PT_LOADs; far more means a corrupt or hostile header, and
// capping keeps the overlap check cheap for the fuzzer.
constexpr size_t kMaxLoadSegments = 64;
// Larger files are not kernels for a node with at most 4 GiB of SRAM; refuse before reading.
constexpr uint64_t kMaxFileBytes = uint64_t{1} << 30;

const char* machine_name(unsigned m) {
  switch (m) {
    case EM_386:
      return "x86 (EM_386)";
    case EM_X86_64:
      return "x86-64 (EM_X86_64)";
    case EM_ARM:
      return "ARM (EM_ARM)";
    case EM_AARCH64:
      return "AArch64 (EM_AARCH64)";
    case EM_MIPS:
      return "MIPS (EM_MIPS)";
    case EM_PPC64:
      return "PowerPC 64 (EM_PPC64)";
    default:
      return nullptr;
  }
}

class ElfParser {
 public:
  ElfParser(const std::vector<uint8_t>& image, const std::string& name)
      : img_(image), name_(name) {}

  Program parse() {
    read_header();
    // The program headers are what must be there; check their table before the optional
    // section table, so a cut-off file is reported by what matters.
    check_table("program header table", eh_.e_phoff, eh_.e_phnum, eh_.e_phentsize,
                sizeof(Elf64_Phdr));
    read_sections();
    Program p;
    p.source_name = name_;
    p.entry = eh_.e_entry;
    read_segments(p);
    check_entry(p);
    read_symbols(p);
    return p;
  }

 private:
  template <class... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw LoadError(name_ + ": " + fmt::format(f, std::forward<Args>(args)...));
  }

  bool in_file(uint64_t offset, uint64_t n) const {
    return offset <= img_.size() && n <= img_.size() - offset;
  }

  template <class T>
  T read_at(uint64_t offset) const {
    T v;
    std::memcpy(&v, img_.data() + offset, sizeof(T));
    return v;
  }

  // The table of `count` entries of `entsize` bytes at `offset`, checked against the file.
  void check_table(const char* what, uint64_t offset, uint64_t count, uint64_t entsize,
                   uint64_t expected_entsize) const {
    if (count == 0) return;
    if (entsize != expected_entsize)
      fail("{} entries are {} bytes, expected {} (corrupt header)", what, entsize,
           expected_entsize);
    if (count > img_.size() / entsize || !in_file(offset, count * entsize))
      fail("{} ({} entries of {} bytes at offset 0x{:x}) lies past the end of the file ({} bytes)",
           what, count, entsize, offset, img_.size());
  }

  void read_header() {
    if (img_.size() < SELFMAG || std::memcmp(img_.data(), ELFMAG, SELFMAG) != 0)
      fail("not an ELF file (the first bytes are not \\x7fELF)");
    if (img_.size() < EI_NIDENT)
      fail("truncated: {} bytes, shorter than the ELF identification", img_.size());
    const uint8_t cls = img_[EI_CLASS];
    if (cls == ELFCLASS32)
      fail("32-bit ELF (ELFCLASS32); a node runs RV64: build with -march=rv64im -mabi=lp64");
    if (cls != ELFCLASS64) fail("unknown ELF class {} (expected ELFCLASS64)", cls);
    if (img_[EI_DATA] != ELFDATA2LSB)
      fail("big-endian or unknown byte order (EI_DATA = {}); RISC-V executables are little-endian",
           img_[EI_DATA]);
    if (img_.size() < sizeof(Elf64_Ehdr))
      fail("truncated: {} bytes, shorter than the {}-byte ELF header", img_.size(),
           sizeof(Elf64_Ehdr));
    eh_ = read_at<Elf64_Ehdr>(0);

    if (eh_.e_machine != EM_RISCV) {
      const char* known = machine_name(eh_.e_machine);
      if (known) fail("built for {}, not RISC-V (EM_RISCV): use riscv64-unknown-elf-gcc", known);
      fail("machine {} is not RISC-V (EM_RISCV = {}): use riscv64-unknown-elf-gcc", eh_.e_machine,
           EM_RISCV);
    }
    if (eh_.e_type == ET_REL)
      fail("a relocatable object (ET_REL), not an executable: link it (see docs/kernels-c.md)");
    if (eh_.e_type == ET_DYN)
      fail(
          "a shared object or position-independent executable (ET_DYN): link with -static -no-pie");
    if (eh_.e_type != ET_EXEC) fail("ELF type {} is not an executable (ET_EXEC)", eh_.e_type);
    if (eh_.e_flags & EF_RISCV_RVC)
      fail(
          "built with the C extension (compressed instructions, EF_RISCV_RVC), which nodes do not "
          "decode; build with -march=rv64im");
    switch (eh_.e_flags & EF_RISCV_FLOAT_ABI) {
      case EF_RISCV_FLOAT_ABI_SOFT:
        break;
      case EF_RISCV_FLOAT_ABI_SINGLE:
        fail(
            "uses the single-precision hard-float ABI (lp64f); nodes have no FP registers: build "
            "with -march=rv64im -mabi=lp64");
      case EF_RISCV_FLOAT_ABI_DOUBLE:
        fail(
            "uses the double-precision hard-float ABI (lp64d); nodes have no FP registers: build "
            "with -march=rv64im -mabi=lp64");
      default:
        fail(
            "uses the quad-precision hard-float ABI (lp64q); nodes have no FP registers: build "
            "with -march=rv64im -mabi=lp64");
    }
  }

  void read_sections() {
    if (eh_.e_shoff == 0) return;  // stripped of section headers: no names, no symbols
    if (eh_.e_shnum == 0)
      fail("uses extended section numbering (e_shnum = 0 with a section table); not supported");
    check_table("section header table", eh_.e_shoff, eh_.e_shnum, eh_.e_shentsize,
                sizeof(Elf64_Shdr));
    shdrs_.resize(eh_.e_shnum);
    for (size_t i = 0; i < shdrs_.size(); ++i)
      shdrs_[i] = read_at<Elf64_Shdr>(eh_.e_shoff + i * sizeof(Elf64_Shdr));
    if (eh_.e_shstrndx == SHN_UNDEF) return;
    if (eh_.e_shstrndx >= shdrs_.size())
      fail("section-name table index {} is not below the section count {}", eh_.e_shstrndx,
           shdrs_.size());
    shstrtab_ = string_table(eh_.e_shstrndx, "section-name table");
  }

  // Checks that section `index` is a string table inside the file; returns its bytes.
  std::string_view string_table(size_t index, const char* what) const {
    const Elf64_Shdr& s = shdrs_[index];
    if (s.sh_type != SHT_STRTAB)
      fail("{} (section {}) is not a string table (type {})", what, index, s.sh_type);
    if (!in_file(s.sh_offset, s.sh_size))
      fail("{} (section {}, {} bytes at offset 0x{:x}) lies past the end of the file ({} bytes)",
           what, index, s.sh_size, s.sh_offset, img_.size());
    return {reinterpret_cast<const char*>(img_.data() + s.sh_offset), s.sh_size};
  }

  std::string_view string_at(std::string_view table, uint64_t offset, const char* what) const {
    if (offset >= table.size())
      fail("{} name offset {} is past the end of its string table ({} bytes)", what, offset,
           table.size());
    const size_t end = table.find('\0', offset);
    if (end == std::string_view::npos)
      fail("{} name at offset {} is not NUL-terminated", what, offset);
    return table.substr(offset, end - offset);
  }

  // "the sections it holds, joined by +", or "PT_LOAD #n" when the file has no section names.
  std::string segment_name(size_t index, uint64_t vaddr, uint64_t memsz) const {
    std::string name;
    int count = 0;
    for (const Elf64_Shdr& s : shdrs_) {
      if (!(s.sh_flags & SHF_ALLOC) || s.sh_size == 0) continue;
      if ((s.sh_flags & SHF_TLS) && s.sh_type == SHT_NOBITS) continue;  // overlaps what follows
      if (s.sh_addr < vaddr || s.sh_addr - vaddr >= memsz ||
          s.sh_size > memsz - (s.sh_addr - vaddr))
        continue;
      if (shstrtab_.empty() || s.sh_name >= shstrtab_.size()) continue;
      const size_t end = shstrtab_.find('\0', s.sh_name);
      if (end == std::string_view::npos || end == s.sh_name) continue;
      if (++count > 4) {
        name += "+...";
        break;
      }
      if (!name.empty()) name += '+';
      name += shstrtab_.substr(s.sh_name, end - s.sh_name);
    }
    return name.empty() ? fmt::format("PT_LOAD #{}", index) : name;
  }

  void read_segments(Program& p) {
    if (eh_.e_phnum == 0 || eh_.e_phoff == 0)
      fail("has no program headers, so nothing to load (was it linked?)");
    if (eh_.e_phnum == PN_XNUM)
      fail("uses extended program header numbering (e_phnum = PN_XNUM); not supported");
    for (size_t i = 0; i < eh_.e_phnum; ++i) {
      const auto ph = read_at<Elf64_Phdr>(eh_.e_phoff + i * sizeof(Elf64_Phdr));
      if (ph.p_type == PT_INTERP)
        fail("program header #{} asks for a dynamic loader (PT_INTERP): link with -static", i);
      if (ph.p_type == PT_DYNAMIC)
        fail(
            "program header #{} is PT_DYNAMIC: dynamically linked executables cannot run on a node",
            i);
      if (ph.p_type != PT_LOAD) continue;
      if (ph.p_filesz > ph.p_memsz)
        fail("PT_LOAD #{}: file size 0x{:x} exceeds its memory size 0x{:x}", i, ph.p_filesz,
             ph.p_memsz);
      if (!in_file(ph.p_offset, ph.p_filesz))
        fail(
            "PT_LOAD #{}: its 0x{:x} bytes at file offset 0x{:x} lie past the end of the file "
            "({} bytes)",
            i, ph.p_filesz, ph.p_offset, img_.size());
      if (ph.p_vaddr >= kAddressSpace || ph.p_memsz > kAddressSpace - ph.p_vaddr)
        fail(
            "PT_LOAD #{}: 0x{:x} bytes at address 0x{:x} reach past 4 GiB, the most a node's SRAM "
            "can hold (segments are placed by their address in SRAM, which starts at 0)",
            i, ph.p_memsz, ph.p_vaddr);
      if (ph.p_memsz == 0) continue;
      if (p.segments.size() == kMaxLoadSegments)
        fail("has more than {} PT_LOAD segments (corrupt header?)", kMaxLoadSegments);
      Segment s;
      s.name = segment_name(i, ph.p_vaddr, ph.p_memsz);
      s.address = ph.p_vaddr;
      s.bytes.assign(img_.begin() + static_cast<std::ptrdiff_t>(ph.p_offset),
                     img_.begin() + static_cast<std::ptrdiff_t>(ph.p_offset + ph.p_filesz));
      s.zero_fill = ph.p_memsz - ph.p_filesz;
      p.segments.push_back(std::move(s));
    }
    if (p.segments.empty()) fail("has no PT_LOAD segment with contents, so nothing to load");

    // Overlapping segments would silently overwrite each other in SRAM.
    std::vector<const Segment*> order;
    for (const Segment& s : p.segments) order.push_back(&s);
    std::sort(order.begin(), order.end(),
              [](const Segment* a, const Segment* b) { return a->address < b->address; });
    for (size_t i = 1; i < order.size(); ++i) {
      const Segment& a = *order[i - 1];
      const Segment& b = *order[i];
      if (a.address + a.bytes.size() + a.zero_fill > b.address)
        fail("segments {} [0x{:x}, 0x{:x}) and {} [0x{:x}, ...) overlap", a.name, a.address,
             a.address + a.bytes.size() + a.zero_fill, b.name, b.address);
    }
  }

  void check_entry(const Program& p) const {
    if (p.entry % 4 != 0)
      fail("entry point 0x{:x} is not 4-byte aligned (instructions are 32 bits)", p.entry);
    for (const Segment& s : p.segments)
      if (p.entry >= s.address && p.entry - s.address < s.bytes.size()) return;
    fail("entry point 0x{:x} is not inside the file bytes of any PT_LOAD segment", p.entry);
  }

  void read_symbols(Program& p) const {
    std::set<std::string_view> global;
    for (size_t i = 0; i < shdrs_.size(); ++i) {
      const Elf64_Shdr& sh = shdrs_[i];
      if (sh.sh_type != SHT_SYMTAB) continue;
      if (sh.sh_entsize != sizeof(Elf64_Sym))
        fail("symbol table (section {}) entries are {} bytes, expected {}", i, sh.sh_entsize,
             sizeof(Elf64_Sym));
      if (sh.sh_size % sizeof(Elf64_Sym) != 0)
        fail("symbol table (section {}) size {} is not a multiple of its entry size", i,
             sh.sh_size);
      check_table("symbol table", sh.sh_offset, sh.sh_size / sizeof(Elf64_Sym), sh.sh_entsize,
                  sizeof(Elf64_Sym));
      if (sh.sh_link == SHN_UNDEF || sh.sh_link >= shdrs_.size())
        fail("symbol table (section {}) links to string table {}, which does not exist", i,
             sh.sh_link);
      const std::string_view strtab = string_table(sh.sh_link, "symbol-name table");
      for (uint64_t k = 1; k < sh.sh_size / sizeof(Elf64_Sym); ++k) {
        const auto sym = read_at<Elf64_Sym>(sh.sh_offset + k * sizeof(Elf64_Sym));
        const unsigned type = ELF64_ST_TYPE(sym.st_info), bind = ELF64_ST_BIND(sym.st_info);
        if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE) continue;
        if (bind != STB_LOCAL && bind != STB_GLOBAL && bind != STB_WEAK) continue;
        if (sym.st_shndx == SHN_UNDEF || sym.st_name == 0) continue;
        const std::string_view name = string_at(strtab, sym.st_name, "symbol");
        // Assembler-local labels and mapping symbols ($x, $d) say nothing to a user.
        if (name.empty() || name.rfind(".L", 0) == 0 || name[0] == '$') continue;
        const bool is_global = bind != STB_LOCAL;
        // A global wins over a file-local static of the same name in another object.
        if (is_global) {
          global.insert(name);
          p.symbols[std::string(name)] = sym.st_value;
        } else if (!global.count(name)) {
          p.symbols.emplace(std::string(name), sym.st_value);
        }
      }
    }
  }

  const std::vector<uint8_t>& img_;
  const std::string& name_;
  Elf64_Ehdr eh_{};
  std::vector<Elf64_Shdr> shdrs_;
  std::string_view shstrtab_;
};

}  // namespace

bool is_elf_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[SELFMAG];
  return in.read(magic, SELFMAG) && std::memcmp(magic, ELFMAG, SELFMAG) == 0;
}

Program load_elf(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw LoadError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  const std::streamoff size = in.tellg();
  if (size < 0) throw LoadError(fmt::format("{}: cannot determine its size", path));
  if (static_cast<uint64_t>(size) > kMaxFileBytes)
    throw LoadError(
        fmt::format("{}: {} bytes is larger than any node program can be ({} bytes at most)", path,
                    size, kMaxFileBytes));
  std::vector<uint8_t> image(static_cast<size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(image.data()), size))
    throw LoadError(fmt::format("{}: read error after {} of {} bytes", path, in.gcount(), size));
  return load_elf(image, path);
}

Program load_elf(const std::vector<uint8_t>& image, const std::string& name) {
  return ElfParser(image, name).parse();
}

}  // namespace dojosim::isa
