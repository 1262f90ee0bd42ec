// SPDX-License-Identifier: MIT
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <systemc>
#include <vector>

#include "hw/machine/ranks.h"
#include "isa/lanes.h"
#include "tools/commands.h"
#include "tools/host_memory.h"
#include "tools/mpi_ranks.h"

namespace {

// Our output is the simulator's report; SystemC prints its banner before sc_main runs, so the
// variable that silences it is set during static initialisation.
const bool kQuietSystemC = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0) == 0;

struct Verb {
  const char* name;
  int (*run)(const std::vector<std::string>&);
  const char* summary;
};

constexpr Verb kVerbs[] = {
    {"run", dojosim::cli::cmd_run, "run a program on every node of a die or tile (SystemC model)"},
    {"exec", dojosim::cli::cmd_exec, "run a program (assembly or RISC-V ELF) on one node"},
    {"asm", dojosim::cli::cmd_asm, "assemble a file and print its listing or write a binary"},
    {"disasm", dojosim::cli::cmd_disasm, "disassemble an ELF or a flat binary"},
    {"doc", dojosim::cli::cmd_doc, "print generated reference tables (dojosim doc isa)"},
    {"config", dojosim::cli::cmd_config, "show the effective hardware config and derived figures"},
    {"sweep", dojosim::cli::cmd_sweep,
     "run configs x workloads in parallel into a CSV/JSON table (and merge shards)"},
};

void usage() {
  fmt::print("usage: dojosim <verb> [options]   (dojosim <verb> --help for a verb's options)\n\n");
  for (const Verb& v : kVerbs) fmt::print("  {:<8} {}\n", v.name, v.summary);
  fmt::print("\nexit status: 0 ok, 1 program exited non-zero, 2 usage or input error, 3 trap, "
             "4 deadlock, cycle or time limit, 5 out of host memory, 6 simulator error\n");
}

}  // namespace

// libsystemc owns main() and calls sc_main(): the hardware model elaborates in this process.
extern "C" int sc_main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? dojosim::cli::kUsage : dojosim::cli::kOk;
  }
  // Under mpirun or srun, one run over several processes (docs/parallel.md, "MPI ranks").
  const dojosim::cli::MpiRanks mpi(&argc, &argv);
  mpi.quiet_other_ranks();
  if (dojosim::hw::ranks().size() > 1 && std::strcmp(argv[1], "run") != 0) {
    fmt::print(stderr, "dojosim {}: MPI ranks run `dojosim run`; run '{}' as one process\n",
               argv[1], argv[1]);
    return dojosim::cli::kUsage;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  dojosim::cli::exit_on_out_of_memory();
  try {
    dojosim::isa::lanes::simd_target_name();  // a bad DOJOSIM_SIMD is an input error
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "dojosim: {}\n", e.what());
    return dojosim::cli::kUsage;
  }
  for (const Verb& v : kVerbs) {
    if (v.name != std::string_view(argv[1])) continue;
    // What escapes a verb is one line and a status, never SystemC's report dump. (Exceptions
    // thrown inside SystemC processes reach here as an sc_report that wraps them.)
    try {
      return v.run(args);
    } catch (const std::bad_alloc&) {
      fmt::print(stderr, "dojosim {}: out of host memory ({})\n", v.name,
                 dojosim::cli::host_memory_limit().what);
      return dojosim::cli::kOutOfMemory;
    } catch (const sc_core::sc_report& e) {
      const std::string_view what = e.what();
      fmt::print(stderr, "dojosim {}: simulator error: {}\n", v.name,
                 what.substr(0, what.find('\n')));
    } catch (const std::exception& e) {
      fmt::print(stderr, "dojosim {}: internal error: {}\n", v.name, e.what());
    }
    return dojosim::cli::kSimulatorError;
  }
  fmt::print(stderr,
             "dojosim: unknown verb '{}'; verbs are: run, exec, asm, disasm, doc, config, sweep "
             "(see dojosim --help)\n",
             argv[1]);
  return dojosim::cli::kUsage;
}
