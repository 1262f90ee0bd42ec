// SPDX-License-Identifier: MIT
// One `dojosim sweep` into an output directory, start to end: make sure the directory holds this
// sweep (or nothing), write its manifest, read what is already recorded (resume), run the
// shard's missing points, rebuild results.csv in canonical order and draw summary.svg.
#pragma once

#include <string>
#include <vector>

#include "tools/sweep/output.h"
#include "tools/sweep/points.h"
#include "tools/sweep/runner.h"
#include "tools/sweep/spec.h"

namespace dojosim::sweep {

struct SessionOptions {
  std::string dir;
  Shard shard;
  PlotSpec plot;   // empty: no plot
  bool plot_from_flags = false;  // --plot, not the spec's plot: (an error blames the flag)
  RunOptions run;  // binary, jobs, keep_json, progress; the counts are filled in here
};

struct SessionResult {
  size_t shard_points = 0;    // points of the shard
  size_t done_before = 0;     // of those, recorded by earlier runs
  size_t ok = 0, failed = 0;  // of those, recorded now (before and by this run)
  RunResult run;              // this run: recorded, failures, interruptions
  double seconds = 0;
  std::vector<std::string> warnings;  // a torn line cut off, a duplicate record
  std::string error;                  // set if the sweep had to stop: a metric name that is a typo
};

// Throws OutputError if the directory is in use or holds a sweep of another base config.
SessionResult run_session(const Spec& spec, const std::vector<Point>& points,
                          SessionOptions options);

}  // namespace dojosim::sweep
