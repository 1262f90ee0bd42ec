// SPDX-License-Identifier: MIT
#include "hw/machine/machine.h"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "hw/machine/host_profile.h"
#include "hw/machine/ranks.h"
#include "hw/machine/scheduler.h"
#include "hw/node/node.h"
#include "hw/trace/trace.h"
#include "isa/node_runner.h"

namespace dojosim::hw {

std::string_view outcome_name(MachineOutcome outcome) {
  switch (outcome) {
    case MachineOutcome::Finished: return "finished";
    case MachineOutcome::Trapped: return "trapped";
    case MachineOutcome::Deadlock: return "deadlock";
    case MachineOutcome::CycleLimit: return "cycle limit";
    case MachineOutcome::TimeLimit: return "time limit";
    case MachineOutcome::NeedsValues:
      return "needs values";
  }
  return "?";
}

Machine::Machine(const MachineParams& params, std::ostream* out)
    : params_(params), run_end_(std::make_unique<RunEnd>()) {
  if (params.quantum == 0)  // a node would synchronise without advancing time, forever
    throw std::invalid_argument("sim.quantum_cycles = 0: must be at least 1");
  if (params.dma_queue_depth == 0)  // no DMA could ever start
    throw std::invalid_argument("node.dma.queue_depth = 0: must be at least 1");
  fabric_ = std::make_unique<Fabric>("fabric", params_, out);
  fabric_->port().max_seconds = params.max_seconds;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (params.host_threads > 4 * cores)  // more only costs: each round wakes every thread
    throw std::invalid_argument(
        fmt::format("sim.host_threads = {}: at most {} (4 x this host's {} cores); 0: all cores",
                    params.host_threads, 4 * cores, cores));
  const unsigned host_threads = params.host_threads ? params.host_threads : cores;
  scheduler_ = std::make_unique<NodeScheduler>("scheduler", 1000.0 / params.core.clock_ghz,
                                               host_threads, fabric_->port());
  fabric_->port().waker = scheduler_.get();
  const size_t cells = static_cast<size_t>(params.width) * params.height;
  grid_.assign(cells, nullptr);
  std::vector<bool> disabled(cells, false);
  for (Coord c : params.disabled) disabled[static_cast<size_t>(c.y) * params.width + c.x] = true;
  const NodeParams node_params{params.quantum, params.quantum_aligned,
                               params.max_cycles ? params.max_cycles : UINT64_MAX,
                               params.dma_queue_depth};
  for (size_t k = 0; k < cells; ++k) {
    const size_t i = params.reverse_node_order ? cells - 1 - k : k;
    if (disabled[i]) continue;
    const int x = static_cast<int>(i % params.width), y = static_cast<int>(i / params.width);
    isa::CoreConfig core = params.core;
    core.node_x = static_cast<uint32_t>(x), core.node_y = static_cast<uint32_t>(y);
    core.mesh_w = static_cast<uint32_t>(params.width),
    core.mesh_h = static_cast<uint32_t>(params.height);
    grid_[i] = new NodeModule(fmt::format("node_{}_{}", x, y).c_str(), Coord{x, y},
                              static_cast<uint32_t>(i), core, node_params, fabric_->port(),
                              run_end_.get());
  }
  for (NodeModule* n : grid_)
    if (n) nodes_.emplace_back(n);
  fabric_->attach(grid_);
  scheduler_->attach(grid_);
  split_over_ranks();
  // The machine stops itself when every node is done; SystemC need not announce it.
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO,
                                          sc_core::SC_DO_NOTHING);
}

Machine::~Machine() = default;

void Machine::set_trace(TraceWriter* trace) {
  trace_ = trace;
  fabric_->set_trace(trace);
  for (auto& n : nodes_) n->set_trace(trace);
}

NodeModule* Machine::node(Coord c) const {
  if (c.x < 0 || c.y < 0 || c.x >= params_.width || c.y >= params_.height) return nullptr;
  return grid_[static_cast<size_t>(c.y) * params_.width + c.x];
}

