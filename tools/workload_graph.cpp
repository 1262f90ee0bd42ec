// SPDX-License-Identifier: MIT
#include "tools/workload_graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "hw/config/config_io.h"
#include "hw/trace/trace.h"
#include "runtime/graph/autodiff.h"
#include "runtime/graph/io.h"
#include "runtime/graph/plan/plan.h"
#include "runtime/graph/run/groups.h"
#include "runtime/graph/run/run.h"
#include "runtime/graph/summary.h"
#include "runtime/graph/tensor_parallel.h"
#include "runtime/graph/validate.h"
#include "runtime/npy.h"
#include "tools/commands.h"
#include "tools/output_file.h"
#include "tools/report/graph_svg.h"

namespace dojosim::cli {
namespace {

namespace graph_run = runtime::graph_run;

// Each host tensor's data file (the `data` key, docs/graphs.md) exists and holds the tensor's
// shape, in a dtype of its kind: a bad one is refused before anything runs.
void check_graph_data(const runtime::graph::Graph& g, const std::string& path) {
  namespace graph = runtime::graph;
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  for (const graph::Tensor& t : g.tensors) {
    if (t.data.empty()) continue;
    const std::string file = (folder / t.data).string();
    runtime::NpyArray a;
    try {
      a = runtime::read_npy_header(file);
    } catch (const runtime::NpyError& e) {
      throw graph::GraphError(fmt::format("{}: tensor '{}': data {}", t.origin, t.name, e.what()));
    }
    const std::vector<uint64_t> want(t.shape.begin(), t.shape.end());
    if (a.shape != want)
      throw graph::GraphError(
          fmt::format("{}: tensor '{}': data {} is {} {}; the tensor is {}", t.origin, t.name, file,
                      a.dtype, runtime::npy_shape_string(a.shape), graph::shape_string(t.shape)));
    const bool indices = t.dtype == graph::DType::Int32;
    if (indices != (a.dtype == "int32"))
      throw graph::GraphError(fmt::format("{}: tensor '{}' ({}): data {} holds {}; expected {}",
                                          t.origin, t.name, graph::dtype_name(t.dtype), file,
                                          a.dtype, indices ? "int32" : "float32 or float64"));
  }
}

// `--inputs TENSOR=FILE.npy,...` by tensor: each a host tensor of the graph, named once.
std::map<std::string, std::string> parse_graph_inputs(const runtime::graph::Graph& g,
                                                      const std::string& text) {
  std::map<std::string, std::string> files;
  if (text.empty()) return files;
  std::stringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw runtime::graph::GraphError(
          fmt::format("--inputs '{}': expected TENSOR=FILE.npy[,TENSOR=FILE.npy...]", item));
    const std::string name = item.substr(0, eq);
    const runtime::graph::Tensor* t = g.find_tensor(name);
    if (!t || !runtime::graph::is_source(t->role))
      throw runtime::graph::GraphError(
          fmt::format("--inputs {}: the graph has no input or weight tensor '{}'", item, name));
    if (!files.emplace(name, item.substr(eq + 1)).second)
      throw runtime::graph::GraphError(fmt::format("--inputs: '{}' is given twice", name));
  }
  return files;
}

// The values of host tensors from --inputs, else from their data files (both checked for
// shape and kind), by name as the rows x cols of their matrix view.
// Data parallel: a given input holds every group's batch, `groups` times the tensor's first
// axis.
std::map<std::string, runtime::Matrix> host_values(const runtime::graph::Graph& g,
                                                   const std::string& path,
                                                   const std::map<std::string, std::string>& given,
                                                   uint32_t groups) {
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  std::map<std::string, runtime::Matrix> values;
  for (const runtime::graph::Tensor& t : g.tensors) {
    const auto file = given.find(t.name);
    if (t.data.empty() && file == given.end()) continue;
    runtime::NpyArray a;
    std::vector<uint64_t> shape(t.shape.begin(), t.shape.end());
    if (groups > 1 && t.role == runtime::graph::Role::Input && !shape.empty()) shape[0] *= groups;
    try {
      a = file != given.end() ? runtime::read_npy(file->second, shape, "tensor '" + t.name + "'")
                              : runtime::read_npy((folder / t.data).string());
    } catch (const runtime::NpyError& e) {
      if (file == given.end()) throw;
      throw runtime::graph::GraphError(
          fmt::format("--inputs {}={}: {}", t.name, file->second, e.what()));
    }
    const uint64_t cols = t.shape.empty() ? 1 : uint64_t(t.shape.back());
    runtime::Matrix m(uint32_t(a.values.size() / cols), uint32_t(cols));
    m.values = a.values;
    values[t.name] = std::move(m);
  }
  return values;
}

// A training step's cycles by part: the forward (the file's ops), the backward (the ops the
// autodiff appended), the all-reduces of a data-parallel step and the updates (the training
// step's other ops, last: the optimizer's, and the casts of master weights and gradients).
struct StepSplit {
  struct Part {
    const char* name;
    size_t ops = 0;
    uint64_t cycles = 0, kernels = 0, moves = 0;
  };
  std::vector<Part> parts{{"forward"}, {"backward"}, {"all-reduce"}, {"updates"}};
};
StepSplit step_split(const runtime::graph_run::GraphRun& r,
                     const std::map<std::string, size_t>& part) {
  StepSplit s;
  for (const runtime::graph_run::OpRun& o : r.ops) {
    const auto k = part.find(o.op);
    StepSplit::Part& p = s.parts[o.type == "allreduce" ? 2 : k == part.end() ? 3 : k->second];
    ++p.ops;
    p.cycles += o.cycles, p.kernels += o.kernel_cycles, p.moves += o.moves.cycles;
  }
  return s;
}
// samples: the step's batch over every data-parallel group (0: unknown).
std::string step_text(const StepSplit& s, uint64_t samples, double clock_ghz) {
  uint64_t total = 0;
  for (const StepSplit::Part& p : s.parts) total += p.cycles;
  std::string out = fmt::format("training step: {} cycles", total);
  if (samples && total)
    out +=
        fmt::format(" ({:.3f} us), {} samples: {:.0f} samples/s", double(total) / clock_ghz / 1e3,
                    samples, double(samples) * clock_ghz * 1e9 / double(total));
  out += "\n";
  for (const StepSplit::Part& p : s.parts)
    if (p.ops)
      out += fmt::format("  {:<10} {:>12} ({:5.1f}%), {:>4} ops: kernels {}, moves {}\n", p.name,
                         p.cycles, total ? 100.0 * double(p.cycles) / double(total) : 0.0, p.ops,
                         p.kernels, p.moves);
  return out;
}

// The graph as --graph-out writes it: YAML, or JSON for a .json name; data files named
// relative to the new file's folder so that it reads the same values.
void write_graph(runtime::graph::Graph g, const std::string& from, const std::string& to) {
  namespace fs = std::filesystem;
  const fs::path source = fs::absolute(from).parent_path(), dest = fs::absolute(to).parent_path();
  for (runtime::graph::Tensor& t : g.tensors)
    if (!t.data.empty())
      t.data = (source / t.data).lexically_normal().lexically_relative(dest).string();
  const bool json = fs::path(to).extension() == ".json";
  std::ofstream out(to);
  out << (json ? runtime::graph::to_json(g) : runtime::graph::to_yaml(g));
  if (!out.flush())
    throw runtime::graph::GraphError(fmt::format("--graph-out {}: cannot write", to));
}

// The graph that runs: the file's, its pairs of layers split over `flags.tensor_parallel`
// groups, with its backward and the training step's updates as the flags say; and each op's
// part of the step (0 the file's ops, 1 the autodiff's, the step's own after).
struct StepGraph {
  runtime::graph::Graph g;
  runtime::graph::Analysis a;
  runtime::graph::TensorParallel tp;
  std::map<std::string, size_t> part;
  std::optional<runtime::graph::DynamicLossScale> dynamic;  // --loss-scale dynamic
};
StepGraph step_graph(const runtime::graph::Graph& file, const GraphFlags& flags) {
  namespace graph = runtime::graph;
  StepGraph s;
  s.g = file;
  s.a = graph::validate(s.g);
  if (flags.tensor_parallel > 1) {  // from here on the graph is one group's
    s.tp = graph::tensor_parallel(s.g, flags.tensor_parallel);
    s.g = s.tp.graph;
    s.a = graph::validate(s.g);
  }
  for (const graph::Op& op : s.g.ops) s.part[op.name] = 0;
  const graph::LossScaling scaling =
      flags.loss_scale.empty() ? graph::LossScaling{} : graph::parse_loss_scale(flags.loss_scale);
  const graph::BackwardOptions backward{flags.loss, scaling.scale, s.tp.column_ops,
                                        flags.tensor_parallel, scaling.dynamic};
  s.dynamic = scaling.dynamic;
  if (!flags.optimizer.empty() || flags.backward) {
    const graph::Graph b = graph::with_backward(s.g, backward);
    for (const graph::Op& op : b.ops) s.part.emplace(op.name, 1);
    graph::OptimizerOptions optimizer;
    if (!flags.optimizer.empty()) {
      optimizer = graph::parse_optimizer(flags.optimizer);
      optimizer.groups = flags.data_parallel;
      optimizer.group_stride = flags.tensor_parallel;
    }
    s.g = flags.optimizer.empty() ? b : graph::training_step(s.g, backward, optimizer);
    s.a = graph::validate(s.g);
  }
  return s;
}

// The batch: the first axis of the graph's first input (its data), in every group.
uint64_t batch_of(const runtime::graph::Graph& g) {
  for (const runtime::graph::Tensor& t : g.tensors)
    if (t.role == runtime::graph::Role::Input && !t.shape.empty()) return uint64_t(t.shape.front());
  return 0;
}

// --parallel auto: every placement of the training step the machine and the graph allow, R
// data-parallel replicas of T tensor-parallel groups (R T equal rectangles of the mesh, T
// dividing the split layers' widths), estimated by its group's plan; the one with the most
// samples per second (the fewest cycles where the batch is unknown) is set in `flags`. Up to
// 64 groups. Prints the table; returns it as JSON.
nlohmann::ordered_json choose_parallel(const runtime::graph::Graph& file,
                                       const hw::HardwareConfig& config, GraphFlags& flags) {
  namespace graph = runtime::graph;
  struct Candidate {
    uint32_t data, tensor;
    double cycles, samples_per_s;
  };
  std::vector<Candidate> all;
  const double clock = config.node.core.clock_ghz * 1e9;
  const uint64_t batch = batch_of(file);
  const uint32_t most = uint32_t(std::min<size_t>(64, config.runtime_nodes().size()));
  for (uint32_t groups = 1; groups <= most; ++groups) {
    std::vector<hw::HardwareConfig::Region> regions;
    if (groups > 1) try {
        regions = graph_run::group_regions(config, groups);
      } catch (const graph::GraphError&) {
        continue;  // the mesh does not cut into that many
      }
    for (uint32_t tensor = 1; tensor <= groups; ++tensor) {
      if (groups % tensor) continue;
      GraphFlags f = flags;
      f.data_parallel = groups / tensor, f.tensor_parallel = tensor;
      try {
        const StepGraph s = step_graph(file, f);
        const graph::Plan p = graph::plan_graph(
            s.g, s.a, groups > 1 ? graph_run::in_region(config, regions.front()) : config);
        const double samples = double(batch * f.data_parallel);
        all.push_back(
            {f.data_parallel, tensor, p.cycles, p.cycles > 0 ? samples * clock / p.cycles : 0});
      } catch (const graph::GraphError&) {
        // no pair of layers to split, or a width the count does not divide
      }
    }
  }
  if (all.empty())
    throw graph::GraphError("--parallel auto: no placement of the step plans on this machine");
  const auto better = [&](const Candidate& a, const Candidate& b) {
    return batch ? a.samples_per_s > b.samples_per_s : a.cycles < b.cycles;
  };
  const Candidate best = *std::min_element(all.begin(), all.end(), better);
  flags.data_parallel = best.data, flags.tensor_parallel = best.tensor;
  fmt::print(
      "parallel placements by estimate (each group's plan; R replicas of T groups, each "
      "replica with its own batch of {}):\n{:>6} {:>6} {:>6} {:>12} {:>8} {:>12}\n",
      batch, "R", "T", "groups", "est. cycles", "samples", "samples/s");
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const Candidate& c : all) {
    const bool chosen = c.data == best.data && c.tensor == best.tensor;
    fmt::print("{:>6} {:>6} {:>6} {:>12.0f} {:>8} {:>12.0f}{}\n", c.data, c.tensor,
               c.data * c.tensor, c.cycles, batch * c.data, c.samples_per_s,
               chosen ? "  <- chosen" : "");
    j.push_back({{"data_parallel", c.data},
                 {"tensor_parallel", c.tensor},
                 {"estimated_cycles", c.cycles},
                 {"samples", batch * c.data},
                 {"samples_per_s", c.samples_per_s},
                 {"chosen", chosen}});
  }
  return j;
}

}  // namespace

