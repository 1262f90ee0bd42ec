// SPDX-License-Identifier: MIT
// Differential: the generated matmul block kernel, run on one node with timing on, against the
// bit-exact reference and within the float64 reference's bound.
#include <catch2/catch.hpp>
#include <sstream>

#include "isa/assembler.h"
#include "runtime/matmul_node.h"
#include "test_data.h"

using namespace dojosim;
using namespace dojosim::runtime;
using dojosim::test::random_matrix;

namespace {

// Edges (1, 7x9x5, primes), exactly one tile, one and two loop iterations per block
// (16 and 32 along k), tall-skinny and long k.
const MatmulShape kShapes[] = {{1, 1, 1},    {8, 8, 4},       {7, 9, 5},    {40, 50, 16},
                               {33, 47, 32}, {127, 131, 137}, {512, 8, 64}, {16, 16, 1024}};

MatmulOperands operands(MatmulShape s, MatmulInit init, uint32_t seed) {
  MatmulOperands ops{random_matrix(s.m, s.k, seed), random_matrix(s.k, s.n, seed + 1), {}, {}};
  if (init == MatmulInit::Bias) ops.bias = random_matrix(1, s.n, seed + 2).values;
  if (init == MatmulInit::Accumulate) ops.c = random_matrix(s.m, s.n, seed + 3);
  return ops;
}

// Runs one block and checks C (and D) against both references.
void check_block(const MatmulSpec& spec, MatmulShape s, uint32_t seed) {
  INFO(fmt::format("{} {}x{}x{}, init {}{}", dtype_name(spec.dtype), s.m, s.n, s.k,
                   matmul_init_name(spec.init), spec.bf16_output ? ", bf16 output" : ""));
  const MatmulOperands ops = operands(s, spec.init, seed);
  const NodeMatmulResult r = run_matmul_on_node(spec, ops, isa::CoreConfig{});
  const uint32_t kp = r.layout.a.cols;
  const Matrix exact = reference_matmul_exact(spec.dtype, spec.cfp8, spec.init, ops, kp);
  test::require_bit_exact(r.c, exact);
  test::require_within(r.c, reference_matmul_f64(spec.dtype, spec.cfp8, spec.init, ops, kp));
  if (spec.bf16_output) test::require_bit_exact(r.d, quantized(exact, DType::Bf16, {}));
}

void check_all_shapes(DType dtype, isa::Cfp8Format cfp8 = {}) {
  uint32_t seed = 1;
  for (MatmulInit init : {MatmulInit::Zero, MatmulInit::Bias, MatmulInit::Accumulate})
    for (const MatmulShape& s : kShapes) {
      MatmulSpec spec;
      spec.dtype = dtype;
      spec.init = init;
      spec.cfp8 = cfp8;
      spec.bf16_output = seed % 3 == 0;  // every third block also writes the bf16 copy
      check_block(spec, s, seed += 10);
    }
}

}  // namespace

TEST_CASE("bf16 blocks equal the bit-exact reference and lie within the float64 bound",
          "[differential][matmul]") {
  check_all_shapes(DType::Bf16);
}

TEST_CASE("cfp8 blocks equal the bit-exact reference and lie within the float64 bound",
          "[differential][matmul]") {
  check_all_shapes(DType::Cfp8);
}

TEST_CASE("cfp8 blocks use the spec's format, not the thread's default", "[differential][matmul]") {
  check_all_shapes(DType::Cfp8, isa::Cfp8Format{isa::Cfp8Layout::E5M2, 16});
}

TEST_CASE("fp32 blocks equal the bit-exact reference and lie within the float64 bound",
          "[differential][matmul]") {
  check_all_shapes(DType::Fp32);
}

TEST_CASE("every block writes the bf16 copy of C when asked", "[differential][matmul]") {
  for (DType t : {DType::Bf16, DType::Cfp8, DType::Fp32})
    for (const MatmulShape& s : {MatmulShape{7, 9, 5}, MatmulShape{127, 131, 137}}) {
      MatmulSpec spec;
      spec.dtype = t;
      spec.init = MatmulInit::Bias;
      spec.bf16_output = true;
      check_block(spec, s, 99);
    }
}

TEST_CASE(
    "a negative-zero initial value becomes +0 over the zero padding of k, as the "
    "reference says",
    "[differential][matmul]") {
  // k = 5 pads to 16 (bf16): the padding adds +0 products, and -0 + +0 = +0.
  MatmulSpec spec;
  spec.init = MatmulInit::Accumulate;
  MatmulOperands ops{Matrix(3, 5), Matrix(5, 4), {}, Matrix(3, 4, -0.0f)};
  const NodeMatmulResult r = run_matmul_on_node(spec, ops, isa::CoreConfig{});
  test::require_bit_exact(r.c,
                          reference_matmul_exact(DType::Bf16, {}, spec.init, ops, r.layout.a.cols));
  CHECK(test::bits(r.c.at(0, 0)) == 0);
}

