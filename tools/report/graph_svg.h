// SPDX-License-Identifier: MIT
// The picture of a graph run (`dojosim run --workload FILE.graph.yaml --svg DIR`): where the
// machine's time went, op by op, in the order the ops ran.
#pragma once

#include <string>

#include "hw/config/hardware_config.h"
#include "runtime/graph/run/run.h"
#include "tools/plot/svg.h"

namespace dojosim::report {

// One row per op, in run order, on a common time axis (cycles from the run's start): a bar
// <rect class="moves"> for the cycles its loads, redistributions, conversions and spills took,
// then <rect class="kernel"> for its kernels' (the run does them one after another), and a tick
// <line class="plan"> at the plan's estimate of the op; data-title gives each op's figures.
plot::Document op_timeline(const runtime::graph_run::GraphRun& run,
                           const hw::HardwareConfig& config);

// Writes op_timeline() as ops.svg in `dir` (created if missing); throws std::runtime_error
// naming a path that cannot be written.
void write_graph_svgs(const std::string& dir, const runtime::graph_run::GraphRun& run,
                      const hw::HardwareConfig& config);

}  // namespace dojosim::report
