// SPDX-License-Identifier: MIT
#include "hw/trace/trace.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dojosim::hw {
namespace {

constexpr int kDmaTid = 100;        // a node's DMA track, after its hardware threads
constexpr int kDipTid = 1 << 30;    // the network's DIP tracks, after every link

// A JSON string literal (names here are ours, but escape anyway).
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", c);
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

TraceWriter::TraceWriter(const std::string& path, double clock_ghz, int mesh_width,
                         uint64_t max_events)
    : file_(std::fopen(path.c_str(), "w")),
      path_(path),
      clock_ghz_(clock_ghz),
      mesh_width_(mesh_width),
      max_events_(max_events) {
  if (!file_)
    throw std::runtime_error(
        fmt::format("cannot write the trace {}: {}", path, std::strerror(errno)));
  std::fputs("{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n", file_);
}

TraceWriter::~TraceWriter() {
  close();
}

std::string TraceWriter::close() {
  if (!file_) return "";
  std::fprintf(
      file_,
      "\n], \"otherData\": {\"generator\": \"dojosim\", \"events\": %llu, \"truncated\": %s}}\n",
      static_cast<unsigned long long>(events_), truncated_ ? "true" : "false");
  // A write error (a full disk) sticks to the stream; fclose flushes the rest and reports too.
  const bool failed = std::ferror(file_) != 0;
  const int flush_errno = std::fflush(file_) == 0 ? 0 : errno;
  const bool closed = std::fclose(file_) == 0;
  const int close_errno = errno;
  file_ = nullptr;
  if (!failed && !flush_errno && closed) return "";
  const int why = flush_errno ? flush_errno : !closed ? close_errno : EIO;
  return fmt::format("cannot write the trace {}: {}", path_, std::strerror(why));
}

bool TraceWriter::admit() {
  if (!file_) return false;
  if (events_ < max_events_) return true;
  truncated_ = true;
  return false;
}

void TraceWriter::event(const std::string& json) {
  if (!first_) std::fputs(",\n", file_);
  first_ = false;
  std::fputs(json.c_str(), file_);
  ++events_;
}

void TraceWriter::name_track(int pid, int tid, const std::string& process,
                             const std::string& thread) {
  const uint64_t key = uint64_t(uint32_t(pid)) << 32 | uint32_t(tid);
  if (!named_.insert(key).second) return;
  if (named_.insert(uint64_t(uint32_t(pid)) << 32 | 0xFFFFFFFFu).second) {
    if (!first_) std::fputs(",\n", file_);
    first_ = false;
    std::fprintf(
        file_,
        "{\"ph\": \"M\", \"name\": \"process_name\", \"pid\": %d, \"args\": {\"name\": %s}},\n"
        "{\"ph\": \"M\", \"name\": \"process_sort_index\", \"pid\": %d, \"args\": {\"sort_index\": "
        "%d}}",
        pid, quote(process).c_str(), pid, pid);
  }
  std::fprintf(file_,
               ",\n{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": %d, \"tid\": %d, \"args\": "
               "{\"name\": %s}}",
               pid, tid, quote(thread).c_str());
}

void TraceWriter::span(int pid, int tid, const std::string& name, uint64_t begin, uint64_t end) {
  event(fmt::format(
      "{{\"ph\": \"X\", \"name\": {}, \"pid\": {}, \"tid\": {}, \"ts\": {:.4f}, \"dur\": {:.4f}}}",
      quote(name), pid, tid, us(begin), us(end) - us(begin)));
}

void TraceWriter::thread_span(Coord node, unsigned thread, const std::string& name, uint64_t begin,
                              uint64_t end) {
  if (!admit()) return;
  const int pid = node_pid(node);
  name_track(pid, int(thread), fmt::format("node ({},{})", node.x, node.y),
             fmt::format("thread {}", thread));
  span(pid, int(thread), name, begin, end);
}

void TraceWriter::dma(Coord node, uint64_t id, const std::string& name, uint64_t begin,
                      uint64_t end) {
  if (!admit()) return;
  const int pid = node_pid(node);
  name_track(pid, kDmaTid, fmt::format("node ({},{})", node.x, node.y), "dma");
  // Async begin/end: DMAs in flight overlap, which complete ("X") events on one track may not.
  event(fmt::format(
      "{{\"ph\": \"b\", \"cat\": \"dma\", \"name\": {}, \"id\": {}, \"pid\": {}, \"tid\": {}, "
      "\"ts\": {:.4f}}},\n"
      "{{\"ph\": \"e\", \"cat\": \"dma\", \"name\": {}, \"id\": {}, \"pid\": {}, \"tid\": {}, "
      "\"ts\": {:.4f}}}",
      quote(name), id, pid, kDmaTid, us(begin), quote(name), id, pid, kDmaTid, us(end)));
}

void TraceWriter::graph_span(int track, const std::string& track_name, const std::string& name,
                             uint64_t begin, uint64_t end) {
  if (!admit()) return;
  if (!named(kGraphPid, track)) name_track(kGraphPid, track, "graph", track_name);
  span(kGraphPid, track, name, begin, end);
}

void TraceWriter::dip_span(unsigned dip, const char* what, uint64_t bytes, uint64_t begin,
                           uint64_t end) {
  if (!admit()) return;
  const int tid = kDipTid + int(dip);
  name_track(kNetworkPid, tid, "network", fmt::format("DIP {} HBM", dip));
  span(kNetworkPid, tid, fmt::format("{} {} B", what, bytes), begin, end);
}

}  // namespace dojosim::hw
