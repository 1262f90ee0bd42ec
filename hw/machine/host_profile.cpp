// SPDX-License-Identifier: MIT
#include "hw/machine/host_profile.h"

#include <fmt/format.h>

namespace dojosim::hw {

HostProfile& host_profile() {
  static HostProfile profile;
  return profile;
}

std::string format_host_profile(const HostProfile& p) {
  const auto pct = [&](double s) { return p.run_s > 0 ? 100 * s / p.run_s : 0.0; };
  const double small_activate = p.activate_s - p.shared_activate_s;
  const double rest = p.run_s - p.activate_s - p.hand_over_s - p.drain_s;
  std::string s = fmt::format(
      "host: {:.3f} s in {} machine run(s) on {} host thread(s): {} rounds, {} node activations\n",
      p.run_s, p.runs, p.threads, p.rounds, p.activations);
  s += fmt::format(
      "host:   activations, rounds of {:>3}+ {:8.3f} s ({:5.1f}%)  {} rounds, {:.1f} nodes each, "
      "{:.2f} us per round (shared by the host threads)\n",
      p.shared_min, p.shared_activate_s, pct(p.shared_activate_s), p.shared_rounds,
      p.shared_rounds ? double(p.shared_activations) / double(p.shared_rounds) : 0.0,
      p.shared_rounds ? 1e6 * p.shared_activate_s / double(p.shared_rounds) : 0.0);
  const uint64_t small_rounds = p.rounds - p.shared_rounds;
  s += fmt::format(
      "host:   activations, smaller       {:8.3f} s ({:5.1f}%)  {} rounds, {:.1f} nodes each (one "
      "thread)\n",
      small_activate, pct(small_activate), small_rounds,
      small_rounds ? double(p.activations - p.shared_activations) / double(small_rounds) : 0.0);
  s += fmt::format("host:   hand-over after rounds   {:8.3f} s ({:5.1f}%)\n", p.hand_over_s,
                   pct(p.hand_over_s));
  s += fmt::format(
      "host:   fabric drains            {:8.3f} s ({:5.1f}%)  {} drains, {:.2f} us each\n",
      p.drain_s, pct(p.drain_s), p.drains, p.drains ? 1e6 * p.drain_s / double(p.drains) : 0.0);
  s += fmt::format("host:   SystemC and the rest     {:8.3f} s ({:5.1f}%)\n", rest, pct(rest));
  // Nodes out of step make small rounds; aligned quanta gather those that compute. Counted in
  // activations, not seconds, so the hint does not depend on the host.
  if (!p.aligned && p.nodes >= p.shared_min && p.activations > 2 * p.shared_activations)
    s += "host: most activations are in small rounds: --set sim.quantum_aligned=true lets "
         "nodes that compute share rounds (docs/parallel.md)\n";
  return s;
}

}  // namespace dojosim::hw
