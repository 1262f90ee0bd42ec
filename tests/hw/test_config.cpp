// SPDX-License-Identifier: MIT
// The hardware config: the presets load, the derived figures equal the published D1 and tile
// figures, every kind of bad value gives a message naming file, line, key, value and what was
// allowed, writing and re-reading is lossless, and the generated docs are current.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "hw/config/config_io.h"
#include "hw/config/derived.h"
#include "hw/config/machine_params.h"
#include "hw/config/reference_doc.h"
#include "hw/noc/routing.h"

using namespace dojosim::hw;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

std::string source(const std::string& rel) {
  return std::string(DOJOSIM_SOURCE_DIR) + "/" + rel;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Both stages over YAML text named "test.yaml" (extends resolve in configs/), then overrides;
// the error text, or "" if the config is valid. Any exception but ConfigError fails the test.
std::string errors_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    LoadedConfig c;
    read_config_text(yaml, "test.yaml", c, source("configs"));
    for (const std::string& o : overrides) apply_override(c, o);
    validate(c.config, c.origins);
    return "";
  } catch (const ConfigError& e) {
    return e.what();
  }
}

HardwareConfig parsed(const std::string& yaml) {
  LoadedConfig c;
  read_config_text(yaml, "test.yaml", c, source("configs"));
  validate(c.config, c.origins);
  return c.config;
}

// A fresh folder for config files that refer to each other.
std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("dojosim-config-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

double relative(double value, double published) {
  return std::fabs(value - published) / published;
}

}  // namespace

// ---- presets ----

TEST_CASE("the presets load, validate and describe the machines they name", "[config]") {
  const LoadedConfig d1 = load_config(source("configs/d1.yaml"));
  CHECK(d1.config == HardwareConfig{});  // d1 is the built-in default, restated nowhere
  CHECK(d1.config.mesh_width() == 18);
  CHECK(d1.config.mesh_height() == 20);
  CHECK(d1.config.usable_nodes() == 354);

  const LoadedConfig tile = load_config(source("configs/tile.yaml"));
  CHECK(tile.config.machine.scope == MachineScope::Tile);
  CHECK(tile.config.mesh_width() == 90);
  CHECK(tile.config.mesh_height() == 100);
  CHECK(tile.config.usable_nodes() == 8850);
  CHECK(tile.files.size() == 2);  // tile.yaml extends d1.yaml
  CHECK(tile.origins.at("machine.scope").str() == source("configs/tile.yaml") + ":6");

  const LoadedConfig tiny = load_config(source("configs/tiny.yaml"));
  CHECK(tiny.config.mesh_width() == 4);
  CHECK(tiny.config.mesh_height() == 4);
  CHECK(tiny.config.usable_nodes() == 16);
  CHECK(tiny.config.die.disabled.empty());
}

TEST_CASE("an empty config is the default, and a config without a file too", "[config]") {
  CHECK(parsed("") == HardwareConfig{});
  CHECK(parsed("# nothing but a comment\n") == HardwareConfig{});
  CHECK(load_config("").config == HardwareConfig{});
}

// ---- derived figures (fidelity) ----

TEST_CASE("derived figures of the defaults equal the published D1 and tile figures", "[config]") {
  const HardwareConfig c;
  int compared = 0;
  for (const DerivedFigure& f : derived_figures(c)) {
    if (std::isnan(f.published)) continue;
    INFO(f.key << " = " << f.value << " " << f.unit << ", published " << f.source);
    CHECK(relative(f.value, f.published) <= f.tolerance + 1e-12);
    ++compared;
  }
  CHECK(compared >= 20);

  // The headline numbers, exactly.
  CHECK(peak_flops(c, Precision::Bf16, Scale::Node) == 1024e9);
  CHECK(peak_flops(c, Precision::Cfp8, Scale::Node) == 1024e9);
  CHECK(peak_flops(c, Precision::Fp32, Scale::Node) == 64e9);
  CHECK(peak_flops(c, Precision::Bf16, Scale::Die) == 354 * 1024e9);  // 362.5 TFLOP/s
  CHECK(peak_flops(c, Precision::Fp32, Scale::Die) == 354 * 64e9);    // 22.66 TFLOP/s
  CHECK(sram_bytes(c, Scale::Die) == 354ull * 1310720);               // 442.5 MiB
  CHECK(peak_flops(c, Precision::Bf16, Scale::Tile) == 25 * 354 * 1024e9);
  CHECK(link_gb_per_s(c) == 128);
  CHECK(bisection_gb_per_s(c, Scale::Die) == 18 * 128);  // the 18-link cut of an 18 x 20 die
  CHECK(bisection_gb_per_s(c, Scale::Tile) == 10000);    // 5 die edges x 2 TB/s
  CHECK(off_tile_gb_per_s(c) == 36000);                  // both directions
  CHECK(host_capacity_gib(c, Scale::Tile) == 160);
  CHECK(host_hbm_gb_per_s(c, Scale::Tile) == 4000);
  CHECK(host_link_gb_per_s(c, Scale::Tile) == 4500);
  CHECK(die_edge_link_bytes_per_cycle(c, Dir::East) == 50);  // 2 TB/s over 20 links at 2 GHz
  CHECK(ns_to_cycles(c, c.die.edge_latency_ns) == 200);
  CHECK(peak_bf16_power_w(c, Scale::Die) == Approx(396.62).epsilon(1e-4));
}

