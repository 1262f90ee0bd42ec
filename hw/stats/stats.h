// SPDX-License-Identifier: MIT
// Statistics of a finished run as a tree that mirrors the hardware: machine -> die -> node
// (-> thread) and the die's links. Every statistic has a name, a one-line description and a
// unit. Counters are read from the model (threads, network); derived figures (utilisation,
// FLOP/s, bandwidth, energy, power) are computed from those counters when the tree is built,
// never accumulated separately. JSON output is a walk over the tree (docs/outputs.md).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "hw/config/hardware_config.h"

namespace dojosim::hw {

class Machine;

struct Stat {
  std::string name;         // "instructions"
  std::string description;  // one line
  std::string unit;         // "count", "cycles", "bytes", "FLOP", "J", "W", "%", ...
  std::variant<uint64_t, double> value;

  double as_double() const;
};

struct StatsNode {
  std::string name;         // "machine", "die(0,0)", "node(1,2)", "thread0", "link(1,2).east"
  std::string description;  // one line: what the node is
  std::vector<std::pair<std::string, std::string>> attributes;  // {"kind", "mesh"} on links
  std::vector<Stat> stats;
  std::vector<StatsNode> children;

  // nullptr if absent.
  const Stat* find(const std::string& stat) const;
  const StatsNode* child(const std::string& child_name) const;
  // The value of `stat`; throws std::out_of_range if absent.
  double value(const std::string& stat) const;
  uint64_t counter(const std::string& stat) const;  // a uint64_t statistic

  void add(std::string n, std::string desc, std::string unit, uint64_t v);
  void add(std::string n, std::string desc, std::string unit, double v);
};

// {"name", "description", attributes..., "stats": {name: {"value", "unit", "description"}},
// "children": [...]}
nlohmann::ordered_json to_json(const StatsNode& node);

// The statistics of a finished machine built from `config` (machine_params(config)).
StatsNode collect_stats(const Machine& machine, const HardwareConfig& config);

// SRAM bytes an instruction of each timing class moves, the estimate collect_stats uses:
// {read, written}. Scalar loads and stores count 8 bytes (an upper bound); an mma reads its
// two operand vectors (2 x vlen), as the energy calibration assumes.
struct SramBytes {
  uint64_t read = 0, written = 0;
};
SramBytes sram_bytes_per_instruction(int timing_class, const HardwareConfig& config);

}  // namespace dojosim::hw
