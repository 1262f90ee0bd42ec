    li t0, 1
    swait 1, t0