TEST_CASE("derived figures follow the parameters they come from", "[config]") {
  HardwareConfig c;
  apply_override(c, "node.timing.matrix.occupancy=2");
  CHECK(peak_flop_per_cycle(c, Precision::Bf16) == 256);
  CHECK(peak_flop_per_cycle(c, Precision::Cfp8) == 512);  // cfp8 has its own class

  HardwareConfig wide;
  apply_override(wide, "noc.link_bytes_per_cycle=256");  // the AI Day reading of 512 GB/s
  CHECK(bisection_gb_per_s(wide, Scale::Die) == 18 * 512);
  CHECK(bisection_gb_per_s(wide, Scale::Tile) == 10000);  // still bound by the die edges
  CHECK(die_edge_link_bytes_per_cycle(wide, Dir::East) == 50);

  HardwareConfig tiny = parsed("die: {nodes_x: 4, nodes_y: 4, disabled: []}");
  CHECK(bisection_gb_per_s(tiny, Scale::Die) == 4 * 128);
  CHECK(peak_flops(tiny, Precision::Bf16, Scale::Die) == 16 * 1024e9);
  CHECK(usable_nodes(tiny, Scale::Tile) == 25 * 16);
}

// ---- systems of tiles ----

namespace {

// The derived figures of a preset, by key; every one with a published figure within its
// tolerance. Returns how many were compared.
int check_published(const HardwareConfig& c, std::map<std::string, double>& by_key) {
  int compared = 0;
  for (const DerivedFigure& f : derived_figures(c)) {
    by_key[f.key] = f.value;
    if (std::isnan(f.published)) continue;
    INFO(f.key << " = " << f.value << " " << f.unit << ", published " << f.source);
    CHECK(relative(f.value, f.published) <= f.tolerance + 1e-12);
    ++compared;
  }
  return compared;
}

}  // namespace

TEST_CASE("the tray preset reproduces the published system tray", "[config][system]") {
  const HardwareConfig tray = load_config(source("configs/tray.yaml")).config;
  std::map<std::string, double> f;
  CHECK(check_published(tray, f) >= 25);
  CHECK(tray.tile_count() == 6);
  CHECK(tray.mesh_width() == 270);
  CHECK(tray.mesh_height() == 200);
  CHECK(tray.usable_nodes() == 6 * 25 * 354);
  CHECK(f.at("system.peak_bf16") == Approx(6 * 25 * 354 * 1024e9 / 1e15));  // 54.4 PFLOP/s
  CHECK(f.at("system.host_dips") == 20);
  CHECK(f.at("system.host_capacity") == 640);
  CHECK(f.at("system.ethernet") == 1);              // 20 x 50 GB/s
  CHECK(f.at("system.host_link") == 18);            // 20 x 900 GB/s
  CHECK(f.at("system.bisection") == 13.5);          // the 3 tile edges between the rows
  CHECK(f.at("system.tile_edge") == 9);             // both directions
  CHECK(f.at("system.tile_edge_link_ew") == 22.5);  // 4.5 TB/s over 100 links at 2 GHz
  CHECK(f.at("system.tile_edge_link_ns") == 25);    // over 90 links
  // The tray's DIPs: 5 on the outer edge of each end tile, at the middle of its die edges.
  const std::vector<DipPlace> dips = tray.host_dips();
  REQUIRE(dips.size() == 20);
  int east = 0;
  for (const DipPlace& d : dips) {
    CHECK((d.edge == Dir::West || d.edge == Dir::East));
    CHECK(d.node.x == (d.edge == Dir::West ? 0 : 269));
    CHECK(d.node.y % 20 == 10);
    east += d.edge == Dir::East;
  }
  CHECK(east == 10);
  // East edge first (hw::Dir order), tile by tile from the north: the last DIP of each edge is
  // on the second row of tiles.
  CHECK(dips[9].node == Coord{269, 190});
  CHECK(dips[19].node == Coord{0, 190});
  // Tile edges: x = 89|90 and y = 99|100; a die edge inside a tile is not one.
  CHECK(tray.crosses_tile_edge({89, 5}, {90, 5}));
  CHECK(tray.crosses_tile_edge({5, 99}, {5, 100}));
  CHECK_FALSE(tray.crosses_tile_edge({17, 5}, {18, 5}));
  CHECK(tray.crosses_die_edge({89, 5}, {90, 5}));
  const NocParams noc = noc_params(tray);
  CHECK(noc.tile_w == 90);
  CHECK(noc.tile_h == 100);
  CHECK(noc.tile_edge_link_bytes_per_cycle == 22);
  CHECK(noc.tile_edge_latency == 400);
}

