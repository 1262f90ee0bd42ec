// SPDX-License-Identifier: MIT
// Workload files: networks as lists of kernels (workloads/README.md). A SCALE-Sim topology CSV
// (one convolution per row) or a YAML list of --workload strings; `dojosim run --workload FILE`
// runs each layer in a child process and prints a table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dojosim::cli {

struct Layer {
  std::string name;
  std::string workload;  // a --workload string: "conv2d:N=32,H=58,..." or "matmul:M=..."
  uint32_t repeat = 1;   // identical instances counted in the totals
};

// Whether `path` names a workload file (.csv, .yaml, .yml) rather than a workload string.
bool is_workload_file(const std::string& path);

// Throws std::invalid_argument naming the file, the line and what was expected.
std::vector<Layer> read_workload_file(const std::string& path, uint32_t batch);

// Runs every layer with `dojosim run` children on the same config and overrides; prints one
// row per layer and the totals. Returns the exit status (0, or the first failing layer's).
int run_workload_file(const std::string& path, uint32_t batch, const std::string& config_path,
                      const std::vector<std::string>& sets, const std::string& json_path);

}  // namespace dojosim::cli
