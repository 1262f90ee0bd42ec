// SPDX-License-Identifier: MIT
#include "hw/stats/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <utility>

#include "hw/machine/machine.h"
#include "hw/node/node.h"
#include "isa/instructions.h"
#include "isa/timing.h"

namespace dojosim::hw {

double Stat::as_double() const {
  return std::holds_alternative<uint64_t>(value) ? double(std::get<uint64_t>(value))
                                                 : std::get<double>(value);
}

const Stat* StatsNode::find(const std::string& stat) const {
  for (const Stat& s : stats)
    if (s.name == stat) return &s;
  return nullptr;
}

const StatsNode* StatsNode::child(const std::string& child_name) const {
  for (const StatsNode& c : children)
    if (c.name == child_name) return &c;
  return nullptr;
}

double StatsNode::value(const std::string& stat) const {
  const Stat* s = find(stat);
  if (!s) throw std::out_of_range(fmt::format("{} has no statistic '{}'", name, stat));
  return s->as_double();
}

uint64_t StatsNode::counter(const std::string& stat) const {
  const Stat* s = find(stat);
  if (!s || !std::holds_alternative<uint64_t>(s->value))
    throw std::out_of_range(fmt::format("{} has no counter '{}'", name, stat));
  return std::get<uint64_t>(s->value);
}

void StatsNode::add(std::string n, std::string desc, std::string unit, uint64_t v) {
  stats.push_back({std::move(n), std::move(desc), std::move(unit), v});
}
void StatsNode::add(std::string n, std::string desc, std::string unit, double v) {
  stats.push_back({std::move(n), std::move(desc), std::move(unit), v});
}

nlohmann::ordered_json to_json(const StatsNode& node) {
  nlohmann::ordered_json j;
  j["name"] = node.name;
  j["description"] = node.description;
  for (const auto& [key, value] : node.attributes) j[key] = value;
  auto& stats = j["stats"] = nlohmann::ordered_json::object();
  for (const Stat& s : node.stats) {
    nlohmann::ordered_json v;
    if (std::holds_alternative<uint64_t>(s.value))
      v["value"] = std::get<uint64_t>(s.value);
    else
      v["value"] = std::get<double>(s.value);
    v["unit"] = s.unit;
    v["description"] = s.description;
    stats[s.name] = std::move(v);
  }
  auto& children = j["children"] = nlohmann::ordered_json::array();
  for (const StatsNode& c : node.children) children.push_back(to_json(c));
  return j;
}

SramBytes sram_bytes_per_instruction(int timing_class, const HardwareConfig& config) {
  using C = isa::TimingClass;
  const auto& k = config.node.core;
  const uint64_t vlen = k.vlen_bytes, acc = 4ull * k.matrix_m * k.matrix_n;
  switch (static_cast<C>(timing_class)) {
    case C::Load:
      return {8, 0};
    case C::Store:
      return {0, 8};
    case C::VLoad:
    case C::VLoadStrided:
      return {vlen, 0};
    case C::VStore:
    case C::VStoreStrided:
      return {0, vlen};
    case C::AccLoad:
      return {acc, 0};
    case C::AccStore:
      return {0, acc};
    case C::Matrix:
    case C::MatrixCfp8:
      return {2 * vlen, 0};
    default:
      return {0, 0};
  }
}

namespace {

constexpr int kClasses = static_cast<int>(isa::TimingClass::kCount);

std::string cause_stat(int c) {
  return "stall_" + std::string(isa::stall_cause_name(static_cast<isa::StallCause>(c)));
}

// The cycle buckets of one thread or the sum over threads: issue, each stall cause, drain.
struct Buckets {
  uint64_t instructions = 0, cycles = 0, issue = 0, drain = 0;
  uint64_t stalls[isa::kStallCauseCount] = {};
  void add_to(StatsNode& n, const char* cycles_what) const {
    n.add("instructions", "instructions retired", "count", instructions);
    n.add("cycles", cycles_what, "cycles", cycles);
    n.add("issue_cycles", "cycles in which the thread issued at least one instruction", "cycles",
          issue);
    for (int c = 0; c < isa::kStallCauseCount; ++c)
      n.add(cause_stat(c),
            fmt::format("cycles the thread issued nothing, waiting on: {}",
                        isa::stall_cause_name(static_cast<isa::StallCause>(c))),
            "cycles", stalls[c]);
    n.add("stall_other_drain",
          "the rest of the thread's cycles: after its last issue, until its last result is ready "
          "(cycles - issue_cycles - stall_*)",
          "cycles", drain);
  }
};

// Adds to `parent` the sum over `kids` of each statistic of the first kid except `skip`.
void add_sums(StatsNode& parent, const std::vector<const StatsNode*>& kids,
              const std::vector<std::string>& skip, const std::string& over) {
  if (kids.empty()) return;
  for (const Stat& s : kids.front()->stats) {
    if (std::find(skip.begin(), skip.end(), s.name) != skip.end()) continue;
    const std::string desc = "sum over " + over + " of: " + s.description;
    if (std::holds_alternative<uint64_t>(s.value)) {
      uint64_t v = 0;
      for (const StatsNode* k : kids) v += k->counter(s.name);
      parent.add(s.name, desc, s.unit, v);
    } else {
      double v = 0;
      for (const StatsNode* k : kids) v += k->value(s.name);
      parent.add(s.name, desc, s.unit, v);
    }
  }
}

}  // namespace

StatsNode collect_stats(const Machine& machine, const HardwareConfig& config) {
  const auto& k = config.node.core;
  const auto& e = config.energy;
  const Network& net = machine.network();
  const uint64_t end = machine.cycles();
  const double hz = k.clock_ghz * 1e9;
  const double seconds = double(end) / hz;
  const double per_s = seconds > 0 ? 1.0 / seconds : 0.0;
  const unsigned threads = machine.threads();
  const uint64_t block_macs = uint64_t{k.matrix_m} * k.matrix_n * k.matrix_k;
  const uint64_t lanes = k.vlen_bytes / 4;

  // Dies in order of their first node; each die's nodes, then its links.
  std::vector<Coord> die_order;
  std::map<std::pair<int, int>, StatsNode> dies;
  auto die_node = [&](Coord at) -> StatsNode& {
    const Coord d = config.die_of(at);
    auto it = dies.find({d.x, d.y});
    if (it != dies.end()) return it->second;
    die_order.push_back(d);
    StatsNode& n = dies[{d.x, d.y}];
    n.name = fmt::format("die({},{})", d.x, d.y);
    n.description = fmt::format(
        "die at ({},{}) of the tile: its usable nodes and the links leaving its routers", d.x, d.y);
    return n;
  };

  for (const NodeResult& r : machine.results()) {
    const NodeModule* nm = machine.node(r.at);
    StatsNode node;
    node.name = fmt::format("node({},{})", r.at.x, r.at.y);
    node.description = fmt::format(
        "node at ({},{}) of the mesh: its core, SRAM and network interface", r.at.x, r.at.y);
    Buckets sum;
    uint64_t node_cycles = 0;
    uint64_t classes[kClasses] = {};
    for (unsigned i = 0; i < threads; ++i) {
      const isa::ThreadState& t = nm->core().thread(i);
      Buckets b;
      b.instructions = t.instret;
      b.cycles = nm->core().cycles(t);
      b.issue = t.issue_cycles;
      uint64_t used = b.issue;
      for (int c = 0; c < isa::kStallCauseCount; ++c) used += b.stalls[c] = t.stalls[c];
      b.drain = b.cycles > used ? b.cycles - used : 0;
      StatsNode tn;
      tn.name = fmt::format("thread{}", i);
      tn.description = fmt::format("hardware thread {}: where its cycles went", i);
      b.add_to(tn, "cycles from the thread's start to its last result");
      node.children.push_back(std::move(tn));
      sum.instructions += b.instructions;
      sum.cycles += b.cycles;
      sum.issue += b.issue;
      sum.drain += b.drain;
      for (int c = 0; c < isa::kStallCauseCount; ++c) sum.stalls[c] += b.stalls[c];
      node_cycles = std::max(node_cycles, b.cycles);
      for (int c = 0; c < kClasses; ++c) classes[c] += t.class_counts[c];
    }
    node.add("node_cycles", "cycles of the node's longest thread", "cycles", node_cycles);
    sum.add_to(node, "thread cycles summed over the node's threads (the buckets below sum to it)");
    for (int c = 0; c < kClasses; ++c)
      node.add("class_" + std::string(isa::timing_class_name(static_cast<isa::TimingClass>(c))),
               "instructions of this timing class", "count", classes[c]);

    using C = isa::TimingClass;
    const uint64_t macs_bf16 = classes[int(C::Matrix)] * block_macs;
    const uint64_t macs_cfp8 = classes[int(C::MatrixCfp8)] * 2 * block_macs;
    const uint64_t flop_fp32 = classes[int(C::Simd)] * lanes * 2;
    node.add("macs_bf16", "bf16 multiply-accumulates: mma.bf16 count x m x n x k", "MAC",
             macs_bf16);
    node.add("macs_cfp8", "cfp8 multiply-accumulates: cfp8 mma count x 2 x m x n x k", "MAC",
             macs_cfp8);
    node.add("flop_bf16", "bf16 matrix FLOP: 2 x macs_bf16", "FLOP", 2 * macs_bf16);
    node.add("flop_cfp8", "cfp8 matrix FLOP: 2 x macs_cfp8", "FLOP", 2 * macs_cfp8);
    node.add("flop_fp32_upper",
             "fp32 SIMD FLOP, upper estimate: SIMD count x vlen/4 lanes x 2 (every SIMD op counted "
             "as an FMA)",
             "FLOP", flop_fp32);
    uint64_t rd = 0, wr = 0;
    for (int c = 0; c < kClasses; ++c) {
      const SramBytes b = sram_bytes_per_instruction(c, config);
      rd += classes[c] * b.read;
      wr += classes[c] * b.written;
    }
    node.add("sram_read_bytes_est",
             "SRAM bytes read by the core, estimated from instruction counts (vector load vlen, "
             "scalar load 8, mma 2 x vlen, acc load 4mn)",
             "bytes", rd);
    node.add("sram_write_bytes_est",
             "SRAM bytes written by the core, estimated from instruction counts (vector store "
             "vlen, scalar store 8, acc store 4mn)",
             "bytes", wr);
    const uint64_t inj = net.injection_stats(r.at).bytes, ej = net.ejection_stats(r.at).bytes;
    node.add("noc_injected_bytes",
             "bytes the network interface read from SRAM into the network (headers included)",
             "bytes", inj);
    node.add("noc_ejected_bytes",
             "bytes the network delivered into this node's SRAM (headers included)", "bytes", ej);
    node.add("flop_per_s",
             "achieved matrix FLOP/s over the run: (flop_bf16 + flop_cfp8) / run seconds", "FLOP/s",
             double(2 * (macs_bf16 + macs_cfp8)) * per_s);

    const double compute_j =
        (double(macs_bf16) * e.mac_bf16_pj + double(macs_cfp8) * e.mac_cfp8_pj +
         double(flop_fp32) * e.flop_fp32_pj) *
        1e-12;
    const double sram_j =
        (double(rd + inj) * e.sram_read_pj_per_byte + double(wr + ej) * e.sram_write_pj_per_byte) *
        1e-12;
    const double static_j = e.static_w_per_node * seconds;
    node.add("energy_compute_j",
             "macs_bf16 x energy.mac_bf16_pj + macs_cfp8 x energy.mac_cfp8_pj + flop_fp32_upper x "
             "energy.flop_fp32_pj",
             "J", compute_j);
    node.add("energy_sram_j",
             "(sram_read_bytes_est + noc_injected_bytes) x energy.sram_read_pj_per_byte + "
             "(sram_write_bytes_est + noc_ejected_bytes) x energy.sram_write_pj_per_byte",
             "J", sram_j);
    node.add("energy_static_j", "energy.static_w_per_node x run seconds (machine cycles / clock)",
             "J", static_j);
    node.add("energy_j", "energy_compute_j + energy_sram_j + energy_static_j", "J",
             compute_j + sram_j + static_j);
    node.add("power_w", "average power over the run: energy_j / run seconds", "W",
             (compute_j + sram_j + static_j) * per_s);
    die_node(r.at).children.push_back(std::move(node));
  }

  // Links with traffic, under the die of the router they leave.
  std::map<std::pair<int, int>, std::vector<StatsNode>> die_links;
  auto link_node = [&](Coord at, const std::string& what, const char* kind, const LinkStats& s,
                       double pj_per_byte) {
    if (s.packets == 0) return;
    StatsNode l;
    l.name = fmt::format("link({},{}).{}", at.x, at.y, what);
    l.description = fmt::format("{} link {} of the router at ({},{})", kind, what, at.x, at.y);
    l.add("bytes", "bytes carried, headers included", "bytes", s.bytes);
    l.add("packets", "packets carried", "count", s.packets);
    l.add("busy_cycles", "cycles the link was transmitting", "cycles", s.busy_cycles);
    l.add("wait_cycles", "cycles packets waited for this link, summed over packets", "cycles",
          s.wait_cycles);
    l.add("peak_queue", "most packets queued ahead of one arriving packet", "packets",
          s.peak_queue);
    l.add("utilisation", "busy_cycles / machine cycles x 100", "%",
          end ? 100.0 * double(s.busy_cycles) / double(end) : 0.0);
    l.add("bandwidth", "bytes / run seconds", "B/s", double(s.bytes) * per_s);
    l.add("energy_j",
          "bytes x energy.hop_pj_per_byte (mesh), x energy.die_edge_pj_per_byte (die edge); 0 for "
          "injection/ejection (charged as SRAM access at the node)",
          "J", double(s.bytes) * pj_per_byte * 1e-12);
    l.attributes.emplace_back("kind", kind);
    const Coord d = config.die_of(at);
    die_links[{d.x, d.y}].push_back(std::move(l));
  };
  for (int y = 0; y < net.height(); ++y)
    for (int x = 0; x < net.width(); ++x) {
      const Coord at{x, y};
      for (int d = 0; d < kDirCount; ++d) {
        const Dir dir = static_cast<Dir>(d);
        const bool edge = net.is_die_edge(at, dir);
        link_node(at, std::string(dir_name(dir)), edge ? "die-edge" : "mesh",
                  net.link_stats(at, dir), edge ? e.die_edge_pj_per_byte : e.hop_pj_per_byte);
      }
      link_node(at, "injection", "injection", net.injection_stats(at), 0.0);
      link_node(at, "ejection", "ejection", net.ejection_stats(at), 0.0);
    }

  const std::vector<std::string> not_summed = {
      "node_cycles", "die_cycles", "cycles_max", "flop_per_s", "power_w", "energy_j", "seconds"};
  StatsNode top;
  top.name = "machine";
  top.description = fmt::format("the simulated machine: {} die(s), {}x{} mesh, {} usable nodes",
                                die_order.size(), net.width(), net.height(), machine.node_count());
  std::vector<const StatsNode*> die_ptrs;
  for (const Coord d : die_order) {
    StatsNode& die = dies[{d.x, d.y}];
    std::vector<const StatsNode*> nodes;
    uint64_t die_cycles = 0;
    for (const StatsNode& n : die.children) {
      nodes.push_back(&n);
      die_cycles = std::max(die_cycles, n.counter("node_cycles"));
    }
    die.add("die_cycles", "cycles of the die's longest thread", "cycles", die_cycles);
    add_sums(die, nodes, not_summed, "the die's nodes");
    uint64_t mesh_bytes = 0, edge_bytes = 0;
    double links_j = 0;
    for (StatsNode& l : die_links[{d.x, d.y}]) {
      const std::string& kind = l.attributes.front().second;
      if (kind == "mesh") mesh_bytes += l.counter("bytes");
      if (kind == "die-edge") edge_bytes += l.counter("bytes");
      links_j += l.value("energy_j");
      die.children.push_back(std::move(l));
    }
    die.add("mesh_link_bytes", "bytes over mesh links leaving the die's routers: bytes x hops",
            "bytes", mesh_bytes);
    die.add("die_edge_link_bytes", "bytes over die-edge links leaving the die's routers", "bytes",
            edge_bytes);
    die.add("energy_links_j",
            "mesh_link_bytes x energy.hop_pj_per_byte + die_edge_link_bytes x "
            "energy.die_edge_pj_per_byte",
            "J", links_j);
    const double j = die.value("energy_compute_j") + die.value("energy_sram_j") +
                     die.value("energy_static_j") + links_j;
    die.add("energy_j", "energy of the die's nodes (compute + SRAM + static) + energy_links_j", "J",
            j);
    die.add("power_w", "average power over the run: energy_j / run seconds", "W", j * per_s);
    die.add("flop_per_s", "achieved matrix FLOP/s: (flop_bf16 + flop_cfp8) / run seconds", "FLOP/s",
            (die.value("flop_bf16") + die.value("flop_cfp8")) * per_s);
  }
  top.add("cycles_max", "cycles of the run: the last event of any node (machine cycles)", "cycles",
          end);
  top.add("seconds", "run time: cycles_max / clock", "s", seconds);
  for (const Coord d : die_order) die_ptrs.push_back(&dies[{d.x, d.y}]);
  add_sums(top, die_ptrs, not_summed, "the dies");
  // Host memory: one child per DIP attached to the simulated dies.
  const HostMemory& host = machine.host();
  uint64_t host_read = 0, host_written = 0, z_plane = 0;
  double host_j = 0;
  std::vector<StatsNode> dips;
  for (size_t dip = 0; dip < host.dip_count(); ++dip) {
    const DipStats& s = host.stats(dip);
    const DipParams& p = host.dip(dip);
    StatsNode d;
    d.name = fmt::format("dip{}", dip);
    d.description = fmt::format(
        "DIP {} on the {} edge, reaching nodes ({},{})..({},{}); host addresses "
        "[0x{:x}, 0x{:x})",
        dip, dir_name(p.edge), p.first.x, p.first.y, p.last.x, p.last.y, dip * p.capacity,
        (dip + 1) * p.capacity);
    d.add("bytes_read", "bytes DMA read from this DIP's HBM (pulls)", "bytes", s.bytes_read);
    d.add("bytes_written", "bytes DMA wrote to this DIP's HBM (pushes)", "bytes", s.bytes_written);
    d.add("requests", "DMA transfers served", "count", s.requests);
    d.add("hbm_busy_cycles", "cycles the HBM was transferring", "cycles", s.hbm_busy_cycles);
    d.add("wait_cycles", "cycles requests queued for the HBM, summed over requests", "cycles",
          s.wait_cycles);
    d.add("utilisation", "hbm_busy_cycles / machine cycles x 100", "%",
          end ? 100.0 * double(s.hbm_busy_cycles) / double(end) : 0.0);
    d.add("bandwidth", "(bytes_read + bytes_written) / run seconds", "B/s",
          double(s.bytes_read + s.bytes_written) * per_s);
    const double dj = double(s.bytes_read + s.bytes_written) * e.host_memory_pj_per_byte * 1e-12;
    d.add("energy_j", "(bytes_read + bytes_written) x energy.host_memory_pj_per_byte", "J", dj);
    d.add("z_plane_bytes_out",
          "bytes between nodes that left over this DIP's Ethernet port into the Z-plane", "bytes",
          s.z_bytes_out);
    d.add("z_plane_bytes_in",
          "bytes between nodes that came in over this DIP's Ethernet port from the Z-plane",
          "bytes", s.z_bytes_in);
    host_read += s.bytes_read, host_written += s.bytes_written, host_j += dj;
    z_plane += s.z_bytes_out;
    dips.push_back(std::move(d));
  }
  top.add("host_bytes_read", "bytes DMA read from host memory (all DIPs)", "bytes", host_read);
  top.add("host_bytes_written", "bytes DMA wrote to host memory (all DIPs)", "bytes", host_written);
  top.add("energy_host_j", "sum over the DIPs of energy_j", "J", host_j);
  top.add("z_plane_bytes", "bytes between nodes over the Z-plane (system.z_plane; all DIPs)",
          "bytes", z_plane);
  double j = host_j;
  for (const StatsNode* d : die_ptrs) j += d->value("energy_j");
  top.add("energy_j", "sum over the dies of energy_j + energy_host_j", "J", j);
  top.add("power_w", "average power over the run: energy_j / seconds", "W", j * per_s);
  top.add("flop_per_s", "achieved matrix FLOP/s: (flop_bf16 + flop_cfp8) / seconds", "FLOP/s",
          (top.value("flop_bf16") + top.value("flop_cfp8")) * per_s);
  for (const Coord d : die_order) top.children.push_back(std::move(dies[{d.x, d.y}]));
  for (StatsNode& d : dips) top.children.push_back(std::move(d));
  return top;
}

}  // namespace dojosim::hw
