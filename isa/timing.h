// SPDX-License-Identifier: MIT
// The per-instruction timing model of one core: every instruction has a timing class
// (from the instruction table), and each class a functional unit, a latency and an occupancy.
// A scoreboard delays an instruction until its source registers are ready; a unit accepts a
// new instruction every `occupancy` cycles per instance; a thread issues at most
// `issue_width` instructions per cycle, in order.
// NOTE: the defaults below are the one place these numbers live; the hardware config (hw/)
// overrides them. Published D1 facts are marked; the rest are our assumptions (docs/isa.md).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "isa/instructions.h"

namespace dojosim::isa {

enum class Unit : uint8_t {
  Alu,
  LoadPort,
  StorePort,
  MulDiv,
  Branch,
  Simd,
  Matrix,
  Dma,
  Sync,
  System,
  kCount
};
std::string_view unit_name(Unit u);
constexpr int kUnitCount = static_cast<int>(Unit::kCount);
constexpr int kMaxUnitInstances = 4;

struct ClassTiming {
  Unit unit;
  uint16_t latency;    // cycles from issue until the result can be used
  uint16_t occupancy;  // cycles the unit instance is busy
};
inline bool operator==(const ClassTiming& a, const ClassTiming& b) {
  return a.unit == b.unit && a.latency == b.latency && a.occupancy == b.occupancy;
}

// Why a thread did not issue in a cycle. Every cycle of a thread lands in exactly one bucket.
enum class StallCause : uint8_t {
  Dependency,
  SramPort,
  UnitBusy,
  Semaphore,
  Barrier,
  DmaQueue,
  kCount
};
constexpr int kStallCauseCount = static_cast<int>(StallCause::kCount);
std::string_view stall_cause_name(StallCause c);

struct TimingParams {
  std::array<ClassTiming, static_cast<size_t>(TimingClass::kCount)> classes;
  std::array<uint8_t, kUnitCount> unit_instances;
  uint8_t issue_width = 4;            // scalar scheduler 4-wide (published)
  uint8_t taken_branch_penalty = 0;   // assumption: a BTB hit redirects without a bubble

  static TimingParams d1_defaults();
  const ClassTiming& of(TimingClass c) const { return classes[static_cast<size_t>(c)]; }
};
inline bool operator==(const TimingParams& a, const TimingParams& b) {
  return a.classes == b.classes && a.unit_instances == b.unit_instances &&
         a.issue_width == b.issue_width && a.taken_branch_penalty == b.taken_branch_penalty;
}

}  // namespace dojosim::isa
