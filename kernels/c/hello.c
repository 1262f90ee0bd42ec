/* SPDX-License-Identifier: MIT */
/* The smallest C kernel: every thread greets through picolibc's printf and exits with 0.
 * Build: kernels/CMakeLists.txt (target kernel_hello); run: dojosim exec hello.elf. */
#include <stdio.h>

#include "dojo.h"

int main(void) {
  printf("hello from node (%u,%u), thread %u\n", (unsigned)dojo_node_x(), (unsigned)dojo_node_y(),
         (unsigned)dojo_thread_id());
  return 0;
}
