# SPDX-License-Identifier: MIT
# ring_push.s — communication-bound: nodes exchange 4 KiB with their partner in the same row
# (x xor 1), 50 rounds, each waiting for the partner's message before sending the next.
# The time is set by the links (4 KiB at 64 B/cycle per round), not by the cores.
# Partners are pairs so that D1's disabled positions (the last six of the bottom row, three
# whole pairs) leave no node without its partner; the mesh width must be even.
#   dojosim run --config configs/d1.yaml --program kernels/asm/ring_push.s

    .equ BYTES, 4096
    .equ ROUNDS, 50
    .equ SEM, 1

    .text
    .globl _start
_start:
    csrr    s0, nodex
    csrr    s1, nodey
    xori    t0, s0, 1           # the partner's x
    slli    t0, t0, 48
    slli    t1, s1, 32
    or      s3, t0, t1
    la      t2, inbox
    or      s3, s3, t2          # global address of the partner's inbox
    la      s4, outbox
    li      s5, BYTES
    li      s6, ROUNDS
    li      s7, 1
round:
    push    s3, s4, s5, SEM
    swait   SEM, s7             # the partner's message of this round has arrived
    addi    s6, s6, -1
    bnez    s6, round
    li      a0, 0
    li      a7, 93
    ecall

    .data
    .align 6
outbox: .space BYTES
inbox:  .space BYTES
