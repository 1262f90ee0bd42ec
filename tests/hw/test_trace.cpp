// SPDX-License-Identifier: MIT
// The timeline trace: valid Chrome trace-event JSON with a named track per node thread, per
// link and per DIP, spans where the model says threads ran and waited, and a size bound.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "hw/config/config_io.h"
#include "hw/config/machine_params.h"
#include "hw/machine/machine.h"
#include "hw/trace/trace.h"
#include "isa/assembler.h"

using namespace dojosim;
using namespace dojosim::hw;

namespace {

// Node (0,0) pushes 2 KiB to (1,0), which waits for it, then pulls 64 bytes from host memory.
constexpr const char* kProgram = R"(
    csrr s0, nodex
    csrr s1, nodey
    bnez s1, done
    li t0, 1
    beq s0, t0, receive
    bnez s0, done
    li a1, 0x0001000000000000
    la t1, buf
    or a1, a1, t1
    li a2, 2048
    push a1, t1, a2, 1
    j done
receive:
    li t0, 1
    swait 1, t0
    li a1, 1
    slli a1, a1, 63
    la a0, buf
    li a2, 64
    pull a0, a1, a2, 2
    swait 2, t0
done:
    li a0, 0
    li a7, 93
    ecall
    .data
    .align 6
buf: .space 2048
)";

nlohmann::json run_traced(const std::string& path, uint64_t limit) {
  const HardwareConfig c =
      load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml").config;
  const MachineParams p = machine_params(c);
  Machine m(p);
  m.load(isa::assemble(kProgram, "trace.s"));
  {
    TraceWriter trace(path, p.core.clock_ghz, p.width, limit);
    m.set_trace(&trace);
    REQUIRE(m.run() == MachineOutcome::Finished);
  }
  std::ifstream in(path);
  return nlohmann::json::parse(in);  // throws if the file is not JSON
}

}  // namespace

TEST_CASE("a trace has named tracks for threads, links and DIPs and the spans of the run",
          "[trace]") {
  const nlohmann::json j = run_traced("trace_full.json", 1000000);
  REQUIRE(j.contains("traceEvents"));
  CHECK(j["otherData"]["truncated"] == false);
  std::set<std::string> processes, tracks, node1_spans;
  int dma_begin = 0, dma_end = 0, packets = 0;
  for (const auto& e : j["traceEvents"]) {
    const std::string ph = e["ph"];
    REQUIRE(e.contains("pid"));
    if (ph == "M" && e["name"] == "process_name")
      processes.insert(e["args"]["name"].get<std::string>());
    if (ph == "M" && e["name"] == "thread_name")
      tracks.insert(e["args"]["name"].get<std::string>());
    if (ph == "X") {
      REQUIRE(e["dur"].get<double>() >= 0);
      REQUIRE(e["ts"].get<double>() >= 0);
      // node (1,0) is pid 2 + 1
      if (e["pid"] == 3 && e["tid"] == 0) node1_spans.insert(e["name"].get<std::string>());
      if (e["pid"] == 1 && e["name"] == "1024 B") ++packets;
    }
    dma_begin += ph == "b", dma_end += ph == "e";
  }
  CHECK(processes.count("node (0,0)") == 1);
  CHECK(processes.count("node (1,0)") == 1);
  CHECK(processes.count("network") == 1);
  for (const char* t : {"thread 0", "dma", "link (0,0) east", "link (0,0) injection",
                        "link (1,0) ejection", "DIP 0 HBM"})
    CHECK(tracks.count(t) == 1);
  CHECK(node1_spans.count("run") == 1);
  CHECK(node1_spans.count("wait semaphore 1") == 1);
  CHECK(node1_spans.count("wait semaphore 2") == 1);
  CHECK(dma_begin == 2);  // the push and the pull
  CHECK(dma_end == 2);
  CHECK(packets == 2 * 3);  // 2 KiB in two 1 KiB packets, each on injection, one link, ejection
}

TEST_CASE("a trace stops at its event limit and says so", "[trace]") {
  const nlohmann::json j = run_traced("trace_cut.json", 5);
  CHECK(j["otherData"]["truncated"] == true);
  CHECK(j["otherData"]["events"] == 5);
}

TEST_CASE("a trace file that cannot be written is an error naming it", "[trace][errors]") {
  CHECK_THROWS_WITH(TraceWriter("/nonexistent-dir/t.json", 2.0, 4, 10),
                    Catch::Contains("cannot write the trace /nonexistent-dir/t.json"));
}
