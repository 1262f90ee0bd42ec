// SPDX-License-Identifier: MIT
// Runs the machine's nodes: one SystemC method that, at each whole cycle where some node is
// due, runs every due node's activation (hw/node/node.h) — on several host threads when there
// are enough of them — and then, one node at a time in index order, hands their new requests
// to the fabric and books their next activation. docs/parallel.md has the design.
//
// A node is due at the earlier of two cycles, kept as SystemC kept them when each node had its
// own method: the cycle it asked to resume at (the end of its quantum), replaced at each
// activation, and the earliest wake-up (a delivery, a barrier release, a DMA timed, a new
// program), which stays pending until its cycle even if the node runs before it; a later
// wake-up while one is pending is dropped, as a later sc_event notification is.
//
// Nodes due in the same cycle touch only their own state, so the result does not depend on
// how many host threads run them or in which order (the tests compare 1, 2 and 3 threads).
#pragma once

#include <cstdint>
#include <memory>
#include <systemc>
#include <utility>
#include <vector>

#include "hw/node/cycle_queue.h"
#include "hw/node/cycle_time.h"
#include "hw/node/outbox.h"

namespace dojosim::hw {

class NodeModule;
class HostPool;
class Ranks;

class NodeScheduler : public sc_core::sc_module, public NodeWaker {
 public:
  SC_HAS_PROCESS(NodeScheduler);
  // host_threads: threads that run node activations (1: the SystemC thread alone).
  NodeScheduler(sc_core::sc_module_name name, double period_ps, unsigned host_threads,
                FabricPort& port);
  ~NodeScheduler();

  // The nodes by index (nullptr where disabled); call once, before any wake().
  void attach(std::vector<NodeModule*> nodes);
  void wake(uint32_t node, uint64_t cycle) override;
  // MPI ranks (hw/machine/ranks.h): this rank runs only its own nodes (NodeModule::mine()), and
  // the ranks hold the same rounds: after each round they exchange their nodes' new requests
  // and their earliest due cycles; between rounds, the fabric's drains (the same on every rank)
  // name every cycle a node may wake at (round_at()).
  void set_ranks(const Ranks* ranks) { ranks_ = ranks; }
  void round_at(uint64_t cycle) override;
  unsigned host_threads() const { return host_threads_; }
  uint64_t rounds() const { return rounds_; }                    // cycles at which nodes ran
  uint64_t parallel_rounds() const { return parallel_rounds_; }  // ... on several threads
  // The fewest nodes due in one cycle that the host threads share (fewer: the SystemC thread).
  size_t min_shared_batch() const;

 private:
  struct Due {
    uint64_t wake = UINT64_MAX, resume = UINT64_MAX;
    uint64_t at() const { return wake < resume ? wake : resume; }
  };
  void round();              // the SC_METHOD
  void book(uint32_t node);  // (re)files the node's key at Due::at()
  uint64_t now_cycles() const;
  uint64_t next_due();       // the earliest cycle a node of this rank is due (UINT64_MAX: none)
  void exchange_requests();  // MPI ranks: after a round
  // A push to a node of this rank: the other ranks time it but need not its bytes.
  bool pushes_within_rank(const Request& r) const;

  CycleTime time_;
  unsigned host_threads_;
  FabricPort& port_;
  std::vector<NodeModule*> nodes_;
  std::vector<Due> due_;
  // A key (cycle, node) whose cycle is no longer its node's at() is stale.
  CycleQueue queue_;
  std::vector<CycleQueue::Key> keys_;  // the keys due this round
  std::vector<uint32_t> batch_;  // the nodes due this round
  std::unique_ptr<HostPool> pool_;
  sc_core::sc_event ev_wake_;
  uint64_t rounds_ = 0, parallel_rounds_ = 0;
  const Ranks* ranks_ = nullptr;
  size_t first_node_ = 0;  // a usable node: the mesh's size from its core's config
  WireWriter wire_;
  std::vector<Request> adopted_;
};

}  // namespace dojosim::hw