TEST_CASE("the exapod preset reproduces the published ExaPOD", "[config][system]") {
  const HardwareConfig pod = load_config(source("configs/exapod.yaml")).config;
  std::map<std::string, double> f;
  CHECK(check_published(pod, f) >= 25);
  CHECK(pod.tile_count() == 120);
  CHECK(f.at("system.usable_nodes") == 1062000);
  CHECK(f.at("system.peak_bf16") == Approx(1087.49).epsilon(1e-4));  // 1.1 EFLOP/s
  CHECK(f.at("system.sram") == Approx(1.266).epsilon(1e-3));         // 1.3 TB
  CHECK(f.at("system.host_capacity") == 12800);                      // 13 TB
  CHECK(f.at("system.host_dips") == 400);
}

TEST_CASE("one tile as a system is today's tile, and a single tile shows no system figures",
          "[config][system]") {
  const HardwareConfig tile = load_config(source("configs/tile.yaml")).config;
  HardwareConfig one = tile;
  one.machine.scope = MachineScope::System;
  CHECK(one.mesh_width() == tile.mesh_width());
  CHECK(one.host_dips().size() == tile.host_dips().size());
  const NocParams a = noc_params(tile), b = noc_params(one);
  CHECK(b.tile_w == 0);
  CHECK(b.edge_link_bytes_per_cycle == a.edge_link_bytes_per_cycle);
  for (const DerivedFigure& f : derived_figures(tile)) CHECK(f.key.rfind("system.", 0) != 0);
}

TEST_CASE("error: a system whose tiles do not connect names the narrowest key",
          "[config][errors][system]") {
  CHECK(errors_of("extends: tray.yaml\nsystem: {tile_edge_gb_per_s: 100}\n") ==
        "test.yaml:2: system.tile_edge_gb_per_s = 100.0: the tiles do not connect: the 100 mesh "
        "links across an east/west tile edge get 0.5 B/cycle each, below 1");
  CHECK(errors_of("extends: tray.yaml\ntile: {edge_gb_per_s: 30}\n") ==
        "test.yaml:2: tile.edge_gb_per_s = 30.0: the tiles do not connect: the 100 mesh links "
        "across an east/west tile edge get 0.75 B/cycle each, below 1");
  CHECK_THAT(errors_of("extends: tray.yaml\nsystem: {tiles_x: 0}\n"),
             StartsWith("test.yaml:2: system.tiles_x = 0: must be in [1, 64]"));
  // One tile has no tile edges to cross: nothing to connect.
  CHECK(errors_of("system: {tile_edge_gb_per_s: 1}\n") == "");
}

// ---- geometry ----

TEST_CASE("geometry helpers: global coordinates, dies, disabled nodes, die edges, DIPs",
          "[config]") {
  const HardwareConfig tile = load_config(source("configs/tile.yaml")).config;
  CHECK(tile.is_disabled({12, 19}));
  CHECK(tile.is_disabled({18 + 12, 20 + 19}));  // the same position in die (1, 1)
  CHECK_FALSE(tile.is_disabled({11, 19}));
  CHECK(tile.disabled_nodes().size() == 25 * 6);
  CHECK(tile.die_of({89, 99}) == Coord{4, 4});
  CHECK(tile.local_of({89, 99}) == Coord{17, 19});
  CHECK(tile.crosses_die_edge({17, 0}, {18, 0}));
  CHECK_FALSE(tile.crosses_die_edge({16, 0}, {17, 0}));
  CHECK(tile.crosses_die_edge({0, 19}, {0, 20}));

  const std::vector<DipPlace> dips = tile.host_dips();
  REQUIRE(dips.size() == 5);
  for (uint32_t i = 0; i < 5; ++i) {
    CHECK(dips[i].edge == Dir::West);
    CHECK(dips[i].die == Coord{0, int(i)});
    CHECK(dips[i].node == Coord{0, int(i) * 20 + 10});
  }
  const HardwareConfig d1;
  REQUIRE(d1.host_dips().size() == 1);  // only die (0, 0)'s DIP is simulated
  CHECK(d1.host_dips()[0].node == Coord{0, 10});
  CHECK(d1.die_of({5, 5}) == Coord{0, 0});

  const dojosim::isa::CoreConfig core = tile.core_config({3, 4});
  CHECK(core.node_x == 3);
  CHECK(core.node_y == 4);
  CHECK(core.mesh_w == 90);
  CHECK(core.mesh_h == 100);
  CHECK(core.timing == tile.sim.timing);
  CHECK(core.validate().empty());
}

TEST_CASE("the machine and network parameters are filled from the config", "[config]") {
  const HardwareConfig tile = load_config(source("configs/tile.yaml")).config;
  const MachineParams m = machine_params(tile);
  CHECK(m.width == 90);
  CHECK(m.height == 100);
  CHECK(m.disabled.size() == 150);
  CHECK(m.quantum == tile.sim.quantum_cycles);
  CHECK(m.noc.link_bytes_per_cycle == 64);
  CHECK(m.noc.routing == "xy");
  CHECK(m.noc.die_w == 18);
  CHECK(m.noc.die_h == 20);
  CHECK(m.noc.edge_link_bytes_per_cycle == 50);
  CHECK(m.noc.edge_latency == 200);
}

// ---- the parameter table ----