TEST_CASE(
    "the routine can be called twice in one program, as a SUMMA step does, and keeps the "
    "caller's saved registers",
    "[differential][matmul]") {
  const isa::CoreConfig config;
  const MatmulShape s{40, 24, 48};
  MatmulSpec first, second;
  first.init = MatmulInit::Zero;
  second.init = MatmulInit::Accumulate;
  const MatmulLayout layout = matmul_layout(DType::Bf16, s, config);
  const Matrix a1 = random_matrix(s.m, s.k, 1), b1 = random_matrix(s.k, s.n, 2);
  const Matrix a2 = random_matrix(s.m, s.k, 3), b2 = random_matrix(s.k, s.n, 4);

  // Operands after a generous guess of the program's size; A2/B2 after the first block's.
  const MatmulBuffers buf1 = place_buffers(second, layout, 0x8000, config.sram_bytes);
  MatmulBuffers buf2 = place_buffers(second, layout, buf1.c + layout.c.bytes(), config.sram_bytes);
  buf2.c = buf1.c;
  std::string text = "    .text\n_start:\n";
  for (int i = 0; i < 12; ++i) text += fmt::format("    li s{}, {}\n", i, 1000 + i);
  text += "    mv s0, sp\n    li s1, 1001\n";
  text += matmul_call_asm(first, layout, buf1, "mm_first");
  text += matmul_call_asm(second, layout, buf2, "mm_second");
  // Exit code: the number of saved registers that changed (sp is compared with s0).
  text += "    li a0, 0\n    sub t0, sp, s0\n    snez t0, t0\n    add a0, a0, t0\n";
  for (int i = 1; i < 12; ++i)
    text += fmt::format("    li t1, {}\n    sub t0, s{}, t1\n    snez t0, t0\n    add a0, a0, t0\n",
                        1000 + i, i);
  text += "    li a7, 93\n    ecall\n";
  text += matmul_routine_asm(first, config, "mm_first") +
          matmul_routine_asm(second, config, "mm_second");
  const isa::Program program = isa::assemble(text, "two_calls.s");
  REQUIRE(program.end_address() <= 0x8000);

  isa::NodeRunner node(config);
  node.load(program);
  auto put = [&](uint64_t at, const Matrix& m, const TiledLayout& l) {
    const auto bytes = pack(m, l);
    node.sram().write(at, bytes.data(), bytes.size());
  };
  put(buf1.a, a1, layout.a);
  put(buf1.b, b1, layout.b);
  put(buf2.a, a2, layout.a);
  put(buf2.b, b2, layout.b);
  const isa::NodeRunResult run = node.run({});
  REQUIRE(run.outcome == isa::RunOutcome::Exited);
  CHECK(run.threads[0].exit_code == 0);

  std::vector<uint8_t> bytes(layout.c.bytes());
  node.sram().read(buf1.c, bytes.data(), bytes.size());
  const uint32_t kp = layout.a.cols;
  const Matrix c1 = reference_matmul_exact(DType::Bf16, {}, MatmulInit::Zero, {a1, b1, {}, {}}, kp);
  const Matrix c2 =
      reference_matmul_exact(DType::Bf16, {}, MatmulInit::Accumulate, {a2, b2, {}, c1}, kp);
  test::require_bit_exact(unpack(bytes.data(), layout.c, s.m, s.n), c2);
}

TEST_CASE("conv2d as im2col on the node kernel equals the bit-exact conv2d reference",
          "[differential][conv2d]") {
  Conv2dShape s;
  s.n = 2, s.h = 9, s.w = 7, s.c = 5, s.k = 6, s.r = 3, s.s = 2;
  s.stride_h = 2, s.pad_h = 1, s.dilation_w = 2;
  const std::vector<float> input = random_matrix(1, s.n * s.h * s.w * s.c, 5).values;
  const std::vector<float> weights = random_matrix(1, s.r * s.s * s.c * s.k, 6).values;
  const std::vector<float> bias = random_matrix(1, s.k, 7).values;
  for (DType t : {DType::Bf16, DType::Cfp8, DType::Fp32}) {
    INFO(dtype_name(t));
    MatmulSpec spec;
    spec.dtype = t;
    spec.init = MatmulInit::Bias;
    const NodeMatmulResult r = run_matmul_on_node(
        spec, {im2col(input, s), conv2d_weight_matrix(weights, s), bias, {}}, isa::CoreConfig{});
    const uint32_t kp = r.layout.a.cols;
    test::require_bit_exact(r.c, reference_conv2d_exact(t, {}, s, input, weights, &bias, kp));
    test::require_within(r.c, reference_conv2d_f64(t, {}, s, input, weights, &bias, kp));
  }
}
