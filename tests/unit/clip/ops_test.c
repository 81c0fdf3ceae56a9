/* SPDX-License-Identifier: MIT */
/* The CLIP kernels against their plain loops (src/clip/ops.c): linear, attention (causal and
 * not, head widths not multiples of 8), exp, activations, layer norm, L2 normalisation. */
#include "../../gh_test.h"
#include "clip/ops.h"
#include "gh/alloc.h"

#include <math.h>
#include <stdlib.h>

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float max_abs_diff(const float *a, const float *b, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabsf(a[i] - b[i]) > m ? fabsf(a[i] - b[i]) : m;
    return m;
}

static void test_linear(void)
{
    const int rows = 13, in = 37, out = 29;
    float *x = gh_malloc_array(rows * in, sizeof(float)), *w = gh_malloc_array(out * in, 4);
    float *b = gh_malloc_array(out, 4), *y = gh_malloc_array(rows * out, 4);
    float *r = gh_malloc_array(rows * out, 4);
    unsigned s = 1;

    for (int i = 0; i < rows * in; i++)
        x[i] = frand(&s);
    for (int i = 0; i < out * in; i++)
        w[i] = frand(&s);
    for (int i = 0; i < out; i++)
        b[i] = frand(&s);
    gh_clip_linear(x, rows, in, w, b, out, y);
    gh_clip_linear_ref(x, rows, in, w, b, out, r);
    CHECK(max_abs_diff(y, r, (size_t)(rows * out)) < 1e-5f);
    /* accumulate: y += x w^T + b, so y - 2 r is 0 */
    gh_clip_linear_acc(x, rows, in, w, b, out, y);
    for (int i = 0; i < rows * out; i++)
        y[i] -= 2 * r[i];
    for (int i = 0; i < rows * out; i++)
        CHECK(fabsf(y[i]) < 1e-4f);
    gh_clip_linear(x, rows, in, w, NULL, out, y);
    gh_clip_linear_ref(x, rows, in, w, NULL, out, r);
    CHECK(max_abs_diff(y, r, (size_t)(rows * out)) < 1e-5f);

    /* the same weights laid [in, out], as the model keeps its layers' */
    float *w_io = gh_malloc_array(out * in, 4);
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++)
            w_io[i * out + o] = w[o * in + i];
    gh_clip_linear_ref(x, rows, in, w, b, out, r);
    gh_clip_linear_io(x, rows, in, w_io, b, out, y);
    CHECK(max_abs_diff(y, r, (size_t)(rows * out)) < 1e-5f);
    gh_clip_linear_io_acc(x, rows, in, w_io, b, out, y);
    for (int i = 0; i < rows * out; i++)
        CHECK(fabsf(y[i] - 2 * r[i]) < 1e-4f);
    /* the loader's transpose, into a wider matrix at a column offset (fused q | k | v) */
    float *t = gh_malloc_array(in * (out + 5), 4);
    for (int i = 0; i < in * (out + 5); i++)
        t[i] = 0;
    gh_clip_transpose(w, out, in, t + 3, out + 5);
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++)
            CHECK(t[i * (out + 5) + 3 + o] == w[o * in + i]);
    CHECK(t[0] == 0 && t[out + 3] == 0 && t[out + 4] == 0);
    gh_free(t);
    gh_free(w_io);
    gh_free(x);
    gh_free(w);
    gh_free(b);
    gh_free(y);
    gh_free(r);
}

