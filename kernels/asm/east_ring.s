# SPDX-License-Identifier: MIT
# east_ring.s — every node finds its east neighbour among the usable nodes of its row and sends
# it its own address; each checks that what arrived came from its usable west neighbour.
#
# A die has disabled positions (configs/d1.yaml: the last six nodes of row 19), and a push to
# one traps. The nodeq/nodeok CSR pair (docs/isa.md) tells a program which nodes are usable:
# write a node's global address to nodeq, read nodeok. The search steps east from this node,
# skipping disabled positions and wrapping from the east edge to the west edge, so each row is
# a ring of its usable nodes. On D1, node (11,19) skips six and sends to (0,19); it says so:
#   [11,19 t0] east neighbour (0,19) after skipping 6 disabled
# Exit code 0: the message came from the expected west neighbour; 1 otherwise.
#   dojosim run --config configs/d1.yaml --program kernels/asm/east_ring.s

    .equ SEM, 1                 # counts the message from the west neighbour
    .equ WRITE, 64
    .equ EXIT, 93

    .text
    .globl _start
_start:
    csrr    s0, nodex
    csrr    s1, nodey
    csrr    s2, meshw
    li      a1, 1
    call    next_usable         # east: a0 = its x, a2 = disabled positions skipped
    mv      s3, a0
    mv      s4, a2
    li      a1, -1
    call    next_usable         # west: the node whose message we expect
    mv      s5, a0

send:
    la.global t0, s0, s1, 0     # the message: this node's global address
    la      t1, outbox
    sd      t0, 0(t1)
    la.global t2, s3, s1, inbox
    li      t3, 8
    push    t2, t1, t3, SEM
    li      t4, 1
    swait   SEM, t4             # the west neighbour's message has arrived

check:
    la      t1, inbox
    ld      t0, 0(t1)
    la.global t2, s5, s1, 0
    li      a0, 1
    bne     t0, t2, exit
    beqz    s4, 1f
    call    report              # only nodes that skipped a disabled position speak
1:  li      a0, 0
exit:
    li      a7, EXIT
    ecall

# a0 = the x after s0 in direction a1 (+1 east, -1 west), wrapping around the row, whose node
# (x, s1) is usable; a2 = disabled positions passed over. Ends: this node itself is usable.
next_usable:
    mv      a0, s0
    li      a2, 0
1:  add     a0, a0, a1
    bgez    a0, 2f
    addi    a0, s2, -1          # west of the west edge: the east edge
2:  blt     a0, s2, 3f
    li      a0, 0               # east of the east edge: the west edge
3:  la.global t0, a0, s1, 0
    csrw    nodeq, t0
    csrr    t1, nodeok
    bnez    t1, 4f
    addi    a2, a2, 1
    j       1b
4:  ret

# Writes "east neighbour (x,y) after skipping n disabled" to stdout.
report:
    mv      s6, ra
    la      s7, line            # s7: where the next character goes
    la      a3, msg_to
    call    put_str
    mv      a0, s3
    call    put_uint
    la      a3, msg_comma
    call    put_str
    mv      a0, s1
    call    put_uint
    la      a3, msg_colon
    call    put_str
    mv      a0, s4
    call    put_uint
    la      a3, msg_skipped
    call    put_str
    li      a0, 1
    la      a1, line
    sub     a2, s7, a1
    li      a7, WRITE
    ecall
    mv      ra, s6
    ret

# Appends the NUL-terminated string at a3.
put_str:
1:  lbu     t0, 0(a3)
    beqz    t0, 2f
    sb      t0, 0(s7)
    addi    a3, a3, 1
    addi    s7, s7, 1
    j       1b
2:  ret

# Appends a0 in decimal (digits made backwards in `digits`, then copied).
put_uint:
    la      t1, digits_end
    mv      t2, t1
    li      t3, 10
1:  remu    t4, a0, t3
    divu    a0, a0, t3
    addi    t4, t4, '0'
    addi    t2, t2, -1
    sb      t4, 0(t2)
    bnez    a0, 1b
2:  lbu     t4, 0(t2)
    sb      t4, 0(s7)
    addi    s7, s7, 1
    addi    t2, t2, 1
    bltu    t2, t1, 2b
    ret

    .rodata
msg_to:      .asciz "east neighbour ("
msg_comma:   .asciz ","
msg_colon:   .asciz ") after skipping "
msg_skipped: .asciz " disabled\n"

    .data
    .balign 8
outbox: .dword 0
inbox:  .dword 0
line:   .space 96
digits: .space 24
digits_end:
