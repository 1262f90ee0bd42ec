/* SPDX-License-Identifier: MIT */
/* A C node kernel built with the installed SDK (dojo.h, crt0, dojo.ld): thread 0 sums 1..100. */
#include <stdio.h>

#include "dojo.h"

int main(void) {
  if (dojo_thread_id() != 0) return 0;
  unsigned sum = 0;
  for (unsigned i = 1; i <= 100; ++i) sum += i;
  printf("sum 1..100 = %u on node (%u,%u)\n", sum, (unsigned)dojo_node_x(),
         (unsigned)dojo_node_y());
  return sum == 5050 ? 0 : 1;
}
