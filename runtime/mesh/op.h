// SPDX-License-Identifier: MIT
// The op interface of runtime/mesh: what an Executor (executor.h) runs, and what a matmul
// mapping implements. Users of whole matmuls and convolutions want mesh_matmul.h and conv2d.h;
// this is for running ops back to back on one machine and for writing a mapping.
//
// A Mapping (one file in runtime/mesh/mappings/, one line in runtime/mesh/mappings.def) is
// stateless: plan() turns a problem (dtype, shape, init, options) into a PlannedMatmul, or
// throws std::invalid_argument naming what does not fit; estimate() models a plan's steps from
// the config alone; reference() gives an element of C bit for bit in the mapping's accumulation
// order. A PlannedMatmul is a Kernel (a generated SPMD program, its threads and per-node
// arguments) plus where its operands live (shards), their placement and C's read-back.
//
// An Executor (executor.h) runs kernels on the machine it owns, in this order per kernel:
//   kernel.place(machine, operands)   operands into node SRAM / host memory (any time before)
//   machine.load(program, threads, stack); kernel.write_args(machine)
//   machine.run()
//   kernel.read(machine)              or leave C resident for the next kernel
// A kernel's data (buffers, operands, C) lies in SRAM from data_begin() to data_end() on every
// node it uses, above its program image (program().end) and below the stacks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hw/config/hardware_config.h"
#include "hw/machine/machine.h"
#include "runtime/mesh/common.h"
#include "runtime/mesh/mesh_matmul.h"

namespace dojosim::runtime::mesh {

enum class Operand : uint8_t { A, B, C };

/// One node's part of a matrix during an op: rows [r0, r1) x columns [c0, c1) of the whole,
/// packed in `layout` (padding zero) at `address` of `node`'s SRAM, or of host memory when
/// in_host (node then names the node that uses it).
struct Shard {
  hw::Coord node;
  uint64_t address = 0;
  TiledLayout layout;
  uint32_t r0 = 0, r1 = 0, c0 = 0, c1 = 0;
  bool in_host = false;
};
/// Packs the shard's part of `whole` and writes it where the shard says.
void write_shard(hw::Machine& machine, const Shard& s, const Matrix& whole, isa::Cfp8Format f);
/// Every shard's part of a rows x cols matrix, read back (fp32 shards, as C is).
Matrix read_shards(const hw::Machine& machine, const std::vector<Shard>& shards, uint32_t rows,
                   uint32_t cols);

/// What an Executor runs: one SPMD program, its threads and stack, and its per-node arguments.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual const NodeProgram& program() const = 0;
  virtual unsigned threads() const = 0;
  virtual uint64_t stack_bytes() const = 0;
  /// After Machine::load(program()): every node's argument block.
  virtual void write_args(hw::Machine& machine) const = 0;
  /// The SRAM every node's data uses: [data_begin(), data_end()).
  virtual uint64_t data_begin() const = 0;
  virtual uint64_t data_end() const = 0;
};

/// What to multiply: C (M x N, fp32) = A B [+ bias].
struct MatmulProblem {
  DType dtype = DType::Bf16;
  MatmulShape shape;
  MatmulInit init = MatmulInit::Zero;
  MeshMatmulOptions options;  // options.mapping is the planning mapping's own name
  /// The kernel's data starts at this SRAM address or above (0: right after its program), so
  /// that it leaves alone what earlier kernels keep resident below.
  uint64_t sram_from = 0;
};

/// Which operands a placement leaves alone because an earlier kernel put them in place.
struct Resident {
  bool a = false, b = false;
};

/// A mapping planned for one problem.
class PlannedMatmul : public Kernel {
 public:
  const MeshMatmulPlan& plan() const { return plan_; }
  const MatmulProblem& problem() const { return problem_; }
  /// Where A and B must be before the run, and where C is after it.
  virtual std::vector<Shard> shards(Operand which) const = 0;
  /// Writes A and B (unless resident) and the bias into their shards.
  void place(hw::Machine& machine, const MatmulOperands& ops, Resident resident = {}) const;
  /// C (M x N) from its shards.
  Matrix read(const hw::Machine& machine) const;

 protected:
  PlannedMatmul(const MatmulProblem& problem) : problem_(problem) {}
  /// The bias row (init Bias) into every node's bias buffer, as the program expects it.
  virtual void place_bias(hw::Machine& machine, const std::vector<float>& bias) const = 0;
  MatmulProblem problem_;
  MeshMatmulPlan plan_;
};

/// What a mapping's reference reads: the operands rounded to the dtype, and the plan.
struct ReferenceInputs {
  DType dtype;
  const Matrix& a;
  const Matrix& b;
  const MeshMatmulPlan& plan;
  /// Element (i, j) accumulated from `acc` over the plan's K range t with its zero padding, one
  /// fp32 rounding per term as the node kernel does (runtime/reference.h).
  float over_range(size_t t, uint32_t i, uint32_t j, float acc) const;
};

/// What a mapping's estimate needs from the config and the plan (docs/runtime.md: the model).
struct EstimateModel {
  const hw::HardwareConfig& config;
  DType dtype;
  isa::CoreConfig core;
  double link = 0, hop = 0, elem = 0;  // link bytes per cycle, router latency, element bytes
  double block_m = 0, block_n = 0;     // the busiest node's C block padded to the kernel's tiles
  /// One kernel call on m x n x k: its fixed cost plus the multiply-adds at the node's peak.
  double multiply(double m, double n, double k) const;
  /// A chunk of `bytes` forwarded around a ring of `ring` nodes in `pieces` pieces, store and
  /// forward per piece, `hop` cycles per ring hop: the last node has it after this many cycles.
  double ring_cycles(double bytes, uint32_t ring, uint32_t pieces, double hop_cycles) const;
};
/// A mapping's run as steps: the data of step 0 arrives before it starts (move[0]); later
/// steps' data moves while the previous step multiplies unless !overlapped, when it follows.
struct EstimateSteps {
  std::vector<double> compute, move;
  double link_bytes = 0;  // bytes through the busiest link over the run
  bool overlapped = true;
};

/// A matmul mapping. One file each in runtime/mesh/mappings/, registered by one line in
/// runtime/mesh/mappings.def; construct with __FILE__ so the registry test finds the file.
class Mapping {
 public:
  explicit Mapping(const char* file) : file_(file) {}
  virtual ~Mapping() = default;
  /// Plans `problem`; throws std::invalid_argument naming what does not fit.
  virtual std::unique_ptr<PlannedMatmul> plan(const hw::HardwareConfig& config,
                                              const MatmulProblem& problem) const = 0;
  virtual EstimateSteps estimate(const EstimateModel& model, const MeshMatmulPlan& plan) const = 0;
  /// Element (i, j) of C as `in.plan` computes it from `init` (0 or the bias), bit for bit.
  virtual float reference(const ReferenceInputs& in, uint32_t i, uint32_t j, float init) const = 0;
  const char* file() const { return file_; }

 private:
  const char* file_;
};

/// A registered mapping and its name.
struct MappingEntry {
  std::string_view name;
  const Mapping& mapping;
};
/// The registry (mappings.def), in the order reports list the mappings.
const std::vector<MappingEntry>& mapping_registry();
/// The registered mapping `name`; throws std::invalid_argument listing the names.
const Mapping& find_mapping(std::string_view name);

}  // namespace dojosim::runtime::mesh
