    li t0, 2
    lw a0, 0(t0)
