# SPDX-License-Identifier: MIT
# scalar_loop.s — the interpreter benchmark's integer workload, in plain RV64IM GNU syntax so
# that the same file assembles with our assembler and with riscv64-unknown-elf-as, and the same
# ELF runs on our interpreter and under qemu-riscv64-static (see bench/README.md).
# Per iteration (18 or 19 instructions): a xorshift64 step, a load and a store in a 256-byte
# buffer, a mul, a data-dependent branch and the loop branch. Exit code: the checksum's low byte,
# so ours and qemu can be compared on the result as well as on the time.

    .equ ITERATIONS, 2500000

    .text
    .globl _start
_start:
    li      s0, ITERATIONS
    la      s1, buf
    li      s2, 0x2545f491      # xorshift64 state (any non-zero value)
    li      s3, 0               # byte offset into buf
    li      s4, 0               # checksum
loop:
    andi    t0, s3, 248         # 32 doublewords, 8-byte aligned
    add     t1, s1, t0
    ld      t2, 0(t1)
    slli    t3, s2, 13
    xor     s2, s2, t3
    srli    t3, s2, 7
    xor     s2, s2, t3
    slli    t3, s2, 17
    xor     s2, s2, t3
    xor     t2, t2, s2
    mul     t4, t2, s0
    add     s4, s4, t4
    sd      t4, 0(t1)
    andi    t5, s2, 1
    beqz    t5, 1f              # taken about half the time
    addi    s4, s4, 3
1:  addi    s3, s3, 8
    addi    s0, s0, -1
    bnez    s0, loop

    andi    a0, s4, 0xff
    li      a7, 93              # exit(a0)
    ecall

    .data
    .align 3
buf:
    .space 256
