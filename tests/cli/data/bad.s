    addi a0, a0
