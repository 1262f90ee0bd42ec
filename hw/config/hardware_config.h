// SPDX-License-Identifier: MIT
// The hardware configuration: one plain struct holding every parameter of the machine, and the
// parameter table (hw/config/params.def) that declares each of them once — key, type, member,
// default, unit, range, status and description. The YAML reader and writer, validation,
// `dojosim config show` and docs/config.md are all walks over that table (hw/config/config_io.h,
// hw/config/reference_doc.h); the figures computed from a config are in hw/config/derived.h.
//
// Contract: a default-constructed HardwareConfig holds the defaults of params.def (one D1 die of
// a 5x5-die training tile). Code that builds a machine takes a config that went through
// validate() (load_config() does both stages); the geometry helpers below assume one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "hw/noc/geometry.h"
#include "isa/interpreter.h"
#include "isa/timing.h"

namespace dojosim::hw {

// What one simulation builds: a single die of the tile (machine.die), the whole tile, or every
// tile of the system (system.tiles_x x tiles_y tiles in one mesh).
enum class MachineScope : uint8_t { Die, Tile, System, kCount };
std::string_view scope_name(MachineScope s);
// Mesh directions name the edges of a die or of the tile: "east", "west", "north", "south".

// The names YAML accepts for an enum-valued parameter, in enum order.
template <class E>
struct EnumNames;
template <>
struct EnumNames<Dir> {
  static constexpr int kCount = kDirCount;
  static std::string_view name(Dir v) { return dir_name(v); }
};
template <>
struct EnumNames<MachineScope> {
  static constexpr int kCount = static_cast<int>(MachineScope::kCount);
  static std::string_view name(MachineScope v) { return scope_name(v); }
};
template <>
struct EnumNames<isa::Unit> {
  static constexpr int kCount = isa::kUnitCount;
  static std::string_view name(isa::Unit v) { return isa::unit_name(v); }
};

// Where a DIP attaches: the middle node of the outer edge of one die on the tile boundary (the
// system boundary with machine.scope system).
struct DipPlace {
  Dir edge;        // tile edge
  uint32_t index;  // 0..dips_per_edge-1 along that edge of its tile
  Coord die;       // die coordinates: in the tile, or in the system's grid of dies
  Coord node;      // machine coordinates of the node it attaches to
};

// NOTE: no member below has a default initializer on purpose: the defaults live in params.def
// only, and HardwareConfig() applies them. Units are in params.def and docs/config.md.
struct HardwareConfig {
  struct Node {
    // Clock, threads, SRAM, vector and matrix shape and the per-class timing of the core. Its
    // `timing`, `node_x/y` and `mesh_w/h` are not parameters: core_config() fills them.
    isa::CoreConfig core;
    uint32_t semaphores;
    struct Dma {
      uint32_t queue_depth;
      uint32_t sram_read_ports, sram_write_ports, sram_port_bytes;  // router/DMA side
    } dma;
  } node;

  struct Noc {
    uint32_t link_bytes_per_cycle;  // one flit per link, per direction, per cycle
    uint32_t router_latency_cycles;
    uint32_t max_packet_payload_bytes;
    uint32_t packet_header_bytes;
    std::string routing;  // a name in hw/noc's registry (routing_names())
    std::string router;   // a name of router_names()
    std::string allocator;  // input_queued: a name of allocator_names()
    uint32_t vcs;
    uint32_t vc_buffer_flits;
    uint32_t edge_vcs_request_low, edge_vcs_request_high;  // die-edge routers; data: the rest
  } noc;

  struct Die {
    uint32_t nodes_x, nodes_y;
    std::vector<Coord> disabled;  // die-local, the same in every die
    double edge_gb_per_s;         // per direction, per die edge
    double edge_latency_ns;
  } die;

  struct Tile {
    uint32_t dies_x, dies_y;
    double edge_gb_per_s;  // per direction, out of one die edge on the tile boundary
    struct Host {
      std::vector<Dir> edges;  // tile edges with DIPs
      uint32_t dips_per_edge;
      uint32_t dip_capacity_gib;
      double dip_gb_per_s;       // HBM bandwidth of one DIP
      double dip_link_gb_per_s;  // its link into the tile
      double latency_ns;
    } host;
  } tile;

  struct System {
    uint32_t tiles_x, tiles_y;
    double tile_edge_gb_per_s;  // per direction, per tile edge, shared by the links crossing it
    double tile_edge_latency_ns;
    double dip_ethernet_gb_per_s;  // per DIP, into the Z-plane switches
    bool z_plane;
    double z_switch_latency_ns;
  } system;

  struct Machine {
    MachineScope scope;
    Coord die;  // the die simulated when scope is Die, in tile coordinates
  } machine;

  struct Sim {
    uint64_t quantum_cycles, max_cycles, seed;
    uint32_t host_threads;
    bool quantum_aligned, timing, values, reverse_node_order;
    double max_seconds;
  } sim;

