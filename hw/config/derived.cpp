// SPDX-License-Identifier: MIT
#include "hw/config/derived.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dojosim::hw {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0, kMiB = 1024.0 * 1024.0;
constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

// Blocks (or SIMD ops) one node completes per cycle in timing class `tc`.
double ops_per_cycle(const HardwareConfig& c, isa::TimingClass tc) {
  const isa::ClassTiming& t = c.node.core.timing_params.of(tc);
  return double(c.node.core.timing_params.unit_instances[static_cast<size_t>(t.unit)]) /
         t.occupancy;
}

// Grid of dies and nodes for a scale.
struct Grid {
  uint32_t dies_x, dies_y, nodes_x, nodes_y;
};

Grid grid_of(const HardwareConfig& c, Scale scale) {
  switch (scale) {
    case Scale::Node:
      return {1, 1, 1, 1};
    case Scale::Die:
      return {1, 1, c.die.nodes_x, c.die.nodes_y};
    case Scale::Tile:
      return {c.tile.dies_x, c.tile.dies_y, c.die.nodes_x, c.die.nodes_y};
    case Scale::System:
      return {c.tile.dies_x * c.system.tiles_x, c.tile.dies_y * c.system.tiles_y, c.die.nodes_x,
              c.die.nodes_y};
    case Scale::Machine:
      break;
  }
  return {c.dies_wide(), c.dies_high(), c.die.nodes_x, c.die.nodes_y};
}

// Bandwidth across the cut before node column `cut` of an axis with `dies` dies of `nodes`
// nodes, `rows` nodes (in `dies_across` dies) long the other way.
double cut_gb_per_s(const HardwareConfig& c, uint32_t nodes, uint32_t rows_per_die,
                    uint32_t dies_across, uint32_t cut) {
  const double link = link_gb_per_s(c), rows = double(rows_per_die) * dies_across;
  if (cut % nodes != 0) return rows * link;
  return dies_across * std::min(c.die.edge_gb_per_s, rows_per_die * link);
}

double axis_bisection(const HardwareConfig& c, uint32_t dies, uint32_t nodes, uint32_t rows_per_die,
                      uint32_t dies_across) {
  const uint32_t width = dies * nodes;
  if (width < 2) return std::numeric_limits<double>::infinity();
  double best = cut_gb_per_s(c, nodes, rows_per_die, dies_across, width / 2);
  for (uint32_t d : {dies / 2, (dies + 1) / 2}) {
    const uint32_t cut = d * nodes;
    if (cut > 0 && cut < width)
      best = std::min(best, cut_gb_per_s(c, nodes, rows_per_die, dies_across, cut));
  }
  return best;
}

}  // namespace

double peak_flop_per_cycle(const HardwareConfig& c, Precision p) {
  const isa::CoreConfig& k = c.node.core;
  const double block = double(k.matrix_m) * k.matrix_n * k.matrix_k;
  switch (p) {
    case Precision::Bf16:
      return 2 * block * ops_per_cycle(c, isa::TimingClass::Matrix);
    case Precision::Cfp8:
      return 2 * (2 * block) * ops_per_cycle(c, isa::TimingClass::MatrixCfp8);
    case Precision::Fp32:
      break;
  }
  return 2.0 * (k.vlen_bytes / 4) * ops_per_cycle(c, isa::TimingClass::Simd);
}

uint64_t usable_nodes(const HardwareConfig& c, Scale scale) {
  return scale == Scale::Node ? 1 : die_count(c, scale) * c.usable_nodes_per_die();
}

uint64_t die_count(const HardwareConfig& c, Scale scale) {
  const Grid g = grid_of(c, scale);
  return uint64_t{g.dies_x} * g.dies_y;
}

double peak_flops(const HardwareConfig& c, Precision p, Scale scale) {
  return peak_flop_per_cycle(c, p) * c.node.core.clock_ghz * 1e9 * double(usable_nodes(c, scale));
}

