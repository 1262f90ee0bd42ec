# SPDX-License-Identifier: MIT
# peak_mma.s — the matrix unit at its peak: each node multiplies two bf16 tiles held in
# registers into 8 accumulators, 64 mma.bf16 per loop iteration, 200 iterations.
# 12,800 blocks x 256 MAC x 2 FLOP per node; at one block per cycle that is the node's
# published 1,024 GFLOP/s. Run on every node of a die:
#   dojosim run --config configs/d1.yaml --program kernels/asm/peak_mma.s

    .text
    .globl _start
_start:
    la      a0, tiles
    vle     v1, 0(a0)           # A: 8x4 bf16
    vle     v2, 64(a0)          # B: 4x8 bf16
    li      t0, 200
loop:
    addi    t0, t0, -1          # early, so that the branch does not wait for it
    mma.bf16 acc0, v1, v2
    mma.bf16 acc1, v1, v2
    mma.bf16 acc2, v1, v2
    mma.bf16 acc3, v1, v2
    mma.bf16 acc4, v1, v2
    mma.bf16 acc5, v1, v2
    mma.bf16 acc6, v1, v2
    mma.bf16 acc7, v1, v2
    mma.bf16 acc0, v1, v2
    mma.bf16 acc1, v1, v2
    mma.bf16 acc2, v1, v2
    mma.bf16 acc3, v1, v2
    mma.bf16 acc4, v1, v2
    mma.bf16 acc5, v1, v2
    mma.bf16 acc6, v1, v2
    mma.bf16 acc7, v1, v2
    mma.bf16 acc0, v1, v2
    mma.bf16 acc1, v1, v2
    mma.bf16 acc2, v1, v2
    mma.bf16 acc3, v1, v2
    mma.bf16 acc4, v1, v2
    mma.bf16 acc5, v1, v2
    mma.bf16 acc6, v1, v2
    mma.bf16 acc7, v1, v2
    mma.bf16 acc0, v1, v2
    mma.bf16 acc1, v1, v2
    mma.bf16 acc2, v1, v2
    mma.bf16 acc3, v1, v2
    mma.bf16 acc4, v1, v2
    mma.bf16 acc5, v1, v2
    mma.bf16 acc6, v1, v2
    mma.bf16 acc7, v1, v2
    mma.bf16 acc0, v1, v2
    mma.bf16 acc1, v1, v2
    mma.bf16 acc2, v1, v2
    mma.bf16 acc3, v1, v2
    mma.bf16 acc4, v1, v2
    mma.bf16 acc5, v1, v2
    mma.bf16 acc6, v1, v2
    mma.bf16 acc7, v1, v2
    mma.bf16 acc0, v1, v2
    mma.bf16 acc1, v1, v2
    mma.bf16 acc2, v1, v2
    mma.bf16 acc3, v1, v2
    mma.bf16 acc4, v1, v2
    mma.bf16 acc5, v1, v2
    mma.bf16 acc6, v1, v2
    mma.bf16 acc7, v1, v2
    mma.bf16 acc0, v1, v2
    mma.bf16 acc1, v1, v2
    mma.bf16 acc2, v1, v2
    mma.bf16 acc3, v1, v2
    mma.bf16 acc4, v1, v2
    mma.bf16 acc5, v1, v2
    mma.bf16 acc6, v1, v2
    mma.bf16 acc7, v1, v2
    mma.bf16 acc0, v1, v2
    mma.bf16 acc1, v1, v2
    mma.bf16 acc2, v1, v2
    mma.bf16 acc3, v1, v2
    mma.bf16 acc4, v1, v2
    mma.bf16 acc5, v1, v2
    mma.bf16 acc6, v1, v2
    mma.bf16 acc7, v1, v2
    bnez    t0, loop
    li      a0, 0
    li      a7, 93
    ecall

    .data
    .align 6
tiles:
    .bf16 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
    .bf16 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
    .bf16 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0
    .bf16 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0
