// SPDX-License-Identifier: MIT
// bench_interp: how many simulated instructions per host second the interpreter runs, beside
// qemu-riscv64 running the very same ELF on the same machine in the same run (bench/README.md).
// usage: bench_interp [--reps N] [--only TEXT]   (--only: just the rows whose key contains TEXT,
// e.g. to profile one of them)
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "isa/assembler.h"
#include "isa/elf_loader.h"
#include "isa/lanes.h"
#include "isa/node_runner.h"

extern char** environ;

namespace {

using namespace dojosim::isa;
using Clock = std::chrono::steady_clock;

const std::string kPrograms = DOJOSIM_BENCH_PROGRAMS;
const std::string kElfDir = DOJOSIM_BENCH_ELF_DIR;  // empty: no GNU tools at build time
const std::string kQemu = DOJOSIM_BENCH_QEMU;       // empty: qemu not found at build time

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One row of the table: the best (shortest) of the repetitions.
struct Figure {
  Figure(std::string k, std::string w, std::string e, std::string t)
      : key(std::move(k)), workload(std::move(w)), engine(std::move(e)), timing(std::move(t)) {}

  std::string key;  // name in the JSON line
  std::string workload, engine, timing;
  uint64_t instructions = 0;
  uint64_t cycles = 0;  // simulated, timing on only
  double seconds = -1;  // < 0: not measured
  std::string problem;  // why the figure is missing or suspect
  std::optional<int64_t> exit_code;

  bool ok() const { return seconds > 0 && instructions > 0; }
  double mips() const { return ok() ? static_cast<double>(instructions) / seconds / 1e6 : 0; }
};

Figure run_ours(const std::string& key, const std::string& workload, const std::string& engine,
                const Program& program, bool timing, int reps) {
  Figure f{key, workload, engine, timing ? "on" : "off"};
  for (int rep = 0; rep < reps; ++rep) {
    CoreConfig config;
    config.timing = timing;
    NodeRunner runner(config);  // a fresh node each time: SRAM and decoded pages start cold
    runner.load(program);
    NodeRunOptions options;  // what `dojosim exec` runs with: one thread, its default quantum
    const auto start = Clock::now();
    const NodeRunResult r = runner.run(options);
    const double s = seconds_since(start);
    if (r.outcome != RunOutcome::Exited) {
      f.problem = "did not exit: " + r.message;
      f.seconds = -1;
      return f;
    }
    f.instructions = r.instructions;
    f.cycles = timing ? r.cycles : 0;
    f.exit_code = r.threads.at(0).exit_code;
    if (f.seconds < 0 || s < f.seconds) f.seconds = s;
  }
  return f;
}

// Wall time of one run of `qemu elf`, its exit code in `exit_code`; < 0 if it could not run.
double time_qemu(const std::string& elf, int& exit_code, std::string& problem) {
  std::vector<char*> argv = {const_cast<char*>(kQemu.c_str()), const_cast<char*>(elf.c_str()),
                             nullptr};
  pid_t pid = 0;
  const auto start = Clock::now();
  if (const int err = posix_spawn(&pid, kQemu.c_str(), nullptr, nullptr, argv.data(), environ)) {
    problem = fmt::format("cannot start {}: {}", kQemu, std::strerror(err));
    return -1;
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) {
    problem = fmt::format("waitpid on {} failed", kQemu);
    return -1;
  }
  const double s = seconds_since(start);
  if (!WIFEXITED(status)) {
    problem = fmt::format("{} {} was killed by signal {}", kQemu, elf, WTERMSIG(status));
    return -1;
  }
  exit_code = WEXITSTATUS(status);
  return s;
}

double best_qemu(const std::string& elf, int reps, int& exit_code, std::string& problem) {
  double best = -1;
  for (int rep = 0; rep < reps; ++rep) {
    const double s = time_qemu(elf, exit_code, problem);
    if (s < 0) return -1;
    if (best < 0 || s < best) best = s;
  }
  return best;
}

std::optional<Program> assemble_program(const std::string& name, std::string& problem) {
  const std::string path = kPrograms + "/" + name;
  try {
    return assemble_file(path);
  } catch (const AsmError& e) {
    problem = e.what();
  }
  return std::nullopt;
}

std::string json_number(const Figure& f) {
  return f.ok() ? fmt::format("{:.1f}", f.mips()) : "null";
}

// The reference: one ELF built by GNU as/ld (bench/CMakeLists.txt), run by us and by qemu.
struct Reference {
  Figure ours{"scalar_elf_timing_off", "scalar_loop", "dojosim (GNU elf)", "off"};
  Figure qemu{"scalar_elf_qemu", "scalar_loop", "qemu-riscv64 (GNU elf)", "-"};
  double qemu_startup = -1;
};

Reference measure_reference(int reps, bool with_qemu) {
  Reference ref;
  if (kElfDir.empty()) {
    ref.ours.problem = ref.qemu.problem = "riscv64-unknown-elf-as/ld were not found at build time";
    return ref;
  }
  const std::string elf = kElfDir + "/scalar_loop.elf";
  try {
    ref.ours =
        run_ours(ref.ours.key, ref.ours.workload, ref.ours.engine, load_elf(elf), false, reps);
  } catch (const LoadError& e) {
    ref.ours.problem = e.what();
  }
  if (!with_qemu) return ref;
  if (kQemu.empty()) {
    ref.qemu.problem = "qemu-riscv64-static was not found at build time";
    return ref;
  }
  // A qemu run is ~20 ms, where scheduling noise is large: more repetitions cost little.
  const int qemu_reps = std::max(reps, 10);
  int code = -1, startup_code = -1;
  const double total = best_qemu(elf, qemu_reps, code, ref.qemu.problem);
  ref.qemu_startup =
      best_qemu(kElfDir + "/exit_only.elf", qemu_reps, startup_code, ref.qemu.problem);
  if (total < 0 || ref.qemu_startup < 0) return ref;
  // qemu's start-up (a few ms) is a visible part of its run; our runs exclude loading, so the
  // reference does too.
  ref.qemu.seconds = total - ref.qemu_startup;
  ref.qemu.exit_code = code;
  ref.qemu.instructions = ref.ours.instructions;  // qemu counts nothing; the ELF is the same
  if (ref.qemu.seconds <= 0) ref.qemu.problem = "the run was not longer than qemu's start-up";
  if (!ref.ours.ok()) ref.qemu.problem = "no instruction count: our run of the ELF failed";
  return ref;
}

void print_table(const std::vector<Figure>& figures, int reps) {
  fmt::print(
      "interpreter speed, best of {} run{} (MIPS: millions of simulated instructions per "
      "host second); vector and matrix lanes on host SIMD: {}\n\n",
      reps, reps == 1 ? "" : "s", lanes::simd_target_name());
  fmt::print("{:<12} {:<24} {:<6} {:>13} {:>13} {:>9} {:>9}\n", "workload", "engine", "timing",
             "instructions", "sim cycles", "seconds", "MIPS");
  for (const Figure& f : figures) {
    if (f.ok())
      fmt::print("{:<12} {:<24} {:<6} {:>13} {:>13} {:>9.4f} {:>9.1f}\n", f.workload, f.engine,
                 f.timing, f.instructions, f.cycles ? fmt::format("{}", f.cycles) : "-", f.seconds,
                 f.mips());
    else
      fmt::print("{:<12} {:<24} {:<6} {:>13} {:>13} {:>9} {:>9}\n", f.workload, f.engine, f.timing,
                 "-", "-", "-", "n/a");
  }
  fmt::print("\n");
}

const Figure* find(const std::vector<Figure>& figures, const std::string& key) {
  for (const Figure& f : figures)
    if (f.key == key) return &f;
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 3;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else {
      fmt::print(stderr, "usage: bench_interp [--reps N] [--only TEXT]\n");
      return 2;
    }
  }
  auto wanted = [&](const std::string& key) { return key.find(only) != std::string::npos; };
#ifndef NDEBUG
  fmt::print("warning: assertions are on (not a Release build); figures are not representative\n");
#endif

