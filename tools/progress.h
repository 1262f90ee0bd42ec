// SPDX-License-Identifier: MIT
// A one-line progress display on stderr, redrawn in place, only when stderr is a terminal (so
// logs and pipes stay clean). Shows the simulated cycles reached, the simulation rate and,
// when the expected total is known, a bar and the time left.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace dojosim::cli {

class Progress {
 public:
  // `expected_cycles` 0: unknown (no bar, no ETA).
  explicit Progress(std::string what, uint64_t expected_cycles = 0)
      : what_(std::move(what)), expected_(expected_cycles), on_(isatty(fileno(stderr)) != 0) {}
  ~Progress() { done(); }

  void update(uint64_t cycle) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    std::string line = what_ + ": " + std::to_string(cycle) + " cycles";
    if (secs > 0)
      line += ", " + std::to_string(static_cast<uint64_t>(double(cycle) / secs)) + " cycles/s";
    if (expected_ > 0 && cycle > 0) {
      const double f = std::min(1.0, double(cycle) / double(expected_));
      const int filled = static_cast<int>(f * 24);
      line += " [" + std::string(filled, '#') + std::string(24 - filled, '.') + "] ";
      line += std::to_string(static_cast<int>(100 * f)) + "%";
      if (f > 0.01)
        line += ", about " + std::to_string(static_cast<int>(secs * (1 - f) / f)) + " s left";
    }
    std::fprintf(stderr, "\r%-100s", line.c_str());
    drawn_ = true;
  }
  void done() {
    if (drawn_) std::fprintf(stderr, "\r%-100s\r", "");
    drawn_ = false;
  }

 private:
  std::string what_;
  uint64_t expected_;
  bool on_, drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

}  // namespace dojosim::cli
