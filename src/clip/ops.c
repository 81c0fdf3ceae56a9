/* SPDX-License-Identifier: MIT */
/* CLIP's element-wise ops in plain C, with an AVX2 exp for the activations and softmax (a scalar
 * expf would cost ~15 ms per ViT-B/32 image) and an AVX2 layer norm; the GEMMs and attention are
 * in kernels/ and model.c. */
#include "ops.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GH_HAVE_AVX2_PATH 1
#endif

#ifdef GH_HAVE_AVX2_PATH
/* Cephes' expf: exp(x) = 2^k * exp(r), r = x - k ln 2 in two parts, exp(r) by a degree-6
 * polynomial; inputs clamped so 2^k stays a normal float (exp(-87.3) ~ 1e-38 stands for 0). */
__attribute__((target("avx2,fma"))) static inline __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3365447504f));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500E-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* Returns how many leading elements it did (a multiple of 8); the caller does the tail. */
__attribute__((target("avx2,fma"))) static size_t vexp_avx2(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, exp8(_mm256_loadu_ps(x + i)));
    return i;
}

__attribute__((target("avx2,fma"))) static size_t quick_gelu_avx2(float *x, size_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f), c = _mm256_set1_ps(-1.702f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = exp8(_mm256_mul_ps(v, c));
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
    }
    return i;
}

/* One row of gh_clip_layernorm with the same sums (double, two passes) in 4 + 4 lanes: the
 * scalar loops cost ~7% of an int8 forward pass. */
__attribute__((target("avx2,fma"))) static double hsum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

__attribute__((target("avx2,fma"))) static void
layernorm_row_avx2(const float *x, int n, const float *g, const float *b, double eps, float *y)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    double mean, var;
    int i = 0;

    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    mean = hsum_pd(_mm256_add_pd(s0, s1));
    for (; i < n; i++)
        mean += x[i];
    mean /= n;
    __m256d mv = _mm256_set1_pd(mean);
    s0 = s1 = _mm256_setzero_pd();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), mv);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), mv);
        s0 = _mm256_fmadd_pd(d0, d0, s0);
        s1 = _mm256_fmadd_pd(d1, d1, s1);
    }
    var = hsum_pd(_mm256_add_pd(s0, s1));
    for (; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= n; /* biased, as torch.nn.LayerNorm */
    float inv = (float)(1.0 / sqrt(var + eps)), m = (float)mean;
    __m256 vm = _mm256_set1_ps(m), vi = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vi);
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(v, _mm256_loadu_ps(g + i), _mm256_loadu_ps(b + i)));
    }
    for (; i < n; i++)
        y[i] = (x[i] - m) * inv * g[i] + b[i];
}

static int have_avx2(void)
{
    /* every thread computes the same value; atomic, as the pool's threads ask at once */
    static atomic_int cached = -1;
    int c = atomic_load_explicit(&cached, memory_order_relaxed);

    if (c < 0) { /* GH_CLIP_ISA=ref runs the plain loops here too, as in kernels/ */
        const char *isa = getenv("GH_CLIP_ISA");
        c = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
            !(isa && strcmp(isa, "ref") == 0);
        atomic_store_explicit(&cached, c, memory_order_relaxed);
    }
    return c;
}
#endif

void gh_clip_layernorm_ref(const float *x, int rows, int n, const float *g, const float *b,
                           double eps, float *y)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * (size_t)n;
        float *yr = y + (size_t)r * (size_t)n;
        double mean = 0, var = 0;
        for (int i = 0; i < n; i++)
            mean += xr[i];
        mean /= n;
        for (int i = 0; i < n; i++)
            var += (xr[i] - mean) * (xr[i] - mean);
        var /= n; /* biased, as torch.nn.LayerNorm */
        float inv = (float)(1.0 / sqrt(var + eps)), m = (float)mean;
        for (int i = 0; i < n; i++)
            yr[i] = (xr[i] - m) * inv * g[i] + b[i];
    }
}

void gh_clip_layernorm(const float *x, int rows, int n, const float *g, const float *b, double eps,
                       float *y)
{
#ifdef GH_HAVE_AVX2_PATH
    if (have_avx2()) {
        for (int r = 0; r < rows; r++)
            layernorm_row_avx2(x + (size_t)r * (size_t)n, n, g, b, eps, y + (size_t)r * (size_t)n);
        return;
    }
#endif
    gh_clip_layernorm_ref(x, rows, n, g, b, eps, y);
}

void gh_clip_vexp(float *x, size_t n)
{
    size_t i = 0;
#ifdef GH_HAVE_AVX2_PATH
    if (have_avx2())
        i = vexp_avx2(x, n);
#endif
    for (; i < n; i++)
        x[i] = expf(x[i]);
}

void gh_clip_activate(float *x, size_t n, enum gh_clip_act act)
{
    size_t i = 0;

    if (act == GH_CLIP_GELU) {
        for (; i < n; i++)
            x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        return;
    }
#ifdef GH_HAVE_AVX2_PATH
    if (have_avx2())
        i = quick_gelu_avx2(x, n);
#endif
    for (; i < n; i++)
        x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

void gh_clip_l2_normalize(float *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    if (s <= 0)
        return;
    float inv = (float)(1.0 / sqrt(s));
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}
