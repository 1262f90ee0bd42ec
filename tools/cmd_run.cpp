// SPDX-License-Identifier: MIT
#include <fmt/format.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "hw/config/config_io.h"
#include "hw/config/derived.h"
#include "hw/config/machine_params.h"
#include "hw/machine/host_profile.h"
#include "hw/machine/machine.h"
#include "hw/machine/ranks.h"
#include "hw/node/node.h"
#include "hw/stats/run_report.h"
#include "hw/stats/stats.h"
#include "hw/trace/trace.h"
#include "isa/assembler.h"
#include "isa/elf_loader.h"
#include "isa/node_runner.h"
#include "isa/timing.h"
#include "runtime/graph/autodiff.h"
#include "runtime/graph/io.h"
#include "tools/commands.h"
#include "tools/data_files.h"
#include "tools/host_memory.h"
#include "tools/options.h"
#include "tools/output_file.h"
#include "tools/progress.h"
#include "tools/report/mesh_svg.h"
#include "tools/workload.h"
#include "tools/workload_collective.h"
#include "tools/workload_file.h"
#include "tools/workload_graph.h"

namespace dojosim::cli {

namespace po = boost::program_options;

namespace {

// The run report (hw/stats/run_report.h) as the summary's lines (docs/outputs.md).
void print_report(const hw::RunReport& r, double clock_ghz) {
  fmt::print("cycles {} ({:.3f} us at {:.1f} GHz), instructions {}\n", r.cycles, r.seconds * 1e6,
             clock_ghz, r.instructions);
  fmt::print("matrix FLOP {:.4g}: {:.4g} FLOP/s, {:.1f}% of the bf16 peak {:.4g} FLOP/s\n", r.flop,
             r.flop_per_s, r.utilisation_pct, r.peak_flop_per_s);
  fmt::print("energy {:.4g} J, average power {:.1f} W over the run (estimate, docs/outputs.md)\n",
             r.energy_j, r.power_w);
  // Where every thread's cycles went, summed over all threads.
  std::string split = "time split:";
  for (int b = 0; b < hw::kSplitBuckets; ++b)
    split += fmt::format(
        "{} {} {:.1f}%", b ? "," : "",
        b == hw::kSplitDrain ? std::string_view("other/drain") : hw::split_bucket_name(b),
        r.pct(b));
  fmt::print("{}\n", split);
}

}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  po::options_description opts(
      "dojosim run --config FILE --program PROGRAM [options]\n"
      "Builds the machine a config describes (a die or a whole tile), loads PROGRAM on every\n"
      "usable node (each finds its part from its coordinates) and runs it to the end.\n\n"
      "examples:\n"
      "  dojosim run --config configs/tiny.yaml --program kernels/asm/dot.s\n"
      "  dojosim run --config configs/d1.yaml --program kernels/asm/peak_mma.s --set "
      "noc.routing=yx --json out.json\n"
      "  dojosim run --config configs/tiny.yaml --program kernels/asm/ring_push.s --trace "
      "ring.json\n"
      "  dojosim run --config configs/d1.yaml --workload matmul:M=1024,N=1024,K=1024,dtype=bf16\n"
      "  (open the trace in https://ui.perfetto.dev or chrome://tracing)\n\n"
      "options");
  std::string config_path, program, workload, json_path, trace_path, svg_dir, values, inputs,
      save_dir;
  uint64_t trace_limit = 0;
  uint32_t batch = 1;
  std::vector<std::string> sets;
  std::string loss, graph_out, optimizer, parallel;
  std::string loss_scale;
  uint32_t data_parallel = 1, tensor_parallel = 1;
  unsigned threads = 1, host_threads = 0;
  opts.add_options()("help,h", "show this help")(
      "config,c", po::value<std::string>(&config_path),
      "hardware config: a YAML file, or a name in configs/ (d1, tile, tray, tiny)")(
      "program,p", po::value<std::string>(&program), "assembly (.s) or ELF run on every node")(
      "workload,w", po::value<std::string>(&workload),
      "a runtime kernel instead of a program: "
      "matmul:M=..,N=..,K=..[,dtype=bf16|cfp8|fp32][,mapping=auto|summa|1d|1d-cols|cannon|ksplit][,"
      "placement=auto|sram|host]"
      "[,bias=1][,kchunk=N][,check=auto|exact|f64|off], "
      "conv2d:N=..,H=..,W=..,C=..,K=..,R=..,S=..[,stride=..]"
      "[,pad=..][,dilation=..][,...], a collective: allreduce|reduce_scatter|all_gather|broadcast:"
      "bytes=..[,dtype=bf16|fp32][,algo=auto|ring|2d|halving-doubling|hierarchical][,group=all|"
      "X0:Y0..X1:Y1|X:Y+X:Y+..][,root=X:Y][,check=..] (docs/collectives.md), or a workload file: "
      "workloads/resnet50.csv (SCALE-Sim "
      "topology), "
      "workloads/transformer_block.yaml (docs/runtime.md), or a graph: "
      "workloads/gpt2_block.graph.yaml (docs/graphs.md)")(
      "backward",
      "a graph workload: append its backward (autodiff, docs/graphs.md \"Training\"): every "
      "weight's gradient becomes an output grad/WEIGHT")(
      "optimizer", po::value<std::string>(&optimizer),
      "a graph workload: the training step: the backward (as --backward), then every weight's "
      "update: sgd:lr=..[,momentum=..][,weight_decay=..] or adamw:lr=..[,beta1=..][,beta2=..]"
      "[,epsilon=..][,weight_decay=..][,step=..]; outputs next/WEIGHT and next/state/WEIGHT/..")(
      "loss", po::value<std::string>(&loss),
      "with --backward: the tensor the backward starts from (default: the graph's one output)")(
      "loss-scale", po::value<std::string>(&loss_scale),
      "with --backward: start the backward from this multiple of d loss (static loss scaling; "
      "the training step divides it out of every gradient before the update); or, with "
      "--optimizer, dynamic[:init=65536][,growth=2][,backoff=0.5][,interval=2000]: PyTorch's "
      "GradScaler on the machine: a step whose gradients overflow skips its updates and backs "
      "the scale off, interval good steps grow it (state/loss_scale, "
      "state/loss_scale_good_steps)")(
      "data-parallel", po::value<uint32_t>(&data_parallel),
      "with --optimizer: the training step on this many equal rectangles of the mesh at once "
      "(docs/graphs.md \"Data parallel\"), each with its own batch of the graph's size; "
      "gradients averaged over them by an all-reduce before the updates")(
      "tensor-parallel", po::value<uint32_t>(&tensor_parallel),
      "the graph's pairs of linear layers split over this many equal rectangles of the mesh "
      "(docs/graphs.md \"Tensor parallel\"): each holds the first layer's output columns and "
      "the second's input rows of its part, the whole batch, and sums its partial products "
      "with the others' by an all-reduce; forward, --backward or a training step; with "
      "--data-parallel R, each of the R replicas is this many groups")(
      "parallel", po::value<std::string>(&parallel),
      "auto: with --optimizer, choose --data-parallel and --tensor-parallel by estimate (every "
      "placement the mesh and the graph allow, up to 64 groups, planned; the most samples/s), "
      "print the table, run the chosen one")(
      "graph-out", po::value<std::string>(&graph_out),
      "a graph workload: write the graph that is planned and run (with --backward, forward and "
      "backward) here, YAML or .json")(
      "plan",
      "a graph workload: load, validate, plan (a mapping per op, a placement per tensor) and "
      "print its summary and per-op plan (--json: also as JSON); no simulation")(
      "inputs", po::value<std::string>(&inputs),
      "a matmul or conv2d workload's operands from .npy files instead of random values: "
      "A=a.npy,B=b.npy[,bias=bias.npy] (matmul), x=x.npy,w=w.npy[,bias=..] (conv2d); a graph's "
      "input and weight tensors by name (TENSOR=t.npy,..., over their data files)")(
      "save", po::value<std::string>(&save_dir),
      "a matmul or conv2d workload: save its operands and result as .npy files in this folder "
      "(A, B, C or x, w, y; bias); a graph: its outputs (tensors no op reads), NAME.npy")(
      "batch", po::value<uint32_t>(&batch)->default_value(1),
      "images per layer of a topology CSV workload file")(
      "threads,t", po::value<unsigned>(&threads)->default_value(1), "threads started per node")(
      "host-threads", po::value<unsigned>(&host_threads),
      "host threads that run the simulation (default 1; results do not depend on it): "
      "--set sim.host_threads=N")(
      "host-profile",
      "at the end, print on stderr where the host's time went: node activations (shared by the "
      "host threads), the hand-over after each round, the fabric's drains (docs/parallel.md)")(
      "set", po::value<std::vector<std::string>>(&sets)->composing(),
      "override a config key: --set noc.link_bytes_per_cycle=128 (repeatable)")(
      "values", po::value<std::string>(&values),
      "on|off: off runs timing only (sim.values = off): vector and matrix arithmetic skipped, "
      "same cycles, result checks skipped (docs/timing.md)")(
      "json", po::value<std::string>(&json_path), "write the resolved config and statistics here")(
      "trace", po::value<std::string>(&trace_path),
      "write a timeline (Chrome/Perfetto JSON: one track per node thread, per link, per DIP; a "
      "graph workload adds tracks of its ops, kernels and moves)")(
      "svg", po::value<std::string>(&svg_dir),
      "write utilisation.svg (per-node heat map), links.svg (link load) and roofline.svg here; "
      "for a graph workload, ops.svg (the time of each op: moves and kernels)")(
      "trace-limit", po::value<uint64_t>(&trace_limit)->default_value(2000000),
      "stop adding trace events after this many (the trace says it was cut)");
  po::positional_options_description pos;
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "run")) return kUsage;
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kOk;
  }
  if (config_path.empty()) return usage_error("run", "missing --config (e.g. configs/tiny.yaml)");
  // Printed however the run ends, after its own output.
  struct PrintHostProfile {
    ~PrintHostProfile() {
      if (hw::host_profile().on)
        fmt::print(stderr, "{}", hw::format_host_profile(hw::host_profile()));
    }
  } print_host_profile;
  hw::host_profile().on = vm.count("host-profile") > 0;
  if (vm.count("host-threads")) {
    const unsigned most = 4 * std::max(1u, std::thread::hardware_concurrency());
    if (host_threads == 0 || host_threads > most)
      return usage_error("run", fmt::format("--host-threads {}: give 1 to {} (4 x this host's "
                                            "cores); --set sim.host_threads=0 for all cores",
                                            host_threads, most));
    sets.push_back(fmt::format("sim.host_threads={}", host_threads));
  }
  if (!values.empty()) {
    if (values != "on" && values != "off")
      return usage_error("run", fmt::format("--values '{}': expected on or off", values));
    sets.push_back("sim.values=" + values);  // the same as --set sim.values=..., given last
  }
  if (program.empty() == workload.empty())
    return usage_error("run",
                       "give one of --program (an assembly or ELF file) or --workload (e.g. "
                       "matmul:M=512,N=512,K=512)");
  // Configs and workload files named by bare name come from configs/ and workloads/ (data_files.h).
  try {
    config_path = find_data_file(DataKind::Config, config_path);
    if (is_workload_file(workload))
      workload = find_data_file(DataKind::Workload, workload);
    else if (!workload.empty() && workload.find(':') == std::string::npos)
      // `--workload transformer_block` if there is such a file, else an op for parse_workload
      if (const std::string file = try_find_data_file(DataKind::Workload, workload); !file.empty())
        workload = file;
  } catch (const std::runtime_error& e) {
    fmt::print(stderr, "dojosim run: {}\n", e.what());
    return kUsage;
  }
  const bool graph_file = !workload.empty() && runtime::graph::is_graph_file(workload);
  // MPI ranks (docs/parallel.md): rank 0 writes --json; the other files are not split yet.
  if (hw::ranks().size() > 1) {
    const std::string ranks = fmt::format("over {} MPI ranks", hw::ranks().size());
    if (is_workload_file(workload) && !graph_file)
      return usage_error("run", fmt::format("--workload {} {}: a workload file runs its layers in "
                                            "processes of their own; run it as one process",
                                            workload, ranks));
    for (const char* flag : {"trace", "svg", "save", "graph-out"})
      if (vm.count(flag))
        return usage_error("run", fmt::format("--{} {}: its files are written by one process; "
                                              "run it as one process",
                                              flag, ranks));
  }
  for (const char* flag : {"plan", "backward", "optimizer", "loss", "loss-scale", "data-parallel",
                           "tensor-parallel", "parallel", "graph-out"})
    if (vm.count(flag) && !graph_file)
      return usage_error(
          "run", fmt::format("--{} is for a graph workload (--workload FILE.graph.yaml)", flag));
  if (vm.count("loss") && !vm.count("backward") && !vm.count("optimizer"))
    return usage_error("run",
                       "--loss names where the backward starts: give --backward or --optimizer");
  if (vm.count("loss-scale") && !vm.count("backward") && !vm.count("optimizer"))
    return usage_error("run", "--loss-scale scales the backward: give --backward or --optimizer");
  if (vm.count("loss-scale")) {
    try {
      if (runtime::graph::parse_loss_scale(loss_scale).dynamic && !vm.count("optimizer"))
        return usage_error("run",
                           fmt::format("--loss-scale {}: dynamic loss scaling skips updates and "
                                       "changes the scale: give --optimizer",
                                       loss_scale));
    } catch (const runtime::graph::GraphError& e) {
      return usage_error("run", e.what());
    }
  }
  if (vm.count("data-parallel") && !vm.count("optimizer"))
    return usage_error("run", "--data-parallel runs replicas of a training step: give --optimizer");
  if (vm.count("data-parallel") && data_parallel == 0)
    return usage_error("run", "--data-parallel 0: expected at least 1 group");
  if (vm.count("tensor-parallel") && tensor_parallel == 0)
    return usage_error("run", "--tensor-parallel 0: expected at least 1 group");
  if (vm.count("parallel") && parallel != "auto")
    return usage_error("run", fmt::format("--parallel {}: expected auto", parallel));
  if (vm.count("parallel") && !vm.count("optimizer"))
    return usage_error("run", "--parallel auto places a training step: give --optimizer");
  if (vm.count("parallel") && (vm.count("data-parallel") || vm.count("tensor-parallel")))
    return usage_error("run",
                       "--parallel auto chooses --data-parallel and --tensor-parallel: give "
                       "either, not both");

  if (!graph_out.empty())
    if (const std::string why = cannot_write(graph_out); !why.empty())
      return usage_error("run", why);
  if (!vm["batch"].defaulted() && !(!workload.empty() && is_workload_file(workload) && !graph_file))
    return usage_error("run",
                       fmt::format("--batch {}: only a topology CSV workload file has a batch "
                                   "(a matmul has none; a conv2d takes N=)",
                                   batch));
  // NOTE: a workload run's machine lives inside the runtime, which returns its report but not
  // the statistics tree the plots are drawn from: refused rather than silently ignored.
  if (!workload.empty() && !graph_file && !is_collective_workload(workload) && !trace_path.empty())
    return usage_error("run",
                       "--trace records a --program run, a graph workload (FILE.graph.yaml) or "
                       "a collective; a matmul or conv2d workload does not keep one");
  if (graph_file && vm.count("plan") && !trace_path.empty())
    return usage_error("run", "--plan does not run the graph: --trace needs a run");
  if (!workload.empty() && !graph_file && !svg_dir.empty())
    return usage_error(
        "run",
        "--svg draws a --program run's statistics or a graph run's ops; a matmul, "
        "conv2d or collective workload does not keep them (its report is in --json)");
  if (graph_file && vm.count("plan") && !svg_dir.empty())
    return usage_error("run", "--plan does not run the graph: --svg needs a run");
  // Output files are checked before the run: a typo in a folder costs a second, not the run.
  if (!json_path.empty())
    if (const std::string why = cannot_write(json_path); !why.empty())
      return usage_error("run", why);
  const bool kernel_workload = !workload.empty() && !is_workload_file(workload);
  if ((vm.count("inputs") || vm.count("save")) && !kernel_workload && !graph_file)
    return usage_error("run", fmt::format("--{} is for a matmul, conv2d or graph workload "
                                          "(--workload matmul:..., conv2d:... or FILE.graph.yaml)",
                                          vm.count("inputs") ? "inputs" : "save"));
  if (graph_file && vm.count("plan") && (vm.count("inputs") || vm.count("save")))
    return usage_error("run", "--plan does not run the graph: --inputs and --save need a run");
  // Output folders too, before the run.
  if (!svg_dir.empty())
    if (const std::string why =
            cannot_make_folder("--svg", svg_dir, graph_file ? "ops.svg" : "roofline.svg");
        !why.empty())
      return usage_error("run", why);
  if (!save_dir.empty())
    if (const std::string why = cannot_make_folder("--save", save_dir, "C.npy"); !why.empty())
      return usage_error("run", why);
  if (graph_file)
    return run_graph_file(
        workload, {vm.count("plan") > 0, config_path, sets, json_path, save_dir, inputs, trace_path,
                   trace_limit, svg_dir, vm.count("backward") > 0, optimizer, loss, loss_scale,
                   data_parallel, graph_out, tensor_parallel, vm.count("parallel") > 0});
  if (!workload.empty()) {
    try {
      if (is_workload_file(workload))
        return run_workload_file(workload, batch, config_path, sets, json_path);
      if (is_collective_workload(workload)) {
        if (vm.count("inputs") || vm.count("save"))
          return usage_error("run",
                             "--inputs and --save are for a matmul or conv2d workload; a "
                             "collective makes its own vectors");
        return run_collective_workload(workload, hw::load_config(config_path, sets), config_path,
                                       json_path, trace_path, trace_limit);
      }
      WorkloadSpec spec = parse_workload(workload);
      if (vm.count("inputs")) try {
          parse_workload_inputs(inputs, spec);
        } catch (const std::invalid_argument& e) {
          return usage_error("run", e.what());
        }
      spec.save_dir = save_dir;
      const hw::LoadedConfig loaded = hw::load_config(config_path, sets);
      return run_workload(spec, loaded, config_path, json_path);
    } catch (const hw::ConfigError& e) {
      fmt::print(stderr, "dojosim run: {}\n", e.what());
    } catch (const std::invalid_argument& e) {
      fmt::print(stderr, "dojosim run: --workload: {}\n", e.what());
    } catch (const std::runtime_error& e) {
      fmt::print(stderr, "dojosim run: {}\n", e.what());
    }
    return kUsage;
  }

  try {
    const hw::LoadedConfig loaded = hw::load_config(config_path, sets);
    const hw::HardwareConfig& config = loaded.config;
    hw::MachineParams params = hw::machine_params(config);
    if (threads < 1 || threads > params.core.threads)
      return usage_error("run", fmt::format("--threads {}: a node has {} hardware threads", threads,
                                            params.core.threads));
    params.threads = threads;
    const isa::Program image =
        isa::is_elf_file(program) ? isa::load_elf(program) : isa::assemble_file(program);
    // A machine too large for the host is refused with the figure, before it is built.
    const uint64_t nodes = hw::usable_nodes(config, hw::Scale::Machine);
    if (const std::string why = host_memory_problem(
            hw::host_bytes_estimate(config, threads, image.end_address()),
            fmt::format("{} nodes, {} thread{} each", nodes, threads, threads == 1 ? "" : "s"));
        !why.empty()) {
      fmt::print(stderr, "dojosim run: {}\n", why);
      return kOutOfMemory;
    }
    hw::Machine machine(params, &std::cout);
    machine.load(image);
    std::unique_ptr<hw::TraceWriter> trace;
    if (!trace_path.empty()) {
      trace = std::make_unique<hw::TraceWriter>(trace_path, params.core.clock_ghz, params.width,
                                                trace_limit);
      machine.set_trace(trace.get());
    }
    Progress progress(fmt::format("dojosim run {}", program));
    machine.set_progress([&](uint64_t cycle) { progress.update(cycle); });
    const hw::MachineOutcome outcome = machine.run();
    progress.done();

    const hw::StatsNode stats = hw::collect_stats(machine, config);
    const hw::RunReport report = hw::run_report(stats, config);
    fmt::print("dojosim run: {} on {} ({}x{} mesh, {} nodes), {} thread{} per node\n", program,
               config_path, params.width, params.height, machine.node_count(), threads,
               threads == 1 ? "" : "s");
    print_report(report, params.core.clock_ghz);

    int status = kOk;
    if (trace && !finish_trace(*trace, trace_path, trace_limit)) status = kUsage;
    if (!svg_dir.empty()) {
      report::write_run_svgs(svg_dir, stats, config);
      fmt::print("plots: {0}/utilisation.svg, {0}/links.svg, {0}/roofline.svg\n", svg_dir);
    }
    if (!json_path.empty()) {
      nlohmann::ordered_json j;
      j["config"] = hw::to_json(config);
      j["report"] = hw::to_json(report);
      j["stats"] = hw::to_json(stats);
      write_file(json_path, j.dump(1) + "\n");
    }
    if (status != kOk) return status;
    switch (outcome) {
      case hw::MachineOutcome::Finished: {
        // Every thread that exited non-zero, by node and thread (the first few).
        constexpr size_t kListed = 5;
        std::vector<std::string> failed;
        size_t count = 0;
        for (const hw::NodeResult& r : machine.results())
          for (size_t t = 0; t < r.exit_codes.size(); ++t)
            if (r.exit_codes[t] != 0 && ++count <= kListed)
              failed.push_back(fmt::format("node ({},{}) thread {} exited with code {}", r.at.x,
                                           r.at.y, t, r.exit_codes[t]));
        if (count == 0) return kOk;
        std::string line = failed.front();
        for (size_t i = 1; i < failed.size(); ++i) line += "; " + failed[i];
        if (count > failed.size()) line += fmt::format("; and {} more", count - failed.size());
        fmt::print(stderr, "dojosim run: {}\n", line);
        return kProgramFailed;
      }
      case hw::MachineOutcome::Trapped:
        fmt::print(stderr, "dojosim run: {}\n", machine.message());
        return kTrapped;
      case hw::MachineOutcome::NeedsValues:
        fmt::print(stderr, "dojosim run: {}\n", machine.message());
        return kNeedsValues;
      case hw::MachineOutcome::Deadlock:
      case hw::MachineOutcome::CycleLimit:
      case hw::MachineOutcome::TimeLimit:
        fmt::print(stderr, "dojosim run: {}\n", machine.message());
        return kHung;
    }
  } catch (const hw::ConfigError& e) {
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  } catch (const isa::AsmError& e) {
    fmt::print(stderr, "{}\n", e.what());
  } catch (const isa::LoadError& e) {
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  } catch (const std::invalid_argument& e) {  // a machine the config cannot build
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  } catch (const std::runtime_error& e) {  // an output file that cannot be written
    fmt::print(stderr, "dojosim run: {}\n", e.what());
  }
  return kUsage;
}

}  // namespace dojosim::cli
