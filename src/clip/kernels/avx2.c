/* SPDX-License-Identifier: MIT */
/* AVX2+FMA kernels: the f32 GEMM (3 rows x 32 columns: 12 ymm accumulators, B read from L1 as
 * FMA memory operands) and the int8 GEMM without VNNI: vpmaddubsw (u8 x s8 pairs into s16) then
 * vpmaddwd by ones into int32. vpmaddubsw saturates a pair sum above 32767, which 255 x 127 x 2
 * would exceed; weights quantised to [-63, 63] keep every sum exact (as oneDNN does on CPUs
 * without VNNI). Built with -mavx2 -mfma. */
#include "kernels.h"

#include <immintrin.h>
#include <string.h>

#define MR        3
#define ROW_CHUNK 120

/* y (+)= v + b on columns [c0, c0 + 8) of row r, nv of them real (nv may be <= 0). */
static inline void store8(const struct gh_kern_gemm *g, int r, int c0, int nv, __m256 v)
{
    float *y = g->y + (size_t)r * (size_t)g->ldy + (size_t)c0;
    float tmp[8];

    if (nv >= 8) {
        if (g->b)
            v = _mm256_add_ps(v, _mm256_loadu_ps(g->b + c0));
        if (g->acc)
            v = _mm256_add_ps(v, _mm256_loadu_ps(y));
        _mm256_storeu_ps(y, v);
        return;
    }
    _mm256_storeu_ps(tmp, v);
    for (int j = 0; j < nv; j++)
        y[j] = (g->acc ? y[j] : 0.0f) + tmp[j] + (g->b ? g->b[c0 + j] : 0.0f);
}

static inline __attribute__((always_inline)) void f32_tile(const struct gh_kern_gemm *g, int r0,
                                                           const int mr, int p)
{
    const struct gh_kern_w *w = g->w;
    const float *bp = (const float *)w->data + (size_t)p * (size_t)w->kp * GH_KERN_NR;
    const float *x = g->x + (size_t)r0 * (size_t)g->ldx;
    __m256 acc[MR][4];
    int nv = w->n - p * GH_KERN_NR;

#pragma GCC unroll 3
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = _mm256_setzero_ps();
    for (int k = 0; k < w->k; k++) {
        const float *b = bp + (size_t)k * GH_KERN_NR;
#pragma GCC unroll 3
        for (int i = 0; i < mr; i++) {
            __m256 a = _mm256_broadcast_ss(x + (size_t)i * (size_t)g->ldx + (size_t)k);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                acc[i][j] = _mm256_fmadd_ps(a, _mm256_load_ps(b + 8 * j), acc[i][j]);
        }
    }
#pragma GCC unroll 3
    for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            store8(g, r0 + i, p * GH_KERN_NR + 8 * j, nv - 8 * j, acc[i][j]);
}

static inline __attribute__((always_inline)) void i8_tile(const struct gh_kern_gemm *g, int r0,
                                                          const int mr, int p)
{
    const struct gh_kern_w *w = g->w;
    const int8_t *bp = (const int8_t *)w->data + (size_t)p * (size_t)w->kp * GH_KERN_NR;
    const uint8_t *a = (const uint8_t *)g->act.data + (size_t)r0 * (size_t)w->kp;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[MR][4];
    int nv = w->n - p * GH_KERN_NR, kg = w->kp / 4, c0 = p * GH_KERN_NR;

#pragma GCC unroll 3
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = _mm256_setzero_si256();
    for (int k = 0; k < kg; k++) {
        const int8_t *b = bp + (size_t)k * 4 * GH_KERN_NR;
#pragma GCC unroll 3
        for (int i = 0; i < mr; i++) {
            int32_t quad;
            memcpy(&quad, a + (size_t)i * (size_t)w->kp + 4 * (size_t)k, sizeof quad);
            __m256i av = _mm256_set1_epi32(quad);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                __m256i pr = _mm256_maddubs_epi16(av, _mm256_load_si256((const __m256i *)b + j));
                acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(pr, ones));
            }
        }
    }
