// SPDX-License-Identifier: MIT
#include "tools/output_file.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "hw/machine/ranks.h"
#include "hw/trace/trace.h"

namespace dojosim::cli {

namespace fs = std::filesystem;

std::string cannot_write(const std::string& path) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    if (fs::is_directory(path, ec)) return fmt::format("cannot write {}: it is a folder", path);
    if (::access(path.c_str(), W_OK) != 0)
      return fmt::format("cannot write {}: {}", path, std::strerror(errno));
    return "";
  }
  const fs::path parent = fs::path(path).parent_path();
  const std::string dir = parent.empty() ? "." : parent.string();
  if (!fs::is_directory(dir, ec))
    return fmt::format("cannot write {}: no such folder {}", path, dir);
  if (::access(dir.c_str(), W_OK) != 0)
    return fmt::format("cannot write {}: folder {}: {}", path, dir, std::strerror(errno));
  return "";
}

std::string cannot_make_folder(const std::string& flag, const std::string& dir,
                               const std::string& file) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fmt::format("{} {}: cannot create it: {}", flag, dir, ec.message());
  if (const std::string why = cannot_write(dir + "/" + file); !why.empty())
    return flag + ": " + why;
  return "";
}

void write_file(const std::string& path, std::string_view content) {
  if (hw::ranks().rank() != 0) return;  // MPI ranks: each holds the same content; rank 0 writes
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  const bool written = std::fwrite(content.data(), 1, content.size(), f) == content.size() &&
                       std::fflush(f) == 0;
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed)
    throw std::runtime_error(
        fmt::format("cannot write {}: {}", path, std::strerror(written ? errno : write_errno)));
}

bool finish_trace(hw::TraceWriter& trace, const std::string& path, uint64_t limit) {
  fmt::print("trace: {} events in {}{}\n", trace.events(), path,
             trace.truncated() ? fmt::format(" (cut at --trace-limit {})", limit) : "");
  if (const std::string why = trace.close(); !why.empty()) {
    fmt::print(stderr, "dojosim run: {}\n", why);
    return false;
  }
  return true;
}

}  // namespace dojosim::cli
