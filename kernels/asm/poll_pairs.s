# SPDX-License-Identifier: MIT
# poll_pairs.s — a consumer that polls: even nodes compute for a while and push 256 B to their
# odd partner (x + 1), 40 rounds; odd nodes spin reading the semaphore (sread) instead of
# sleeping in swait. A thread that polls runs ahead of SystemC time by up to a quantum, so it
# sees a message up to a quantum late: this kernel measures what temporal decoupling costs.
#   dojosim run --config configs/tiny.yaml --program kernels/asm/poll_pairs.s --set sim.quantum_cycles=1

    .equ ROUNDS, 40
    .equ WORK, 300              # loop iterations of "compute" before each push
    .equ SEM, 1

    .text
    .globl _start
_start:
    csrr    s0, nodex
    csrr    s1, nodey
    li      s6, ROUNDS
    andi    t0, s0, 1
    bnez    t0, consumer
producer:
    addi    t0, s0, 1           # the partner's x
    slli    t0, t0, 48
    slli    t1, s1, 32
    or      s3, t0, t1
    la      t2, inbox
    or      s3, s3, t2
    la      s4, outbox
    li      s5, 256
1:  li      t3, WORK
2:  addi    t3, t3, -1
    bnez    t3, 2b
    push    s3, s4, s5, SEM
    addi    s6, s6, -1
    bnez    s6, 1b
    j       done
consumer:
    li      s7, 0               # messages seen so far
3:  sread   t0, SEM
    beq     t0, s7, 3b          # poll until the next message is in
    addi    s7, s7, 1
    li      t3, 50              # a little work on it
4:  addi    t3, t3, -1
    bnez    t3, 4b
    bne     s7, s6, 3b
done:
    li      a0, 0
    li      a7, 93
    ecall

    .data
    .align 6
outbox: .space 256
inbox:  .space 256
