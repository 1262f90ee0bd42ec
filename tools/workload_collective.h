// SPDX-License-Identifier: MIT
// `dojosim run --workload allreduce:bytes=64MiB,dtype=bf16,algo=auto,group=all` (and
// reduce_scatter, all_gather, broadcast): a collective from runtime/collectives with its
// nccl-tests style report (docs/collectives.md).
#pragma once

#include <string>

#include "hw/config/config_io.h"

namespace dojosim::cli {

// Whether the workload text names a collective ("allreduce:...").
bool is_collective_workload(const std::string& text);

// Parses, plans (every check before the simulation: std::invalid_argument naming the key),
// runs and reports; returns the exit status (docs/cli.md). A non-empty `trace_path` gets the
// run's timeline (--trace), at most `trace_limit` events.
int run_collective_workload(const std::string& text, const hw::LoadedConfig& loaded,
                            const std::string& config_path, const std::string& json_path,
                            const std::string& trace_path = "", uint64_t trace_limit = 0);

}  // namespace dojosim::cli