TEST_CASE("the parameter table: unique keys, documented, defaults valid and in range", "[config]") {
  std::set<std::string> keys;
  const std::set<std::string> units = {"",     "cycles", "bytes", "B/cycle", "GHz", "ns",
                                       "GB/s", "GiB",    "pJ",    "pJ/B",    "W",   "count",
                                       "s"};
  for (const ParamInfo& p : params()) {
    INFO(p.key);
    CHECK(keys.insert(p.key).second);
    CHECK(find_param(p.key) == &p);
    CHECK_FALSE(p.doc.empty());
    CHECK_FALSE(p.source.empty());
    CHECK(units.count(std::string(p.unit)));
    CHECK_FALSE(differs_from_default(p, HardwareConfig{}));
  }
  // Timing classes and units are expanded from the ISA's names, not listed.
  const auto count_prefix = [&](const std::string& prefix) {
    return std::count_if(keys.begin(), keys.end(),
                         [&](const std::string& k) { return k.rfind(prefix, 0) == 0; });
  };
  CHECK(count_prefix("node.timing.") == 3 * static_cast<int>(dojosim::isa::TimingClass::kCount));
  CHECK(count_prefix("node.units.") == dojosim::isa::kUnitCount);
  CHECK_NOTHROW(validate(HardwareConfig{}));
  CHECK(is_param_group("node.timing.alu"));
  CHECK_FALSE(is_param_group("node.timing.alu.latency"));
}

TEST_CASE("the core defaults come from the ISA, not from a second copy", "[config]") {
  const HardwareConfig c;
  const dojosim::isa::CoreConfig core;
  const dojosim::isa::TimingParams timing = dojosim::isa::TimingParams::d1_defaults();
  CHECK(c.node.core.sram_bytes == core.sram_bytes);
  CHECK(c.node.core.clock_ghz == core.clock_ghz);
  for (size_t i = 0; i < timing.classes.size(); ++i) {
    CHECK(c.node.core.timing_params.classes[i].latency == timing.classes[i].latency);
    CHECK(c.node.core.timing_params.classes[i].occupancy == timing.classes[i].occupancy);
    CHECK(c.node.core.timing_params.classes[i].unit == timing.classes[i].unit);
  }
  CHECK(c.node.core.timing_params.unit_instances == timing.unit_instances);
}

TEST_CASE("the table's node ranges agree with isa::CoreConfig::validate", "[config]") {
  // params.def restates the limits CoreConfig checks (isa keeps kMaxVlen private); each bound
  // must be accepted by the core and the value just outside rejected by it.
  for (const char* key : {"node.threads", "node.vlen_bytes", "node.sram_bytes"}) {
    const ParamInfo& p = *find_param(key);
    INFO(key);
    const auto core_accepts = [&](uint64_t v) {
      HardwareConfig c;
      c.node.core.matrix_m = c.node.core.matrix_n = c.node.core.matrix_k = 1;  // fits any vlen
      std::visit(
          [&](const auto& b) {
            using T = std::decay_t<decltype(b.def)>;
            if constexpr (std::is_integral_v<T>) b.of(c) = static_cast<T>(v);
          },
          p.binding);
      return c.core_config({0, 0}).validate().empty();
    };
    const auto lo = static_cast<uint64_t>(p.min), hi = static_cast<uint64_t>(p.max);
    CHECK(core_accepts(lo));
    CHECK(core_accepts(hi));
    CHECK_FALSE(core_accepts(lo - (std::string(key) == "node.sram_bytes" ? 8 : 1)));
    CHECK_FALSE(core_accepts(hi + (std::string(key) == "node.threads" ? 1 : hi)));
  }
  CHECK(find_param("node.units.alu")->max == dojosim::isa::kMaxUnitInstances);
}

TEST_CASE("the routing choices are hw/noc's registry", "[config]") {
  const ParamInfo& p = *find_param("noc.routing");
  REQUIRE(p.choices);
  CHECK(p.choices() == routing_names());
  for (const std::string& name : routing_names())
    CHECK(parsed("noc: {routing: " + name + "}").noc.routing == name);
}

// ---- errors: one test per kind of bad value, each checking the message ----

TEST_CASE("error: an unknown key names file, line and the nearest valid key", "[config][errors]") {
  CHECK(errors_of("noc:\n  routing: xy\n  link_byte_per_cycle: 128\n") ==
        "test.yaml:3: noc.link_byte_per_cycle = 128: unknown key; did you mean "
        "noc.link_bytes_per_cycle? (keys: dojosim config show, docs/config.md)");
  CHECK_THAT(errors_of("nco:\n  routing: xy\n"),
             StartsWith("test.yaml:1: nco = {routing: xy}: unknown key; did you mean noc?"));
  CHECK_THAT(errors_of("node:\n  timing:\n    matrx:\n      latency: 3\n"),
             StartsWith("test.yaml:3: node.timing.matrx = {latency: 3}: unknown key; did you "
                        "mean node.timing.matrix?"));
  CHECK_THAT(
      errors_of("node.clock_ghzz: 2\n"),  // a dotted key at the top level works too
      StartsWith("test.yaml:1: node.clock_ghzz = 2: unknown key; did you mean node.clock_ghz?"));
  // Every problem is reported, not just the first.
  const std::string two = errors_of("nod: {threads: 4}\nsim: {sed: 3}\n");
  CHECK_THAT(two, Contains("test.yaml:1: nod = ") && Contains("test.yaml:2: sim.sed = 3"));
}

