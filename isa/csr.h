// SPDX-License-Identifier: MIT
// Control and status registers a node thread can read or write. The one list of CSR numbers,
// names and access; the assembler, disassembler and interpreter all use it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dojosim::isa {

enum class CsrAccess : uint8_t { ReadOnly, ReadWrite };

struct CsrInfo {
  uint16_t number;
  std::string_view name;
  CsrAccess access;
  std::string_view description;
};

// Standard counters from Zicntr, then ours in the custom ranges (0x800 read-write,
// 0xCC0 read-only).
inline constexpr CsrInfo kCsrs[] = {
    {0xC00, "cycle", CsrAccess::ReadOnly,
     "cycles of this thread so far (instret when timing is off)"},
    {0xC01, "time", CsrAccess::ReadOnly, "same as cycle"},
    {0xC02, "instret", CsrAccess::ReadOnly, "instructions retired by this thread"},
    {0x800, "fmtcfg", CsrAccess::ReadWrite,
     "cfp8 format of this thread: bits 5:0 exponent bias (0..63), bit 6 layout (0 = 1-4-3, 1 = "
     "1-5-2); reset 7"},
    {0x801, "srseed", CsrAccess::ReadWrite,
     "seed of this thread's stochastic-rounding generator; writing it restarts the sequence; reset "
     "0, or with sim.seed a mix of (seed, node, thread)"},
    {0x802, "nodeq", CsrAccess::ReadWrite,
     "the node nodeok answers for, as a global address: x in bits 62:48, y in bits 47:32, the rest "
     "ignored; reset 0"},
    {0xCC0, "nodex", CsrAccess::ReadOnly, "x coordinate of this node in the machine's mesh"},
    {0xCC1, "nodey", CsrAccess::ReadOnly, "y coordinate of this node in the machine's mesh"},
    {0xCC2, "threadid", CsrAccess::ReadOnly,
     "hardware thread number within the node (0..threads-1)"},
    {0xCC3, "nodeid", CsrAccess::ReadOnly, "y * meshw + x"},
    {0xCC4, "meshw", CsrAccess::ReadOnly, "width of the mesh in nodes"},
    {0xCC5, "meshh", CsrAccess::ReadOnly, "height of the mesh in nodes"},
    {0xCC6, "nthreads", CsrAccess::ReadOnly, "threads started on this node"},
    {0xCC7, "sramsize", CsrAccess::ReadOnly, "bytes of SRAM in this node"},
    {0xCC8, "nodeok", CsrAccess::ReadOnly,
     "1 if the node nodeq names is in the mesh and usable; 0 if it is disabled, outside the mesh, "
     "or nodeq has bit 63 (host memory) set"},
};

inline const CsrInfo* find_csr(uint32_t number) {
  for (const auto& c : kCsrs)
    if (c.number == number) return &c;
  return nullptr;
}
inline const CsrInfo* find_csr(std::string_view name) {
  for (const auto& c : kCsrs)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace dojosim::isa
