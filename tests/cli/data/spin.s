1:  j 1b