TEST_CASE("error: a value of the wrong type names key, value and expected type",
          "[config][errors]") {
  CHECK(errors_of("noc:\n  link_bytes_per_cycle: fast\n") ==
        "test.yaml:2: noc.link_bytes_per_cycle = fast: expected an unsigned integer, in B/cycle");
  CHECK(errors_of("node: {clock_ghz: \"2.0\"}") ==
        "test.yaml:1: node.clock_ghz = 2.0: expected a number, in GHz (written without quotes)");
  CHECK(errors_of("node: {threads: -1}") ==
        "test.yaml:1: node.threads = -1: expected an unsigned integer");
  CHECK(errors_of("node: {threads: 2.5}") ==
        "test.yaml:1: node.threads = 2.5: expected an unsigned integer");
  CHECK(errors_of("node: {matrix_m: 300}") ==  // does not fit the member's type
        "test.yaml:1: node.matrix_m = 300: expected an unsigned integer");
  CHECK(errors_of("sim: {timing: maybe}") ==
        "test.yaml:1: sim.timing = maybe: expected true or false");
  CHECK(errors_of("die: {disabled: [1, 2]}") ==
        "test.yaml:1: die.disabled = [1, 2]: expected a list of positions [x, y]");
  CHECK(errors_of("tile: {host: {edges: [west, up]}}") ==
        "test.yaml:1: tile.host.edges = [west, up]: expected a list of east, west, north, south");
  CHECK(errors_of("node:\n  timing:\n    matrix:\n      unit: tensor\n") ==
        "test.yaml:4: node.timing.matrix.unit = tensor: expected one of alu, load_port, "
        "store_port, muldiv, branch, simd, matrix, dma, sync, system");
  CHECK(errors_of("sim: {seed: }") ==
        "test.yaml:1: sim.seed = (nothing): expected an unsigned integer");
  CHECK(errors_of("node: 4") ==
        "test.yaml:1: node = 4: expected a map of node.* keys, e.g. node.clock_ghz");
  CHECK(errors_of("- node\n- noc\n") ==
        "test.yaml:1: (top level) = [node, noc]: expected a map of keys such as node:, noc:, die:");
}

TEST_CASE("error: a value below its range", "[config][errors]") {
  CHECK(errors_of("noc:\n  link_bytes_per_cycle: 0\n") ==
        "test.yaml:2: noc.link_bytes_per_cycle = 0: must be in [1, 4096] B/cycle");
  CHECK(errors_of("sim: {quantum_cycles: 0}") ==
        "test.yaml:1: sim.quantum_cycles = 0: must be in [1, 1000000000000] cycles");
  CHECK(errors_of("die: {nodes_x: 0}") == "test.yaml:1: die.nodes_x = 0: must be in [1, 1024]");
}

TEST_CASE("error: a value above its range", "[config][errors]") {
  CHECK(errors_of("node:\n  clock_ghz: 50\n") ==
        "test.yaml:2: node.clock_ghz = 50.0: must be in [0.1, 10] GHz");
  CHECK(errors_of("node: {units: {alu: 9}}") ==
        "test.yaml:1: node.units.alu = 9: must be in [1, 4]");
  CHECK(errors_of("node: {semaphores: 33}") ==
        "test.yaml:1: node.semaphores = 33: must be in [1, 32]");
}

TEST_CASE("error: a disabled node outside the die grid", "[config][errors]") {
  CHECK_THAT(errors_of("die:\n  disabled: [[18, 3]]\n"),
             StartsWith("test.yaml:2: die.disabled = [[18, 3]]: position [18, 3] is outside the "
                        "18 x 20 die (x in [0, 17], y in [0, 19]"));
  // Shrinking the die without its disabled list blames the key that was written.
  CHECK_THAT(errors_of("die:\n  nodes_x: 4\n  nodes_y: 4\n"),
             StartsWith("test.yaml:2: die.disabled = [[12, 19], [13, 19]") &&
                 Contains("position [12, 19] is outside the 4 x 4 die"));
  CHECK_THAT(errors_of("die: {nodes_x: 2, nodes_y: 1, disabled: [[0, 0], [1, 0]]}"),
             Contains("leaves none of the 2 x 1 nodes usable"));
}

TEST_CASE("error: a disabled node listed twice", "[config][errors]") {
  CHECK(errors_of("die:\n  disabled: [[3, 4], [5, 6], [3, 4]]\n") ==
        "test.yaml:2: die.disabled = [[3, 4], [5, 6], [3, 4]]: position [3, 4] is listed twice");
}

TEST_CASE("error: an unknown routing policy lists the registered ones", "[config][errors]") {
  CHECK(errors_of("noc: {routing: west_first}") ==
        "test.yaml:1: noc.routing = west_first: expected one of xy, yx");
}