int run_graph_file(const std::string& path, const GraphFlags& given) {
  GraphFlags flags = given;
  namespace graph = runtime::graph;
  const bool plan = flags.plan;
  const std::string &config_path = flags.config_path, &json_path = flags.json_path,
                    &save_dir = flags.save_dir;
  const std::vector<std::string>& sets = flags.sets;
  try {
    const hw::LoadedConfig loaded = hw::load_config(config_path, sets);
    const graph::Graph loaded_graph = graph::load_graph(path);
    nlohmann::ordered_json choice;
    if (flags.parallel_auto) choice = choose_parallel(loaded_graph, loaded.config, flags);
    StepGraph step = step_graph(loaded_graph, flags);
    graph::Graph& g = step.g;
    graph::Analysis& a = step.a;
    const graph::TensorParallel& tp = step.tp;
    const std::map<std::string, size_t>& part = step.part;
    if (!flags.graph_out.empty()) write_graph(g, path, flags.graph_out);
    // Tensor parallel: host values are given whole, each group takes its part.
    const std::map<std::string, graph::TensorSlice> slices = graph::step_slices(g, tp.slices);
    graph::Graph whole = g;
    for (graph::Tensor& t : whole.tensors)
      if (const auto it = slices.find(t.name); it != slices.end()) t.shape = it->second.full;
    check_graph_data(whole, path);
    const std::map<std::string, std::string> input_files = parse_graph_inputs(g, flags.inputs);
    // Data and tensor parallel: the plan is each group's, on its rectangle of the mesh; a
    // replica's tensor-parallel groups are neighbours in the groups' order.
    const uint32_t groups = flags.data_parallel * flags.tensor_parallel;
    const char* kind = flags.tensor_parallel == 1 ? "data parallel"
                       : flags.data_parallel == 1 ? "tensor parallel"
                                                  : "data and tensor parallel";
    const std::vector<hw::HardwareConfig::Region> regions =
        groups > 1 ? graph_run::group_regions(loaded.config, groups, kind)
                   : std::vector<hw::HardwareConfig::Region>{};
    const hw::HardwareConfig planned =
        groups > 1 ? graph_run::in_region(loaded.config, regions.front()) : loaded.config;
    // The plan is made before the refusal too: a graph that cannot be placed says so first.
    const graph::Plan p = graph::plan_graph(g, a, planned);
    const graph::Summary s = graph::summarise(g, a);
    graph_run::RunOptions options;
    if (!plan) {  // every refusal before anything is printed or simulated
      graph_run::check_runnable(g, a, groups);
      options.seed = loaded.config.sim.seed;
      options.values = host_values(whole, path, input_files, flags.data_parallel);
      options.groups = groups;
      options.tensor_groups = flags.tensor_parallel;
      options.slices = slices;
      // Dynamic loss scaling: the scale starts at init unless given (a training loop gives
      // the last step's next/state/loss_scale).
      if (step.dynamic && !options.values.count(graph::kLossScaleState)) {
        runtime::Matrix init(1, 1);
        init.values[0] = float(step.dynamic->init);
        options.values[graph::kLossScaleState] = init;
      }
    }
    fmt::print("dojosim run{}: {} on {}\n", plan ? " --plan" : "", path, config_path);
    fmt::print("{}", graph::summary_text(g, s));
    if (flags.data_parallel > 1 && flags.tensor_parallel == 1)
      fmt::print(
          "data parallel: {} groups of {}, each with its own batch of the graph's; the plan is "
          "each group's\n",
          groups, graph_run::regions_text(regions));
    if (flags.tensor_parallel > 1 && flags.data_parallel == 1)
      fmt::print(
          "tensor parallel: {} groups of {}, the whole batch in each; split: {}; the plan is "
          "each group's\n",
          groups, graph_run::regions_text(regions), tp.text);
    if (flags.tensor_parallel > 1 && flags.data_parallel > 1)
      fmt::print(
          "data and tensor parallel: {} replicas, each with its own batch of the graph's, of {} "
          "tensor-parallel groups: {} groups of {} (a replica's groups in a row); split: {}; the "
          "plan is each group's\n",
          flags.data_parallel, flags.tensor_parallel, groups, graph_run::regions_text(regions),
          tp.text);
    fmt::print("{}", graph::plan_text(p));
    nlohmann::ordered_json j;
    j["workload"] = {{"graph", path}, {"name", g.name}, {"ops", s.ops}, {"flop", s.flop}};
    j["config"] = hw::to_json(loaded.config);
    if (flags.parallel_auto) j["parallel_choice"] = choice;
    j["plan"] = graph::plan_json(p);
    if (!plan) {
      std::unique_ptr<hw::TraceWriter> trace;
      if (!flags.trace_path.empty()) {
        trace =
            std::make_unique<hw::TraceWriter>(flags.trace_path, loaded.config.node.core.clock_ghz,
                                              int(loaded.config.mesh_width()), flags.trace_limit);
        options.trace = trace.get();
      }
      graph_run::GraphRun r;
      try {
        r = graph_run::run_graph(loaded.config, g, a, p, options);
      } catch (const graph::GraphError&) {
        throw;
      } catch (const std::runtime_error& e) {  // the machine stopped, or a result differs
        fmt::print(stderr, "dojosim run: {}\n", e.what());
        return kProgramFailed;
      }
      fmt::print("{}", graph_run::run_text(r, loaded.config));
      const bool training = flags.backward || !flags.optimizer.empty();
      // The batch in every data-parallel replica.
      const uint64_t samples = batch_of(g) * flags.data_parallel;
      const double clock = loaded.config.node.core.clock_ghz;
      if (training) fmt::print("{}", step_text(step_split(r, part), samples, clock));
      // Dynamic loss scaling: the scale the step used, and whether it skipped its updates (the
      // scale went down); a timing-only run has no values to tell.
      nlohmann::ordered_json scaling;
      if (step.dynamic) {
        const float used = options.values.at(graph::kLossScaleState).values.at(0);
        const auto next = r.outputs.find(std::string("next/") + graph::kLossScaleState);
        const bool known = loaded.config.sim.values && next != r.outputs.end();
        const bool skipped = known && next->second.values.at(0) < used;
        fmt::print("loss scale: {} (dynamic), updates {}{}\n", used,
                   !known    ? "skipped: unknown (timing only)"
                   : skipped ? "skipped: an overflow"
                             : "applied",
                   known ? fmt::format("; next scale {}", next->second.values.at(0)) : "");
        scaling = {{"scale", used}, {"dynamic", true}};
        if (known)
          scaling["skipped"] = skipped, scaling["next_scale"] = next->second.values.at(0);
        else
          scaling["skipped"] = "unknown";
      }
      if (trace && !finish_trace(*trace, flags.trace_path, flags.trace_limit)) return kUsage;
      if (!flags.svg_dir.empty()) {
        report::write_graph_svgs(flags.svg_dir, r, loaded.config);
        fmt::print("plot: {}/ops.svg\n", flags.svg_dir);
      }
      j["run"] = graph_run::run_json(r, loaded.config);
      if (training) {
        const StepSplit t = step_split(r, part);
        if (samples)
          j["run"]["step"]["samples"] = samples,
          j["run"]["step"]["samples_per_s"] =
              double(samples) * clock * 1e9 / double(std::max<uint64_t>(1, r.cycles));
        if (!scaling.is_null()) j["run"]["step"]["loss_scale"] = scaling;
        for (size_t i = 0; i < t.parts.size(); ++i)
          if (t.parts[i].ops || i != 2)
            j["run"]["step"][t.parts[i].name] = {{"ops", t.parts[i].ops},
                                                 {"cycles", t.parts[i].cycles},
                                                 {"kernel_cycles", t.parts[i].kernels},
                                                 {"move_cycles", t.parts[i].moves}};
      }
      if (!save_dir.empty())
        for (const auto& [name, m] : r.outputs) {
          const graph::Tensor& t = *whole.find_tensor(name);
          // A name may hold folders (a captured gradient is grad/WEIGHT): they are made.
          const std::filesystem::path file = std::filesystem::path(save_dir) / (name + ".npy");
          std::filesystem::create_directories(file.parent_path());
          // An output that differs between data-parallel replicas: every replica's, stacked.
          std::vector<uint64_t> shape(t.shape.begin(), t.shape.end());
          if (std::count(r.varying.begin(), r.varying.end(), name))
            shape.insert(shape.begin(), r.groups / r.tensor_groups);
          runtime::write_npy(file.string(), shape, m.values);
        }
    }
    if (!json_path.empty()) write_file(json_path, j.dump(1) + "\n");
    return kOk;
  } catch (const graph::GraphError& e) {
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  } catch (const hw::ConfigError& e) {
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  } catch (const std::runtime_error& e) {
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  }
  return kUsage;
}

}  // namespace dojosim::cli
