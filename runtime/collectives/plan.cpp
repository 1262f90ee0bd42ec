// SPDX-License-Identifier: MIT
// The algorithm table, groups, planning with the estimate of every algorithm, and the bound.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <stdexcept>

#include "hw/config/derived.h"
#include "hw/config/machine_params.h"
#include "runtime/collectives/kernel.h"
#include "runtime/collectives/schedule.h"

namespace dojosim::runtime::collectives {

#define DOJOSIM_COLLECTIVE_ALGORITHM(name, id, summary) \
  Schedule build_##id(const BuildInput& in);            \
  const char* file_##id();
#include "runtime/collectives/algorithms.def"
#undef DOJOSIM_COLLECTIVE_ALGORITHM

const std::vector<AlgorithmEntry>& algorithm_registry() {
  static const std::vector<AlgorithmEntry> registry = {
#define DOJOSIM_COLLECTIVE_ALGORITHM(name, id, summary) {name, summary, build_##id, file_##id()},
#include "runtime/collectives/algorithms.def"
#undef DOJOSIM_COLLECTIVE_ALGORITHM
  };
  return registry;
}

std::string algorithm_reference_markdown() {
  std::string md = "| algo | what it does | file |\n|---|---|---|\n";
  for (const AlgorithmEntry& a : algorithm_registry()) {
    const std::string file = a.file;
    md += fmt::format("| `{}` | {} | `runtime/collectives/algorithms/{}` |\n", a.name, a.summary,
                      file.substr(file.find_last_of('/') + 1));
  }
  return md;
}

std::string_view collective_name(Collective c) {
  switch (c) {
    case Collective::AllReduce:
      return "allreduce";
    case Collective::ReduceScatter:
      return "reduce_scatter";
    case Collective::AllGather:
      return "all_gather";
    case Collective::Broadcast:
      return "broadcast";
  }
  return "?";
}

double bus_factor(Collective c, uint32_t members) {
  const double n = members;
  return c == Collective::AllReduce   ? 2 * (n - 1) / n
         : c == Collective::Broadcast ? 1.0
                                      : (n - 1) / n;
}

namespace {

hw::Coord parse_coord(std::string_view text, std::string_view whole) {
  const size_t colon = text.find(':');
  int v[2] = {-1, -1};
  if (colon != std::string_view::npos) {
    std::string_view parts[2] = {text.substr(0, colon), text.substr(colon + 1)};
    for (int i = 0; i < 2; ++i) {
      if (parts[i].empty() || parts[i].size() > 6 ||
          !std::all_of(parts[i].begin(), parts[i].end(),
                       [](char c) { return c >= '0' && c <= '9'; }))
        break;
      v[i] = std::stoi(std::string(parts[i]));
    }
  }
  if (v[0] < 0 || v[1] < 0)
    throw std::invalid_argument(
        fmt::format("group={}: '{}' is not a node X:Y (groups: all, X0:Y0..X1:Y1, or X:Y+X:Y+...)",
                    whole, text));
  return {v[0], v[1]};
}

}  // namespace

Group parse_group(const hw::HardwareConfig& config, std::string_view text) {
  Group g;
  g.text = std::string(text);
  const auto add = [&](hw::Coord c) {
    if (c.x >= static_cast<int>(config.mesh_width()) ||
        c.y >= static_cast<int>(config.mesh_height()))
      throw std::invalid_argument(fmt::format("group={}: node {}:{} is outside the {}x{} mesh",
                                              text, c.x, c.y, config.mesh_width(),
                                              config.mesh_height()));
    if (config.is_disabled(c))
      throw std::invalid_argument(
          fmt::format("group={}: node {}:{} is disabled (die.disabled)", text, c.x, c.y));
    for (hw::Coord m : g.members)
      if (m == c)
        throw std::invalid_argument(
            fmt::format("group={}: node {}:{} is named twice", text, c.x, c.y));
    g.members.push_back(c);
  };
  if (text == "all") {
    for (int y = 0; y < static_cast<int>(config.mesh_height()); ++y)
      for (int x = 0; x < static_cast<int>(config.mesh_width()); ++x)
        if (!config.is_disabled({x, y})) g.members.push_back({x, y});
  } else if (const size_t dots = text.find(".."); dots != std::string_view::npos) {
    const hw::Coord a = parse_coord(text.substr(0, dots), text),
                    b = parse_coord(text.substr(dots + 2), text);
    if (b.x < a.x || b.y < a.y)
      throw std::invalid_argument(fmt::format(
          "group={}: the rectangle's second corner must not lie west or north of the first", text));
    for (int y = a.y; y <= b.y; ++y)
      for (int x = a.x; x <= b.x; ++x) add({x, y});
  } else if (!text.empty()) {
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('+', start);
      if (end == std::string_view::npos) end = text.size();
      add(parse_coord(text.substr(start, end - start), text));
      start = end + 1;
    }
  }
  if (g.members.size() < 2)
    throw std::invalid_argument(
        fmt::format("group={}: {} member{}: a collective needs at least two", text,
                    g.members.size(), g.members.size() == 1 ? "" : "s"));
  return g;
}

