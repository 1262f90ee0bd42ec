// SPDX-License-Identifier: MIT
// One machine run over several processes (MPI ranks; docs/parallel.md, "MPI ranks"). Each rank
// owns a contiguous range of the machine's nodes and runs only those; every rank keeps the
// whole fabric. After each round the ranks exchange their nodes' new requests, so that every
// rank's fabric drains the same requests in the same order; after each drain, the bytes that
// pulls read from one rank's nodes for another's. With both exchanges the ranks agree on the
// next round and on whether one ran out of wall-clock time.
//
// Process-wide, like SystemC's kernel: `ranks()` is one process alone (size 1) unless the tool
// was built with MPI and started by mpirun or srun (tools/mpi_ranks.h).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "hw/node/wire.h"

namespace dojosim::hw {

class Ranks {
 public:
  // Every rank's `mine`, in rank order, in one buffer: rank r's from offsets[r] to
  // offsets[r + 1].
  struct Gathered {
    std::vector<uint8_t> data;
    std::vector<size_t> offsets;
    WireReader reader(int r) const {
      return {data.data() + offsets[size_t(r)], offsets[size_t(r) + 1] - offsets[size_t(r)]};
    }
  };
  using Gather = std::function<void(const std::vector<uint8_t>& mine, Gathered& all)>;

  // This process is rank `rank` of `size`, and `gather` exchanges bytes between them (the
  // tool's MPI, tools/mpi_ranks.cpp: the libraries do not link MPI). Before any machine is
  // built.
  void join(int rank, int size, Gather gather);
  int rank() const { return rank_; }
  int size() const { return size_; }

  // A collective: every rank calls it at the same point of the same run.
  Gathered all_gather(const std::vector<uint8_t>& mine) const;
  // Where rank r's part begins when `n` items are cut into size() contiguous parts.
  size_t first_of(size_t n, int r) const { return n * size_t(r) / size_t(size_); }

 private:
  int rank_ = 0, size_ = 1;
  Gather gather_;
};

Ranks& ranks();  // the process's

}  // namespace dojosim::hw
