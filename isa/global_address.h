// SPDX-License-Identifier: MIT
// The global address a DMA names: the one definition of its encoding, used by the machine, the
// single-node runner, the runtime's generated programs, the assembler's `la.global`
// pseudo-instruction and (restated in C, checked by a test) kernels/include/dojo.h.
//
//   bit 63      1: host memory (the DIPs' HBM); bits 62..0 are the host address
//   bits 62..48 node x (15 bits)       } 0 in bit 63: an offset in node (x, y)'s SRAM
//   bits 47..32 node y (16 bits)       }
//   bits 31..0  SRAM offset            }
#pragma once

#include <cstdint>

namespace dojosim::isa {

constexpr uint64_t kHostBit = uint64_t{1} << 63;
constexpr uint32_t kGlobalXMask = 0x7FFF, kGlobalYMask = 0xFFFF;

constexpr uint64_t global_address(uint32_t x, uint32_t y, uint32_t offset) {
  return uint64_t(x & kGlobalXMask) << 48 | uint64_t(y & kGlobalYMask) << 32 | offset;
}
constexpr uint64_t host_address(uint64_t address) { return kHostBit | address; }

constexpr bool is_host_address(uint64_t global) { return (global & kHostBit) != 0; }
constexpr uint64_t host_offset(uint64_t global) { return global & ~kHostBit; }
constexpr uint32_t global_x(uint64_t global) { return uint32_t(global >> 48) & kGlobalXMask; }
constexpr uint32_t global_y(uint64_t global) { return uint32_t(global >> 32) & kGlobalYMask; }
constexpr uint32_t global_offset(uint64_t global) { return uint32_t(global); }

}  // namespace dojosim::isa
