// SPDX-License-Identifier: MIT
#include "hw/machine/machine.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <ostream>
#include <stdexcept>

#include "hw/node/node.h"
#include "hw/trace/trace.h"
#include "isa/node_runner.h"

namespace dojosim::hw {

Machine::Machine(const MachineParams& params, std::ostream* out)
    : params_(params),
      out_(out),
      network_(std::make_unique<Network>(params.width, params.height, params.noc)),
      host_(std::make_unique<HostMemory>(params.host)) {
  if (params.quantum == 0)  // a node would synchronise without advancing time, forever
    throw std::invalid_argument("sim.quantum_cycles = 0: must be at least 1");
  if (params.dma_queue_depth == 0)  // no DMA could ever start
    throw std::invalid_argument("node.dma.queue_depth = 0: must be at least 1");
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
  // The machine stops itself when every node is done; SystemC need not announce it.
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  barriers_.resize(isa::kNumGroups);
}

Machine::~Machine() = default;

void Machine::set_trace(TraceWriter* trace) {
  trace_ = trace;
  network_->set_trace(trace);
}

NodeModule* Machine::node(Coord c) const {
  if (c.x < 0 || c.y < 0 || c.x >= params_.width || c.y >= params_.height) return nullptr;
  return grid_[static_cast<size_t>(c.y) * params_.width + c.x];
}

void Machine::load(const isa::Program& program, unsigned threads, uint64_t stack_bytes) {
  if (threads == 0) threads = params_.threads;
  if (stack_bytes == 0) stack_bytes = params_.stack_bytes;
  const uint64_t stacks = threads * stack_bytes;
  for (auto& n : nodes_) {
    for (const isa::Segment& s : program.segments) {
      const uint64_t size = s.bytes.size() + s.zero_fill;
      if (!n->sram().contains(s.address, size) || s.address + size > n->sram().size() - stacks)
        throw isa::LoadError(fmt::format("{}: segment {} [0x{:x}, 0x{:x}) does not fit below the "
                                         "stacks of {} threads in a node's SRAM of 0x{:x} bytes",
                                         program.source_name, s.name, s.address, s.address + size,
                                         threads, n->sram().size()));
      n->sram().write(s.address, s.bytes.data(), s.bytes.size());
    }
    n->start(program.entry, threads, stack_bytes);
  }
  running_nodes_ = static_cast<unsigned>(nodes_.size());
  participants_ = running_nodes_ * threads;
  threads_ = threads;
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

Machine::Target Machine::resolve(uint64_t global, uint64_t len) const {
  Target t;
  if (global >> 63) {
    t.offset = global & ~(uint64_t{1} << 63);
    t.dip = host_->dip_of(t.offset, len, t.why);
    return t;
  }
  const Coord at{static_cast<int>((global >> 48) & 0x7FFF), static_cast<int>((global >> 32) & 0xFFFF)};
  t.offset = global & 0xFFFFFFFFu;
  t.node = node(at);
  if (!t.node)
    t.why = fmt::format("node ({},{}) is not a usable node of this {}x{} mesh", at.x, at.y, params_.width, params_.height);
  else if (!t.node->sram().contains(t.offset, len))
    t.why = fmt::format("offset 0x{:x} + {} bytes is outside node ({},{})'s SRAM of 0x{:x} bytes", t.offset, len,
                        at.x, at.y, t.node->sram().size());
  return t;
}

std::vector<uint8_t> Machine::buffer(uint64_t len) {
  if (spare_buffers_.empty()) return std::vector<uint8_t>(len);
  std::vector<uint8_t> b = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  b.resize(len);
  return b;
}

uint64_t Machine::push(NodeModule& from, uint64_t cycle, uint64_t src, uint64_t dst_global, uint64_t len,
                       unsigned sem) {
  const Target to = resolve(dst_global, len);
  if (!to.why.empty()) {
    trap(fmt::format("node ({},{}): push of {} bytes to global address 0x{:x}: {}", from.at().x, from.at().y, len,
                     dst_global, to.why));
    return 0;
  }
  std::vector<uint8_t> bytes = buffer(len);
  from.sram().read(src, bytes.data(), len);  // read at issue: the sender may reuse its buffer
  if (to.node) {
    const uint64_t arrival = network_->send(from.at(), to.node->at(), len, cycle);
    if (trace_)
      trace_->dma(from.at(), dma_count_++, fmt::format("push {} B to ({},{})", len, to.node->at().x, to.node->at().y),
                  cycle, arrival);
    to.node->accept({arrival, delivery_seq_++, false, sem, to.offset, std::move(bytes)});
    return arrival;
  }
  // To host memory: over the mesh to the DIP's edge, then its link and HBM; the semaphore
  // counts at the sender once the write is acknowledged.
  const size_t dip = static_cast<size_t>(to.dip);
  const Coord edge = host_->entry(dip, from.at());
  const uint64_t at_edge = network_->send(from.at(), edge, len, cycle, Port::Sram, Port::HostIo);
  const uint64_t done = host_->write_timing(dip, len, at_edge);
  if (trace_) {
    trace_->dma(from.at(), dma_count_++, fmt::format("push {} B to host 0x{:x}", len, to.offset), cycle, done);
    trace_->dip_span(static_cast<unsigned>(dip), "write", len, at_edge, done);
  }
  from.accept({done, delivery_seq_++, true, sem, to.offset, std::move(bytes)});
  return done;
}

uint64_t Machine::pull(NodeModule& into, uint64_t cycle, uint64_t src_global, uint64_t dst, uint64_t len,
                       unsigned sem) {
  const Target from = resolve(src_global, len);
  if (!from.why.empty()) {
    trap(fmt::format("node ({},{}): pull of {} bytes from global address 0x{:x}: {}", into.at().x, into.at().y,
                     len, src_global, from.why));
    return 0;
  }
  // A header-only request travels to the source; the data comes back behind it. The source
  // is read at issue, as a push reads its buffer: programs order pulls with semaphores.
  std::vector<uint8_t> bytes = buffer(len);
  uint64_t arrival;
  if (from.node) {
    from.node->sram().read(from.offset, bytes.data(), len);
    const uint64_t asked = network_->send(into.at(), from.node->at(), 0, cycle);
    arrival = network_->send(from.node->at(), into.at(), len, asked);
  } else {
    host_->read(from.offset, bytes.data(), len);
    const size_t dip = static_cast<size_t>(from.dip);
    const Coord edge = host_->entry(dip, into.at());
    const uint64_t asked = network_->send(into.at(), edge, 0, cycle, Port::Sram, Port::HostIo);
    // The mesh carries the data as the DIP delivers it: no faster than the DIP's last byte.
    const HostMemory::Span from_dip = host_->read_timing(dip, len, asked);
    arrival = std::max(network_->send(edge, into.at(), len, from_dip.first, Port::HostIo, Port::Sram),
                       from_dip.last + network_->zero_load_latency(edge, into.at(), 0));
    if (trace_) trace_->dip_span(static_cast<unsigned>(dip), "read", len, asked, from_dip.last);
  }
  if (trace_)
    trace_->dma(into.at(), dma_count_++,
                from.node ? fmt::format("pull {} B from ({},{})", len, from.node->at().x, from.node->at().y)
                          : fmt::format("pull {} B from host 0x{:x}", len, from.offset),
                cycle, arrival);
  into.accept({arrival, delivery_seq_++, false, sem, dst, std::move(bytes)});
  return arrival;
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
    for (unsigned i = 0; i < threads_; ++i) end_cycle_ = std::max(end_cycle_, n->core().cycles(n->core().thread(i)));
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
    for (unsigned i = 0; i < threads_; ++i) {
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
