// SPDX-License-Identifier: MIT
// The verbs of the dojosim command line. Each takes the arguments after the verb and returns
// the process exit status (see docs/cli.md).
#pragma once

#include <string>
#include <vector>

namespace dojosim::cli {

// Exit statuses, documented in docs/cli.md.
enum ExitStatus : int {
  kOk = 0,
  kProgramFailed = 1,   // the simulated program exited with a non-zero code
  kUsage = 2,           // bad flags, missing or malformed input files
  kTrapped = 3,         // a simulated thread trapped
  kHung = 4,            // deadlock, cycle limit or wall-clock limit
  kOutOfMemory = 5,     // the run needs more host memory than the host allows
  kSimulatorError = 6,  // the simulator itself failed (an internal error: please report it)
  kNeedsValues = 7,     // sim.values off, and control flow or an address needed a skipped value
};

int cmd_run(const std::vector<std::string>& args);
int cmd_exec(const std::vector<std::string>& args);
int cmd_asm(const std::vector<std::string>& args);
int cmd_disasm(const std::vector<std::string>& args);
int cmd_doc(const std::vector<std::string>& args);
int cmd_config(const std::vector<std::string>& args);
int cmd_sweep(const std::vector<std::string>& args);  // and `sweep merge`

}  // namespace dojosim::cli
