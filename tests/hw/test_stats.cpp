// SPDX-License-Identifier: MIT
// The statistics tree of a finished run against what the program did: MACs of its mma
// instructions, bytes of its push on every link of the route, cycle buckets that sum to the
// cycles, energy equal to the documented formula, and JSON with names, descriptions and units.
// One machine per test case (SystemC elaborates once per process).
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "hw/config/config_io.h"
#include "hw/config/machine_params.h"
#include "hw/machine/machine.h"
#include "hw/config/derived.h"
#include "hw/stats/run_report.h"
#include "hw/stats/stats.h"
#include "isa/assembler.h"
#include "isa/timing.h"

using namespace dojosim;
using namespace dojosim::hw;

namespace {

// Every node: 3 mma.bf16 after loading two vectors. Node (0,0) pushes 256 bytes to the inbox
// of node (2,1), which waits for them.
constexpr const char* kProgram = R"(
    csrr s0, nodex
    csrr s1, nodey
    la a0, tiles
    vle v1, 0(a0)
    vle v2, 64(a0)
    mma.bf16 acc0, v1, v2
    mma.bf16 acc1, v1, v2
    mma.bf16 acc0, v1, v2
    or t0, s0, s1
    bnez t0, 1f
    li t2, 2
    slli t2, t2, 48
    li t3, 1
    slli t3, t3, 32
    or t2, t2, t3
    la t4, inbox
    or t2, t2, t4
    la t1, tiles
    li t5, 256
    push t2, t1, t5, 1
1:  li t1, 2
    bne s0, t1, 2f
    li t1, 1
    bne s1, t1, 2f
    swait 1, t1
2:  li a0, 0
    li a7, 93
    ecall
    .data
    .align 6
tiles: .space 256
inbox: .space 256
)";

constexpr uint64_t kPushBytes = 256;

// tiny is one die with one DIP: the machine's children are die(0,0), then dip0.
const StatsNode& only_die(const StatsNode& top) {
  REQUIRE(top.children.size() == 2);
  REQUIRE(top.children.back().name == "dip0");
  return top.children.front();
}

}  // namespace