TEST_CASE("error: router parameters out of range name the key, the value and the range",
          "[config][errors]") {
  CHECK(errors_of("noc: {router: wormhole}") ==
        "test.yaml:1: noc.router = wormhole: expected one of ideal, input_queued");
  CHECK(errors_of("noc: {router: input_queued, allocator: wavefront}") ==
        "test.yaml:1: noc.allocator = wavefront: expected one of fcfs, islip");
  CHECK(errors_of("noc: {router: input_queued, vcs: 0}") ==
        "test.yaml:1: noc.vcs = 0: must be in [1, 16]");
  CHECK(errors_of("noc: {router: input_queued, vc_buffer_flits: 0}") ==
        "test.yaml:1: noc.vc_buffer_flits = 0: must be in [1, 1024]");
  // The pipeline depth is noc.router_latency_cycles, in both models.
  CHECK(errors_of("noc: {router: input_queued, router_latency_cycles: 1001}") ==
        "test.yaml:1: noc.router_latency_cycles = 1001: must be in [1, 1000] cycles");
  // Virtual cut-through: a VC holds a whole packet (1 KiB of 64 B flits by default).
  CHECK(errors_of("noc:\n  router: input_queued\n  vc_buffer_flits: 8\n") ==
        "test.yaml:3: noc.vc_buffer_flits = 8: must hold a whole packet with noc.router = "
        "input_queued (virtual cut-through): at least 16 flits, from "
        "noc.max_packet_payload_bytes = 1024 + noc.packet_header_bytes = 0 over 64 B flits");
  CHECK(errors_of("noc: {vc_buffer_flits: 8}").empty());  // unused by the ideal router
}

TEST_CASE("error: die-edge VC classes that leave a class without a VC", "[config][errors]") {
  CHECK(errors_of("noc: {router: input_queued, edge_vcs_request_low: 0}") ==
        "test.yaml:1: noc.edge_vcs_request_low = 0: must be in [1, 16]");
  CHECK(errors_of("noc: {router: input_queued, edge_vcs_request_high: 0}") ==
        "test.yaml:1: noc.edge_vcs_request_high = 0: must be in [1, 16]");
  CHECK(errors_of("machine: {scope: tile}\nnoc: {router: input_queued, vcs: 2}\n") ==
        "test.yaml:2: noc.vcs = 2: leaves no VC for data at die-edge routers: "
        "noc.edge_vcs_request_low = 1 + noc.edge_vcs_request_high = 1 take them all; needs at "
        "least 3 with noc.router = input_queued on a machine of several dies");
  CHECK(errors_of("machine: {scope: tile}\nnoc: {router: input_queued, vcs: 4, "
                  "edge_vcs_request_high: 3}\n") ==
        "test.yaml:2: noc.vcs = 4: leaves no VC for data at die-edge routers: "
        "noc.edge_vcs_request_low = 1 + noc.edge_vcs_request_high = 3 take them all; needs at "
        "least 5 with noc.router = input_queued on a machine of several dies");
  // One die has no die-edge routers; the ideal router has no VCs.
  CHECK(errors_of("noc: {router: input_queued, vcs: 2}").empty());
  CHECK(errors_of("machine: {scope: tile}\nnoc: {vcs: 2}\n").empty());
}

TEST_CASE("error: a bad extends path, and an extends cycle", "[config][errors]") {
  CHECK_THAT(errors_of("extends: nothere.yaml\nnoc: {routing: yx}\n"),
             StartsWith("test.yaml:1: extends = nothere.yaml: cannot read ") &&
                 Contains("configs/nothere.yaml"));
  CHECK(errors_of("extends: [d1.yaml]\n") ==
        "test.yaml:1: extends = [d1.yaml]: expected the path of a base config file");

  const auto dir = temp_dir("cycle");
  write_file(dir / "a.yaml", "extends: b.yaml\n");
  write_file(dir / "b.yaml", "# b\nextends: a.yaml\n");
  try {
    load_config((dir / "a.yaml").string());
    FAIL("an extends cycle was accepted");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(),
               StartsWith((dir / "b.yaml").string() + ":2: extends = a.yaml: extends cycle: "));
  }
  // An error inside a base names the base file and its line.
  write_file(dir / "base.yaml", "noc:\n  routing: diagonal\n");
  write_file(dir / "top.yaml", "extends: base.yaml\n");
  CHECK_THROWS_WITH(
      load_config((dir / "top.yaml").string()),
      (dir / "base.yaml").string() + ":2: noc.routing = diagonal: expected one of xy, yx");
  std::filesystem::remove_all(dir);
}

TEST_CASE("error: a missing config file", "[config][errors]") {
  CHECK_THROWS_WITH(load_config("/nonexistent/machine.yaml"),
                    "/nonexistent/machine.yaml: cannot read /nonexistent/machine.yaml");
}

