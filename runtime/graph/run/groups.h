// SPDX-License-Identifier: MIT
// Data parallel (docs/graphs.md, "Data parallel"): G replicas of a graph in one machine run,
// each on its own group of nodes, a rectangle of the mesh. Every group runs the same ops on the
// same shapes with its own batch, so the same step of every group is one node program: the
// groups' kernels load once and run together (Executor::run(kernels)), each writing the
// arguments of its own nodes. Between the steps the host plans each group's next step.
// Tensor parallel (graph/tensor_parallel.h) runs the same way: each group runs one group's graph
// of split layers on its part of their weights, with the whole batch.
//
// The groups' runners plan on host threads that take turns (a Gang): group 0 plans up to its
// next machine step and hands over to group 1, ..., the last group to the main thread, which
// runs the step for all of them; then group 0 goes on. One runner at a time: the allocators,
// the machine's memory and the trace see the same order every run, so results do not depend
// on host scheduling. SystemC runs on the main thread only.
//
// An all-reduce between groups (the `allreduce` op: each weight's gradient) is a reduce-scatter
// and an all-gather between the nodes at the same place of every group: each node's block cut
// into G pieces, group q sums piece q (the G groups' pieces, added in group order), then sends
// the sum to the others, so that every group holds the same sum, bit for bit. The exchanges
// are joint steps (pushes, transfer.h); the sums each group's kernels.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hw/config/hardware_config.h"
#include "runtime/graph/run/placement.h"
#include "runtime/graph/run/transfer.h"
#include "runtime/mesh/executor.h"
#include "runtime/tensor.h"

namespace dojosim::runtime::graph_run {

/// The usable mesh cut into `groups` equal rectangles (a grid of gx x gy, die-aligned where the
/// dies allow, else the squarest), row by row; every rectangle must hold its disabled nodes at
/// the same places. Throws graph::GraphError naming the count and what would divide.
/// `kind` ("data parallel", "tensor parallel") starts the message.
std::vector<hw::HardwareConfig::Region> group_regions(const hw::HardwareConfig& config,
                                                      uint32_t groups,
                                                      std::string_view kind = "data parallel");
/// `config` with its runtime region set to `region`.
hw::HardwareConfig in_region(const hw::HardwareConfig& config,
                             const hw::HardwareConfig::Region& region);
/// "2x2 nodes at 0:0, 2:0, 0:2, 2:2" for reports.
std::string regions_text(const std::vector<hw::HardwareConfig::Region>& regions);

class Gang {
 public:
  /// `table` and `table_bytes`: the transfer tables' SRAM, as every runner's.
  Gang(Executor& executor, const hw::HardwareConfig& config, size_t groups, uint64_t table,
       uint64_t table_bytes);
  ~Gang();
  Gang(const Gang&) = delete;
  Gang& operator=(const Gang&) = delete;

  /// On the main thread: body(g) for every group on its own host thread, taking turns, the
  /// machine steps run here. Rethrows the first group's exception (the others stop at their
  /// next step).
  void run(const std::function<void(size_t group)>& body);

  /// On a group's thread, one step of an exchange between the groups: `to[q]` is what this
  /// group sends group q, `from[s]` where what group s sends it lands (the same rectangles
  /// as group s's `to` for it; its own entries and empty placements are skipped); `ref` its
  /// reference values. Returns the moves' cost; `all` gets every group's `ref`, in group order.
  TransferStats exchange(const std::vector<Placement>& to, const std::vector<Placement>& from,
                         const Matrix* ref, std::vector<const Matrix*>& all,
                         const std::string& what);

  /// On a group's thread: a kernel step in which this group has nothing to run (its piece of
  /// an all-reduce is empty) but the others do; returns the run they took part in.
  Executor::Run idle();

  size_t groups() const { return steps_.size(); }

 private:
  struct Step {
    enum Kind { None, Kernel, Exchange, Done, Failed } kind = None;
    const mesh::Kernel* kernel = nullptr;
    const std::vector<Placement>*to = nullptr, *from = nullptr;
    const Matrix* ref = nullptr;
    std::string what;
  };
  struct Aborted {};
  static constexpr size_t kMain = SIZE_MAX;
  // On a group's thread: the group whose turn it is, its own.
  size_t current_group();
  // On a group's thread: hands `step` on and waits for the group's next turn.
  void submit(size_t group, Step step);
  void run_step();  // main thread: the step every group submitted

  Executor& executor_;
  SramAllocator no_staging_;
  Transfers transfers_;
  std::mutex mutex_;
  std::condition_variable turn_changed_;
  size_t turn_ = 0;
  bool abort_ = false;
  std::vector<Step> steps_;
  Executor::Run run_;
  TransferStats moved_;
  std::vector<const Matrix*> refs_;
  std::exception_ptr error_;
  std::thread::id main_thread_;
};

}  // namespace dojosim::runtime::graph_run
