// SPDX-License-Identifier: MIT
#include "runtime/mesh/executor.h"

#include <fmt/format.h>

#include <stdexcept>

#include "hw/config/machine_params.h"
#include "isa/assembler.h"
#include "runtime/mesh/common.h"

namespace dojosim::runtime {

namespace {

hw::MachineParams params_for(const hw::HardwareConfig& config, unsigned threads,
                             uint64_t stack_bytes) {
  hw::MachineParams params = hw::machine_params(config);
  if (threads) params.threads = threads;
  if (stack_bytes) params.stack_bytes = stack_bytes;
  return params;
}

}  // namespace

Executor::Executor(const hw::HardwareConfig& config, unsigned threads, uint64_t stack_bytes)
    : config_(config),
      machine_(std::make_unique<hw::Machine>(params_for(config, threads, stack_bytes))) {}

Executor::~Executor() = default;

void Executor::keep(uint64_t from, uint64_t to) {
  kept_.emplace_back(from, to);
}

Executor::Run Executor::run(const mesh::Kernel& kernel, bool leave_in_flight) {
  if (gate_) {
    if (leave_in_flight)
      throw std::logic_error(
          fmt::format("{}: a run that leaves data in flight does not go through the groups' gate",
                      kernel.program().program.source_name));
    return gate_(kernel);
  }
  return run(std::vector<const mesh::Kernel*>{&kernel}, leave_in_flight);
}

Executor::Run Executor::run(const std::vector<const mesh::Kernel*>& kernels, bool leave_in_flight) {
  const mesh::Kernel& kernel = *kernels.front();
  const mesh::NodeProgram& p = kernel.program();
  for (const auto& [from, to] : kept_)
    for (const isa::Segment& s : p.program.segments)
      if (s.address < to && from < s.address + s.bytes.size() + s.zero_fill)
        throw std::logic_error(fmt::format(
            "{}: segment {} [0x{:x}, 0x{:x}) would overwrite resident SRAM [0x{:x}, 0x{:x})",
            p.program.source_name, s.name, s.address, s.address + s.bytes.size() + s.zero_fill,
            from, to));
  for (const mesh::Kernel* other : kernels) {
    const isa::Program& q = other->program().program;
    bool same = q.entry == p.program.entry && q.segments.size() == p.program.segments.size() &&
                other->threads() == kernel.threads() &&
                other->stack_bytes() == kernel.stack_bytes() && other->program().args == p.args;
    for (size_t i = 0; same && i < q.segments.size(); ++i)
      same = q.segments[i].address == p.program.segments[i].address &&
             q.segments[i].bytes == p.program.segments[i].bytes &&
             q.segments[i].zero_fill == p.program.segments[i].zero_fill;
    if (!same)
      throw std::logic_error(fmt::format(
          "{}: kernels run together must share one program, threads and stack; {} differs",
          p.program.source_name, q.source_name));
  }
  machine_->load(p.program, kernel.threads(), kernel.stack_bytes());
  for (const mesh::Kernel* k : kernels) k->write_args(*machine_);
  Run r;
  r.ended = machine_->run(leave_in_flight || leave_in_flight_);
  r.ok = r.ended == hw::MachineOutcome::Finished;
  r.outcome = r.ok ? "finished" : machine_->message();
  r.start = machine_->phase_start();
  r.cycles = machine_->cycles() - r.start;
  return r;
}

Executor::Run Executor::drain() {
  Run r;
  r.ok = true;
  r.outcome = "finished";
  if (!machine_->in_flight()) return r;
  static const isa::Program exit =
      isa::assemble("    li a0, 0\n    li a7, 93\n    ecall\n", "drain.s");
  machine_->load(exit, 1, 256);
  r.ended = machine_->run();
  r.ok = r.ended == hw::MachineOutcome::Finished;
  r.outcome = r.ok ? "finished" : machine_->message();
  r.start = machine_->phase_start();
  r.cycles = machine_->cycles() - r.start;
  return r;
}

void Executor::run_matmul(const mesh::PlannedMatmul& kernel, MeshMatmulResult& result) {
  result.plan = kernel.plan();
  const Run r = run(kernel);
  result.ok = r.ok;
  result.ended = r.ended;
  result.outcome = r.outcome;
  const MatmulShape shape = kernel.problem().shape;
  result.c = r.ok ? kernel.read(*machine_) : Matrix(shape.m, shape.n);
  mesh::collect_report(*machine_, config_, kernel.problem().dtype, shape, result.plan.nodes,
                       result);
}

}  // namespace dojosim::runtime