TEST_CASE("error: bad override syntax and unknown override keys name the override",
          "[config][errors]") {
  CHECK(errors_of("", {"noclink"}) ==
        "--set 'noclink': expected key=value, e.g. noc.link_bytes_per_cycle=128");
  CHECK(errors_of("", {"=5"}) ==
        "--set '=5': expected key=value, e.g. noc.link_bytes_per_cycle=128");
  CHECK(errors_of("", {"noc.link_byte_per_cycle=128"}) ==
        "--set: noc.link_byte_per_cycle = 128: unknown key; did you mean "
        "noc.link_bytes_per_cycle? (keys: dojosim config show, docs/config.md)");
  CHECK(errors_of("", {"noc=5"}) ==
        "--set: noc = 5: a group of parameters; set one of them, e.g. noc.link_bytes_per_cycle");
  CHECK(errors_of("", {"noc.routing=diagonal"}) ==
        "--set: noc.routing = diagonal: expected one of xy, yx");
  CHECK_THAT(errors_of("", {"die.disabled=[[0, 0]"}),
             StartsWith("--set: die.disabled = [[0, 0]: not a YAML value ("));
  // Range and cross-key checks run on overridden values like on any other, naming --set.
  CHECK(errors_of("", {"noc.link_bytes_per_cycle=0"}) ==
        "--set: noc.link_bytes_per_cycle = 0: must be in [1, 4096] B/cycle");
}

TEST_CASE("error: a packet payload that is not whole flits", "[config][errors]") {
  CHECK(errors_of("noc:\n  max_packet_payload_bytes: 1000\n") ==
        "test.yaml:2: noc.max_packet_payload_bytes = 1000: must be whole flits: a multiple of "
        "noc.link_bytes_per_cycle = 64 (from default), e.g. 960");
  // Changing only the link width blames the override that did it.
  CHECK(errors_of("", {"noc.link_bytes_per_cycle=48"}) ==
        "--set: noc.max_packet_payload_bytes = 1024: must be whole flits: a multiple of "
        "noc.link_bytes_per_cycle = 48 (from --set), e.g. 1008");
  CHECK(errors_of("noc: {max_packet_payload_bytes: 32}") ==
        "test.yaml:1: noc.max_packet_payload_bytes = 32: must be whole flits: a multiple of "
        "noc.link_bytes_per_cycle = 64 (from default), e.g. 64");
  CHECK(errors_of("", {"noc.link_bytes_per_cycle=48", "noc.max_packet_payload_bytes=960"}).empty());
}

TEST_CASE("error: a YAML syntax error names file, line and column", "[config][errors]") {
  CHECK_THAT(errors_of("noc:\n  link_bytes_per_cycle: [64\n  routing: xy\n"),
             StartsWith("test.yaml:") && Contains(": YAML syntax error: "));
  CHECK_THAT(errors_of("noc:\n  routing: xy\n   bad: indent\n"),
             StartsWith("test.yaml:3:") && Contains("YAML syntax error"));
}

TEST_CASE("error: a key set twice in one file", "[config][errors]") {
  CHECK(errors_of("noc:\n  routing: xy\n  routing: yx\n") ==
        "test.yaml:3: noc.routing = yx: set twice in this file (first at line 2)");
}

TEST_CASE("error: a group written twice in one file is not merged silently", "[config][errors]") {
  CHECK(errors_of("noc:\n  routing: yx\nsim:\n  seed: 1\nnoc:\n  router_latency_cycles: 2\n") ==
        "test.yaml:5: noc = {router_latency_cycles: 2}: a second noc: in this file (first at line "
        "1); "
        "put its keys under one");
  CHECK(
      errors_of("tile:\n  host:\n    latency_ns: 10\n  host:\n    dips_per_edge: 1\n") ==
      "test.yaml:4: tile.host = {dips_per_edge: 1}: a second host: in this file (first at line 2); "
      "put its keys under one");
}

TEST_CASE("error: a matrix block that does not fit the vector register (isa's check)",
          "[config][errors]") {
  CHECK(errors_of("node:\n  matrix_k: 16\n") ==
        "test.yaml:2: node.matrix_m/n/k = 8x8x16: a bf16 A (MxK) and B (KxN) tile must each fit "
        "in one 64 B vector register");
  CHECK(errors_of("node: {vlen_bytes: 48}") ==
        "test.yaml:1: node.vlen_bytes = 48: must be a power of two in [16, 256]");
  CHECK(errors_of("node: {sram_bytes: 5001}") ==
        "test.yaml:1: node.sram_bytes = 5001: must be a multiple of 8 in [4096, 2^32]");
}

TEST_CASE("error: more DIPs on an edge than die edges along it", "[config][errors]") {
  CHECK(errors_of("tile:\n  dies_x: 3\n  host:\n    edges: [west, north]\n") ==
        "test.yaml:4: tile.host.dips_per_edge = 5: the north edge of the tile has 3 die edges, "
        "one DIP each at most");
  CHECK(errors_of("tile: {host: {edges: [west, west]}}") ==
        "test.yaml:1: tile.host.edges = [west, west]: west is listed twice");
}

TEST_CASE("error: the simulated die outside the tile", "[config][errors]") {
  CHECK(errors_of("machine:\n  die: [5, 0]\n") ==
        "test.yaml:2: machine.die = [5, 0]: outside the 5 x 5 dies of the tile (x in [0, 4], y in "
        "[0, 4])");
}

