/* SPDX-License-Identifier: MIT */
/* AVX512-VNNI kernel: the int8 GEMM (vpdpbusd: 64 u8 x s8 multiply-adds into int32 per
 * instruction, exact), activations u8 with zero point 128, weights s8 per output channel; the
 * epilogue removes the zero point with the weights' column sums and scales to f32.
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni. */
#include "kernels.h"

#include <immintrin.h>

#define MR        12
#define ROW_CHUNK 120

/* acc += a . b (vpdpbusd), in asm: GCC 12 ties the intrinsic's accumulator to a fresh register
 * and copies it back, with a stack store per call, which made the 12-row tile spill 24 zmm per
 * k step and run at a third of the instruction's rate. */
static inline __attribute__((always_inline)) __m512i dpbusd(__m512i acc, __m512i a, __m512i b)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

/* pf: NULL, or the next panel of W, which the first row tile prefetches (two lines per k group)
 * while it computes, so that the weights stream from memory under the multiply-adds. */
static inline __attribute__((always_inline)) void i8_tile(const struct gh_kern_gemm *g, int r0,
                                                          const int mr, int p, const int8_t *pf)
{
    const struct gh_kern_w *w = g->w;
    const int8_t *bp = (const int8_t *)w->data + (size_t)p * (size_t)w->kp * GH_KERN_NR;
    const uint8_t *a = (const uint8_t *)g->act.data + (size_t)r0 * (size_t)w->kp;
    __m512i acc[MR][2];
    int nv = w->n - p * GH_KERN_NR, kg = w->kp / 4, c0 = p * GH_KERN_NR;

#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_si512();
    for (int k = 0; k < kg; k++) {
        __m512i b0 = _mm512_load_si512(bp + (size_t)k * 4 * GH_KERN_NR);
        __m512i b1 = _mm512_load_si512(bp + (size_t)k * 4 * GH_KERN_NR + 64);
        if (pf) {
            _mm_prefetch((const char *)(pf + (size_t)k * 4 * GH_KERN_NR), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + (size_t)k * 4 * GH_KERN_NR + 64), _MM_HINT_T0);
        }
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            int32_t quad;
            __builtin_memcpy(&quad, a + (size_t)i * (size_t)w->kp + 4 * (size_t)k, sizeof quad);
            __m512i av = _mm512_set1_epi32(quad);
            acc[i][0] = dpbusd(acc[i][0], av, b0);
            acc[i][1] = dpbusd(acc[i][1], av, b1);
        }
    }
    nv = nv > 32 ? 32 : nv;
    __mmask16 m0 = (__mmask16)(nv >= 16 ? 0xffff : (1u << nv) - 1);
    __mmask16 m1 = (__mmask16)(nv >= 32 ? 0xffff : nv <= 16 ? 0 : (1u << (nv - 16)) - 1);
    __m512i zc0 = _mm512_slli_epi32(_mm512_load_si512(w->colsum + c0), 7); /* 128 * colsum */
    __m512i zc1 = _mm512_slli_epi32(_mm512_load_si512(w->colsum + c0 + 16), 7);
    __m512 s0 = _mm512_load_ps(w->scale + c0), s1 = _mm512_load_ps(w->scale + c0 + 16);
    __m512 b0 = g->b ? _mm512_maskz_loadu_ps(m0, g->b + c0) : _mm512_setzero_ps();
    __m512 b1 = g->b ? _mm512_maskz_loadu_ps(m1, g->b + c0 + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        __m512 sa = _mm512_set1_ps(g->act.scale[r0 + i]);
        float *y = g->y + (size_t)(r0 + i) * (size_t)g->ldy + (size_t)c0;
        __m512 v0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][0], zc0));
        __m512 v1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][1], zc1));
        v0 = _mm512_fmadd_ps(v0, _mm512_mul_ps(s0, sa), b0);
        v1 = _mm512_fmadd_ps(v1, _mm512_mul_ps(s1, sa), b1);
        if (g->acc) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, y));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, y + 16));
        }
        _mm512_mask_storeu_ps(y, m0, v0);
        _mm512_mask_storeu_ps(y + 16, m1, v1);
    }
}

static void i8_rows(const struct gh_kern_gemm *g, int r0, int mr, int p, const int8_t *pf)
{
    switch (mr) {
#define CASE(n)                                                                                    \
    case n:                                                                                        \
        i8_tile(g, r0, n, p, pf);                                                                  \
        break;
        CASE(1)
        CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#undef CASE
    }
}

void gh_kern_i8_avx512vnni(const struct gh_kern_gemm *g, int p0, int p1)
{
    for (int c = 0; c < g->rows; c += ROW_CHUNK) {
        int ce = c + ROW_CHUNK < g->rows ? c + ROW_CHUNK : g->rows;
        for (int p = p0; p < p1; p++) {
            const int8_t *pf = p + 1 < p1 ? (const int8_t *)g->w->data +
                                                (size_t)(p + 1) * (size_t)g->w->kp * GH_KERN_NR
                                          : NULL;
            for (int i = 0, lo, hi; i < (ce - c + MR - 1) / MR; i++) {
                gh_kern_tile(ce - c, MR, i, &lo, &hi);
                i8_rows(g, c + lo, hi - lo, p, i == 0 ? pf : NULL);
            }
        }
    }
}
