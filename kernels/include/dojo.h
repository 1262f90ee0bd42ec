/* SPDX-License-Identifier: MIT */
/*
 * dojo.h: the dojosim node extension from C (C99/C11 or C++), for riscv64-unknown-elf-gcc.
 * See docs/kernels-c.md for how to build and run a kernel, and docs/isa.md for what each
 * instruction does.
 *
 * Vector registers (0..31), accumulators (0..7), semaphores (0..31) and barrier groups
 * (0..31) are fields of the instruction word, not registers the compiler allocates, so the
 * wrappers that name them are macros and those arguments must be integer constant
 * expressions: `DOJO_VLE(3, ptr)`, `enum { VA = 3 }; DOJO_VLE(VA, ptr)`. Scalar arguments
 * (pointers, strides, counts) are ordinary C expressions.
 *
 * Vector and accumulator state is invisible to the compiler. Every wrapper is an
 * `asm volatile`, so GCC keeps them in program order relative to each other; those that read
 * or write memory, or that order memory with other threads or nodes (push, swait, ssignal,
 * barrier), also clobber "memory", so C loads and stores are not moved across them.
 */
#ifndef DOJOSIM_KERNELS_DOJO_H
#define DOJOSIM_KERNELS_DOJO_H

#include <stdint.h>

/* ---- Encoding numbers -------------------------------------------------------------------
 * These mirror isa/instructions.def (opcode, funct3, funct7/funct2 of every extension row)
 * and isa/csr.h (CSR numbers). They are written here once; tests/isa/test_elf_c_kernels.cpp
 * compiles every wrapper below and checks that isa::decode turns each emitted word into the
 * intended instruction, so a change on either side fails that test. */
#define DOJO_OPC_VMEM 0x0B   /* custom-0: vector and accumulator memory */
#define DOJO_OPC_VARITH 0x2B /* custom-1: vector arithmetic and conversion */
#define DOJO_OPC_MATRIX 0x5B /* custom-2: matrix unit */
#define DOJO_OPC_SYNC 0x7B   /* custom-3: remote push and synchronisation */

/* custom-0 funct3 (funct7 of the strided forms = log2 of the lane bytes) */
#define DOJO_F3_VLE 0
#define DOJO_F3_VSE 1
#define DOJO_F3_VLSE 2
#define DOJO_F3_VSSE 3
#define DOJO_F3_MLD 4
#define DOJO_F3_MST 5

/* custom-1: funct3 is the lane format for arithmetic, or the rounding for conversions */
#define DOJO_FMT_FP32 0
#define DOJO_FMT_BF16 1
#define DOJO_FMT_CFP8 2
#define DOJO_F3_CVT_RNE 3
#define DOJO_F3_CVT_SR 4
/* custom-1 funct7 of the arithmetic rows */
#define DOJO_F7_VADD 0x00
#define DOJO_F7_VSUB 0x01
#define DOJO_F7_VMUL 0x02
#define DOJO_F7_VFMA 0x03
#define DOJO_F7_VMIN 0x04
#define DOJO_F7_VMAX 0x05
#define DOJO_F7_VGATE 0x10
#define DOJO_F7_VREDSUM 0x06
#define DOJO_F7_VREDMAX 0x07
#define DOJO_F7_VREDMIN 0x08
#define DOJO_F7_VBCAST 0x09
#define DOJO_F7_VMVXS 0x0A
#define DOJO_F7_VMV 0x0B
#define DOJO_F7_VEXP 0x0C
#define DOJO_F7_VRECIP 0x0D
#define DOJO_F7_VRSQRT 0x0E
#define DOJO_F7_VLOG 0x0F
/* custom-1 funct7 of the conversion rows (funct3 DOJO_F3_CVT_RNE or DOJO_F3_CVT_SR) */
#define DOJO_F7_CVT_BF16_FP32 0x01
#define DOJO_F7_CVT_CFP8_FP32 0x02
#define DOJO_F7_CVT_CFP8_BF16 0x03
#define DOJO_F7_CVT_FP32_BF16 0x04
#define DOJO_F7_CVT_FP32_CFP8 0x05
#define DOJO_F7_CVT_BF16_CFP8 0x06

