// SPDX-License-Identifier: MIT
#include "isa/timing.h"

namespace dojosim::isa {

std::string_view unit_name(Unit u) {
  static constexpr std::string_view kNames[] = {"alu",    "load_port", "store_port", "muldiv",
                                                "branch", "simd",      "matrix",     "dma",
                                                "sync",   "system"};
  static_assert(std::size(kNames) == kUnitCount);
  return kNames[static_cast<size_t>(u)];
}

std::string_view stall_cause_name(StallCause c) {
  static constexpr std::string_view kNames[] = {"dependency", "sram_port", "unit_busy",
                                                "semaphore", "barrier", "dma_queue"};
  static_assert(std::size(kNames) == kStallCauseCount);
  return kNames[static_cast<size_t>(c)];
}

TimingParams TimingParams::d1_defaults() {
  TimingParams p{};
  auto set = [&](TimingClass c, Unit u, uint16_t latency, uint16_t occupancy) {
    p.classes[static_cast<size_t>(c)] = {u, latency, occupancy};
  };
  using T = TimingClass;
  set(T::Alu, Unit::Alu, 1, 1);
  set(T::Mul, Unit::MulDiv, 3, 1);
  set(T::Div, Unit::MulDiv, 20, 20);  // assumption: an unpipelined divider
  set(T::Load, Unit::LoadPort, 3, 1);
  set(T::Store, Unit::StorePort, 1, 1);
  set(T::Branch, Unit::Branch, 1, 1);
  set(T::Jump, Unit::Branch, 1, 1);
  set(T::Csr, Unit::System, 1, 1);
  set(T::System, Unit::System, 1, 1);
  set(T::VLoad, Unit::LoadPort, 4, 1);         // one 64 B load port access
  set(T::VStore, Unit::StorePort, 1, 1);       // one 64 B store port access
  set(T::VLoadStrided, Unit::LoadPort, 6, 4);  // gather at 16 B granularity: 4 port cycles
  set(T::VStoreStrided, Unit::StorePort, 1, 4);
  set(T::AccLoad, Unit::LoadPort, 6, 4);       // 256 B accumulator = 4 port cycles
  set(T::AccStore, Unit::StorePort, 1, 4);
  set(T::Simd, Unit::Simd, 4, 1);              // 16 fp32 FMA per cycle (published)
  set(T::SimdReduce, Unit::Simd, 6, 2);
  set(T::SimdMath, Unit::Simd, 8, 2);  // assumption: exp, 1/x, 1/sqrt(x) at half rate
  set(T::Convert, Unit::Simd, 3, 1);
  set(T::AccMove, Unit::Matrix, 1, 1);
  set(T::Matrix, Unit::Matrix, 4, 1);          // one 8x8x4 bf16 block per cycle (derived, 256 MAC)
  set(T::MatrixCfp8, Unit::Matrix, 4, 2);      // 8x8x8 cfp8 block in 2 cycles: same MAC rate
  set(T::Push, Unit::Dma, 1, 1);
  set(T::Sync, Unit::Sync, 1, 1);
  p.unit_instances.fill(1);
  p.unit_instances[static_cast<size_t>(Unit::Alu)] = 2;       // 2 ALUs (published)
  p.unit_instances[static_cast<size_t>(Unit::LoadPort)] = 2;  // 2 x 64 B load ports (published)
  return p;
}

}  // namespace dojosim::isa
