// SPDX-License-Identifier: MIT
#include "hw/machine/ranks.h"

#include <stdexcept>
#include <utility>

namespace dojosim::hw {

Ranks& ranks() {
  static Ranks r;
  return r;
}

void Ranks::join(int rank, int size, Gather gather) {
  if (size < 1 || rank < 0 || rank >= size)
    throw std::invalid_argument("ranks: rank outside [0, size)");
  rank_ = rank, size_ = size, gather_ = std::move(gather);
}

Ranks::Gathered Ranks::all_gather(const std::vector<uint8_t>& mine) const {
  Gathered g;
  if (size_ == 1 || !gather_) {
    g.data = mine;
    g.offsets = {0, mine.size()};
    return g;
  }
  gather_(mine, g);
  return g;
}

}  // namespace dojosim::hw
