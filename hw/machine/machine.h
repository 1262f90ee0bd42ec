// SPDX-License-Identifier: MIT
// A machine: a mesh of nodes (one die, or a tile of dies) built as SystemC modules over the
// network model, running one program on every usable node (SPMD; a node finds its part from
// its coordinates).
//
// Lifecycle (one per process: SystemC elaborates once): construct from MachineParams ->
// load(program) -> run() -> read results and statistics.
//
// Time: each node runs its threads ahead of SystemC time by up to a quantum (temporal
// decoupling) and synchronises at quantum boundaries, or when all its threads wait. Pushes
// reserve the network when issued and are delivered to the destination's SRAM and semaphore
// at their arrival cycle by the destination node itself (NodeModule::accept).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "hw/host/host_memory.h"
#include "hw/noc/network.h"
#include "isa/interpreter.h"
#include "isa/program.h"

namespace dojosim::hw {

class NodeModule;
class TraceWriter;

// Hardware values come from hw::machine_params(config) (hw/config/machine_params.h), whose
// defaults live in hw/config/params.def only; the run options below are the caller's.
struct MachineParams {
  int width = 0, height = 0;         // nodes, global mesh
  std::vector<Coord> disabled;       // positions without a usable node (their routers work)
  isa::CoreConfig core;              // every node's core (coordinates are filled in)
  NocParams noc;
  std::vector<DipParams> host;       // host memory, in address order (may be empty)
  uint32_t dma_queue_depth = 0;      // DMAs a node may have in flight before the next waits
  uint64_t quantum = 0;              // cycles a node may run ahead of SystemC time (>= 1)
  uint64_t max_cycles = 0;          // the run stops at this cycle with MachineOutcome::CycleLimit
  double max_seconds = 0;            // wall-clock limit of one run() (0: none): MachineOutcome::TimeLimit
  uint64_t barrier_latency = 0;      // 0: twice the mesh diameter in router latencies
  unsigned threads = 1;              // threads started per node
  uint64_t stack_bytes = 16 * 1024;
};

enum class MachineOutcome : uint8_t { Finished, Trapped, Deadlock, CycleLimit, TimeLimit };

struct NodeResult {
  Coord at;
  uint64_t instructions = 0, cycles = 0;
  std::vector<int64_t> exit_codes;
};

class Machine {
 public:
  // Throws std::invalid_argument for a mesh without nodes, a quantum or DMA queue of 0.
  explicit Machine(const MachineParams& params, std::ostream* out = nullptr);
  ~Machine();

  // Loads `program` on every usable node and starts `threads` threads on each (0: the
  // params' threads and stack_bytes). Throws isa::LoadError. A machine stays up: after a run
  // that finished, load the next program(s) and run again; SRAM and host memory keep their
  // contents, semaphores and barriers start from zero, and threads start at the cycle the
  // previous run ended (phase_start()). After a trap or deadlock it throws std::logic_error.
  void load(const isa::Program& program, unsigned threads = 0, uint64_t stack_bytes = 0);
  // Runs until every started thread has exited and nothing is in flight (the phase's end),
  // or a trap, deadlock or limit. May be called once per load().
  MachineOutcome run();
  uint64_t phase_start() const { return phase_start_; }  // first cycle of the last run

  const std::string& message() const { return message_; }  // trap, deadlock or limit report
  uint64_t cycles() const { return end_cycle_; }
  std::vector<NodeResult> results() const;
  const Network& network() const { return *network_; }
  // Before run(): `progress(cycle)` is called now and then (every few thousand node
  // synchronisations) with the simulated cycle a node has reached; it must be cheap.
  void set_progress(std::function<void(uint64_t)> progress) { progress_ = std::move(progress); }
  void tick(uint64_t cycle) {
    if (progress_ && ++ticks_ % 4096 == 0) progress_(cycle);
  }
  // Before run(): write a timeline trace (hw/trace/trace.h) to `trace`, which outlives the run.
  void set_trace(TraceWriter* trace);
  TraceWriter* trace() const { return trace_; }
  const HostMemory& host() const { return *host_; }
  HostMemory& host() { return *host_; }
  const MachineParams& params() const { return params_; }
  NodeModule* node(Coord c) const;
  size_t node_count() const { return nodes_.size(); }

  // Called by nodes. A DMA issued at `cycle`: returns the cycle it completes (its data is
  // delivered, or a host write acknowledged), or 0 after reporting a bad address as a trap.
  uint64_t push(NodeModule& from, uint64_t cycle, uint64_t src, uint64_t dst_global, uint64_t len,
                unsigned sem);
  uint64_t pull(NodeModule& into, uint64_t cycle, uint64_t src_global, uint64_t dst, uint64_t len,
                unsigned sem);
  void arrive_at_barrier(NodeModule& from, unsigned thread, unsigned group, uint64_t cycle);
  void trap(const std::string& report);
  void node_finished();
  void print(Coord at, unsigned thread, const std::string& text);
  // A delivered payload's buffer, for the next DMA.
  void recycle(std::vector<uint8_t> bytes) { spare_buffers_.push_back(std::move(bytes)); }

 private:
  struct Barrier {
    unsigned arrived = 0;
    uint64_t latest = 0;
    std::vector<std::pair<NodeModule*, unsigned>> waiting;
  };

  std::string deadlock_report() const;
  // Where a global address points: a node and SRAM offset, or host memory (node null, dip set).
  struct Target {
    NodeModule* node = nullptr;
    int dip = -1;
    uint64_t offset = 0;
    std::string why;  // set when the range is unreachable
  };
  Target resolve(uint64_t global, uint64_t len) const;
  std::vector<uint8_t> buffer(uint64_t len);  // from spare_buffers_ when one is there

  MachineParams params_;
  std::ostream* out_;
  std::unique_ptr<Network> network_;
  std::unique_ptr<HostMemory> host_;
  TraceWriter* trace_ = nullptr;
  std::function<void(uint64_t)> progress_;
  uint64_t ticks_ = 0;
  uint64_t dma_count_ = 0;  // ids of DMAs in the trace
  std::vector<std::unique_ptr<NodeModule>> nodes_;
  std::vector<NodeModule*> grid_;  // width x height, nullptr where disabled
  std::vector<std::vector<uint8_t>> spare_buffers_;  // delivered payloads, reused: no malloc per DMA
  uint64_t delivery_seq_ = 0;  // issue order of DMAs, for deliveries due in the same cycle
  std::vector<Barrier> barriers_;
  unsigned running_nodes_ = 0, participants_ = 0;
  std::string message_;
  MachineOutcome outcome_ = MachineOutcome::Finished;
  uint64_t end_cycle_ = 0, phase_start_ = 0;
  unsigned threads_ = 0;  // started per node by the last load()
  bool stopped_ = false;
};

}  // namespace dojosim::hw
