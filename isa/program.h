// SPDX-License-Identifier: MIT
// A loadable node program: what the assembler and the ELF loader both produce and what a node
// loads into its SRAM before its threads start at `entry`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dojosim::isa {

struct Segment {
  std::string name;  // ".text", ".data", ... (for messages)
  uint64_t address = 0;
  std::vector<uint8_t> bytes;
  uint64_t zero_fill = 0;  // bytes of zeros after `bytes` (.bss); SRAM reads as zero anyway
};

struct Program {
  std::vector<Segment> segments;
  uint64_t entry = 0;
  std::map<std::string, uint64_t> symbols;
  std::string source_name;  // file it came from, for messages

  // End of the highest segment: the first address free for stacks and data.
  uint64_t end_address() const {
    uint64_t end = 0;
    for (const auto& s : segments) end = std::max(end, s.address + s.bytes.size() + s.zero_fill);
    return end;
  }
};

}  // namespace dojosim::isa
