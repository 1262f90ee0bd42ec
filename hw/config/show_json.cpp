// SPDX-License-Identifier: MIT
// `dojosim config show --json` and the Python package's config: every parameter with its
// origin, and the derived figures.
#include <cmath>

#include "hw/config/config_io.h"
#include "hw/config/derived.h"

namespace dojosim::hw {

nlohmann::ordered_json show_json(const LoadedConfig& loaded,
                                 const std::vector<std::string>& overrides) {
  const HardwareConfig& c = loaded.config;
  const HardwareConfig defaults;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  const nlohmann::ordered_json values = to_json(c), default_values = to_json(defaults);
  for (const ParamInfo& p : params()) {
    const auto at = loaded.origins.find(p.key);
    const nlohmann::ordered_json::json_pointer ptr("/" + [&] {
      std::string s = p.key;
      for (char& ch : s)
        if (ch == '.') ch = '/';
      return s;
    }());
    rows.push_back(
        {{"key", p.key},
         {"value", values.at(ptr)},
         {"unit", p.unit},
         {"default", default_values.at(ptr)},
         {"differs", differs_from_default(p, c)},
         {"set_at", at == loaded.origins.end() ? nlohmann::ordered_json(nullptr)
                                               : nlohmann::ordered_json(at->second.str())},
         {"status", status_name(p.status)}});
  }
  nlohmann::ordered_json figures = nlohmann::ordered_json::array();
  for (const DerivedFigure& f : derived_figures(c))
    figures.push_back({{"key", f.key},
                       {"what", f.what},
                       {"value", f.value},
                       {"unit", f.unit},
                       {"published", std::isnan(f.published) ? nlohmann::ordered_json(nullptr)
                                                             : nlohmann::ordered_json(f.published)},
                       {"tolerance", f.tolerance},
                       {"source", f.source}});
  return {{"files", loaded.files},
          {"overrides", overrides},
          {"config", values},
          {"parameters", rows},
          {"derived", figures}};
}

}  // namespace dojosim::hw
