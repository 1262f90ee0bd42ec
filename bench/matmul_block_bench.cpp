// SPDX-License-Identifier: MIT
// bench_matmul_block: cycles of the node matmul block kernel (runtime/matmul_kernel.h) on one
// node with timing on, as a fraction of the node's peak. A measurement, not a test: it prints
// and never fails on a number. See bench/README.md.
#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>

#include "runtime/matmul_node.h"

using namespace dojosim;
using namespace dojosim::runtime;

namespace {

Matrix random_matrix(uint32_t rows, uint32_t cols, std::mt19937& gen) {
  Matrix m(rows, cols);
  for (float& v : m.values) v = static_cast<float>(static_cast<int>(gen() % 2001) - 1000) / 1000.0f;
  return m;
}

struct Row {
  DType dtype;
  uint32_t size;
  MatmulInit init;
  bool bf16_output;
};

}  // namespace

int main(int argc, char** argv) {
  // --only TEXT keeps the rows whose key contains TEXT.
  std::string only;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];

  const isa::CoreConfig config;  // D1 defaults
  std::vector<Row> rows;
  for (DType t : {DType::Bf16, DType::Cfp8})
    for (uint32_t size : {64u, 128u, 256u}) rows.push_back({t, size, MatmulInit::Zero, false});
  for (DType t : {DType::Bf16, DType::Cfp8}) {
    rows.push_back({t, 128, MatmulInit::Accumulate, false});
    rows.push_back({t, 128, MatmulInit::Zero, true});
  }
  rows.push_back({DType::Fp32, 64, MatmulInit::Zero, false});
  rows.push_back({DType::Fp32, 128, MatmulInit::Zero, false});

  fmt::print("{:<32} {:>10} {:>10} {:>8} {:>8}   stalls (dependency/sram_port/unit_busy)\n",
             "block", "cycles", "ideal", "% peak", "% mma");
  for (const Row& row : rows) {
    const std::string key =
        fmt::format("{}_{}^3_{}{}", dtype_name(row.dtype), row.size, matmul_init_name(row.init),
                    row.bf16_output ? "_bf16out" : "");
    if (!only.empty() && key.find(only) == std::string::npos) continue;
    std::mt19937 gen(1);
    MatmulOperands ops{
        random_matrix(row.size, row.size, gen), random_matrix(row.size, row.size, gen), {}, {}};
    if (row.init == MatmulInit::Accumulate) ops.c = random_matrix(row.size, row.size, gen);
    MatmulSpec spec;
    spec.dtype = row.dtype;
    spec.init = row.init;
    spec.bf16_output = row.bf16_output;
    const NodeMatmulResult r = run_matmul_on_node(spec, ops, config);
    const double peak = peak_flops_per_cycle(row.dtype, config);
    // The unit that bounds the kernel: busy cycles of its instructions over all cycles.
    const auto& tp = config.timing_params;
    auto busy = [&](isa::TimingClass c) {
      return double(r.class_counts[static_cast<size_t>(c)]) * tp.of(c).occupancy;
    };
    const double unit_busy = row.dtype == DType::Fp32 ? busy(isa::TimingClass::Simd)
                                                      : busy(isa::TimingClass::Matrix) +
                                                            busy(isa::TimingClass::MatrixCfp8);
    auto stall = [&](isa::StallCause c) { return r.stalls[static_cast<size_t>(c)]; };
    fmt::print("{:<32} {:>10} {:>10.0f} {:>7.1f}% {:>7.1f}%   {}/{}/{}\n", key, r.cycles,
               r.useful_flops / peak, 100.0 * r.peak_fraction, 100.0 * unit_busy / r.cycles,
               stall(isa::StallCause::Dependency), stall(isa::StallCause::SramPort),
               stall(isa::StallCause::UnitBusy));
  }
  return 0;
}
