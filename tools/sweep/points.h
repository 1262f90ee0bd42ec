// SPDX-License-Identifier: MIT
// The points of a sweep: every combination of axis values times every workload, in one
// deterministic order, each with a stable id, and the `dojosim run` command line that runs it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sweep/spec.h"

namespace dojosim::sweep {

struct Point {
  size_t index = 0;                 // in canonical order (see expand)
  std::string id;                   // stable across runs, shards and machines
  std::vector<std::string> values;  // one per axis of the spec, in spec order
  size_t workload = 0;              // into Spec::workloads
};

// Which points one process runs: those whose index mod count is index.
struct Shard {
  size_t index = 0, count = 1;
  bool has(const Point& p) const { return p.index % count == index; }
};

// 12 hex digits of the 64-bit FNV-1a hash: ids and fingerprints that never change.
std::string short_hash(std::string_view text);

// Canonical order: axis combinations with the first axis varying slowest (product) or the i-th
// value of every axis together (zip), and for each combination every workload in spec order.
// A point's id hashes its key=value list sorted by key and its workload entry as written, so it
// does not depend on the order of axes, on other points, or on where the spec lives.
std::vector<Point> expand(const Spec& spec);
// A fingerprint of the whole list: shards of one sweep agree on it.
std::string points_hash(const std::vector<Point>& points);

// The arguments after the dojosim binary: run --config BASE --set ... WORKLOAD FLAGS --json PATH.
std::vector<std::string> run_args(const Spec& spec, const Point& p, const std::string& json_path);
// "ring noc.link_bytes_per_cycle=64 noc.routing=xy", for messages.
std::string describe(const Spec& spec, const Point& p);

}  // namespace dojosim::sweep
