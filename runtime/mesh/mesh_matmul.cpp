// SPDX-License-Identifier: MIT
// The public matmul API over the mapping registry (op.h, mappings.def) and the executor.
#include "runtime/mesh/mesh_matmul.h"

#include <fmt/format.h>

#include <stdexcept>

#include "runtime/mesh/estimate.h"
#include "runtime/mesh/executor.h"
#include "runtime/mesh/op.h"

namespace dojosim::runtime {

std::vector<MatmulMapping> matmul_mappings() {
  std::vector<MatmulMapping> all;
  for (const mesh::MappingEntry& e : mesh::mapping_registry())
    all.emplace_back(std::string(e.name));
  return all;
}

std::string_view mapping_name(const MatmulMapping& m) {
  return m.name();
}

MatmulMapping parse_mapping(const std::string& name) {
  if (name == MatmulMapping::Auto.name()) return MatmulMapping::Auto;
  mesh::find_mapping(name);  // throws, listing the names
  return MatmulMapping(name);
}

namespace {

void check_shape(MatmulShape shape) {
  if (shape.m == 0 || shape.n == 0 || shape.k == 0)
    throw std::invalid_argument(fmt::format("matmul {}x{}x{}: every dimension must be at least 1",
                                            shape.m, shape.n, shape.k));
}

}  // namespace

MeshMatmulPlan plan_matmul(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                           const MeshMatmulOptions& options) {
  check_shape(shape);
  MeshMatmulOptions o = options;
  if (o.mapping == MatmulMapping::Auto) o.mapping = choose_mapping(config, dtype, shape, options);
  return mesh::find_mapping(o.mapping.name())
      .plan(config, {dtype, shape, MatmulInit::Zero, o})
      ->plan();
}

MeshMatmulResult run_matmul(const hw::HardwareConfig& config, DType dtype,
                            const MatmulOperands& ops, MatmulInit init,
                            const MeshMatmulOptions& options) {
  if (init == MatmulInit::Accumulate)
    throw std::invalid_argument(
        "matmul on the mesh: init must be zero or bias (accumulate is for node blocks)");
  const MatmulShape shape = operand_shape(init, ops);
  MeshMatmulResult result;
  result.estimates = estimate_all(config, dtype, shape, options);
  MeshMatmulOptions o = options;
  if (o.mapping == MatmulMapping::Auto) o.mapping = choose_mapping(config, dtype, shape, options);
  check_shape(shape);
  // The planner's message, before any machine is built.
  const std::unique_ptr<mesh::PlannedMatmul> kernel =
      mesh::find_mapping(o.mapping.name()).plan(config, {dtype, shape, init, o});
  for (const MatmulEstimate& e : result.estimates)
    if (e.mapping == o.mapping) result.estimate_cycles = e.cycles;
  Executor executor(config, kernel->threads(), kernel->stack_bytes());
  if (options.progress) executor.machine().set_progress(options.progress);
  kernel->place(executor.machine(), ops);
  executor.run_matmul(*kernel, result);
  return result;
}

Matrix reference_mesh_matmul_exact(DType dtype, isa::Cfp8Format f, MatmulInit init,
                                   const MatmulOperands& ops, const MeshMatmulPlan& plan) {
  if (plan.mapping == MatmulMapping::Auto)
    throw std::invalid_argument("reference_mesh_matmul_exact: the plan names no mapping (auto)");
  const mesh::Mapping& mapping = mesh::find_mapping(plan.mapping.name());
  const MatmulShape s = operand_shape(init, ops);
  const Matrix a = quantized(ops.a, dtype, f), b = quantized(ops.b, dtype, f);
  const mesh::ReferenceInputs in{dtype, a, b, plan};
  Matrix c(s.m, s.n);
  for (uint32_t i = 0; i < s.m; ++i)
    for (uint32_t j = 0; j < s.n; ++j)
      c.at(i, j) = mapping.reference(in, i, j, init == MatmulInit::Bias ? ops.bias[j] : 0.0f);
  return c;
}

}  // namespace dojosim::runtime
