// SPDX-License-Identifier: MIT
// A D1-like node as a SystemC module: the interpreter's core and threads, the node's lazily
// allocated SRAM and its semaphores. The machine's scheduler (hw/machine/scheduler.h) runs all
// its hardware threads for up to a quantum per activation (never a wait() per cycle). The node
// holds no reference to the machine: it talks to the world through its outbox and inbox
// (hw/node/outbox.h).
//
// Contract with the fabric (hw/machine/fabric.h): a node runs only at whole-cycle times and
// during activate() touches only its own state and its outbox; the fabric runs only at
// half-cycle times and is the only one to call the "from the fabric" members below.
#pragma once

#include <array>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <string>
#include <systemc>
#include <utility>
#include <vector>

#include "hw/noc/geometry.h"
#include "hw/node/outbox.h"
#include "isa/interpreter.h"
#include "isa/sram.h"

namespace dojosim::hw {

class TraceWriter;

// What every node of a machine shares, from MachineParams.
struct NodeParams {
  uint64_t quantum = 1;         // cycles a node's threads run ahead of SystemC time
  bool aligned = false;         // a quantum ends at the next multiple of `quantum`
  uint64_t max_cycles = UINT64_MAX;
  uint32_t dma_queue_depth = 1;
};

// What the machine shares with its nodes about the current run: the nodes whose threads have
// not all exited, and whether the run ends (sc_pause) when the last of them exits, leaving data
// in flight (Machine::run).
struct RunEnd {
  size_t live = 0;
  bool pause = false;
};

class NodeModule : public sc_core::sc_module {
 public:
  NodeModule(sc_core::sc_module_name name, Coord at, uint32_t index, const isa::CoreConfig& core,
             const NodeParams& params, FabricPort& port, RunEnd* run_end = nullptr);

  Coord at() const { return at_; }
  uint32_t index() const { return index_; }  // the node's rank in the fabric's fixed order
  isa::Core& core() { return core_; }
  const isa::Core& core() const { return core_; }
  isa::Sram& sram() { return sram_; }
  const isa::Sram& sram() const { return sram_; }
  uint64_t semaphore(unsigned i) const { return semaphores_[i]; }
  void set_trace(TraceWriter* trace) { trace_ = trace; }

  // Between runs: threads 0..threads-1 start at `entry` at `cycle`; semaphores start at 0.
  // `carry`: the last run ended with its last thread, its DMAs still in flight (Machine::run):
  // they keep their slots in the DMA queue and land during this run; carried_dma_done() is
  // then the cycle the last DMA of the runs since the last one that waited for everything
  // completed, once the fabric has timed them all.
  void start(uint64_t entry, unsigned threads, uint64_t stack_bytes, uint64_t cycle,
             bool carry = false);
  uint64_t carried_dma_done() const { return carried_done_; }

  // ---- from the scheduler (hw/machine/scheduler.h), at whole cycles
  // Runs the node at `now`: due deliveries, then its threads for up to a quantum. Touches only
  // this node's state (requests wait in its outbox), so the nodes due in one cycle may run in
  // parallel. Afterwards, one node at a time: publish() tells the fabric of new requests;
  // resume_cycle() is when the node runs next by itself (UINT64_MAX: only when woken), and
  // inbox_wake() the cycle of the next delivery in its inbox (UINT64_MAX: none).
  void activate(uint64_t now);
  void publish();
  uint64_t resume_cycle() const { return next_resume_; }
  uint64_t inbox_wake() const { return inbox_wake_; }

  // ---- from the fabric
  // Requests in issue-cycle order (cycle, seq); the fabric takes them from the front.
  std::vector<Request>& outbox() { return outbox_; }
  size_t& outbox_head() { return outbox_head_; }
  uint64_t& posted_cycle() { return posted_cycle_; }  // the key of this node in FabricPort::due
  // Queues `d` and wakes this node at its cycle.
  void deliver(Delivery d);
  // A barrier this node's thread waits at is complete: the thread resumes at `cycle`.
  void release_barrier(unsigned thread, uint64_t cycle);
  // One of this node's DMAs completes at `cycle` (its data delivered, or a host write
  // acknowledged).
  void dma_completed(uint64_t cycle);
  // A payload buffer of `len` bytes: from the delivered payloads that came back here, so a
  // DMA costs no allocation once the node has seen a few.
  std::vector<uint8_t> buffer(uint64_t len);
  void recycle(std::vector<uint8_t> bytes) { spare_buffers_.push_back(std::move(bytes)); }

