/* SPDX-License-Identifier: MIT */
/* CLIP kernels: GEMMs on OpenBLAS (cblas_sgemm, row-major; weights [out, in] as Hugging Face
 * stores them, or [in, out] as the model re-lays the layers' at load), the element-wise ops in
 * plain C with an AVX2 exp for the activations and softmax (a scalar expf would cost ~15 ms per
 * ViT-B/32 image). */
#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GH_HAVE_AVX2_PATH 1
#endif

void gh_clip_ops_set_threads(int n)
{
    openblas_set_num_threads(n);
}

static void fill_rows(float *y, int rows, int out, const float *b)
{
    for (int r = 0; r < rows; r++)
        memcpy(y + (size_t)r * (size_t)out, b, (size_t)out * sizeof *y);
}

/* y (+)= x w + b with w either [out, in] (Hugging Face's layout, transposed on the fly) or
 * [in, out] (w_io: re-laid at load; see model.c's load_transposed for why). */
static void linear(const float *x, int rows, int in, const float *w, int w_io, const float *b,
                   int out, float *y, int acc)
{
    if (b && !acc) {
        fill_rows(y, rows, out, b);
    } else if (b) {
        for (int r = 0; r < rows; r++) {
            float *yr = y + (size_t)r * (size_t)out;
            for (int j = 0; j < out; j++)
                yr[j] += b[j];
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, w_io ? CblasNoTrans : CblasTrans, rows, out, in, 1.0f,
                x, in, w, w_io ? out : in, b || acc ? 1.0f : 0.0f, y, out);
}

void gh_clip_linear(const float *x, int rows, int in, const float *w, const float *b, int out,
                    float *y)
{
    linear(x, rows, in, w, 0, b, out, y, 0);
}

void gh_clip_linear_acc(const float *x, int rows, int in, const float *w, const float *b, int out,
                        float *y)
{
    linear(x, rows, in, w, 0, b, out, y, 1);
}

void gh_clip_linear_io(const float *x, int rows, int in, const float *w_io, const float *b, int out,
                       float *y)
{
    linear(x, rows, in, w_io, 1, b, out, y, 0);
}

void gh_clip_linear_io_acc(const float *x, int rows, int in, const float *w_io, const float *b,
                           int out, float *y)
{
    linear(x, rows, in, w_io, 1, b, out, y, 1);
}

void gh_clip_transpose(const float *a, int rows, int cols, float *b, int ldb)
{
    cblas_somatcopy(CblasRowMajor, CblasTrans, rows, cols, 1.0f, a, cols, b, ldb);
}

void gh_clip_linear_ref(const float *x, int rows, int in, const float *w, const float *b, int out,
                        float *y)
{
    for (int r = 0; r < rows; r++) {
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < in; i++)
                s += (double)x[(size_t)r * (size_t)in + (size_t)i] *
                     w[(size_t)o * (size_t)in + (size_t)i];
            y[(size_t)r * (size_t)out + (size_t)o] = (float)s;
        }
    }
}

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

/* Softmax of row[0..len) in place, zeroing row[len..n) (the causally masked keys). */
static void softmax_row(float *row, int len, int n)
{
    float mx = row[0], sum = 0;
    for (int j = 1; j < len; j++)
        mx = row[j] > mx ? row[j] : mx;
    for (int j = 0; j < len; j++)
        row[j] -= mx;
    gh_clip_vexp(row, (size_t)len);
    for (int j = 0; j < len; j++)
        sum += row[j];
    float inv = 1.0f / sum;
    for (int j = 0; j < len; j++)
        row[j] *= inv;
    for (int j = len; j < n; j++)
        row[j] = 0;
}

void gh_clip_attention(const float *qkv, int n, int hidden, int heads, int causal, int q_first,
                       int n_q, float *scores, float *out)
{
    int d = hidden / heads, ld = 3 * hidden;
    float scale = 1.0f / sqrtf((float)d);

    /* Per head: scores [n_q, n] = q_h k_h^T * d^-0.5 (HF scales q first: same product),
     * softmax, out_h [n_q, d] = scores v_h. q_h, k_h, v_h are column blocks of qkv (row stride
     * 3 hidden), out_h a column block of out: no transposes, no copies. */
    for (int h = 0; h < heads; h++) {
        const float *q = qkv + (size_t)q_first * (size_t)ld + h * d, *k = qkv + hidden + h * d;
        const float *v = qkv + 2 * hidden + h * d;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_q, n, d, scale, q, ld, k, ld, 0.0f,
                    scores, n);
        for (int i = 0; i < n_q; i++)
            softmax_row(scores + (size_t)i * (size_t)n, causal ? q_first + i + 1 : n, n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_q, d, n, 1.0f, scores, n, v, ld,
                    0.0f, out + h * d, hidden);
    }
}

void gh_clip_attention_ref(const float *qkv, int n, int hidden, int heads, int causal, double *work,
                           float *out)
{
    int d = hidden / heads;
    size_t ld = 3 * (size_t)hidden;

    for (int h = 0; h < heads; h++) {
        for (int i = 0; i < n; i++) {
            const float *q = qkv + (size_t)i * ld + (size_t)(h * d);
            int len = causal ? i + 1 : n;
            double mx = -INFINITY, sum = 0, *w = work;
            for (int j = 0; j < len; j++) {
                const float *k = qkv + (size_t)j * ld + (size_t)(hidden + h * d);
                double s = 0;
                for (int t = 0; t < d; t++)
                    s += (double)q[t] * k[t];
                w[j] = s / sqrt((double)d);
                mx = w[j] > mx ? w[j] : mx;
            }
            for (int j = 0; j < len; j++)
                sum += (w[j] = exp(w[j] - mx));
            for (int t = 0; t < d; t++) {
                double o = 0;
                for (int j = 0; j < len; j++)
                    o += w[j] / sum * qkv[(size_t)j * ld + (size_t)(2 * hidden + h * d + t)];
                out[(size_t)i * (size_t)hidden + (size_t)(h * d + t)] = (float)o;
            }
        }
    }
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
