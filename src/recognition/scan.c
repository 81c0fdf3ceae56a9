/* SPDX-License-Identifier: MIT */
/* The visual memory's kernels. The exact one: int8 rows against an int16 query, 32-bit sums; a
 * brute-force scan reads every byte once, so it is bound by memory bandwidth past the caches;
 * the SIMD kernels keep the arithmetic well under that (vpmovsxbw + vpmaddwd per 32 or 16
 * bytes). The first stage's: bit codes (one bit per dimension, 1/8 of the int8 row) against a
 * 4-bit query in bit planes, by popcount (VPOPCNTQ, the AVX2 nibble table of Mula et al.,
 * "Faster population counts using AVX2 instructions", 2016, or scalar popcnt). Each is chosen
 * once by cpuid, beside a plain reference loop the tests compare them with (exact: integers). */
#include "internal.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GH_X86 1
#endif

void gh_vmem_dots_ref(const int16_t *q, const int8_t *rows, size_t stride, size_t dim_pad, size_t n,
                      int32_t *dots)
{
    for (size_t i = 0; i < n; i++) {
        const int8_t *r = rows + i * stride;
        int32_t s = 0;

        for (size_t j = 0; j < dim_pad; j++)
            s += (int32_t)q[j] * (int32_t)r[j];
        dots[i] = s;
    }
}

#ifdef GH_X86
__attribute__((target("avx2"))) static int32_t hsum256(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* Two rows per pass share each query load. */
__attribute__((target("avx2"))) static void dots_avx2(const int16_t *q, const int8_t *rows,
                                                      size_t stride, size_t dim_pad, size_t n,
                                                      int32_t *dots)
{
    size_t i = 0;

    for (; i + 2 <= n; i += 2) {
        const int8_t *r0 = rows + i * stride, *r1 = r0 + stride;
        __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();

        for (size_t j = 0; j < dim_pad; j += 16) {
            __m256i qv = _mm256_loadu_si256((const __m256i *)(const void *)(q + j));
            __m256i v0 =
                _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(const void *)(r0 + j)));
            __m256i v1 =
                _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(const void *)(r1 + j)));

            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(qv, v0));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(qv, v1));
        }
        dots[i] = hsum256(a0);
        dots[i + 1] = hsum256(a1);
    }
    if (i < n) { /* the odd row: the rerank asks for one row at a time */
        const int8_t *r0 = rows + i * stride;
        __m256i a0 = _mm256_setzero_si256();

        for (size_t j = 0; j < dim_pad; j += 16) {
            __m256i qv = _mm256_loadu_si256((const __m256i *)(const void *)(q + j));
            __m256i v0 =
                _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(const void *)(r0 + j)));

            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(qv, v0));
        }
        dots[i] = hsum256(a0);
    }
}

__attribute__((target("avx512f,avx512bw"))) static void dots_avx512(const int16_t *q,
                                                                    const int8_t *rows,
                                                                    size_t stride, size_t dim_pad,
                                                                    size_t n, int32_t *dots)
{
    size_t i = 0;

    for (; i + 2 <= n; i += 2) {
        const int8_t *r0 = rows + i * stride, *r1 = r0 + stride;
        __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();

        for (size_t j = 0; j < dim_pad; j += 32) {
            __m512i qv = _mm512_loadu_si512((const void *)(q + j));
            __m512i v0 =
                _mm512_cvtepi8_epi16(_mm256_load_si256((const __m256i *)(const void *)(r0 + j)));
            __m512i v1 =
                _mm512_cvtepi8_epi16(_mm256_load_si256((const __m256i *)(const void *)(r1 + j)));

            a0 = _mm512_add_epi32(a0, _mm512_madd_epi16(qv, v0));
            a1 = _mm512_add_epi32(a1, _mm512_madd_epi16(qv, v1));
        }
        dots[i] = _mm512_reduce_add_epi32(a0);
        dots[i + 1] = _mm512_reduce_add_epi32(a1);
    }
    if (i < n) { /* the odd row: the rerank asks for one row at a time */
        const int8_t *r0 = rows + i * stride;
        __m512i a0 = _mm512_setzero_si512();

        for (size_t j = 0; j < dim_pad; j += 32) {
            __m512i qv = _mm512_loadu_si512((const void *)(q + j));
            __m512i v0 =
                _mm512_cvtepi8_epi16(_mm256_load_si256((const __m256i *)(const void *)(r0 + j)));

            a0 = _mm512_add_epi32(a0, _mm512_madd_epi16(qv, v0));
        }
        dots[i] = _mm512_reduce_add_epi32(a0);
    }
}
#endif

gh_vmem_dots_fn gh_vmem_dots_by_name(const char *name)
{
    if (strcmp(name, "ref") == 0)
        return gh_vmem_dots_ref;
#ifdef GH_X86
    __builtin_cpu_init();
    if (strcmp(name, "avx512") == 0 && __builtin_cpu_supports("avx512bw"))
        return dots_avx512;
    if (strcmp(name, "avx2") == 0 && __builtin_cpu_supports("avx2"))
        return dots_avx2;
#endif
    return NULL;
}