  // ---- MPI ranks (hw/machine/ranks.h)
  // The rank that runs this node; a node of another rank is a replica: the fabric times its
  // requests (adopted from its rank) but delivers nothing to it.
  int rank() const { return rank_; }
  bool mine() const { return mine_; }
  // Over MPI ranks only: a node of this rank then keeps the requests each activation adds
  // aside for the other ranks (exported()).
  void set_rank(int rank, bool mine) { rank_ = rank, mine_ = mine, exporting_ = mine; }
  std::vector<Request>& exported() { return exported_; }
  // Another rank's requests of this replica, in its issue order: into the outbox, published.
  void adopt(std::vector<Request>& requests);
  // Whether a thread waits for a DMA slot (a completion then wakes the node), as the node's
  // rank announced it after its last activation: every rank decides alike from it.
  bool announced_dma_wait() const { return announced_dma_wait_; }
  void announce_dma_wait(bool waits) { announced_dma_wait_ = waits; }
  bool waits_for_dma_slot() const;
  // Whether the node's threads all exited in its last activation (its rank announces it), and
  // counting a node whose threads all exited towards the end of a run that leaves data in
  // flight (Machine::run): the last one pauses the run, on every rank in the same round.
  bool take_finished_now() { return std::exchange(finished_now_, false); }
  void count_finished();
  // After a run, what the machine's results, statistics and deadlock report read of a node:
  // written by its rank, read into its replicas.
  void save_state(WireWriter& w) const;
  void load_state(WireReader& r);

  bool finished() const;  // every started thread exited
  uint64_t finished_at() const { return finished_at_; }  // the cycle the node saw it
  // One line per waiting thread, for the deadlock report.
  std::string waiting_report() const;

 private:
  struct Waiting {
    enum Kind : uint8_t { None, Semaphore, Barrier, DmaQueue } kind = None;
    uint64_t id = 0, count = 0;
  };
  // Sets resume_cycle(): resume_at_, no earlier than the next cycle.
  void rearm(uint64_t now);
  double period_ps() const { return 1000.0 / core_.config().clock_ghz; }
  uint64_t next_cycle() const;  // the first whole cycle after now (the fabric runs at halves)
  bool wake_semaphore(unsigned sem, uint64_t cycle);  // whether a thread woke
  // Runs thread i's request; false if the thread stopped (trapped).
  void handle(unsigned thread, const isa::RunResult& r, uint64_t now);
  // A DMA of thread i: issued now if the queue has room or a known completion frees a slot;
  // else held until the fabric has drained the queue (retry_dmas()).
  void issue_dma(unsigned thread, const isa::RunResult& r, uint64_t now);
  void retry_dmas(uint64_t now);
  Request& add_request(Request::Kind kind, unsigned thread, uint64_t cycle, uint64_t now);
  void post();  // sorts new requests and tells the fabric when the first is due
  // Trace: closes thread i's current span as `name` at `cycle` and opens the next.
  void trace_span(unsigned i, const std::string& name, uint64_t cycle);

  Coord at_;
  uint32_t index_;
  NodeParams params_;
  FabricPort& port_;
  isa::Sram sram_;
  // What a wake-up touches is kept inside the module (not on the heap), so that a node cold in
  // the host's caches costs few misses when it runs again.
  std::array<uint64_t, isa::kNumSemaphores> semaphores_{};
  isa::Core core_;
  boost::container::small_vector<Waiting, 4> waiting_;
  boost::container::small_vector<Delivery, 2> incoming_;  // a min-heap on (cycle, seq)
  // Completion cycles of DMAs in flight that the fabric has timed, a min-heap; and how many
  // were issued and not yet timed.
  boost::container::small_vector<uint64_t, 16> dma_done_;
  uint32_t dma_untimed_ = 0;
  // DMAs of the previous run not yet timed at start() (the fabric times a node's DMAs in issue
  // order, so they are the next ones it completes), and the latest completion among them.
  uint32_t carried_ = 0;
  uint64_t carried_done_ = 0;
  RunEnd* run_end_ = nullptr;
  bool just_finished_ = false;  // the last activation saw every thread exit: publish() counts it
  std::vector<Request> outbox_;
  size_t outbox_head_ = 0;          // requests before it were taken by the fabric
  size_t outbox_sorted_ = 0;        // requests before it are in (cycle, seq) order
  uint64_t posted_cycle_ = UINT64_MAX;
  uint64_t seq_ = 0;
  // A DMA held while the queue is full of untimed transfers, per thread.
  boost::container::small_vector<isa::RunResult, 4> held_dma_;
  std::vector<std::vector<uint8_t>> spare_buffers_;
  std::vector<uint64_t> span_start_;  // per thread: where its current trace span began
  std::vector<std::string> pending_output_;
  TraceWriter* trace_ = nullptr;
  // When the threads run next without a wake-up: the end of the current quantum, or never
  // (every thread waits). A delivery that wakes no thread does not end the quantum early.
  uint64_t resume_at_ = UINT64_MAX;
  uint64_t now_ = 0;  // the cycle of the current activation
  uint64_t next_resume_ = UINT64_MAX, inbox_wake_ = UINT64_MAX;  // see activate()
  bool publish_ = false;       // the outbox's head moved earlier: the fabric must hear of it
  bool wake_pending_ = false;  // a thread was released or a held DMA may go, since the last run
  bool finished_ = true;       // every thread exited (or none started)
  bool stopped_ = false;       // a thread trapped or hit the cycle limit: the node runs no more
  uint64_t finished_at_ = 0;
  unsigned started_ = 0;
  uint64_t turn_ = 0;
  int rank_ = 0;
  bool mine_ = true, exporting_ = false, announced_dma_wait_ = false, finished_now_ = false;
  size_t unexported_ = 0;  // outbox requests from here on were added since the last post()
  std::vector<Request> exported_;
  std::string replica_waiting_;  // a replica's waiting_report(), from its rank
};

}  // namespace dojosim::hw
