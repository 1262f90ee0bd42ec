// SPDX-License-Identifier: MIT
// Synthetic traffic on an 8x8 mesh: average packet latency against offered load, up to and
// past saturation, for uniform random, transpose and hot-spot traffic (the standard NoC
// curve), under either router model. A benchmark of the network model's behaviour, not a
// test: it prints, it does not judge.
//
// usage: bench_noc_traffic [--pattern uniform|transpose|hotspot|all] [--loads GRID]
//          [--router ideal|input_queued] [--allocator islip|fcfs] [--router-latency N]
//          [--vcs N] [--buffer-flits N] [--packet-bytes B] [--cycles N] [--send entry|generated]
//          [--host-cost yes] [--reference rr|age]
//   GRID: comma-separated loads or from:to:step ranges, e.g. 0.01:0.2:0.01,0.3,0.4:0.5:0.02
//   --host-cost yes: instead of the curve, the host seconds the network model takes for each
//   load under both router models (the same traffic, in this run) and input_queued / ideal.
//   --reference rr|age: instead of the network model, the cycle-by-cycle router of
//   noc_reference.h (round-robin or oldest-first arbiters; 1-flit packets), the yardstick the
//   model is compared with in bench/README.md.
//   --send: when the network is handed a packet. entry (the default): a node hands over its
//   next packet only when the previous one has entered the network (its source queue stays
//   outside the network, as BookSim's does), so the network schedules packets in about the
//   order they enter it, as a cycle-by-cycle simulator does. generated: at the cycle it is
//   generated, in that order; its source's injection link and local VCs hold it back (an
//   unbounded source queue in the network, which then schedules packets in order of age).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "hw/config/machine_params.h"
#include "hw/noc/network.h"
#include "noc_reference.h"

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

// The traffic of one pattern at one load: Bernoulli injection at each node, in time order.
std::vector<Injection> make_traffic(const std::string& pattern, double rate, int n,
                                    uint64_t cycles) {
  std::mt19937_64 rng(42);
  std::vector<Injection> injections;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const Coord src{x, y};
      if (pattern == "transpose" && x == y) continue;  // the diagonal sends to itself
      // Bernoulli injection with probability `rate` per cycle (rate <= 1 here).
      const uint64_t threshold = static_cast<uint64_t>(std::min(rate, 1.0) * 9007199254740992.0);
      for (uint64_t c = 0; c < cycles; ++c)
        if ((rng() >> 11) < threshold)
          injections.push_back({c, src, destination(pattern, src, n, rng)});
    }
  std::stable_sort(injections.begin(), injections.end(),
                   [](const Injection& a, const Injection& b) { return a.cycle < b.cycle; });
  return injections;
}

// What the network did with the traffic, measured after the warm-up: bytes injected (what was
// really offered: Bernoulli injection is noisy at low loads) and bytes delivered in that
// window; and the host seconds the sends took.
struct Outcome {
  std::vector<uint64_t> latencies;
  uint64_t delivered_bytes = 0, offered_bytes = 0;
  double ideal_sum = 0;  // the formula's latencies of the same packets
  double seconds = 0;
};

// --reference: the cycle-by-cycle yardstick (noc_reference.h) instead of the network model.
enum class Reference { None, RoundRobin, Age };

