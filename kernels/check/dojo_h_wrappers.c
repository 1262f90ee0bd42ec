/* SPDX-License-Identifier: MIT */
/*
 * One function per dojo.h wrapper, named after the instruction it must produce: w_<Op> for
 * the extension (Op as in isa/instructions.def), csr_<name> / csrw_<name> for CSR access.
 * tests/isa/test_elf_c_kernels.cpp finds each function in the linked ELF, decodes its words
 * with isa::decode and checks the instruction and its fields, and that every extension
 * instruction of the table has a function here. Not meant to run.
 *
 * Field convention the test relies on: a register-number operand in the rd field is 5, in the
 * rs1 field 6, in the rs2 field 7; a conversion's part is 1.
 */
#include "dojo.h"

#define KEEP __attribute__((used, retain, noinline))
#define W(OP, ...) KEEP void w_##OP(void* p, uint64_t n) { (void)p; (void)n; __VA_ARGS__; }

/* vector and accumulator memory */
W(VLE, DOJO_VLE(5, p))
W(VSE, DOJO_VSE(7, p))
W(VLSE8, DOJO_VLSE8(5, p, n))
W(VLSE16, DOJO_VLSE16(5, p, n))
W(VLSE32, DOJO_VLSE32(5, p, n))
W(VSSE8, DOJO_VSSE8(5, p, n))
W(VSSE16, DOJO_VSSE16(5, p, n))
W(VSSE32, DOJO_VSSE32(5, p, n))
W(MLD, DOJO_MLD(5, p))
W(MST, DOJO_MST(7, p))

/* vector arithmetic */
#define W3(OP, MACRO) \
  W(OP##_F32, DOJO_##MACRO##_FP32(5, 6, 7)) W(OP##_BF16, DOJO_##MACRO##_BF16(5, 6, 7)) \
  W(OP##_CFP8, DOJO_##MACRO##_CFP8(5, 6, 7))
W3(VADD, VADD)
W3(VSUB, VSUB)
W3(VMUL, VMUL)
W3(VFMA, VFMA)
W3(VMIN, VMIN)
W3(VMAX, VMAX)
W3(VGATE, VGATE)
#define W2(OP, MACRO) \
  W(OP##_F32, DOJO_##MACRO##_FP32(5, 6)) W(OP##_BF16, DOJO_##MACRO##_BF16(5, 6)) \
  W(OP##_CFP8, DOJO_##MACRO##_CFP8(5, 6))
W2(VREDSUM, VREDSUM)
W2(VREDMAX, VREDMAX)
W2(VREDMIN, VREDMIN)
W(VBCAST_F32, DOJO_VBCAST_FP32(5, n))
W(VBCAST_BF16, DOJO_VBCAST_BF16(5, n))
W(VBCAST_CFP8, DOJO_VBCAST_CFP8(5, n))
W(VMVXS_F32, *(volatile uint32_t*)p = DOJO_VMV_X_FP32(6))
W(VMVXS_BF16, *(volatile uint16_t*)p = DOJO_VMV_X_BF16(6))
W(VMVXS_CFP8, *(volatile uint8_t*)p = DOJO_VMV_X_CFP8(6))
W(VMV, DOJO_VMV(5, 6))
W(VEXP_F32, DOJO_VEXP_FP32(5, 6))
W(VRECIP_F32, DOJO_VRECIP_FP32(5, 6))
W(VRSQRT_F32, DOJO_VRSQRT_FP32(5, 6))
W(VLOG_F32, DOJO_VLOG_FP32(5, 6))
W(VCVT_BF16_F32, DOJO_VCVT_BF16_FP32(5, 6, 1))
W(VCVT_CFP8_F32, DOJO_VCVT_CFP8_FP32(5, 6, 1))
W(VCVT_CFP8_BF16, DOJO_VCVT_CFP8_BF16(5, 6, 1))
W(VCVT_F32_BF16, DOJO_VCVT_FP32_BF16(5, 6, 1))
W(VCVT_F32_CFP8, DOJO_VCVT_FP32_CFP8(5, 6, 1))
W(VCVT_BF16_CFP8, DOJO_VCVT_BF16_CFP8(5, 6, 1))
W(VCVT_BF16_F32_SR, DOJO_VCVT_BF16_FP32_SR(5, 6, 1))
W(VCVT_CFP8_F32_SR, DOJO_VCVT_CFP8_FP32_SR(5, 6, 1))
W(VCVT_CFP8_BF16_SR, DOJO_VCVT_CFP8_BF16_SR(5, 6, 1))

/* matrix unit */
W(MZERO, DOJO_MZERO(5))
W(MMA_BF16, DOJO_MMA_BF16(5, 6, 7))
W(MMA_CFP8, DOJO_MMA_CFP8(5, 6, 7))

/* push and synchronisation */
W(PUSH, dojo_push(n, p, n + 1, 5))
W(PULL, dojo_pull(p, n, n + 1, 5))
W(SWAIT, dojo_swait(5, n))
W(SSIGNAL, dojo_ssignal(5, n))
W(SREAD, *(volatile uint64_t*)p = dojo_sread(6))
W(BARRIER, dojo_barrier(5))

/* CSRs */
#define R(NAME, CALL) KEEP uint64_t csr_##NAME(void) { return CALL; }
R(cycle, dojo_cycles())
R(instret, dojo_instret())
R(nodex, dojo_node_x())
R(nodey, dojo_node_y())
R(threadid, dojo_thread_id())
R(nodeid, dojo_node_id())
R(meshw, dojo_mesh_w())
R(meshh, dojo_mesh_h())
R(nthreads, dojo_num_threads())
R(sramsize, dojo_sram_size())
R(fmtcfg, dojo_fmtcfg())
R(srseed, dojo_srseed())
KEEP void csrw_fmtcfg(uint64_t v) { dojo_set_fmtcfg(v); }
KEEP void csrw_srseed(uint64_t v) { dojo_set_srseed(v); }
R(nodeq, dojo_nodeq())
R(nodeok, dojo_nodeok())
KEEP void csrw_nodeq(uint64_t v) { dojo_set_nodeq(v); }

int main(void) { return 0; }
