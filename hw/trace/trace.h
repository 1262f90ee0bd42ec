// SPDX-License-Identifier: MIT
// A timeline trace in the Chrome trace-event JSON format, which Perfetto (ui.perfetto.dev) and
// chrome://tracing open. Tracks: one process per node with one track per hardware thread
// (spans "run", "wait semaphore N", "barrier N") and its DMAs as async spans; one process
// "network" with one track per link that carried traffic (a span per packet) and one per DIP.
//
// Events are streamed to the file as the model produces them (not sorted; the viewers sort),
// so a trace costs no memory; `max_events` bounds its size, and a trace that hit the bound
// says so in its metadata. Timestamps are microseconds at the configured clock.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_set>

#include "hw/noc/geometry.h"

namespace dojosim::hw {

class TraceWriter {
 public:
  // Throws std::runtime_error naming the file if it cannot be written.
  TraceWriter(const std::string& path, double clock_ghz, int mesh_width, uint64_t max_events);
  ~TraceWriter();  // completes the JSON (close(), its error unseen)
  // Completes the JSON and closes the file: "" if every byte reached it, else the error
  // ("cannot write the trace PATH: No space left on device"). Events after it are dropped.
  std::string close();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  void thread_span(Coord node, unsigned thread, const std::string& name, uint64_t begin,
                   uint64_t end);
  // A DMA from issue to completion, on its node's "dma" track; `id` unique in the run.
  void dma(Coord node, uint64_t id, const std::string& name, uint64_t begin, uint64_t end);
  // A packet holding a link; `link` numbers the track, `name` is called once to name it.
  template <class Name>
  void link_span(int link, Name&& name, uint64_t bytes, uint64_t begin, uint64_t end) {
    if (!admit()) return;
    if (!named(kNetworkPid, link)) name_track(kNetworkPid, link, "network", name());
    span(kNetworkPid, link, std::to_string(bytes) + " B", begin, end);
  }
  // A DIP's HBM serving one request ("read" or "write").
  void dip_span(unsigned dip, const char* what, uint64_t bytes, uint64_t begin, uint64_t end);
  // A span on track `track` (its name) of the process "graph": a workload graph's ops and the
  // kernels and moves they are made of.
  void graph_span(int track, const std::string& track_name, const std::string& name, uint64_t begin,
                  uint64_t end);

  uint64_t events() const { return events_; }
  bool truncated() const { return truncated_; }

 private:
  static constexpr int kNetworkPid = 1;
  static constexpr int kGraphPid = 0;
  bool admit();  // false once max_events were written
  void event(const std::string& json);
  void span(int pid, int tid, const std::string& name, uint64_t begin, uint64_t end);
  bool named(int pid, int tid) const {
    return named_.count(uint64_t(uint32_t(pid)) << 32 | uint32_t(tid)) != 0;
  }
  void name_track(int pid, int tid, const std::string& process, const std::string& thread);
  double us(uint64_t cycle) const { return double(cycle) / (clock_ghz_ * 1000.0); }
  int node_pid(Coord c) const { return 2 + c.y * mesh_width_ + c.x; }

  std::FILE* file_;
  std::string path_;
  double clock_ghz_;
  int mesh_width_;
  uint64_t max_events_, events_ = 0;
  bool truncated_ = false, first_ = true;
  std::unordered_set<uint64_t> named_;  // (pid, tid) tracks that have their names
};

}  // namespace dojosim::hw
