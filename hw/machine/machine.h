// SPDX-License-Identifier: MIT
// A machine: a mesh of nodes (one die, or a tile of dies) built as SystemC modules over the
// fabric (hw/machine/fabric.h: network, host memory, barriers), running one program on every
// usable node (SPMD; a node finds its part from its coordinates).
//
// Lifecycle: construct from MachineParams -> load(program) -> run() -> read results, SRAM and
// statistics -> load(next program) -> run() -> ... A machine stays up between runs: SRAM and
// host memory keep their contents, so one op's output can be the next one's input. One
// machine per process (SystemC elaborates once).
//
// Time: each node runs its threads ahead of SystemC time by up to a quantum (temporal
// decoupling) and synchronises at quantum boundaries, or when all its threads wait. What a
// node asks of the world goes into its outbox; the fabric drains every outbox in a fixed
// order, so results do not depend on the order in which nodes run (docs/hardware.md).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "hw/host/host_memory.h"
#include "hw/machine/fabric.h"
#include "hw/machine/outcome.h"
#include "hw/noc/network.h"
#include "isa/interpreter.h"
#include "isa/program.h"

namespace dojosim::hw {

class NodeModule;
class NodeScheduler;
struct RunEnd;
class TraceWriter;

// Hardware values come from hw::machine_params(config) (hw/config/machine_params.h), whose
// defaults live in hw/config/params.def only; the run options below are the caller's.
struct MachineParams {
  int width = 0, height = 0;         // nodes, global mesh
  std::vector<Coord> disabled;       // positions without a usable node (their routers work)
  isa::CoreConfig core;              // every node's core (coordinates are filled in)
  NocParams noc;
  std::vector<DipParams> host;       // host memory, in address order (may be empty)
  bool z_plane = false;              // DMAs between nodes may cross the DIPs' Z-plane
  uint64_t z_switch_latency = 0;     // cycles of a Z-plane crossing beyond its links
  uint32_t dma_queue_depth = 0;      // DMAs a node may have in flight before the next waits
  uint64_t quantum = 0;              // cycles a node may run ahead of SystemC time (>= 1)
  bool quantum_aligned = false;      // quanta end at multiples of `quantum` (sim.quantum_aligned)
  uint64_t max_cycles = 0;          // the run stops at this cycle with MachineOutcome::CycleLimit
  double max_seconds = 0;  // wall-clock limit of one run() (0: none): MachineOutcome::TimeLimit
  uint64_t barrier_latency = 0;      // 0: twice the mesh diameter in router latencies
  unsigned threads = 1;              // threads started per node
  uint64_t stack_bytes = 16 * 1024;
  // For the test that the order in which nodes run changes nothing: build (and so, in
  // SystemC, schedule) the nodes in reverse order. Results must be identical.
  bool reverse_node_order = false;
  // Host threads that run the nodes (0: all the host's cores); results do not depend on it.
  unsigned host_threads = 1;
};

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
  // params' threads and stack_bytes). Throws isa::LoadError. After a run that finished, load
  // the next program and run again: SRAM and host memory keep their contents, semaphores and
  // barriers start from zero, and threads start at the cycle the previous run ended
  // (phase_start()). After a trap, deadlock or limit it throws std::logic_error.
  void load(const isa::Program& program, unsigned threads = 0, uint64_t stack_bytes = 0);
  // Runs until every started thread has exited and nothing is in flight (the phase's end),
  // or a trap, deadlock or limit. With `leave_in_flight`, the run ends in the cycle the last
  // thread exits instead (SystemC paused, its events kept): DMAs still in flight go on, timed
  // by the fabric beside whatever the next program sends, and land during the next run, which
  // holds their slots in each node's DMA queue and ends only once they have landed (give it no
  // program that waits on their semaphores: semaphores start from zero at each load). The host
  // must not read or write what they touch in between (host writes still in flight are applied
  // when due, not at the run's end). A deadlock or limit is found as before.
  MachineOutcome run(bool leave_in_flight = false);
  // After the run that followed one that left data in flight (or runs in a row that did): the
  // cycle the last of their DMAs completed (0 when none did), and where the last thread exited
  // in the first run after which nothing was in flight (one that waited for it, or one during
  // which it all landed): data that landed later delayed the next run by the difference. Kept
  // until the next run that leaves data in flight after one that did not.
  uint64_t carried_dma_done() const { return carried_done_; }
  uint64_t carried_end() const { return carried_end_; }
  bool in_flight() const { return in_flight_; }          // the last run left data in flight
  uint64_t phase_start() const { return phase_start_; }  // first cycle of the last run

  const std::string& message() const { return message_; }  // trap, deadlock or limit report
  uint64_t cycles() const { return end_cycle_; }            // the cycle the last run ended
  unsigned threads() const { return threads_; }             // started per node by the last load
  std::vector<NodeResult> results() const;
  const Network& network() const { return fabric_->network(); }
  const NodeScheduler& scheduler() const { return *scheduler_; }
  // Before run(): `progress(cycle)` is called now and then (every few thousand node
  // synchronisations) with the simulated cycle a node has reached; it must be cheap.
  void set_progress(std::function<void(uint64_t)> progress) {
    fabric_->port().progress = std::move(progress);
  }
  // Before run(): write a timeline trace (hw/trace/trace.h) to `trace`, which outlives the run.
  void set_trace(TraceWriter* trace);
  TraceWriter* trace() const { return trace_; }
  const HostMemory& host() const { return fabric_->host(); }
  HostMemory& host() { return fabric_->host(); }
  const MachineParams& params() const { return params_; }
  NodeModule* node(Coord c) const;
  size_t node_count() const { return nodes_.size(); }

 private:
  std::string deadlock_report() const;
  void split_over_ranks();   // MPI ranks (hw/machine/ranks.h): who runs which nodes
  void share_node_states();  // ... and what each learns of the others' after a run
  void share_written_pages();  // ... and of their SRAM

  MachineParams params_;
  std::unique_ptr<Fabric> fabric_;
  std::unique_ptr<NodeScheduler> scheduler_;
  TraceWriter* trace_ = nullptr;
  std::vector<std::unique_ptr<NodeModule>> nodes_;  // in index order (y, then x)
  std::vector<NodeModule*> grid_;  // width x height, nullptr where disabled
  std::string message_;
  MachineOutcome outcome_ = MachineOutcome::Finished;
  uint64_t end_cycle_ = 0, phase_start_ = 0;
  unsigned threads_ = 0;  // started per node by the last load()
  bool loaded_ = false;   // a program waits for run()
  bool dead_ = false;     // a run ended other than Finished
  bool in_flight_ = false;  // the last run ended with its last thread, data still in flight
  bool carrying_ = false;   // the loaded program runs beside that data
  uint64_t carried_done_ = 0, carried_end_ = 0;
  std::unique_ptr<RunEnd> run_end_;  // shared with every node
};

}  // namespace dojosim::hw
