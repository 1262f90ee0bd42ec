// SPDX-License-Identifier: MIT
#include "hw/machine/fabric.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <ostream>

#include "hw/machine/host_profile.h"
#include "hw/machine/machine.h"
#include "hw/machine/ranks.h"
#include "hw/node/node.h"
#include "hw/trace/trace.h"
#include "isa/global_address.h"

namespace dojosim::hw {
namespace {

// A push without bytes is a semaphore signal alone: small control, high priority (docs/
// hardware.md "Traffic classes"); anything that carries bytes is data.
TrafficClass push_class(uint64_t bytes) {
  return bytes == 0 ? TrafficClass::RequestHigh : TrafficClass::Data;
}

}  // namespace

Fabric::Fabric(sc_core::sc_module_name name, const MachineParams& params, std::ostream* out)
    : sc_module(name),
      params_(params),
      out_(out),
      period_ps_(1000.0 / params.core.clock_ghz),
      network_(std::make_unique<Network>(params.width, params.height, params.noc)),
      host_(std::make_unique<HostMemory>(params.host)),
      outcome_(MachineOutcome::Finished) {
  port_.ev_drain = &ev_drain_;
  port_.time = CycleTime(period_ps_);
  barriers_.resize(isa::kNumGroups);
  SC_METHOD(drain);
  dont_initialize();
  sensitive << ev_drain_;
}

void Fabric::set_trace(TraceWriter* trace) {
  trace_ = trace;
  network_->set_trace(trace);
}

void Fabric::start_phase(unsigned participants) {
  participants_ = participants;
  for (Barrier& b : barriers_) b = {};
}

void Fabric::finish_phase() { apply_host_writes(UINT64_MAX); }

void Fabric::stop(MachineOutcome outcome, std::string message) {
  if (stopped_) return;
  stopped_ = true;
  outcome_ = outcome;
  message_ = std::move(message);
}

void Fabric::apply_host_writes(uint64_t up_to) {
  while (!host_writes_.empty() && host_writes_.front().cycle <= up_to) {
    std::pop_heap(host_writes_.begin(), host_writes_.end(), std::greater<HostWrite>());
    const HostWrite& w = host_writes_.back();
    host_->write(w.address, w.bytes.data(), w.bytes.size());
    host_writes_.pop_back();
  }
}

Fabric::Target Fabric::resolve(uint64_t global, uint64_t len) const {
  Target t;
  if (isa::is_host_address(global)) {
    t.offset = isa::host_offset(global);
    t.dip = host_->dip_of(t.offset, len, t.why);
    return t;
  }
  const Coord at{static_cast<int>(isa::global_x(global)), static_cast<int>(isa::global_y(global))};
  t.offset = isa::global_offset(global);
  if (at.x < params_.width && at.y < params_.height)
    t.node = grid_[static_cast<size_t>(at.y) * params_.width + at.x];
  if (!t.node)
    t.why = fmt::format("node ({},{}) is not a usable node of this {}x{} mesh", at.x, at.y,
                        params_.width, params_.height);
  else if (!t.node->sram().contains(t.offset, len))
    t.why = fmt::format("offset 0x{:x} + {} bytes is outside node ({},{})'s SRAM of 0x{:x} bytes",
                        t.offset, len, at.x, at.y, t.node->sram().size());
  return t;
}

void Fabric::drain() {
  HostProfile& profile = host_profile();
  const double started = profile.on ? host_seconds() : 0;
  drain_due();
  if (cross_pulls_) exchange_pulls();  // every rank counts the same
  if (profile.on) {
    profile.drain_s += host_seconds() - started;
    ++profile.drains;
  }
}

void Fabric::drain_due() {
  const uint64_t cycle =
      static_cast<uint64_t>(std::floor(sc_core::sc_time_stamp().to_double() / period_ps_));
  apply_host_writes(cycle);  // before any pull of this cycle reads host memory
  drain_cycle_ = cycle;
  port_.drain_at = UINT64_MAX;  // this drain is the one notified
  CycleQueue& due = port_.due;
  // A k-way merge of the outboxes, in (cycle, node index, sequence) order: a cycle's keys by
  // node index, each node's requests of that cycle in its own order.
  while (due.first_cycle() <= cycle && !stopped_) {
    keys_.clear();
    due.pop_first(keys_);
    // Nodes post in the order the scheduler ran them, by index: usually sorted already.
    if (!std::is_sorted(keys_.begin(), keys_.end())) std::sort(keys_.begin(), keys_.end());
    for (const auto& [key, index] : keys_) {
      NodeModule& node = *grid_[index];
      if (node.posted_cycle() != key) continue;  // stale: the node posted an earlier cycle since
      std::vector<Request>& box = node.outbox();
      size_t& head = node.outbox_head();
      do serve(node, box[head++]);
      while (head < box.size() && box[head].cycle == key && !stopped_);
      if (head < box.size()) {
        node.posted_cycle() = box[head].cycle;
        due.push(box[head].cycle, index);
      } else {
        node.posted_cycle() = UINT64_MAX;
      }
      if (stopped_) break;
    }
  }
  if (stopped_) {
    sc_core::sc_pause();
    return;
  }
  const uint64_t next = due.first_cycle();
  if (next != UINT64_MAX) {
    port_.drain_at = next;
    ev_drain_.notify(port_.time.until(double(next) + 0.5));
  }
}

void Fabric::serve(NodeModule& from, Request& r) {
  switch (r.kind) {
    case Request::Kind::Push: push(from, r); break;
    case Request::Kind::Pull: pull(from, r); break;
    case Request::Kind::Barrier: arrive_at_barrier(from, r); break;
    case Request::Kind::Output:
      if (out_) *out_ << fmt::format("[{},{} t{}] ", from.at().x, from.at().y, r.thread) << r.text;
      break;
    case Request::Kind::TraceSpan:
      if (trace_) trace_->thread_span(from.at(), r.thread, r.text, r.local, r.len);
      break;
    case Request::Kind::Trap: stop(MachineOutcome::Trapped, std::move(r.text)); break;
    case Request::Kind::NeedsValues:
      stop(MachineOutcome::NeedsValues, std::move(r.text));
      break;
    case Request::Kind::CycleLimit: stop(MachineOutcome::CycleLimit, std::move(r.text)); break;
  }
}

size_t Fabric::nearest_dip(Coord node) const {
  size_t best = 0;
  int best_hops = INT32_MAX;
  for (size_t k = 0; k < host_->dip_count(); ++k) {
    const Coord e = host_->entry(k, node);
    const int hops = std::abs(e.x - node.x) + std::abs(e.y - node.y);
    if (hops < best_hops) best = k, best_hops = hops;
  }
  return best;
}

uint64_t Fabric::node_to_node(Coord src, Coord dst, uint64_t bytes, uint64_t cycle,
                              TrafficClass cls) {
  if (params_.z_plane && host_->dip_count() > 1) {
    const size_t a = nearest_dip(src), b = nearest_dip(dst);
    if (a != b) {
      const Coord in = host_->entry(a, src), out = host_->entry(b, dst);
      const uint64_t z = network_->zero_load_latency(src, in, bytes) +
                         host_->z_plane_zero_load(a, b, bytes, params_.z_switch_latency) +
                         network_->zero_load_latency(out, dst, bytes);
      if (z < network_->zero_load_latency(src, dst, bytes)) {
        const uint64_t at_a = network_->send(src, in, bytes, cycle, Port::Sram, Port::HostIo, cls);
        const HostMemory::Span at_b =
            host_->z_plane_timing(a, b, bytes, {at_a, at_a}, params_.z_switch_latency);
        const uint64_t arrival =
            std::max(network_->send(out, dst, bytes, at_b.first, Port::HostIo, Port::Sram, cls),
                     at_b.last + network_->zero_load_latency(out, dst, 0));
        if (trace_) {
          trace_->dip_span(static_cast<unsigned>(a), "z-plane out", bytes, at_a, at_b.first);
          trace_->dip_span(static_cast<unsigned>(b), "z-plane in", bytes, at_b.first, at_b.last);
        }
        // Messages between a pair still arrive in the order sent, whichever way each went.
        return network_->in_order(src, dst, arrival);
      }
    }
  }
  return network_->send(src, dst, bytes, cycle, Port::Sram, Port::Sram, cls);
}

void Fabric::push(NodeModule& from, Request& r) {
  const Target to = resolve(r.global, r.len);
  if (!to.why.empty()) {
    stop(MachineOutcome::Trapped,
         fmt::format("node ({},{}): push of {} bytes to global address 0x{:x}: {}", from.at().x,
                     from.at().y, r.len, r.global, to.why));
    return;
  }
  if (to.node) {
    const uint64_t arrival =
        node_to_node(from.at(), to.node->at(), r.len, r.cycle, push_class(r.len));
    if (trace_)
      trace_->dma(from.at(), dma_count_++,
                  fmt::format("push {} B to ({},{})", r.len, to.node->at().x, to.node->at().y),
                  r.cycle, arrival);
    const uint64_t seq = delivery_seq_++;
    if (to.node->mine())
      to.node->deliver({arrival, seq, r.sem, to.offset, std::move(r.bytes), r.unknown});
    if (from.mine()) from.dma_completed(arrival);
    may_wake(arrival);
    slot_freed(from);
    return;
  }
  // To host memory: over the mesh to the DIP's edge, then its link and HBM; the semaphore
  // counts at the sender once the write is acknowledged.
  const size_t dip = static_cast<size_t>(to.dip);
  const Coord edge = host_->entry(dip, from.at());
  const uint64_t at_edge =
      network_->send(from.at(), edge, r.len, r.cycle, Port::Sram, Port::HostIo, push_class(r.len));
  const uint64_t done = host_->write_timing(dip, r.len, at_edge);
  if (trace_) {
    trace_->dma(from.at(), dma_count_++, fmt::format("push {} B to host 0x{:x}", r.len, to.offset),
                r.cycle, done);
    trace_->dip_span(static_cast<unsigned>(dip), "write", r.len, at_edge, done);
  }
  host_writes_.push_back({done, delivery_seq_++, to.offset, std::move(r.bytes)});
  std::push_heap(host_writes_.begin(), host_writes_.end(), std::greater<HostWrite>());
  if (r.sem) {
    const uint64_t seq = delivery_seq_++;
    if (from.mine()) from.deliver({done, seq, r.sem, 0, {}});
  }
  if (from.mine()) from.dma_completed(done);
  slot_freed(from);
  if (r.sem) may_wake(done);
}

void Fabric::pull(NodeModule& into, Request& r) {
  const Target from = resolve(r.global, r.len);
  if (!from.why.empty()) {
    stop(MachineOutcome::Trapped,
         fmt::format("node ({},{}): pull of {} bytes from global address 0x{:x}: {}", into.at().x,
                     into.at().y, r.len, r.global, from.why));
    return;
  }
  // A header-only request travels to the source; the data comes back behind it. The source
  // is read when the request is drained, in its issue cycle: programs order pulls with
  // semaphores. The request is request-low traffic (TrafficClass::RequestLow: Dojo's transport
  // keeps requests apart from data) and takes the zero-load latency: reserving links for it would
  // queue it behind data reserved for later cycles (an earlier pull's reply), since drains reserve
  // in issue order per node, not in time order across a node's pulls.
  // With MPI ranks only the source's rank has its SRAM: it sends the bytes after the drain.
  const bool readable = !from.node || from.node->mine();
  if (from.node && from.node->rank() != into.rank()) ++cross_pulls_;
  if (!readable && !into.mine()) {  // two other ranks' nodes: timing alone
    may_wake(pull_timing(into, r, from));
    slot_freed(into);
    ++delivery_seq_;
    return;
  }
  std::vector<uint8_t> bytes = into.buffer(r.len);
  if (!from.node)
    host_->read(from.offset, bytes.data(), r.len);
  else if (readable)
    from.node->sram().read(from.offset, bytes.data(), r.len);
  const uint64_t arrival = pull_timing(into, r, from);
  const bool unknown = readable && from.node && from.node->sram().unknown(from.offset, r.len);
  Delivery d{arrival, delivery_seq_++, r.sem, r.local, std::move(bytes), unknown};
  may_wake(arrival);
  slot_freed(into);
  if (!into.mine()) {  // for another rank's node, from this rank's
    pulled_.put(into.rank());
    pulled_.put(d.unknown);
    pulled_.put_bytes(d.bytes);
    return;
  }
  if (!readable)
    awaited_.push_back({&into, std::move(d), from.node->rank()});
  else
    into.deliver(std::move(d));
  into.dma_completed(arrival);
}

uint64_t Fabric::pull_timing(NodeModule& into, const Request& r, const Target& from) {
  uint64_t arrival;
  if (from.node) {
    const uint64_t asked = r.cycle + network_->zero_load_latency(into.at(), from.node->at(), 0);
    arrival = node_to_node(from.node->at(), into.at(), r.len, asked, TrafficClass::Data);
  } else {
    const size_t dip = static_cast<size_t>(from.dip);
    const Coord edge = host_->entry(dip, into.at());
    const uint64_t asked = r.cycle + network_->zero_load_latency(into.at(), edge, 0);
    // The mesh carries the data as the DIP delivers it: no faster than the DIP's last byte.
    const HostMemory::Span from_dip = host_->read_timing(dip, r.len, asked);
    arrival = std::max(network_->send(edge, into.at(), r.len, from_dip.first, Port::HostIo,
                                      Port::Sram, TrafficClass::Data),
                       from_dip.last + network_->zero_load_latency(edge, into.at(), 0));
    if (trace_) trace_->dip_span(static_cast<unsigned>(dip), "read", r.len, asked, from_dip.last);
  }
  if (trace_)
    trace_->dma(into.at(), dma_count_++,
                from.node ? fmt::format("pull {} B from ({},{})", r.len, from.node->at().x,
                                        from.node->at().y)
                          : fmt::format("pull {} B from host 0x{:x}", r.len, from.offset),
                r.cycle, arrival);
  return arrival;
}

void Fabric::may_wake(uint64_t cycle) {
  if (ranks_) port_.waker->round_at(cycle);
}

void Fabric::slot_freed(const NodeModule& node) {
  if (node.announced_dma_wait()) may_wake(drain_cycle_ + 1);  // it runs at the next cycle
}

// Each rank sends the bytes its nodes gave to pulls of other ranks' nodes, in drain order;
// a rank takes, from each other rank's, those for its nodes, in the same order as it timed
// their pulls. Only after a drain with such pulls, which every rank counts alike.
void Fabric::exchange_pulls() {
  cross_pulls_ = 0;
  const Ranks::Gathered all = ranks_->all_gather(pulled_.bytes());
  pulled_.clear();
  std::vector<std::deque<Delivery>> from(size_t(ranks_->size()));
  for (int r = 0; r < ranks_->size(); ++r) {
    WireReader in = all.reader(r);
    while (!in.done()) {
      const int to = in.get<int>();
      Delivery d;
      d.unknown = in.get<bool>();
      in.get_bytes(d.bytes);
      if (to == ranks_->rank()) from[size_t(r)].push_back(std::move(d));
    }
  }
  for (Awaited& a : awaited_) {
    std::deque<Delivery>& q = from.at(size_t(a.from_rank));
    if (q.empty()) throw std::logic_error("ranks: a pull's bytes did not come from its rank");
    a.delivery.bytes = std::move(q.front().bytes);
    a.delivery.unknown = q.front().unknown;
    q.pop_front();
    a.into->deliver(std::move(a.delivery));
  }
  awaited_.clear();
}

void Fabric::arrive_at_barrier(NodeModule& from, const Request& r) {
  Barrier& b = barriers_[r.group];
  b.waiting.emplace_back(&from, r.thread);
  b.latest = std::max(b.latest, r.cycle);
  if (b.waiting.size() < participants_) return;
  const uint64_t latency = params_.barrier_latency ? params_.barrier_latency
                                                   : 2 * uint64_t(params_.width + params_.height) *
                                                         params_.noc.router_latency;
  for (auto& [node, t] : b.waiting)
    if (node->mine()) node->release_barrier(t, b.latest + latency);
  may_wake(drain_cycle_ + 1);  // a released node runs at the next cycle
  b = {};
}

}  // namespace dojosim::hw
