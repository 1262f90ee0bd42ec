// SPDX-License-Identifier: MIT
// MPI ranks for the tool (docs/parallel.md, "MPI ranks"): when mpirun or srun started this
// process and the build has MPI, MPI starts and hw::ranks() exchanges through it; otherwise the
// process is one rank alone. Only the tool links MPI, not the libraries.
#pragma once

namespace dojosim::cli {

class MpiRanks {
 public:
  MpiRanks(int* argc, char*** argv);  // MPI_Init and hw::ranks().join() under a launcher
  ~MpiRanks();                        // MPI_Finalize
  MpiRanks(const MpiRanks&) = delete;
  MpiRanks& operator=(const MpiRanks&) = delete;
  // Ranks other than 0 run the same host code silently: their standard output and error go to
  // /dev/null, so that a run prints its report once.
  void quiet_other_ranks() const;

 private:
  bool started_ = false;
};

}  // namespace dojosim::cli
