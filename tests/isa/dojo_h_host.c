/* SPDX-License-Identifier: MIT */
/* kernels/include/dojo.h compiled as C11 by the host compiler, so that
 * tests/isa/test_global_address.cpp can compare what C kernels compute with isa/. Only the
 * header's plain C is called here; its asm wrappers are RISC-V and stay unused. */
#include "dojo.h"

uint64_t dojo_h_host_global_addr(uint32_t x, uint32_t y, uint32_t offset) {
  return dojo_global_addr(x, y, offset);
}
uint64_t dojo_h_host_host_bit(void) { return DOJO_GLOBAL_HOST_BIT; }