uint64_t sram_bytes(const HardwareConfig& c, Scale scale) {
  return usable_nodes(c, scale) * c.node.core.sram_bytes;
}

double link_gb_per_s(const HardwareConfig& c) {
  return c.noc.link_bytes_per_cycle * c.node.core.clock_ghz;
}

double die_edge_link_bytes_per_cycle(const HardwareConfig& c, Dir edge) {
  const uint32_t links = edge == Dir::North || edge == Dir::South ? c.die.nodes_x : c.die.nodes_y;
  return std::min<double>(c.noc.link_bytes_per_cycle,
                          c.die.edge_gb_per_s / links / c.node.core.clock_ghz);
}

double tile_edge_gb_per_s(const HardwareConfig& c, Dir edge) {
  const bool ns = edge == Dir::North || edge == Dir::South;
  const uint32_t dies = ns ? c.tile.dies_x : c.tile.dies_y;
  const uint32_t nodes = ns ? c.die.nodes_x : c.die.nodes_y;
  const double per_die_edge =
      std::min({c.tile.edge_gb_per_s, c.die.edge_gb_per_s, nodes * link_gb_per_s(c)});
  return std::min(c.system.tile_edge_gb_per_s, dies * per_die_edge);
}

double tile_edge_link_bytes_per_cycle(const HardwareConfig& c, Dir edge) {
  const bool ns = edge == Dir::North || edge == Dir::South;
  const double links =
      ns ? double(c.tile.dies_x) * c.die.nodes_x : double(c.tile.dies_y) * c.die.nodes_y;
  return tile_edge_gb_per_s(c, edge) / links / c.node.core.clock_ghz;
}

double bisection_gb_per_s(const HardwareConfig& c, Scale scale) {
  const bool system = scale == Scale::System ||
                      (scale == Scale::Machine && c.machine.scope == MachineScope::System);
  const Grid g = grid_of(c, system ? Scale::Tile : scale);
  const double x = axis_bisection(c, g.dies_x, g.nodes_x, g.nodes_y, g.dies_y);
  const double y = axis_bisection(c, g.dies_y, g.nodes_y, g.nodes_x, g.dies_x);
  double b = std::min(x, y);
  if (system && c.system.tiles_x * c.system.tiles_y > 1) {
    // Halves of a system: the middle tile edges for an even count, else the middle tiles.
    const auto cut = [&](uint32_t tiles, uint32_t across, double tile_cut, Dir edge) {
      if (tiles < 2) return std::numeric_limits<double>::infinity();
      return across * (tiles % 2 == 0 ? tile_edge_gb_per_s(c, edge) : tile_cut);
    };
    b = std::min(cut(c.system.tiles_x, c.system.tiles_y, x, Dir::East),
                 cut(c.system.tiles_y, c.system.tiles_x, y, Dir::South));
  }
  return std::isinf(b) ? 0.0 : b;
}

double off_tile_gb_per_s(const HardwareConfig& c) {
  const double per_die_edge = std::min(c.tile.edge_gb_per_s, c.die.edge_gb_per_s);
  return 2.0 * 2.0 * (c.tile.dies_x + c.tile.dies_y) * per_die_edge;
}

uint64_t host_dip_count(const HardwareConfig& c, Scale scale) {
  if (scale == Scale::Machine) return c.host_dips().size();
  if (scale == Scale::System) {
    HardwareConfig whole = c;
    whole.machine.scope = MachineScope::System;
    return whole.host_dips().size();
  }
  if (scale == Scale::Tile) return uint64_t{c.tile.host.dips_per_edge} * c.tile.host.edges.size();
  return 0;
}

double host_capacity_gib(const HardwareConfig& c, Scale scale) {
  return double(host_dip_count(c, scale)) * c.tile.host.dip_capacity_gib;
}

