# SPDX-License-Identifier: MIT
# Seed: vector, conversion and matrix instructions on tiles in .data.
    .text
    .globl _start
_start:
    la      a0, tiles
    li      t0, 0x3f803f80
    vbcast.fp32 v1, t0
    vbcast.bf16 v2, t0
    vbcast.cfp8 v3, t0
    vse     v1, 0(a0)
    vle     v4, 0(a0)
    li      t1, 4
    vlse32  v5, (a0), t1
    vsse16  v5, (a0), t1
    vadd.fp32 v6, v4, v5
    vsub.bf16 v7, v4, v5
    vmul.cfp8 v8, v4, v5
    vfma.fp32 v6, v4, v5
    vmin.fp32 v9, v4, v5
    vmax.bf16 v9, v4, v5
    vredsum.fp32 v10, v6
    vredmax.bf16 v11, v7
    vredmin.cfp8 v12, v8
    vmv.x.fp32 a1, v10
    vmv.x.bf16 a2, v11
    vmv.x.cfp8 a3, v12
    vmv     v13, v10
    vcvt.bf16.fp32 v14, v6, 1
    vcvt.cfp8.fp32.sr v15, v6, 3
    vcvt.fp32.bf16 v16, v14, 0
    vcvt.fp32.cfp8 v17, v15, 2
    vcvt.bf16.cfp8 v18, v15, 1
    mzero   acc0
    mma.bf16 acc0, v2, v2
    mma.bf16 acc1, v2, v2
    mma.cfp8 acc2, v3, v3
    mst     acc0, 256(a0)
    mld     acc3, 256(a0)
    li      a0, 0
    li      a7, 93
    ecall

    .data
    .align 6
tiles:
    .space 512
