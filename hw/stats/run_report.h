// SPDX-License-Identifier: MIT
// The run report: the few figures every report of a run prints (cycles, FLOP, FLOP/s against the
// peak, where the threads' cycles went, traffic, energy), computed in ONE place from the
// statistics tree (stats.h). `dojosim run` prints it and writes it as the "report" of its JSON,
// the runtime fills MeshMatmulResult from it, the tests check it; nothing else sums FLOP or
// splits time (docs/outputs.md, "The run report").
//
// Contract: run_report() reads only the tree; the time split's buckets (issue, one per stall
// cause, other/drain) sum to thread_cycles exactly, for any scope.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "hw/config/derived.h"
#include "hw/config/hardware_config.h"
#include "hw/stats/stats.h"
#include "isa/timing.h"

namespace dojosim::hw {

// The buckets of the time split: issue, then each isa::StallCause in enum order, then the
// drain after a thread's last issue ("other_drain").
constexpr int kSplitBuckets = isa::kStallCauseCount + 2;
constexpr int kSplitIssue = 0, kSplitDrain = kSplitBuckets - 1;
constexpr int split_bucket(isa::StallCause c) { return 1 + static_cast<int>(c); }
std::string_view split_bucket_name(int bucket);  // "issue", "dependency", ..., "other_drain"

// Which threads the time split covers, and what the FLOP figures count.
struct ReportScope {
  Precision precision = Precision::Bf16;  // of the peak
  std::vector<Coord> nodes;               // empty: every node
  int thread = -1;                        // -1: every thread; else only thread `thread`
  double work_flop = 0;  // > 0: the algorithm's FLOP (no padding) for flop and flop_per_s
};

struct RunReport {
  uint64_t cycles = 0;  // the run's end (Machine::cycles())
  double seconds = 0;   // cycles / clock
  uint64_t instructions = 0;
  double matrix_flop = 0;  // executed by the matrix unit: flop_bf16 + flop_cfp8 of the tree
  double flop = 0;         // scope.work_flop if given, else matrix_flop
  double flop_per_s = 0, peak_flop_per_s = 0, utilisation_pct = 0;
  // Cycles of the threads in scope, by bucket; the buckets sum to thread_cycles.
  uint64_t thread_cycles = 0;
  std::array<uint64_t, kSplitBuckets> split{};
  uint64_t mesh_link_bytes = 0, die_edge_link_bytes = 0, host_bytes = 0;
  double energy_j = 0, power_w = 0;  // the whole machine's
  // false: rebuilt from a runtime result (runtime::MeshMatmulResult), which keeps only the
  // split's groups (compute in the issue bucket) and no instructions or energy: to_json()
  // leaves out what is not known rather than writing zeros.
  bool from_tree = true;

  double pct(int bucket) const {
    return thread_cycles ? 100.0 * double(split[bucket]) / double(thread_cycles) : 0.0;
  }
  // The coarse groups of the split that workload reports print: compute (issue and the core's
  // own stalls: dependency, SRAM port, unit busy), waiting for data (semaphore), synchronisation
  // (barrier), DMA queue, other (drain).
  uint64_t compute_cycles() const;
  uint64_t wait_data_cycles() const { return split[split_bucket(isa::StallCause::Semaphore)]; }
  uint64_t sync_cycles() const { return split[split_bucket(isa::StallCause::Barrier)]; }
  uint64_t dma_queue_cycles() const { return split[split_bucket(isa::StallCause::DmaQueue)]; }
  uint64_t other_cycles() const { return split[kSplitDrain]; }
};

// The report of the machine statistics `machine` (collect_stats) of a run of `config`.
RunReport run_report(const StatsNode& machine, const HardwareConfig& config,
                     const ReportScope& scope = {});

// The names every run's JSON "report" shares, program or workload (docs/outputs.md): cycles,
// seconds, instructions, flop, flop_per_s, peak_flop_per_s, utilisation_pct, thread_cycles,
// compute_pct, wait_data_pct, sync_pct, dma_queue_pct, other_pct, split_pct {bucket: %},
// mesh_link_bytes, die_edge_link_bytes, host_bytes, energy_j, power_w.
nlohmann::ordered_json to_json(const RunReport& r);
// The top-level names of that schema, for sweeps that check a metric name.
const std::vector<std::string>& report_names();

}  // namespace dojosim::hw
