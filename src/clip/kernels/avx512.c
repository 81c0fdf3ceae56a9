/* SPDX-License-Identifier: MIT */
/* AVX-512F/BW/VL kernels: the f32 GEMM (12 rows x 32 columns of zmm accumulators, one broadcast
 * and two FMAs per row and k) and the int8 activations' quantisation; and the AVX-512 kernel
 * set, which takes bf16 (avx512_bf16.c) and int8 (avx512_vnni.c) where the CPU has them and
 * AVX2's int8 where it has no VNNI. Built with -mavx512f -mavx512bw -mavx512vl -mfma. */
#include "kernels.h"

#include <immintrin.h>
#include <string.h>

#define MR        12  /* rows per tile: 24 accumulators + 2 B vectors + 1 broadcast of 32 zmm */
#define ROW_CHUNK 120 /* rows whose A stays in L2 while every panel of W streams past */
#define K_BLOCK   128 /* k per pass: the panel's block (16 KB) stays in L1 across row tiles */

/* The store of one tile row: y (+)= acc + b on columns [c0, c0 + 32) with nv of them real. */
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

/* pf: NULL, or the next block of W, which the first row tile prefetches (two lines per k: one
 * row of the panel) while it computes, so that the weights stream from memory under the FMAs. */
static inline __attribute__((always_inline)) void
f32_tile(const struct gh_kern_gemm *g, int r0, const int mr, int p, int k0, int k1, const float *pf)
{
    const struct gh_kern_w *w = g->w;
    const float *bp = (const float *)w->data + (size_t)p * (size_t)w->kp * GH_KERN_NR;
    const float *x = g->x + (size_t)r0 * (size_t)g->ldx;
    __m512 acc[MR][2];
    int nv = w->n - p * GH_KERN_NR;

#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int k = k0; k < k1; k++) {
        __m512 b0 = _mm512_load_ps(bp + (size_t)k * GH_KERN_NR);
        __m512 b1 = _mm512_load_ps(bp + (size_t)k * GH_KERN_NR + 16);
        if (pf) {
            _mm_prefetch((const char *)(pf + (size_t)(k - k0) * GH_KERN_NR), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + (size_t)(k - k0) * GH_KERN_NR + 16), _MM_HINT_T0);
        }
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(x[(size_t)i * (size_t)g->ldx + (size_t)k]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        store_row(g, r0 + i, p * GH_KERN_NR, nv > 32 ? 32 : nv, acc[i][0], acc[i][1], k0 == 0);
}

static void f32_rows(const struct gh_kern_gemm *g, int r0, int mr, int p, int k0, int k1,
                     const float *pf)
{
    switch (mr) {
#define CASE(n)                                                                                    \
    case n:                                                                                        \
        f32_tile(g, r0, n, p, k0, k1, pf);                                                         \
        break;
        CASE(1)
        CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#undef CASE
    }
}

void gh_kern_f32_avx512(const struct gh_kern_gemm *g, int p0, int p1)
{
    const struct gh_kern_w *w = g->w;

    for (int c = 0; c < g->rows; c += ROW_CHUNK) {
        int ce = c + ROW_CHUNK < g->rows ? c + ROW_CHUNK : g->rows;
        for (int k0 = 0; k0 < w->k; k0 += K_BLOCK) {
            int k1 = k0 + K_BLOCK < w->k ? k0 + K_BLOCK : w->k;
            for (int p = p0; p < p1; p++) {
                /* the block after this one: the next panel's, or the first panel's next k */
                int np = p + 1 < p1 ? p + 1 : p0, nk = p + 1 < p1 ? k0 : k1;
                const float *pf = nk < w->k
                                      ? (const float *)w->data +
                                            ((size_t)np * (size_t)w->kp + (size_t)nk) * GH_KERN_NR
                                      : NULL;
                for (int i = 0, lo, hi; i < (ce - c + MR - 1) / MR; i++) {
                    gh_kern_tile(ce - c, MR, i, &lo, &hi);
                    f32_rows(g, c + lo, hi - lo, p, k0, k1, i == 0 ? pf : NULL);
                }
            }
        }
    }
}

/* u8 = round(x / s) + 128, s = max |x| / 127 per row (as gh_kern_prep_i8_ref). */
void gh_kern_prep_i8_avx512(const float *x, int k, int kp, int r0, int r1, void *out, float *scale)
{
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * (size_t)k;
        uint8_t *o = (uint8_t *)out + (size_t)r * (size_t)kp;
        __m512 mx = _mm512_setzero_ps();
        int i = 0;
        for (; i + 16 <= k; i += 16)
            mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(xr + i)));
        if (i < k)
            mx = _mm512_max_ps(
                mx, _mm512_abs_ps(_mm512_maskz_loadu_ps((__mmask16)((1u << (k - i)) - 1), xr + i)));
        float m = _mm512_reduce_max_ps(mx), inv = m > 0 ? 127.0f / m : 0.0f;
        __m512 vinv = _mm512_set1_ps(inv);
        __m512i zp = _mm512_set1_epi32(128);
        scale[r] = m / 127.0f;
        for (i = 0; i + 16 <= k; i += 16) {
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + i), vinv));
            _mm_storeu_si128((__m128i *)(o + i), _mm512_cvtusepi32_epi8(_mm512_add_epi32(q, zp)));
        }
        for (; i < k; i++) {
            __m128 v = _mm_set_ss(xr[i] * inv);
            o[i] = (uint8_t)(_mm_cvtss_si32(v) + 128);
        }
        memset(o + k, 128, (size_t)(kp - k));
    }
}

#define SET(vn, bf)                                                                                \
    {                                                                                              \
        .isa = "avx512", .f32_name = "avx512f fma 12x32", .f32 = gh_kern_f32_avx512,               \
        .bf16_name = (bf) ? "avx512bf16 vdpbf16ps 12x32" : NULL,                                   \
        .bf16 = (bf) ? gh_kern_bf16_avx512 : NULL,                                                 \
        .prep_bf16 = (bf) ? gh_kern_prep_bf16_avx512 : NULL,                                       \
        .i8_name = (vn) ? "avx512vnni vpdpbusd 12x32" : "avx2 vpmaddubsw 3x32 (7-bit weights)",    \
        .i8 = (vn) ? gh_kern_i8_avx512vnni : gh_kern_i8_avx2,                                      \
        .prep_i8 = (vn) ? gh_kern_prep_i8_avx512 : gh_kern_prep_i8_avx2,                           \
        .i8_wmax = (vn) ? 127 : 63                                                                 \
    }

static const struct gh_kern_ops sets[2][2] = {{SET(0, 0), SET(0, 1)}, {SET(1, 0), SET(1, 1)}};

const struct gh_kern_ops *gh_kern_avx512_ops(int vnni, int bf16)
{
    return &sets[!!vnni][!!bf16];
}