gh_vmem_dots_fn gh_vmem_dots_best(const char **name)
{
    static const char *const order[] = {"avx512", "avx2", "ref"};

    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        gh_vmem_dots_fn f = gh_vmem_dots_by_name(order[i]);

        if (f) {
            if (name)
                *name = order[i];
            return f;
        }
    }
    return gh_vmem_dots_ref;
}

/* ---- the first stage: bit codes against a 4-bit query in planes (internal.h) ---- */

void gh_vmem_bits_ref(const uint64_t *planes, const uint64_t *codes, size_t n_words, size_t n,
                      int32_t *scores)
{
    for (size_t i = 0; i < n; i++) {
        const uint64_t *c = codes + i * n_words;
        int32_t s = 0;

        for (size_t j = 0; j < 64 * n_words; j++) {
            int u = 0;

            if (!((c[j / 64] >> (j % 64)) & 1))
                continue;
            for (int p = 0; p < GH_VMEM_PLANES; p++)
                u |= (int)((planes[(size_t)p * n_words + j / 64] >> (j % 64)) & 1) << p;
            s += u - 8;
        }
        scores[i] = s;
    }
}

static inline int32_t bits_word(const uint64_t *planes, size_t n_words, size_t w, uint64_t c)
{
    int32_t s = -8 * __builtin_popcountll(c);

    for (int p = 0; p < GH_VMEM_PLANES; p++)
        s += __builtin_popcountll(c & planes[(size_t)p * n_words + w]) << p;
    return s;
}

/* Without target("popcnt") the compiler calls a bit-twiddling popcount: the last resort. */
static void bits_scalar(const uint64_t *planes, const uint64_t *codes, size_t n_words, size_t n,
                        int32_t *scores)
{
    for (size_t i = 0; i < n; i++) {
        int32_t s = 0;

        for (size_t w = 0; w < n_words; w++)
            s += bits_word(planes, n_words, w, codes[i * n_words + w]);
        scores[i] = s;
    }
}

#ifdef GH_X86
__attribute__((target("popcnt"))) static void bits_popcnt(const uint64_t *planes,
                                                          const uint64_t *codes, size_t n_words,
                                                          size_t n, int32_t *scores)
{
    for (size_t i = 0; i < n; i++) {
        int32_t s = 0;

        for (size_t w = 0; w < n_words; w++)
            s += bits_word(planes, n_words, w, codes[i * n_words + w]);
        scores[i] = s;
    }
}

/* Bytes' bit counts by two table lookups (pshufb), one per nibble. */
__attribute__((target("avx2"))) static __m256i popcount8_avx2(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                         1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);

    return _mm256_add_epi8(
        _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low)),
        _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
}

/* Per byte, t = sum_p 2^p count(code & plane_p) <= 8 * 15 and a = count(code) <= 8, so
 * t + 8 (8 - a) fits a byte; vpsadbw sums the bytes, and 64 per byte is taken off at the end. */
__attribute__((target("avx2"))) static void bits_avx2(const uint64_t *planes, const uint64_t *codes,
                                                      size_t n_words, size_t n, int32_t *scores)
{
    const __m256i eight = _mm256_set1_epi8(8);
    size_t n_vec = n_words / 4;

    for (size_t i = 0; i < n; i++) {
        const uint64_t *c = codes + i * n_words;
        __m256i acc = _mm256_setzero_si256();
        int64_t s;

        for (size_t v = 0; v < n_vec; v++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(c + 4 * v));
            __m256i t = _mm256_setzero_si256();

            for (int p = GH_VMEM_PLANES - 1; p >= 0; p--) {
                __m256i pl = _mm256_loadu_si256(
                    (const __m256i *)(const void *)(planes + (size_t)p * n_words + 4 * v));

                t = _mm256_add_epi8(_mm256_add_epi8(t, t), popcount8_avx2(_mm256_and_si256(x, pl)));
            }
            t = _mm256_add_epi8(t, _mm256_slli_epi16(_mm256_sub_epi8(eight, popcount8_avx2(x)), 3));
            acc = _mm256_add_epi64(acc, _mm256_sad_epu8(t, _mm256_setzero_si256()));
        }
        s = _mm256_extract_epi64(acc, 0) + _mm256_extract_epi64(acc, 1) +
            _mm256_extract_epi64(acc, 2) + _mm256_extract_epi64(acc, 3) - 64 * 32 * (int64_t)n_vec;
        for (size_t w = 4 * n_vec; w < n_words; w++)
            s += bits_word(planes, n_words, w, c[w]);
        scores[i] = (int32_t)s;
    }
}

#define GH_AVX512_BITS __attribute__((target("avx512f,avx512vpopcntdq,popcnt")))
#define GH_INLINE      inline __attribute__((always_inline))

