// SPDX-License-Identifier: MIT
// Reading, checking and writing hardware configs, in two stages as DRAMSys does:
//   1. read_config_file / read_config_text / apply_override: YAML into the plain struct. Rejects
//      what cannot be a config at all: unreadable files, YAML syntax, unknown keys (naming the
//      nearest valid one), values of the wrong type, a bad `extends`.
//   2. validate(): ranges from params.def and the checks across keys (disabled nodes inside the
//      die, the matrix shape against the vector register, packets in whole flits, ...).
// load_config() runs both. Every error is a ConfigError whose lines read
// "file:line: key = value: what was allowed"; no yaml-cpp exception escapes.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "hw/config/hardware_config.h"

namespace dojosim::hw {

// Where a parameter's value was set.
struct Origin {
  std::string file;         // the YAML file; "--set" for an override
  int line = 0;             // 1-based; 0 for an override
  std::string str() const;  // "configs/d1.yaml:3" or "--set"
};

// The origin of every key a file or an override set; keys not in it hold their default.
using Origins = std::map<std::string, Origin, std::less<>>;

// One or more problems with a config, one line each.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

struct LoadedConfig {
  HardwareConfig config;
  Origins origins;
  std::vector<std::string> files;  // every file read, bases before the files extending them
};

// ---- Stage 1 ----

// Reads `path` over `into` (keys it does not set keep their value). A top-level
// `extends: base.yaml` reads that file first, relative to the folder of the file naming it.
void read_config_file(const std::string& path, LoadedConfig& into);
// The same for YAML text; `name` stands for the file in messages, `base_dir` resolves extends.
void read_config_text(const std::string& yaml, const std::string& name, LoadedConfig& into,
                      const std::string& base_dir = ".");
// Sets one key from "key=value" (value in YAML: 128, yx, [[1, 2]], [west, east]); errors name
// the override ("--set: key = value: ...").
void apply_override(LoadedConfig& into, std::string_view assignment);

// ---- Stage 2 ----

// Throws ConfigError listing every problem, each at the origin of the key to blame.
void validate(const HardwareConfig& config, const Origins& origins = {});

// ---- Both ----

// The defaults, then `path` (if not empty), then each override in order, then validate().
LoadedConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});
// One override on a config in code, then validate(); on error `config` is left unchanged.
void apply_override(HardwareConfig& config, std::string_view assignment);

// ---- Writing ----

// Every parameter as YAML, nested by key path, unit and status in comments. Reading it back
// gives an identical config.
std::string write_yaml(const HardwareConfig& config);
// Every parameter, nested by key path like the YAML.
nlohmann::ordered_json to_json(const HardwareConfig& config);
// The parameter value as it is written in YAML ("64", "[[12, 19]]", "xy").
std::string format_value(const ParamInfo& p, const HardwareConfig& config);
// Whether the parameter differs from its default.
bool differs_from_default(const ParamInfo& p, const HardwareConfig& config);

// What `dojosim config show --json` prints: {"files", "overrides", "config" (to_json),
// "parameters": [{key, value, unit, default, differs, set_at, status}],
// "derived": [{key, what, value, unit, published, tolerance, source}]}.
nlohmann::ordered_json show_json(const LoadedConfig& loaded,
                                 const std::vector<std::string>& overrides);

// The valid key or key group nearest to `key` by edit distance (transpositions count one).
std::string nearest_key(std::string_view key);

}  // namespace dojosim::hw
