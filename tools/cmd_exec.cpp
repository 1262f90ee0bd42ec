// SPDX-License-Identifier: MIT
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "isa/assembler.h"
#include "isa/elf_loader.h"
#include "isa/node_runner.h"
#include "tools/commands.h"
#include "tools/options.h"

namespace dojosim::cli {

namespace po = boost::program_options;

int cmd_exec(const std::vector<std::string>& args) {
  po::options_description opts(
      "dojosim exec PROGRAM [options]\n"
      "Runs PROGRAM (assembly source, or a RISC-V ELF built with -march=rv64im) on one node\n"
      "and prints each thread's exit code, instructions and cycles.\n\n"
      "examples:\n"
      "  dojosim exec kernels/asm/dot.s\n"
      "  dojosim exec --threads 4 --stats build/kernels/vector_dot.elf\n\n"
      "options");
  std::string program, timing = "on", values = "on";
  isa::NodeRunOptions run;
  bool stats = false;
  opts.add_options()("help,h", "show this help")(
      "threads,t", po::value<unsigned>(&run.threads)->default_value(1), "threads to start (1..4)")(
      "timing", po::value<std::string>(&timing)->default_value("on"),
      "on: cycle-approximate timing; off: functional only (cycles = instructions)")(
      "values", po::value<std::string>(&values)->default_value("on"),
      "on: compute every value; off: timing only, vector and matrix arithmetic skipped, same "
      "cycles (docs/timing.md)")(
      "max-cycles", po::value<uint64_t>(&run.max_cycles)->default_value(run.max_cycles),
      "stop a run still going after this many cycles")(
      "quantum", po::value<uint64_t>(&run.quantum)->default_value(run.quantum),
      "cycles a thread runs ahead before the others catch up")(
      "stats", po::bool_switch(&stats), "print stall cycles by cause and instructions by class")(
      "program", po::value<std::string>(&program), "assembly (.s) or ELF file");
  po::positional_options_description pos;
  pos.add("program", 1);

  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "exec")) return kUsage;
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kOk;
  }
  if (program.empty()) return usage_error("exec", "missing PROGRAM (an assembly or ELF file)");
  if (timing != "on" && timing != "off")
    return usage_error("exec", fmt::format("--timing '{}': expected on or off", timing));
  if (values != "on" && values != "off")
    return usage_error("exec", fmt::format("--values '{}': expected on or off", values));
  if (run.quantum == 0) return usage_error("exec", "--quantum 0: expected at least 1");

  isa::CoreConfig config;
  config.timing = timing == "on";
  config.values = values == "on";
  try {
    const isa::Program image =
        isa::is_elf_file(program) ? isa::load_elf(program) : isa::assemble_file(program);
    isa::NodeRunner node(config);
    node.load(image);
    run.out = &std::cout;
    run.err = &std::cerr;
    const isa::NodeRunResult r = node.run(run);

    fmt::print("dojosim exec: {} on node (0,0), {} thread{}, timing {}{}\n", program, run.threads,
               run.threads == 1 ? "" : "s", timing, config.values ? "" : ", values off");
    fmt::print("{:>6}  {:<8} {:>5} {:>14} {:>14} {:>6}\n", "thread", "status", "exit",
               "instructions", "cycles", "IPC");
    static constexpr const char* kStatus[] = {"idle", "running", "waiting", "exited", "trapped"};
    std::string nonzero;  // the threads that exited non-zero, for stderr
    for (const auto& t : r.threads) {
      const double ipc = t.cycles ? double(t.instructions) / double(t.cycles) : 0.0;
      // Only an exited thread has an exit code; a trapped one's is in the report below.
      const bool exited = t.status == isa::ThreadStatus::Exited;
      fmt::print("{:>6}  {:<8} {:>5} {:>14} {:>14} {:>6.2f}\n", t.id,
                 kStatus[static_cast<int>(t.status)], exited ? std::to_string(t.exit_code) : "-",
                 t.instructions, t.cycles, ipc);
      if (exited && t.exit_code != 0)
        nonzero += fmt::format("{}thread {} exited with code {}", nonzero.empty() ? "" : "; ", t.id,
                               t.exit_code);
    }
    fmt::print("total: {} instructions in {} cycles ({:.3f} us at {:.1f} GHz)\n", r.instructions,
               r.cycles, double(r.cycles) / (config.clock_ghz * 1e3), config.clock_ghz);
    if (stats && config.timing) {
      for (const auto& t : r.threads) {
        const isa::ThreadState& ts = node.core().thread(t.id);
        fmt::print("thread {}: issue cycles {}", t.id, ts.issue_cycles);
        for (int c = 0; c < isa::kStallCauseCount; ++c)
          fmt::print(", {} {}", isa::stall_cause_name(static_cast<isa::StallCause>(c)),
                     ts.stalls[c]);
        fmt::print("\n  instructions by class:");
        for (size_t c = 0; c < ts.class_counts.size(); ++c)
          if (ts.class_counts[c])
            fmt::print(" {} {}", isa::timing_class_name(static_cast<isa::TimingClass>(c)),
                       ts.class_counts[c]);
        fmt::print("\n");
      }
    }
    switch (r.outcome) {
      case isa::RunOutcome::Exited:
        if (nonzero.empty()) return kOk;
        fmt::print(stderr, "dojosim exec: {}\n", nonzero);
        return kProgramFailed;
      case isa::RunOutcome::Trapped:
        fmt::print(stderr, "dojosim exec: {}\n", r.message);
        return kTrapped;
      case isa::RunOutcome::NeedsValues:
        fmt::print(stderr, "dojosim exec: {}\n", r.message);
        return kNeedsValues;
      case isa::RunOutcome::Deadlock:
      case isa::RunOutcome::CycleLimit:
        fmt::print(stderr, "dojosim exec: {}\n", r.message);
        return kHung;
    }
  } catch (const isa::AsmError& e) {
    fmt::print(stderr, "{}\n", e.what());
  } catch (const isa::LoadError& e) {
    fmt::print(stderr, "dojosim exec: {}\n", e.what());
  }
  return kUsage;
}

}  // namespace dojosim::cli
