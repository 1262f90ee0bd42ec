// SPDX-License-Identifier: MIT
// Runs one node's threads on the interpreter, without the hardware model: the engine of
// `dojosim exec` and of the ISA tests. It owns the node's SRAM and semaphores, schedules the
// threads in quanta of cycles (timing on) or instructions (timing off), delivers pushes to its
// own SRAM at once (there is no NoC here; pushes to other nodes are an error), treats every
// started thread as a member of every barrier group, prints what threads write, and detects
// deadlock: every live thread waiting and nothing left that could wake one.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

#include "isa/interpreter.h"
#include "isa/program.h"

namespace dojosim::isa {

// A program that cannot be placed: names the segment and the range that was expected.
class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NodeRunOptions {
  unsigned threads = 1;                 // threads started at the entry point
  uint64_t stack_bytes = 16 * 1024;     // per thread, at the top of SRAM, thread 0 highest
  uint64_t quantum = 1000;              // cycles (timing on) or instructions (off) per turn
  uint64_t max_cycles = 10'000'000'000; // a run still going after this is stopped
  std::ostream* out = nullptr;          // where ecall write to fd 1 goes (nullptr: discard)
  std::ostream* err = nullptr;          // fd 2
};

// NeedsValues: a ValueUnknown trap of timing-only mode (CoreConfig::values false).
enum class RunOutcome : uint8_t { Exited, Trapped, Deadlock, CycleLimit, NeedsValues };

struct ThreadResult {
  unsigned id = 0;
  ThreadStatus status = ThreadStatus::Idle;
  int64_t exit_code = 0;
  uint64_t instructions = 0;
  uint64_t cycles = 0;
};

struct NodeRunResult {
  RunOutcome outcome = RunOutcome::Exited;
  std::string message;  // for traps, deadlock and the cycle limit: what happened, to whom
  std::vector<ThreadResult> threads;
  uint64_t instructions = 0;
  uint64_t cycles = 0;  // the slowest thread's
};

class NodeRunner {
 public:
  explicit NodeRunner(const CoreConfig& config);

  // Copies the program's segments into SRAM; throws LoadError if one does not fit.
  void load(const Program& program);
  NodeRunResult run(const NodeRunOptions& options);

  Sram& sram() { return sram_; }
  Core& core() { return core_; }
  uint64_t semaphore(unsigned i) const { return semaphores_.at(i); }

 private:
  struct Waiting {
    enum Kind : uint8_t { None, Semaphore, Barrier } kind = None;
    uint64_t id = 0, count = 0;
  };
  void deliver_output(unsigned thread, uint64_t fd, uint64_t buf, uint64_t len,
                      const NodeRunOptions& options);
  void flush_output(const NodeRunOptions& options);
  std::string deadlock_report() const;

  CoreConfig config_;
  Sram sram_;
  std::vector<uint64_t> semaphores_;
  Core core_;
  uint64_t entry_ = 0, program_end_ = 0;
  std::vector<Waiting> waiting_;
  std::vector<std::string> pending_[2];  // per fd, per thread: text not yet ended by a newline
};

}  // namespace dojosim::isa
