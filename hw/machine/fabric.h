// SPDX-License-Identifier: MIT
// The fabric: everything between the nodes. It owns the network (link calendars), host
// memory, barriers and the run's outcome, and is the only code that acts on more than one
// node. Nodes put requests into their outboxes (hw/node/outbox.h); the fabric drains them.
//
// Protocol (docs/hardware.md, "The fabric"): nodes run only at whole-cycle SystemC times, the
// fabric only at half-cycle times. A request issued at cycle c is drained at c + 1/2, with
// every other request issued up to c, in the fixed order (cycle, node index, sequence): links
// are reserved, pulls read the owner's SRAM, barriers count, and deliveries are posted into
// inboxes. Every message takes at least one cycle (the lookahead), so each delivery is due
// after the drain that posts it and reaches its node on time. What a node does between two
// drains depends only on its own state and inbox: the order in which nodes run cannot change
// any result.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "hw/host/host_memory.h"
#include "hw/machine/outcome.h"
#include "hw/noc/network.h"
#include "hw/node/outbox.h"

namespace dojosim::hw {

class NodeModule;
class Ranks;
class TraceWriter;
struct MachineParams;

class Fabric : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Fabric);
  Fabric(sc_core::sc_module_name name, const MachineParams& params, std::ostream* out);

  FabricPort& port() { return port_; }
  // The nodes by index (width x height, nullptr where disabled); before the first run.
  void attach(std::vector<NodeModule*> grid) { grid_ = std::move(grid); }
  void set_trace(TraceWriter* trace);
  // MPI ranks (hw/machine/ranks.h): deliveries, completions and barrier releases go only to
  // this rank's nodes, and every cycle they may wake a node at becomes a round on every rank;
  // after a drain the ranks exchange the bytes pulls read from one rank's nodes for another's.
  void set_ranks(const Ranks* ranks) { ranks_ = ranks; }

  // A new phase with `participants` threads in every barrier.
  void start_phase(unsigned participants);
  // After a phase: host writes still in flight land.
  void finish_phase();

  bool stopped() const { return stopped_; }          // a trap or the cycle limit was drained
  MachineOutcome outcome() const { return outcome_; }
  const std::string& message() const { return message_; }
  const Network& network() const { return *network_; }
  const HostMemory& host() const { return *host_; }
  HostMemory& host() { return *host_; }

 private:
  struct Barrier {
    unsigned arrived = 0;
    uint64_t latest = 0;
    std::vector<std::pair<NodeModule*, unsigned>> waiting;
  };
  // Where a global address points: a node and SRAM offset, or host memory (node null, dip set).
  struct Target {
    NodeModule* node = nullptr;
    int dip = -1;
    uint64_t offset = 0;
    std::string why;  // set when the range is unreachable
  };
  struct HostWrite {
    uint64_t cycle = 0, seq = 0, address = 0;
    std::vector<uint8_t> bytes;
    bool operator>(const HostWrite& o) const {
      return cycle != o.cycle ? cycle > o.cycle : seq > o.seq;
    }
  };

  void drain();      // the SC_METHOD, at cycle + 1/2
  void drain_due();  // its work
  void serve(NodeModule& from, Request& r);
  // Times `bytes` from node src to node dst, injected at `cycle`: over the mesh, or over the
  // Z-plane when that is on and faster on an idle machine (docs/hardware.md, "Systems").
  // Returns when the last byte is in dst's SRAM.
  uint64_t node_to_node(Coord src, Coord dst, uint64_t bytes, uint64_t cycle, TrafficClass cls);
  size_t nearest_dip(Coord node) const;  // by mesh hops to its entry; ties to the lower index
  void push(NodeModule& from, Request& r);
  void pull(NodeModule& into, Request& r);
  // When a pull's data is in `into`'s SRAM (the trace's spans and DMA included).
  uint64_t pull_timing(NodeModule& into, const Request& r, const Target& from);
  void arrive_at_barrier(NodeModule& from, const Request& r);
  void stop(MachineOutcome outcome, std::string message);
  Target resolve(uint64_t global, uint64_t len) const;
  void apply_host_writes(uint64_t up_to);
  void exchange_pulls();  // MPI ranks: after a drain with pulls between ranks
  // MPI ranks: a node (of any rank) may wake at `cycle`: every rank holds a round then.
  void may_wake(uint64_t cycle);
  void slot_freed(const NodeModule& node);  // ... when one of its DMAs is timed

  const MachineParams& params_;
  std::ostream* out_;
  double period_ps_;
  std::unique_ptr<Network> network_;
  std::unique_ptr<HostMemory> host_;
  FabricPort port_;
  sc_core::sc_event ev_drain_;
  std::vector<NodeModule*> grid_;
  std::vector<CycleQueue::Key> keys_;  // drain(): the keys of one cycle
  std::vector<Barrier> barriers_;
  unsigned participants_ = 0;
  std::vector<HostWrite> host_writes_;  // a min-heap on (cycle, seq): applied when due
  uint64_t delivery_seq_ = 0;           // drain order, for deliveries due in the same cycle
  uint64_t dma_count_ = 0;              // ids of DMAs in the trace
  TraceWriter* trace_ = nullptr;
  // MPI ranks: pulled bytes for other ranks' nodes (destination rank, unknown, bytes), and
  // this rank's pulls from other ranks' nodes, delivered when their bytes have come.
  const Ranks* ranks_ = nullptr;
  WireWriter pulled_;
  struct Awaited {
    NodeModule* into;
    Delivery delivery;
    int from_rank;
  };
  std::vector<Awaited> awaited_;
  uint64_t cross_pulls_ = 0;  // this drain's pulls between two ranks' nodes (every rank's count)
  uint64_t drain_cycle_ = 0;
  bool stopped_ = false;
  MachineOutcome outcome_;
  std::string message_;
};

}  // namespace dojosim::hw
