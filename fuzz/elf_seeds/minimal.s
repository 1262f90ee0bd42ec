# SPDX-License-Identifier: MIT
# The smallest runnable ELF seed for fuzz_elf: one PT_LOAD, one symbol.
    .text
    .globl _start
_start:
    li      a0, 0
    li      a7, 93
    ecall
