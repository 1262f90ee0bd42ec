/* SPDX-License-Identifier: MIT */
/* Finds this node's east neighbour among the usable nodes of its row, as
 * kernels/asm/east_ring.s does in assembly: step east, skip positions dojo_node_usable() says
 * are disabled, wrap from the east edge to the west edge (docs/isa.md, "Which nodes are
 * usable"). Prints the neighbour and how many disabled positions lay between; exits with 0.
 * Build: kernels/CMakeLists.txt (target kernel_east_neighbour). */
#include <stdio.h>

#include "dojo.h"

int main(void) {
  const uint32_t x = dojo_node_x(), y = dojo_node_y(), w = dojo_mesh_w();
  uint32_t east = x, skipped = 0;
  for (;;) {
    east = east + 1 == w ? 0 : east + 1;
    if (dojo_node_usable(east, y)) break; /* ends at the latest back at this node */
    ++skipped;
  }
  printf("east neighbour (%u,%u) after skipping %u disabled, global address 0x%llx\n",
         (unsigned)east, (unsigned)y, (unsigned)skipped,
         (unsigned long long)dojo_global_addr(east, y, 0x100));
  return 0;
}
