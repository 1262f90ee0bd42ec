// SPDX-License-Identifier: MIT
// Fidelity of the network model: latencies equal the documented formula, links saturate at
// their width and are shared, queues form at hot spots, pairs stay in order, die edges bound
// cross-die flows, and the same traffic gives the same numbers.
#include <catch2/catch.hpp>

#include <filesystem>

#include "hw/config/machine_params.h"
#include "hw/noc/network.h"

using namespace dojosim::hw;

namespace {

// The network of the default config (one D1 die): the defaults live in params.def only.
NocParams d1_noc() { return noc_params(HardwareConfig{}); }

uint64_t formula(int hops, uint64_t bytes, const NocParams& p) {
  const uint64_t wire = bytes + p.header_bytes;
  return uint64_t(hops + 1) * p.router_latency +
         std::max<uint64_t>(1, (wire + p.link_bytes_per_cycle - 1) / p.link_bytes_per_cycle);
}

}  // namespace

TEST_CASE("zero-load latency equals (hops + 1) * router latency + bytes / width for every pair",
          "[noc]") {
  for (uint32_t router_latency : {1u, 3u}) {
    NocParams p = d1_noc();
    p.router_latency = router_latency;
    p.header_bytes = 16;
    const int w = 6, h = 5;
    for (int sy = 0; sy < h; ++sy)
      for (int sx = 0; sx < w; ++sx)
        for (int dy = 0; dy < h; ++dy)
          for (int dx = 0; dx < w; ++dx)
            for (uint64_t bytes : {0ull, 1ull, 64ull, 200ull, 1024ull}) {
              Network net(w, h, p);  // idle for every measurement
              const Coord s{sx, sy}, d{dx, dy};
              const uint64_t expect = formula(manhattan(s, d), bytes, p);
              INFO(sx << "," << sy << " -> " << dx << "," << dy << ", " << bytes << " B");
              REQUIRE(net.send(s, d, bytes, 100) - 100 == expect);
              REQUIRE(net.zero_load_latency(s, d, bytes) == expect);
            }
  }
}

TEST_CASE("a long message streams its packets back to back", "[noc]") {
  NocParams p = d1_noc();
  Network net(4, 1, p);
  const uint64_t bytes = 64 * 1024;  // 64 packets of 1 KiB, 16 cycles each
  CHECK(net.send({0, 0}, {3, 0}, bytes, 0) == 63 * 16 + formula(3, 1024, p));
}

TEST_CASE("one flow saturates a link at its configured width", "[noc]") {
  for (uint32_t width : {32u, 64u, 128u}) {
    NocParams p = d1_noc();
    p.link_bytes_per_cycle = width;
    Network net(4, 1, p);
    const uint64_t message = 4096, count = 400;
    uint64_t last = 0;
    for (uint64_t i = 0; i < count; ++i) last = net.send({0, 0}, {3, 0}, message, 0);
    const double bytes_per_cycle = double(message * count) / double(last);
    INFO("width " << width << ": " << bytes_per_cycle << " B/cycle");
    CHECK(bytes_per_cycle <= width);
    CHECK(bytes_per_cycle >= 0.99 * width);
    const LinkStats& s = net.link_stats({1, 0}, Dir::East);
    CHECK(s.bytes == message * count);
    CHECK(s.busy_cycles == message * count / width);
  }
}

TEST_CASE("two flows through one link share it", "[noc]") {
  NocParams p = d1_noc();
  Network net(4, 2, p);
  // (0,0) -> (3,0) and (1,0) -> (2,0) both use the link (1,0) -> (2,0).
  const uint64_t message = 4096, count = 200;
  uint64_t end_a = 0, end_b = 0;
  for (uint64_t i = 0; i < count; ++i) {
    end_a = net.send({0, 0}, {3, 0}, message, 0);
    end_b = net.send({1, 0}, {2, 0}, message, 0);
  }
  const double alone = double(message * count) / p.link_bytes_per_cycle;
  // Together they need twice the time one would need alone, and neither starves.
  CHECK(double(std::max(end_a, end_b)) >= 1.98 * alone);
  CHECK(double(std::max(end_a, end_b)) <= 2.05 * alone);
  CHECK(double(std::min(end_a, end_b)) >= 1.9 * alone);
  CHECK(net.link_stats({1, 0}, Dir::East).busy_cycles ==
        2 * message * count / p.link_bytes_per_cycle);
}

TEST_CASE("hot-spot traffic queues at the destination", "[noc]") {
  NocParams p = d1_noc();
  Network net(5, 5, p);
  const Coord hot{2, 2};
  uint64_t worst = 0;
  for (int round = 0; round < 10; ++round)
    for (int y = 0; y < 5; ++y)
      for (int x = 0; x < 5; ++x)
        if (Coord{x, y} != hot)
          worst = std::max(
              worst, net.send({x, y}, hot, 1024, 0) - formula(manhattan({x, y}, hot), 1024, p));
  // 240 KiB through one ejection port of 64 B/cycle take 3,840 cycles: most packets wait.
  CHECK(worst >= 3000);
  CHECK(net.ejection_stats(hot).peak_queue >= 100);
  CHECK(net.ejection_stats(hot).busy_cycles == 24 * 10 * 16);
}

TEST_CASE("messages between a pair of nodes arrive in the order sent", "[noc]") {
  NocParams p = d1_noc();
  Network net(6, 6, p);
  uint64_t previous = 0;
  uint64_t t = 0;
  for (int i = 0; i < 300; ++i) {
    // Big then small messages, with cross traffic reserving links in between.
    const uint64_t bytes = (i % 3 == 0) ? 8192 : 8;
    const uint64_t arrival = net.send({0, 0}, {5, 5}, bytes, t);
    net.send({0, 3}, {5, 3}, 4096, t);
    CHECK(arrival >= previous);
    previous = arrival;
    t += 5;
  }
}