double host_hbm_gb_per_s(const HardwareConfig& c, Scale scale) {
  return double(host_dip_count(c, scale)) * c.tile.host.dip_gb_per_s;
}

double host_link_gb_per_s(const HardwareConfig& c, Scale scale) {
  return double(host_dip_count(c, scale)) *
         std::min(c.tile.host.dip_link_gb_per_s, c.tile.edge_gb_per_s);
}

uint64_t ns_to_cycles(const HardwareConfig& c, double ns) {
  return static_cast<uint64_t>(std::ceil(ns * c.node.core.clock_ghz - 1e-9));
}

double peak_bf16_power_w(const HardwareConfig& c, Scale scale) {
  const HardwareConfig::Energy& e = c.energy;
  const double hz = c.node.core.clock_ghz * 1e9;
  const double macs = peak_flop_per_cycle(c, Precision::Bf16) / 2;
  const double read_bytes =
      2.0 * c.node.core.vlen_bytes * ops_per_cycle(c, isa::TimingClass::Matrix);
  const double per_node =
      (macs * e.mac_bf16_pj + read_bytes * e.sram_read_pj_per_byte) * 1e-12 * hz +
      e.static_w_per_node;
  return per_node * double(usable_nodes(c, scale));
}

uint64_t host_bytes_estimate(const HardwareConfig& c, unsigned threads, uint64_t per_node_bytes,
                             uint64_t data_bytes) {
  // Measured with `dojosim run` of a program that exits at once: 493 MB peak for the tile's
  // 8,850 nodes at one thread, 673 MB at four, 33 MB for a die; rounded up.
  constexpr uint64_t kProcess = 40ull << 20, kPerNode = 56ull << 10, kPerThread = 8ull << 10;
  constexpr uint64_t kSramPage = 4096;  // isa::Sram allocates its pages as they are written
  const uint64_t pages = (per_node_bytes + kSramPage - 1) / kSramPage * kSramPage;
  const uint64_t nodes = usable_nodes(c, Scale::Machine);
  return kProcess +
         nodes * (kPerNode + uint64_t{threads > 1 ? threads - 1 : 0} * kPerThread + pages) +
         data_bytes;
}

