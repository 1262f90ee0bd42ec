// SPDX-License-Identifier: MIT
// A conversion between float dtypes as a node kernel: y = round(factor x), x and y held as
// RowSplits (row_split.h) of the same partition (the same rows and column blocks on the same
// nodes), each in its own dtype (fp32 or bf16). The training step makes a bf16 working copy of
// an fp32 master weight with it (stochastic rounding) and widens a bf16 gradient, unscaled by
// the loss scale, for the update (docs/graphs.md, "Training").
//
// Each node walks its rows; a row is a run of fp32 pieces of 16 lanes (a bf16 register holds
// two): each piece is loaded (widened exactly from bf16: vcvt.fp32.bf16), multiplied by the
// fp32 factor (vmul, skipped when the factor is 1), then stored (fp32) or narrowed into its part
// of a bf16 register (vcvt.bf16.fp32, or its .sr form). A bf16 row of an odd number of fp32
// pieces gets a zero piece for the last part. Thread t of T (the node's threads, up to 8) takes
// rows t, t + T, ... and draws from a stream of its own: it writes `srseed` first with
// cast_seed(seed, node, t), and every narrowing draws one number per lane, padding lanes
// included, in lane order.
#pragma once

#include <cstdint>
#include <vector>

#include "isa/formats.h"
#include "runtime/mesh/executor.h"
#include "runtime/mesh/op.h"
#include "runtime/ops/row_split.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

/// What to compute: `y` = round(factor `x`). `in` and `out` differ only in dtype.
struct CastProblem {
  RowSplit in, out;
  float factor = 1;
  /// Or the factor is an fp32 scalar at this address of every node (dynamic loss scaling's
  /// scale, a tensor of the step): the program reads it there (0: `factor`). The references
  /// take `factor` as its value.
  uint64_t factor_at = 0;
  isa::Rounding rounding = isa::Rounding::NearestEven;  // of a narrowing
  uint64_t seed = 0;  // of the stochastic rounding: the run's (sim.seed) mixed with the op's
  uint64_t x = 0, y = 0;
};

/// The srseed thread `thread` of node `node` starts a cast with: a splitmix64 mix of `seed`, the
/// node and the thread, so that every thread draws its own sequence and every op (a seed of
/// its own) another.
uint64_t cast_seed(uint64_t seed, hw::Coord node, unsigned thread);
/// The threads a cast runs on every node.
unsigned cast_threads(const hw::HardwareConfig& config);

/// The same partition as `s` in another dtype (the column blocks stay as they are: a cast pairs
/// fp32 and bf16 splits cut at whole bf16 registers, which are whole fp32 registers too).
RowSplit with_dtype(const RowSplit& s, DType dtype);

class CastKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming what does not suit (a dtype other than fp32 or bf16,
  /// splits of different partitions, regions inside the program image or past the stacks).
  CastKernel(const hw::HardwareConfig& config, const CastProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return threads_; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  static constexpr uint64_t kStackBytes = 256;

 private:
  CastProblem problem_;
  unsigned threads_ = 1;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// The result bit for bit as the nodes compute it on `threads` threads each (cast_threads),
/// stochastic draws included (x: values of the input dtype).
Matrix cast_reference(const CastProblem& p, const Matrix& x, unsigned threads);
/// factor x in double, with the bound on |node - value| per element (docs/ops.md).
Reference64 cast_reference_f64(const CastProblem& p, const Matrix& x);

/// From the host: splits x (values of `from`) as a cast into `to` does (split_rows of the
/// narrower dtype), places it above the program, runs on `executor`'s machine and reads y back.
/// `problem` gives the factor, the rounding and the seed; its splits and addresses are set.
struct CastRun {
  Matrix out;
  Executor::Run run;
  CastProblem problem;
};
CastRun run_cast(Executor& executor, DType from, DType to, const Matrix& x, CastProblem problem);

}  // namespace dojosim::runtime::ops
