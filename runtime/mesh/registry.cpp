// SPDX-License-Identifier: MIT
// The mapping registry, from mappings.def, and what every mapping shares at run time: operand
// shards written and read, the placement of a planned matmul, the reference's K ranges.
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "hw/node/node.h"
#include "runtime/mesh/op.h"

namespace dojosim::runtime::mesh {

#define DOJOSIM_MAPPING(name, function) const Mapping& function();
#include "runtime/mesh/mappings.def"
#undef DOJOSIM_MAPPING

const std::vector<MappingEntry>& mapping_registry() {
  static const std::vector<MappingEntry> registry = {
#define DOJOSIM_MAPPING(name, function) {name, function()},
#include "runtime/mesh/mappings.def"
#undef DOJOSIM_MAPPING
  };
  return registry;
}

const Mapping& find_mapping(std::string_view name) {
  std::string names;
  for (const MappingEntry& e : mapping_registry()) {
    if (e.name == name) return e.mapping;
    names += names.empty() ? std::string(e.name) : fmt::format(", {}", e.name);
  }
  throw std::invalid_argument(fmt::format("mapping '{}': expected one of {}, auto", name, names));
}

void write_shard(hw::Machine& machine, const Shard& s, const Matrix& whole, isa::Cfp8Format f) {
  const std::vector<uint8_t> bytes = pack(whole.block(s.r0, s.r1, s.c0, s.c1), s.layout, f);
  if (s.in_host)
    machine.host().write(s.address, bytes.data(), bytes.size());
  else
    machine.node(s.node)->sram().write(s.address, bytes.data(), bytes.size());
}

Matrix read_shards(const hw::Machine& machine, const std::vector<Shard>& shards, uint32_t rows,
                   uint32_t cols) {
  Matrix c(rows, cols);
  std::vector<uint8_t> bytes;
  for (const Shard& s : shards) {
    bytes.resize(s.layout.bytes());
    machine.node(s.node)->sram().read(s.address, bytes.data(), bytes.size());
    const Matrix block = unpack(bytes.data(), s.layout, s.r1 - s.r0, s.c1 - s.c0);
    for (uint32_t r = 0; r < block.rows; ++r)
      for (uint32_t k = 0; k < block.cols; ++k) c.at(s.r0 + r, s.c0 + k) = block.at(r, k);
  }
  return c;
}

void PlannedMatmul::place(hw::Machine& machine, const MatmulOperands& ops,
                          Resident resident) const {
  const isa::Cfp8Format f = problem_.options.cfp8;
  if (!resident.a)
    for (const Shard& s : shards(Operand::A)) write_shard(machine, s, ops.a, f);
  if (!resident.b)
    for (const Shard& s : shards(Operand::B)) write_shard(machine, s, ops.b, f);
  if (problem_.init == MatmulInit::Bias) place_bias(machine, ops.bias);
}

Matrix PlannedMatmul::read(const hw::Machine& machine) const {
  return read_shards(machine, shards(Operand::C), problem_.shape.m, problem_.shape.n);
}

float ReferenceInputs::over_range(size_t t, uint32_t i, uint32_t j, float acc) const {
  // One element's fp32 accumulation, as the node kernel does it: a * b is exact for bf16, cfp8.
  const auto term = [&](float x, float y) {
    return dtype == DType::Fp32 ? std::fma(x, y, acc) : acc + x * y;
  };
  const uint32_t k0 = plan.k_start[t], k1 = plan.k_start[t + 1];
  for (uint32_t k = k0; k < k1; ++k) acc = term(a.at(i, k), b.at(k, j));
  for (uint32_t k = k1 - k0; k < plan.k_padded[t]; ++k) acc = term(0.0f, 0.0f);
  return acc;
}

}  // namespace dojosim::runtime::mesh
