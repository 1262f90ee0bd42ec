// SPDX-License-Identifier: MIT
#include "runtime/ops/program.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace dojosim::runtime::ops {

std::pair<uint64_t, uint64_t> check_regions(const hw::HardwareConfig& config,
                                            const std::string& what,
                                            const mesh::NodeProgram& program,
                                            const std::vector<Region>& regions, unsigned threads,
                                            uint64_t stack_bytes) {
  const uint64_t vlen = config.node.core.vlen_bytes;
  const uint64_t limit = config.node.core.sram_bytes - threads * stack_bytes;
  uint64_t begin = UINT64_MAX, end = 0;
  for (const Region& r : regions) {
    if (r.address % vlen)
      throw std::invalid_argument(fmt::format("{}: {} at SRAM 0x{:x}: expected a multiple of {}",
                                              what, r.name, r.address, vlen));
    if (r.address < program.end)
      throw std::invalid_argument(
          fmt::format("{}: {} at SRAM 0x{:x}: inside the program image (it ends at 0x{:x})", what,
                      r.name, r.address, program.end));
    if (r.address + r.bytes > limit)
      throw std::invalid_argument(
          fmt::format("{}: {} at SRAM 0x{:x} needs {} bytes: past 0x{:x}, where the {} stacks "
                      "of {} bytes begin",
                      what, r.name, r.address, r.bytes, limit, threads, stack_bytes));
    begin = std::min(begin, r.address);
    end = std::max(end, r.address + r.bytes);
  }
  return {begin, end};
}

void write_pull_loop(codegen::AsmWriter& w, std::string_view none) {
  w.op("ld      a0, PULLS(s1)");
  w.op("ld      t6, NPULLS(s1)");
  if (!none.empty()) w.op("beqz    t6, {}", none);
  w.op("mv      t5, t6");
  w.label("pull");
  w.op("ld      t0, 0(a0)");
  w.op("ld      t1, 8(a0)");
  w.op("ld      t2, 16(a0)");
  w.op("pull    t1, t0, t2, 1");
  w.op("addi    a0, a0, 24");
  w.op("addi    t5, t5, -1");
  w.op("bnez    t5, pull");
  w.op("swait   1, t6");
  if (!none.empty()) w.label(none);
}

LoopCosts loop_costs(const isa::TimingParams& t) {
  using T = isa::TimingClass;
  const double alu = t.of(T::Alu).latency, branch = t.of(T::Branch).latency;
  LoopCosts c;
  c.vload_latency = t.of(T::VLoad).latency;
  c.simd_latency = t.of(T::Simd).latency;
  c.reduce_latency = t.of(T::SimdReduce).latency;
  c.simd_occupancy = t.of(T::Simd).occupancy;
  c.store_occupancy = t.of(T::VStore).occupancy;
  c.loop_overhead = t.of(T::VStore).latency + alu + branch;
  const auto per_unit = [&](T cls) {
    return double(t.of(cls).occupancy) / t.unit_instances[static_cast<size_t>(t.of(cls).unit)];
  };
  c.load_per_port = per_unit(T::VLoad);
  c.branch_per_unit = per_unit(T::Branch);
  c.alu_per_unit = per_unit(T::Alu);
  c.row_overhead = t.of(T::Mul).latency + t.of(T::Load).latency + 2 * alu + branch;
  c.prologue = t.of(T::Load).latency + alu + branch;
  return c;
}

}  // namespace dojosim::runtime::ops
