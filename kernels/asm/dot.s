# SPDX-License-Identifier: MIT
# dot.s — the dot product of two fp32 vectors of 256 elements on one node.
# x = 1, 2, ..., 256 and y = 0.5 everywhere, so x . y = 0.5 * 256 * 257 / 2 = 16448.
#
# Shows: vector loads (vle), fused multiply-add in 16 fp32 lanes (vfma.fp32), a lane
# reduction (vredsum.fp32), moving a lane to a scalar register, and printing with ecall write.
# Run it:  dojosim exec kernels/asm/dot.s --stats

    .equ N, 256                 # elements
    .equ VLEN, 64               # bytes per vector register (16 fp32 lanes)

    .text
    .globl _start
_start:
    la      a0, x               # a0 -> x
    la      a1, y               # a1 -> y
    li      t0, N * 4 / VLEN    # vectors to process
    vbcast.fp32 v0, zero        # v0 = 0.0 in every lane: the running sums
loop:
    vle     v1, 0(a0)
    vle     v2, 0(a1)
    addi    a0, a0, VLEN
    addi    a1, a1, VLEN
    addi    t0, t0, -1
    vfma.fp32 v0, v1, v2        # v0[i] += x[i] * y[i]
    bnez    t0, loop

    vredsum.fp32 v3, v0         # lane 0 of v3 = sum of the 16 lanes
    vmv.x.fp32 a0, v3           # a0 = its fp32 bits
    call    f32_to_uint         # a0 = the (integral) value as an integer
    mv      s0, a0
    la      a0, label
    li      a1, label_end - label
    call    print
    mv      a0, s0
    call    print_uint

    li      t1, 16448           # exit 0 if the result is right, 1 if not
    sub     a0, s0, t1
    snez    a0, a0
    li      a7, 93              # ecall 93: exit(a0)
    ecall

# a0 = integer value of the non-negative fp32 whose bits are in a0 (fraction dropped).
f32_to_uint:
    srli    t0, a0, 23
    andi    t0, t0, 0xff        # biased exponent
    li      t1, 127
    blt     t0, t1, 1f          # below 1.0: the integer part is 0
    li      t1, 0x7fffff
    and     a0, a0, t1
    li      t1, 0x800000
    or      a0, a0, t1          # 24-bit significand with its hidden bit
    li      t1, 150             # 127 + 23: exponent at which the significand is the integer
    blt     t0, t1, 2f
    sub     t0, t0, t1
    sll     a0, a0, t0
    ret
2:  sub     t0, t1, t0
    srl     a0, a0, t0
    ret
1:  li      a0, 0
    ret

# Writes a1 bytes at a0 to stdout (ecall 64: write(fd 1, buffer, length)).
print:
    mv      a2, a1
    mv      a1, a0
    li      a0, 1
    li      a7, 64
    ecall
    ret

# Prints the unsigned integer in a0 in decimal, then a newline.
print_uint:
    la      t0, digits_end
    li      t1, 10
    li      t2, '\n'
    addi    t0, t0, -1
    sb      t2, 0(t0)
3:  remu    t2, a0, t1
    divu    a0, a0, t1
    addi    t2, t2, '0'
    addi    t0, t0, -1
    sb      t2, 0(t0)
    bnez    a0, 3b
    mv      a0, t0
    la      a1, digits_end
    sub     a1, a1, t0
    j       print           # tail call: print returns to our caller

    .data
    .align 6                # vector loads want 8-byte alignment; 64 keeps a vector in one row
x:
    .float 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0
    .float 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0
    .float 33.0, 34.0, 35.0, 36.0, 37.0, 38.0, 39.0, 40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0, 47.0, 48.0
    .float 49.0, 50.0, 51.0, 52.0, 53.0, 54.0, 55.0, 56.0, 57.0, 58.0, 59.0, 60.0, 61.0, 62.0, 63.0, 64.0
    .float 65.0, 66.0, 67.0, 68.0, 69.0, 70.0, 71.0, 72.0, 73.0, 74.0, 75.0, 76.0, 77.0, 78.0, 79.0, 80.0
    .float 81.0, 82.0, 83.0, 84.0, 85.0, 86.0, 87.0, 88.0, 89.0, 90.0, 91.0, 92.0, 93.0, 94.0, 95.0, 96.0
    .float 97.0, 98.0, 99.0, 100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 107.0, 108.0, 109.0, 110.0, 111.0, 112.0
    .float 113.0, 114.0, 115.0, 116.0, 117.0, 118.0, 119.0, 120.0, 121.0, 122.0, 123.0, 124.0, 125.0, 126.0, 127.0, 128.0
    .float 129.0, 130.0, 131.0, 132.0, 133.0, 134.0, 135.0, 136.0, 137.0, 138.0, 139.0, 140.0, 141.0, 142.0, 143.0, 144.0
    .float 145.0, 146.0, 147.0, 148.0, 149.0, 150.0, 151.0, 152.0, 153.0, 154.0, 155.0, 156.0, 157.0, 158.0, 159.0, 160.0
    .float 161.0, 162.0, 163.0, 164.0, 165.0, 166.0, 167.0, 168.0, 169.0, 170.0, 171.0, 172.0, 173.0, 174.0, 175.0, 176.0
    .float 177.0, 178.0, 179.0, 180.0, 181.0, 182.0, 183.0, 184.0, 185.0, 186.0, 187.0, 188.0, 189.0, 190.0, 191.0, 192.0
    .float 193.0, 194.0, 195.0, 196.0, 197.0, 198.0, 199.0, 200.0, 201.0, 202.0, 203.0, 204.0, 205.0, 206.0, 207.0, 208.0
    .float 209.0, 210.0, 211.0, 212.0, 213.0, 214.0, 215.0, 216.0, 217.0, 218.0, 219.0, 220.0, 221.0, 222.0, 223.0, 224.0
    .float 225.0, 226.0, 227.0, 228.0, 229.0, 230.0, 231.0, 232.0, 233.0, 234.0, 235.0, 236.0, 237.0, 238.0, 239.0, 240.0
    .float 241.0, 242.0, 243.0, 244.0, 245.0, 246.0, 247.0, 248.0, 249.0, 250.0, 251.0, 252.0, 253.0, 254.0, 255.0, 256.0
y:
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
    .float 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5
label:
    .ascii "x . y = "
label_end:
digits:
    .space 24
digits_end:
