# SPDX-License-Identifier: MIT
# Seed: sections, data directives, alignment, symbols and expressions.
    .equ    COUNT, 4
    .set    WIDTH, COUNT * 8 + (1 << 3) - 2 / 1
    .equiv  MASK, ~0xf & 0xff | 0x100 ^ 0x3
    .globl  _start
    .text
_start:
    la      a0, table
    li      a1, COUNT
    li      a2, WIDTH
    addi    a3, zero, %lo(MASK)
    lui     a4, %hi(message)
    addi    a4, a4, %lo(message)
1:  auipc   a5, %pcrel_hi(words)
    addi    a5, a5, %pcrel_lo(1b)
    li      a7, 93
    ecall

    .section .rodata
message:
    .ascii  "tab\t quote\" backslash\\ nul\0"
    .asciz  "end", "two"
    .string "three"
    .p2align 2
    .balign 8, 0xaa
    .section .data, "aw"
    .align  3
table:
    .byte   1, -1, 'a', 0x7f
    .half   0x1234, -2
    .short  7
    .2byte  8
    .word   table, table + 4, . - table
    .long   1
    .4byte  2
    .dword  0x123456789abcdef0
    .quad   -1
    .8byte  table
    .float  1.5, -0.0, 3.25e2
    .double 2.5
    .bf16   1.0, -2.0
words:
    .space  16
    .zero   8
    .skip   4, 0xff
    .bss
    .align  4
buffer:
    .space  64
