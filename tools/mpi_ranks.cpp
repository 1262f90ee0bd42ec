// SPDX-License-Identifier: MIT
#include "tools/mpi_ranks.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "hw/machine/ranks.h"

#ifdef DOJOSIM_HAVE_MPI
// MPI's C interface only: the C++ bindings are deprecated and live in another library.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace dojosim::cli {

#ifdef DOJOSIM_HAVE_MPI
namespace {

// Sizes first (an int each), then the bytes. A round's requests are far below MPI's 2 GiB
// counts; past them the run stops with a message rather than sending a wrong count.
void mpi_all_gather(const std::vector<uint8_t>& mine, hw::Ranks::Gathered& all) {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (mine.size() > size_t(INT32_MAX))
    throw std::runtime_error("MPI ranks: one rank's message of a round passes 2 GiB");
  const int count = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<size_t>(size)), displs(static_cast<size_t>(size));
  MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
  all.offsets.assign(size_t(size) + 1, 0);
  size_t total = 0;
  for (size_t r = 0; r < size_t(size); ++r) {
    displs[r] = static_cast<int>(total);
    all.offsets[r] = total;
    total += size_t(counts[r]);
    if (total > size_t(INT32_MAX))
      throw std::runtime_error("MPI ranks: the ranks' messages of a round pass 2 GiB");
  }
  all.offsets[size_t(size)] = total;
  all.data.resize(total);
  MPI_Allgatherv(mine.data(), count, MPI_BYTE, all.data.data(), counts.data(), displs.data(),
                 MPI_BYTE, MPI_COMM_WORLD);
}

}  // namespace
#endif

MpiRanks::MpiRanks([[maybe_unused]] int* argc, [[maybe_unused]] char*** argv) {
#ifdef DOJOSIM_HAVE_MPI
  // Only under a launcher: a plain `dojosim run` neither pays for MPI's start nor needs it.
  if (!std::getenv("OMPI_COMM_WORLD_SIZE") && !std::getenv("PMIX_RANK") && !std::getenv("PMI_RANK"))
    return;
  MPI_Init(argc, argv);
  started_ = true;
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  hw::ranks().join(rank, size, mpi_all_gather);
#endif
}

MpiRanks::~MpiRanks() {
#ifdef DOJOSIM_HAVE_MPI
  if (started_) MPI_Finalize();
#endif
}

void MpiRanks::quiet_other_ranks() const {
  if (hw::ranks().rank() == 0) return;
  if (!std::freopen("/dev/null", "w", stdout) || !std::freopen("/dev/null", "w", stderr))
    throw std::runtime_error("MPI ranks: cannot silence a rank other than 0");
}

}  // namespace dojosim::cli
