// SPDX-License-Identifier: MIT
// Runs generated programs on qemu-riscv64 and on a dojosim node and compares what they print.
// Nothing here uses Catch2: every step returns a message instead of failing, so the test cases
// decide what is fatal, and the self-check can feed the comparator doctored output.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rv64_generator.h"

namespace dojosim::difftest {

struct Tools {
  std::string as, ld, qemu;
  // Empty if all are present; otherwise which ones are missing and how to get them.
  std::string missing() const;
};
// The paths CMake found, each overridable by DOJOSIM_RISCV_AS, DOJOSIM_RISCV_LD, DOJOSIM_QEMU.
Tools configured_tools();

struct ProcessResult {
  bool started = false;
  int exit_code = -1;  // 128 + n if killed by signal n
  std::string out, err;
};
// Runs argv[0] (looked up in PATH) with no shell and collects both streams.
ProcessResult run_process(const std::vector<std::string>& argv);

// The node prints every line of a thread's output after a "[x,y tN] " prefix. Undoes that for
// a single thread's output; false with `error` set if a line lacks the prefix.
bool strip_line_prefixes(const std::string& text, const std::string& prefix, std::string& bytes,
                         std::string& error);

struct Mismatch {
  uint64_t program = 0;
  std::string where;  // "x10 (a0)", "data+0x1f8" or "record marker"
  uint64_t expected = 0, actual = 0;
};
struct Comparison {
  std::vector<Mismatch> mismatches;
  std::string error;  // a structural problem: missing output, wrong length
  bool ok() const { return mismatches.empty() && error.empty(); }
  std::string describe() const;
};
// Compares the byte streams of `count` programs starting at `first_index` (each a record of
// kRecordBytes, the whole ended by one newline), word by word.
Comparison compare_records(const std::string& expected, const std::string& actual,
                           uint64_t first_index, size_t count);

// Builds `name`.elf from `source` in `dir` (which holds link.ld); returns its path or throws
// std::runtime_error with the assembler's or linker's complaint.
std::string build_elf(const Tools& tools, const std::string& dir, const std::string& name,
                      const std::string& source);

struct RunOutput {
  std::string bytes;  // stdout, with the node's line prefixes already removed
  std::string error;  // why the run did not end with exit(0)
  uint64_t instructions = 0;
};
RunOutput run_qemu(const Tools& tools, const std::string& elf);
// `limit` bounds instructions (timing off) or cycles (on), so that a runaway program ends.
RunOutput run_node(const std::string& elf, bool timing, uint64_t limit);

// Runs `program` alone, then on ever shorter prefixes of its body, to find the first body item
// after which dojosim and qemu disagree; returns that item's source and the differences.
std::string narrow_down(const Tools& tools, const std::string& dir,
                        const GeneratedProgram& program, bool timing);

struct RunConfig {
  uint64_t seed = 0;
  uint64_t first = 0;
  uint64_t programs = 0;
  unsigned batch = 100;
  unsigned jobs = 2;
  unsigned timing_every = 4;  // also run every n-th batch with the timing model on (0: never)
  bool keep_files = false;    // keep every batch's .s/.o/.elf, not only failing programs
  GeneratorOptions generator;
};
// The defaults, overridden by DOJOSIM_DIFF_SEED, _FIRST, _PROGRAMS, _BATCH, _JOBS, _TIMING_EVERY,
// _KEEP;
// throws std::runtime_error for a value that does not parse.
RunConfig run_config_from_env(uint64_t default_seed, uint64_t default_programs);

struct RunReport {
  std::vector<std::string> failures;  // complete messages, with reproduction instructions
  uint64_t programs = 0, batches = 0, timing_batches = 0;
  uint64_t node_instructions = 0;
};
// Generates, builds and runs all programs of `config` in `work_dir`, `config.jobs` batches at a
// time. A failing program's source is left in `work_dir` as a one-program file.
RunReport run_differential(const Tools& tools, const std::string& work_dir,
                           const RunConfig& config);

// Writes the program as a complete one-program source file with instructions to rebuild and run
// it; returns its path.
std::string write_reproducer(const std::string& dir, const GeneratedProgram& program,
                             const std::string& failure);

// Creates `dir` and its parents, writes link.ld into it; throws std::runtime_error on failure.
void prepare_work_dir(const std::string& dir);

}  // namespace dojosim::difftest