TEST_CASE("stats: counters, buckets, link bytes and energy of a small run", "[stats]") {
  const HardwareConfig config = load_config(DOJOSIM_SOURCE_DIR "/configs/tiny.yaml").config;
  const MachineParams params = machine_params(config);
  Machine m(params);
  m.load(isa::assemble(kProgram, "t.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  const StatsNode top = collect_stats(m, config);
  const StatsNode& die = only_die(top);
  CHECK(top.name == "machine");
  CHECK(die.name == "die(0,0)");

  const auto& k = config.node.core;
  const uint64_t block = uint64_t{k.matrix_m} * k.matrix_n * k.matrix_k;
  const double seconds = double(m.cycles()) / (k.clock_ghz * 1e9);
  const auto& e = config.energy;

  unsigned nodes = 0;
  double node_energy = 0;
  for (const StatsNode& n : die.children) {
    if (n.name.rfind("node(", 0) != 0) continue;
    ++nodes;
    INFO(n.name);
    CHECK(n.counter("class_matrix") == 3);
    CHECK(n.counter("macs_bf16") == 3 * block);
    CHECK(n.counter("flop_bf16") == 6 * block);
    CHECK(n.counter("macs_cfp8") == 0);
    CHECK(n.counter("sram_read_bytes_est") >= 2 * k.vlen_bytes + 3 * 2 * k.vlen_bytes);
    // Every thread's buckets sum to its cycles.
    for (const StatsNode& t : n.children) {
      uint64_t sum = t.counter("issue_cycles") + t.counter("stall_other_drain");
      for (int c = 0; c < isa::kStallCauseCount; ++c)
        sum += t.counter("stall_" +
                         std::string(isa::stall_cause_name(static_cast<isa::StallCause>(c))));
      CHECK(sum == t.counter("cycles"));
      CHECK(t.counter("cycles") > 0);
    }
    // Energy is the documented formula.
    const double compute = double(n.counter("macs_bf16")) * e.mac_bf16_pj * 1e-12 +
                           double(n.counter("macs_cfp8")) * e.mac_cfp8_pj * 1e-12 +
                           double(n.counter("flop_fp32_upper")) * e.flop_fp32_pj * 1e-12;
    const double sram = double(n.counter("sram_read_bytes_est") + n.counter("noc_injected_bytes")) *
                            e.sram_read_pj_per_byte * 1e-12 +
                        double(n.counter("sram_write_bytes_est") + n.counter("noc_ejected_bytes")) *
                            e.sram_write_pj_per_byte * 1e-12;
    const double expect = compute + sram + e.static_w_per_node * seconds;
    CHECK(n.value("energy_j") == Approx(expect).epsilon(1e-12));
    CHECK(n.value("power_w") == Approx(expect / seconds).epsilon(1e-12));
    node_energy += expect;
  }
  CHECK(nodes == 16);
  CHECK(die.counter("macs_bf16") == 16 * 3 * block);
  CHECK(top.counter("macs_bf16") == 16 * 3 * block);
  CHECK(top.counter("cycles_max") == m.cycles());

  // The push: its bytes (with headers) on every link of its route, and nowhere else.
  const uint64_t payload = config.noc.max_packet_payload_bytes;
  const uint64_t packets = (kPushBytes + payload - 1) / payload;
  const uint64_t wire = kPushBytes + packets * config.noc.packet_header_bytes;
  const std::vector<Coord> route = m.network().route({0, 0}, {2, 1});
  REQUIRE(route.size() == 4);
  uint64_t mesh_links = 0;
  for (const StatsNode& l : die.children) {
    if (l.name.rfind("link(", 0) != 0) continue;
    INFO(l.name);
    CHECK(l.counter("bytes") == wire);
    CHECK(l.counter("packets") == packets);
    if (l.attributes.front().second == "mesh") ++mesh_links;
  }
  CHECK(mesh_links == route.size() - 1);
  const StatsNode* inj = die.child("link(0,0).injection");
  const StatsNode* ej = die.child("link(2,1).ejection");
  REQUIRE(inj);
  REQUIRE(ej);
  CHECK(die.child("node(0,0)")->counter("noc_injected_bytes") == wire);
  CHECK(die.child("node(2,1)")->counter("noc_ejected_bytes") == wire);
  CHECK(die.counter("mesh_link_bytes") == wire * (route.size() - 1));
  CHECK(die.counter("die_edge_link_bytes") == 0);

  // Die and machine energy: the nodes plus bytes x hops x pJ per byte per hop.
  const double links = double(wire * (route.size() - 1)) * e.hop_pj_per_byte * 1e-12;
  CHECK(die.value("energy_links_j") == Approx(links).epsilon(1e-12));
  CHECK(die.value("energy_j") == Approx(node_energy + links).epsilon(1e-9));
  CHECK(top.value("energy_j") == Approx(node_energy + links).epsilon(1e-9));
  CHECK(top.value("power_w") == Approx((node_energy + links) / seconds).epsilon(1e-9));

  // Every thread bucket summed over the machine equals the machine's thread cycles.
  uint64_t buckets = top.counter("issue_cycles") + top.counter("stall_other_drain");
  for (int c = 0; c < isa::kStallCauseCount; ++c)
    buckets +=
        top.counter("stall_" + std::string(isa::stall_cause_name(static_cast<isa::StallCause>(c))));
  CHECK(buckets == top.counter("cycles"));
  CHECK(top.counter("stall_semaphore") > 0);  // node (2,1) waited for the push

  // JSON: a walk over the tree with names, descriptions and units.
  const nlohmann::ordered_json j = to_json(top);
  CHECK(j["name"] == "machine");
  CHECK(j["stats"]["energy_j"]["unit"] == "J");
  CHECK(!j["stats"]["energy_j"]["description"].get<std::string>().empty());
  const auto& jd = j["children"][0];
  CHECK(jd["name"] == "die(0,0)");
  bool saw_link = false;
  for (const auto& c : jd["children"]) {
    CHECK(c.contains("description"));
    for (const auto& [name, s] : c["stats"].items()) {
      INFO(name);
      CHECK(s.contains("value"));
      CHECK(!s["unit"].get<std::string>().empty());
      CHECK(!s["description"].get<std::string>().empty());
    }
    if (c.contains("kind")) saw_link = true;
  }
  CHECK(saw_link);
}

TEST_CASE("run report: FLOP from the counters, a time split that sums for every scope, traffic",
          "[stats][report]") {
  const HardwareConfig config = load_config(DOJOSIM_SOURCE_DIR "/configs/tiny.yaml").config;
  MachineParams params = machine_params(config);
  params.threads = 2;
  Machine m(params);
  m.load(isa::assemble(kProgram, "t.s"));
  REQUIRE(m.run() == MachineOutcome::Finished);
  const StatsNode top = collect_stats(m, config);
  const auto& k = config.node.core;
  const double block = double(k.matrix_m) * k.matrix_n * k.matrix_k;

  const RunReport all = run_report(top, config);
  CHECK(all.cycles == m.cycles());
  CHECK(all.matrix_flop == 16 * 2 * 3 * 2 * block);  // 16 nodes x 2 threads x 3 mma
  CHECK(all.flop == all.matrix_flop);
  CHECK(all.flop_per_s == Approx(all.flop / all.seconds));
  CHECK(all.peak_flop_per_s == peak_flops(config, Precision::Bf16, Scale::Machine));
  CHECK(all.utilisation_pct == Approx(100 * all.flop_per_s / all.peak_flop_per_s));
  CHECK(all.thread_cycles == top.counter("cycles"));
  CHECK(all.energy_j == top.value("energy_j"));
  CHECK(all.mesh_link_bytes == top.child("die(0,0)")->counter("mesh_link_bytes"));
  CHECK(all.mesh_link_bytes > 0);

  const auto sums = [](const RunReport& r) {
    uint64_t s = 0;
    for (uint64_t b : r.split) s += b;
    CHECK(s == r.thread_cycles);
    CHECK(r.compute_cycles() + r.wait_data_cycles() + r.sync_cycles() + r.dma_queue_cycles() +
              r.other_cycles() ==
          r.thread_cycles);
    double pct = 0;
    for (int b = 0; b < kSplitBuckets; ++b) pct += r.pct(b);
    CHECK(pct == Approx(100));
  };
  sums(all);
  CHECK(all.split[split_bucket(isa::StallCause::Semaphore)] > 0);  // node (2,1) waited

  // Thread 0 of two nodes: the buckets of exactly those threads.
  ReportScope scope;
  scope.nodes = {{2, 1}, {0, 0}};
  scope.thread = 0;
  scope.work_flop = 1000;
  const RunReport some = run_report(top, config, scope);
  sums(some);
  const StatsNode& die = *top.child("die(0,0)");
  CHECK(some.thread_cycles == die.child("node(2,1)")->child("thread0")->counter("cycles") +
                                  die.child("node(0,0)")->child("thread0")->counter("cycles"));
  CHECK(some.flop == 1000);
  CHECK(some.matrix_flop == all.matrix_flop);

  // JSON: the names sweeps know, the split's groups and buckets.
  const nlohmann::ordered_json j = to_json(all);
  for (const std::string& name : report_names()) {
    INFO(name);
    const size_t dot = name.find('.');
    CHECK((dot == std::string::npos ? j.contains(name)
                                    : j[name.substr(0, dot)].contains(name.substr(dot + 1))));
  }
  CHECK(j["cycles"] == m.cycles());
  CHECK(j["split_pct"].size() == size_t(kSplitBuckets));
}