static void test_attention(int n, int hidden, int heads, int causal)
{
    float *qkv = gh_malloc_array((size_t)(n * 3 * hidden), 4);
    float *o = gh_malloc_array((size_t)(n * hidden), 4),
          *r = gh_malloc_array((size_t)(n * hidden), 4);
    float *scores = gh_malloc_array((size_t)(n * n), 4);
    double *work = gh_malloc_array((size_t)n, sizeof(double));
    unsigned s = 7;

    for (int i = 0; i < n * 3 * hidden; i++)
        qkv[i] = 2 * frand(&s);
    gh_clip_attention(qkv, n, hidden, heads, causal, 0, n, scores, o);
    gh_clip_attention_ref(qkv, n, hidden, heads, causal, work, r);
    CHECK(max_abs_diff(o, r, (size_t)(n * hidden)) < 2e-6f);
    if (causal) /* token 0 sees only itself: its output is its own v */
        for (int j = 0; j < hidden; j++)
            CHECK(fabsf(o[j] - qkv[2 * hidden + j]) < 1e-6f);
    /* one query row alone (the last layer's pooled token) gives that row of the full result */
    for (int q = 0; q < n; q += n / 3 + 1) {
        gh_clip_attention(qkv, n, hidden, heads, causal, q, 1, scores, o);
        CHECK(max_abs_diff(o, r + (size_t)q * (size_t)hidden, (size_t)hidden) < 2e-6f);
    }
    gh_free(qkv);
    gh_free(o);
    gh_free(r);
    gh_free(scores);
    gh_free(work);
}

static void test_exp_and_act(void)
{
    float x[203], e[203];
    double worst = 0;

    for (int i = 0; i < 203; i++)
        x[i] = e[i] = -90.0f + (float)i * 0.9f;
    gh_clip_vexp(e, 203);
    for (int i = 0; i < 203; i++) {
        double want = exp((double)x[i]);
        if (x[i] > -87.0f && x[i] < 88.0f) {
            double rel = fabs(e[i] - want) / want;
            worst = rel > worst ? rel : worst;
        } else {
            CHECK(x[i] > 0 ? e[i] > 1e38f : e[i] >= 0 && e[i] < 2e-38f); /* clamped, or expf */
        }
    }
    CHECK(worst < 3e-7);
    for (int i = 0; i < 203; i++)
        e[i] = x[i] = -12.0f + (float)i * 0.12f;
    gh_clip_activate(e, 203, GH_CLIP_QUICK_GELU);
    for (int i = 0; i < 203; i++)
        CHECK(fabs(e[i] - x[i] / (1 + exp(-1.702 * x[i]))) < 1e-6 * (1 + fabs(x[i])));
    for (int i = 0; i < 203; i++)
        e[i] = x[i];
    gh_clip_activate(e, 203, GH_CLIP_GELU);
    for (int i = 0; i < 203; i++)
        CHECK(fabs(e[i] - 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0)))) < 1e-6 * (1 + fabs(x[i])));
}

static void test_norms(void)
{
    float x[2 * 7], g[7], b[7], y[2 * 7], v[3] = {3, 0, 4}, z[3] = {0, 0, 0};

    for (int i = 0; i < 14; i++)
        x[i] = 1000.0f + (float)(i % 7);
    for (int i = 0; i < 7; i++) {
        g[i] = 2;
        b[i] = 1;
    }
    gh_clip_layernorm(x, 2, 7, g, b, 1e-5, y);
    /* values 1000..1006: mean 1003, var 4: (x - 1003) / 2 * 2 + 1 */
    for (int i = 0; i < 14; i++)
        CHECK(fabsf(y[i] - ((float)(i % 7) - 3.0f + 1.0f)) < 1e-4f);
    gh_clip_l2_normalize(v, 3);
    CHECK(fabsf(v[0] - 0.6f) < 1e-7f && v[1] == 0 && fabsf(v[2] - 0.8f) < 1e-7f);
    gh_clip_l2_normalize(z, 3);
    CHECK(z[0] == 0 && z[1] == 0 && z[2] == 0);
}

/* vision-like (50 tokens, 5 heads of 12), text-like causal ones, a full 77-token context */
static void test_attention_cases(void)
{
    gh_clip_ops_set_threads(2);
    test_attention(50, 60, 5, 0);
    test_attention(17, 52, 4, 1);
    test_attention(77, 36, 3, 1);
}

GH_TEST_MAIN(GH_TEST(test_linear), GH_TEST(test_attention_cases), GH_TEST(test_exp_and_act),
             GH_TEST(test_norms))
