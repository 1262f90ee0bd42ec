// SPDX-License-Identifier: MIT
#include "isa/node_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>

#include "isa/global_address.h"

namespace dojosim::isa {

NodeRunner::NodeRunner(const CoreConfig& config)
    : config_(config),
      sram_(config.sram_bytes),
      semaphores_(kNumSemaphores, 0),
      core_(config_, sram_, semaphores_.data()) {}

void NodeRunner::load(const Program& program) {
  for (const Segment& s : program.segments) {
    const uint64_t n = s.bytes.size() + s.zero_fill;
    if (!sram_.contains(s.address, n))
      throw LoadError(fmt::format("{}: segment {} [0x{:x}, 0x{:x}) does not fit in the node's SRAM "
                                  "[0, 0x{:x})",
                                  program.source_name, s.name, s.address, s.address + n,
                                  sram_.size()));
    sram_.write(s.address, s.bytes.data(), s.bytes.size());
    // .bss: the SRAM may hold an earlier program's data.
    sram_.zero(s.address + s.bytes.size(), s.zero_fill);
  }
  entry_ = program.entry;
  program_end_ = program.end_address();
}

void NodeRunner::deliver_output(unsigned thread, uint64_t fd, uint64_t buf, uint64_t len,
                                const NodeRunOptions& options) {
  std::string& pending = pending_[fd - 1][thread];
  const size_t old = pending.size();
  pending.resize(old + len);
  sram_.read(buf, pending.data() + old, len);
  std::ostream* os = fd == 1 ? options.out : options.err;
  size_t start = 0, nl;
  while ((nl = pending.find('\n', start)) != std::string::npos) {
    if (os)
      *os << fmt::format("[{},{} t{}] ", config_.node_x, config_.node_y, thread)
          << std::string_view(pending).substr(start, nl - start + 1);
    start = nl + 1;
  }
  pending.erase(0, start);
}

void NodeRunner::flush_output(const NodeRunOptions& options) {
  for (int fd = 0; fd < 2; ++fd) {
    std::ostream* os = fd == 0 ? options.out : options.err;
    for (size_t t = 0; t < pending_[fd].size(); ++t) {
      if (!pending_[fd][t].empty() && os)
        *os << fmt::format("[{},{} t{}] {}\n", config_.node_x, config_.node_y, t, pending_[fd][t]);
      pending_[fd][t].clear();
    }
  }
}

std::string NodeRunner::deadlock_report() const {
  std::string report = "deadlock: every live thread is waiting and nothing is in flight";
  unsigned at_barrier = 0, live = 0;
  for (unsigned i = 0; i < core_.thread_count(); ++i) {
    const ThreadStatus s = core_.thread(i).status;
    if (s == ThreadStatus::Ready || s == ThreadStatus::Blocked) ++live;
    if (waiting_[i].kind == Waiting::Barrier) ++at_barrier;
  }
  for (unsigned i = 0; i < core_.thread_count(); ++i) {
    const Waiting& w = waiting_[i];
    const ThreadState& t = core_.thread(i);
    if (w.kind == Waiting::Semaphore)
      report += fmt::format(
          "\n  node ({},{}) thread {} at pc 0x{:x} waits on semaphore {} "
          "(value {}, needs {})",
          config_.node_x, config_.node_y, i, t.pc, w.id, semaphores_[w.id], w.count);
    else if (w.kind == Waiting::Barrier)
      report += fmt::format("\n  node ({},{}) thread {} at pc 0x{:x} waits at barrier {} "
                            "({} of {} threads arrived; exited threads never arrive)",
                            config_.node_x, config_.node_y, i, t.pc - 4, w.id, at_barrier,
                            at_barrier + (core_.thread_count() - live));
  }
  return report;
}

NodeRunResult NodeRunner::run(const NodeRunOptions& options) {
  if (options.threads < 1 || options.threads > core_.thread_count())
    throw LoadError(fmt::format("threads = {}: this node has {} hardware threads", options.threads,
                                core_.thread_count()));
  const uint64_t stacks = options.threads * options.stack_bytes;
  if (program_end_ + stacks > sram_.size())
    throw LoadError(fmt::format("the program ends at 0x{:x} but the stacks of {} threads "
                                "({} bytes each) start at 0x{:x}",
                                program_end_, options.threads, options.stack_bytes,
                                sram_.size() - stacks));
  waiting_.assign(core_.thread_count(), {});
  for (auto& p : pending_) p.assign(core_.thread_count(), {});
  for (unsigned i = 0; i < options.threads; ++i)
    core_.start_thread(i, entry_, (sram_.size() - i * options.stack_bytes) & ~uint64_t{15});

  NodeRunResult result;
  const bool timing = config_.timing;
  uint64_t window_end = options.quantum;
  auto wake_semaphore = [&](uint64_t sem, uint64_t at_cycle) {
    for (unsigned i = 0; i < options.threads; ++i) {
      Waiting& w = waiting_[i];
      if (w.kind == Waiting::Semaphore && w.id == sem && semaphores_[sem] >= w.count) {
        w = {};
        core_.thread(i).status = ThreadStatus::Ready;
        core_.wait_until(core_.thread(i), at_cycle, StallCause::Semaphore);
      }
    }
  };
  auto finish = [&](RunOutcome outcome, std::string message) {
    result.outcome = outcome;
    result.message = std::move(message);
  };

  bool done = false;
  uint64_t turn = 0;
  while (!done) {
    bool any_live = false;
    // Rotating who goes first shares contended units fairly between SMT threads.
    const unsigned first = static_cast<unsigned>(turn++ % options.threads);
    for (unsigned k = 0; k < options.threads && !done; ++k) {
      const unsigned i = (first + k) % options.threads;
      ThreadState& t = core_.thread(i);
      while (t.status == ThreadStatus::Ready) {
        const uint64_t budget = timing ? UINT64_MAX : options.quantum;
        if (timing && t.cycle >= window_end) break;
        const RunResult r = core_.run(t, budget, timing ? window_end : UINT64_MAX);
        switch (r.event) {
          case Event::Budget: break;
          case Event::Exit: break;
          case Event::Trap:
            finish(t.trap.cause == TrapCause::ValueUnknown ? RunOutcome::NeedsValues
                                                           : RunOutcome::Trapped,
                   fmt::format("node ({},{}) thread {}: {}", config_.node_x, config_.node_y, i,
                               core_.trap_message(t)));
            done = true;
            break;
          case Event::Write: deliver_output(i, r.arg[0], r.arg[1], r.arg[2], options); break;
          case Event::Signal: wake_semaphore(r.arg[0], core_.cycles(t)); break;
          case Event::Push:
          case Event::Pull: {
            // A single node has no network and no host memory: only its own SRAM is reachable.
            const bool push = r.event == Event::Push;
            const uint64_t global = push ? r.arg[1] : r.arg[0], len = r.arg[2];
            const bool host = is_host_address(global);
            const uint32_t gx = global_x(global), gy = global_y(global);
            const uint64_t offset = global_offset(global);
            if (host || gx != config_.node_x || gy != config_.node_y ||
                !sram_.contains(offset, len)) {
              t.status = ThreadStatus::Trapped;
              t.trap = {
                  TrapCause::BadOperand, t.pc - 4, sram_.load<uint32_t>(t.pc - 4), global,
                  fmt::format("{} global address 0x{:x} ({}, {} bytes): a single-node run "
                              "can only reach its own SRAM [0, 0x{:x})",
                              push ? "push to" : "pull from", global,
                              host ? std::string("host memory")
                                   : fmt::format("node ({},{}), offset 0x{:x}", gx, gy, offset),
                              len, sram_.size())};
              finish(RunOutcome::Trapped, fmt::format("node ({},{}) thread {}: {}", config_.node_x,
                                                       config_.node_y, i, core_.trap_message(t)));
              done = true;
              break;
            }
            std::vector<uint8_t> bytes(len);  // a copy: source and destination may overlap
            sram_.read(push ? r.arg[0] : offset, bytes.data(), len);
            const bool unknown = sram_.unknown(push ? r.arg[0] : offset, len);
            sram_.write(push ? offset : r.arg[1], bytes.data(), len);
            sram_.mark_unknown(push ? offset : r.arg[1], len, unknown);
            if (r.arg[3] != 0) {
              ++semaphores_[r.arg[3]];
              core_.semaphore_raised(static_cast<unsigned>(r.arg[3]), core_.cycles(t));
              wake_semaphore(r.arg[3], core_.cycles(t));
            }
            break;
          }
          case Event::WaitSemaphore:
            t.status = ThreadStatus::Blocked;
            waiting_[i] = {Waiting::Semaphore, r.arg[0], r.arg[1]};
            break;
          case Event::Barrier: {
            t.status = ThreadStatus::Blocked;
            waiting_[i] = {Waiting::Barrier, r.arg[0], 0};
            // Every started, unexited thread must arrive; the last one releases all.
            bool all = true;
            uint64_t release = 0;
            for (unsigned j = 0; j < options.threads; ++j) {
              const ThreadState& o = core_.thread(j);
              if (o.status == ThreadStatus::Exited) { all = false; break; }
              if (waiting_[j].kind != Waiting::Barrier || waiting_[j].id != r.arg[0]) {
                all = false;
                break;
              }
              release = std::max(release, core_.cycles(o));
            }
            if (all)
              for (unsigned j = 0; j < options.threads; ++j) {
                waiting_[j] = {};
                core_.thread(j).status = ThreadStatus::Ready;
                core_.wait_until(core_.thread(j), release, StallCause::Barrier);
              }
            break;
          }
        }
        if (done) break;
        if (timing && core_.cycles(t) > options.max_cycles) {
          finish(RunOutcome::CycleLimit,
                 fmt::format("cycle limit {} reached: thread {} is at pc 0x{:x}; raise it with "
                             "--max-cycles if the program is meant to run this long",
                             options.max_cycles, i, t.pc));
          done = true;
          break;
        }
        if (!timing && t.instret > options.max_cycles) {
          finish(RunOutcome::CycleLimit,
                 fmt::format("instruction limit {} reached: thread {} is at pc 0x{:x}",
                             options.max_cycles, i, t.pc));
          done = true;
          break;
        }
        if (!timing) break;  // round-robin: one quantum per thread per turn
      }
      if (t.status == ThreadStatus::Ready || t.status == ThreadStatus::Blocked) any_live = true;
    }
    if (done) break;
    if (!any_live) break;
    bool any_ready = false;
    for (unsigned i = 0; i < options.threads; ++i)
      any_ready |= core_.thread(i).status == ThreadStatus::Ready;
    if (!any_ready) {
      finish(RunOutcome::Deadlock, deadlock_report());
      break;
    }
    window_end += options.quantum;
  }
  flush_output(options);

  for (unsigned i = 0; i < options.threads; ++i) {
    const ThreadState& t = core_.thread(i);
    result.threads.push_back({i, t.status, t.exit_code, t.instret, core_.cycles(t)});
    result.instructions += t.instret;
    result.cycles = std::max(result.cycles, core_.cycles(t));
  }
  return result;
}

}  // namespace dojosim::isa
