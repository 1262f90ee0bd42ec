// SPDX-License-Identifier: MIT
// The generated parts of docs/config.md (every key) and docs/hardware.md (derived figures beside
// the published ones), so the documents cannot drift from params.def and derived.h;
// tests/hw/test_config.cpp compares them, `dojosim config doc --update` rewrites them.
#pragma once

#include <string>

#include "hw/config/hardware_config.h"

namespace dojosim::hw {

// Markdown: every key with type, default, unit, range, status, source and description, then one
// table per expanded family (units, timing classes) with the default of every name.
std::string config_reference_markdown();
// Markdown: derived_figures() of `config` with the published figures and their sources.
std::string derived_figures_markdown(const HardwareConfig& config);

// The block markers in the documents: "<!-- BEGIN GENERATED: <what> -->" ... END.
std::string generated_begin(const std::string& what);
inline const char* generated_end() {
  return "<!-- END GENERATED -->";
}
// The text between the markers for `what`; throws std::runtime_error if the markers are missing.
std::string generated_block(const std::string& doc, const std::string& what);
// `doc` with the block for `what` replaced by `content`.
std::string splice_generated(const std::string& doc, const std::string& what,
                             const std::string& content);

}  // namespace dojosim::hw
