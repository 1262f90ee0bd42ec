// SPDX-License-Identifier: MIT
// Runs the points of a sweep, each as a child `dojosim run` process, at most `jobs` at a time
// (Boost.Process on one Asio loop). Each finished point becomes a record, appended to the
// output directory at once.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "tools/sweep/output.h"
#include "tools/sweep/points.h"
#include "tools/sweep/spec.h"

namespace dojosim::sweep {

struct RunOptions {
  std::string dojosim;  // the binary the children run
  unsigned jobs = 1;
  bool keep_json = false;  // keep json/ID.json, the child's full statistics
  bool progress = false;   // draw a progress bar on stderr
  double timeout_seconds = 0;  // a point running longer is stopped and recorded as "timeout"
  size_t already_done = 0, already_failed = 0, total = 0;  // of the shard, for the bar
};

struct RunResult {
  size_t recorded = 0;           // points finished and recorded by this run
  std::vector<Record> failures;  // those that did not finish ok
  size_t interrupted = 0;        // children stopped by a signal from outside: not recorded
  int signal = 0;                // SIGINT, SIGTERM or SIGHUP the sweep received, or 0
  std::string stop_reason;       // what `check` said, if it stopped the sweep
};

// Runs `todo` in order. Every record is appended to `out` and then passed to `check`; once that
// returns a message, no more points start (running ones finish and are recorded) and the
// message is returned in stop_reason. A point whose child is killed by SIGINT, SIGTERM, SIGHUP
// or SIGKILL is not recorded: it was stopped, it did not fail, and the next run retries it.
// On SIGINT, SIGTERM or SIGHUP the sweep stops its children and returns.
RunResult run_points(const Spec& spec, const std::vector<const Point*>& todo,
                     const Manifest& manifest, OutputDir& out, const RunOptions& options,
                     const std::function<std::string(const Record&)>& check);

}  // namespace dojosim::sweep
