// SPDX-License-Identifier: MIT
#include "hw/node/node.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include "hw/node/host_clock.h"
#include "hw/trace/trace.h"

namespace dojosim::hw {

void FabricPort::post(uint32_t node, uint64_t cycle) {
  due.push(cycle, node);
  // The drain at cycle + 1/2 sees every request issued up to `cycle`: nodes run at whole
  // cycles only. An earlier pending notification wins, so the order of posts does not matter.
  if (cycle < drain_at) {
    drain_at = cycle;
    ev_drain->notify(time.until(double(cycle) + 0.5));
  }
}

void FabricPort::tick(uint64_t cycle, uint64_t activations) {
  const uint64_t before = ticks_;
  ticks_ += activations;
  if (before / 4096 == ticks_ / 4096) return;
  if (progress) progress(cycle);
  if (max_seconds > 0) {
    if (host_seconds() - started > max_seconds && !out_of_time) {
      out_of_time = true;
      sc_core::sc_pause();
    }
  }
}

void write_request(WireWriter& w, const Request& r, bool with_bytes) {
  w.put(r.kind), w.put(r.thread), w.put(r.sem), w.put(r.group), w.put(r.cycle), w.put(r.seq);
  w.put(r.local), w.put(r.global), w.put(r.len), w.put(r.unknown);
  w.put_bytes(r.bytes.data(), with_bytes ? r.bytes.size() : 0);
  w.put_string(r.text);
}

Request read_request(WireReader& w) {
  Request r;
  r.kind = w.get<Request::Kind>(), r.thread = w.get<uint8_t>(), r.sem = w.get<uint16_t>();
  r.group = w.get<uint32_t>(), r.cycle = w.get<uint64_t>(), r.seq = w.get<uint64_t>();
  r.local = w.get<uint64_t>(), r.global = w.get<uint64_t>(), r.len = w.get<uint64_t>();
  r.unknown = w.get<bool>();
  w.get_bytes(r.bytes);
  r.text = w.get_string();
  return r;
}

NodeModule::NodeModule(sc_core::sc_module_name name, Coord at, uint32_t index,
                       const isa::CoreConfig& core, const NodeParams& params, FabricPort& port,
                       RunEnd* run_end)
    : sc_module(name),
      at_(at),
      index_(index),
      params_(params),
      port_(port),
      sram_(core.sram_bytes),
      core_(core, sram_, semaphores_.data()),
      waiting_(core.threads),
      held_dma_(core.threads),
      span_start_(core.threads, 0),
      pending_output_(core.threads) {
  run_end_ = run_end;
}

uint64_t NodeModule::next_cycle() const {
  return static_cast<uint64_t>(std::floor(sc_core::sc_time_stamp().to_double() / period_ps())) + 1;
}

void NodeModule::start(uint64_t entry, unsigned threads, uint64_t stack_bytes, uint64_t cycle,
                       bool carry) {
  started_ = threads;
  finished_ = threads == 0;
  just_finished_ = false;
  stopped_ = false;
  semaphores_.fill(0);
  core_.reset_semaphores_raised();
  std::fill(waiting_.begin(), waiting_.end(), Waiting{});
  // NOTE: after a run that waited for everything in flight, the queue starts empty (a host
  // write's acknowledgement may still be due: it is not waited for, as before). After a run
  // that left data in flight, its DMAs hold their slots until they complete: the next
  // program's DMAs queue behind them, as on the hardware.
  // Across several runs in a row that leave data in flight, the latest completion among all
  // their DMAs.
  if (!carry) {
    dma_done_.clear();
    dma_untimed_ = 0;
    carried_done_ = 0;
  }
  carried_ = dma_untimed_;
  for (const uint64_t done : dma_done_) carried_done_ = std::max(carried_done_, done);
  for (unsigned i = 0; i < threads; ++i) {
    core_.start_thread(i, entry, (sram_.size() - i * stack_bytes) & ~uint64_t{15}, cycle);
    span_start_[i] = cycle;
    pending_output_[i].clear();
  }
  resume_at_ = cycle;
  port_.waker->wake(index_, cycle);
}

bool NodeModule::finished() const {
  for (unsigned i = 0; i < started_; ++i)
    if (core_.thread(i).status != isa::ThreadStatus::Exited) return false;
  return true;
}

void NodeModule::trace_span(unsigned i, const std::string& name, uint64_t cycle) {
  if (!trace_ || cycle <= span_start_[i]) return;
  // Through the outbox, so that the fabric writes every node's spans in its fixed order and
  // the trace file does not depend on the order in which nodes ran.
  Request& r = add_request(Request::Kind::TraceSpan, i, cycle, now_);
  r.text = name;
  r.local = span_start_[i];
  r.len = cycle;
  span_start_[i] = cycle;
}

bool NodeModule::wake_semaphore(unsigned sem, uint64_t cycle) {
  bool woke = false;
  for (unsigned i = 0; i < started_; ++i) {
    Waiting& w = waiting_[i];
    if (w.kind == Waiting::Semaphore && w.id == sem && semaphores_[sem] >= w.count) {
      w = {};
      core_.thread(i).status = isa::ThreadStatus::Ready;
      core_.wait_until(core_.thread(i), cycle, isa::StallCause::Semaphore);
      if (trace_)
        trace_span(i, fmt::format("wait semaphore {}", sem), core_.cycles(core_.thread(i)));
      woke = true;
    }
  }
  return woke;
}

// ---- from the fabric (half-cycle times)

void NodeModule::deliver(Delivery d) {
  port_.waker->wake(index_, d.cycle);
  incoming_.push_back(std::move(d));
  std::push_heap(incoming_.begin(), incoming_.end(), std::greater<Delivery>());
}

void NodeModule::release_barrier(unsigned thread, uint64_t cycle) {
  // The fabric calls this while it drains: the span goes to the trace directly, in its order.
  if (trace_ && cycle > span_start_[thread]) {
    trace_->thread_span(at_, thread, fmt::format("barrier {}", waiting_[thread].id),
                        span_start_[thread], cycle);
    span_start_[thread] = cycle;
  }
  waiting_[thread] = {};
  core_.thread(thread).status = isa::ThreadStatus::Ready;
  core_.wait_until(core_.thread(thread), cycle, isa::StallCause::Barrier);
  wake_pending_ = true;
  port_.waker->wake(index_, next_cycle());
}

bool NodeModule::waits_for_dma_slot() const {
  for (unsigned i = 0; i < started_; ++i)
    if (waiting_[i].kind == Waiting::DmaQueue) return true;
  return false;
}

void NodeModule::dma_completed(uint64_t cycle) {
  dma_done_.push_back(cycle);
  std::push_heap(dma_done_.begin(), dma_done_.end(), std::greater<uint64_t>());
  --dma_untimed_;
  if (carried_ > 0) {
    --carried_;
    carried_done_ = std::max(carried_done_, cycle);
  }
  for (unsigned i = 0; i < started_; ++i)
    if (waiting_[i].kind == Waiting::DmaQueue) {
      wake_pending_ = true;
      port_.waker->wake(index_, next_cycle());
      break;
    }
}

// ---- the node's own activation (whole-cycle times)

Request& NodeModule::add_request(Request::Kind kind, unsigned thread, uint64_t cycle,
                                 uint64_t now) {
  Request& r = outbox_.emplace_back();
  r.kind = kind;
  r.thread = static_cast<uint8_t>(thread);
  r.cycle = std::max(cycle, now);  // never before the drain that follows this activation
  r.seq = seq_++;
  return r;
}

std::vector<uint8_t> NodeModule::buffer(uint64_t len) {
  if (spare_buffers_.empty()) return std::vector<uint8_t>(len);
  std::vector<uint8_t> b = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  b.resize(len);
  return b;
}

void NodeModule::post() {
  if (exporting_)  // copied before the fabric moves their payloads out
    exported_.insert(exported_.end(), outbox_.begin() + static_cast<std::ptrdiff_t>(unexported_),
                     outbox_.end());
  if (outbox_head_ > 0 && 2 * outbox_head_ >= outbox_.size()) {  // drop what the fabric took
    outbox_.erase(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(outbox_head_));
    outbox_sorted_ -= outbox_head_;
    outbox_head_ = 0;
  }
  unexported_ = outbox_.size();
  if (outbox_sorted_ == outbox_.size()) return;
  // The threads ran one after another, so their requests may not be in cycle order yet; one
  // thread's alone are, and checking is cheaper than sorting.
  const auto unposted = outbox_.begin() + static_cast<std::ptrdiff_t>(outbox_head_);
  if (!std::is_sorted(unposted, outbox_.end())) std::sort(unposted, outbox_.end());
  outbox_sorted_ = outbox_.size();
  const uint64_t head = outbox_[outbox_head_].cycle;
  if (head < posted_cycle_) {
    posted_cycle_ = head;
    publish_ = true;
  }
}

void NodeModule::adopt(std::vector<Request>& requests) {
  for (Request& r : requests) outbox_.push_back(std::move(r));
  post();
  publish();
}

void NodeModule::publish() {
  if (std::exchange(publish_, false)) port_.post(index_, posted_cycle_);
  // One node at a time, in index order (the scheduler's hand-over): the count needs no lock,
  // and the run pauses in the cycle its last thread exits, whichever host thread ran it.
  if (std::exchange(just_finished_, false)) {
    finished_now_ = exporting_;  // MPI ranks: the other ranks count it from the exchange
    count_finished();
  }
}

void NodeModule::count_finished() {
  if (run_end_ && --run_end_->live == 0 && run_end_->pause) sc_core::sc_pause();
}

void NodeModule::issue_dma(unsigned i, const isa::RunResult& r, uint64_t now) {
  isa::ThreadState& t = core_.thread(i);
  uint64_t start = core_.cycles(t);
  const auto later = std::greater<uint64_t>();
  while (!dma_done_.empty() && dma_done_.front() <= start) {
    std::pop_heap(dma_done_.begin(), dma_done_.end(), later);
    dma_done_.pop_back();
  }
  if (dma_done_.size() + dma_untimed_ >= params_.dma_queue_depth) {
    if (dma_done_.empty()) {  // every slot is a transfer the fabric has not timed yet
      trace_span(i, "run", start);
      t.status = isa::ThreadStatus::Blocked;
      waiting_[i] = {Waiting::DmaQueue, 0, 0};
      held_dma_[i] = r;
      return;
    }
    // A full queue: the DMA starts when the oldest transfer completes.
    std::pop_heap(dma_done_.begin(), dma_done_.end(), later);
    const uint64_t free_at = dma_done_.back();
    dma_done_.pop_back();
    if (free_at > start) {
      trace_span(i, "run", start);
      core_.wait_until(t, free_at, isa::StallCause::DmaQueue);
      trace_span(i, "DMA queue full", free_at);
      start = free_at;
    }
  }
  const bool push = r.event == isa::Event::Push;
  Request& q = add_request(push ? Request::Kind::Push : Request::Kind::Pull, i, start, now);
  q.local = push ? r.arg[0] : r.arg[1];
  q.global = push ? r.arg[1] : r.arg[0];
  q.len = r.arg[2];
  q.sem = static_cast<uint16_t>(r.arg[3]);
  if (push) {
    q.bytes = buffer(q.len);
    sram_.read(q.local, q.bytes.data(), q.len);  // at issue: the sender may reuse its buffer
    q.unknown = sram_.unknown(q.local, q.len);
  }
  ++dma_untimed_;
}

void NodeModule::retry_dmas(uint64_t now) {
  for (unsigned i = 0; i < started_; ++i) {
    if (waiting_[i].kind != Waiting::DmaQueue || dma_done_.empty()) continue;
    waiting_[i] = {};
    core_.thread(i).status = isa::ThreadStatus::Ready;
    issue_dma(i, held_dma_[i], now);
  }
}

void NodeModule::handle(unsigned i, const isa::RunResult& r, uint64_t now) {
  isa::ThreadState& t = core_.thread(i);
  switch (r.event) {
    case isa::Event::Budget: break;
    case isa::Event::Exit: trace_span(i, "run", core_.cycles(t)); break;
    case isa::Event::Trap:
      trace_span(i, "run", core_.cycles(t));
      add_request(t.trap.cause == isa::TrapCause::ValueUnknown ? Request::Kind::NeedsValues
                                                               : Request::Kind::Trap,
                  i, core_.cycles(t), now)
          .text = fmt::format("node ({},{}) thread {}: {}", at_.x, at_.y, i, core_.trap_message(t));
      stopped_ = true;
      break;
    case isa::Event::Write: {
      std::string& pending = pending_output_[i];
      const size_t old = pending.size();
      pending.resize(old + r.arg[2]);
      sram_.read(r.arg[1], pending.data() + old, r.arg[2]);
      size_t start = 0, nl;
      while ((nl = pending.find('\n', start)) != std::string::npos) {
        add_request(Request::Kind::Output, i, core_.cycles(t), now).text =
            pending.substr(start, nl - start + 1);
        start = nl + 1;
      }
      pending.erase(0, start);
      break;
    }
    case isa::Event::Signal:
      wake_semaphore(static_cast<unsigned>(r.arg[0]), core_.cycles(t));
      break;
    case isa::Event::Push:
    case isa::Event::Pull: issue_dma(i, r, now); break;
    case isa::Event::WaitSemaphore:
      trace_span(i, "run", core_.cycles(t));
      t.status = isa::ThreadStatus::Blocked;
      waiting_[i] = {Waiting::Semaphore, r.arg[0], r.arg[1]};
      break;
    case isa::Event::Barrier:
      trace_span(i, "run", core_.cycles(t));
      t.status = isa::ThreadStatus::Blocked;
      waiting_[i] = {Waiting::Barrier, r.arg[0], 0};
      add_request(Request::Kind::Barrier, i, core_.cycles(t), now).group =
          static_cast<uint32_t>(r.arg[0]);
      break;
  }
}

void NodeModule::rearm(uint64_t now) {
  next_resume_ = resume_at_ == UINT64_MAX ? UINT64_MAX : std::max(resume_at_, now + 1);
}

void NodeModule::activate(uint64_t now) {
  now_ = now;
  next_resume_ = UINT64_MAX;  // unless rearm() says otherwise: only when woken
  bool woke = std::exchange(wake_pending_, false);
  // NOTE: a delivery due while this node's threads ran ahead is applied when the node next
  // runs, at most a quantum late for a thread that was running; a waiting thread resumes at
  // the delivery's own cycle. That is the price of temporal decoupling.
  while (!incoming_.empty() && incoming_.front().cycle <= now) {
    std::pop_heap(incoming_.begin(), incoming_.end(), std::greater<Delivery>());
    Delivery d = std::move(incoming_.back());
    incoming_.pop_back();
    if (!d.bytes.empty()) sram_.write(d.offset, d.bytes.data(), d.bytes.size());
    if (d.unknown) sram_.mark_unknown(d.offset, d.bytes.size(), true);
    if (d.sem != 0) {
      ++semaphores_[d.sem];
      core_.semaphore_raised(d.sem, d.cycle);
      woke |= wake_semaphore(d.sem, std::max(d.cycle, now));
    }
    if (d.bytes.capacity()) recycle(std::move(d.bytes));
  }
  inbox_wake_ = incoming_.empty() ? UINT64_MAX : incoming_.front().cycle;
  if (stopped_) return;  // the fabric stops the machine at the trap's drain
  retry_dmas(now);
  if (finished_ || (!woke && now < resume_at_)) {  // nothing for the threads to do yet
    post();
    rearm(now);
    return;
  }

  // Aligned quanta end together on every node that runs, as under TLM-2.0's quantum keeper,
  // so those nodes share the scheduler's rounds (docs/parallel.md).
  const uint64_t quantum_end =
      params_.aligned ? (now / params_.quantum + 1) * params_.quantum : now + params_.quantum;
  const uint64_t window_end = std::min(quantum_end, params_.max_cycles);
  bool any_ready = false, any_live = false;
  // Rotating who goes first shares contended units fairly between SMT threads.
  const unsigned first = static_cast<unsigned>(turn_++ % std::max(1u, started_));
  for (unsigned k = 0; k < started_ && !stopped_; ++k) {
    const unsigned i = (first + k) % started_;
    isa::ThreadState& t = core_.thread(i);
    while (t.status == isa::ThreadStatus::Ready && core_.cycles(t) < window_end && !stopped_)
      handle(i, core_.run(t, UINT64_MAX, window_end), now);
  }
  // Read after all threads ran: a later thread in the rotation may have woken an earlier one.
  for (unsigned i = 0; i < started_; ++i) {
    const isa::ThreadStatus s = core_.thread(i).status;
    any_ready |= s == isa::ThreadStatus::Ready;
    any_live |= s == isa::ThreadStatus::Ready || s == isa::ThreadStatus::Blocked;
  }
  if (stopped_) {
    post();
    return;
  }
  if (!any_live) {
    for (unsigned i = 0; i < started_; ++i)
      if (!pending_output_[i].empty())
        add_request(Request::Kind::Output, i, core_.cycles(core_.thread(i)), now).text =
            pending_output_[i] + "\n";
    finished_ = true;
    just_finished_ = true;
    finished_at_ = now;
    // Data still in flight to this node lands all the same: the host may read it afterwards.
    resume_at_ = UINT64_MAX;
    post();
    rearm(now);
    return;
  }
  if (any_ready && window_end >= params_.max_cycles) {
    add_request(Request::Kind::CycleLimit, 0, params_.max_cycles, now).text = fmt::format(
        "cycle limit {} reached at node ({},{}) (sim.max_cycles, counted from the "
        "start of the machine run)",
        params_.max_cycles, at_.x, at_.y);
    stopped_ = true;
    post();
    return;
  }
  // Synchronise: after a quantum if a thread can run, else when something arrives. A
  // delivery that wakes a thread ends the quantum early: the thread (say, one that forwards
  // data) must run at the data's arrival, not up to a quantum later at every hop of a chain.
  resume_at_ = any_ready ? window_end : UINT64_MAX;
  post();
  rearm(now);
}

void NodeModule::save_state(WireWriter& w) const {
  w.put(finished_at_), w.put(started_), w.put(carried_done_);
  for (unsigned i = 0; i < started_; ++i) {
    const isa::ThreadState& t = core_.thread(i);
    w.put(t.status), w.put(t.instret), w.put(t.cycle), w.put(t.issue_cycles), w.put(t.ready_max);
    w.put(t.stalls), w.put(t.class_counts), w.put(t.exit_code);
  }
  w.put_string(waiting_report());
}

void NodeModule::load_state(WireReader& r) {
  finished_at_ = r.get<uint64_t>();
  started_ = r.get<unsigned>();
  carried_done_ = r.get<uint64_t>();
  for (unsigned i = 0; i < started_; ++i) {
    isa::ThreadState& t = core_.thread(i);
    t.status = r.get<isa::ThreadStatus>(), t.instret = r.get<uint64_t>();
    t.cycle = r.get<uint64_t>(), t.issue_cycles = r.get<uint64_t>();
    t.ready_max = r.get<uint64_t>();
    t.stalls = r.get<decltype(t.stalls)>(), t.class_counts = r.get<decltype(t.class_counts)>();
    t.exit_code = r.get<int64_t>();
  }
  replica_waiting_ = r.get_string();
}

std::string NodeModule::waiting_report() const {
  if (!mine_) return replica_waiting_;
  std::string report;
  for (unsigned i = 0; i < started_; ++i) {
    const Waiting& w = waiting_[i];
    const isa::ThreadState& t = core_.thread(i);
    if (w.kind == Waiting::Semaphore)
      report += fmt::format(
          "\n  node ({},{}) thread {} at pc 0x{:x} waits on semaphore {} (value {}, needs {})",
          at_.x, at_.y, i, t.pc, w.id, semaphores_[w.id], w.count);
    else if (w.kind == Waiting::Barrier)
      report += fmt::format("\n  node ({},{}) thread {} at pc 0x{:x} waits at barrier {}", at_.x,
                            at_.y, i, t.pc - 4, w.id);
    else if (w.kind == Waiting::DmaQueue)
      report +=
          fmt::format("\n  node ({},{}) thread {} at pc 0x{:x} waits for a slot in its DMA queue",
                      at_.x, at_.y, i, t.pc - 4);
  }
  return report;
}

}  // namespace dojosim::hw