Outcome simulate(const NocParams& params, const std::vector<Injection>& injections, int n,
                 uint64_t packet_bytes, uint64_t warmup, uint64_t cycles, bool at_entry,
                 Reference reference = Reference::None) {
  Outcome o;
  const auto start = std::chrono::steady_clock::now();
  Network net(n, n, params);
  auto count = [&](const Injection& in, uint64_t arrival) {
    if (in.cycle >= warmup) {
      o.offered_bytes += packet_bytes;
      o.latencies.push_back(arrival - in.cycle);
    }
    if (arrival >= warmup && arrival < cycles) o.delivered_bytes += packet_bytes;
  };
  if (reference != Reference::None) {
    std::vector<noc_reference::Packet> packets;
    for (const Injection& in : injections) packets.push_back({in.cycle, in.src, in.dst});
    const std::vector<uint64_t> arrival =
        noc_reference::run(packets, n, params.vcs, params.vc_buffer_flits, params.router_latency,
                           reference == Reference::Age ? noc_reference::Arbitration::Age
                                                       : noc_reference::Arbitration::RoundRobin);
    for (size_t i = 0; i < injections.size(); ++i) count(injections[i], arrival[i]);
  } else if (!at_entry) {
    for (const Injection& in : injections)
      count(in, net.send(in.src, in.dst, packet_bytes, in.cycle));
  } else {
    // Each node's packets in order; a node is offered to the network again the cycle after
    // its last packet entered (its injection link's wait says when), nodes in cycle order.
    std::vector<std::vector<const Injection*>> queue(static_cast<size_t>(n) * n);
    for (const Injection& in : injections) queue[in.src.y * n + in.src.x].push_back(&in);
    std::vector<size_t> next(queue.size(), 0);
    using Ready = std::pair<uint64_t, size_t>;  // (cycle, node): ties by node, as the fabric
    std::priority_queue<Ready, std::vector<Ready>, std::greater<Ready>> ready;
    for (size_t k = 0; k < queue.size(); ++k)
      if (!queue[k].empty()) ready.push({queue[k][0]->cycle, k});
    while (!ready.empty()) {
      const auto [cycle, k] = ready.top();
      ready.pop();
      const Injection& in = *queue[k][next[k]++];
      const uint64_t waited = net.injection_stats(in.src).wait_cycles;
      count(in, net.send(in.src, in.dst, packet_bytes, cycle));
      const uint64_t entered = cycle + net.injection_stats(in.src).wait_cycles - waited;
      if (next[k] < queue[k].size())
        ready.push({std::max(queue[k][next[k]]->cycle, entered + 1), k});
    }
  }
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const Injection& in : injections)
    if (in.cycle >= warmup)
      o.ideal_sum += double(net.zero_load_latency(in.src, in.dst, packet_bytes));
  return o;
}

[[noreturn]] void usage_error(const std::string& what) {
  fmt::print(stderr, "bench_noc_traffic: {}\n", what);
  std::exit(2);
}

double number(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !(v > 0) || v > 1e9)
    usage_error(fmt::format("{} {}: expected a positive number", flag, text));
  return v;
}

// "0.01:0.2:0.01,0.3": loads in steps; a step is rounded to avoid 0.30000000000000004.
std::vector<double> parse_loads(const std::string& text) {
  std::vector<double> loads;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    const size_t c1 = item.find(':');
    if (c1 == std::string::npos) {
      loads.push_back(number("--loads", item));
    } else {
      const size_t c2 = item.find(':', c1 + 1);
      if (c2 == std::string::npos) usage_error("--loads " + item + ": expected from:to:step");
      const double from = number("--loads", item.substr(0, c1)),
                   to = number("--loads", item.substr(c1 + 1, c2 - c1 - 1)),
                   step = number("--loads", item.substr(c2 + 1));
      for (int i = 0; from + i * step <= to + 1e-9; ++i)
        loads.push_back(std::round((from + i * step) * 1e6) / 1e6);
    }
    at = comma + 1;
  }
  std::sort(loads.begin(), loads.end());
  if (loads.back() > 1) usage_error("--loads: a load is a fraction of a link, at most 1");
  return loads;
}

}  // namespace

// The network model needs no SystemC, but dojosim::hw links libsystemc, which owns main().
const bool kQuietSystemC = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0) == 0;

