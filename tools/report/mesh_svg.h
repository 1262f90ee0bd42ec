// SPDX-License-Identifier: MIT
// SVG pictures of one run, from its statistics tree (hw/stats/stats.h): the per-node heat map
// of the mesh, the per-link load map and a roofline with the run's point. `dojosim run --svg`.
#pragma once

#include <string>

#include "hw/config/hardware_config.h"
#include "hw/stats/stats.h"
#include "tools/plot/svg.h"

namespace dojosim::report {

// One <rect class="node"> per mesh position: usable nodes coloured by their matrix-unit
// utilisation (FLOP over the node's peak for the run's time; data-title gives the value),
// disabled positions grey; a colour bar for the scale.
plot::Document utilisation_map(const hw::StatsNode& stats, const hw::HardwareConfig& config);

// Nodes as small squares and one <line class="link"> per directed mesh or die-edge link that
// carried traffic, drawn on its side of the pair and coloured by its utilisation.
plot::Document link_map(const hw::StatsNode& stats, const hw::HardwareConfig& config);

// Log-log roofline: FLOP/s against FLOP per byte moved through the network interfaces
// (injected + ejected), with the machine's bf16 peak and its injection bandwidth as the roofs,
// and the run's point.
plot::Document roofline(const hw::StatsNode& stats, const hw::HardwareConfig& config);

// Writes the three as utilisation.svg, links.svg and roofline.svg in `dir` (created if
// missing); throws std::runtime_error naming a path that cannot be written.
void write_run_svgs(const std::string& dir, const hw::StatsNode& stats,
                    const hw::HardwareConfig& config);

}  // namespace dojosim::report