namespace {

// The systems Tesla published figures for, by tile count (dojo-facts 4.3): NaN where it
// published none. Peaks in PFLOP/s, SRAM in TiB, HBM in GiB (GB read as GiB, as for one DIP).
struct PublishedSystem {
  uint64_t tiles;
  double nodes, dips, peak_bf16, peak_fp32, sram_tib, hbm_gib, ethernet_tb, host_link_tb,
      bisection_tb;
};
constexpr PublishedSystem kPublishedSystems[] = {
    {6, kNone, 20, 54, kNone, kNone, 640, 1, 18, 13.4},
    {12, 106200, kNone, 108, kNone, kNone, kNone, kNone, kNone, kNone},
    {120, 1062000, kNone, 1100, 67.8, 1.3, 13000, kNone, kNone, kNone},
};

std::vector<DerivedFigure> system_figures(const HardwareConfig& c) {
  using P = Precision;
  const uint64_t tiles = uint64_t{c.system.tiles_x} * c.system.tiles_y;
  PublishedSystem pub{tiles, kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone};
  for (const PublishedSystem& s : kPublishedSystems)
    if (s.tiles == tiles) pub = s;
  const double dips = double(host_dip_count(c, Scale::System));
  return {
      {"system.tiles", "tiles of the system (system.tiles_x x tiles_y)", double(tiles), "count",
       kNone, 0, "6 per tray, 12 per cabinet, 120 per ExaPOD [AID22] [WIKI]"},
      {"system.usable_nodes", "usable nodes of the system", double(usable_nodes(c, Scale::System)),
       "count", pub.nodes, 0, "cabinet 106,200; ExaPOD 1,062,000 [WIKI] [AID21-VC]"},
      {"system.peak_bf16", "peak bf16/cfp8 of the system",
       peak_flops(c, P::Bf16, Scale::System) / 1e15, "PFLOP/s", pub.peak_bf16, 0.02,
       "tray 54 [AID22], cabinet about 108 [AID21-SA], ExaPOD 1.1 EFLOP/s [AID21-VC]"},
      {"system.peak_fp32", "peak fp32 of the system", peak_flops(c, P::Fp32, Scale::System) / 1e15,
       "PFLOP/s", pub.peak_fp32, 0.01, "ExaPOD 67.8 PFLOP/s [AID21-EET]"},
      {"system.sram", "SRAM of the system", double(sram_bytes(c, Scale::System)) / (kGiB * 1024),
       "TiB", pub.sram_tib, 0.03, "ExaPOD 1.3 TB [HC34-S], read as TiB"},
      {"system.host_dips", "DIPs on the system's outer edges (tile.host.edges)", dips, "count",
       pub.dips, 0, "20 DIPs per tray [HC34-S]"},
      {"system.host_capacity", "DIP memory of the system", host_capacity_gib(c, Scale::System),
       "GiB", pub.hbm_gib, 0.02,
       "tray 640 GB; ExaPOD 13 TB = 20 trays x 640 GB [HC34-S]; GB read as GiB"},
      {"system.host_link", "DIP links into the tiles", host_link_gb_per_s(c, Scale::System) / 1e3,
       "TB/s", pub.host_link_tb, 0, "tray 18 TB/s = 20 x 900 GB/s [HC34-S]"},
      {"system.ethernet", "DIP Ethernet (TTPoE) into the Z-plane",
       dips * c.system.dip_ethernet_gb_per_s / 1e3, "TB/s", pub.ethernet_tb, 0,
       "tray 1 TB/s = 20 x 50 GB/s [HC34-S]"},
      {"system.bisection", "bisection of the system's mesh, one direction",
       bisection_gb_per_s(c, Scale::System) / 1e3, "TB/s", pub.bisection_tb, 0.01,
       "tray 13.4 TB/s [AID22]: 3 tile edges x 4.5 TB/s"},
      {"system.tile_edge", "across one tile edge, both directions",
       2 * std::min(tile_edge_gb_per_s(c, Dir::East), tile_edge_gb_per_s(c, Dir::South)) / 1e3,
       "TB/s", 9, 0, "9 TB/s per tile edge [AID21-EET]"},
      {"system.tile_edge_link_ew", "per mesh link across an east/west tile edge",
       tile_edge_link_bytes_per_cycle(c, Dir::East), "B/cycle", kNone, 0,
       "derived: the tile edge shared by its links (docs/hardware.md \"Systems\")"},
      {"system.tile_edge_link_ns", "per mesh link across a north/south tile edge",
       tile_edge_link_bytes_per_cycle(c, Dir::South), "B/cycle", kNone, 0,
       "derived: the tile edge shared by its links"},
      {"system.tile_edge_latency", "tile-edge crossing latency",
       double(ns_to_cycles(c, c.system.tile_edge_latency_ns)), "cycles", kNone, 0,
       "assumption: system.tile_edge_latency_ns"},
      {"system.peak_bf16_power", "power at peak bf16 (energy table)",
       peak_bf16_power_w(c, Scale::System) / 1e3, "kW", kNone, 0,
       "derived; tray \"100+ kW\" [AID22] counts VRMs and hosts"},
  };
}

}  // namespace

