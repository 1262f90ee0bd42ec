// SPDX-License-Identifier: MIT
// A matmul across a mesh through the runtime's C++ API: describe the operands, run a mapping
// on the machine a config describes, read C back and check it. The walk-through is README.md.
//   usage: matmul_example CONFIG.yaml [MAPPING]
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <cstring>
#include <string>

#include "hw/config/config_io.h"
#include "runtime/mesh/mesh_matmul.h"
#include "runtime/reference.h"

using namespace dojosim;

// SystemC prints a banner before sc_main unless this is set during static initialisation.
static const bool kQuietSystemC = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0) == 0;

// libsystemc provides main() and calls sc_main(): a program that builds a machine defines this.
extern "C" int sc_main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CONFIG.yaml [MAPPING]\n", argv[0]);
    return 2;
  }
  try {
    // 1. The machine: any config, here from the command line (configs/tiny.yaml is 4 x 4 nodes).
    const hw::HardwareConfig config = hw::load_config(argv[1]).config;

    // 2. The operands, as host values: A is 96 x 80, B is 80 x 72, plus a bias row for C.
    runtime::MatmulOperands ops;
    ops.a = runtime::Matrix(96, 80);
    ops.b = runtime::Matrix(80, 72);
    for (uint32_t i = 0; i < 96; ++i)
      for (uint32_t k = 0; k < 80; ++k) ops.a.at(i, k) = float((i * 7 + k * 3) % 17) / 16.0f - 0.5f;
    for (uint32_t k = 0; k < 80; ++k)
      for (uint32_t j = 0; j < 72; ++j) ops.b.at(k, j) = float((k * 5 + j) % 13) / 8.0f - 0.75f;
    ops.bias.assign(72, 0.25f);

    // 3. Run: the runtime packs A and B in bf16 into the nodes' SRAM, generates the node
    //    program of the mapping, runs the machine and reads C (fp32) back.
    runtime::MeshMatmulOptions options;
    if (argc > 2) options.mapping = runtime::parse_mapping(argv[2]);
    const runtime::MeshMatmulResult r =
        run_matmul(config, runtime::DType::Bf16, ops, runtime::MatmulInit::Bias, options);
    if (!r.ok) {
      std::fprintf(stderr, "the run failed: %s\n", r.outcome.c_str());
      return 3;
    }
    std::printf("mapping %s on a %ux%u grid: %llu cycles, %.1f%% of the machine's bf16 peak\n",
                std::string(runtime::mapping_name(r.plan.mapping)).c_str(), r.plan.grid_rows,
                r.plan.grid_cols, static_cast<unsigned long long>(r.cycles),
                100.0 * r.flop_per_s / r.peak_flop_per_s);

    // 4. Check: bit for bit against the reference that adds in the order of the mapping the
    //    plan chose (auto picks one by estimate).
    const runtime::Matrix want = runtime::reference_mesh_matmul_exact(
        runtime::DType::Bf16, options.cfp8, runtime::MatmulInit::Bias, ops, r.plan);
    size_t differ = 0;
    for (size_t i = 0; i < want.values.size(); ++i)
      differ += std::memcmp(&want.values[i], &r.c.values[i], 4) != 0;
    std::printf("C[0][0] = %g, C[95][71] = %g; %zu of %zu elements differ from the reference\n",
                r.c.at(0, 0), r.c.at(95, 71), differ, want.values.size());
    return differ == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    // A bad config file or mapping name, operands that do not fit.
    std::fprintf(stderr, "matmul_example: %s\n", e.what());
    return 2;
  }
}
