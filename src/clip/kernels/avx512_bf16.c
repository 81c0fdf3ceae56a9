/* SPDX-License-Identifier: MIT */
/* AVX512-BF16 kernels: the bf16 GEMM (vdpbf16ps: 32 multiply-adds of bf16 pairs into f32 per
 * instruction, twice f32 FMA's) and the activations' conversion (vcvtne2ps2bf16, round to nearest
 * even as gh_kern_to_bf16). Built with -mavx512f -mavx512bw -mavx512vl -mavx512bf16. */
#include "kernels.h"

#include <immintrin.h>

#define MR        12
#define ROW_CHUNK 120
#define K_BLOCK   256 /* k per pass: the panel's block (16 KB) stays in L1 across row tiles */

static inline void store_row(const struct gh_kern_gemm *g, int r, int c0, int nv, __m512 a0,
                             __m512 a1, int first)
{
    __mmask16 m0 = (__mmask16)(nv >= 16 ? 0xffff : (1u << nv) - 1);
    __mmask16 m1 = (__mmask16)(nv >= 32 ? 0xffff : nv <= 16 ? 0 : (1u << (nv - 16)) - 1);
    float *y = g->y + (size_t)r * (size_t)g->ldy + (size_t)c0;

    if (g->b && first) {
        a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(m0, g->b + c0));
        a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(m1, g->b + c0 + 16));
    }
    if (g->acc || !first) {
        a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(m0, y));
        a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(m1, y + 16));
    }
    _mm512_mask_storeu_ps(y, m0, a0);
    _mm512_mask_storeu_ps(y + 16, m1, a1);
}

static inline __attribute__((always_inline)) void bf16_tile(const struct gh_kern_gemm *g, int r0,
                                                            const int mr, int p, int k0, int k1)
{
    const struct gh_kern_w *w = g->w;
    const uint16_t *bp = (const uint16_t *)w->data + (size_t)p * (size_t)w->kp * GH_KERN_NR;
    const uint16_t *a = (const uint16_t *)g->act.data + (size_t)r0 * (size_t)w->kp;
    __m512 acc[MR][2];
    int nv = w->n - p * GH_KERN_NR;

#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int k = k0 / 2; k < k1 / 2; k++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(bp + (size_t)k * 2 * GH_KERN_NR);
        __m512bh b1 = (__m512bh)_mm512_load_si512(bp + (size_t)k * 2 * GH_KERN_NR + 32);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            int32_t pair;
            __builtin_memcpy(&pair, a + (size_t)i * (size_t)w->kp + 2 * (size_t)k, sizeof pair);
            __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        store_row(g, r0 + i, p * GH_KERN_NR, nv > 32 ? 32 : nv, acc[i][0], acc[i][1], k0 == 0);
}

static void bf16_rows(const struct gh_kern_gemm *g, int r0, int mr, int p, int k0, int k1)
{
    switch (mr) {
#define CASE(n)                                                                                    \
    case n:                                                                                        \
        bf16_tile(g, r0, n, p, k0, k1);                                                            \
        break;
        CASE(1)
        CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#undef CASE
    }
}

void gh_kern_bf16_avx512(const struct gh_kern_gemm *g, int p0, int p1)
{
    for (int c = 0; c < g->rows; c += ROW_CHUNK) {
        int ce = c + ROW_CHUNK < g->rows ? c + ROW_CHUNK : g->rows;
        for (int k0 = 0; k0 < g->w->kp; k0 += K_BLOCK) /* K_BLOCK even: whole pairs */
            for (int p = p0; p < p1; p++)
                for (int i = 0, lo, hi; i < (ce - c + MR - 1) / MR; i++) {
                    gh_kern_tile(ce - c, MR, i, &lo, &hi);
                    bf16_rows(g, c + lo, hi - lo, p, k0,
                              k0 + K_BLOCK < g->w->kp ? k0 + K_BLOCK : g->w->kp);
                }
    }
}

void gh_kern_prep_bf16_avx512(const float *x, int k, int kp, int r0, int r1, void *out,
                              float *scale)
{
    (void)scale;
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * (size_t)k;
        uint16_t *o = (uint16_t *)out + (size_t)r * (size_t)kp;
        int i = 0;
        for (; i + 32 <= k; i += 32) {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(xr + i + 16), _mm512_loadu_ps(xr + i));
            _mm512_storeu_si512(o + i, (__m512i)v);
        }
        for (; i < k; i++)
            o[i] = gh_kern_to_bf16(xr[i]);
        for (; i < kp; i++)
            o[i] = 0;
    }
}
