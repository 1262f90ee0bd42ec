// SPDX-License-Identifier: MIT
#include "isa/reference_doc.h"

#include <fmt/format.h>

#include "isa/csr.h"
#include "isa/instructions.h"
#include "isa/timing.h"

namespace dojosim::isa {
namespace {

std::string_view format_name(Format f) {
  static constexpr std::string_view kNames[] = {"R", "I", "S", "B", "U", "J", "R4", "I (shamt6)",
                                                "I (shamt5)", "fence", "fixed"};
  return kNames[static_cast<size_t>(f)];
}

std::string encoding_fields(const Encoding& e) {
  const uint32_t m = e.match;
  std::string s = fmt::format("opcode 0x{:02x}", m & 0x7F);
  if (e.format == Format::Fixed) return fmt::format("0x{:08x}", m);
  if (e.mask & 0x7000) s += fmt::format(", funct3 {}", (m >> 12) & 7);
  if (e.format == Format::R4) s += fmt::format(", funct2 {}", (m >> 25) & 3);
  else if (e.format == Format::Shift6) s += fmt::format(", funct6 0x{:02x}", m >> 26);
  else if ((e.mask & 0xFE000000u) == 0xFE000000u) s += fmt::format(", funct7 0x{:02x}", m >> 25);
  return s;
}

}  // namespace

std::string reference_markdown() {
  const TimingParams p = TimingParams::d1_defaults();
  std::string out;
  out += "### Instructions\n\n";
  out += "| mnemonic | operands | format | encoding | timing class | semantics |\n";
  out += "|---|---|---|---|---|---|\n";
  for (const InstrInfo* r = begin_table(); r != end_table(); ++r)
    out += fmt::format("| `{}` | `{}` | {} | {} | {} | {} |\n", r->mnemonic,
                       r->operand_syntax.empty() ? "-" : r->operand_syntax,
                       format_name(r->encoding.format), encoding_fields(r->encoding),
                       timing_class_name(r->timing), r->semantics);
  out += "\n### Timing classes (defaults; the hardware config overrides them)\n\n";
  out += "| timing class | unit | latency (cycles) | occupancy (cycles) |\n|---|---|---|---|\n";
  for (size_t c = 0; c < static_cast<size_t>(TimingClass::kCount); ++c) {
    const ClassTiming& t = p.classes[c];
    out += fmt::format("| {} | {} | {} | {} |\n", timing_class_name(static_cast<TimingClass>(c)),
                       unit_name(t.unit), t.latency, t.occupancy);
  }
  out += "\n| unit | instances |\n|---|---|\n";
  for (int u = 0; u < kUnitCount; ++u)
    out += fmt::format("| {} | {} |\n", unit_name(static_cast<Unit>(u)), p.unit_instances[u]);
  out += fmt::format(
      "\nIssue width per thread: {} instructions per cycle. Taken-branch penalty: {} "
      "cycles (a taken branch always ends the cycle's issue group).\n",
      p.issue_width, p.taken_branch_penalty);
  out += "\n### CSRs\n\n| number | name | access | meaning |\n|---|---|---|---|\n";
  for (const CsrInfo& c : kCsrs)
    out += fmt::format("| 0x{:03x} | `{}` | {} | {} |\n", c.number, c.name,
                       c.access == CsrAccess::ReadOnly ? "read-only" : "read-write", c.description);
  return out;
}

}  // namespace dojosim::isa
