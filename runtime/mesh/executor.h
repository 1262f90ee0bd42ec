// SPDX-License-Identifier: MIT
// An Executor owns one machine (hw::Machine) built for a hardware config and runs kernels
// (runtime/mesh/op.h) on it one after another, the machine staying up between them: node SRAM
// and host memory keep their contents, so a kernel's result can stay resident and feed the
// next kernel without passing through the host.
//
// Per kernel, the caller places its operands (PlannedMatmul::place, on machine()), then run()
// loads the kernel's program with its threads and stack, writes its per-node arguments and
// runs it to its end; then the caller reads results back (PlannedMatmul::read) or leaves them
// where the next kernel expects them. keep() marks SRAM that holds such resident data: run()
// refuses a kernel whose program image would overwrite it.
//
// Each run starts at the cycle the previous one ended (hw::Machine::phase_start()); the
// threads' counters restart at each load, network and link counters add up over the machine's
// life. A run may leave data in flight (run(kernel, true): a prefetch's pulls): it ends with its
// last thread, and the DMAs land during the next run, which ends once they have. SystemC
// elaborates once per process: one Executor per process.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hw/config/hardware_config.h"
#include "hw/machine/machine.h"
#include "runtime/mesh/mesh_matmul.h"
#include "runtime/mesh/op.h"

namespace dojosim::runtime {

class Executor {
 public:
  /// `threads` and `stack_bytes` (0: the config's) are the machine's defaults; each kernel
  /// loads with its own. NOTE: hw statistics (hw::collect_stats) count the default threads
  /// per node, so a single-kernel run passes the kernel's.
  explicit Executor(const hw::HardwareConfig& config, unsigned threads = 0,
                    uint64_t stack_bytes = 0);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  const hw::HardwareConfig& config() const { return config_; }
  hw::Machine& machine() { return *machine_; }
  const hw::Machine& machine() const { return *machine_; }

  /// SRAM [from, to) of every node holds data a later kernel reads, until release().
  void keep(uint64_t from, uint64_t to);
  void release() { kept_.clear(); }

  /// How one run ended: ok, "finished" or the machine's trap / deadlock / limit report, and
  /// its cycles (from the machine's phase_start() to the last thread's exit).
  struct Run {
    bool ok = false;
    hw::MachineOutcome ended = hw::MachineOutcome::Finished;
    std::string outcome;
    uint64_t start = 0, cycles = 0;
  };
  /// Loads the kernel's program, writes its arguments, runs it. Throws std::logic_error if the
  /// program image overlaps kept SRAM (a kernel's data region is the planner's to place: give
  /// it MatmulProblem::sram_from above what is kept). `leave_in_flight`: the run ends when its
  /// last thread exits, its DMAs still in flight (hw::Machine::run); the next run's
  /// carried_done() is when the last of them landed. Not through a gate (std::logic_error).
  Run run(const mesh::Kernel& kernel, bool leave_in_flight = false);
  /// Kernels of one program run together, each writing its own nodes' arguments: the same step
  /// of every data-parallel group (runtime/graph/run/groups.h). Throws std::logic_error if
  /// their programs, threads or stacks differ.
  Run run(const std::vector<const mesh::Kernel*>& kernels, bool leave_in_flight = false);
  /// While set, every run leaves data in flight (run(kernel, true)): a prefetch's pulls go on
  /// beside the runs that follow until one runs without it (or drain()), which waits for them.
  void set_leave_in_flight(bool leave) { leave_in_flight_ = leave; }
  /// A run of no work that ends once everything in flight has landed (nothing when nothing is).
  Run drain();
  /// After the runs that left data in flight and the run that waited for it: the cycle their last
  /// DMA landed, and where that run's last thread exited (hw::Machine::carried_end()).
  uint64_t carried_done() const { return machine_->carried_dma_done(); }
  uint64_t carried_end() const { return machine_->carried_end(); }

  /// While set, run(kernel) hands the kernel to `gate` instead, which returns the run the kernel
  /// took part in (the data-parallel groups taking turns); run(kernels) never does.
  using Gate = std::function<Run(const mesh::Kernel&)>;
  void set_gate(Gate gate) { gate_ = std::move(gate); }

  /// Runs a placed matmul and fills `result` as run_matmul() does: ok, outcome, C read back
  /// when it finished, cycles and the report. Sets result.plan.
  void run_matmul(const mesh::PlannedMatmul& kernel, MeshMatmulResult& result);

 private:
  hw::HardwareConfig config_;
  std::unique_ptr<hw::Machine> machine_;
  std::vector<std::pair<uint64_t, uint64_t>> kept_;
  Gate gate_;
  bool leave_in_flight_ = false;
};

}  // namespace dojosim::runtime
