// SPDX-License-Identifier: MIT
// The node-level matmul block kernel: C[m x n] (fp32) = init + A[m x k] * B[k x n], with init
// zero, a bias row, or the existing C (accumulate), for bf16 and cfp8 operands on the matrix
// unit and fp32 operands on the SIMD unit. Optionally also writes C rounded to bf16 into D.
//
// A generator emits a routine in our assembly, specialised for a MatmulSpec (dtype, init,
// output) but generic in the block shape and the buffers, which it takes in registers, so a
// mesh mapping calls one routine once per SUMMA/Cannon step with different buffers:
//
//   a0 = A   a1 = B   a2 = C   a3 = bias (MatmulInit::Bias; else unused)
//   a4 = row blocks   a5 = column blocks   a6 = k iterations  (from MatmulLayout)
//   a7 = D (bf16_output; else unused)
//
// It returns with `ret`; it preserves sp, ra, gp, tp and s0-s11 (standard RISC-V ABI) and the
// thread's fmtcfg, and clobbers t0-t6, a0-a7, every vector register and every accumulator. It
// needs 64 bytes of stack. Operands use the layouts of MatmulLayout (docs/runtime-kernels.md),
// which the host fills with pack()/unpack() (runtime/layout.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "isa/interpreter.h"
#include "isa/program.h"
#include "runtime/layout.h"
#include "runtime/matmul.h"
#include "runtime/tensor.h"

namespace dojosim::runtime {

/// What a generated routine is specialised for.
struct MatmulSpec {
  DType dtype = DType::Bf16;
  MatmulInit init = MatmulInit::Zero;
  bool bf16_output = false;  ///< after the block, also write bf16(C) into D (RNE)
  isa::Cfp8Format cfp8{};    ///< format of cfp8 operands (the routine sets fmtcfg to it)
};

/// Where one call's operands sit and how: padded sizes, layouts and the argument registers.
/// Padding is zero; padded rows and columns of C come out as (init + 0).
struct MatmulLayout {
  DType dtype = DType::Bf16;
  MatmulShape shape;
  uint32_t row_blocks = 0, col_blocks = 0, k_iterations = 0;  ///< a4, a5, a6
  TiledLayout a, b;                                           ///< m x k and k x n operands, padded
  TiledLayout c;     ///< fp32 result (and accumulate input)
  TiledLayout bias;  ///< the bias row repeated c.tile_rows times: pack with pack_bias()
  TiledLayout d;     ///< bf16 copy of C: c's layout with 2-byte elements
};

/// Throws std::invalid_argument naming the value if a dimension is 0 or the config's matrix
/// unit does not suit the generator.
MatmulLayout matmul_layout(DType dtype, MatmulShape shape, const isa::CoreConfig& config);

/// Bytes of the bias operand: bias (n values) repeated in every row of layout.bias.
std::vector<uint8_t> pack_bias(const std::vector<float>& bias, const MatmulLayout& layout);

/// SRAM addresses of one call's operands (unused ones are ignored).
struct MatmulBuffers {
  uint64_t a = 0, b = 0, c = 0, bias = 0, d = 0;
};

/// Throws std::invalid_argument unless every buffer the spec uses is 8-byte aligned, lies in
/// [0, sram_bytes) and overlaps no other.
void check_buffers(const MatmulSpec& spec, const MatmulLayout& layout, const MatmulBuffers& buf,
                   uint64_t sram_bytes);
/// The buffers one after another from `base`, each aligned to `align` bytes; throws
/// std::invalid_argument naming the block and the bytes needed if they pass `limit`.
MatmulBuffers place_buffers(const MatmulSpec& spec, const MatmulLayout& layout, uint64_t base,
                            uint64_t limit, uint64_t align = 64);

/// The routine `label` for spec (text, and a .data zero tile when the spec needs one).
std::string matmul_routine_asm(const MatmulSpec& spec, const isa::CoreConfig& config,
                               const std::string& label = "matmul_block");
/// Instructions that load a0-a7 for one call and `call label`.
std::string matmul_call_asm(const MatmulSpec& spec, const MatmulLayout& layout,
                            const MatmulBuffers& buf, const std::string& label = "matmul_block");
/// The text of a one-node program (text at 0): _start calls the routine once, then exits with
/// code 0.
std::string matmul_program_asm(const MatmulSpec& spec, const MatmulLayout& layout,
                               const MatmulBuffers& buf, const isa::CoreConfig& config);
/// matmul_program_asm() assembled; throws std::invalid_argument if a buffer overlaps another,
/// the program or the stack (NodeRunOptions' default), or lies outside SRAM.
isa::Program matmul_program(const MatmulSpec& spec, const MatmulLayout& layout,
                            const MatmulBuffers& buf, const isa::CoreConfig& config);

/// The node's peak FLOP per cycle for dtype: the matrix unit for bf16/cfp8, the SIMD unit for
/// fp32, from the config's shapes and unit occupancies.
double peak_flops_per_cycle(DType dtype, const isa::CoreConfig& config);

}  // namespace dojosim::runtime
