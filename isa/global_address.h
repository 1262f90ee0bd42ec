// SPDX-License-Identifier: MIT
// The global address a DMA names: the one definition of its encoding, used by the machine, the
// single-node runner, the runtime's generated programs, the assembler's `la.global`
// pseudo-instruction and (restated in C, checked by tests/isa/test_global_address.cpp)
// kernels/include/dojo.h.
//
//   bit 63      1: host memory (the DIPs' HBM); bits 62..0 are the host address
//   bits 62..48 node x (15 bits)       } 0 in bit 63: an offset in node (x, y)'s SRAM
//   bits 47..32 node y (16 bits)       }
//   bits 31..0  SRAM offset            }
#pragma once

#include <cstdint>

namespace dojosim::isa {

constexpr unsigned kGlobalOffsetBits = 32;
constexpr unsigned kGlobalYShift = kGlobalOffsetBits, kGlobalYBits = 16;
constexpr unsigned kGlobalXShift = kGlobalYShift + kGlobalYBits, kGlobalXBits = 15;
constexpr unsigned kHostBitShift = kGlobalXShift + kGlobalXBits;
static_assert(kHostBitShift == 63, "the fields fill the 63 bits below the host bit");

constexpr uint64_t kHostBit = uint64_t{1} << kHostBitShift;
constexpr uint32_t kGlobalXMask = (uint32_t{1} << kGlobalXBits) - 1;
constexpr uint32_t kGlobalYMask = (uint32_t{1} << kGlobalYBits) - 1;

constexpr uint64_t global_address(uint32_t x, uint32_t y, uint32_t offset) {
  return uint64_t(x & kGlobalXMask) << kGlobalXShift | uint64_t(y & kGlobalYMask) << kGlobalYShift |
         offset;
}
constexpr uint64_t host_address(uint64_t address) { return kHostBit | address; }

constexpr bool is_host_address(uint64_t global) { return (global & kHostBit) != 0; }
constexpr uint64_t host_offset(uint64_t global) { return global & ~kHostBit; }
constexpr uint32_t global_x(uint64_t global) {
  return uint32_t(global >> kGlobalXShift) & kGlobalXMask;
}
constexpr uint32_t global_y(uint64_t global) {
  return uint32_t(global >> kGlobalYShift) & kGlobalYMask;
}
constexpr uint32_t global_offset(uint64_t global) { return uint32_t(global); }

}  // namespace dojosim::isa