  struct Energy {
    double mac_bf16_pj, mac_cfp8_pj, flop_fp32_pj;
    double sram_read_pj_per_byte, sram_write_pj_per_byte;
    double hop_pj_per_byte, die_edge_pj_per_byte, host_memory_pj_per_byte;
    double static_w_per_node;
  } energy;

  // Not a parameter (no key: config files, comparisons and reports leave it out): the
  // rectangle of nodes the runtime places ops on, a data-parallel group's
  // (runtime/graph/run/groups.h). Width 0: the whole mesh. The machine ignores it.
  struct Region {
    Coord origin;
    uint32_t width = 0, height = 0;
  } region;

  HardwareConfig();  // the defaults of params.def

  // Every parameter equal (the members params.def binds; nothing else is compared).
  bool operator==(const HardwareConfig& o) const;
  bool operator!=(const HardwareConfig& o) const { return !(*this == o); }

  // Geometry of the simulated machine. Coordinates are global: the tile is one mesh of
  // dies_x*nodes_x by dies_y*nodes_y nodes, a system one mesh of tiles_x times that by tiles_y
  // times that; a single-die machine has that die's nodes at (0,0)..(nodes_x-1, nodes_y-1).
  uint32_t dies_wide() const;  // dies of the machine along x (1 for a single die)
  uint32_t dies_high() const;
  uint32_t mesh_width() const { return dies_wide() * die.nodes_x; }
  uint32_t mesh_height() const { return dies_high() * die.nodes_y; }
  uint64_t die_count() const { return uint64_t{dies_wide()} * dies_high(); }
  uint64_t node_count() const { return uint64_t{mesh_width()} * mesh_height(); }
  uint64_t usable_nodes_per_die() const;
  uint64_t usable_nodes() const { return die_count() * usable_nodes_per_die(); }
  bool is_disabled(Coord at) const;
  // The runtime's rectangle (`region`, or the whole mesh) and its usable nodes, row by row.
  Region runtime_region() const;
  std::vector<Coord> runtime_nodes() const;
  std::vector<Coord> disabled_nodes() const;  // every disabled position of the machine
  Coord die_of(Coord at) const;               // tile coordinates of the node's die
  Coord local_of(Coord at) const;             // the node's position inside its die
  uint32_t tiles_wide() const;  // tiles of the machine along x (1 unless scope is system)
  uint32_t tiles_high() const;
  uint64_t tile_count() const { return uint64_t{tiles_wide()} * tiles_high(); }
  // Whether the link between neighbouring nodes a and b crosses a die edge; a tile edge is
  // also a die edge.
  bool crosses_die_edge(Coord a, Coord b) const;
  bool crosses_tile_edge(Coord a, Coord b) const;
  // The DIPs attached to the simulated dies, by edge (east, west, north, south), then index.
  std::vector<DipPlace> host_dips() const;
  // The interpreter's config for the node at `at`.
  isa::CoreConfig core_config(Coord at) const;
};

// ---- The parameter table ----

enum class ParamStatus : uint8_t { Published, Derived, Assumption };
std::string_view status_name(ParamStatus s);

// A typed handle on one parameter: reads and writes the member it binds in any config.
template <class T>
struct ParamBinding {
  T& (*ref)(HardwareConfig&, int index);
  int index;  // the name index of an expanded row (timing class, unit); 0 otherwise
  T def;
  T& of(HardwareConfig& c) const { return ref(c, index); }
  const T& of(const HardwareConfig& c) const { return ref(const_cast<HardwareConfig&>(c), index); }
};

// Every type a parameter may have; std::visit over ParamInfo::binding gives the typed handle.
using AnyBinding =
    std::variant<ParamBinding<uint8_t>, ParamBinding<uint16_t>, ParamBinding<uint32_t>,
                 ParamBinding<uint64_t>, ParamBinding<double>, ParamBinding<bool>,
                 ParamBinding<std::string>, ParamBinding<MachineScope>, ParamBinding<isa::Unit>,
                 ParamBinding<Coord>, ParamBinding<std::vector<Coord>>,
                 ParamBinding<std::vector<Dir>>>;

struct ParamInfo {
  std::string key;     // "node.timing.alu.latency"
  std::string family;  // "node.timing.<class>.latency" for a row expanded per name, else empty
  std::string_view unit;
  double min, max;  // inclusive, for numbers
  // For a string: the names it may take (nullptr: any); for hw/noc's registry, not a copy.
  std::vector<std::string> (*choices)();
  ParamStatus status;
  std::string_view source;  // dojo-facts source keys and the reasoning, in a few words
  std::string_view doc;
  AnyBinding binding;
};

// Every parameter, in table order (expanded rows grouped by name: alu.unit, alu.latency, ...).
const std::vector<ParamInfo>& params();
// nullptr if `key` is not a parameter.
const ParamInfo* find_param(std::string_view key);
// Whether `prefix` names a group of parameters ("node", "node.timing", "node.timing.alu").
bool is_param_group(std::string_view prefix);

}  // namespace dojosim::hw
