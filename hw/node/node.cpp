// SPDX-License-Identifier: MIT
#include "hw/node/node.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <utility>

#include "hw/machine/machine.h"
#include "hw/trace/trace.h"

namespace dojosim::hw {

using sc_core::sc_time;
using sc_core::SC_PS;

NodeModule::NodeModule(sc_core::sc_module_name name, Machine& machine, Coord at,
                       const isa::CoreConfig& core)
    : sc_module(name),
      machine_(machine),
      at_(at),
      sram_(core.sram_bytes),
      core_(core, sram_, semaphores_.data()),
      waiting_(core.threads),
      span_start_(core.threads, 0),
      pending_output_(core.threads) {
  // A method, not a thread: a node's quantum runs on the simulator's own stack, so a machine
  // of thousands of nodes keeps no stack per node and switches no coroutine per wake-up.
  SC_METHOD(run);
}

double NodeModule::period_ps() const { return 1000.0 / core_.config().clock_ghz; }

uint64_t NodeModule::now_cycles() const {
  return static_cast<uint64_t>(sc_core::sc_time_stamp().to_double() / period_ps() + 0.5);
}

void NodeModule::start(uint64_t entry, unsigned threads, uint64_t stack_bytes) {
  started_ = threads;
  for (unsigned i = 0; i < threads; ++i)
    core_.start_thread(i, entry, (sram_.size() - i * stack_bytes) & ~uint64_t{15});
}

bool NodeModule::finished() const {
  for (unsigned i = 0; i < started_; ++i)
    if (core_.thread(i).status != isa::ThreadStatus::Exited) return false;
  return true;
}

void NodeModule::trace_span(unsigned i, const std::string& name, uint64_t cycle) {
  if (TraceWriter* trace = machine_.trace(); trace && cycle > span_start_[i]) {
    trace->thread_span(at_, i, name, span_start_[i], cycle);
    span_start_[i] = cycle;
  }
}

bool NodeModule::wake_semaphore(unsigned sem, uint64_t cycle) {
  bool woke = false;
  for (unsigned i = 0; i < started_; ++i) {
    Waiting& w = waiting_[i];
    if (w.kind == Waiting::Semaphore && w.id == sem && semaphores_[sem] >= w.count) {
      w = {};
      core_.thread(i).status = isa::ThreadStatus::Ready;
      core_.wait_until(core_.thread(i), cycle, isa::StallCause::Semaphore);
      if (machine_.trace()) trace_span(i, fmt::format("wait semaphore {}", sem), core_.cycles(core_.thread(i)));
      woke = true;
    }
  }
  return woke;
}

void NodeModule::accept(Delivery d) {
  const uint64_t now = now_cycles();
  ev_wake_.notify(cycles_from_now(d.cycle > now ? d.cycle - now : 0));
  incoming_.push_back(std::move(d));
  std::push_heap(incoming_.begin(), incoming_.end(), std::greater<Delivery>());
}

uint64_t NodeModule::dma_slot(uint64_t cycle) {
  const auto later = std::greater<uint64_t>();
  while (!dma_done_.empty() && dma_done_.front() <= cycle) {
    std::pop_heap(dma_done_.begin(), dma_done_.end(), later);
    dma_done_.pop_back();
  }
  if (dma_done_.size() < machine_.params().dma_queue_depth) return cycle;
  std::pop_heap(dma_done_.begin(), dma_done_.end(), later);
  const uint64_t free_at = dma_done_.back();
  dma_done_.pop_back();
  return free_at;
}

void NodeModule::release_barrier(unsigned thread, uint64_t cycle) {
  if (machine_.trace()) trace_span(thread, fmt::format("barrier {}", waiting_[thread].id), cycle);
  waiting_[thread] = {};
  core_.thread(thread).status = isa::ThreadStatus::Ready;
  core_.wait_until(core_.thread(thread), cycle, isa::StallCause::Barrier);
  wake_pending_ = true;
  ev_wake_.notify(sc_core::SC_ZERO_TIME);
}

void NodeModule::handle(unsigned i, const isa::RunResult& r) {
  isa::ThreadState& t = core_.thread(i);
  switch (r.event) {
    case isa::Event::Budget: break;
    case isa::Event::Exit: trace_span(i, "run", core_.cycles(t)); break;
    case isa::Event::Trap:
      trace_span(i, "run", core_.cycles(t));
      machine_.trap(fmt::format("node ({},{}) thread {}: {}", at_.x, at_.y, i, core_.trap_message(t)));
      break;
    case isa::Event::Write: {
      std::string& pending = pending_output_[i];
      const size_t old = pending.size();
      pending.resize(old + r.arg[2]);
      sram_.read(r.arg[1], pending.data() + old, r.arg[2]);
      size_t start = 0, nl;
      while ((nl = pending.find('\n', start)) != std::string::npos) {
        machine_.print(at_, i, pending.substr(start, nl - start + 1));
        start = nl + 1;
      }
      pending.erase(0, start);
      break;
    }
    case isa::Event::Signal: wake_semaphore(static_cast<unsigned>(r.arg[0]), core_.cycles(t)); break;
    case isa::Event::Push:
    case isa::Event::Pull: {
      const uint64_t start = dma_slot(core_.cycles(t));
      if (start > core_.cycles(t)) {
        trace_span(i, "run", core_.cycles(t));
        core_.wait_until(t, start, isa::StallCause::DmaQueue);
        trace_span(i, "DMA queue full", start);
      }
      const unsigned sem = static_cast<unsigned>(r.arg[3]);
      const uint64_t done = r.event == isa::Event::Push ? machine_.push(*this, start, r.arg[0], r.arg[1], r.arg[2], sem)
                                                        : machine_.pull(*this, start, r.arg[0], r.arg[1], r.arg[2], sem);
      dma_done_.push_back(done);
      std::push_heap(dma_done_.begin(), dma_done_.end(), std::greater<uint64_t>());
      break;
    }
    case isa::Event::WaitSemaphore:
      trace_span(i, "run", core_.cycles(t));
      t.status = isa::ThreadStatus::Blocked;
      waiting_[i] = {Waiting::Semaphore, r.arg[0], r.arg[1]};
      break;
    case isa::Event::Barrier:
      trace_span(i, "run", core_.cycles(t));
      t.status = isa::ThreadStatus::Blocked;
      waiting_[i] = {Waiting::Barrier, r.arg[0], 0};
      machine_.arrive_at_barrier(*this, i, static_cast<unsigned>(r.arg[0]), core_.cycles(t));
      break;
  }
}

sc_time NodeModule::cycles_from_now(uint64_t cycles) const {
  return sc_time(static_cast<double>(cycles) * period_ps(), SC_PS);
}

void NodeModule::rearm(uint64_t now) {
  if (!incoming_.empty()) ev_wake_.notify(cycles_from_now(incoming_.front().cycle - now));
  if (resume_at_ == UINT64_MAX)
    next_trigger(ev_wake_);
  else
    next_trigger(cycles_from_now(resume_at_ - now), ev_wake_);
}

void NodeModule::run() {
  const uint64_t now = now_cycles();
  bool woke = std::exchange(wake_pending_, false);
  // NOTE: a delivery computed by a node running ahead may be due before `now`; it is applied
  // at once, at most a quantum late. That is the price of temporal decoupling.
  while (!incoming_.empty() && incoming_.front().cycle <= now) {
    std::pop_heap(incoming_.begin(), incoming_.end(), std::greater<Delivery>());
    Delivery d = std::move(incoming_.back());
    incoming_.pop_back();
    if (d.to_host)
      machine_.host().write(d.offset, d.bytes.data(), d.bytes.size());
    else
      sram_.write(d.offset, d.bytes.data(), d.bytes.size());
    if (d.sem != 0) {
      ++semaphores_[d.sem];
      woke |= wake_semaphore(d.sem, std::max(d.cycle, now));
    }
    machine_.recycle(std::move(d.bytes));
  }
  if (finished_ || (!woke && now < resume_at_)) {  // nothing for the threads to do yet
    rearm(now);
    return;
  }

  const uint64_t window_end = now + machine_.params().quantum;
  bool any_ready = false, any_live = false;
  // Rotating who goes first shares contended units fairly between SMT threads.
  const unsigned first = static_cast<unsigned>(turn_++ % std::max(1u, started_));
  for (unsigned k = 0; k < started_; ++k) {
    const unsigned i = (first + k) % started_;
    isa::ThreadState& t = core_.thread(i);
    while (t.status == isa::ThreadStatus::Ready && core_.cycles(t) < window_end) {
      handle(i, core_.run(t, UINT64_MAX, window_end));
      if (t.status == isa::ThreadStatus::Trapped) return;
    }
    any_ready |= t.status == isa::ThreadStatus::Ready;
    any_live |= t.status == isa::ThreadStatus::Ready || t.status == isa::ThreadStatus::Blocked;
  }
  if (!any_live) {
    for (unsigned i = 0; i < started_; ++i)
      if (!pending_output_[i].empty()) machine_.print(at_, i, pending_output_[i] + "\n");
    finished_ = true;
    machine_.node_finished();
    // Data still in flight to this node lands all the same: the host may read it afterwards.
    resume_at_ = UINT64_MAX;
    rearm(now);
    return;
  }
  if (now > machine_.params().max_cycles) {
    machine_.trap(fmt::format("cycle limit {} reached at node ({},{})", machine_.params().max_cycles, at_.x, at_.y));
    return;
  }
  machine_.tick(now);
  // Synchronise: after a quantum if a thread can run, else when something arrives. A
  // delivery that wakes a thread ends the quantum early: the thread (say, one that forwards
  // data) must run at the data's arrival, not up to a quantum later at every hop of a chain.
  resume_at_ = any_ready ? window_end : UINT64_MAX;
  rearm(now);
}

std::string NodeModule::waiting_report() const {
  std::string report;
  for (unsigned i = 0; i < started_; ++i) {
    const Waiting& w = waiting_[i];
    const isa::ThreadState& t = core_.thread(i);
    if (w.kind == Waiting::Semaphore)
      report += fmt::format("\n  node ({},{}) thread {} at pc 0x{:x} waits on semaphore {} (value {}, needs {})",
                            at_.x, at_.y, i, t.pc, w.id, semaphores_[w.id], w.count);
    else if (w.kind == Waiting::Barrier)
      report += fmt::format("\n  node ({},{}) thread {} at pc 0x{:x} waits at barrier {}", at_.x, at_.y, i,
                            t.pc - 4, w.id);
  }
  return report;
}

}  // namespace dojosim::hw
