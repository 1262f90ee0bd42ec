/* SPDX-License-Identifier: MIT */
/*
 * Exercises kernels/runtime on 4 threads for tests/isa/test_elf_c_kernels.cpp: per-thread TLS,
 * stdout and stderr, output without a final newline (flushed at exit), and each way a thread
 * ends: return, exit(), a failed assert(), dojo_exit(). Not a sample kernel.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "dojo.h"

static _Thread_local int tls_value = 100;

int main(void) {
  const unsigned t = dojo_thread_id();
  tls_value += (int)t;
  errno = (int)t; /* picolibc's errno is thread-local */
  fprintf(stderr, "t%u to stderr\n", t);
  printf("tls %d errno %d", tls_value, errno); /* no newline: flushed when the thread ends */
  switch (t) {
    case 0:
      return 0;
    case 1:
      exit(3);
    case 2:
      assert(t == 0); /* fails: 128 + SIGABRT */
    default:
      dojo_exit(5);
  }
}