void Machine::load(const isa::Program& program, unsigned threads, uint64_t stack_bytes) {
  if (dead_)
    throw std::logic_error(fmt::format("machine: cannot load {}: the previous run ended with {}",
                                       program.source_name, outcome_name(outcome_)));
  if (threads == 0) threads = params_.threads;
  if (stack_bytes == 0) stack_bytes = params_.stack_bytes;
  const uint64_t stacks = threads * stack_bytes;
  for (auto& n : nodes_)
    for (const isa::Segment& s : program.segments) {
      const uint64_t size = s.bytes.size() + s.zero_fill;
      if (!n->sram().contains(s.address, size) || s.address + size > n->sram().size() - stacks)
        throw isa::LoadError(fmt::format(
            "{}: segment {} [0x{:x}, 0x{:x}) does not fit below the "
            "stacks of {} threads in a node's SRAM of 0x{:x} bytes",
            program.source_name, s.name, s.address, s.address + size, threads, n->sram().size()));
    }
  // After the last thread, data in flight may have landed later: the next run starts then
  // (after a run that left it in flight, the next starts with the last thread's exit).
  const double period_ps = 1000.0 / params_.core.clock_ghz;
  phase_start_ = std::max(
      end_cycle_, static_cast<uint64_t>(sc_core::sc_time_stamp().to_double() / period_ps + 0.5));
  carrying_ = std::exchange(in_flight_, false);
  for (auto& n : nodes_) {
    for (const isa::Segment& s : program.segments)
      n->sram().write(s.address, s.bytes.data(), s.bytes.size());
    n->start(program.entry, threads, stack_bytes, phase_start_, carrying_);
  }
  // MPI ranks: what the host wrote is every rank's already; a run's own writes are shared after it.
  if (ranks().size() > 1)
    for (auto& n : nodes_)
      if (n->mine()) n->sram().clear_written();
  run_end_->live = threads ? nodes_.size() : 0;
  threads_ = threads;
  loaded_ = true;
  fabric_->start_phase(static_cast<unsigned>(nodes_.size()) * threads);
}

// Rank r runs the r-th contiguous part of the usable nodes in index order (rows of the mesh):
// its neighbours are mostly its own.
void Machine::split_over_ranks() {
  const Ranks& world = ranks();
  if (world.size() == 1) return;
  if (nodes_.size() < size_t(world.size()))
    throw std::invalid_argument(
        fmt::format("{} MPI ranks for a machine of {} node{}: at most one "
                    "rank per node",
                    world.size(), nodes_.size(), nodes_.size() == 1 ? "" : "s"));
  size_t k = 0;
  int rank = 0;
  for (NodeModule* n : grid_) {
    if (!n) continue;
    while (k >= world.first_of(nodes_.size(), rank + 1)) ++rank;
    n->set_rank(rank, rank == world.rank());
    ++k;
  }
  fabric_->set_ranks(&world);
  scheduler_->set_ranks(&world);
}

// After a run over MPI ranks: every rank learns the state of the others' nodes that results,
// statistics and the deadlock report read.
void Machine::share_node_states() {
  const Ranks& world = ranks();
  if (world.size() == 1) return;
  WireWriter mine;
  for (NodeModule* n : grid_)
    if (n && n->mine()) n->save_state(mine);
  const Ranks::Gathered all = world.all_gather(mine.bytes());
  std::vector<WireReader> in;
  for (int r = 0; r < world.size(); ++r) in.push_back(all.reader(r));
  for (NodeModule* n : grid_)
    if (n && !n->mine()) n->load_state(in[size_t(n->rank())]);
}

