// SPDX-License-Identifier: MIT
// dojosim sweep: runs every point of a sweep spec in child processes (tools/sweep/);
// dojosim sweep merge: joins the outputs of its shards. Reference: docs/sweep.md.
#include <fmt/format.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include "tools/commands.h"
#include "tools/options.h"
#include "tools/sweep/merge.h"
#include "tools/sweep/points.h"
#include "tools/sweep/session.h"
#include "tools/sweep/spec.h"

namespace dojosim::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using sweep::Record;

namespace {

constexpr size_t kFailuresListed = 10;

// The plot flags, shared by sweep and merge.
struct PlotFlags {
  std::string y, x, lines;
  void add_to(po::options_description& opts) {
    opts.add_options()("plot", po::value<std::string>(&y),
                       "write summary.svg: this machine statistic ...")(
        "x", po::value<std::string>(&x),
        "... against this axis (a swept config key, or workload) ...")(
        "lines", po::value<std::string>(&lines), "... one line per value of this axis");
  }
  // The flags if given, else `fallback` (the spec's plot:). Empty y: no plot.
  std::optional<sweep::PlotSpec> resolve(const sweep::PlotSpec& fallback,
                                         const std::string& verb) const {
    if (y.empty() && (!x.empty() || !lines.empty())) {
      usage_error(verb, "--x and --lines go with --plot METRIC");
      return std::nullopt;
    }
    if (!y.empty() && x.empty()) {
      usage_error(verb, "--plot needs --x AXIS");
      return std::nullopt;
    }
    return y.empty() ? fallback : sweep::PlotSpec{y, x, lines};
  }
};

// "i/n", or SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (minus SLURM_ARRAY_TASK_MIN, so that
// --array=1-4 works too) when there is no flag.
std::optional<sweep::Shard> parse_shard(const std::string& flag, std::string& problem) {
  const auto number = [](const char* text, size_t& v) {
    if (!text || !*text) return false;
    char* end = nullptr;
    v = std::strtoull(text, &end, 10);
    return *end == '\0' && text[0] != '-';
  };
  sweep::Shard s;
  if (!flag.empty()) {
    const size_t slash = flag.find('/');
    if (slash == std::string::npos || !number(flag.substr(0, slash).c_str(), s.index) ||
        !number(flag.substr(slash + 1).c_str(), s.count) || s.count == 0 || s.index >= s.count) {
      problem = fmt::format("--shard '{}': expected I/N with 0 <= I < N, e.g. 0/4", flag);
      return std::nullopt;
    }
    return s;
  }
  const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
  const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
  if (!id || !count) return s;
  size_t min = 0;
  if (!number(id, s.index) || !number(count, s.count) || s.count == 0 ||
      (std::getenv("SLURM_ARRAY_TASK_MIN") && !number(std::getenv("SLURM_ARRAY_TASK_MIN"), min)) ||
      s.index < min || s.index - min >= s.count) {
    problem = fmt::format(
        "SLURM_ARRAY_TASK_ID={} SLURM_ARRAY_TASK_COUNT={}: not a shard (use --array=0-{{N-1}})", id,
        count);
    return std::nullopt;
  }
  s.index -= min;
  return s;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() &&
      s.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./:,@") ==
          std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

int cmd_sweep_merge(const std::vector<std::string>& args) {
  po::options_description opts(
      "dojosim sweep merge OUT_DIR SHARD_DIR... [--plot METRIC --x AXIS [--lines AXIS]]\n"
      "Joins the output directories of the shards of one sweep into OUT_DIR: results.jsonl and\n"
      "results.csv in the sweep's point order, and summary.svg if the spec or the flags ask.\n"
      "Exits 1 if some point is in no shard (the rest is still written), 2 if the shards come\n"
      "from different sweeps or disagree about a point.\n\n"
      "examples:\n"
      "  dojosim sweep merge out/all out/shard-0 out/shard-1 out/shard-2\n"
      "  dojosim sweep merge out/all out/shard-* --plot cycles --x noc.link_bytes_per_cycle\n\n"
      "options");
  std::vector<std::string> dirs;
  PlotFlags plot_flags;
  opts.add_options()("help,h", "show this help")(
      "dirs", po::value<std::vector<std::string>>(&dirs),
      "OUT_DIR, then the shard directories; also positional");
  plot_flags.add_to(opts);
  po::positional_options_description pos;
  pos.add("dirs", -1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "sweep merge")) return kUsage;
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kOk;
  }
  if (dirs.size() < 2)
    return usage_error("sweep merge", "expected OUT_DIR and at least one SHARD_DIR");
  const std::string out = dirs.front();
  dirs.erase(dirs.begin());
  try {
    sweep::Merged merged = sweep::merge_shards(dirs);
    for (const std::string& w : merged.warnings) fmt::print(stderr, "dojosim sweep merge: {}\n", w);
    const std::optional<sweep::PlotSpec> plot =
        plot_flags.resolve(merged.manifest.plot, "sweep merge");
    if (!plot) return kUsage;
    merged.manifest.plot = *plot;
    sweep::write_merged(merged, out);
    size_t failed = 0;
    for (const Record& r : merged.records) failed += r.value("status", "") != "ok";
    fmt::print(
        "dojosim sweep merge: {} of {} points from {} shard directories ({} failed) into {}\n",
        merged.records.size(), merged.manifest.ids.size(), dirs.size(), failed, out);
    if (!merged.missing.empty()) {
      fmt::print(stderr,
                 "dojosim sweep merge: {} points are in no shard, e.g. {}; rerun their shards\n",
                 merged.missing.size(), merged.missing.front());
      return kProgramFailed;
    }
    return kOk;
  } catch (const sweep::OutputError& e) {
    fmt::print(stderr, "dojosim sweep merge: {}\n", e.what());
  }
  return kUsage;
}

}  // namespace

