// SPDX-License-Identifier: MIT
// `dojosim sweep merge`: joins the output directories of the shards of one sweep.
#pragma once

#include <string>
#include <vector>

#include "tools/sweep/output.h"

namespace dojosim::sweep {

struct Merged {
  Manifest manifest;                  // the sweep's, with shard "merged"
  std::vector<Record> records;        // one per point found, in canonical order
  std::vector<std::string> missing;   // ids of points no shard has
  std::vector<std::string> warnings;  // torn lines skipped, records of no point of the sweep
};

// Reads every shard directory (sweep.json and results.jsonl). Throws OutputError if one is not
// a sweep output, if they come from different sweeps (base config, sets or point list differ),
// or if two of them hold different results for one point (wall time aside). A point found in
// more than one shard with the same result counts once.
Merged merge_shards(const std::vector<std::string>& shard_dirs);
// Writes results.jsonl, results.csv, sweep.json and (if its manifest has a plot) summary.svg
// into `dir`, creating it; each file replaced atomically.
void write_merged(const Merged& merged, const std::string& dir);

}  // namespace dojosim::sweep
