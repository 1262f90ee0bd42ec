// SPDX-License-Identifier: MIT
#include "hw/config/hardware_config.h"

#include <algorithm>
#include <limits>
#include <map>

#include "hw/noc/network.h"
#include "hw/noc/routing.h"
#include "isa/node_runner.h"

namespace dojosim::hw {

std::string_view scope_name(MachineScope s) {
  static constexpr std::string_view kNames[] = {"die", "tile", "system"};
  static_assert(std::size(kNames) == static_cast<size_t>(MachineScope::kCount));
  return kNames[static_cast<size_t>(s)];
}

std::string_view status_name(ParamStatus s) {
  static constexpr std::string_view kNames[] = {"published", "derived", "assumption"};
  return kNames[static_cast<size_t>(s)];
}

namespace {

constexpr double kUnbounded = std::numeric_limits<double>::infinity();
constexpr int kTimingClassCount = static_cast<int>(isa::TimingClass::kCount);
std::string_view class_key(int i) {
  return isa::timing_class_name(static_cast<isa::TimingClass>(i));
}
std::string_view unit_key(int i) {
  return isa::unit_name(static_cast<isa::Unit>(i));
}

template <class T>
void add(std::vector<ParamInfo>& table, std::string key, std::string family,
         T& (*ref)(HardwareConfig&, int), int index, T def, std::string_view unit, double min,
         double max, std::vector<std::string> (*choices)(), ParamStatus status,
         std::string_view source, std::string_view doc) {
  table.push_back(ParamInfo{std::move(key), std::move(family), unit, min, max, choices, status,
                            source, doc, ParamBinding<T>{ref, index, std::move(def)}});
}

std::vector<ParamInfo> build_table() {
  // The ISA owns these defaults; params.def reads them (see its header).
  static const isa::CoreConfig kCore{};
  static const isa::TimingParams kTiming = isa::TimingParams::d1_defaults();
  static const isa::NodeRunOptions kRun{};
  std::vector<ParamInfo> t;
  // Expanded rows come out field-major (all .unit, then all .latency); sorting by `order`,
  // (row or family, name index), regroups them so alu.unit, alu.latency, alu.occupancy sit
  // together in config show, the docs and the written YAML.
  std::vector<std::pair<int, int>> order;
  std::map<std::string, int> family_block;
  int block = 0;
#define DOJOSIM_PARAM(key, type, member, def, unit, lo, hi, status, source, doc)                   \
  add<type>(                                                                                       \
      t, #key, "", [](HardwareConfig& c, int) -> type& { return c.member; }, 0, def, unit, lo, hi, \
      nullptr, ParamStatus::status, source, doc);                                                  \
  order.emplace_back(block++, 0);
#define DOJOSIM_PARAM_CHOICE(key, member, def, choices, status, source, doc)                       \
  add<std::string>(                                                                                \
      t, #key, "", [](HardwareConfig& c, int) -> std::string& { return c.member; }, 0, def, "", 0, \
      0, choices, ParamStatus::status, source, doc);                                               \
  order.emplace_back(block++, 0);
#define DOJOSIM_PARAM_EACH(prefix, placeholder, count, name_of, suffix, type, member, def, unit,  \
                           lo, hi, status, source, doc)                                           \
  {                                                                                               \
    auto ref = [](HardwareConfig& c, int i) -> type& { return c.member; };                        \
    auto def_of = [](int i) -> type { return def; };                                              \
    const auto [it, fresh] = family_block.emplace(#prefix, block);                                \
    if (fresh) ++block;                                                                           \
    for (int n = 0; n < (count); ++n) {                                                           \
      add<type>(t, std::string(#prefix ".") + std::string(name_of(n)) + #suffix,                  \
                #prefix ".<" #placeholder ">" #suffix, +ref, n, def_of(n), unit, lo, hi, nullptr, \
                ParamStatus::status, source, doc);                                                \
      order.emplace_back(it->second, n);                                                          \
    }                                                                                             \
  }
#include "hw/config/params.def"
#undef DOJOSIM_PARAM
#undef DOJOSIM_PARAM_CHOICE
#undef DOJOSIM_PARAM_EACH
  std::vector<size_t> idx(t.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return order[a] < order[b]; });
  std::vector<ParamInfo> sorted;
  sorted.reserve(t.size());
  for (size_t i : idx) sorted.push_back(std::move(t[i]));
  return sorted;
}

}  // namespace

const std::vector<ParamInfo>& params() {
  static const std::vector<ParamInfo> table = build_table();
  return table;
}

const ParamInfo* find_param(std::string_view key) {
  static const std::map<std::string, const ParamInfo*, std::less<>> index = [] {
    std::map<std::string, const ParamInfo*, std::less<>> m;
    for (const ParamInfo& p : params()) m.emplace(p.key, &p);
    return m;
  }();
  const auto it = index.find(key);
  return it == index.end() ? nullptr : it->second;
}

bool is_param_group(std::string_view prefix) {
  for (const ParamInfo& p : params())
    if (p.key.size() > prefix.size() && p.key.compare(0, prefix.size(), prefix) == 0 &&
        p.key[prefix.size()] == '.')
      return true;
  return false;
}

// Zeroed first, so a member that params.def forgets is 0 rather than indeterminate.
HardwareConfig::HardwareConfig()
    : node(), noc(), die(), tile(), system(), machine(), sim(), energy() {
  for (const ParamInfo& p : params())
    std::visit([&](const auto& b) { b.of(*this) = b.def; }, p.binding);
}

bool HardwareConfig::operator==(const HardwareConfig& o) const {
  for (const ParamInfo& p : params()) {
    const bool same = std::visit([&](const auto& b) { return b.of(*this) == b.of(o); }, p.binding);
    if (!same) return false;
  }
  return true;
}

uint32_t HardwareConfig::tiles_wide() const {
  return machine.scope == MachineScope::System ? system.tiles_x : 1;
}

uint32_t HardwareConfig::tiles_high() const {
  return machine.scope == MachineScope::System ? system.tiles_y : 1;
}

uint32_t HardwareConfig::dies_wide() const {
  return machine.scope == MachineScope::Die ? 1 : tile.dies_x * tiles_wide();
}

uint32_t HardwareConfig::dies_high() const {
  return machine.scope == MachineScope::Die ? 1 : tile.dies_y * tiles_high();
}

uint64_t HardwareConfig::usable_nodes_per_die() const {
  return uint64_t{die.nodes_x} * die.nodes_y - die.disabled.size();
}

Coord HardwareConfig::die_of(Coord at) const {
  if (machine.scope == MachineScope::Die) return machine.die;
  return {at.x / int(die.nodes_x), at.y / int(die.nodes_y)};
}

Coord HardwareConfig::local_of(Coord at) const {
  return {at.x % int(die.nodes_x), at.y % int(die.nodes_y)};
}

bool HardwareConfig::is_disabled(Coord at) const {
  const Coord local = local_of(at);
  return std::find(die.disabled.begin(), die.disabled.end(), local) != die.disabled.end();
}

HardwareConfig::Region HardwareConfig::runtime_region() const {
  if (region.width) return region;
  return {{0, 0}, mesh_width(), mesh_height()};
}

std::vector<Coord> HardwareConfig::runtime_nodes() const {
  const Region r = runtime_region();
  std::vector<Coord> out;
  for (int y = r.origin.y; y < r.origin.y + int(r.height); ++y)
    for (int x = r.origin.x; x < r.origin.x + int(r.width); ++x)
      if (!is_disabled({x, y})) out.push_back({x, y});
  return out;
}

std::vector<Coord> HardwareConfig::disabled_nodes() const {
  std::vector<Coord> out;
  for (uint32_t dy = 0; dy < dies_high(); ++dy)
    for (uint32_t dx = 0; dx < dies_wide(); ++dx)
      for (const Coord& d : die.disabled)
        out.push_back({int(dx * die.nodes_x) + d.x, int(dy * die.nodes_y) + d.y});
  return out;
}

bool HardwareConfig::crosses_die_edge(Coord a, Coord b) const {
  const int w = int(die.nodes_x), h = int(die.nodes_y);
  return a.x / w != b.x / w || a.y / h != b.y / h;
}

bool HardwareConfig::crosses_tile_edge(Coord a, Coord b) const {
  if (machine.scope != MachineScope::System) return false;
  const int w = int(die.nodes_x * tile.dies_x), h = int(die.nodes_y * tile.dies_y);
  return a.x / w != b.x / w || a.y / h != b.y / h;
}

std::vector<DipPlace> HardwareConfig::host_dips() const {
  std::vector<DipPlace> out;
  const int nx = int(die.nodes_x), ny = int(die.nodes_y);
  const int dies_x = int(dies_wide()), dies_y = int(dies_high());
  for (int e = 0; e < kDirCount; ++e) {
    const Dir edge = static_cast<Dir>(e);
    if (std::find(tile.host.edges.begin(), tile.host.edges.end(), edge) == tile.host.edges.end())
      continue;
    const bool horizontal = edge == Dir::North || edge == Dir::South;
    const uint64_t along = horizontal ? tile.dies_x : tile.dies_y;
    // In a system, every tile along the outer edge carries its own DIPs on that edge.
    const uint32_t tiles = horizontal ? tiles_wide() : tiles_high();
    for (uint32_t t = 0; t < tiles; ++t) {
      const int first = int(t * along);  // first die of this tile along the edge
      for (uint32_t i = 0; i < tile.host.dips_per_edge; ++i) {
        // Spread evenly over the dies along the edge, one DIP per die edge at most.
        const int k =
            first + int((2 * uint64_t{i} + 1) * along / (2 * uint64_t{tile.host.dips_per_edge}));
        Coord d;
        if (machine.scope == MachineScope::Die) {
          d = horizontal ? Coord{k, edge == Dir::North ? 0 : int(tile.dies_y) - 1}
                         : Coord{edge == Dir::West ? 0 : int(tile.dies_x) - 1, k};
          if (d != machine.die) continue;
        } else {
          d = horizontal ? Coord{k, edge == Dir::North ? 0 : dies_y - 1}
                         : Coord{edge == Dir::West ? 0 : dies_x - 1, k};
        }
        const Coord origin =
            machine.scope == MachineScope::Die ? Coord{0, 0} : Coord{d.x * nx, d.y * ny};
        Coord n;
        switch (edge) {
          case Dir::North:
            n = {origin.x + nx / 2, origin.y};
            break;
          case Dir::South:
            n = {origin.x + nx / 2, origin.y + ny - 1};
            break;
          case Dir::West:
            n = {origin.x, origin.y + ny / 2};
            break;
          default:
            n = {origin.x + nx - 1, origin.y + ny / 2};
            break;
        }
        out.push_back({edge, i, d, n});
      }
    }
  }
  return out;
}

isa::CoreConfig HardwareConfig::core_config(Coord at) const {
  isa::CoreConfig c = node.core;
  c.timing = sim.timing;
  c.values = sim.values;
  c.seed = sim.seed;
  c.node_x = static_cast<uint32_t>(at.x);
  c.node_y = static_cast<uint32_t>(at.y);
  c.mesh_w = mesh_width();
  c.mesh_h = mesh_height();
  return c;
}

}  // namespace dojosim::hw
