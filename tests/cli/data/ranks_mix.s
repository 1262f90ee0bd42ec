# SPDX-License-Identifier: MIT
# ranks_mix.s — everything that crosses between MPI ranks (docs/parallel.md, "MPI ranks"):
# barriers, a burst of pushes that fills the DMA queue, a pull from another node's SRAM (the node opposite, on another rank when ranks cut
# the mesh into rows), a push to host memory and a pull back of another node's word, and a
# line of output. Each node checks what it pulled: exit code 0 when right, 1 to 3 when not.
#   mpirun -np 2 dojosim run --config configs/tiny.yaml --program tests/cli/data/ranks_mix.s

    .equ SEM_PULL, 1
    .equ SEM_HOST, 2
    .equ SEM_BURST, 3
    .equ BURST, 8

    .text
    .globl _start
_start:
    csrr    s0, nodex
    csrr    s1, nodey
    csrr    s8, meshw
    csrr    s9, meshh
    slli    t0, s0, 8
    add     t0, t0, s1
    addi    s2, t0, 1           # this node's word: x * 256 + y + 1
    la      t1, mine
    sd      s2, 0(t1)
    barrier 0                   # every node's word is written

    addi    t2, s8, -1
    sub     s3, t2, s0          # the opposite node: (w - 1 - x, h - 1 - y)
    addi    t2, s9, -1
    sub     s4, t2, s1
    slli    t0, s3, 8
    add     t0, t0, s4
    addi    s10, t0, 1          # the word every check below expects: the opposite node's
    slli    t0, s3, 48
    slli    t1, s4, 32
    or      t0, t0, t1
    la      t1, mine
    or      t0, t0, t1          # global address of its word
    la      t1, theirs
    li      t2, 8
    li      s7, 1
    pull    t1, t0, t2, SEM_PULL
    swait   SEM_PULL, s7
    la      t1, theirs
    ld      t3, 0(t1)
    li      a0, 1
    bne     t3, s10, done

    slli    t0, s3, 48          # a burst of pushes of this node's word into the opposite
    slli    t1, s4, 32          # node's `burst`, back to back: with a shallow DMA queue
    or      t0, t0, t1          # (node.dma.queue_depth) the thread waits for slots
    la      t1, burst
    or      t0, t0, t1
    la      t1, mine
    li      t2, 8
    li      s6, BURST
1:  push    t0, t1, t2, SEM_BURST
    addi    t0, t0, 8
    addi    s6, s6, -1
    bnez    s6, 1b
    li      s7, BURST
    swait   SEM_BURST, s7
    li      s7, 1
    la      t1, burst
    ld      t3, 0(t1)           # a sender's first push lands first
    li      a0, 3
    bne     t3, s10, done

    csrr    s5, nodeid          # host memory: this node's word at 64 x nodeid
    slli    t0, s5, 6
    li      t1, 1
    slli    t1, t1, 63
    or      t0, t0, t1
    la      t1, mine
    li      t2, 8
    push    t0, t1, t2, SEM_HOST
    swait   SEM_HOST, s7        # the write is acknowledged
    barrier 1                   # every node's word is in host memory

    mul     t0, s4, s8          # the opposite node's word, from host memory
    add     t0, t0, s3
    slli    t0, t0, 6
    li      t1, 1
    slli    t1, t1, 63
    or      t0, t0, t1
    la      t1, theirs
    sd      zero, 0(t1)
    li      t2, 8
    pull    t1, t0, t2, SEM_PULL
    swait   SEM_PULL, s7
    la      t1, theirs
    ld      t3, 0(t1)
    li      a0, 2
    bne     t3, s10, done

    bnez    s5, ok              # node 0 says so
    li      a0, 1
    la      a1, line
    li      a2, 9
    li      a7, 64
    ecall
ok:
    li      a0, 0
done:
    li      a7, 93
    ecall

    .data
    .align 3
mine:   .dword 0
theirs: .dword 0
burst:  .space 8 * BURST
line:   .ascii "all good\n"
