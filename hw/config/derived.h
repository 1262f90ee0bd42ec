// SPDX-License-Identifier: MIT
// Figures computed from a config: peak FLOP/s, SRAM, bandwidths, host memory, power. Never
// stored: every figure is a function of the parameters, so changing a parameter changes every
// figure that depends on it. derived_figures() lists them beside the published D1/tile
// figures (docs/hardware.md prints that table; tests/hw/test_config.cpp checks it).
// Units: GB = 1e9 bytes, GiB = 2^30 bytes; bandwidths are per direction unless named otherwise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/config/hardware_config.h"

namespace dojosim::hw {

enum class Precision : uint8_t { Bf16, Cfp8, Fp32 };
// Node: one node; Die: one die of the tile; Tile: all its dies; System: all the tiles of
// system.tiles_x x tiles_y (whatever machine.scope is); Machine: what machine.scope simulates.
enum class Scale : uint8_t { Node, Die, Tile, System, Machine };

// FLOP per cycle of one node at the issue rate of its matrix (bf16, cfp8) or SIMD (fp32)
// unit: 2 x MACs per block x unit instances / occupancy.
double peak_flop_per_cycle(const HardwareConfig& c, Precision p);
double peak_flops(const HardwareConfig& c, Precision p, Scale scale);  // FLOP/s
uint64_t usable_nodes(const HardwareConfig& c, Scale scale);
uint64_t die_count(const HardwareConfig& c, Scale scale);
uint64_t sram_bytes(const HardwareConfig& c, Scale scale);  // usable nodes only

double link_gb_per_s(const HardwareConfig& c);  // one mesh link, one direction
// Bytes per cycle available to one mesh link crossing a die edge on `edge`: the edge's
// bandwidth shared by the links crossing it, capped by the link width.
double die_edge_link_bytes_per_cycle(const HardwareConfig& c, Dir edge);
// Bytes per cycle available to one mesh link crossing a tile edge on `edge` (a system): the
// smallest of the link width, the die edge's share, the die edge's off-tile share
// (tile.edge_gb_per_s) and the tile edge's share (system.tile_edge_gb_per_s), each divided by
// the links crossing it. Below 1, the tiles do not connect (validate() refuses it).
double tile_edge_link_bytes_per_cycle(const HardwareConfig& c, Dir edge);
// Bandwidth per direction across one whole tile edge into the next tile.
double tile_edge_gb_per_s(const HardwareConfig& c, Dir edge);
// The smallest bandwidth (one direction) of a cut through the middle of the die, tile or
// machine: the middle node cut and the die-boundary cuts nearest it, in x and in y; a cut at a
// die boundary carries at most die.edge_gb_per_s per die edge. A system of tiles is cut into
// halves: along an axis with an even number of tiles at the middle tile edge; with an odd
// number through the middle column of tiles (their own bisection, side by side). A single
// tile is cut as a tile.
double bisection_gb_per_s(const HardwareConfig& c, Scale scale);
// Out of the tile through every die edge on its boundary, both directions added, as Tesla
// counts its 36 TB/s.
double off_tile_gb_per_s(const HardwareConfig& c);

uint64_t host_dip_count(const HardwareConfig& c, Scale scale);  // Tile, System or Machine
double host_capacity_gib(const HardwareConfig& c, Scale scale);
double host_hbm_gb_per_s(const HardwareConfig& c, Scale scale);
double host_link_gb_per_s(const HardwareConfig& c, Scale scale);

uint64_t ns_to_cycles(const HardwareConfig& c, double ns);  // rounded up

// Power of the usable nodes running the peak bf16 kernel: every node issues an mma each
// cycle its matrix unit allows and reads both operand registers (2 x vlen bytes) from SRAM;
// static power on top; the NoC idle.
double peak_bf16_power_w(const HardwareConfig& c, Scale scale);

// Host memory a simulation of `c` needs, estimated before anything is built, so that a machine
// or workload too large for the host is refused with a figure rather than ending in
// std::bad_alloc: the process's fixed part, every usable node's module and core with `threads`
// threads each (measured on the tile preset, docs/outputs.md "Host memory"), the bytes
// `per_node_bytes` each node's SRAM takes at least (a program image) and `data_bytes` the
// caller adds (a workload's operands, results and references). SRAM a program touches later
// is not known here.
uint64_t host_bytes_estimate(const HardwareConfig& c, unsigned threads, uint64_t per_node_bytes = 0,
                             uint64_t data_bytes = 0);

struct DerivedFigure {
  std::string key;   // "die.peak_bf16"
  std::string what;  // one line: what it is
  double value;      // in `unit`
  std::string unit;
  double published;    // NaN where there is no published figure to compare
  double tolerance;    // relative difference to `published` the comparison allows
  std::string source;  // the published figure as printed, its source key, and the reading
};
std::vector<DerivedFigure> derived_figures(const HardwareConfig& c);

}  // namespace dojosim::hw