TEST_CASE("die-edge links bound flows between dies", "[noc]") {
  NocParams p = d1_noc();
  p.die_w = 4, p.die_h = 4;
  p.edge_link_bytes_per_cycle = 16;
  p.edge_latency = 200;
  Network net(8, 4, p);
  CHECK(net.is_die_edge({3, 0}, Dir::East));
  CHECK_FALSE(net.is_die_edge({2, 0}, Dir::East));
  // Zero load: 8 routers of which one hop is the edge (200 instead of 1), and the tail trails
  // by the 4 cycles 64 B take on the 16 B/cycle edge link.
  CHECK(net.zero_load_latency({0, 0}, {7, 0}, 64) == (7 + 1) * 1 - 1 + 200 + 4);
  CHECK(net.send({0, 0}, {7, 0}, 64, 0) == (7 + 1) * 1 - 1 + 200 + 4);
  Network busy(8, 4, p);
  uint64_t last = 0;
  for (int i = 0; i < 200; ++i) last = busy.send({0, 1}, {7, 1}, 4096, 0);
  const double rate = 200.0 * 4096 / double(last);
  CHECK(rate <= 16.0);
  CHECK(rate >= 15.5);
}

TEST_CASE("tile-edge links have their own width and latency, and bound flows between tiles",
          "[noc]") {
  // Three dies of 4x4 in a row; tiles of two dies: x = 3|4 is a die edge, x = 7|8 a tile edge.
  NocParams p = d1_noc();
  p.die_w = 4, p.die_h = 4;
  p.edge_link_bytes_per_cycle = 16;
  p.edge_latency = 200;
  p.tile_w = 8, p.tile_h = 4;
  p.tile_edge_link_bytes_per_cycle = 8;
  p.tile_edge_latency = 400;
  Network net(12, 4, p);
  CHECK(net.is_die_edge({7, 0}, Dir::East));  // a tile edge is a die edge too
  CHECK(net.is_tile_edge({7, 0}, Dir::East));
  CHECK(net.is_tile_edge({8, 0}, Dir::West));
  CHECK_FALSE(net.is_tile_edge({3, 0}, Dir::East));
  CHECK_FALSE(net.is_tile_edge({7, 0}, Dir::South));
  // Zero load from (0,0) to (11,0): 12 routers; the die edge takes 200, the tile edge 400
  // instead of 1, and the tail trails by the 64 B on the narrowest (8 B/cycle) link.
  const uint64_t want = (11 + 1) * 1 - 2 + 200 + 400 + 64 / 8;
  CHECK(net.zero_load_latency({0, 0}, {11, 0}, 64) == want);
  CHECK(net.send({0, 0}, {11, 0}, 64, 0) == want);
  // Within the second tile only the die edge counts.
  CHECK(net.zero_load_latency({4, 1}, {7, 1}, 64) == (3 + 1) * 1 + 1);
  // A stream across the tile edge gets its width, not the die edge's.
  Network busy(12, 4, p);
  uint64_t last = 0;
  for (int i = 0; i < 200; ++i) last = busy.send({6, 2}, {9, 2}, 4096, 0);
  const double rate = 200.0 * 4096 / double(last);
  CHECK(rate <= 8.0);
  CHECK(rate >= 7.8);
  CHECK(busy.link_stats({7, 2}, Dir::East).bytes == 200 * 4096);
}

TEST_CASE("the same traffic gives identical statistics", "[noc]") {
  auto run = [] {
    NocParams p = d1_noc();
    Network net(8, 8, p);
    uint64_t seed = 12345, sum = 0;
    for (int i = 0; i < 5000; ++i) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      const Coord s{int(seed >> 33) % 8, int(seed >> 40) % 8},
          d{int(seed >> 47) % 8, int(seed >> 54) % 8};
      sum += net.send(s, d, (seed >> 20) % 2048, uint64_t(i) * 3);
    }
    std::vector<uint64_t> stats{sum};
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 7; ++x) {
        const LinkStats& l = net.link_stats({x, y}, Dir::East);
        stats.insert(stats.end(), {l.bytes, l.packets, l.busy_cycles, l.wait_cycles, l.peak_queue});
      }
    return stats;
  };
  CHECK(run() == run());
}

TEST_CASE("routing: XY goes along x first, YX along y first, both minimal", "[noc]") {
  NocParams p = d1_noc();
  Network xy(5, 5, p);
  p.routing = "yx";
  Network yx(5, 5, p);
  const auto a = xy.route({0, 0}, {2, 3});
  const auto b = yx.route({0, 0}, {2, 3});
  REQUIRE(a.size() == 6);
  REQUIRE(b.size() == 6);
  CHECK(a[2] == Coord{2, 0});
  CHECK(b[3] == Coord{0, 3});
  p.routing = "zigzag";
  CHECK_THROWS_WITH(Network(5, 5, p), Catch::Contains("noc.routing = zigzag"));
}

TEST_CASE("every routing policy file is registered", "[noc]") {
  // A policy that compiles but is not in the registry would only fail when someone names it.
  const auto names = routing_names();
  int files = 0;
  for (const auto& f :
       std::filesystem::directory_iterator(std::string(DOJOSIM_SOURCE_DIR) + "/hw/noc/routing")) {
    const std::string stem = f.path().stem().string();
    if (f.path().extension() != ".cpp") continue;
    ++files;
    REQUIRE(stem.rfind("dor_", 0) == 0);
    CHECK(std::find(names.begin(), names.end(), stem.substr(4)) != names.end());
  }
  CHECK(files == int(names.size()));
}
