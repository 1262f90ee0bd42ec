// SPDX-License-Identifier: MIT
#include "tools/workload.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "hw/config/derived.h"
#include "hw/stats/run_report.h"
#include "isa/formats.h"
#include "runtime/mesh/conv2d.h"
#include "runtime/mesh/estimate.h"
#include "runtime/mesh/mesh_matmul.h"
#include "runtime/mesh/report.h"
#include "runtime/npy.h"
#include "runtime/reference.h"
#include "tools/commands.h"
#include "tools/host_memory.h"
#include "tools/output_file.h"
#include "tools/progress.h"

namespace dojosim::cli {
namespace {

uint32_t parse_size(const std::string& key, const std::string& value) {
  size_t used = 0;
  unsigned long v = 0;
  try {
    v = std::stoul(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || v == 0 || v > (1ul << 20))
    throw std::invalid_argument(
        fmt::format("{}={}: expected a whole number from 1 to {}", key, value, 1u << 20));
  return static_cast<uint32_t>(v);
}

runtime::DType parse_dtype(const std::string& s) {
  if (s == "bf16") return runtime::DType::Bf16;
  if (s == "cfp8") return runtime::DType::Cfp8;
  if (s == "fp32") return runtime::DType::Fp32;
  throw std::invalid_argument(fmt::format("dtype={}: expected bf16, cfp8 or fp32", s));
}

// Uniform values in [-1, 1), the same for the same seed on every host.
runtime::Matrix random_matrix(uint32_t rows, uint32_t cols, std::mt19937_64& rng) {
  runtime::Matrix m(rows, cols);
  for (float& v : m.values)
    v = static_cast<float>(static_cast<double>(rng() >> 11) * 0x1.0p-52 - 1.0);
  return m;
}

std::string si(double v, const char* unit) {
  const char* prefixes[] = {"", "k", "M", "G", "T", "P"};
  int p = 0;
  while (std::fabs(v) >= 1000 && p < 5) v /= 1000, ++p;
  return fmt::format("{:.3g} {}{}", v, prefixes[p], unit);
}

runtime::Conv2dShape conv_shape(const WorkloadSpec& w) {
  runtime::Conv2dShape s;
  s.n = w.batch, s.h = w.h, s.w = w.w, s.c = w.c, s.k = w.out_channels, s.r = w.r, s.s = w.s;
  s.stride_h = s.stride_w = w.stride;
  s.pad_h = s.pad_w = w.pad;
  s.dilation_h = s.dilation_w = w.dilation;
  return s;
}

}  // namespace

WorkloadSpec parse_workload(const std::string& text) {
  WorkloadSpec w;
  const size_t colon = text.find(':');
  w.kind = text.substr(0, colon);
  if (w.kind != "matmul" && w.kind != "conv2d")
    throw std::invalid_argument(
        fmt::format("workload '{}': expected matmul:M=..,N=..,K=..[,...] or "
                    "conv2d:N=..,H=..,W=..,C=..,K=..,R=..,S=..[,...] "
                    "(docs/runtime.md)",
                    w.kind));
  const bool conv = w.kind == "conv2d";
  const std::string rest = colon == std::string::npos ? "" : text.substr(colon + 1);
  std::map<std::string, std::string> given;  // key -> value: a key given twice is an error
  size_t start = 0;
  while (start < rest.size()) {
    size_t end = rest.find(',', start);
    if (end == std::string::npos) end = rest.size();
    const std::string item = rest.substr(start, end - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos)
      throw std::invalid_argument(fmt::format("'{}': expected key=value", item));
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (const auto [before, fresh] = given.emplace(key, value); !fresh)
      throw std::invalid_argument(
          fmt::format("'{}' is given twice ({}={}, then {}={}): give it once", key, key,
                      before->second, key, value));
    if (key == "dtype") w.dtype = (parse_dtype(value), value);
    else if (key == "mapping") w.mapping = (runtime::parse_mapping(value), value);
    else if (key == "kchunk") w.k_chunk = parse_size(key, value);
    else if (key == "placement") {
      if (value != "auto" && value != "sram" && value != "host")
        throw std::invalid_argument(
            fmt::format("placement={}: expected auto, sram or host", value));
      w.placement = value;
    }
    else if (key == "bias") {
      if (value != "0" && value != "1")
        throw std::invalid_argument(fmt::format("bias={}: expected 0 or 1", value));
      w.bias = value == "1";
    } else if (key == "cfp8_layout") {
      if (value != "e4m3" && value != "e5m2")
        throw std::invalid_argument(
            fmt::format("cfp8_layout={}: expected e4m3 (1-4-3) or e5m2 (1-5-2)", value));
      w.cfp8_layout = value;
    } else if (key == "cfp8_bias") {
      size_t used = 0;
      int v = -1;
      try {
        v = std::stoi(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size() || v < 0 || v > isa::kMaxCfpBias)
        throw std::invalid_argument(
            fmt::format("cfp8_bias={}: expected a whole number from 0 to {} (a 6-bit field)", value,
                        isa::kMaxCfpBias));
      w.cfp8_bias = v;
    } else if (key == "check") {
      if (value != "auto" && value != "exact" && value != "f64" && value != "off")
        throw std::invalid_argument(
            fmt::format("check={}: expected auto, exact, f64 or off", value));
      w.check = value;
    } else if (!conv && key == "M")
      w.m = parse_size(key, value);
    else if (!conv && key == "N") w.n = parse_size(key, value);
    else if (!conv && key == "K") w.k = parse_size(key, value);
    else if (conv && key == "N") w.batch = parse_size(key, value);
    else if (conv && key == "H") w.h = parse_size(key, value);
    else if (conv && key == "W") w.w = parse_size(key, value);
    else if (conv && key == "C") w.c = parse_size(key, value);
    else if (conv && key == "K") w.out_channels = parse_size(key, value);
    else if (conv && key == "R") w.r = parse_size(key, value);
    else if (conv && key == "S") w.s = parse_size(key, value);
    else if (conv && key == "stride") w.stride = parse_size(key, value);
    else if (conv && key == "dilation") w.dilation = parse_size(key, value);
    else if (conv && key == "layout") {
      if (value != "nhwc" && value != "nchw")
        throw std::invalid_argument(fmt::format("layout={}: expected nhwc or nchw", value));
      w.nchw = value == "nchw";
    }
    else if (conv && key == "pad") {
      w.pad = value == "0" ? 0 : parse_size(key, value);
    } else {
      throw std::invalid_argument(
          fmt::format("'{}': unknown {} parameter ({})", key, w.kind,
                      conv ? "N, H, W, C, K, R, S, stride, pad, dilation, layout, dtype, "
                             "cfp8_layout, cfp8_bias, mapping, placement, bias, kchunk, check"
                           : "M, N, K, dtype, cfp8_layout, cfp8_bias, mapping, placement, bias, "
                             "kchunk, check"));
    }
    start = end + 1;
  }
  if (!conv && (!w.m || !w.n || !w.k))
    throw std::invalid_argument("matmul needs M, N and K, e.g. matmul:M=512,N=512,K=512");
  if (conv && (!w.h || !w.w || !w.c || !w.out_channels || !w.r || !w.s))
    throw std::invalid_argument(
        "conv2d needs H, W, C, K, R and S, e.g. conv2d:N=1,H=14,W=14,C=64,K=64,R=3,S=3,pad=1");
  if ((given.count("cfp8_layout") || given.count("cfp8_bias")) && w.dtype != "cfp8")
    throw std::invalid_argument(fmt::format(
        "cfp8_layout and cfp8_bias choose the cfp8 format: they need dtype=cfp8 (not {})",
        w.dtype));
  if (conv) {
    runtime::check_conv2d(conv_shape(w));
    w.m = conv_shape(w).n * conv_shape(w).p() * conv_shape(w).q();
    w.n = w.out_channels;
    w.k = w.r * w.s * w.c;
  }
  return w;
}

namespace {

// The operands of a workload and their shapes, in the order they are read and saved.
struct Operand {
  std::string name;
  std::vector<uint64_t> shape;
};

std::vector<Operand> operands(const WorkloadSpec& w) {
  std::vector<Operand> list;
  if (w.kind == "conv2d") {
    const runtime::Conv2dShape s = conv_shape(w);
    if (w.nchw)
      list.push_back({"x", {s.n, s.c, s.h, s.w}});
    else
      list.push_back({"x", {s.n, s.h, s.w, s.c}});
    list.push_back({"w", {s.r, s.s, s.c, s.k}});
    if (w.bias) list.push_back({"bias", {s.k}});
  } else {
    list.push_back({"A", {w.m, w.k}});
    list.push_back({"B", {w.k, w.n}});
    if (w.bias) list.push_back({"bias", {w.n}});
  }
  return list;
}

std::string operand_names(const WorkloadSpec& w) {
  std::string names;
  for (const Operand& o : operands(w)) names += (names.empty() ? "" : ", ") + o.name;
  return names;
}

// The operand's values: from its --inputs file when given (shape checked), else the random
// values already drawn.
void take_input(const WorkloadSpec& spec, const Operand& o, std::vector<float>& values) {
  const auto file = spec.inputs.find(o.name);
  if (file == spec.inputs.end()) return;
  values = runtime::read_npy(file->second, o.shape, fmt::format("{} operand {}", spec.kind, o.name))
               .values;
}

}  // namespace

void parse_workload_inputs(const std::string& text, WorkloadSpec& spec) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw std::invalid_argument(
          fmt::format("--inputs '{}': expected NAME=FILE.npy[,NAME=FILE.npy...]", item));
    const std::string name = item.substr(0, eq), file = item.substr(eq + 1);
    bool known = false;
    for (const Operand& o : operands(spec)) known |= o.name == name;
    if (!known)
      throw std::invalid_argument(fmt::format(
          "--inputs {}: {} has no operand '{}'; its operands are {}{}", item, spec.kind, name,
          operand_names(spec), name == "bias" && !spec.bias ? " (bias needs bias=1)" : ""));
    if (!spec.inputs.emplace(name, file).second)
      throw std::invalid_argument(fmt::format("--inputs: '{}' is given twice", name));
    start = end + 1;
  }
}

int run_workload(const WorkloadSpec& spec, const hw::LoadedConfig& loaded,
                 const std::string& config_path, const std::string& json_path) {
  const hw::HardwareConfig& config = loaded.config;
  const runtime::DType dtype = parse_dtype(spec.dtype);
  runtime::MeshMatmulOptions options;
  options.mapping = runtime::parse_mapping(spec.mapping);
  options.k_chunk = spec.k_chunk;
  {
    const isa::Cfp8Layout layout =
        spec.cfp8_layout == "e5m2" ? isa::Cfp8Layout::E5M2 : isa::Cfp8Layout::E4M3;
    options.cfp8 = spec.cfp8_bias < 0
                       ? isa::default_cfp8_format(layout)
                       : isa::Cfp8Format{layout, static_cast<uint8_t>(spec.cfp8_bias)};
  }
  options.placement = spec.placement == "host"   ? runtime::OperandPlacement::Host
                      : spec.placement == "sram" ? runtime::OperandPlacement::Sram
                                                 : runtime::OperandPlacement::Auto;
  const bool conv = spec.kind == "conv2d";
  // Whether it fits the machine, then the host, before any operand is built: a shape too large
  // for either is refused in a moment, not after minutes and gigabytes of random numbers.
  if (!conv)
    runtime::plan_matmul(config, dtype, runtime::MatmulShape{spec.m, spec.n, spec.k}, options);
  {
    // Host matrices (fp32), their quantised and SRAM copies, C and its copies, the references.
    const double a = double(spec.m) * spec.k, b = double(spec.k) * spec.n,
                 c = double(spec.m) * spec.n;
    const double data = 8 * (a + b) + 12 * c + 16 * c;
    const uint64_t need =
        hw::host_bytes_estimate(config, config.node.core.threads, 0, static_cast<uint64_t>(data));
    if (const std::string why = host_memory_problem(
            need, fmt::format("operands and results of {} {}x{}x{}: {}", spec.kind, spec.m, spec.n,
                              spec.k, bytes_text(data)));
        !why.empty()) {
      fmt::print(stderr, "dojosim run: {}\n", why);
      return kOutOfMemory;
    }
  }
  std::mt19937_64 rng(config.sim.seed);
  const runtime::Conv2dShape cs = conv ? conv_shape(spec) : runtime::Conv2dShape{};
  runtime::MatmulOperands ops;  // matmul: A, B; conv2d: input and weights in ops.a and ops.b
  if (conv) {
    ops.a = random_matrix(1, cs.n * cs.h * cs.w * cs.c, rng);
    ops.b = random_matrix(1, cs.r * cs.s * cs.c * cs.k, rng);
  } else {
    ops.a = random_matrix(spec.m, spec.k, rng);
    ops.b = random_matrix(spec.k, spec.n, rng);
  }
  if (spec.bias) ops.bias = random_matrix(1, spec.n, rng).values;
  // --inputs replace the random values (drawn all the same, so the others do not change).
  const std::vector<Operand> operand_list = operands(spec);
  std::vector<float>* operand_values[] = {&ops.a.values, &ops.b.values, &ops.bias};
  for (size_t i = 0; i < operand_list.size(); ++i)
    take_input(spec, operand_list[i], *operand_values[i]);
  if (conv && spec.nchw && spec.inputs.count("x"))  // the run below takes NHWC
    ops.a.values = runtime::nchw_to_nhwc(ops.a.values, cs.n, cs.h, cs.w, cs.c);
  const runtime::MatmulInit init =
      spec.bias ? runtime::MatmulInit::Bias : runtime::MatmulInit::Zero;
  const std::vector<float>* bias = spec.bias ? &ops.bias : nullptr;

  // On a terminal, a progress line with an ETA from the chosen mapping's estimate.
  const runtime::MatmulShape shape{spec.m, spec.n, spec.k};
  double expected = 0;
  try {
    const runtime::MatmulMapping chosen =
        options.mapping == runtime::MatmulMapping::Auto
            ? runtime::choose_mapping(config, dtype, shape, options)
            : options.mapping;
    expected = runtime::estimate_matmul(config, dtype, shape, chosen, options).cycles;
  } catch (const std::invalid_argument&) {
    // run_matmul reports why it cannot run
  }
  Progress progress(fmt::format("dojosim run {}", spec.kind), static_cast<uint64_t>(expected));
  options.progress = [&](uint64_t cycle) { progress.update(cycle); };
  runtime::MeshMatmulResult r =
      !conv ? runtime::run_matmul(config, dtype, ops, init, options)
      : spec.nchw
          ? runtime::run_conv2d(config, dtype, cs,
                                runtime::nhwc_to_nchw(ops.a.values, cs.n, cs.h, cs.w, cs.c),
                                ops.b.values, bias, options, runtime::ActivationLayout::Nchw)
          : runtime::run_conv2d(config, dtype, cs, ops.a.values, ops.b.values, bias, options);
  progress.done();
  // The checks below compare in NHWC: an NCHW output goes back to it.
  if (spec.nchw) r.c.values = runtime::nchw_to_nhwc(r.c.values, cs.n, cs.p(), cs.q(), cs.k);
  const runtime::MeshMatmulPlan& p = r.plan;
  const std::string what =
      conv ? fmt::format(
                 "conv2d N={} H={} W={} C={} K={} R={} S={} stride {} pad {} dilation {}, {} "
                 "(im2col: "
                 "matmul {}x{}x{})",
                 cs.n, cs.h, cs.w, cs.c, cs.k, cs.r, cs.s, spec.stride, spec.pad, spec.dilation,
                 spec.nchw ? "NCHW" : "NHWC", spec.m, spec.n, spec.k)
           : fmt::format("matmul {}x{}x{}", spec.m, spec.n, spec.k);
  const std::string mapping(runtime::mapping_name(p.mapping));  // with auto: the one chosen
  fmt::print("dojosim run: {} {}{}, mapping {}{} on {} ({}x{} mesh)\n", what, spec.dtype,
             spec.bias ? " + bias" : "", mapping, spec.mapping == "auto" ? " (auto)" : "",
             config_path, config.mesh_width(), config.mesh_height());
  const auto largest = [](const std::vector<uint32_t>& start) {
    uint32_t most = 0;
    for (size_t i = 0; i + 1 < start.size(); ++i) most = std::max(most, start[i + 1] - start[i]);
    return most;
  };
  fmt::print(
      "placement: {}x{} grid of nodes ({} nodes), C blocks of up to {}x{}, K in {} step{} of {}; "
      "SRAM used per node {} of {}; A and B {}\n",
      p.grid_rows, p.grid_cols, p.nodes.size(), largest(p.row_start), largest(p.col_start), p.steps,
      p.steps == 1 ? "" : "s", p.k_chunk, si(double(p.sram_high_water), "B"),
      si(double(config.node.core.sram_bytes), "B"),
      p.operands_in_host ? "stream from host memory (the DIPs' HBM)" : "start in node SRAM");
  if (!r.ok) {
    fmt::print(stderr, "dojosim run: {}\n", r.outcome);
    return r.ended == hw::MachineOutcome::Trapped       ? kTrapped
           : r.ended == hw::MachineOutcome::NeedsValues ? kNeedsValues
                                                        : kHung;
  }
  const hw::RunReport report = runtime::run_report(r);
  fmt::print("cycles {} ({:.3f} us at {:.1f} GHz); {} at {}, {:.1f}% of the machine's {} peak {}\n",
             r.cycles, r.seconds * 1e6, config.node.core.clock_ghz, si(r.flop, "FLOP"),
             si(r.flop_per_s, "FLOP/s"), report.utilisation_pct, spec.dtype,
             si(r.peak_flop_per_s, "FLOP/s"));
  const auto share = [&](uint64_t v) {
    return report.thread_cycles ? 100.0 * double(v) / double(report.thread_cycles) : 0.0;
  };
  fmt::print(
      "time split (multiplying threads): compute {:.1f}%, waiting for data {:.1f}%, "
      "synchronisation {:.1f}%, "
      "DMA queue {:.1f}%, other {:.1f}%\n",
      share(report.compute_cycles()), share(report.wait_data_cycles()), share(report.sync_cycles()),
      share(report.dma_queue_cycles()), share(report.other_cycles()));
  fmt::print("traffic: mesh links {}, die-edge links {}, host memory {}\n",
             si(double(r.mesh_link_bytes), "B"), si(double(r.die_edge_bytes), "B"),
             si(double(r.host_bytes), "B"));
  fmt::print("estimate: {:.0f} cycles ({:+.1f}% of the run's); every mapping's:\n",
             r.estimate_cycles,
             r.cycles ? 100.0 * (r.estimate_cycles - double(r.cycles)) / double(r.cycles) : 0.0);
  for (const runtime::MatmulEstimate& e : r.estimates) {
    const std::string name(runtime::mapping_name(e.mapping));
    if (!e.fits)
      fmt::print("  {:<7} does not fit: {}\n", name, e.why);
    else
      fmt::print(
          "  {:<7} {:.0f} cycles: multiply {:.0f}, data movement not hidden {:.0f}, barriers "
          "{:.0f}; "
          "busiest link {}; SRAM {} on {} nodes\n",
          name, e.cycles, e.compute_cycles, e.exposed_cycles, e.sync_cycles, si(e.link_bytes, "B"),
          si(double(e.sram_bytes), "B"), e.nodes);
  }

  // Checks: bit-exact against the reference in the kernel's order, and within the float64 bound.
  const double work = double(spec.m) * spec.n * spec.k;
  // Timing only (sim.values off): C holds no result, so nothing is compared, whatever `check`.
  const bool values = config.sim.values;
  const bool exact = values && (spec.check == "exact" || (spec.check == "auto" && work <= 0x1p30));
  const bool f64 = values && (spec.check == "f64" || exact);
  bool passed = true;
  nlohmann::ordered_json checks;
  if (exact) {
    // conv2d runs as the matmul of its im2col matrix and weight matrix: the same reference,
    // in the order of the mapping that ran it.
    runtime::MatmulOperands as_matmul;
    if (conv) {
      as_matmul.a = runtime::im2col(ops.a.values, cs);
      as_matmul.b = runtime::conv2d_weight_matrix(ops.b.values, cs);
      as_matmul.bias = ops.bias;
    }
    const runtime::Matrix want =
        runtime::reference_mesh_matmul_exact(dtype, options.cfp8, init, conv ? as_matmul : ops, p);
    uint64_t bad = 0;
    for (size_t i = 0; i < want.values.size(); ++i)
      bad += std::memcmp(&want.values[i], &r.c.values[i], 4) != 0;
    fmt::print(
        "check: bit-exact against the reference (same accumulation order): {} ({} of {} elements "
        "differ)\n",
        bad ? "FAILED" : "ok", bad, want.values.size());
    passed &= bad == 0;
    checks["exact_mismatches"] = bad;
  }
  if (f64) {
    const runtime::Reference64 want =
        conv ? runtime::reference_conv2d_f64(dtype, options.cfp8, cs, ops.a.values, ops.b.values,
                                             bias, p.padded_k)
             : runtime::reference_matmul_f64(dtype, options.cfp8, init, ops, p.padded_k);
    double worst = 0;
    uint64_t outside = 0;
    for (uint32_t i = 0; i < spec.m; ++i)
      for (uint32_t j = 0; j < spec.n; ++j) {
        const double err = std::fabs(double(r.c.at(i, j)) - want.at(i, j));
        const double bound = want.bound_at(i, j);
        worst = std::max(worst, bound > 0 ? err / bound : (err > 0 ? INFINITY : 0.0));
        outside += err > bound;
      }
    fmt::print(
        "check: float64 reference: {} (worst error {:.3g} of its bound; {} elements outside)\n",
        outside ? "FAILED" : "ok", worst, outside);
    passed &= outside == 0;
    checks["f64_worst_of_bound"] = worst;
  }
  if (!values)
    fmt::print("check: skipped (sim.values is off: timing only, no values computed)\n");
  else if (!exact && !f64)
    fmt::print("check: skipped (check=exact or check=f64 to force)\n");
  else if (!exact)
    fmt::print("check: bit-exact skipped above 2^30 multiply-adds (check=exact to force)\n");

  if (!spec.save_dir.empty()) {
    // The operands as the run took them (fp32, before quantisation) and the result, in the
    // workload's layout: a run can be repeated from them and its result compared outside.
    std::vector<std::string> saved;
    for (size_t i = 0; i < operand_list.size(); ++i) {
      std::vector<float> operand = *operand_values[i];
      if (conv && spec.nchw && i == 0)
        operand = runtime::nhwc_to_nchw(operand, cs.n, cs.h, cs.w, cs.c);
      const std::string path = spec.save_dir + "/" + operand_list[i].name + ".npy";
      runtime::write_npy(path, operand_list[i].shape, operand);
      saved.push_back(operand_list[i].name + ".npy");
    }
    const std::string result = conv ? "y" : "C";
    std::vector<uint64_t> result_shape = {spec.m, spec.n};
    std::vector<float> result_values = r.c.values;
    if (conv && spec.nchw) {
      result_values = runtime::nhwc_to_nchw(result_values, cs.n, cs.p(), cs.q(), cs.k);
      result_shape = {cs.n, cs.k, cs.p(), cs.q()};
    } else if (conv) {
      result_shape = {cs.n, cs.p(), cs.q(), cs.k};
    }
    runtime::write_npy(spec.save_dir + "/" + result + ".npy", result_shape, result_values);
    saved.push_back(result + ".npy");
    fmt::print("saved: {} in {}\n", fmt::join(saved, ", "), spec.save_dir);
  }

  if (!json_path.empty()) {
    nlohmann::ordered_json j;
    j["workload"] = {{"kind", spec.kind},   {"M", spec.m},        {"N", spec.n},      {"K", spec.k},
                     {"dtype", spec.dtype}, {"mapping", mapping}, {"bias", spec.bias}};
    if (dtype == runtime::DType::Cfp8)
      j["workload"]["cfp8"] = {{"layout", spec.cfp8_layout}, {"bias", options.cfp8.bias}};
    if (conv)
      j["workload"]["conv2d"] = {{"N", cs.n},       {"H", cs.h},
                                 {"W", cs.w},       {"C", cs.c},
                                 {"K", cs.k},       {"R", cs.r},
                                 {"S", cs.s},       {"stride", spec.stride},
                                 {"pad", spec.pad}, {"dilation", spec.dilation}};
    j["config"] = hw::to_json(config);
    // The run report every run's JSON shares (hw/stats/run_report.h), then the workload's own.
    nlohmann::ordered_json rep = runtime::report_json(r);
    // "skipped" when nothing was compared (check=off, or sim.values off): never "ok".
    checks["status"] = !exact && !f64 ? "skipped" : passed ? "ok" : "failed";
    rep["checks"] = checks;
    j["report"] = std::move(rep);
    write_file(json_path, j.dump(1) + "\n");
  }
  return passed ? kOk : kProgramFailed;
}

}  // namespace dojosim::cli
