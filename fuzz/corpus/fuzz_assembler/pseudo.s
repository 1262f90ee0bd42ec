# SPDX-License-Identifier: MIT
# Seed: pseudo-instructions, numeric local labels and calls.
    .text
    .globl _start
_start:
    li      t0, 0
    li      t1, -2048
    li      t2, 0x7ffff800
    li      t3, 0x123456789abcdef0
    li      t4, -0x8000000000000000
    mv      s0, t0
    not     s1, t1
    neg     s2, t2
    negw    s3, t2
    sext.w  s4, t3
    seqz    s5, t0
    snez    s6, t1
    sltz    s7, t1
    sgtz    s8, t2
    nop
1:  addi    t0, t0, 1
    li      t5, 3
    blt     t0, t5, 1b
    beqz    t0, 2f
    bnez    t0, 2f
    bgez    t0, 2f
    bltz    t0, 2f
    blez    t0, 2f
    bgtz    t0, 2f
    bgt     t0, t5, 2f
    ble     t0, t5, 2f
    bgtu    t0, t5, 2f
    bleu    t0, t5, 2f
2:  call    leaf
    jal     leaf
    jal     ra, leaf
    la      t6, leaf
    jalr    ra, 0(t6)
    j       3f
3:  jalr    t6
    tail    done
leaf:
    ret
done:
    rdcycle a0
    rdinstret a1
    csrr    a2, threadid
    csrw    fmtcfg, a2
    csrs    fmtcfg, a2
    csrc    fmtcfg, a2
    csrwi   srseed, 5
    li      a0, 0
    li      a7, 93
    ecall