/* custom-2 funct3 (funct7 0) */
#define DOJO_F3_MZERO 0
#define DOJO_F3_MMA_BF16 1
#define DOJO_F3_MMA_CFP8 2

/* custom-3 funct3 (funct7 / funct2 0) */
#define DOJO_F3_PUSH 0 /* funct2 0: push, 1: pull */
#define DOJO_F2_PUSH 0
#define DOJO_F2_PULL 1
#define DOJO_F3_SWAIT 1
#define DOJO_F3_SSIGNAL 2
#define DOJO_F3_BARRIER 3
#define DOJO_F3_SREAD 4

/* CSRs (isa/csr.h) */
#define DOJO_CSR_CYCLE 0xC00
#define DOJO_CSR_INSTRET 0xC02
#define DOJO_CSR_FMTCFG 0x800
#define DOJO_CSR_SRSEED 0x801
#define DOJO_CSR_NODEQ 0x802
#define DOJO_CSR_NODEX 0xCC0
#define DOJO_CSR_NODEY 0xCC1
#define DOJO_CSR_THREADID 0xCC2
#define DOJO_CSR_NODEID 0xCC3
#define DOJO_CSR_MESHW 0xCC4
#define DOJO_CSR_MESHH 0xCC5
#define DOJO_CSR_NTHREADS 0xCC6
#define DOJO_CSR_SRAMSIZE 0xCC7
#define DOJO_CSR_NODEOK 0xCC8

/* ecall numbers (a7) */
#define DOJO_ECALL_WRITE 64
#define DOJO_ECALL_EXIT 93

/* Machine shape of the `d1` preset. The simulator's config can change it; then build the
 * kernel with the matching -DDOJO_VLEN_BYTES=... etc. */
#ifndef DOJO_VLEN_BYTES
#define DOJO_VLEN_BYTES 64 /* vector register width: 16 fp32, 32 bf16, 64 cfp8 lanes */
#endif
#ifndef DOJO_MMA_M
#define DOJO_MMA_M 8 /* mma: acc[M x N] += A[M x K] * B[K x N] */
#endif
#ifndef DOJO_MMA_N
#define DOJO_MMA_N 8
#endif
#ifndef DOJO_MMA_K
#define DOJO_MMA_K 4 /* bf16; cfp8 uses 2K */
#endif

/* Global address of a push destination or pull source (see docs/isa.md): bit 63 set, host
 * memory at bits 62:0; else bits 62:48 node x, bits 47:32 node y, bits 31:0 offset in that
 * node's SRAM. These restate isa/global_address.h; tests/isa/test_global_address.cpp compiles
 * this header on the host and fails if the two disagree. */
#define DOJO_GLOBAL_X_SHIFT 48
#define DOJO_GLOBAL_X_MASK 0x7FFF
#define DOJO_GLOBAL_Y_SHIFT 32
#define DOJO_GLOBAL_Y_MASK 0xFFFF
#define DOJO_GLOBAL_HOST_BIT (UINT64_C(1) << 63)

/* ---- Building blocks --------------------------------------------------------------------
 * Register fields are printed as "x<n>" from an "i" operand: GNU as's `.insn` wants a
 * register name there, and any constant expression works, which stringizing would not allow.
 * binutils in Debian 12 requires the `zicsr` extension for `csrr` under -march=rv64im; `.insn`
 * writes the same word without it. */
#define DOJO_STR_(x) #x
#define DOJO_STR(x) DOJO_STR_(x)
/* A CSR number as the signed 12-bit immediate `.insn i` accepts. */
#define DOJO_CSR_IMM(csr) ((csr) >= 0x800 ? (csr)-0x1000 : (csr))

