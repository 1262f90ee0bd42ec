// SPDX-License-Identifier: MIT
#include "hw/config/machine_params.h"

#include <algorithm>
#include <cmath>

#include "hw/config/derived.h"

namespace dojosim::hw {

NocParams noc_params(const HardwareConfig& c) {
  NocParams p;
  p.link_bytes_per_cycle = c.noc.link_bytes_per_cycle;
  p.router_latency = c.noc.router_latency_cycles;
  p.max_payload_bytes = c.noc.max_packet_payload_bytes;
  p.header_bytes = c.noc.packet_header_bytes;
  p.routing = c.noc.routing;
  p.router = c.noc.router;
  p.allocator = c.noc.allocator;
  p.vcs = c.noc.vcs;
  p.vc_buffer_flits = c.noc.vc_buffer_flits;
  p.edge_vcs_request_low = c.noc.edge_vcs_request_low;
  p.edge_vcs_request_high = c.noc.edge_vcs_request_high;
  p.die_w = static_cast<int>(c.die.nodes_x);
  p.die_h = static_cast<int>(c.die.nodes_y);
  const double share = std::min(die_edge_link_bytes_per_cycle(c, Dir::East),
                                die_edge_link_bytes_per_cycle(c, Dir::North));
  p.edge_link_bytes_per_cycle =
      std::max<uint32_t>(1, static_cast<uint32_t>(std::floor(share + 1e-9)));
  p.edge_latency = static_cast<uint32_t>(ns_to_cycles(c, c.die.edge_latency_ns));
  if (c.tile_count() > 1) {
    p.tile_w = static_cast<int>(c.tile.dies_x * c.die.nodes_x);
    p.tile_h = static_cast<int>(c.tile.dies_y * c.die.nodes_y);
    const double tile_share = std::min(tile_edge_link_bytes_per_cycle(c, Dir::East),
                                       tile_edge_link_bytes_per_cycle(c, Dir::South));
    // validate() refused a share below one byte per cycle: the tiles would not connect.
    p.tile_edge_link_bytes_per_cycle = static_cast<uint32_t>(std::floor(tile_share + 1e-9));
    p.tile_edge_latency = static_cast<uint32_t>(ns_to_cycles(c, c.system.tile_edge_latency_ns));
  }
  return p;
}

std::vector<DipParams> host_params(const HardwareConfig& c) {
  std::vector<DipParams> out;
  const int nx = static_cast<int>(c.die.nodes_x), ny = static_cast<int>(c.die.nodes_y);
  const double clock = c.node.core.clock_ghz;
  for (const DipPlace& place : c.host_dips()) {
    DipParams d;
    d.edge = place.edge;
    // place.node is the middle of its die's edge; the DIP's link reaches the whole edge.
    const bool vertical = place.edge == Dir::West || place.edge == Dir::East;
    d.first = vertical ? Coord{place.node.x, place.node.y - ny / 2}
                       : Coord{place.node.x - nx / 2, place.node.y};
    d.last = vertical ? Coord{place.node.x, d.first.y + ny - 1}
                      : Coord{d.first.x + nx - 1, place.node.y};
    d.capacity = uint64_t{c.tile.host.dip_capacity_gib} << 30;
    d.hbm_bytes_per_cycle = c.tile.host.dip_gb_per_s / clock;
    d.link_bytes_per_cycle = std::min(c.tile.host.dip_link_gb_per_s, c.tile.edge_gb_per_s) / clock;
    d.latency = ns_to_cycles(c, c.tile.host.latency_ns);
    d.ethernet_bytes_per_cycle = c.system.dip_ethernet_gb_per_s / clock;
    out.push_back(d);
  }
  return out;
}

MachineParams machine_params(const HardwareConfig& c) {
  MachineParams m;
  m.width = static_cast<int>(c.mesh_width());
  m.height = static_cast<int>(c.mesh_height());
  m.disabled = c.disabled_nodes();
  m.core = c.core_config({0, 0});
  // Programs ask the nodeok CSR which nodes they can push to: the same set the machine skips.
  std::vector<std::pair<uint32_t, uint32_t>> disabled;
  for (const Coord& d : m.disabled) disabled.emplace_back(uint32_t(d.x), uint32_t(d.y));
  m.core.set_disabled(disabled);
  m.noc = noc_params(c);
  m.host = host_params(c);
  m.z_plane = c.system.z_plane;
  m.z_switch_latency = ns_to_cycles(c, c.system.z_switch_latency_ns);
  m.dma_queue_depth = c.node.dma.queue_depth;
  m.quantum = c.sim.quantum_cycles;
  m.quantum_aligned = c.sim.quantum_aligned;
  m.max_cycles = c.sim.max_cycles;
  m.reverse_node_order = c.sim.reverse_node_order;
  m.host_threads = c.sim.host_threads;
  m.max_seconds = c.sim.max_seconds;
  return m;
}

}  // namespace dojosim::hw
