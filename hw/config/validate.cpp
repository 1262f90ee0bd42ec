// SPDX-License-Identifier: MIT
// Stage 2: the ranges of params.def and the checks that span several keys.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "hw/config/config_io.h"
#include "hw/config/derived.h"
#include "hw/config/value_codec.h"

namespace dojosim::hw {
namespace {

std::string format_bound(double v, bool integral) {
  if (integral) return fmt::format("{}", static_cast<uint64_t>(v));
  return fmt::format("{}", v);
}

struct Checker {
  const HardwareConfig& c;
  const Origins& origins;
  std::vector<std::string> problems;

  // The key among `keys` to blame: the first one (they are listed most specific first) that a
  // file or override set, so a user who changed one of two related keys is pointed at it.
  std::string blame(std::initializer_list<const char*> keys) const {
    for (const char* k : keys)
      if (origins.count(k)) return k;
    return *keys.begin();
  }

  // "file:line: key = value: what", at the origin of `at_key` (none if it holds its default).
  void add(const std::string& at_key, const std::string& key, const std::string& value,
           const std::string& what) {
    const auto it = origins.find(at_key);
    problems.push_back(it == origins.end()
                           ? fmt::format("{} = {}: {}", key, value, what)
                           : fmt::format("{}: {} = {}: {}", it->second.str(), key, value, what));
  }

  void report(const std::string& key, const std::string& value, const std::string& what) {
    add(key, key, value, what);
  }

  // Reports on `subject` (whose value is shown), at the origin of whichever of `keys` was set.
  void report_on(std::initializer_list<const char*> keys, const std::string& subject,
                 const std::string& what) {
    add(blame(keys), subject, format_value(*find_param(subject), c), what);
  }

  std::string where(const char* key) const {
    const auto it = origins.find(key);
    return it == origins.end() ? "default" : it->second.str();
  }

  bool ranges() {
    const size_t before = problems.size();
    for (const ParamInfo& p : params()) {
      std::visit(
          [&](const auto& b) {
            using T = std::decay_t<decltype(b.def)>;
            if constexpr (codec::kIsInt<T> || std::is_floating_point_v<T>) {
              const double v = codec::number(b.of(c));
              if (v >= p.min && v <= p.max) return;
              const bool integral = codec::kIsInt<T>;
              std::string allowed =
                  std::isinf(p.max)
                      ? fmt::format("must be at least {}", format_bound(p.min, integral))
                      : fmt::format("must be in [{}, {}]", format_bound(p.min, integral),
                                    format_bound(p.max, integral));
              if (!p.unit.empty() && p.unit != "count") allowed += " " + std::string(p.unit);
              report(p.key, codec::format(b.of(c)), allowed);
            }
          },
          p.binding);
    }
    return problems.size() == before;
  }

  void disabled_nodes() {
    const auto& d = c.die.disabled;
    for (size_t i = 0; i < d.size(); ++i) {
      if (uint32_t(d[i].x) >= c.die.nodes_x || uint32_t(d[i].y) >= c.die.nodes_y)
        report_on(
            {"die.disabled", "die.nodes_x", "die.nodes_y"}, "die.disabled",
            fmt::format("position [{}, {}] is outside the {} x {} die (x in [0, {}], y in "
                        "[0, {}]; die.nodes_x/nodes_y from {})",
                        d[i].x, d[i].y, c.die.nodes_x, c.die.nodes_y, c.die.nodes_x - 1,
                        c.die.nodes_y - 1, where(blame({"die.nodes_x", "die.nodes_y"}).c_str())));
      for (size_t j = 0; j < i; ++j)
        if (d[j] == d[i]) {
          report_on({"die.disabled"}, "die.disabled",
                    fmt::format("position [{}, {}] is listed twice", d[i].x, d[i].y));
          break;
        }
    }
    if (d.size() >= uint64_t{c.die.nodes_x} * c.die.nodes_y)
      report_on(
          {"die.disabled", "die.nodes_x", "die.nodes_y"}, "die.disabled",
          fmt::format("leaves none of the {} x {} nodes usable", c.die.nodes_x, c.die.nodes_y));
  }

  void machine_die() {
    const Coord& d = c.machine.die;
    if (uint32_t(d.x) >= c.tile.dies_x || uint32_t(d.y) >= c.tile.dies_y)
      report_on({"machine.die", "tile.dies_x", "tile.dies_y"}, "machine.die",
                fmt::format("outside the {} x {} dies of the tile (x in [0, {}], y in [0, {}])",
                            c.tile.dies_x, c.tile.dies_y, c.tile.dies_x - 1, c.tile.dies_y - 1));
  }

  // isa::CoreConfig::validate() owns the node checks the table cannot express (a power-of-two
  // vector width, a matrix block that fits the vector registers, SRAM in whole words); its
  // message "name = value: what" is re-addressed to our key and its origin.
  void core() {
    const std::string msg = c.core_config({0, 0}).validate();
    if (msg.empty()) return;
    const size_t colon = msg.find(": ");
    const std::string head = msg.substr(0, colon);
    const std::string what = colon == std::string::npos ? msg : msg.substr(colon + 2);
    if (head.rfind("matrix shape", 0) == 0) {
      add(blame({"node.matrix_m", "node.matrix_n", "node.matrix_k", "node.vlen_bytes"}),
          "node.matrix_m/n/k",
          fmt::format("{}x{}x{}", c.node.core.matrix_m, c.node.core.matrix_n, c.node.core.matrix_k),
          what);
      return;
    }
    const size_t eq = head.find(" = ");
    const std::string key = "node." + head.substr(0, eq);
    if (eq != std::string::npos && find_param(key))
      report(key, head.substr(eq + 3), what);
    else
      report("node", "(core)", msg);
  }

