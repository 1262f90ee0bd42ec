// SPDX-License-Identifier: MIT
// `dojosim run --workload`: a kernel from the runtime instead of a program, e.g.
//   matmul:M=4096,N=4096,K=4096,dtype=bf16
//   conv2d:N=32,H=56,W=56,C=64,K=64,R=3,S=3,stride=1,pad=1
// with its report (docs/runtime.md).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "hw/config/config_io.h"

namespace dojosim::cli {

struct WorkloadSpec {
  std::string kind;  // "matmul" or "conv2d"
  uint32_t m = 0, n = 0, k = 0;  // matmul
  uint32_t batch = 1, h = 0, w = 0, c = 0, out_channels = 0, r = 0, s = 0;  // conv2d
  uint32_t stride = 1, pad = 0, dilation = 1;
  bool nchw = false;  // conv2d: activations in NCHW (default NHWC)
  std::string dtype = "bf16", mapping = "auto", check = "auto", placement = "auto";
  bool bias = false;
  uint32_t k_chunk = 0;
  std::string cfp8_layout = "e4m3";  // dtype=cfp8: e4m3 or e5m2
  int cfp8_bias = -1;                // dtype=cfp8: the exponent bias, -1 for the layout's default
  // Tensors in and out (--inputs, --save): operand name (A, B, bias; x, w, bias) -> .npy file,
  // and the folder the operands and the result are saved to ("" for none).
  std::map<std::string, std::string> inputs;
  std::string save_dir;
};

// Parses `--inputs A=a.npy,B=b.npy` into spec.inputs, checking each name is an operand of the
// workload (A, B for matmul; x, w for conv2d; bias when bias=1). Throws std::invalid_argument.
void parse_workload_inputs(const std::string& text, WorkloadSpec& spec);

// Throws std::invalid_argument naming the bad field and what is expected.
WorkloadSpec parse_workload(const std::string& text);

// Runs it on the machine of `config`, prints the report; returns the exit status
// (docs/cli.md: 0, 1 when a check fails, 3 trap, 4 deadlock or cycle limit).
int run_workload(const WorkloadSpec& spec, const hw::LoadedConfig& loaded,
                 const std::string& config_path, const std::string& json_path);

}  // namespace dojosim::cli
