/* SPDX-License-Identifier: MIT */
/* The visual memory's scan: int8 rows against an int16 query, 32-bit sums. A brute-force scan
 * reads every byte once, so it is bound by memory bandwidth past the caches; the SIMD kernels
 * keep the arithmetic well under that (vpmovsxbw + vpmaddwd per 32 or 16 bytes). Chosen once
 * by cpuid, beside the plain reference loop the tests compare them with (exact: integers). */
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
    if (i < n)
        gh_vmem_dots_ref(q, rows + i * stride, stride, dim_pad, n - i, dots + i);
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
    if (i < n)
        gh_vmem_dots_ref(q, rows + i * stride, stride, dim_pad, n - i, dots + i);
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
