/* SPDX-License-Identifier: MIT */
/*
 * Tutorial 02: a C kernel on one node, split over its hardware threads.
 * Every thread computes the dot product of its quarter of x and y with the vector unit;
 * thread 0 waits on a semaphore until all partial sums are in, adds them and prints.
 * Read README.md beside this file first.
 */
#include <stdio.h>

#include "dojo.h"

#define N 4096
#define LANES (DOJO_VLEN_BYTES / 4) /* fp32 lanes in a vector register: 16 */
#define SEM_DONE 1                  /* semaphore the workers signal */

enum { V_SUM = 0, V_X = 1, V_Y = 2, V_RED = 3 };

static float x[N] __attribute__((aligned(64)));
static float y[N] __attribute__((aligned(64)));
static float partial[4]; /* one per hardware thread of a D1 node */

int main(void) {
  const uint32_t tid = dojo_thread_id(), threads = dojo_num_threads();
  const int chunk = N / (int)threads, begin = (int)tid * chunk, end = begin + chunk;

  /* Each thread fills its own part: x[i] = i % 8, y[i] = 0.25. */
  for (int i = begin; i < end; ++i) {
    x[i] = (float)(i % 8);
    y[i] = 0.25f;
  }

  const uint64_t start = dojo_cycles();
  DOJO_VBCAST_FP32(V_SUM, 0);
  for (int i = begin; i < end; i += LANES) {
    DOJO_VLE(V_X, &x[i]);
    DOJO_VLE(V_Y, &y[i]);
    DOJO_VFMA_FP32(V_SUM, V_X, V_Y);
  }
  DOJO_VREDSUM_FP32(V_RED, V_SUM);
  partial[tid] = dojo_f32_from_bits(DOJO_VMV_X_FP32(V_RED));
  const uint64_t cycles = dojo_cycles() - start;

  dojo_ssignal(SEM_DONE, 1); /* "my partial sum is written" */
  if (tid != 0) return 0;

  dojo_swait(SEM_DONE, threads); /* wait for every thread, this one included */
  float sum = 0.0f;
  for (uint32_t t = 0; t < threads; ++t) sum += partial[t];
  /* sum over i of (i % 8) / 4 = N/8 * (0+1+...+7) / 4 = N * 7 / 8 */
  const long expected = (long)N * 7 / 8;
  printf("dot = %ld (expected %ld) from %u threads; thread 0's loop took %lu cycles\n",
         (long)sum, expected, (unsigned)threads, (unsigned long)cycles);
  return (long)sum == expected ? 0 : 1;
}
