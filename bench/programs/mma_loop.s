# SPDX-License-Identifier: MIT
# mma_loop.s — the interpreter benchmark's matrix-unit workload: per iteration two vector loads
# of bf16 tiles and eight mma.bf16 into eight accumulators (an unrolled inner loop of a matmul),
# then the loop counter. All tiles hold small exact values so no lane ever overflows or goes
# subnormal (which would time the host's slow paths instead of the interpreter).

    .equ ITERATIONS, 200000

    .text
    .globl _start
_start:
    la      a0, tiles
    li      t1, 0x3f803f80      # two bf16 lanes of 1.0
    vbcast.fp32 v2, t1
    li      t1, 0x3e003e00      # two bf16 lanes of 0.125
    vbcast.fp32 v3, t1
    vse     v2, 0(a0)
    vse     v3, 64(a0)
    vmv     v4, v2
    vmv     v5, v3
    li      t0, ITERATIONS
loop:
    vle     v0, 0(a0)
    vle     v1, 64(a0)
    mma.bf16 acc0, v0, v1
    mma.bf16 acc1, v0, v2
    mma.bf16 acc2, v0, v3
    mma.bf16 acc3, v0, v4
    mma.bf16 acc4, v1, v5
    mma.bf16 acc5, v1, v2
    mma.bf16 acc6, v1, v3
    mma.bf16 acc7, v1, v4
    addi    t0, t0, -1
    bnez    t0, loop

    la      a1, result
    mst     acc0, 0(a1)
    li      a0, 0
    li      a7, 93              # exit(0)
    ecall

    .data
    .align 6
tiles:
    .space 128
result:
    .space 256