#pragma GCC unroll 3
    for (int i = 0; i < mr; i++) {
        __m256 sa = _mm256_set1_ps(g->act.scale[r0 + i]);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            __m256i zc =
                _mm256_slli_epi32(_mm256_load_si256((const __m256i *)(w->colsum + c0 + 8 * j)), 7);
            __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[i][j], zc));
            v = _mm256_mul_ps(v, _mm256_mul_ps(_mm256_load_ps(w->scale + c0 + 8 * j), sa));
            store8(g, r0 + i, c0 + 8 * j, nv - 8 * j, v);
        }
    }
}

#define ROWS_FN(name, tile)                                                                        \
    static void name(const struct gh_kern_gemm *g, int r0, int mr, int p)                          \
    {                                                                                              \
        if (mr == 3)                                                                               \
            tile(g, r0, 3, p);                                                                     \
        else if (mr == 2)                                                                          \
            tile(g, r0, 2, p);                                                                     \
        else                                                                                       \
            tile(g, r0, 1, p);                                                                     \
    }
ROWS_FN(f32_rows, f32_tile)
ROWS_FN(i8_rows, i8_tile)

#define GEMM_FN(name, rows_fn)                                                                     \
    void name(const struct gh_kern_gemm *g, int p0, int p1)                                        \
    {                                                                                              \
        for (int c = 0; c < g->rows; c += ROW_CHUNK) {                                             \
            int ce = c + ROW_CHUNK < g->rows ? c + ROW_CHUNK : g->rows;                            \
            for (int p = p0; p < p1; p++)                                                          \
                for (int r = c; r < ce; r += MR)                                                   \
                    rows_fn(g, r, ce - r < MR ? ce - r : MR, p);                                   \
        }                                                                                          \
    }
GEMM_FN(gh_kern_f32_avx2, f32_rows)
GEMM_FN(gh_kern_i8_avx2, i8_rows)

/* u8 = round(x / s) + 128, s = max |x| / 127 per row (as gh_kern_prep_i8_ref). */
void gh_kern_prep_i8_avx2(const float *x, int k, int kp, int r0, int r1, void *out, float *scale)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), zp = _mm256_set1_epi32(128);

    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * (size_t)k;
        uint8_t *o = (uint8_t *)out + (size_t)r * (size_t)kp;
        __m256 mx = _mm256_setzero_ps();
        float m, lanes[8], inv;
        int i = 0;
        for (; i + 8 <= k; i += 8)
            mx = _mm256_max_ps(mx, _mm256_and_ps(_mm256_loadu_ps(xr + i), absmask));
        _mm256_storeu_ps(lanes, mx);
        m = 0;
        for (int j = 0; j < 8; j++)
            m = lanes[j] > m ? lanes[j] : m;
        for (; i < k; i++)
            m = (xr[i] < 0 ? -xr[i] : xr[i]) > m ? (xr[i] < 0 ? -xr[i] : xr[i]) : m;
        inv = m > 0 ? 127.0f / m : 0.0f;
        scale[r] = m / 127.0f;
        __m256 vinv = _mm256_set1_ps(inv);
        for (i = 0; i + 32 <= k; i += 32) {
            __m256i q[4];
            for (int j = 0; j < 4; j++)
                q[j] = _mm256_add_epi32(
                    _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + i + 8 * j), vinv)), zp);
            __m256i lo = _mm256_packs_epi32(q[0], q[1]), hi = _mm256_packs_epi32(q[2], q[3]);
            __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(lo, hi), order);
            _mm256_storeu_si256((__m256i *)(o + i), b);
        }
        for (; i < k; i++)
            o[i] = (uint8_t)(_mm_cvtss_si32(_mm_set_ss(xr[i] * inv)) + 128);
        memset(o + k, 128, (size_t)(kp - k));
    }
}

static const struct gh_kern_ops set = {
    .isa = "avx2",
    .f32_name = "avx2 fma 3x32",
    .f32 = gh_kern_f32_avx2,
    .i8_name = "avx2 vpmaddubsw 3x32 (7-bit weights)",
    .i8 = gh_kern_i8_avx2,
    .prep_i8 = gh_kern_prep_i8_avx2,
    .i8_wmax = 63,
};

const struct gh_kern_ops *gh_kern_avx2_ops(void)
{
    return &set;
}