namespace {

// The estimate (docs/collectives.md): each member's rounds one after another; a transfer leaves
// when its sender has finished the round before, its member's sends in one round share the
// injection link, it arrives after a fixed step cost, the hops and its bytes at link speed (the
// die-edge share on a die crossing), and a reduce then adds at the SIMD width.
constexpr double kStepCycles = 30;  // ours: reading a step, waking from swait, issuing the push

double model_cycles(const hw::HardwareConfig& config, const CollectiveProblem& problem,
                    const Schedule& s) {
  const hw::NocParams noc = hw::noc_params(config);
  const double eb = element_bytes(problem.dtype);
  const uint32_t n = static_cast<uint32_t>(problem.group.members.size());
  std::vector<double> ready(n, 0), done(n, 0), injected(n, 0);
  size_t i = 0;
  while (i < s.transfers.size()) {
    const uint32_t round = s.transfers[i].round;
    std::fill(injected.begin(), injected.end(), 0);
    done = ready;
    for (; i < s.transfers.size() && s.transfers[i].round == round; ++i) {
      const Transfer& t = s.transfers[i];
      const hw::Coord a = problem.group.members[t.from], b = problem.group.members[t.to];
      const double bytes = std::ceil(double(s.elements(t.first, t.last)) * eb / 64) * 64;
      const bool edge = config.die_of(a) != config.die_of(b);
      // Between tiles of a system the tile edge is the narrow, slow crossing.
      const bool tile = noc.tile_w > 0 && (a.x / noc.tile_w != b.x / noc.tile_w ||
                                           a.y / noc.tile_h != b.y / noc.tile_h);
      const double width = edge ? std::min<double>(noc.link_bytes_per_cycle,
                                                   tile ? noc.tile_edge_link_bytes_per_cycle
                                                        : noc.edge_link_bytes_per_cycle)
                                : noc.link_bytes_per_cycle;
      const double hops = std::abs(a.x - b.x) + std::abs(a.y - b.y);
      injected[t.from] += bytes;
      const double arrive = ready[t.from] + kStepCycles + hops * noc.router_latency +
                            (tile   ? noc.tile_edge_latency
                             : edge ? noc.edge_latency
                                    : 0) +
                            std::max(injected[t.from] / noc.link_bytes_per_cycle, bytes / width);
      const double add = t.reduce ? bytes / config.node.core.vlen_bytes : 0;
      done[t.to] = std::max(done[t.to], arrive + add);
    }
    ready = done;
  }
  return *std::max_element(ready.begin(), ready.end());
}

}  // namespace

CollectivePlan::CollectivePlan(const hw::HardwareConfig& config, const CollectiveProblem& problem)
    : problem_(problem) {
  const uint32_t n = members();
  if (problem.dtype != DType::Bf16 && problem.dtype != DType::Fp32)
    throw std::invalid_argument(
        fmt::format("dtype={}: collectives sum bf16 or fp32", dtype_name(problem.dtype)));
  if (n < 2) throw std::invalid_argument("a collective needs a group of at least two members");
  count_ = problem.bytes / element_bytes(problem.dtype) / n;
  if (!count_)
    throw std::invalid_argument(
        fmt::format("bytes={}: less than one {} element for each of the {} members", problem.bytes,
                    dtype_name(problem.dtype), n));
  if (problem.root >= n)
    throw std::invalid_argument(fmt::format("root: member {} of {}", problem.root, n));
  std::string names;
  bool known = problem.algorithm == "auto";
  for (const AlgorithmEntry& a : algorithm_registry()) {
    names += fmt::format("{}{}", names.empty() ? "" : ", ", a.name);
    known |= problem.algorithm == a.name;
  }
  if (!known)
    throw std::invalid_argument(
        fmt::format("algo={}: expected one of {}, auto", problem.algorithm, names));

  std::vector<std::unique_ptr<Schedule>> built;
  for (const AlgorithmEntry& a : algorithm_registry()) {
    AlgorithmEstimate e{a.name, false, "", 0, 0};
    try {
      auto s = std::make_unique<Schedule>(a.build({config, problem_}));
      s->finish(count_, n, 64 / element_bytes(problem.dtype));
      e.applies = true;
      e.cycles = model_cycles(config, problem_, *s);
      e.rounds = s->rounds();
      built.push_back(std::move(s));
    } catch (const std::invalid_argument& why) {
      e.why = why.what();
      built.push_back(nullptr);
    }
    estimates_.push_back(e);
  }
  size_t pick = estimates_.size();
  if (problem.algorithm == "auto") {
    for (size_t i = 0; i < estimates_.size(); ++i)
      if (estimates_[i].applies &&
          (pick == estimates_.size() || estimates_[i].cycles < estimates_[pick].cycles))
        pick = i;
    why_ = "auto: the lowest estimate";
  } else {
    for (size_t i = 0; i < estimates_.size(); ++i)
      if (estimates_[i].name == problem.algorithm) pick = i;
    if (!estimates_[pick].applies)
      throw std::invalid_argument(
          fmt::format("algo={} does not apply: {}", problem.algorithm, estimates_[pick].why));
    why_ = "as asked";
  }
  algorithm_ = estimates_[pick].name;
  schedule_ = std::move(built[pick]);
  kernel_ = std::make_unique<CollectiveKernel>(config, problem_, *schedule_);
}

