// SPDX-License-Identifier: MIT
// Host memory of a run: what the host allows (the address-space limit, RLIMIT_AS, and the
// kernel's MemAvailable), a run refused before it allocates when its estimate
// (hw::host_bytes_estimate) exceeds that, and out-of-memory at any later point as one line and
// its own exit status (kOutOfMemory), never a SystemC exception dump.
#pragma once

#include <cstdint>
#include <string>

namespace dojosim::cli {

struct HostMemoryLimit {
  uint64_t bytes = UINT64_MAX;  // what this process may still allocate: the tighter of the two
  std::string what;             // "RLIMIT_AS 4.00 GB (3.98 GB left), MemAvailable 12.3 GB"
};
HostMemoryLimit host_memory_limit();

// "" if a run needing `need` bytes fits the host, else one line: "this run needs about X of host
// memory (WHAT); the limit is Y (LIMITS)".
std::string host_memory_problem(uint64_t need, const std::string& what);

// Makes a failed allocation anywhere (inside SystemC processes too, which would otherwise wrap
// std::bad_alloc in their own report) print one line naming the limits and end the process with
// kOutOfMemory. Called once, first thing in sc_main.
void exit_on_out_of_memory();

std::string bytes_text(double bytes);  // "4.00 GB"

}  // namespace dojosim::cli
