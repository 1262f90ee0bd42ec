// SPDX-License-Identifier: MIT
#include "runtime/mesh/report.h"

#include <string>

namespace dojosim::runtime {

hw::RunReport run_report(const MeshMatmulResult& r) {
  hw::RunReport rep;
  rep.from_tree = false;
  rep.cycles = r.cycles;
  rep.seconds = r.seconds;
  rep.matrix_flop = rep.flop = r.flop;
  rep.flop_per_s = r.flop_per_s;
  rep.peak_flop_per_s = r.peak_flop_per_s;
  rep.utilisation_pct = r.peak_flop_per_s > 0 ? 100.0 * r.flop_per_s / r.peak_flop_per_s : 0.0;
  using C = isa::StallCause;
  rep.split[hw::kSplitIssue] = static_cast<uint64_t>(r.compute_cycles);
  rep.split[hw::split_bucket(C::Semaphore)] = static_cast<uint64_t>(r.wait_data_cycles);
  rep.split[hw::split_bucket(C::Barrier)] = static_cast<uint64_t>(r.sync_cycles);
  rep.split[hw::split_bucket(C::DmaQueue)] = static_cast<uint64_t>(r.dma_queue_cycles);
  rep.split[hw::kSplitDrain] = static_cast<uint64_t>(r.other_cycles);
  for (uint64_t b : rep.split) rep.thread_cycles += b;
  rep.mesh_link_bytes = r.mesh_link_bytes;
  rep.die_edge_link_bytes = r.die_edge_bytes;
  rep.host_bytes = r.host_bytes;
  return rep;
}

nlohmann::ordered_json estimates_json(const MeshMatmulResult& r) {
  nlohmann::ordered_json estimates = nlohmann::ordered_json::array();
  for (const MatmulEstimate& e : r.estimates)
    estimates.push_back({{"mapping", std::string(mapping_name(e.mapping))},
                         {"fits", e.fits},
                         {"cycles", e.cycles},
                         {"compute_cycles", e.compute_cycles},
                         {"exposed_cycles", e.exposed_cycles},
                         {"sync_cycles", e.sync_cycles},
                         {"link_bytes", e.link_bytes},
                         {"sram_bytes", e.sram_bytes},
                         {"nodes", e.nodes}});
  return estimates;
}

nlohmann::ordered_json report_json(const MeshMatmulResult& r) {
  const MeshMatmulPlan& p = r.plan;
  nlohmann::ordered_json rep = hw::to_json(run_report(r));
  rep["mapping"] = std::string(mapping_name(p.mapping));
  rep["grid"] = {p.grid_rows, p.grid_cols};
  rep["k_chunk"] = p.k_chunk;
  rep["steps"] = p.steps;
  rep["sram_high_water_bytes"] = p.sram_high_water;
  rep["estimate_cycles"] = r.estimate_cycles;
  rep["estimates"] = estimates_json(r);
  return rep;
}

}  // namespace dojosim::runtime
