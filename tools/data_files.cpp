// SPDX-License-Identifier: MIT
#include "tools/data_files.h"

#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace dojosim::cli {
namespace {

namespace fs = std::filesystem;

const char* folder(DataKind kind) {
  return kind == DataKind::Config ? "configs" : "workloads";
}

bool has_extension(const fs::path& p, std::initializer_list<const char*> exts) {
  for (const char* e : exts)
    if (p.extension() == e) return true;
  return false;
}

// The file names a bare name may stand for in a data folder.
std::vector<std::string> file_names(DataKind kind, const std::string& name) {
  if (kind == DataKind::Config)
    return has_extension(name, {".yaml", ".yml"}) ? std::vector<std::string>{name}
                                                  : std::vector<std::string>{name + ".yaml"};
  if (has_extension(name, {".yaml", ".yml", ".csv"})) return {name};
  return {name + ".yaml", name + ".yml", name + ".csv"};
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

}  // namespace

std::vector<std::string> data_dirs(DataKind kind) {
  std::vector<std::string> dirs;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return dirs;
  const fs::path exe_dir = exe.parent_path();
  // NOTE: only the dojosim of the build tree looks in the source tree; an installed copy, even
  // one installed into a folder inside the build tree, never does.
  if (fs::equivalent(exe_dir, DOJOSIM_BUILD_TOOLS_DIR, ec))
    dirs.push_back((fs::path(DOJOSIM_SOURCE_DIR) / folder(kind)).string());
  dirs.push_back((exe_dir / DOJOSIM_DATA_FROM_BIN / folder(kind)).lexically_normal().string());
  return dirs;
}

namespace {

// The file `name` stands for, or "" after adding every place looked in to `tried`.
std::string search(DataKind kind, const std::string& name, std::vector<std::string>& tried) {
  tried.push_back(name);
  if (is_file(name)) return name;
  if (name.empty() || name.find('/') != std::string::npos) return "";
  for (const std::string& dir : data_dirs(kind))
    for (const std::string& file : file_names(kind, name)) {
      const std::string p = (fs::path(dir) / file).string();
      if (is_file(p)) return p;
      tried.push_back(p);
    }
  return "";
}

}  // namespace

std::string try_find_data_file(DataKind kind, const std::string& name) {
  std::vector<std::string> tried;
  return search(kind, name, tried);
}

std::string find_data_file(DataKind kind, const std::string& name) {
  std::vector<std::string> tried;
  if (std::string found = search(kind, name, tried); !found.empty()) return found;
  std::string list = tried.front();
  for (size_t i = 1; i < tried.size(); ++i) list += ", " + tried[i];
  throw std::runtime_error(fmt::format("--{} {}: no such file; looked in {}",
                                       kind == DataKind::Config ? "config" : "workload", name,
                                       list));
}

}  // namespace dojosim::cli