  void packets() {
    const uint32_t link = c.noc.link_bytes_per_cycle, payload = c.noc.max_packet_payload_bytes;
    if (payload % link != 0)
      report_on({"noc.max_packet_payload_bytes", "noc.link_bytes_per_cycle"},
                "noc.max_packet_payload_bytes",
                fmt::format("must be whole flits: a multiple of noc.link_bytes_per_cycle = {} "
                            "(from {}), e.g. {}",
                            link, where("noc.link_bytes_per_cycle"),
                            std::max(link, payload / link * link)));
    // The input_queued router forwards a packet only when the next VC can take all of it.
    const uint64_t flits = (uint64_t{payload} + c.noc.packet_header_bytes + link - 1) / link;
    if (c.noc.router == "input_queued" && c.noc.vc_buffer_flits < flits)
      report_on({"noc.vc_buffer_flits", "noc.router", "noc.max_packet_payload_bytes",
                 "noc.packet_header_bytes", "noc.link_bytes_per_cycle"},
                "noc.vc_buffer_flits",
                fmt::format("must hold a whole packet with noc.router = input_queued (virtual "
                            "cut-through): at least {} flits, from noc.max_packet_payload_bytes "
                            "= {} + noc.packet_header_bytes = {} over {} B flits",
                            flits, payload, c.noc.packet_header_bytes, link));
    // Die-edge routers split their VCs by class; a machine of one die has none.
    const bool edges =
        c.machine.scope == MachineScope::Tile && uint64_t{c.tile.dies_x} * c.tile.dies_y > 1;
    const uint64_t requests = uint64_t{c.noc.edge_vcs_request_low} + c.noc.edge_vcs_request_high;
    if (c.noc.router == "input_queued" && edges && requests >= c.noc.vcs)
      report_on({"noc.vcs", "noc.edge_vcs_request_low", "noc.edge_vcs_request_high", "noc.router",
                 "machine.scope"},
                "noc.vcs",
                fmt::format("leaves no VC for data at die-edge routers: noc.edge_vcs_request_low "
                            "= {} + noc.edge_vcs_request_high = {} take them all; needs at least "
                            "{} with noc.router = input_queued on a machine of several dies",
                            c.noc.edge_vcs_request_low, c.noc.edge_vcs_request_high, requests + 1));
  }

  // A system's tiles connect through the mesh links crossing their edges; a tile edge too
  // narrow to give each of them a byte per cycle leaves the tiles unconnected.
  void system() {
    if (uint64_t{c.system.tiles_x} * c.system.tiles_y < 2) return;
    for (const Dir edge : {Dir::East, Dir::South}) {
      const double share = tile_edge_link_bytes_per_cycle(c, edge);
      if (share >= 1 - 1e-9) continue;
      const bool ns = edge == Dir::South;
      const uint32_t dies = ns ? c.tile.dies_x : c.tile.dies_y;
      const uint32_t nodes = ns ? c.die.nodes_x : c.die.nodes_y;
      // Name the narrowest of the three bandwidths a tile edge is limited by.
      const double per_die = std::min(c.tile.edge_gb_per_s, c.die.edge_gb_per_s);
      const char* key = c.system.tile_edge_gb_per_s <= dies * per_die ? "system.tile_edge_gb_per_s"
                        : c.tile.edge_gb_per_s <= c.die.edge_gb_per_s ? "tile.edge_gb_per_s"
                                                                      : "die.edge_gb_per_s";
      report(key, format_value(*find_param(key), c),
             fmt::format("the tiles do not connect: the {} mesh links across {} tile edge get "
                         "{:.3g} B/cycle each, below 1",
                         uint64_t{dies} * nodes, ns ? "a north/south" : "an east/west", share));
      return;
    }
  }

  void host_memory() {
    const auto& h = c.tile.host;
    for (size_t i = 0; i < h.edges.size(); ++i) {
      for (size_t j = 0; j < i; ++j)
        if (h.edges[j] == h.edges[i])
          report_on({"tile.host.edges"}, "tile.host.edges",
                    fmt::format("{} is listed twice", dir_name(h.edges[i])));
      const bool horizontal = h.edges[i] == Dir::North || h.edges[i] == Dir::South;
      const uint32_t along = horizontal ? c.tile.dies_x : c.tile.dies_y;
      if (h.dips_per_edge > along)
        report_on({"tile.host.dips_per_edge", "tile.host.edges", "tile.dies_x", "tile.dies_y"},
                  "tile.host.dips_per_edge",
                  fmt::format("the {} edge of the tile has {} die edges, one DIP each at most",
                              dir_name(h.edges[i]), along));
    }
  }
};

}  // namespace

std::string format_value(const ParamInfo& p, const HardwareConfig& config) {
  return std::visit([&](const auto& b) { return codec::format(b.of(config)); }, p.binding);
}

bool differs_from_default(const ParamInfo& p, const HardwareConfig& config) {
  return std::visit([&](const auto& b) { return !(b.of(config) == b.def); }, p.binding);
}

void validate(const HardwareConfig& config, const Origins& origins) {
  Checker k{config, origins, {}};
  // Cross-checks divide and index by the sizes, so they run only on in-range values.
  if (k.ranges()) {
    k.core();
    k.disabled_nodes();
    k.machine_die();
    k.packets();
    k.host_memory();
    k.system();
  }
  if (!k.problems.empty()) throw ConfigError(k.problems);
}

}  // namespace dojosim::hw