/* One row's 8-word block against the planes, per 64-bit lane. */
GH_AVX512_BITS static GH_INLINE __m512i bits_block(__m512i x, const __m512i *pl)
{
    __m512i t = _mm512_popcnt_epi64(_mm512_and_si512(x, pl[3]));

    t = _mm512_add_epi64(_mm512_add_epi64(t, t), _mm512_popcnt_epi64(_mm512_and_si512(x, pl[2])));
    t = _mm512_add_epi64(_mm512_add_epi64(t, t), _mm512_popcnt_epi64(_mm512_and_si512(x, pl[1])));
    t = _mm512_add_epi64(_mm512_add_epi64(t, t), _mm512_popcnt_epi64(_mm512_and_si512(x, pl[0])));
    return _mm512_sub_epi64(t, _mm512_slli_epi64(_mm512_popcnt_epi64(x), 3));
}

/* A row's lanes; the last block masked. */
GH_AVX512_BITS static GH_INLINE __m512i bits_row(const uint64_t *planes, const uint64_t *c,
                                                 size_t n_words)
{
    __m512i acc = _mm512_setzero_si512();

    for (size_t w = 0; w < n_words; w += 8) {
        __mmask8 m = n_words - w >= 8 ? 0xff : (__mmask8)((1u << (n_words - w)) - 1);
        __m512i pl[GH_VMEM_PLANES];

        for (int p = 0; p < GH_VMEM_PLANES; p++)
            pl[p] = _mm512_maskz_loadu_epi64(m, planes + (size_t)p * n_words + w);
        acc = _mm512_add_epi64(acc, bits_block(_mm512_maskz_loadu_epi64(m, c + w), pl));
    }
    return acc;
}

/* Eight rows' lanes summed at once, [r0 .. r7] (a transpose by halves instead of eight
 * horizontal sums). */
GH_AVX512_BITS static GH_INLINE __m256i sum8(const __m512i *r)
{
    __m512i a[4], b[2], z;

    for (int i = 0; i < 4; i++) /* per 128-bit lane: (row 2i, row 2i + 1) partial sums */
        a[i] = _mm512_add_epi64(_mm512_unpacklo_epi64(r[2 * i], r[2 * i + 1]),
                                _mm512_unpackhi_epi64(r[2 * i], r[2 * i + 1]));
    for (int i = 0; i < 2; i++) /* lanes: rows (4i, 4i+1) twice, then (4i+2, 4i+3) twice */
        b[i] = _mm512_add_epi64(_mm512_shuffle_i64x2(a[2 * i], a[2 * i + 1], 0x88),
                                _mm512_shuffle_i64x2(a[2 * i], a[2 * i + 1], 0xdd));
    z = _mm512_add_epi64(_mm512_shuffle_i64x2(b[0], b[1], 0x88),
                         _mm512_shuffle_i64x2(b[0], b[1], 0xdd));
    return _mm512_cvtepi64_epi32(z);
}

/* 512 dimensions (8 words: one vector per row) keep the planes in registers. */
GH_AVX512_BITS static void bits_avx512(const uint64_t *planes, const uint64_t *codes,
                                       size_t n_words, size_t n, int32_t *scores)
{
    size_t i = 0;

    if (n_words == 8) {
        __m512i pl[GH_VMEM_PLANES];

        for (int p = 0; p < GH_VMEM_PLANES; p++)
            pl[p] = _mm512_loadu_si512((const void *)(planes + 8 * p));
        for (; i + 8 <= n; i += 8) {
            __m512i r[8];

            for (int k = 0; k < 8; k++)
                r[k] =
                    bits_block(_mm512_loadu_si512((const void *)(codes + (i + (size_t)k) * 8)), pl);
            _mm256_storeu_si256((__m256i *)(void *)(scores + i), sum8(r));
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m512i r[8];

        for (int k = 0; k < 8; k++)
            r[k] = bits_row(planes, codes + (i + (size_t)k) * n_words, n_words);
        _mm256_storeu_si256((__m256i *)(void *)(scores + i), sum8(r));
    }
    for (; i < n; i++)
        scores[i] =
            (int32_t)_mm512_reduce_add_epi64(bits_row(planes, codes + i * n_words, n_words));
}
#endif

gh_vmem_bits_fn gh_vmem_bits_by_name(const char *name)
{
    if (strcmp(name, "ref") == 0)
        return gh_vmem_bits_ref;
#ifdef GH_X86
    __builtin_cpu_init();
    if (strcmp(name, "avx512") == 0 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("popcnt"))
        return bits_avx512;
    if (strcmp(name, "avx2") == 0 && __builtin_cpu_supports("avx2"))
        return bits_avx2;
    if (strcmp(name, "scalar") == 0)
        return __builtin_cpu_supports("popcnt") ? bits_popcnt : bits_scalar;
#else
    if (strcmp(name, "scalar") == 0)
        return bits_scalar;
#endif
    return NULL;
}

gh_vmem_bits_fn gh_vmem_bits_best(const char **name)
{
    static const char *const order[] = {"avx512", "avx2", "scalar"};

    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        gh_vmem_bits_fn f = gh_vmem_bits_by_name(order[i]);

        if (f) {
            if (name)
                *name = order[i];
            return f;
        }
    }
    return bits_scalar;
}
