// SPDX-License-Identifier: MIT
#include "tools/workload_collective.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "hw/config/derived.h"
#include "hw/config/hardware_config.h"
#include "hw/trace/trace.h"
#include "runtime/collectives/kernel.h"
#include "tools/commands.h"
#include "tools/host_memory.h"
#include "tools/output_file.h"

namespace dojosim::cli {
namespace {

namespace coll = runtime::collectives;

const coll::Collective kKinds[] = {coll::Collective::AllReduce, coll::Collective::ReduceScatter,
                                   coll::Collective::AllGather, coll::Collective::Broadcast};

// "64MiB", "4KiB", "1000": bytes (binary suffixes KiB, MiB, GiB; plain digits are bytes).
uint64_t parse_bytes(const std::string& value) {
  size_t used = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = used ? value.substr(used) : "";
  const uint64_t scale = unit.empty()    ? 1
                         : unit == "KiB" ? 1ull << 10
                         : unit == "MiB" ? 1ull << 20
                         : unit == "GiB" ? 1ull << 30
                                         : 0;
  if (!used || !scale || v == 0 || v > (64ull << 30) / scale)
    throw std::invalid_argument(fmt::format(
        "bytes={}: expected a size from 1 to 64GiB, in bytes or with KiB, MiB or GiB", value));
  return v * scale;
}

std::string si(double v, const char* unit) {
  const char* prefixes[] = {"", "k", "M", "G", "T", "P"};
  int p = 0;
  while (std::fabs(v) >= 1000 && p < 5) v /= 1000, ++p;
  return fmt::format("{:.3g} {}{}", v, prefixes[p], unit);
}

}  // namespace

bool is_collective_workload(const std::string& text) {
  const std::string kind = text.substr(0, text.find(':'));
  for (coll::Collective c : kKinds)
    if (kind == coll::collective_name(c)) return true;
  return false;
}

int run_collective_workload(const std::string& text, const hw::LoadedConfig& loaded,
                            const std::string& config_path, const std::string& json_path,
                            const std::string& trace_path, uint64_t trace_limit) {
  const hw::HardwareConfig& config = loaded.config;
  const size_t colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  coll::CollectiveProblem problem;
  for (coll::Collective c : kKinds)
    if (kind == coll::collective_name(c)) problem.op = c;
  std::map<std::string, std::string> given;
  const std::string rest = colon == std::string::npos ? "" : text.substr(colon + 1);
  for (size_t start = 0; start < rest.size();) {
    size_t end = rest.find(',', start);
    if (end == std::string::npos) end = rest.size();
    const std::string item = rest.substr(start, end - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos)
      throw std::invalid_argument(fmt::format("'{}': expected key=value", item));
    const std::string key = item.substr(0, eq);
    if (key != "bytes" && key != "dtype" && key != "algo" && key != "group" && key != "root" &&
        key != "check")
      throw std::invalid_argument(fmt::format(
          "'{}': unknown {} parameter (bytes, dtype, algo, group, root, check)", key, kind));
    if (!given.emplace(key, item.substr(eq + 1)).second)
      throw std::invalid_argument(fmt::format("'{}' is given twice: give it once", key));
    start = end + 1;
  }
  if (!given.count("bytes"))
    throw std::invalid_argument(fmt::format("{} needs bytes, e.g. {}:bytes=64MiB", kind, kind));
  problem.bytes = parse_bytes(given["bytes"]);
  const std::string dtype = given.count("dtype") ? given["dtype"] : "bf16";
  if (dtype != "bf16" && dtype != "fp32")
    throw std::invalid_argument(fmt::format("dtype={}: expected bf16 or fp32", dtype));
  problem.dtype = dtype == "bf16" ? runtime::DType::Bf16 : runtime::DType::Fp32;
  if (given.count("algo")) problem.algorithm = given["algo"];
  problem.group = coll::parse_group(config, given.count("group") ? given["group"] : "all");
  const std::string check = given.count("check") ? given["check"] : "auto";
  if (check != "auto" && check != "exact" && check != "f64" && check != "off")
    throw std::invalid_argument(fmt::format("check={}: expected auto, exact, f64 or off", check));
  if (given.count("root")) {
    const std::string& r = given["root"];
    bool found = false;
    for (uint32_t i = 0; i < problem.group.members.size(); ++i) {
      const hw::Coord m = problem.group.members[i];
      if (r == fmt::format("{}:{}", m.x, m.y)) problem.root = i, found = true;
    }
    if (!found)
      throw std::invalid_argument(
          fmt::format("root={}: expected a member of the group, as X:Y", r));
  }
  const coll::CollectivePlan plan(config, problem);  // every check before the simulation
  const uint32_t n = plan.members();
  const bool values = config.sim.values && check != "off";
  {
    // Inputs, the result read back, the exact reference and the float64 one with its depths.
    const double data = values ? double(n) * double(plan.count()) * 24 : 0;
    const uint64_t need =
        hw::host_bytes_estimate(config, plan.kernel().threads(), plan.kernel().sram_high_water(),
                                static_cast<uint64_t>(data));
    if (const std::string why = host_memory_problem(
            need, fmt::format("{} members' SRAM and vectors of {} {}", n, plan.count(), dtype));
        !why.empty()) {
      fmt::print(stderr, "dojosim run: {}\n", why);
      return kOutOfMemory;
    }
  }

  fmt::print(
      "dojosim run: {} {} {} over {} members (group {}) on {} ({}x{} mesh): {} elements, "
      "{} B per member\n",
      kind, bytes_text(double(problem.bytes)), dtype, n, problem.group.text, config_path,
      config.mesh_width(), config.mesh_height(), plan.count(), plan.member_bytes());
  fmt::print("algorithm: {} ({}): {}; {} rounds, {} thread{} per node, SRAM per member {}\n",
             plan.algorithm(), plan.why(), plan.schedule().note, plan.schedule().rounds(),
             plan.kernel().threads(), plan.kernel().threads() == 1 ? "" : "s",
             si(double(plan.kernel().sram_high_water()), "B"));
  fmt::print("estimates:\n");
  for (const coll::AlgorithmEstimate& e : plan.estimates())
    if (e.applies)
      fmt::print("  {:<16} {:.0f} cycles ({} rounds)\n", e.name, e.cycles, e.rounds);
    else
      fmt::print("  {:<16} does not apply: {}\n", e.name, e.why);

  const coll::Vectors inputs =
      values ? coll::random_inputs(plan, config.sim.seed) : coll::Vectors{};
  std::unique_ptr<hw::TraceWriter> trace;
  if (!trace_path.empty())
    trace = std::make_unique<hw::TraceWriter>(trace_path, config.node.core.clock_ghz,
                                              int(config.mesh_width()), trace_limit);
  const coll::CollectiveResult r = coll::run_collective(config, plan, inputs, trace.get());
  if (!r.ok) {
    fmt::print(stderr, "dojosim run: {}\n", r.outcome);
    return r.ended == hw::MachineOutcome::Trapped       ? kTrapped
           : r.ended == hw::MachineOutcome::NeedsValues ? kNeedsValues
                                                        : kHung;
  }
  const double algbw = double(plan.member_bytes()) / r.seconds;
  const double busbw = algbw * coll::bus_factor(problem.op, n);
  const coll::CollectivePlan::Bound bound = plan.bound(config);
  const double pct = 100.0 * bound.seconds / r.seconds;
  fmt::print("cycles {} ({:.3f} us at {:.1f} GHz); estimate {:.0f} ({:+.1f}%)\n", r.cycles,
             r.seconds * 1e6, config.node.core.clock_ghz, plan.estimate_cycles(),
             100.0 * (plan.estimate_cycles() - double(r.cycles)) / double(r.cycles));
  fmt::print(
      "algbw {:.2f} GB/s, busbw {:.2f} GB/s (x {:.4f}); bound {:.3f} us = busbw {:.2f} GB/s "
      "({}); {:.1f}% of bound\n",
      algbw / 1e9, busbw / 1e9, coll::bus_factor(problem.op, n), bound.seconds * 1e6,
      bound.busbw_gb_per_s, bound.limit, pct);
  fmt::print("traffic: mesh links {}, die-edge links {}\n", si(double(r.mesh_link_bytes), "B"),
             si(double(r.die_edge_bytes), "B"));
  std::string split;
  for (const auto& [bucket, pct_of] : r.time_split)
    split += fmt::format("{}{} {:.1f}%", split.empty() ? "" : ", ", bucket, pct_of);
  fmt::print("time split (the members' threads): {}\n", split);
  if (trace && !finish_trace(*trace, trace_path, trace_limit)) return kUsage;

  bool passed = true;
  nlohmann::ordered_json checks;
  const bool exact = values && check != "f64", f64 = values && check != "exact";
  if (exact) {
    const coll::Vectors want = coll::reference_exact(plan, inputs);
    uint64_t bad = 0, compared = 0;
    for (uint32_t m = 0; m < n; ++m)
      for (const auto& [a, b] : plan.defined(m))
        for (uint64_t e = a; e < b; ++e, ++compared)
          bad += std::memcmp(&want[m][e], &r.out[m][e], 4) != 0;
    fmt::print(
        "check: bit-exact against the reference (the algorithm's order of additions): {} "
        "({} of {} elements differ)\n",
        bad ? "FAILED" : "ok", bad, compared);
    passed &= bad == 0;
    checks["exact_mismatches"] = bad;
  }
  if (f64) {
    const coll::Reference64 want = coll::reference_f64(plan, inputs);
    double worst = 0;
    uint64_t outside = 0;
    for (uint32_t m = 0; m < n; ++m)
      for (const auto& [a, b] : plan.defined(m))
        for (uint64_t e = a; e < b; ++e) {
          const double err = std::fabs(double(r.out[m][e]) - want.value[e]);
          const double bound_e = want.bound[e];
          worst = std::max(worst, bound_e > 0 ? err / bound_e : (err > 0 ? INFINITY : 0.0));
          outside += err > bound_e;
        }
    fmt::print(
        "check: float64 reference: {} (worst error {:.3g} of its bound; {} elements "
        "outside)\n",
        outside ? "FAILED" : "ok", worst, outside);
    passed &= outside == 0;
    checks["f64_worst_of_bound"] = worst;
  }
  if (!config.sim.values)
    fmt::print("check: skipped (sim.values is off: timing only, no values computed)\n");
  else if (!values)
    fmt::print("check: skipped (check=off)\n");

  if (!json_path.empty()) {
    nlohmann::ordered_json j;
    j["workload"] = {{"kind", kind},
                     {"bytes", problem.bytes},
                     {"dtype", dtype},
                     {"group", problem.group.text},
                     {"members", n},
                     {"member_bytes", plan.member_bytes()},
                     {"algorithm", plan.algorithm()}};
    j["config"] = hw::to_json(config);
    nlohmann::ordered_json rep;
    rep["cycles"] = r.cycles;
    rep["seconds"] = r.seconds;
    rep["algbw_gb_per_s"] = algbw / 1e9;
    rep["busbw_gb_per_s"] = busbw / 1e9;
    rep["bound_seconds"] = bound.seconds;
    rep["bound_busbw_gb_per_s"] = bound.busbw_gb_per_s;
    rep["bound_limit"] = bound.limit;
    rep["percent_of_bound"] = pct;
    rep["mesh_link_bytes"] = r.mesh_link_bytes;
    rep["die_edge_bytes"] = r.die_edge_bytes;
    rep["algorithm"] = {
        {"name", plan.algorithm()}, {"why", plan.why()}, {"rounds", plan.schedule().rounds()}};
    nlohmann::ordered_json est = nlohmann::ordered_json::object();
    for (const coll::AlgorithmEstimate& e : plan.estimates())
      est[e.name] = e.applies ? nlohmann::ordered_json{{"cycles", e.cycles}, {"rounds", e.rounds}}
                              : nlohmann::ordered_json{{"does_not_apply", e.why}};
    rep["estimates"] = est;
    checks["status"] = !exact && !f64 ? "skipped" : passed ? "ok" : "failed";
    rep["checks"] = checks;
    j["report"] = std::move(rep);
    write_file(json_path, j.dump(1) + "\n");
  }
  return passed ? kOk : kProgramFailed;
}

}  // namespace dojosim::cli