TEST_CASE("apply_override on a config validates and leaves it unchanged on error", "[config]") {
  HardwareConfig c;
  apply_override(c, "noc.link_bytes_per_cycle=128");
  CHECK(c.noc.link_bytes_per_cycle == 128);
  apply_override(c, " die.disabled = [[0, 0], [1, 1]] ");
  CHECK(c.die.disabled == std::vector<Coord>{{0, 0}, {1, 1}});
  apply_override(c, "tile.host.edges=[west, east]");
  CHECK(c.tile.host.edges == std::vector<Dir>{Dir::West, Dir::East});
  apply_override(c, "sim.max_cycles=1e9");
  CHECK(c.sim.max_cycles == 1000000000);
  const HardwareConfig before = c;
  CHECK_THROWS_AS(apply_override(c, "noc.link_bytes_per_cycle=0"), ConfigError);
  CHECK(c == before);
}

// ---- writing ----

// A registered name that is not `current` (routing's choices are not listed: "yx").
std::string other_choice(const ParamInfo& p, const std::string& current) {
  if (!p.choices) return "yx";
  for (const std::string& name : p.choices())
    if (name != current) return name;
  return current;
}

TEST_CASE("write_yaml then read gives an identical config", "[config]") {
  for (const char* preset : {"configs/d1.yaml", "configs/tile.yaml", "configs/tiny.yaml",
                             "configs/tray.yaml", "configs/exapod.yaml"}) {
    const HardwareConfig c = load_config(source(preset)).config;
    INFO(preset);
    CHECK(parsed(write_yaml(c)) == c);
  }
  // Every parameter away from its default, doubles with long expansions included.
  HardwareConfig odd;
  for (const ParamInfo& p : params())
    std::visit(
        [&](const auto& b) {
          using T = std::decay_t<decltype(b.def)>;
          auto& v = b.of(odd);
          if constexpr (std::is_same_v<T, bool>)
            v = !v;
          else if constexpr (std::is_integral_v<T>)
            v = static_cast<T>(v + 1 <= p.max ? v + 1 : v - 1);
          else if constexpr (std::is_floating_point_v<T>)
            v = v / 3.0 + 0.1;
          else if constexpr (std::is_same_v<T, std::string>)
            v = other_choice(p, v);
          else if constexpr (std::is_same_v<T, Coord>)
            v = {v.x + 1, v.y + 2};
          else if constexpr (std::is_same_v<T, std::vector<Coord>>)
            v.push_back({7, 7});
          else if constexpr (std::is_same_v<T, std::vector<Dir>>)
            v.push_back(Dir::South);
          else
            v = static_cast<T>((static_cast<int>(v) + 1) % EnumNames<T>::kCount);
        },
        p.binding);
  for (const ParamInfo& p : params()) {
    INFO(p.key);
    CHECK(differs_from_default(p, odd));
  }
  LoadedConfig back;
  read_config_text(write_yaml(odd), "odd.yaml", back);  // stage 1: values need not validate
  CHECK(back.config == odd);
  CHECK(back.origins.size() == params().size());
}

TEST_CASE("to_json nests every parameter by its key path", "[config]") {
  const nlohmann::json j = to_json(HardwareConfig{});
  CHECK(j["noc"]["link_bytes_per_cycle"] == 64);
  CHECK(j["noc"]["routing"] == "xy");
  CHECK(j["die"]["disabled"][0] == nlohmann::json::array({12, 19}));
  CHECK(j["tile"]["host"]["edges"] == nlohmann::json::array({"west"}));
  CHECK(j["node"]["timing"]["matrix"]["unit"] == "matrix");
  CHECK(j["node"]["clock_ghz"] == 2.0);
}

// ---- docs ----

TEST_CASE("docs/config.md and docs/hardware.md hold the current generated tables",
          "[config][docs]") {
  INFO(
      "regenerate: dojosim config doc keys --update docs/config.md; "
      "dojosim config doc figures --update docs/hardware.md");
  CHECK(generated_block(read_text(source("docs/config.md")), "dojosim config doc keys") ==
        config_reference_markdown());
  CHECK(generated_block(read_text(source("docs/hardware.md")), "dojosim config doc figures") ==
        derived_figures_markdown(HardwareConfig{}));
}

TEST_CASE("splice_generated replaces only the named block", "[config][docs]") {
  const std::string doc = "a\n" + generated_begin("x") + "old\n" + generated_end() + "\nb\n";
  CHECK(splice_generated(doc, "x", "new\n") ==
        "a\n" + generated_begin("x") + "new\n" + generated_end() + "\nb\n");
  CHECK_THROWS(generated_block(doc, "y"));
}

TEST_CASE("sim.max_seconds and sim.max_cycles reach the machine's parameters", "[config]") {
  const HardwareConfig defaults = load_config("").config;
  CHECK(machine_params(defaults).max_seconds == 0);  // no wall-clock limit unless asked
  CHECK(machine_params(defaults).max_cycles == 100000000);
  const HardwareConfig c = load_config("", {"sim.max_seconds=2.5", "sim.max_cycles=1000"}).config;
  CHECK(machine_params(c).max_seconds == 2.5);
  CHECK(machine_params(c).max_cycles == 1000);
  CHECK_THROWS_AS(load_config("", {"sim.max_seconds=-1"}), ConfigError);
}
