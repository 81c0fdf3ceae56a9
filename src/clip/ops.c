/* SPDX-License-Identifier: MIT */
/* CLIP's element-wise ops in plain C, with an AVX2 exp for the activations and softmax (a scalar
 * expf would cost ~15 ms per ViT-B/32 image); the GEMMs and attention are in kernels/ and
 * model.c. */
#include "ops.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GH_HAVE_AVX2_PATH 1
#endif

void gh_clip_layernorm(const float *x, int rows, int n, const float *g, const float *b, double eps,
                       float *y)
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

static int have_avx2(void)
{
    static int cached = -1; /* a benign race: every thread computes the same value */
    if (cached < 0)
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return cached;
}
#endif

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
