// SPDX-License-Identifier: MIT
// What a node and the fabric (hw/machine/fabric.h) hand each other. A node never calls the
// machine: what its threads ask of the outside world (DMA pushes and pulls, barrier arrivals,
// output, traps, the cycle limit) goes into its outbox, stamped with the cycle it was issued
// and a per-node sequence number; what the world does to it (data and semaphore signals,
// barrier releases, DMA completions) the fabric puts into its inbox. docs/hardware.md
// ("The fabric") has the protocol and why it makes results independent of the order in which
// nodes run.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <systemc>
#include <vector>

#include "hw/node/cycle_queue.h"
#include "hw/node/cycle_time.h"
#include "hw/node/wire.h"

namespace dojosim::hw {

// One request in a node's outbox.
struct Request {
  // NeedsValues: a trap of timing-only mode (isa::TrapCause::ValueUnknown), its own outcome.
  enum class Kind : uint8_t {
    Push,
    Pull,
    Barrier,
    Output,
    Trap,
    NeedsValues,
    CycleLimit,
    TraceSpan
  };
  Kind kind = Kind::Push;
  uint8_t thread = 0;
  uint16_t sem = 0;    // push, pull: semaphore signalled when the data is there (0: none)
  uint32_t group = 0;  // barrier: the group
  uint64_t cycle = 0;  // when it was issued
  uint64_t seq = 0;    // the node's issue order: ties of one node in one cycle
  uint64_t local = 0;  // push: the source in this node's SRAM; pull: the destination
  uint64_t global = 0; // push: the destination; pull: the source (isa/global_address.h)
  uint64_t len = 0;
  std::vector<uint8_t> bytes;  // push: the payload, read at issue (the sender may reuse its buffer)
  bool unknown = false;        // push, timing only: the payload holds values that were not computed
  std::string text;            // output: a line; trap: the report; trace span: its name
                               // (a trace span runs from `local` to `len`)
  bool operator<(const Request& o) const {
    return cycle != o.cycle ? cycle < o.cycle : seq < o.seq;
  }
};

// A request between MPI ranks (hw/machine/ranks.h), its text included, its payload unless
// `with_bytes` is false (a push whose destination is of the sender's rank: the others need
// only its length, to time it).
void write_request(WireWriter& w, const Request& r, bool with_bytes = true);
Request read_request(WireReader& r);

// One entry of a node's inbox, applied by the node at `cycle`: `bytes` into its SRAM at
// `offset` (none for a signal-only entry), then semaphore `sem` (if not 0) counts one.
struct Delivery {
  uint64_t cycle = 0, seq = 0;  // seq: the fabric's order, for entries due in the same cycle
  unsigned sem = 0;
  uint64_t offset = 0;
  std::vector<uint8_t> bytes;
  bool unknown = false;  // timing only: `bytes` hold values that were not computed (Sram)
  bool operator>(const Delivery& o) const {
    return cycle != o.cycle ? cycle > o.cycle : seq > o.seq;
  }
};

// Runs nodes: a node asks to run at a cycle (a delivery, a barrier release, a new program);
// the machine's scheduler (hw/machine/scheduler.h) runs it at the earliest cycle asked for.
class NodeWaker {
 public:
  virtual void wake(uint32_t node, uint64_t cycle) = 0;
  // MPI ranks (hw/machine/ranks.h): a node of some rank may wake at `cycle`. The fabric says so
  // on every rank for every node, its own or not, so every rank holds a round then.
  virtual void round_at(uint64_t cycle) = 0;

 protected:
  ~NodeWaker() = default;
};

// What a node tells the fabric besides its outbox: that it has requests from `cycle` on
// (the fabric then drains at cycle + 1/2), and, outside simulated time, progress and the
// wall-clock limit. Shared by every node of a partition; every operation on it commutes, so
// the order in which nodes run cannot change what it holds.
class FabricPort {
 public:
  // Keys (cycle, node index) of nodes whose outbox holds a request due at `cycle`, which the
  // fabric takes in order. Stale keys (a node re-posted an earlier cycle) are skipped.
  CycleQueue due;
  sc_core::sc_event* ev_drain = nullptr;  // the fabric's
  CycleTime time;
  uint64_t drain_at = UINT64_MAX;  // the cycle of the drain ev_drain is notified for

  void post(uint32_t node, uint64_t cycle);
  // Progress and the wall-clock limit, called by the scheduler after `activations` node
  // activations that reached `cycle`.
  void tick(uint64_t cycle, uint64_t activations);
  NodeWaker* waker = nullptr;  // the scheduler's
  std::function<void(uint64_t)> progress;
  double max_seconds = 0;
  double started = 0;       // wall-clock seconds at run() start
  bool out_of_time = false;  // set by tick(); the machine then stops

 private:
  uint64_t ticks_ = 0;
};

}  // namespace dojosim::hw
