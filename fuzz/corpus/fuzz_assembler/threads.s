# SPDX-License-Identifier: MIT
# Seed: two threads meeting at a barrier, a push into the node's own SRAM with a semaphore,
# and output through ecall write.
    .text
    .globl _start
_start:
    csrr    s0, threadid
    csrr    s1, nodeid
    barrier 0
    bnez    s0, consumer
producer:
    la      a0, message
    la      a1, copy
    li      a2, 8
    push    a1, a0, a2, 1       # copy 8 bytes, then +1 to semaphore 1
    li      t0, 1
    ssignal 2, t0
    j       finish
consumer:
    li      t0, 1
    swait   1, t0
    swait   2, t0
    sread   t1, 1
    li      a0, 1
    la      a1, copy
    li      a2, 8
    li      a7, 64              # write(1, copy, 8)
    ecall
finish:
    barrier 1
    li      a0, 0
    li      a7, 93
    ecall

    .data
message:
    .ascii  "copied!\n"
copy:
    .space  8