  std::vector<Figure> figures;
  for (const char* workload : {"scalar_loop", "mma_loop"}) {
    std::string problem;
    const std::optional<Program> program = assemble_program(std::string(workload) + ".s", problem);
    for (bool timing : {false, true}) {
      const std::string key = fmt::format("{}_timing_{}", workload, timing ? "on" : "off");
      if (!wanted(key)) continue;
      if (program)
        figures.push_back(run_ours(key, workload, "dojosim (our asm)", *program, timing, reps));
      else
        figures.emplace_back(key, workload, "dojosim (our asm)", timing ? "on" : "off").problem =
            "assembler: " + problem;
    }
  }
  Reference ref;
  const bool with_qemu = wanted(ref.qemu.key);
  if (with_qemu || wanted(ref.ours.key)) {  // the qemu row needs our instruction count
    ref = measure_reference(reps, with_qemu);
    figures.push_back(ref.ours);
    if (with_qemu) figures.push_back(ref.qemu);
  }

  print_table(figures, reps);
  // Cross-checks: the figures compare like with like only if the runs did the same work.
  const Figure* scalar_asm = find(figures, "scalar_loop_timing_off");
  const Figure* elf = find(figures, ref.ours.key);
  const Figure* qemu = find(figures, ref.qemu.key);
  if (scalar_asm && elf && scalar_asm->ok() && elf->ok() &&
      scalar_asm->instructions != elf->instructions)
    fmt::print(
        "note: our assembler's scalar_loop ran {} instructions, GNU as's {} (pseudo-"
        "instruction expansions differ)\n",
        scalar_asm->instructions, elf->instructions);
  std::optional<double> ratio;
  if (elf && qemu && elf->ok() && qemu->ok()) {
    if (elf->exit_code != qemu->exit_code)
      fmt::print(
          "WARNING: exit codes differ (dojosim {}, qemu {}): the runs computed different "
          "results\n",
          *elf->exit_code, *qemu->exit_code);
    fmt::print("qemu start-up (subtracted): {:.1f} ms\n", ref.qemu_startup * 1e3);
    ratio = elf->mips() / qemu->mips();
    fmt::print("ratio dojosim/qemu (scalar_loop, same ELF, timing off): {:.3f}\n", *ratio);
  }
  for (const Figure& f : figures)
    if (!f.problem.empty())
      fmt::print("{} ({}, timing {}): {}\n", f.workload, f.engine, f.timing, f.problem);

  std::string json = fmt::format("{{\"bench\":\"interp\",\"reps\":{}", reps);
  for (const Figure& f : figures)
    json += fmt::format(",\"{}_mips\":{},\"{}_instructions\":{}", f.key, json_number(f), f.key,
                        f.instructions);
  json += fmt::format(",\"ratio_ours_qemu\":{}}}", ratio ? fmt::format("{:.3f}", *ratio) : "null");
  fmt::print("{}\n", json);
  return 0;
}
