// SPDX-License-Identifier: MIT
// The plan as text and JSON (plan.h).
#include <fmt/format.h>

#include <algorithm>

#include "runtime/graph/plan/plan.h"

namespace dojosim::runtime::graph {
namespace {

// "sram rows 354x1" -> "S", "hbm" -> "H": one letter per tensor in the table; JSON has the
// layouts.
std::string letters(const std::vector<std::string>& where) {
  std::string out;
  for (const std::string& w : where) out += w == "hbm" ? 'H' : 'S';
  return out;
}

}  // namespace

std::string plan_text(const Plan& p) {
  const PlanMachine& m = p.machine;
  std::string out = fmt::format(
      "plan on {} nodes ({}x{} mesh), {} bytes of SRAM per node for tensors, HBM {:.0f} B/cycle\n",
      m.nodes, m.width, m.height, m.sram_bytes, m.hbm_bytes_per_cycle);
  // Columns as wide as their longest entry (a backward op's name and type are long).
  size_t op_w = 16, type_w = 15, mapping_w = 22;
  for (const OpPlan& r : p.ops)
    op_w = std::max(op_w, r.op.size()), type_w = std::max(type_w, r.type.size()),
    mapping_w = std::max(mapping_w, r.mapping.size());
  out += fmt::format("{:<{}} {:<{}} {:<{}} {:>5} {:>12} {:>6} {:>5} {:>3} {:>12} {:>9} {:>9}\n",
                     "op", op_w, "type", type_w, "mapping", mapping_w, "nodes", "est. cycles",
                     "%peak", "in", "out", "HBM bytes", "redist.", "SRAM hw");
  for (const OpPlan& r : p.ops)
    out += fmt::format(
        "{:<{}} {:<{}} {:<{}} {:>5} {:>12.0f} {:>6.2f} {:>5} {:>3} {:>12} {:>9.0f} {:>9}\n", r.op,
        op_w, r.type, type_w, r.mapping, mapping_w, r.nodes, r.cycles, r.peak_pct,
        letters(r.inputs_at), letters(r.outputs_at), r.hbm_bytes, r.redistribution_cycles,
        r.sram_high_water);
  out +=
      "in, out: S in node SRAM, H in DIP HBM (loaded, spilled or streamed); SRAM hw: the "
      "busiest node's bytes\n";
  out += fmt::format("plan total: {:.0f} est. cycles, {:.3f} ms at {} GHz, {:.2f}% of peak\n",
                     p.cycles, p.seconds * 1e3, m.clock_ghz, p.peak_pct);
  out += fmt::format(
      "plan memory: {} spills, {} redistributions, {} HBM bytes, weights {} bytes in HBM, SRAM "
      "high water {} bytes per node\n",
      p.spills, p.redistributions, p.hbm_bytes, p.weight_bytes, p.sram_high_water);
  return out;
}

nlohmann::ordered_json plan_json(const Plan& p) {
  const PlanMachine& m = p.machine;
  nlohmann::ordered_json j;
  j["machine"] = {{"nodes", m.nodes},
                  {"mesh", {m.width, m.height}},
                  {"sram_bytes_per_node", m.sram_bytes},
                  {"hbm_bytes", m.hbm_bytes},
                  {"hbm_bytes_per_cycle", m.hbm_bytes_per_cycle},
                  {"clock_ghz", m.clock_ghz}};
  j["ops"] = nlohmann::ordered_json::array();
  for (const OpPlan& r : p.ops)
    j["ops"].push_back({{"op", r.op},
                        {"type", r.type},
                        {"mapping", r.mapping},
                        {"nodes", r.nodes},
                        {"cycles", r.cycles},
                        {"compute_cycles", r.compute_cycles},
                        {"redistribution_cycles", r.redistribution_cycles},
                        {"hbm_cycles", r.hbm_cycles},
                        {"hidden_load_cycles", r.hidden_load_cycles},
                        {"flop", r.flop},
                        {"peak_pct", r.peak_pct},
                        {"inputs_at", r.inputs_at},
                        {"outputs_at", r.outputs_at},
                        {"hbm_bytes", r.hbm_bytes},
                        {"sram_high_water", r.sram_high_water},
                        {"spilled", r.spilled},
                        {"redistributed", r.redistributed}});
  j["totals"] = {{"cycles", p.cycles},
                 {"seconds", p.seconds},
                 {"flop", p.flop},
                 {"peak_pct", p.peak_pct},
                 {"spills", p.spills},
                 {"redistributions", p.redistributions},
                 {"hbm_bytes", p.hbm_bytes},
                 {"weight_bytes", p.weight_bytes},
                 {"sram_high_water", p.sram_high_water}};
  return j;
}

}  // namespace dojosim::runtime::graph
