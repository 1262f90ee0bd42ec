// SPDX-License-Identifier: MIT
#include "hw/machine/machine.h"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <stdexcept>

#include "hw/node/node.h"
#include "isa/node_runner.h"

namespace dojosim::hw {

using sc_core::sc_time;
using sc_core::SC_PS;

// Applies pushes at their arrival cycles: one process for the whole machine, woken only when
// a delivery is due or a new one is queued.
class Machine::Deliverer : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Deliverer);
  Deliverer(sc_core::sc_module_name name, Machine& m) : sc_module(name), m_(m) { SC_THREAD(run); }
  sc_core::sc_event ev_queued;

 private:
  void run() {
    const double period_ps = 1000.0 / m_.params_.core.clock_ghz;
    for (;;) {
      if (m_.deliveries_.empty()) {
        wait(ev_queued);
        continue;
      }
      const uint64_t now = static_cast<uint64_t>(sc_core::sc_time_stamp().to_double() / period_ps + 0.5);
      const Delivery& next = m_.deliveries_.top();
      if (next.cycle > now) {
        wait(sc_time(double(next.cycle - now) * period_ps, SC_PS), ev_queued);
        continue;
      }
      // NOTE: a delivery computed by a node running ahead may be due before `now`; it is
      // applied at once, at most a quantum late. That is the price of temporal decoupling.
      Delivery d = m_.deliveries_.top();
      m_.deliveries_.pop();
      d.to->deliver(std::max(d.cycle, now), d.offset, d.bytes, d.sem);
    }
  }
  Machine& m_;
};

Machine::Machine(const MachineParams& params, std::ostream* out)
    : params_(params), out_(out), network_(std::make_unique<Network>(params.width, params.height, params.noc)) {
  if (params.quantum == 0)  // a node would synchronise without advancing time, forever
    throw std::invalid_argument("sim.quantum_cycles = 0: must be at least 1");
  grid_.assign(static_cast<size_t>(params.width) * params.height, nullptr);
  std::vector<bool> disabled(grid_.size(), false);
  for (Coord c : params.disabled) disabled[static_cast<size_t>(c.y) * params.width + c.x] = true;
  for (int y = 0; y < params.height; ++y)
    for (int x = 0; x < params.width; ++x) {
      if (disabled[static_cast<size_t>(y) * params.width + x]) continue;
      isa::CoreConfig core = params.core;
      core.node_x = static_cast<uint32_t>(x), core.node_y = static_cast<uint32_t>(y);
      core.mesh_w = static_cast<uint32_t>(params.width), core.mesh_h = static_cast<uint32_t>(params.height);
      nodes_.push_back(std::make_unique<NodeModule>(fmt::format("node_{}_{}", x, y).c_str(), *this, Coord{x, y}, core));
      grid_[static_cast<size_t>(y) * params.width + x] = nodes_.back().get();
    }
  deliverer_ = std::make_unique<Deliverer>("deliverer", *this);
  // The machine stops itself when every node is done; SystemC need not announce it.
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  barriers_.resize(isa::kNumGroups);
}

Machine::~Machine() = default;

NodeModule* Machine::node(Coord c) const {
  if (c.x < 0 || c.y < 0 || c.x >= params_.width || c.y >= params_.height) return nullptr;
  return grid_[static_cast<size_t>(c.y) * params_.width + c.x];
}

void Machine::load(const isa::Program& program) {
  const uint64_t stacks = params_.threads * params_.stack_bytes;
  for (auto& n : nodes_) {
    for (const isa::Segment& s : program.segments) {
      const uint64_t size = s.bytes.size() + s.zero_fill;
      if (!n->sram().contains(s.address, size) || s.address + size > n->sram().size() - stacks)
        throw isa::LoadError(fmt::format("{}: segment {} [0x{:x}, 0x{:x}) does not fit below the "
                                         "stacks of {} threads in a node's SRAM of 0x{:x} bytes",
                                         program.source_name, s.name, s.address, s.address + size,
                                         params_.threads, n->sram().size()));
      n->sram().write(s.address, s.bytes.data(), s.bytes.size());
    }
    n->start(program.entry, params_.threads, params_.stack_bytes);
  }
  running_nodes_ = static_cast<unsigned>(nodes_.size());
  participants_ = running_nodes_ * params_.threads;
}

