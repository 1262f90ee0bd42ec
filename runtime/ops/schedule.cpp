// SPDX-License-Identifier: MIT
#include "runtime/ops/schedule.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "isa/instructions.h"

namespace dojosim::runtime::ops {

Schedule schedule(const std::vector<std::string>& lines, const isa::TimingParams& t) {
  std::map<std::string, double> ready;  // vector register -> when its value is there
  std::map<isa::Unit, double> free;
  double issue = 0;
  Schedule out;
  for (const std::string& line : lines) {
    const std::string s = line.substr(0, line.find('#'));  // without its comment
    const std::string mnemonic = s.substr(0, s.find(' '));
    const isa::InstrInfo* info = isa::find_mnemonic(mnemonic);
    if (!info) throw std::logic_error("runtime/ops schedule: unknown instruction " + mnemonic);
    std::vector<std::string> operands;
    for (size_t at = s.find(' '); at < s.size();) {
      at = s.find_first_not_of(" ,", at);
      if (at == std::string::npos) break;
      const size_t stop = s.find(',', at);
      const std::string operand = s.substr(at, stop == std::string::npos ? stop : stop - at);
      operands.push_back(operand.substr(0, operand.find(' ')));
      at = stop;
    }
    // vfma accumulates into its destination, vse stores its first operand: all are sources.
    const bool all_sources = mnemonic.rfind("vfma", 0) == 0 || mnemonic == "vse";
    const isa::ClassTiming& c = t.of(info->timing);
    for (size_t k = all_sources ? 0 : 1; k < operands.size(); ++k)
      if (const auto it = ready.find(operands[k]); it != ready.end())
        issue = std::max(issue, it->second);
    issue = std::max(issue, free[c.unit]);
    free[c.unit] = issue + c.occupancy;
    if (!all_sources && !operands.empty()) ready[operands[0]] = issue + c.latency;
    out.cycles = std::max(out.cycles, issue + c.latency);
    if (c.unit == isa::Unit::Simd) out.simd_cycles += c.occupancy;
  }
  return out;
}

}  // namespace dojosim::runtime::ops
