// SPDX-License-Identifier: MIT
// A D1-like node as a SystemC module: the interpreter's core and threads, the node's lazily
// allocated SRAM and its semaphores. One SC_METHOD per node runs all its hardware threads for
// a quantum per call (never a wait() per cycle) and hands pushes, barriers and output to the
// machine.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/container/small_vector.hpp>
#include <systemc>

#include "hw/noc/geometry.h"
#include "isa/interpreter.h"
#include "isa/sram.h"

namespace dojosim::hw {

class Machine;

class NodeModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(NodeModule);
  NodeModule(sc_core::sc_module_name name, Machine& machine, Coord at, const isa::CoreConfig& core);

  Coord at() const { return at_; }
  isa::Core& core() { return core_; }
  const isa::Core& core() const { return core_; }
  isa::Sram& sram() { return sram_; }
  uint64_t semaphore(unsigned i) const { return semaphores_[i]; }

  // Before the simulation starts: threads 0..threads-1 start at `entry`.
  void start(uint64_t entry, unsigned threads, uint64_t stack_bytes);

  // A DMA's data and semaphore signal for this node, applied by the node itself at `cycle`:
  // bytes into its SRAM at `offset`, or into host memory (a push of this node's to a DIP,
  // acknowledged at `cycle`), then semaphore `sem` (if not 0) counts one. Applying them in the
  // node's own activation, not in a machine-wide process, touches the node's state once per
  // wake-up instead of twice.
  struct Delivery {
    uint64_t cycle = 0, seq = 0;  // seq: issue order, for arrivals in the same cycle
    bool to_host = false;
    unsigned sem = 0;
    uint64_t offset = 0;
    std::vector<uint8_t> bytes;
    bool operator>(const Delivery& o) const { return cycle != o.cycle ? cycle > o.cycle : seq > o.seq; }
  };
  // From the machine: queue `d` and wake this node at its cycle.
  void accept(Delivery d);
  // From the machine when a barrier this node's thread waits at is complete.
  void release_barrier(unsigned thread, uint64_t cycle);

  bool finished() const;  // every started thread exited
  // One line per waiting thread, for the deadlock report.
  std::string waiting_report() const;


 private:
  struct Waiting {
    enum Kind : uint8_t { None, Semaphore, Barrier } kind = None;
    uint64_t id = 0, count = 0;
  };
  void run();  // the SC_METHOD: due deliveries, then one quantum, then the next trigger
  // Sets the next trigger: at resume_at_ or when ev_wake fires, with ev_wake notified for the
  // next delivery due.
  void rearm(uint64_t now);
  double period_ps() const;
  sc_core::sc_time cycles_from_now(uint64_t cycles) const;
  uint64_t now_cycles() const;
  bool wake_semaphore(unsigned sem, uint64_t cycle);  // whether a thread woke
  void handle(unsigned thread, const isa::RunResult& r);
  // Trace: closes thread i's current span as `name` at `cycle` and opens the next.
  void trace_span(unsigned i, const std::string& name, uint64_t cycle);
  // The cycle a DMA the thread issues at `cycle` may start: a full queue (node.dma.queue_depth
  // transfers in flight) makes it wait for the oldest to complete.
  uint64_t dma_slot(uint64_t cycle);

  Machine& machine_;
  Coord at_;
  isa::Sram sram_;
  // What a wake-up touches is kept inside the module (not on the heap), so that a node cold in
  // the host's caches costs few misses when it runs again.
  std::array<uint64_t, isa::kNumSemaphores> semaphores_{};
  isa::Core core_;
  boost::container::small_vector<Waiting, 4> waiting_;
  std::vector<uint64_t> span_start_;  // per thread: where its current trace span began
  boost::container::small_vector<uint64_t, 16> dma_done_;  // completion cycles of DMAs in flight, a min-heap
  std::vector<std::string> pending_output_;
  boost::container::small_vector<Delivery, 2> incoming_;  // a min-heap on (cycle, seq)
  // When the threads run next without a wake-up: the end of the current quantum, or never
  // (every thread waits). A delivery that wakes no thread does not end the quantum early.
  uint64_t resume_at_ = 0;
  sc_core::sc_event ev_wake_;  // a delivery is due, or a barrier released a thread
  bool wake_pending_ = false;  // a barrier released a thread since the last run
  bool finished_ = false;      // every thread exited and the machine was told
  unsigned started_ = 0;
  uint64_t turn_ = 0;
};

}  // namespace dojosim::hw
