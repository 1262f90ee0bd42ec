// SPDX-License-Identifier: MIT
// A small matmul on the installed tiny config (4 x 4 nodes) through the runtime API, checked bit
// for bit against the runtime's reference. Exit 0 only if every element matches.
//   usage: matmul_check [CONFIG.yaml]   (default: the installed configs/tiny.yaml)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "hw/config/config_io.h"
#include "runtime/mesh/mesh_matmul.h"
#include "runtime/reference.h"

using namespace dojosim;

static const bool kQuietSystemC = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0) == 0;

// libsystemc provides main() and calls sc_main().
extern "C" int sc_main(int argc, char** argv) {
  try {
    const hw::HardwareConfig config = hw::load_config(argc > 1 ? argv[1] : TINY_CONFIG).config;
    runtime::MatmulOperands ops;
    ops.a = runtime::Matrix(48, 64);
    ops.b = runtime::Matrix(64, 40);
    for (uint32_t i = 0; i < 48; ++i)
      for (uint32_t k = 0; k < 64; ++k) ops.a.at(i, k) = float((i * 3 + k) % 11) / 8.0f - 0.5f;
    for (uint32_t k = 0; k < 64; ++k)
      for (uint32_t j = 0; j < 40; ++j) ops.b.at(k, j) = float((k + j * 5) % 7) / 4.0f - 0.75f;
    const runtime::MeshMatmulOptions options;
    const runtime::MeshMatmulResult r =
        run_matmul(config, runtime::DType::Bf16, ops, runtime::MatmulInit::Zero, options);
    if (!r.ok) {
      std::fprintf(stderr, "matmul_check: the run failed: %s\n", r.outcome.c_str());
      return 3;
    }
    const runtime::Matrix want = runtime::reference_matmul_exact(
        runtime::DType::Bf16, options.cfp8, runtime::MatmulInit::Zero, ops, r.plan.padded_k);
    size_t differ = 0;
    for (size_t i = 0; i < want.values.size(); ++i)
      differ += std::memcmp(&want.values[i], &r.c.values[i], 4) != 0;
    std::printf(
        "matmul 48x40x64 bf16 on %ux%u nodes: %llu cycles; %zu of %zu elements differ "
        "from the reference\n",
        r.plan.grid_rows, r.plan.grid_cols, static_cast<unsigned long long>(r.cycles), differ,
        want.values.size());
    return differ == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "matmul_check: %s\n", e.what());
    return 2;
  }
}