CollectivePlan::~CollectivePlan() = default;

double CollectivePlan::estimate_cycles() const {
  for (const AlgorithmEstimate& e : estimates_)
    if (e.name == algorithm_) return e.cycles;
  return 0;
}

std::vector<std::pair<uint64_t, uint64_t>> CollectivePlan::owned(uint32_t member) const {
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  uint64_t first = 0;
  for (const Leaf& l : schedule_->leaves) {
    if (l.owner == member && l.elements) {
      if (!runs.empty() && runs.back().second == first)
        runs.back().second += l.elements;
      else
        runs.push_back({first, first + l.elements});
    }
    first += l.elements;
  }
  return runs;
}

std::vector<std::pair<uint64_t, uint64_t>> CollectivePlan::defined(uint32_t member) const {
  if (problem_.op == Collective::ReduceScatter) return owned(member);
  return {{0, count_}};
}

CollectivePlan::Bound CollectivePlan::bound(const hw::HardwareConfig& config) const {
  const double n = members(), S = double(member_bytes());
  const double hz = config.node.core.clock_ghz * 1e9;
  const Collective op = problem_.op;
  // Every member receives (and sends) this much at least; its node's injection and ejection
  // links carry one flit a cycle.
  const double through_node = op == Collective::AllReduce   ? 2 * (n - 1) / n * S
                              : op == Collective::Broadcast ? S
                                                            : (n - 1) / n * S;
  Bound b;
  b.seconds = through_node / (config.noc.link_bytes_per_cycle * hz);
  b.limit = fmt::format(
      "each member's {:.0f} B through its node's {:.0f} GB/s injection and "
      "ejection links",
      through_node, config.noc.link_bytes_per_cycle * hz / 1e9);
  // Each die boundary with members on both sides: what must cross it one way, over the die
  // edges along it; a tile boundary of a system, over the tile edges along it.
  const auto cut = [&](bool vertical, int at, uint32_t edges) {
    double a = 0;
    for (const hw::Coord m : problem_.group.members) {
      const hw::Coord d = config.die_of(m);
      a += (vertical ? d.x : d.y) < at;
    }
    if (a == 0 || a == n) return;
    const double bytes = op == Collective::AllReduce   ? S
                         : op == Collective::Broadcast ? S
                                                       : std::max(a, n - a) / n * S;
    const uint32_t tile_dies = vertical ? config.tile.dies_x : config.tile.dies_y;
    const bool tile_edge = config.tile_count() > 1 && at % tile_dies == 0;
    const uint32_t tiles = edges / (vertical ? config.tile.dies_y : config.tile.dies_x);
    const double gb_per_s =
        tile_edge
            ? tiles * hw::tile_edge_gb_per_s(config, vertical ? hw::Dir::East : hw::Dir::South)
            : edges * config.die.edge_gb_per_s;
    const double seconds = bytes / (gb_per_s * 1e9);
    if (seconds > b.seconds) {
      b.seconds = seconds;
      b.limit = tile_edge
                    ? fmt::format(
                          "{:.0f} B across the tile boundary at die {} {} over {} "
                          "tile edge{}",
                          bytes, vertical ? "column" : "row", at, tiles, tiles == 1 ? "" : "s")
                    : fmt::format(
                          "{:.0f} B across the die boundary at die {} {} over {} "
                          "die edge{}",
                          bytes, vertical ? "column" : "row", at, edges, edges == 1 ? "" : "s");
    }
  };
  for (uint32_t x = 1; x < config.dies_wide(); ++x)
    cut(true, static_cast<int>(x), config.dies_high());
  for (uint32_t y = 1; y < config.dies_high(); ++y)
    cut(false, static_cast<int>(y), config.dies_wide());
  b.busbw_gb_per_s = bus_factor(op, members()) * S / b.seconds / 1e9;
  return b;
}

Vectors random_inputs(const CollectivePlan& plan, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Vectors v(plan.members(), std::vector<float>(plan.count()));
  for (auto& member : v)
    for (float& x : member)
      x = quantize(plan.problem().dtype,
                   static_cast<float>(static_cast<double>(rng() >> 11) * 0x1.0p-52 - 1.0), {});
  return v;
}

}  // namespace dojosim::runtime::collectives
