// SPDX-License-Identifier: MIT
// Elementwise ops (elementwise.def: add, sub, mul, bias_add, relu, relu_backward) as node
// kernels (a mesh::Kernel the Executor runs) on fp32 or bf16 tensors held as a RowSplit
// (row_split.h).
//
// Every node computes its own block where it lies: out = op(a, b) register by register, b
// either a tensor of a's shape or a [cols] vector applied to every row. The node's rows are
// shared by its threads (thread t takes rows [R t / T, R (t + 1) / T)); a same-shape op treats
// the node's block as one row per register so that every thread has work. The padding of a row
// computes op(0, 0) = 0 for every op here, so `out` keeps the zero padding the layout promises.
//
// Two ways to use it:
//  - resident: ElementwiseKernel on tensors already in SRAM at given addresses (the output stays
//    there); run it with Executor::run().
//  - from the host: run_elementwise() places a and b, runs, and reads the result back.
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/mesh/executor.h"
#include "runtime/mesh/op.h"
#include "runtime/ops/row_split.h"
#include "runtime/reference.h"

namespace dojosim::runtime::ops {

enum class ElementwiseOp : uint8_t {
#define DOJOSIM_ELEMENTWISE(Op, name, instruction, operands, element) Op,
#include "runtime/ops/elementwise.def"
#undef DOJOSIM_ELEMENTWISE
};
std::string_view elementwise_name(ElementwiseOp op);
/// The op called `name` (elementwise.def); throws std::invalid_argument listing the names.
ElementwiseOp parse_elementwise(std::string_view name);
/// 1: unary; 2: a and b.
unsigned elementwise_operands(ElementwiseOp op);

/// One element as the node computes it, bit for bit: op on the dtype's values in fp32, then
/// rounded to the dtype (nearest even).
float elementwise_reference(ElementwiseOp op, DType dtype, float a, float b);
/// The whole result that way: a (rows x cols) and b (a's shape, or 1 x cols: a vector over the
/// rows), both rounded to the dtype first, as the node holds them.
Matrix elementwise_reference(ElementwiseOp op, DType dtype, const Matrix& a, const Matrix& b);
/// The same in double from the dtype's values, with the bound |node - value| <= tol |value|:
/// one fp32 rounding (tol 2^-24), or for bf16 an fp32 then a bf16 rounding (tol 2^-8 + 2^-23).
/// Valid while results stay in the normal range (docs/ops.md).
Reference64 elementwise_reference_f64(ElementwiseOp op, DType dtype, const Matrix& a,
                                      const Matrix& b);

/// What to compute: `out` = op(`a`, `b`), all at the same SRAM addresses on every node of
/// `split`. b (unless the op is unary) has a's shape, or with `b_vector` is a [cols] vector.
struct ElementwiseProblem {
  ElementwiseOp op = ElementwiseOp::Add;
  RowSplit split;
  bool b_vector = false;
  uint64_t a = 0, b = 0, out = 0;
};

class ElementwiseKernel final : public mesh::Kernel {
 public:
  /// Throws std::invalid_argument naming the op and what does not suit (a binary op without b,
  /// bias_add with a tensor b, data inside the program image or past the stacks).
  ElementwiseKernel(const hw::HardwareConfig& config, const ElementwiseProblem& problem);

  const mesh::NodeProgram& program() const override { return program_; }
  unsigned threads() const override { return threads_; }
  uint64_t stack_bytes() const override { return kStackBytes; }
  void write_args(hw::Machine& machine) const override;
  uint64_t data_begin() const override { return begin_; }
  uint64_t data_end() const override { return end_; }

  const ElementwiseProblem& problem() const { return problem_; }
  /// Cycles of the run from the config alone (docs/ops.md: the model).
  double estimate_cycles() const;

  static constexpr uint64_t kStackBytes = 256;  // the program keeps everything in registers

 private:
  ElementwiseProblem problem_;
  isa::CoreConfig core_;
  unsigned threads_ = 1;
  mesh::NodeProgram program_;
  uint64_t begin_ = 0, end_ = 0;
};

/// The host-side convenience: a (rows x cols) and b (a's shape, or 1 x cols for a vector over
/// the rows; ignored by a unary op) are placed above the program of the op (or at sram_from),
/// the op runs on `executor`'s machine, and the result comes back.
struct ElementwiseRun {
  Matrix out;
  Executor::Run run;
  double estimate = 0;
};
struct ElementwiseOptions {
  uint32_t col_parts = 0;  // column blocks per row (0: split_rows decides)
  uint64_t sram_from = 0;
};
ElementwiseRun run_elementwise(Executor& executor, ElementwiseOp op, DType dtype, const Matrix& a,
                               const Matrix& b, ElementwiseOptions options = {});

}  // namespace dojosim::runtime::ops
