// SPDX-License-Identifier: MIT
// Running a planned collective on a machine of its own (runtime/mesh/executor.h).
#include "hw/stats/run_report.h"
#include "hw/stats/stats.h"
#include "runtime/collectives/kernel.h"
#include "runtime/mesh/executor.h"

namespace dojosim::runtime::collectives {

CollectiveResult run_collective(const hw::HardwareConfig& config, const CollectivePlan& plan,
                                const Vectors& inputs, hw::TraceWriter* trace) {
  const CollectiveKernel& kernel = plan.kernel();
  Executor executor(config, kernel.threads(), kernel.stack_bytes());
  if (trace) executor.machine().set_trace(trace);
  kernel.place(executor.machine(), inputs);
  const Executor::Run run = executor.run(kernel);
  CollectiveResult r;
  r.ok = run.ok;
  r.outcome = run.outcome;
  r.ended = run.ended;
  r.cycles = run.cycles;
  r.seconds = double(run.cycles) / (config.node.core.clock_ghz * 1e9);
  if (run.ok && !inputs.empty()) r.out = kernel.read(executor.machine());
  hw::ReportScope scope;
  scope.nodes = plan.problem().group.members;
  const hw::RunReport report =
      hw::run_report(hw::collect_stats(executor.machine(), config), config, scope);
  r.mesh_link_bytes = report.mesh_link_bytes;
  r.die_edge_bytes = report.die_edge_link_bytes;
  for (int b = 0; b < hw::kSplitBuckets; ++b)
    if (report.split[b])
      r.time_split.push_back({std::string(hw::split_bucket_name(b)), report.pct(b)});
  return r;
}

}  // namespace dojosim::runtime::collectives