int cmd_sweep(const std::vector<std::string>& args) {
  if (!args.empty() && args.front() == "merge")
    return cmd_sweep_merge({args.begin() + 1, args.end()});
  po::options_description opts(
      "dojosim sweep SPEC -o DIR [-j N] [--shard I/N] [--plot METRIC --x AXIS [--lines AXIS]]\n"
      "dojosim sweep merge OUT_DIR SHARD_DIR...   (dojosim sweep merge --help)\n"
      "Runs every point of a sweep spec (config axes x workloads, docs/sweep.md) as a child\n"
      "`dojosim run`, N at a time, and appends each result to DIR/results.jsonl and\n"
      "DIR/results.csv as it finishes. Run it again with the same DIR to resume: points already\n"
      "recorded are skipped. A failing point (bad value, trap, deadlock) is recorded with its\n"
      "error and the sweep goes on. Exit status: 0 all points ok, 1 some point failed, 2 bad spec\n"
      "or flags, 128+signal if interrupted.\n\n"
      "examples:\n"
      "  dojosim sweep examples/05-sweep/noc_mapping.yaml -o out/noc -j 2   # a spec: "
      "docs/sweep.md\n"
      "  dojosim sweep examples/05-sweep/noc_mapping.yaml -o out/noc --plot cycles --x "
      "noc.link_bytes_per_cycle --lines workload\n"
      "  dojosim sweep examples/05-sweep/noc_mapping.yaml -o out/shard-1 --shard 1/4   # on a "
      "cluster: docs/slurm.md\n"
      "  dojosim sweep examples/05-sweep/noc_mapping.yaml --dry-run   # the points and their "
      "commands\n\n"
      "options");
  std::string spec_path, out_dir, shard_flag;
  unsigned jobs = 1;
  bool keep_json = false, dry_run = false;
  double timeout = 0;
  PlotFlags plot_flags;
  opts.add_options()("help,h", "show this help")("spec", po::value<std::string>(&spec_path),
                                                 "the sweep spec (YAML); also the first argument")(
      "output,o", po::value<std::string>(&out_dir),
      "output directory (created; resumed if it exists)")(
      "jobs,j", po::value<unsigned>(&jobs)->default_value(1), "points run at once")(
      "shard", po::value<std::string>(&shard_flag),
      "run only points with index mod N == I (default: from SLURM_ARRAY_TASK_ID/COUNT)")(
      "keep-json", po::bool_switch(&keep_json),
      "keep each point's full statistics in DIR/json/ID.json")(
      "dry-run", po::bool_switch(&dry_run), "print the points and their commands, run nothing")(
      "timeout", po::value<double>(&timeout),
      "stop a point after this many host seconds and record it as timeout (default: the spec's "
      "timeout:, else none)");
  plot_flags.add_to(opts);
  po::positional_options_description pos;
  pos.add("spec", 1);
  po::variables_map vm;
  if (!parse_options(args, opts, pos, vm, "sweep")) return kUsage;
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kOk;
  }
  if (spec_path.empty())
    return usage_error("sweep", "missing the sweep spec (a YAML file, docs/sweep.md)");
  if (out_dir.empty() && !dry_run)
    return usage_error("sweep", "missing -o DIR (the output directory)");
  if (jobs < 1) return usage_error("sweep", "-j 0: run at least one point at a time");
  std::string problem;
  const std::optional<sweep::Shard> shard = parse_shard(shard_flag, problem);
  if (!shard) return usage_error("sweep", problem);

  try {
    const sweep::Spec spec = sweep::load_spec(spec_path);
    const std::optional<sweep::PlotSpec> plot = plot_flags.resolve(spec.plot, "sweep");
    if (!plot) return kUsage;
    if (!plot->empty())
      if (const std::string p = sweep::plot_problem(spec, *plot); !p.empty())
        return usage_error("sweep", "--" + p);
    const std::vector<sweep::Point> points = sweep::expand(spec);
    std::vector<const sweep::Point*> mine;
    for (const sweep::Point& p : points)
      if (shard->has(p)) mine.push_back(&p);

    if (dry_run) {
      for (const sweep::Point* p : mine) {
        fmt::print("{} {} {}\n  dojosim", p->index, p->id, sweep::describe(spec, *p));
        for (const std::string& a : sweep::run_args(spec, *p, "OUT/json/" + p->id + ".json"))
          fmt::print(" {}", shell_quote(a));
        fmt::print("\n");
      }
      fmt::print("{} of {} points\n", mine.size(), points.size());
      return kOk;
    }

    sweep::SessionOptions options;
    options.dir = out_dir;
    options.shard = *shard;
    options.plot = *plot;
    options.plot_from_flags = !plot_flags.y.empty();
    options.run.dojosim = fs::read_symlink("/proc/self/exe").string();
    options.run.jobs = jobs;
    options.run.keep_json = keep_json;
    if (vm.count("timeout") && !(timeout > 0))
      return usage_error("sweep",
                         fmt::format("--timeout {}: expected host seconds above 0", timeout));
    options.run.timeout_seconds = vm.count("timeout") ? timeout : spec.timeout_seconds;
    options.run.progress = ::isatty(STDERR_FILENO);
    const sweep::SessionResult r = sweep::run_session(spec, points, options);
    for (const std::string& w : r.warnings) fmt::print(stderr, "dojosim sweep: {}\n", w);
    if (!r.error.empty()) {
      fmt::print(stderr, "dojosim sweep: {}\n", r.error);
      return kUsage;
    }

    fmt::print(
        "dojosim sweep: {} points{}: {} run now in {:.1f} s, {} done before; {} ok, {} "
        "failed, {} to go\n",
        r.shard_points,
        shard->count == 1
            ? ""
            : fmt::format(" of {} (shard {}/{})", points.size(), shard->index, shard->count),
        r.run.recorded, r.seconds, r.done_before, r.ok, r.failed, r.shard_points - r.ok - r.failed);
    for (size_t i = 0; i < r.run.failures.size() && i < kFailuresListed; ++i) {
      const Record& f = r.run.failures[i];
      fmt::print("  {} {}: {}: {}\n", f["id"].get<std::string>(),
                 sweep::describe(spec, points[f["index"].get<size_t>()]),
                 f["status"].get<std::string>(), f["error"].get<std::string>());
    }
    if (r.run.failures.size() > kFailuresListed)
      fmt::print("  ... and {} more (results.csv, logs/ID.err)\n",
                 r.run.failures.size() - kFailuresListed);
    fmt::print("results: {}/results.csv\n", out_dir);
    if (r.run.signal) {
      fmt::print(stderr,
                 "dojosim sweep: interrupted by signal {}; run again with the same -o to go on\n",
                 r.run.signal);
      return 128 + r.run.signal;
    }
    if (r.run.interrupted)
      fmt::print(stderr,
                 "dojosim sweep: {} points were stopped by a signal and not recorded; run again to "
                 "retry them\n",
                 r.run.interrupted);
    return r.failed || r.run.interrupted ? kProgramFailed : kOk;
  } catch (const std::exception& e) {  // SpecError, OutputError, a child that cannot start
    fmt::print(stderr, "dojosim sweep: {}\n", e.what());
  }
  return kUsage;
}

}  // namespace dojosim::cli
