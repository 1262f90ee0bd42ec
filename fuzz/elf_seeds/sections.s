# SPDX-License-Identifier: MIT
# An ELF seed for fuzz_elf with every kind of section the loader handles: .text, .rodata,
# .data and .bss (a zero-filled tail), global and local symbols.
    .text
    .globl _start
_start:
    la      a0, message
    la      a1, counter
    ld      t0, 0(a1)
    addi    t0, t0, 1
    sd      t0, 0(a1)
    la      a2, table
    lw      t1, 4(a2)
    call    helper
    li      a7, 93
    ecall
helper:
    add     a0, t0, t1
    ret

    .section .rodata
message:
    .asciz  "seed"

    .data
    .align 3
table:
    .word   1, 2, 3, 4
counter:
    .dword  41

    .bss
    .align 4
scratch:
    .space  512
