/* SPDX-License-Identifier: MIT */
/*
 * Vector and matrix units from C, checked against plain scalar C:
 *   1. a 64-element fp32 dot product: vle, vfma.fp32 into a running vector, vredsum.fp32;
 *   2. the same dot product from bf16 copies of the inputs, widened with vcvt.fp32.bf16;
 *   3. an 8x8 output tile C = A0*B0 + A1*B1 from two 8x4x8 mma.bf16 steps, stored with mst.
 * The inputs are small multiples of 1/8, so every product and sum is exact in fp32 and bf16
 * holds every input exactly: the vector and scalar results must agree bit for bit, whatever
 * the order of the additions. Returns 0 only if all three match.
 */
#include <stdio.h>

#include "dojo.h"

#define N 64                             /* dot-product length */
#define F32_LANES (DOJO_VLEN_BYTES / 4)  /* 16 */
#define BF16_LANES (DOJO_VLEN_BYTES / 2) /* 32 */
#define M DOJO_MMA_M
#define K DOJO_MMA_K
#define NC DOJO_MMA_N

/* Vector registers and accumulator used below; any numbers in range would do. */
enum {
  V_SUM = 0,
  V_A = 1,
  V_B = 2,
  V_RED = 3,
  V_A16 = 4,
  V_B16 = 5,
  V_AW = 6,
  V_BW = 7,
  V_MA = 8,
  V_MB = 9,
  ACC = 0
};

/* vle needs 8-byte alignment; 64 keeps every vector within one SRAM line. */
static float a[N] __attribute__((aligned(64)));
static float b[N] __attribute__((aligned(64)));
static uint16_t a16[N] __attribute__((aligned(64)));
static uint16_t b16[N] __attribute__((aligned(64)));
static uint16_t ma[2][M * K] __attribute__((aligned(64)));  /* A0, A1: M x K, row-major */
static uint16_t mb[2][K * NC] __attribute__((aligned(64))); /* B0, B1: K x N, row-major */
static float mc[M * NC] __attribute__((aligned(64)));

static float scalar_dot(void) {
  float s = 0.0f;
  for (int i = 0; i < N; ++i) s += a[i] * b[i];
  return s;
}

static float vector_dot_fp32(void) {
  DOJO_VBCAST_FP32(V_SUM, 0);
  for (int i = 0; i < N; i += F32_LANES) {
    DOJO_VLE(V_A, &a[i]);
    DOJO_VLE(V_B, &b[i]);
    DOJO_VFMA_FP32(V_SUM, V_A, V_B);
  }
  DOJO_VREDSUM_FP32(V_RED, V_SUM);
  return dojo_f32_from_bits(DOJO_VMV_X_FP32(V_RED));
}

static float vector_dot_bf16(void) {
  DOJO_VBCAST_FP32(V_SUM, 0);
  for (int i = 0; i < N; i += BF16_LANES) {
    DOJO_VLE(V_A16, &a16[i]);
    DOJO_VLE(V_B16, &b16[i]);
    /* Each bf16 register holds two fp32 registers' worth of lanes: widen both halves. */
    DOJO_VCVT_FP32_BF16(V_AW, V_A16, 0);
    DOJO_VCVT_FP32_BF16(V_BW, V_B16, 0);
    DOJO_VFMA_FP32(V_SUM, V_AW, V_BW);
    DOJO_VCVT_FP32_BF16(V_AW, V_A16, 1);
    DOJO_VCVT_FP32_BF16(V_BW, V_B16, 1);
    DOJO_VFMA_FP32(V_SUM, V_AW, V_BW);
  }
  DOJO_VREDSUM_FP32(V_RED, V_SUM);
  return dojo_f32_from_bits(DOJO_VMV_X_FP32(V_RED));
}

static void matrix_tile(void) {
  DOJO_MZERO(ACC);
  for (int s = 0; s < 2; ++s) {
    DOJO_VLE(V_MA, ma[s]);
    DOJO_VLE(V_MB, mb[s]);
    DOJO_MMA_BF16(ACC, V_MA, V_MB);
  }
  DOJO_MST(ACC, mc);
}

static int check_tile(void) {
  int bad = 0;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < NC; ++j) {
      float want = 0.0f;
      for (int s = 0; s < 2; ++s)
        for (int k = 0; k < K; ++k)
          want += dojo_f32_from_bf16(ma[s][i * K + k]) * dojo_f32_from_bf16(mb[s][k * NC + j]);
      if (mc[i * NC + j] != want) {
        if (bad < 4)
          printf("  C[%d][%d] = %g, expected %g\n", i, j, (double)mc[i * NC + j], (double)want);
        ++bad;
      }
    }
  return bad;
}

int main(void) {
  for (int i = 0; i < N; ++i) {
    a[i] = (float)(i % 7 - 3) * 0.5f;
    b[i] = (float)(i % 5 - 2) * 0.25f;
    a16[i] = dojo_bf16_from_f32(a[i]);
    b16[i] = dojo_bf16_from_f32(b[i]);
  }
  for (int s = 0; s < 2; ++s) {
    for (int i = 0; i < M * K; ++i)
      ma[s][i] = dojo_bf16_from_f32((float)((i + s) % 9 - 4) * 0.125f);
    for (int i = 0; i < K * NC; ++i) mb[s][i] = dojo_bf16_from_f32((float)((3 * i + s) % 5 - 2));
  }

  const float want = scalar_dot();
  const float got32 = vector_dot_fp32();
  const float got16 = vector_dot_bf16();
  matrix_tile();
  const int tile_bad = check_tile();

  const int ok32 = got32 == want, ok16 = got16 == want;
  printf("dot fp32: vector %g, scalar %g: %s\n", (double)got32, (double)want,
         ok32 ? "match" : "MISMATCH");
  printf("dot bf16: vector %g, scalar %g: %s\n", (double)got16, (double)want,
         ok16 ? "match" : "MISMATCH");
  printf("mma.bf16 8x8 tile, C[0][0] = %g, C[7][7] = %g: %s\n", (double)mc[0],
         (double)mc[M * NC - 1], tile_bad ? "MISMATCH" : "match");
  const int ok = ok32 && ok16 && !tile_bad;
  printf("vector_dot: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
