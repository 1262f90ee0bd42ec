// SPDX-License-Identifier: MIT
// The references: the schedule replayed on the host (bit for bit), and float64.
#include <cmath>
#include <numeric>

#include "runtime/collectives/schedule.h"

namespace dojosim::runtime::collectives {
namespace {

// The element each leaf starts at.
std::vector<uint64_t> leaf_starts(const Schedule& s) {
  std::vector<uint64_t> first{0};
  for (const Leaf& l : s.leaves) first.push_back(first.back() + l.elements);
  return first;
}

// Replays the schedule on per-member arrays: `combine(to, from)` for a reduce, a copy
// otherwise; what a member sends in a round is what it held before the round's receives.
template <class T, class Combine>
void replay(const Schedule& s, std::vector<std::vector<T>>& v, Combine combine) {
  const std::vector<uint64_t> first = leaf_starts(s);
  std::vector<std::vector<T>> payload;
  for (size_t i = 0; i < s.transfers.size();) {
    size_t end = i;
    while (end < s.transfers.size() && s.transfers[end].round == s.transfers[i].round) ++end;
    payload.assign(end - i, {});
    for (size_t k = i; k < end; ++k) {
      const Transfer& t = s.transfers[k];
      payload[k - i].assign(v[t.from].begin() + first[t.first], v[t.from].begin() + first[t.last]);
    }
    for (size_t k = i; k < end; ++k) {
      const Transfer& t = s.transfers[k];
      for (uint64_t e = first[t.first]; e < first[t.last]; ++e) {
        T& to = v[t.to][e];
        const T& from = payload[k - i][e - first[t.first]];
        to = t.reduce ? combine(to, from) : from;
      }
    }
    i = end;
  }
}

}  // namespace

Vectors reference_exact(const CollectivePlan& plan, const Vectors& inputs) {
  Vectors v = inputs;
  const DType dtype = plan.problem().dtype;
  // As vadd: the sum in fp32 (round to nearest even), then rounded to the lane format.
  replay(plan.schedule(), v, [dtype](float a, float b) { return quantize(dtype, a + b, {}); });
  return v;
}

Reference64 reference_f64(const CollectivePlan& plan, const Vectors& inputs) {
  const uint64_t count = plan.count();
  const uint32_t n = plan.members();
  const Collective op = plan.problem().op;
  Reference64 r;
  r.value.assign(count, 0);
  r.bound.assign(count, 0);
  if (op == Collective::Broadcast) {
    for (uint64_t e = 0; e < count; ++e) r.value[e] = inputs[plan.problem().root][e];
    return r;
  }
  if (op == Collective::AllGather) {
    for (uint32_t m = 0; m < n; ++m)
      for (const auto& [a, b] : plan.owned(m))
        for (uint64_t e = a; e < b; ++e) r.value[e] = inputs[m][e];
    return r;
  }
  // Sums: the depth of each element's addition tree, from the schedule: an element that went
  // through d roundings is within gamma_d = d u / (1 - d u) of sum |x|.
  std::vector<std::vector<uint32_t>> depth(n, std::vector<uint32_t>(count, 0));
  replay(plan.schedule(), depth, [](uint32_t a, uint32_t b) { return std::max(a, b) + 1; });
  const double u = plan.problem().dtype == DType::Bf16 ? 0x1p-8 : 0x1p-24;
  for (uint64_t e = 0; e < count; ++e) {
    double sum = 0, magnitude = 0;
    uint32_t d = 0;
    for (uint32_t m = 0; m < n; ++m) {
      sum += inputs[m][e];
      magnitude += std::fabs(double(inputs[m][e]));
      d = std::max(d, depth[m][e]);
    }
    r.value[e] = sum;
    r.bound[e] = d * u < 1 ? d * u / (1 - d * u) * magnitude : INFINITY;
  }
  return r;
}

}  // namespace dojosim::runtime::collectives