std::vector<DerivedFigure> derived_figures(const HardwareConfig& c) {
  using P = Precision;
  using L = Scale;
  const double bf16 = peak_flop_per_cycle(c, P::Bf16), fp32 = peak_flop_per_cycle(c, P::Fp32);
  const double hz = c.node.core.clock_ghz * 1e9;
  const auto& k = c.node.core;
  const auto& tp = k.timing_params;
  const double load_ports = tp.unit_instances[static_cast<size_t>(isa::Unit::LoadPort)];
  const double store_ports = tp.unit_instances[static_cast<size_t>(isa::Unit::StorePort)];
  const double dma = c.node.dma.sram_port_bytes;
  const double edge_dips = c.tile.host.dips_per_edge;
  std::vector<DerivedFigure> out = {
      {"node.peak_bf16", "peak bf16 matrix FLOP/s of one node", bf16 * hz / 1e9, "GFLOP/s", 1024, 0,
       "1,024 GFLOP/s [AID21-EET]; 512 FLOP/cycle"},
      {"node.peak_cfp8", "peak cfp8 matrix FLOP/s (same MAC rate as bf16)",
       peak_flop_per_cycle(c, P::Cfp8) * hz / 1e9, "GFLOP/s", 1024, 0,
       "\"1 TFLOP of BF16 or CFP8\" [AID21-SA]"},
      {"node.peak_fp32", "peak fp32 SIMD FLOP/s (FMA = 2)", fp32 * hz / 1e9, "GFLOP/s", 64, 0,
       "64 GFLOP/s [AID21-EET]"},
      {"node.sram", "SRAM of one node", double(k.sram_bytes) / kMiB, "MiB", 1.25, 0,
       "1.25 MB [HC34-U], read as MiB"},
      {"node.sram_read", "SRAM read bandwidth: load ports + router/DMA read ports",
       (load_ports * k.vlen_bytes + c.node.dma.sram_read_ports * dma) * k.clock_ghz, "GB/s", 400,
       0.06, "400 GB/s [HC34-U]; 3 x 64 B ports, within ~5% (dojo-facts 1.3)"},
      {"node.sram_write", "SRAM write bandwidth: store port + router/DMA write ports",
       (store_ports * k.vlen_bytes + c.node.dma.sram_write_ports * dma) * k.clock_ghz, "GB/s", 270,
       0.06, "270 GB/s [HC34-U]; 2 x 64 B ports, within ~5% (dojo-facts 1.3)"},
      {"node.link", "one mesh link, one direction", link_gb_per_s(c), "GB/s", kNone, 0,
       "derived: 64 B/cycle x 2 GHz [NOTES-SISI]"},
      {"node.links_out", "all four links out of a node", 4 * link_gb_per_s(c), "GB/s", 512, 0,
       "\"512 GB/s in each direction\" [AID21-SA], read as out vs in"},
      {"node.hop_ns", "one hop", c.noc.router_latency_cycles / c.node.core.clock_ghz, "ns", kNone,
       0, "1 cycle per hop [NOTES-SISI]"},
      {"die.usable_nodes", "usable nodes of a die", double(usable_nodes(c, L::Die)), "count", 354,
       0, "354 [HC34-U]"},
      {"die.peak_bf16", "peak bf16/cfp8 of a die", peak_flops(c, P::Bf16, L::Die) / 1e12, "TFLOP/s",
       362, 0.005, "362 TFLOP/s [MICRO23], three figures"},
      {"die.peak_fp32", "peak fp32 of a die", peak_flops(c, P::Fp32, L::Die) / 1e12, "TFLOP/s",
       22.6, 0.005, "22.6 TFLOP/s [AID21-EET] (HC34: 22)"},
      {"die.sram", "SRAM of a die", double(sram_bytes(c, L::Die)) / kMiB, "MiB", 440, 0.01,
       "440 MB [MICRO23] = 354 x 1.25, rounded"},
      {"die.bisection", "bisection of a die, one direction", bisection_gb_per_s(c, L::Die), "GB/s",
       kNone, 0, "none; AI Day's \"10 TB/s on-chip\" is not reproducible (dojo-facts 8 #2)"},
      {"die.edge_link_ew", "per mesh link across an east/west die edge",
       die_edge_link_bytes_per_cycle(c, Dir::East), "B/cycle", kNone, 0,
       "derived: die.edge_gb_per_s shared by nodes_y links"},
      {"die.edge_link_ns", "per mesh link across a north/south die edge",
       die_edge_link_bytes_per_cycle(c, Dir::North), "B/cycle", kNone, 0,
       "derived: die.edge_gb_per_s shared by nodes_x links"},
      {"die.edge_latency", "die-edge crossing latency",
       double(ns_to_cycles(c, c.die.edge_latency_ns)), "cycles", kNone, 0, "about 100 ns [CNC]"},
      {"die.peak_bf16_power", "power at peak bf16 (energy table)", peak_bf16_power_w(c, L::Die),
       "W", 400, 0.02, "400 W TDP [AID21-VC]: calibration target"},
      {"tile.usable_nodes", "usable nodes of a tile", double(usable_nodes(c, L::Tile)), "count",
       kNone, 0, "25 x 354 (derived)"},
      {"tile.peak_bf16", "peak bf16/cfp8 of a tile", peak_flops(c, P::Bf16, L::Tile) / 1e15,
       "PFLOP/s", 9, 0.01, "9 PFLOP/s [HC34-S]"},
      {"tile.peak_fp32", "peak fp32 of a tile", peak_flops(c, P::Fp32, L::Tile) / 1e12, "TFLOP/s",
       565, 0.005, "565 TFLOP/s [AID21-EET]"},
      {"tile.sram", "SRAM of a tile", double(sram_bytes(c, L::Tile)) / kGiB, "GiB", 11, 0.025,
       "11 GB [HC34-S], two figures"},
      {"tile.bisection", "bisection of a tile, one direction", bisection_gb_per_s(c, L::Tile) / 1e3,
       "TB/s", 10, 0, "10 TB/s [HC34-S] = 5 die edges x 2 TB/s"},
      {"tile.off_tile", "out of the tile, both directions", off_tile_gb_per_s(c) / 1e3, "TB/s", 36,
       0, "36 TB/s [HC34-S] = 4 edges x 5 dies x 900 GB/s x 2"},
      {"tile.host_capacity_per_edge", "DIP memory on one tile edge",
       edge_dips * c.tile.host.dip_capacity_gib, "GiB", 160, 0, "160 GB per tile edge [HC34-S]"},
      {"tile.host_link_per_edge", "DIP links on one tile edge",
       edge_dips * std::min(c.tile.host.dip_link_gb_per_s, c.tile.edge_gb_per_s) / 1e3, "TB/s", 4.5,
       0, "4.5 TB/s per tile edge [HC34-S]"},
      {"tile.host_capacity", "DIP memory of the tile (tile.host.edges)",
       host_capacity_gib(c, L::Tile), "GiB", kNone, 0, "derived"},
      {"tile.host_hbm", "DIP HBM bandwidth of the tile", host_hbm_gb_per_s(c, L::Tile) / 1e3,
       "TB/s", kNone, 0, "derived: DIPs x 800 GB/s"},
      {"tile.peak_bf16_power", "power at peak bf16 (energy table)",
       peak_bf16_power_w(c, L::Tile) / 1e3, "kW", 10, 0.02,
       "25 x 400 W D1 TDP (dojo-facts 8 #14; 15 kW with VRMs)"},
      {"machine.nodes", "node positions simulated (machine.scope)", double(c.node_count()), "count",
       kNone, 0, "derived"},
      {"machine.usable_nodes", "usable nodes simulated", double(c.usable_nodes()), "count", kNone,
       0, "derived"},
      {"machine.host_dips", "DIPs attached to the simulated dies",
       double(host_dip_count(c, L::Machine)), "count", kNone, 0, "derived"},
  };
  if (uint64_t{c.system.tiles_x} * c.system.tiles_y > 1) {
    const std::vector<DerivedFigure> system = system_figures(c);
    out.insert(out.end() - 3, system.begin(), system.end());
  }
  return out;
}

}  // namespace dojosim::hw
