// SPDX-License-Identifier: MIT
// Test helpers: assemble a snippet, run it on one node, look at registers and memory.
#pragma once

#include <memory>
#include <sstream>
#include <string>

#include "isa/assembler.h"
#include "isa/node_runner.h"

namespace dojosim::test {

struct NodeRun {
  std::unique_ptr<isa::NodeRunner> node;
  isa::NodeRunResult result;
  std::string out, err;

  const isa::ThreadState& thread(unsigned i = 0) const { return node->core().thread(i); }
  uint64_t x(unsigned r, unsigned thread_id = 0) const { return thread(thread_id).x[r]; }
  // Register by ABI name, e.g. x("a0").
  uint64_t x(const char* abi, unsigned thread_id = 0) const {
    for (unsigned r = 0; r < 32; ++r)
      if (isa::xreg_abi_name(r) == abi) return x(r, thread_id);
    throw std::invalid_argument(abi);
  }
  template <class T>
  T mem(uint64_t addr) const {
    T v;
    node->sram().read(addr, &v, sizeof v);
    return v;
  }
  uint64_t symbol(const std::string& name) const { return symbols.at(name); }
  std::map<std::string, uint64_t> symbols;
};

// Assembles `source` (which must end its threads with ecall 93) and runs it.
inline NodeRun run_asm(const std::string& source, isa::CoreConfig config = {},
                       isa::NodeRunOptions options = {}) {
  NodeRun run;
  const isa::Program program = isa::assemble(source, "test.s");
  run.symbols = program.symbols;
  run.node = std::make_unique<isa::NodeRunner>(config);
  run.node->load(program);
  std::ostringstream out, err;
  options.out = &out;
  options.err = &err;
  run.result = run.node->run(options);
  run.out = out.str();
  run.err = err.str();
  return run;
}

// Ends thread 0 with exit(a0 unchanged is not needed): switches back to .text so that it may
// follow a snippet's .data.
inline const char* kExit = "\n .text\n li a7, 93\n ecall\n";

}  // namespace dojosim::test