// After a run over MPI ranks: the SRAM pages each rank's nodes wrote go to their replicas, so that
// the host (which runs alike on every rank) reads results and checks them wherever it runs. In
// batches of at most 64 MiB of pages per rank, below MPI's 2 GiB counts.
void Machine::share_written_pages() {
  const Ranks& world = ranks();
  if (world.size() == 1) return;
  std::vector<std::pair<NodeModule*, uint64_t>> written;
  for (NodeModule* n : grid_)
    if (n && n->mine())
      n->sram().for_each_written([&](uint64_t page) { written.emplace_back(n, page); });
  constexpr size_t kBatch = 16384;
  std::vector<uint8_t> bytes(isa::Sram::kPageSize);
  for (size_t next = 0;;) {
    WireWriter mine;
    const size_t end = std::min(written.size(), next + kBatch);
    mine.put(end < written.size());
    for (; next < end; ++next) {
      const auto& [n, page] = written[next];
      n->sram().read(page << isa::Sram::kPageBits, bytes.data(), bytes.size());
      mine.put(n->index());
      mine.put(page);
      mine.put_bytes(bytes);
    }
    const Ranks::Gathered all = world.all_gather(mine.bytes());
    bool more = false;
    for (int r = 0; r < world.size(); ++r) {
      WireReader in = all.reader(r);
      more |= in.get<bool>();
      if (r == world.rank()) continue;
      while (!in.done()) {
        NodeModule* n = grid_.at(in.get<uint32_t>());
        const auto page = in.get<uint64_t>();
        in.get_bytes(bytes);
        n->sram().write(page << isa::Sram::kPageBits, bytes.data(), bytes.size());
      }
    }
    if (!more) break;
  }
}

std::string Machine::deadlock_report() const {
  std::string report = "deadlock: every live thread is waiting and nothing is in flight";
  for (const auto& n : nodes_) report += n->waiting_report();
  return report;
}

MachineOutcome Machine::run(bool leave_in_flight) {
  if (!loaded_) throw std::logic_error("machine: run() without a program loaded");
  loaded_ = false;
  FabricPort& port = fabric_->port();
  port.started = host_seconds();
  HostProfile& profile = host_profile();
  const double started = profile.on ? host_seconds() : 0;
  run_end_->pause = leave_in_flight;
  sc_core::sc_start();
  run_end_->pause = false;
  // Paused with the last thread (else the events ran dry: nothing is left in flight).
  const bool paused = leave_in_flight && run_end_->live == 0 && sc_core::sc_pending_activity();
  if (!paused) fabric_->finish_phase();
  share_node_states();
  share_written_pages();
  if (profile.on) {
    profile.run_s += host_seconds() - started;
    ++profile.runs;
    profile.threads = scheduler_->host_threads();
    profile.shared_min = scheduler_->min_shared_batch();
    profile.nodes = nodes_.size();
    profile.aligned = params_.quantum_aligned;
  }

  // The run ends with its last thread (or the last node to see its threads done).
  uint64_t end = phase_start_;
  for (const auto& n : nodes_) {
    end = std::max(end, n->finished_at());
    for (unsigned i = 0; i < threads_; ++i)
      end = std::max(end, n->core().cycles(n->core().thread(i)));
  }
  end_cycle_ = end;
  bool all_finished = true;
  for (const auto& n : nodes_) all_finished &= n->finished();
  if (port.out_of_time) {
    outcome_ = MachineOutcome::TimeLimit;
    message_ = fmt::format("time limit of {} s (sim.max_seconds) reached at cycle {}",
                           params_.max_seconds, end);
  } else if (fabric_->stopped()) {
    outcome_ = fabric_->outcome();
    message_ = fabric_->message();
    if (outcome_ == MachineOutcome::CycleLimit) end_cycle_ = params_.max_cycles;
  } else if (!all_finished) {
    outcome_ = MachineOutcome::Deadlock;
    message_ = deadlock_report();
  } else {
    outcome_ = MachineOutcome::Finished;
    message_.clear();
  }
  dead_ = outcome_ != MachineOutcome::Finished;
  in_flight_ = paused && !dead_;
  if (leave_in_flight && !carrying_) carried_done_ = carried_end_ = 0;  // a new run of runs
  if (carrying_)
    for (const auto& n : nodes_) carried_done_ = std::max(carried_done_, n->carried_dma_done());
  // The first run after which nothing is in flight: it waited for what was, or all had landed.
  if ((carrying_ || leave_in_flight) && !in_flight_ && carried_end_ == 0) carried_end_ = end_cycle_;
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
