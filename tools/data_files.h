// SPDX-License-Identifier: MIT
// Where the tools find the configs and workload files they ship with, so that `--config d1`
// works from any folder, in the build tree and installed alike. A name is tried, in order:
//   1. as given (a path, relative to the working folder);
//   2. for a bare name (no '/'): in the source tree's configs/ (workloads/), only when this
//      dojosim is the one the build tree built;
//   3. in <prefix>/share/dojosim/configs/ (workloads/), <prefix> being the folder above the
//      one holding this executable, so an installed tree may be moved (cmake --install --prefix).
// In folders, a config name without .yaml/.yml gets .yaml; a workload name without an
// extension gets .yaml, .yml, then .csv.
#pragma once

#include <string>
#include <vector>

namespace dojosim::cli {

enum class DataKind { Config, Workload };

// The folders searched for bare names, in order (whether they exist or not).
std::vector<std::string> data_dirs(DataKind kind);

// The file to open for `name`. Throws std::runtime_error, one line naming the flag and every
// place looked in: "--config d2: no such file; looked in d2, /usr/share/dojosim/configs/d2.yaml".
std::string find_data_file(DataKind kind, const std::string& name);

// The same, or "" when there is no such file.
std::string try_find_data_file(DataKind kind, const std::string& name);

}  // namespace dojosim::cli
