// SPDX-License-Identifier: MIT
#include "tools/host_memory.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <new>
#include <sstream>

#include "tools/commands.h"

namespace dojosim::cli {

namespace {

// Bytes of the process's address space in use (VmSize), from /proc/self/statm.
uint64_t address_space_used() {
  std::ifstream f("/proc/self/statm");
  uint64_t pages = 0;
  f >> pages;
  return pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// MemAvailable of /proc/meminfo in bytes, or 0 if unknown.
uint64_t mem_available() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

// The out-of-memory line is written with write(2) and no allocation: the heap is exhausted.
char g_oom_line[512];

void out_of_memory() {
  const ssize_t n = ::write(STDERR_FILENO, g_oom_line, std::char_traits<char>::length(g_oom_line));
  (void)n;
  std::fflush(stdout);
  ::_exit(kOutOfMemory);
}

}  // namespace

std::string bytes_text(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (bytes >= 1000 && u < 6) bytes /= 1000, ++u;
  return fmt::format("{:.{}f} {}", bytes, u ? 2 : 0, units[u]);
}

HostMemoryLimit host_memory_limit() {
  HostMemoryLimit l;
  std::string what;
  rlimit as{};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    const uint64_t used = address_space_used();
    const uint64_t left = as.rlim_cur > used ? as.rlim_cur - used : 0;
    l.bytes = left;
    what = fmt::format("RLIMIT_AS {} ({} left)", bytes_text(double(as.rlim_cur)),
                       bytes_text(double(left)));
  }
  if (const uint64_t avail = mem_available(); avail > 0) {
    l.bytes = std::min(l.bytes, avail);
    what += fmt::format("{}MemAvailable {}", what.empty() ? "" : ", ", bytes_text(double(avail)));
  }
  l.what = what.empty() ? "no limit known" : what;
  return l;
}

std::string host_memory_problem(uint64_t need, const std::string& what) {
  const HostMemoryLimit l = host_memory_limit();
  if (need <= l.bytes) return "";
  return fmt::format("this run needs about {} of host memory ({}); the limit is {} ({})",
                     bytes_text(double(need)), what, bytes_text(double(l.bytes)), l.what);
}

void exit_on_out_of_memory() {
  const HostMemoryLimit l = host_memory_limit();
  std::snprintf(g_oom_line, sizeof g_oom_line,
                "dojosim: out of host memory (%s at the start); a smaller machine or workload, or "
                "more memory, is needed\n",
                l.what.c_str());
  std::set_new_handler(out_of_memory);
}

}  // namespace dojosim::cli
