// SPDX-License-Identifier: MIT
// The mapping registry (names, planning, running) and the reference in each mapping's order.
// A mapping's program and placement live in its own file (summa.cpp, cannon.cpp, ksplit.cpp).
#include "runtime/mesh/mesh_matmul.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "runtime/mesh/common.h"
#include "runtime/mesh/estimate.h"

namespace dojosim::runtime {
namespace {

// One row per mapping: its name and its planner and runner.
struct MappingEntry {
  MatmulMapping mapping;
  const char* name;
  MeshMatmulPlan (*plan)(const hw::HardwareConfig&, DType, MatmulShape, const MeshMatmulOptions&);
  void (*run)(const hw::HardwareConfig&, DType, const MatmulOperands&, MatmulInit,
              const MeshMatmulOptions&, MeshMatmulResult&);
};
constexpr MappingEntry kMappings[] = {
    {MatmulMapping::Summa, "summa", mesh::plan_summa, mesh::run_summa},
    {MatmulMapping::OneD, "1d", mesh::plan_summa, mesh::run_summa},
    {MatmulMapping::OneDCols, "1d-cols", mesh::plan_summa, mesh::run_summa},
    {MatmulMapping::Cannon, "cannon", mesh::plan_cannon, mesh::run_cannon},
    {MatmulMapping::KSplit, "ksplit", mesh::plan_ksplit, mesh::run_ksplit},
    {MatmulMapping::Auto, "auto", nullptr, nullptr},
};

const MappingEntry& entry(MatmulMapping m) {
  for (const MappingEntry& e : kMappings)
    if (e.mapping == m) return e;
  throw std::logic_error("matmul mapping without a registry row");
}

// One element's fp32 accumulation, as the node kernel does it (runtime/reference.h).
float accumulate(DType dtype, float acc, float a, float b) {
  return dtype == DType::Fp32 ? std::fma(a, b, acc) : acc + a * b;  // a * b is exact for bf16, cfp8
}

// Element (i, j) accumulated from acc over K range t of the plan, with its zero padding.
float over_range(DType dtype, const Matrix& a, const Matrix& b, const MeshMatmulPlan& plan,
                 size_t t, uint32_t i, uint32_t j, float acc) {
  const uint32_t k0 = plan.k_start[t], k1 = plan.k_start[t + 1];
  for (uint32_t k = k0; k < k1; ++k) acc = accumulate(dtype, acc, a.at(i, k), b.at(k, j));
  for (uint32_t k = k1 - k0; k < plan.k_padded[t]; ++k) acc = accumulate(dtype, acc, 0.0f, 0.0f);
  return acc;
}

// Which grid block holds C's row i (or column j): the last start at or before it.
uint32_t block_of(const std::vector<uint32_t>& start, uint32_t i) {
  return static_cast<uint32_t>(std::upper_bound(start.begin(), start.end(), i) - start.begin() - 1);
}

}  // namespace

std::string_view mapping_name(MatmulMapping m) {
  return entry(m).name;
}

MatmulMapping parse_mapping(const std::string& name) {
  std::string names;
  for (const MappingEntry& e : kMappings) {
    if (name == e.name) return e.mapping;
    names += names.empty() ? e.name : std::string(", ") + e.name;
  }
  throw std::invalid_argument(fmt::format("mapping '{}': expected one of {}", name, names));
}

MeshMatmulPlan plan_matmul(const hw::HardwareConfig& config, DType dtype, MatmulShape shape,
                           const MeshMatmulOptions& options) {
  if (shape.m == 0 || shape.n == 0 || shape.k == 0)
    throw std::invalid_argument(fmt::format("matmul {}x{}x{}: every dimension must be at least 1",
                                            shape.m, shape.n, shape.k));
  MeshMatmulOptions o = options;
  if (o.mapping == MatmulMapping::Auto) o.mapping = choose_mapping(config, dtype, shape, options);
  if (o.placement == OperandPlacement::Host && o.mapping != MatmulMapping::Summa)
    throw std::invalid_argument(fmt::format("placement=host: only the summa mapping streams operands from host "
                                            "memory, not {}", mapping_name(o.mapping)));
  return entry(o.mapping).plan(config, dtype, shape, o);
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
  plan_matmul(config, dtype, shape, o);  // the planner's message, before any machine is built
  for (const MatmulEstimate& e : result.estimates)
    if (e.mapping == o.mapping) result.estimate_cycles = e.cycles;
  entry(o.mapping).run(config, dtype, ops, init, o, result);
  return result;
}

Matrix reference_mesh_matmul_exact(DType dtype, isa::Cfp8Format f, MatmulInit init,
                                   const MatmulOperands& ops, const MeshMatmulPlan& plan) {
  const MatmulShape s = operand_shape(init, ops);
  const Matrix a = quantized(ops.a, dtype, f), b = quantized(ops.b, dtype, f);
  const size_t ranges = plan.k_padded.size();
  Matrix c(s.m, s.n);
  std::vector<float> partial(ranges);
  for (uint32_t i = 0; i < s.m; ++i)
    for (uint32_t j = 0; j < s.n; ++j) {
      const float init_value = init == MatmulInit::Bias ? ops.bias[j] : 0.0f;
      float acc = init_value;
      switch (plan.mapping) {
        case MatmulMapping::Summa:
        case MatmulMapping::OneD:
        case MatmulMapping::OneDCols:  // steps in K order
          for (size_t t = 0; t < ranges; ++t) acc = over_range(dtype, a, b, plan, t, i, j, acc);
          break;
        case MatmulMapping::Cannon: {  // block (bi, bj) starts at K block bi + bj mod q
          const size_t q = ranges,
                       first = block_of(plan.row_start, i) + block_of(plan.col_start, j);
          for (size_t t = 0; t < q; ++t)
            acc = over_range(dtype, a, b, plan, (first + t) % q, i, j, acc);
          break;
        }
        case MatmulMapping::KSplit:  // partials (the first from the bias), then the tree
          for (size_t p = 0; p < ranges; ++p)
            partial[p] = over_range(dtype, a, b, plan, p, i, j, p ? 0.0f : init_value);
          for (size_t d = 1; d < ranges; d *= 2)
            for (size_t p = 0; p + d < ranges; p += 2 * d) partial[p] = partial[p] + partial[p + d];
          acc = partial[0];
          break;
        case MatmulMapping::Auto:
          throw std::invalid_argument(
              "reference_mesh_matmul_exact: the plan names no mapping (auto)");
      }
      c.at(i, j) = acc;
    }
  return c;
}

}  // namespace dojosim::runtime