#define DOJO_INLINE static inline
#ifdef __cplusplus
extern "C" {
#endif

/* R-type with three register-number fields (vector/accumulator/semaphore numbers). */
#define DOJO_INSN_R_NNN_(OPC, F3, F7, RD, RS1, RS2)                                         \
  __asm__ volatile(".insn r " DOJO_STR(OPC) ", " DOJO_STR(F3) ", " DOJO_STR(F7)             \
                   ", x%0, x%1, x%2" ::"i"(RD), "i"(RS1), "i"(RS2))

/* ---- Vector and accumulator memory (custom-0) ------------------------------------------
 * Addresses must be 8-byte aligned for vle/vse, 4-byte for mld/mst, lane-aligned for the
 * strided forms. */

/* v[VD] = the DOJO_VLEN_BYTES bytes at ptr */
#define DOJO_VLE(VD, ptr)                                                                   \
  __asm__ volatile(".insn i " DOJO_STR(DOJO_OPC_VMEM) ", " DOJO_STR(DOJO_F3_VLE)            \
                   ", x%0, 0(%1)" ::"i"(VD), "r"(ptr) : "memory")
/* the DOJO_VLEN_BYTES bytes at ptr = v[VS] */
#define DOJO_VSE(VS, ptr)                                                                   \
  __asm__ volatile(".insn s " DOJO_STR(DOJO_OPC_VMEM) ", " DOJO_STR(DOJO_F3_VSE)            \
                   ", x%0, 0(%1)" ::"i"(VS), "r"(ptr) : "memory")

#define DOJO_VLSE_(F7, VD, ptr, stride)                                                     \
  __asm__ volatile(".insn r " DOJO_STR(DOJO_OPC_VMEM) ", " DOJO_STR(DOJO_F3_VLSE) ", " #F7  \
                   ", x%0, %1, %2" ::"i"(VD), "r"(ptr), "r"((uint64_t)(stride)) : "memory")
#define DOJO_VSSE_(F7, VS, ptr, stride)                                                     \
  __asm__ volatile(".insn r " DOJO_STR(DOJO_OPC_VMEM) ", " DOJO_STR(DOJO_F3_VSSE) ", " #F7  \
                   ", x%0, %1, %2" ::"i"(VS), "r"(ptr), "r"((uint64_t)(stride)) : "memory")
/* lane i of v[VD] = the lane at ptr + i * stride (stride in bytes) */
#define DOJO_VLSE8(VD, ptr, stride) DOJO_VLSE_(0, VD, ptr, stride)
#define DOJO_VLSE16(VD, ptr, stride) DOJO_VLSE_(1, VD, ptr, stride)
#define DOJO_VLSE32(VD, ptr, stride) DOJO_VLSE_(2, VD, ptr, stride)
/* the lane at ptr + i * stride = lane i of v[VS] */
#define DOJO_VSSE8(VS, ptr, stride) DOJO_VSSE_(0, VS, ptr, stride)
#define DOJO_VSSE16(VS, ptr, stride) DOJO_VSSE_(1, VS, ptr, stride)
#define DOJO_VSSE32(VS, ptr, stride) DOJO_VSSE_(2, VS, ptr, stride)

/* acc[ACC] = the M x N fp32 tile at ptr, row-major */
#define DOJO_MLD(ACC, ptr)                                                                  \
  __asm__ volatile(".insn i " DOJO_STR(DOJO_OPC_VMEM) ", " DOJO_STR(DOJO_F3_MLD)            \
                   ", x%0, 0(%1)" ::"i"(ACC), "r"(ptr) : "memory")
/* the M x N fp32 tile at ptr, row-major = acc[ACC] */
#define DOJO_MST(ACC, ptr)                                                                  \
  __asm__ volatile(".insn s " DOJO_STR(DOJO_OPC_VMEM) ", " DOJO_STR(DOJO_F3_MST)            \
                   ", x%0, 0(%1)" ::"i"(ACC), "r"(ptr) : "memory")

/* ---- Vector arithmetic (custom-1) ------------------------------------------------------ */
#define DOJO_VARITH_(FMT, F7, VD, VS1, VS2) DOJO_INSN_R_NNN_(DOJO_OPC_VARITH, FMT, F7, VD, VS1, VS2)

/* v[VD][i] = v[VS1][i] op v[VS2][i]; vfma: v[VD][i] += v[VS1][i] * v[VS2][i] */
#define DOJO_VADD_FP32(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VADD, VD, VS1, VS2)
#define DOJO_VADD_BF16(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_BF16, DOJO_F7_VADD, VD, VS1, VS2)
#define DOJO_VADD_CFP8(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_CFP8, DOJO_F7_VADD, VD, VS1, VS2)
#define DOJO_VSUB_FP32(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VSUB, VD, VS1, VS2)
#define DOJO_VSUB_BF16(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_BF16, DOJO_F7_VSUB, VD, VS1, VS2)
#define DOJO_VSUB_CFP8(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_CFP8, DOJO_F7_VSUB, VD, VS1, VS2)
#define DOJO_VMUL_FP32(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VMUL, VD, VS1, VS2)
#define DOJO_VMUL_BF16(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_BF16, DOJO_F7_VMUL, VD, VS1, VS2)
#define DOJO_VMUL_CFP8(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_CFP8, DOJO_F7_VMUL, VD, VS1, VS2)
#define DOJO_VFMA_FP32(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VFMA, VD, VS1, VS2)
#define DOJO_VFMA_BF16(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_BF16, DOJO_F7_VFMA, VD, VS1, VS2)
#define DOJO_VFMA_CFP8(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_CFP8, DOJO_F7_VFMA, VD, VS1, VS2)
#define DOJO_VMIN_FP32(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VMIN, VD, VS1, VS2)
#define DOJO_VMIN_BF16(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_BF16, DOJO_F7_VMIN, VD, VS1, VS2)
#define DOJO_VMIN_CFP8(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_CFP8, DOJO_F7_VMIN, VD, VS1, VS2)
#define DOJO_VMAX_FP32(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VMAX, VD, VS1, VS2)
#define DOJO_VMAX_BF16(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_BF16, DOJO_F7_VMAX, VD, VS1, VS2)
#define DOJO_VMAX_CFP8(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_CFP8, DOJO_F7_VMAX, VD, VS1, VS2)
/* v[VD][i] = v[VS1][i] where v[VS2][i] > 0, else +0 (relu's gradient) */
#define DOJO_VGATE_FP32(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VGATE, VD, VS1, VS2)
#define DOJO_VGATE_BF16(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_BF16, DOJO_F7_VGATE, VD, VS1, VS2)
#define DOJO_VGATE_CFP8(VD, VS1, VS2) DOJO_VARITH_(DOJO_FMT_CFP8, DOJO_F7_VGATE, VD, VS1, VS2)

/* lane 0 of v[VD] = sum / max / min over the lanes of v[VS1] (in lane order); others 0 */
#define DOJO_VREDSUM_FP32(VD, VS1) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VREDSUM, VD, VS1, 0)
#define DOJO_VREDSUM_BF16(VD, VS1) DOJO_VARITH_(DOJO_FMT_BF16, DOJO_F7_VREDSUM, VD, VS1, 0)
#define DOJO_VREDSUM_CFP8(VD, VS1) DOJO_VARITH_(DOJO_FMT_CFP8, DOJO_F7_VREDSUM, VD, VS1, 0)
#define DOJO_VREDMAX_FP32(VD, VS1) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VREDMAX, VD, VS1, 0)
#define DOJO_VREDMAX_BF16(VD, VS1) DOJO_VARITH_(DOJO_FMT_BF16, DOJO_F7_VREDMAX, VD, VS1, 0)
#define DOJO_VREDMAX_CFP8(VD, VS1) DOJO_VARITH_(DOJO_FMT_CFP8, DOJO_F7_VREDMAX, VD, VS1, 0)
#define DOJO_VREDMIN_FP32(VD, VS1) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VREDMIN, VD, VS1, 0)
#define DOJO_VREDMIN_BF16(VD, VS1) DOJO_VARITH_(DOJO_FMT_BF16, DOJO_F7_VREDMIN, VD, VS1, 0)
#define DOJO_VREDMIN_CFP8(VD, VS1) DOJO_VARITH_(DOJO_FMT_CFP8, DOJO_F7_VREDMIN, VD, VS1, 0)

/* every lane of v[VD] = the low 32 / 16 / 8 bits of `bits` (an integer: the lane's encoding) */
#define DOJO_VBCAST_(FMT, VD, bits)                                                         \
  __asm__ volatile(".insn r " DOJO_STR(DOJO_OPC_VARITH) ", " DOJO_STR(FMT) ", "             \
                   DOJO_STR(DOJO_F7_VBCAST) ", x%0, %1, x0" ::"i"(VD), "r"((uint64_t)(bits)))
#define DOJO_VBCAST_FP32(VD, bits) DOJO_VBCAST_(DOJO_FMT_FP32, VD, bits)
#define DOJO_VBCAST_BF16(VD, bits) DOJO_VBCAST_(DOJO_FMT_BF16, VD, bits)
#define DOJO_VBCAST_CFP8(VD, bits) DOJO_VBCAST_(DOJO_FMT_CFP8, VD, bits)

/* The encoding of lane 0 of v[VS1]: fp32 bits sign-extended, bf16/cfp8 bits zero-extended.
 * A GNU statement expression, so it works where a value is expected. */
#define DOJO_VMV_X_(FMT, VS1)                                                               \
  __extension__({                                                                           \
    uint64_t dojo_v_;                                                                       \
    __asm__ volatile(".insn r " DOJO_STR(DOJO_OPC_VARITH) ", " DOJO_STR(FMT) ", "           \
                     DOJO_STR(DOJO_F7_VMVXS) ", %0, x%1, x0" : "=r"(dojo_v_) : "i"(VS1));   \
    dojo_v_;                                                                                \
  })
#define DOJO_VMV_X_FP32(VS1) ((uint32_t)DOJO_VMV_X_(DOJO_FMT_FP32, VS1))
#define DOJO_VMV_X_BF16(VS1) ((uint16_t)DOJO_VMV_X_(DOJO_FMT_BF16, VS1))
#define DOJO_VMV_X_CFP8(VS1) ((uint8_t)DOJO_VMV_X_(DOJO_FMT_CFP8, VS1))

/* v[VD] = v[VS1] */
#define DOJO_VMV(VD, VS1) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VMV, VD, VS1, 0)

/* Elementary functions on fp32 lanes (isa/vector_math.h): v[VD] = exp, 1/x, rsqrt, ln of v[VS1] */
#define DOJO_VEXP_FP32(VD, VS1) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VEXP, VD, VS1, 0)
#define DOJO_VRECIP_FP32(VD, VS1) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VRECIP, VD, VS1, 0)
#define DOJO_VRSQRT_FP32(VD, VS1) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VRSQRT, VD, VS1, 0)
#define DOJO_VLOG_FP32(VD, VS1) DOJO_VARITH_(DOJO_FMT_FP32, DOJO_F7_VLOG, VD, VS1, 0)

/* Conversions. Narrowing (to a smaller format) writes part PART of v[VD] and keeps the rest;
 * widening reads part PART of v[VS1]. `_SR` rounds stochastically (seed: dojo_set_srseed). */
#define DOJO_VCVT_(F3, F7, VD, VS1, PART) DOJO_INSN_R_NNN_(DOJO_OPC_VARITH, F3, F7, VD, VS1, PART)
#define DOJO_VCVT_BF16_FP32(VD, VS1, PART) \
  DOJO_VCVT_(DOJO_F3_CVT_RNE, DOJO_F7_CVT_BF16_FP32, VD, VS1, PART)
#define DOJO_VCVT_CFP8_FP32(VD, VS1, PART) \
  DOJO_VCVT_(DOJO_F3_CVT_RNE, DOJO_F7_CVT_CFP8_FP32, VD, VS1, PART)
#define DOJO_VCVT_CFP8_BF16(VD, VS1, PART) \
  DOJO_VCVT_(DOJO_F3_CVT_RNE, DOJO_F7_CVT_CFP8_BF16, VD, VS1, PART)
#define DOJO_VCVT_FP32_BF16(VD, VS1, PART) \
  DOJO_VCVT_(DOJO_F3_CVT_RNE, DOJO_F7_CVT_FP32_BF16, VD, VS1, PART)
#define DOJO_VCVT_FP32_CFP8(VD, VS1, PART) \
  DOJO_VCVT_(DOJO_F3_CVT_RNE, DOJO_F7_CVT_FP32_CFP8, VD, VS1, PART)
#define DOJO_VCVT_BF16_CFP8(VD, VS1, PART) \
  DOJO_VCVT_(DOJO_F3_CVT_RNE, DOJO_F7_CVT_BF16_CFP8, VD, VS1, PART)
#define DOJO_VCVT_BF16_FP32_SR(VD, VS1, PART) \
  DOJO_VCVT_(DOJO_F3_CVT_SR, DOJO_F7_CVT_BF16_FP32, VD, VS1, PART)
#define DOJO_VCVT_CFP8_FP32_SR(VD, VS1, PART) \
  DOJO_VCVT_(DOJO_F3_CVT_SR, DOJO_F7_CVT_CFP8_FP32, VD, VS1, PART)
#define DOJO_VCVT_CFP8_BF16_SR(VD, VS1, PART) \
  DOJO_VCVT_(DOJO_F3_CVT_SR, DOJO_F7_CVT_CFP8_BF16, VD, VS1, PART)

/* ---- Matrix unit (custom-2) ------------------------------------------------------------ */
/* acc[ACC] = 0 */
#define DOJO_MZERO(ACC) DOJO_INSN_R_NNN_(DOJO_OPC_MATRIX, DOJO_F3_MZERO, 0, ACC, 0, 0)
/* acc[ACC] (M x N fp32) += A (M x K, v[VS1]) * B (K x N, v[VS2]), both row-major bf16 */
#define DOJO_MMA_BF16(ACC, VS1, VS2) \
  DOJO_INSN_R_NNN_(DOJO_OPC_MATRIX, DOJO_F3_MMA_BF16, 0, ACC, VS1, VS2)
/* the same with cfp8 A (M x 2K) and B (2K x N), format from fmtcfg */
#define DOJO_MMA_CFP8(ACC, VS1, VS2) \
  DOJO_INSN_R_NNN_(DOJO_OPC_MATRIX, DOJO_F3_MMA_CFP8, 0, ACC, VS1, VS2)

/* ---- Remote push and synchronisation (custom-3) ----------------------------------------- */

/* Global address of `offset` in the SRAM of node (x, y). */
DOJO_INLINE uint64_t dojo_global_addr(uint32_t x, uint32_t y, uint32_t offset) {
  return ((uint64_t)(x & DOJO_GLOBAL_X_MASK) << DOJO_GLOBAL_X_SHIFT) |
         ((uint64_t)(y & DOJO_GLOBAL_Y_MASK) << DOJO_GLOBAL_Y_SHIFT) | offset;
}

/* DMA `len` bytes from local `src` to global address `dst_global`; when all have arrived,
 * semaphore SEM at the destination node is incremented (SEM 0: no signal). The push returns
 * at once; only the semaphore tells that the data is there. */
#define dojo_push(dst_global, src, len, SEM)                                                \
  __asm__ volatile(".insn r4 " DOJO_STR(DOJO_OPC_SYNC) ", " DOJO_STR(DOJO_F3_PUSH) ", "   \
                   DOJO_STR(DOJO_F2_PUSH) ", x%0, %1, %2, %3" ::"i"(SEM), "r"(src),             \
                   "r"((uint64_t)(dst_global)), "r"((uint64_t)(len)) : "memory")

/* DMA `len` bytes from global address `src_global` (another node's SRAM, or host memory with
 * DOJO_GLOBAL_HOST_BIT) to local `dst`; when all have arrived, local semaphore SEM is
 * incremented (SEM 0: no signal). Returns at once, like dojo_push. */
#define dojo_pull(dst, src_global, len, SEM)                                                \
  __asm__ volatile(".insn r4 " DOJO_STR(DOJO_OPC_SYNC) ", " DOJO_STR(DOJO_F3_PUSH) ", "   \
                   DOJO_STR(DOJO_F2_PULL) ", x%0, %1, %2, %3" ::"i"(SEM),                    \
                   "r"((uint64_t)(src_global)), "r"(dst), "r"((uint64_t)(len)) : "memory")

/* Wait until local semaphore SEM >= n, then subtract n. */
#define dojo_swait(SEM, n)                                                                  \
  __asm__ volatile(".insn r " DOJO_STR(DOJO_OPC_SYNC) ", " DOJO_STR(DOJO_F3_SWAIT)          \
                   ", 0, x%0, %1, x0" ::"i"(SEM), "r"((uint64_t)(n)) : "memory")
/* Add n to local semaphore SEM. */
#define dojo_ssignal(SEM, n)                                                                \
  __asm__ volatile(".insn r " DOJO_STR(DOJO_OPC_SYNC) ", " DOJO_STR(DOJO_F3_SSIGNAL)        \
                   ", 0, x%0, %1, x0" ::"i"(SEM), "r"((uint64_t)(n)) : "memory")
/* The value of local semaphore SEM (a statement expression). */
#define dojo_sread(SEM)                                                                     \
  __extension__({                                                                           \
    uint64_t dojo_v_;                                                                       \
    __asm__ volatile(".insn r " DOJO_STR(DOJO_OPC_SYNC) ", " DOJO_STR(DOJO_F3_SREAD)        \
                     ", 0, %0, x%1, x0" : "=r"(dojo_v_) : "i"(SEM) : "memory");             \
    dojo_v_;                                                                                \
  })
/* Wait until every member of barrier group GROUP has arrived. On a single node every started
 * thread is a member, and one that has exited never arrives (the run ends in deadlock). */
#define dojo_barrier(GROUP)                                                                 \
  __asm__ volatile(".insn r " DOJO_STR(DOJO_OPC_SYNC) ", " DOJO_STR(DOJO_F3_BARRIER)        \
                   ", 0, x%0, x0, x0" ::"i"(GROUP) : "memory")

/* ---- CSRs ------------------------------------------------------------------------------ */
#define DOJO_CSR_READ(CSR)                                                                  \
  __extension__({                                                                           \
    uint64_t dojo_v_;                                                                       \
    __asm__ volatile(".insn i 0x73, 2, %0, x0, %1" : "=r"(dojo_v_) : "i"(DOJO_CSR_IMM(CSR))); \
    dojo_v_;                                                                                \
  })
#define DOJO_CSR_WRITE(CSR, value)                                                          \
  __asm__ volatile(".insn i 0x73, 1, x0, %0, %1" ::"r"((uint64_t)(value)),                  \
                   "i"(DOJO_CSR_IMM(CSR)))

/* Cycles of this thread so far (its instruction count when timing is off). */
DOJO_INLINE uint64_t dojo_cycles(void) { return DOJO_CSR_READ(DOJO_CSR_CYCLE); }
DOJO_INLINE uint64_t dojo_instret(void) { return DOJO_CSR_READ(DOJO_CSR_INSTRET); }
DOJO_INLINE uint32_t dojo_node_x(void) { return (uint32_t)DOJO_CSR_READ(DOJO_CSR_NODEX); }
DOJO_INLINE uint32_t dojo_node_y(void) { return (uint32_t)DOJO_CSR_READ(DOJO_CSR_NODEY); }
DOJO_INLINE uint32_t dojo_node_id(void) { return (uint32_t)DOJO_CSR_READ(DOJO_CSR_NODEID); }
DOJO_INLINE uint32_t dojo_mesh_w(void) { return (uint32_t)DOJO_CSR_READ(DOJO_CSR_MESHW); }
DOJO_INLINE uint32_t dojo_mesh_h(void) { return (uint32_t)DOJO_CSR_READ(DOJO_CSR_MESHH); }
/* Hardware thread number within the node, 0..dojo_num_threads()-1. */
DOJO_INLINE uint32_t dojo_thread_id(void) { return (uint32_t)DOJO_CSR_READ(DOJO_CSR_THREADID); }
DOJO_INLINE uint32_t dojo_num_threads(void) { return (uint32_t)DOJO_CSR_READ(DOJO_CSR_NTHREADS); }
DOJO_INLINE uint64_t dojo_sram_size(void) { return DOJO_CSR_READ(DOJO_CSR_SRAMSIZE); }
/* cfp8 format of this thread: bits 5:0 exponent bias, bit 6 layout (0 = 1-4-3, 1 = 1-5-2). */
DOJO_INLINE uint64_t dojo_fmtcfg(void) { return DOJO_CSR_READ(DOJO_CSR_FMTCFG); }
DOJO_INLINE void dojo_set_fmtcfg(uint64_t value) { DOJO_CSR_WRITE(DOJO_CSR_FMTCFG, value); }
/* Restarts this thread's stochastic-rounding sequence from `seed`. */
DOJO_INLINE uint64_t dojo_srseed(void) { return DOJO_CSR_READ(DOJO_CSR_SRSEED); }
DOJO_INLINE void dojo_set_srseed(uint64_t seed) { DOJO_CSR_WRITE(DOJO_CSR_SRSEED, seed); }

/* Which nodes exist and are usable (a die has disabled positions, configs/d1.yaml six): write
 * a global address to nodeq, and nodeok reads 1 if its node is in the mesh and usable, else 0.
 * nodeq is this thread's own; the offset bits are ignored. */
DOJO_INLINE uint64_t dojo_nodeq(void) { return DOJO_CSR_READ(DOJO_CSR_NODEQ); }
DOJO_INLINE void dojo_set_nodeq(uint64_t global) { DOJO_CSR_WRITE(DOJO_CSR_NODEQ, global); }
DOJO_INLINE uint64_t dojo_nodeok(void) { return DOJO_CSR_READ(DOJO_CSR_NODEOK); }
/* 1 if node (x, y) is in the mesh and usable, so that a push to it cannot trap for its node. */
DOJO_INLINE int dojo_node_usable(uint32_t x, uint32_t y) {
  dojo_set_nodeq(dojo_global_addr(x, y, 0));
  return (int)dojo_nodeok();
}

/* Global address of a local pointer, for pushes into this node's own SRAM. */
DOJO_INLINE uint64_t dojo_local_global_addr(const void* p) {
  return dojo_global_addr(dojo_node_x(), dojo_node_y(), (uint32_t)(uintptr_t)p);
}

/* ---- System calls ---------------------------------------------------------------------- */

/* Writes len bytes to fd 1 (stdout) or 2 (stderr), unbuffered; returns len. The simulator
 * prints each line with a "[x,y tN] " prefix. */
DOJO_INLINE long dojo_write(int fd, const void* buf, unsigned long len) {
  register long a0 __asm__("a0") = fd;
  register const void* a1 __asm__("a1") = buf;
  register unsigned long a2 __asm__("a2") = len;
  register long a7 __asm__("a7") = DOJO_ECALL_WRITE;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
  return a0;
}

/* Flushes this thread's buffered stdio output; defined by kernels/runtime/syscalls.c and
 * weak here so that dojo.h works without that runtime. */
extern void __dojo_stdio_flush(void) __attribute__((weak));

/* Ends this thread with exit code `code` (after flushing its stdio buffers). Other threads
 * keep running. */
DOJO_INLINE __attribute__((noreturn)) void dojo_exit(int code) {
  if (__dojo_stdio_flush) __dojo_stdio_flush();
  register long a0 __asm__("a0") = code;
  register long a7 __asm__("a7") = DOJO_ECALL_EXIT;
  __asm__ volatile("ecall" ::"r"(a0), "r"(a7) : "memory");
  __builtin_unreachable();
}

/* ---- Number helpers -------------------------------------------------------------------- */

DOJO_INLINE uint32_t dojo_f32_bits(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, sizeof u);
  return u;
}
DOJO_INLINE float dojo_f32_from_bits(uint32_t u) {
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}
/* float -> bf16 rounded to nearest even, as vcvt.bf16.fp32 rounds (a NaN stays a NaN). */
DOJO_INLINE uint16_t dojo_bf16_from_f32(float f) {
  uint32_t u = dojo_f32_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
DOJO_INLINE float dojo_f32_from_bf16(uint16_t h) { return dojo_f32_from_bits((uint32_t)h << 16); }

#ifdef __cplusplus
}
#endif

#endif /* DOJOSIM_KERNELS_DOJO_H */