extern "C" int sc_main(int argc, char** argv) {
  NocParams params = noc_params(HardwareConfig{});  // one D1 die's network
  uint64_t packet_bytes = 64, cycles = 20000;
  std::string pattern_flag = "all";
  bool host_cost = false, at_entry = true;
  Reference reference = Reference::None;
  // Steps of 0.01 up to 0.2 (transpose saturates at 1/7, hot-spot near 0.078) and from 0.36
  // to 0.5 (uniform), else of 0.1: a saturation point is read off the grid, so the grid must
  // be fine where it lies.
  std::vector<double> loads = parse_loads("0.01:0.2:0.01,0.3,0.36:0.5:0.02,0.6:1:0.1");
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage_error(flag + ": expected a value");
    const std::string value = argv[i + 1];
    if (flag == "--packet-bytes")
      packet_bytes = static_cast<uint64_t>(number(flag, value));
    else if (flag == "--cycles")
      cycles = static_cast<uint64_t>(number(flag, value));
    else if (flag == "--pattern")
      pattern_flag = value;
    else if (flag == "--loads")
      loads = parse_loads(value);
    else if (flag == "--router")
      params.router = value;
    else if (flag == "--allocator")
      params.allocator = value;
    else if (flag == "--send" && (value == "generated" || value == "entry"))
      at_entry = value == "entry";
    else if (flag == "--send")
      usage_error("--send " + value + ": expected entry or generated");
    else if (flag == "--router-latency")
      params.router_latency = static_cast<uint32_t>(number(flag, value));
    else if (flag == "--vcs")
      params.vcs = static_cast<uint32_t>(number(flag, value));
    else if (flag == "--buffer-flits")
      params.vc_buffer_flits = static_cast<uint32_t>(number(flag, value));
    else if (flag == "--reference" && (value == "rr" || value == "age" || value == "no"))
      reference = value == "rr"    ? Reference::RoundRobin
                  : value == "age" ? Reference::Age
                                   : Reference::None;
    else if (flag == "--reference")
      usage_error("--reference " + value + ": expected rr, age or no");
    else if (flag == "--host-cost" && (value == "yes" || value == "no"))
      host_cost = value == "yes";
    else if (flag == "--host-cost")
      usage_error("--host-cost " + value + ": expected yes or no");
    else
      usage_error(flag + ": unknown flag (see the usage at the top of bench/noc_traffic.cpp)");
  }
  std::vector<std::string> patterns{"uniform", "transpose", "hotspot"};
  if (pattern_flag != "all") {
    if (std::find(patterns.begin(), patterns.end(), pattern_flag) == patterns.end())
      usage_error("--pattern " + pattern_flag + ": expected uniform, transpose, hotspot or all");
    patterns = {pattern_flag};
  }
  // A packet is the whole message: its VC must hold it (input_queued).
  params.max_payload_bytes = static_cast<uint32_t>(packet_bytes);
  const int n = 8;
  if (host_cost) params.router = "input_queued";
  if (reference != Reference::None) {
    if (packet_bytes != params.link_bytes_per_cycle)
      usage_error("--reference: models 1-flit packets only (--packet-bytes " +
                  std::to_string(params.link_bytes_per_cycle) + ")");
    params.router = "input_queued";  // for the VC parameters' checks and the header
  }
  try {
    Network probe(n, n, params);
  } catch (const std::invalid_argument& e) {
    usage_error(e.what());
  }
  const uint64_t warmup = cycles / 5;
  if (host_cost) {
    NocParams ideal = params;
    ideal.router = "ideal";
    fmt::print(
        "8x8 mesh, {} B packets, {} cycles: host seconds of the network model, the same "
        "traffic\nunder both router models (input_queued: latency {}, {} VCs x {} flits, {} "
        "allocator)\n\n",
        packet_bytes, cycles, params.router_latency, params.vcs, params.vc_buffer_flits,
        params.allocator);
    fmt::print("{:<10} {:>8} {:>10} {:>10} {:>14} {:>8}\n", "pattern", "load", "packets", "ideal s",
               "input_queued s", "ratio");
    double total[2] = {0, 0};
    for (const std::string& pattern : patterns)
      for (double load : loads) {
        const auto traffic = make_traffic(
            pattern, load * params.link_bytes_per_cycle / double(packet_bytes), n, cycles);
        const double a =
            simulate(ideal, traffic, n, packet_bytes, warmup, cycles, at_entry).seconds;
        const double b =
            simulate(params, traffic, n, packet_bytes, warmup, cycles, at_entry).seconds;
        total[0] += a, total[1] += b;
        fmt::print("{:<10} {:>8.2f} {:>10} {:>10.4f} {:>14.4f} {:>8.2f}\n", pattern, load,
                   traffic.size(), a, b, b / a);
      }
    fmt::print("all: ideal {:.3f} s, input_queued {:.3f} s, ratio {:.2f}\n", total[0], total[1],
               total[1] / total[0]);
    return 0;
  }
  fmt::print("8x8 mesh, {} B packets, link {} B/cycle, router {} (latency {}", packet_bytes,
             params.link_bytes_per_cycle,
             reference == Reference::None         ? params.router
             : reference == Reference::RoundRobin ? "cycle-by-cycle reference, round-robin"
                                                  : "cycle-by-cycle reference, oldest first",
             params.router_latency);
  if (reference != Reference::None)
    fmt::print(", {} VCs x {} flits", params.vcs, params.vc_buffer_flits);
  else if (params.router == "input_queued")
    fmt::print(", {} VCs x {} flits, {} allocator", params.vcs, params.vc_buffer_flits,
               params.allocator);
  fmt::print("), {} cycles ({} warm-up){}\n", cycles, warmup,
             at_entry ? ", packets sent as they enter" : ", packets sent as generated");
  fmt::print("offered load = injected bytes per node per cycle / link width\n\n");
  fmt::print("{:<10} {:>8} {:>14} {:>14} {:>12}\n", "pattern", "load", "avg latency", "p99 latency",
             "accepted");
  for (const std::string& pattern : patterns) {
    // Saturation: the first load whose average latency passes 3x the zero-load latency, or
    // whose accepted load falls below 97% of the load really injected.
    double zero_load = 0, saturation = 0, saturation_latency = 0, peak_accepted = 0;
    for (double load : loads) {
      const Outcome o =
          simulate(params,
                   make_traffic(pattern, load * params.link_bytes_per_cycle / double(packet_bytes),
                                n, cycles),
                   n, packet_bytes, warmup, cycles, at_entry, reference);
      std::vector<uint64_t> latencies = o.latencies;
      const uint64_t delivered_bytes = o.delivered_bytes, offered_bytes = o.offered_bytes;
      const double ideal_sum = o.ideal_sum;
      if (latencies.empty()) continue;
      std::sort(latencies.begin(), latencies.end());
      double sum = 0;
      for (uint64_t l : latencies) sum += double(l);
      const int senders = pattern == "transpose" ? n * n - n : n * n;
      const double window = double(cycles - warmup) * senders * params.link_bytes_per_cycle;
      const double accepted = double(delivered_bytes) / window;
      const double offered = double(offered_bytes) / window;
      const double average = sum / double(latencies.size());
      fmt::print("{:<10} {:>8.2f} {:>14.1f} {:>14} {:>12.3f}\n", pattern, load, average,
                 latencies[latencies.size() * 99 / 100], accepted);
      // The formula's average over this run's packets: the latency of the same traffic on an
      // idle network.
      if (zero_load == 0) zero_load = ideal_sum / double(latencies.size());
      peak_accepted = std::max(peak_accepted, accepted);
      if (saturation == 0 && (average > 3 * zero_load || accepted < 0.97 * offered))
        saturation = load, saturation_latency = average;
    }
    if (saturation == 0)
      fmt::print("{}: zero-load latency {:.1f}; not saturated up to offered load {:.2f}\n\n",
                 pattern, zero_load, loads.back());
    else
      fmt::print(
          "{}: zero-load latency {:.1f}; saturation at offered load {:.2f} (average latency "
          "{:.1f}); peak accepted {:.3f}\n\n",
          pattern, zero_load, saturation, saturation_latency, peak_accepted);
  }
  return 0;
}
