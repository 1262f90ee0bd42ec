// SPDX-License-Identifier: MIT
// Synthetic traffic on an 8x8 mesh: average packet latency against offered load, up to
// saturation, for uniform random, transpose and hot-spot traffic (the standard NoC curve).
// A benchmark of the network model's behaviour, not a test: it prints, it does not judge.
//
// usage: bench_noc_traffic [--packet-bytes B] [--cycles N]
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "hw/config/machine_params.h"
#include "hw/noc/network.h"

using namespace dojosim::hw;

namespace {

struct Injection {
  uint64_t cycle;
  Coord src, dst;
};

// Uniform in [0, n) from 64 random bits: the same numbers on every standard library.
int pick(std::mt19937_64& rng, int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }

Coord destination(const std::string& pattern, Coord src, int n, std::mt19937_64& rng) {
  if (pattern == "transpose") return {src.y, src.x};
  if (pattern == "hotspot" && rng() % 5 == 0) return {n / 2, n / 2};  // 20% to the centre
  Coord d;
  do d = {pick(rng, n), pick(rng, n)};
  while (d == src);
  return d;
}

}  // namespace

// The network model needs no SystemC, but dojosim::hw links libsystemc, which owns main().
const bool kQuietSystemC = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0) == 0;

extern "C" int sc_main(int argc, char** argv) {
  uint64_t packet_bytes = 64, cycles = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--packet-bytes"))
      packet_bytes = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--cycles")) cycles = std::strtoull(argv[i + 1], nullptr, 10);
  }
  const int n = 8;
  const NocParams params = noc_params(HardwareConfig{});  // one D1 die's network
  const uint64_t warmup = cycles / 5;
  fmt::print("8x8 mesh, {} B packets, link {} B/cycle, router latency {}, {} cycles ({} warm-up)\n",
             packet_bytes, params.link_bytes_per_cycle, params.router_latency, cycles, warmup);
  fmt::print("offered load = injected bytes per node per cycle / link width\n\n");
  fmt::print("{:<10} {:>8} {:>14} {:>14} {:>12}\n", "pattern", "load", "avg latency", "p99 latency",
             "accepted");
  // Steps of 0.01 up to 0.2 (transpose saturates at 1/7, hot-spot near 0.078) and from 0.4 to
  // 0.5 (uniform, 0.5), else of 0.1: a saturation point is read off the grid, so the grid must
  // be fine where it lies.
  std::vector<double> loads;
  for (int i = 1; i <= 20; ++i) loads.push_back(i / 100.0);
  loads.push_back(0.3);
  for (int i = 40; i <= 50; i += 2) loads.push_back(i / 100.0);
  for (int i = 6; i <= 10; ++i) loads.push_back(i / 10.0);
  for (const std::string pattern : {"uniform", "transpose", "hotspot"}) {
    // Saturation: the highest load before the first whose average latency exceeds twice the
    // lowest load's (the zero-load latency, near enough).
    double zero_load = 0, saturation = 0, next = 0, next_latency = 0;
    for (double load : loads) {
      std::mt19937_64 rng(42);
      const double rate =
          load * params.link_bytes_per_cycle / double(packet_bytes);  // packets/cycle/node
      std::vector<Injection> injections;
      for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
          const Coord src{x, y};
          if (pattern == "transpose" && x == y) continue;  // the diagonal sends to itself
          // Bernoulli injection with probability `rate` per cycle (rate <= 1 here).
          const uint64_t threshold =
              static_cast<uint64_t>(std::min(rate, 1.0) * 9007199254740992.0);
          for (uint64_t c = 0; c < cycles; ++c)
            if ((rng() >> 11) < threshold)
              injections.push_back({c, src, destination(pattern, src, n, rng)});
        }
      std::stable_sort(injections.begin(), injections.end(),
                       [](const Injection& a, const Injection& b) { return a.cycle < b.cycle; });
      Network net(n, n, params);
      std::vector<uint64_t> latencies;
      uint64_t delivered_bytes = 0, last = 0;
      for (const Injection& in : injections) {
        const uint64_t arrival = net.send(in.src, in.dst, packet_bytes, in.cycle);
        if (in.cycle >= warmup) latencies.push_back(arrival - in.cycle);
        if (arrival < cycles) delivered_bytes += packet_bytes;
        last = std::max(last, arrival);
      }
      if (latencies.empty()) continue;
      std::sort(latencies.begin(), latencies.end());
      double sum = 0;
      for (uint64_t l : latencies) sum += double(l);
      const int senders = pattern == "transpose" ? n * n - n : n * n;
      const double accepted =
          double(delivered_bytes) / (double(cycles) * senders * params.link_bytes_per_cycle);
      const double average = sum / double(latencies.size());
      fmt::print("{:<10} {:>8.2f} {:>14.1f} {:>14} {:>12.3f}\n", pattern, load, average,
                 latencies[latencies.size() * 99 / 100], accepted);
      if (zero_load == 0) zero_load = average;
      if (next == 0 && average <= 2 * zero_load) saturation = load;
      else if (next == 0) next = load, next_latency = average;
    }
    fmt::print(
        "{}: saturates between offered load {:.2f} and {:.2f} (average latency {:.1f} there, "
        "{:.1f} at the lowest load)\n\n",
        pattern, saturation, next, next_latency, zero_load);
  }
  return 0;
}
