// SPDX-License-Identifier: MIT
// The C++ API's result for the Python tests to compare with, bit for bit: one matmul or conv2d
// through runtime::run_matmul / run_conv2d, operands and result as raw little-endian float32.
//   python_api_run matmul CONFIG DTYPE MAPPING M K N A_FILE B_FILE OUT_FILE
//   python_api_run conv2d CONFIG DTYPE MAPPING N H W C K R S STRIDE PAD X_FILE W_FILE OUT_FILE
// (conv2d: NHWC input, HWIO weights, NHWC output). Exit status 0, or 2 with a message.
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "hw/config/config_io.h"
#include "runtime/mesh/conv2d.h"
#include "runtime/mesh/mesh_matmul.h"

using namespace dojosim;

namespace {

std::vector<float> read(const std::string& path, size_t count) {
  std::vector<float> v(count);
  std::ifstream f(path, std::ios::binary);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(float)));
  if (!f || f.peek() != EOF)
    throw std::invalid_argument(fmt::format("{}: expected {} float32 values", path, count));
  return v;
}

void write(const std::string& path, const std::vector<float>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()),
          static_cast<std::streamsize>(v.size() * sizeof(float)));
}

runtime::DType dtype(const std::string& s) {
  return s == "fp32"   ? runtime::DType::Fp32
         : s == "cfp8" ? runtime::DType::Cfp8
                       : runtime::DType::Bf16;
}

uint32_t num(const char* s) {
  return static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
}

}  // namespace

extern "C" int sc_main(int argc, char** argv) {
  try {
    const std::vector<std::string> a(argv, argv + argc);
    if (argc < 5) throw std::invalid_argument("usage: see python/tests/api_run.cpp");
    const hw::HardwareConfig config = hw::load_config(a[2]).config;
    runtime::MeshMatmulOptions options;
    options.mapping = runtime::parse_mapping(a[4]);
    runtime::MeshMatmulResult r;
    if (a[1] == "matmul" && argc == 11) {
      runtime::MatmulOperands ops;
      ops.a = runtime::Matrix(num(argv[5]), num(argv[6]));
      ops.b = runtime::Matrix(num(argv[6]), num(argv[7]));
      ops.a.values = read(a[8], ops.a.values.size());
      ops.b.values = read(a[9], ops.b.values.size());
      r = runtime::run_matmul(config, dtype(a[3]), ops, runtime::MatmulInit::Zero, options);
    } else if (a[1] == "conv2d" && argc == 17) {
      runtime::Conv2dShape s;
      s.n = num(argv[5]), s.h = num(argv[6]), s.w = num(argv[7]), s.c = num(argv[8]);
      s.k = num(argv[9]), s.r = num(argv[10]), s.s = num(argv[11]);
      s.stride_h = s.stride_w = num(argv[12]);
      s.pad_h = s.pad_w = num(argv[13]);
      const std::vector<float> x = read(a[14], size_t{s.n} * s.h * s.w * s.c);
      const std::vector<float> w = read(a[15], size_t{s.r} * s.s * s.c * s.k);
      r = runtime::run_conv2d(config, dtype(a[3]), s, x, w, nullptr, options);
    } else {
      throw std::invalid_argument("usage: see python/tests/api_run.cpp");
    }
    if (!r.ok) throw std::runtime_error(r.outcome);
    write(a.back(), r.c.values);
    fmt::print("cycles {}\n", r.cycles);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "python_api_run: {}\n", e.what());
    return 2;
  }
}
