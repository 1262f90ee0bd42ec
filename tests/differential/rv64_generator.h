// SPDX-License-Identifier: MIT
// Random RV64IM programs for differential testing against qemu-riscv64 (see README.md).
//
// Every program is a function of (seed, index) alone, so that any one of them can be
// regenerated without the others: a failure found in a run of 20,000 programs is reproduced by
// generating that one index. Randomness comes from std::mt19937_64, whose output the standard
// fixes, through hand-written reductions (the std distributions differ between libraries).
//
// A program initialises its registers, runs a random body, then writes one fixed-size record
// to stdout with ecall write: its 512-byte data region followed by x0..x31 (slot 2, where sp
// would be, holds a marker naming the program, so that a skipped or repeated program is
// detected rather than misread).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace dojosim::difftest {

inline constexpr unsigned kDataBytes = 512;
inline constexpr unsigned kDumpSlots = 32;
inline constexpr unsigned kRecordBytes = kDataBytes + 8 * kDumpSlots;
inline constexpr unsigned kMarkerSlot = 2;
inline constexpr uint64_t kMarkerBase = 0x4449464600000000;  // "DIFF" in the high half

inline uint64_t record_marker(uint64_t index) { return kMarkerBase | (index & 0xFFFFFFFF); }

// Switches for keeping a family of instructions out of the programs while an interpreter bug
// in it is being fixed. All on is full coverage; the test suite keeps them all on.
struct GeneratorOptions {
  unsigned min_items = 20, max_items = 120;  // top-level body items per program
  bool mul_div = true;
  bool word_ops = true;    // the *W instructions
  bool loads_stores = true;
  bool control_flow = true;  // branches, loops, jal, jalr
  bool upper_imm = true;     // lui, auipc
};

struct GeneratedProgram {
  uint64_t seed = 0, index = 0;
  unsigned base_reg = 0;  // holds the data region's address throughout
  std::string text;       // for .text: ends with the record's ecall write
  std::string data;       // for .data: the data region and the dump area
  // Offsets into `text`: where the body starts, where each top-level body item ends, where the
  // dump starts. Every item is self-contained (its labels are its own), so any prefix of the
  // items is a valid program; that is what lets a failure be narrowed to one item.
  size_t body_begin = 0, dump_begin = 0;
  std::vector<size_t> item_ends;
  // Per body item: code that batch_source places in a section of its own, far from every
  // program, so that jal there and back uses the high offset bits. Mostly empty.
  std::vector<std::string> far_text;

  size_t items() const { return item_ends.size(); }
  // The same program with only its first `n` body items.
  GeneratedProgram prefix(size_t n) const;
  // The text of body item `i`.
  std::string item_text(size_t i) const;
};

// A small deterministic random source: the reductions are ours, not the standard library's.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t bits() { return engine_(); }
  // Modulo bias is at most 2^-50 for the ranges used here and is the same on every platform.
  uint64_t below(uint64_t n) { return engine_() % n; }
  int64_t range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }
  bool percent(unsigned p) { return below(100) < p; }
  template <class T, size_t N>
  const T& pick(const T (&items)[N]) { return items[below(N)]; }

 private:
  std::mt19937_64 engine_;
};

uint64_t program_seed(uint64_t seed, uint64_t index);

GeneratedProgram generate_program(uint64_t seed, uint64_t index,
                                  const GeneratorOptions& options = {});

// A complete assembly file: the programs in order, then a final newline record and exit(0),
// then the programs' far code in section .text.far.
std::string batch_source(const std::vector<GeneratedProgram>& programs);

// Places .text at 0x10000 (low enough for a node's SRAM, high enough for qemu-user), the far
// code at 0xA0000 and .data on the page after it; a batch's .text must fit below 0xA0000.
std::string linker_script();

// "x10 (a0)".
std::string register_name(unsigned r);

}  // namespace dojosim::difftest