void Machine::print(Coord at, unsigned thread, const std::string& text) {
  if (out_) *out_ << fmt::format("[{},{} t{}] ", at.x, at.y, thread) << text;
}

void Machine::trap(const std::string& report) {
  if (stopped_) return;
  stopped_ = true;
  message_ = report;
  outcome_ = report.rfind("cycle limit", 0) == 0 ? MachineOutcome::CycleLimit : MachineOutcome::Trapped;
  sc_core::sc_stop();
}

void Machine::node_finished() {
  if (--running_nodes_ == 0 && !stopped_) {
    stopped_ = true;
    sc_core::sc_stop();
  }
}

void Machine::push(NodeModule& from, uint64_t cycle, uint64_t src, uint64_t dst_global, uint64_t len,
                   unsigned sem) {
  const Coord dst{static_cast<int>((dst_global >> 48) & 0x7FFF), static_cast<int>((dst_global >> 32) & 0xFFFF)};
  const uint64_t offset = dst_global & 0xFFFFFFFFu;
  NodeModule* to = node(dst);
  if ((dst_global >> 63) || !to || !to->sram().contains(offset, len)) {
    const char* why = (dst_global >> 63) ? "host memory is not reachable in this machine"
                      : !to ? "no usable node there"
                            : "the range is outside its SRAM";
    trap(fmt::format("node ({},{}): push of {} bytes to global address 0x{:x} (node ({},{}), offset 0x{:x}): {}",
                     from.at().x, from.at().y, len, dst_global, dst.x, dst.y, offset, why));
    return;
  }
  Delivery d{network_->send(from.at(), dst, len, cycle), delivery_seq_++, to, offset,
             std::vector<uint8_t>(len), sem};
  from.sram().read(src, d.bytes.data(), len);  // read at issue: the sender may reuse its buffer
  deliveries_.push(std::move(d));
  deliverer_->ev_queued.notify(sc_core::SC_ZERO_TIME);
}

void Machine::arrive_at_barrier(NodeModule& from, unsigned thread, unsigned group, uint64_t cycle) {
  Barrier& b = barriers_[group];
  b.waiting.emplace_back(&from, thread);
  b.latest = std::max(b.latest, cycle);
  if (b.waiting.size() < participants_) return;
  const uint64_t latency = params_.barrier_latency
                               ? params_.barrier_latency
                               : 2 * uint64_t(params_.width + params_.height) * params_.noc.router_latency;
  for (auto& [node, t] : b.waiting) node->release_barrier(t, b.latest + latency);
  b = {};
}

std::string Machine::deadlock_report() const {
  std::string report = "deadlock: every live thread is waiting and nothing is in flight";
  for (const auto& n : nodes_) report += n->waiting_report();
  return report;
}

MachineOutcome Machine::run() {
  sc_core::sc_start();
  const double period_ps = 1000.0 / params_.core.clock_ghz;
  end_cycle_ = static_cast<uint64_t>(sc_core::sc_time_stamp().to_double() / period_ps + 0.5);
  for (const auto& n : nodes_)
    for (unsigned i = 0; i < params_.threads; ++i) end_cycle_ = std::max(end_cycle_, n->core().cycles(n->core().thread(i)));
  if (!stopped_ && running_nodes_ > 0) {
    outcome_ = MachineOutcome::Deadlock;
    message_ = deadlock_report();
  }
  return outcome_;
}

std::vector<NodeResult> Machine::results() const {
  std::vector<NodeResult> out;
  for (const auto& n : nodes_) {
    NodeResult r{n->at(), 0, 0, {}};
    for (unsigned i = 0; i < params_.threads; ++i) {
      const isa::ThreadState& t = n->core().thread(i);
      r.instructions += t.instret;
      r.cycles = std::max(r.cycles, n->core().cycles(t));
      r.exit_codes.push_back(t.exit_code);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace dojosim::hw
