/* SPDX-License-Identifier: MIT */
/* CLIP's element-wise ops (src/clip/ops.c) against libm: exp, activations, layer norm, L2
 * normalisation. (The GEMMs are kernels_test.c's; attention is checked end to end against the
 * float64 reference in tests/clip/test_engine.py.) */
#include "../../gh_test.h"
#include "clip/ops.h"

#include <math.h>

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

/* The vectorised layer norm against the plain loops, over widths that leave every tail (and
 * values far from 0, where a one-pass variance would cancel). */
static void test_layernorm_paths(void)
{
    static const int widths[] = {1, 7, 8, 45, 768, 771};
    float x[3 * 771], g[771], b[771], y[3 * 771], ref[3 * 771];
    unsigned s = 7;

    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        int n = widths[w];
        for (int i = 0; i < 3 * n; i++) {
            s = s * 1103515245u + 12345u;
            x[i] = (float)((s >> 8) & 0xffff) / 4096.0f - 8.0f + (i >= 2 * n ? 500.0f : 0.0f);
        }
        for (int i = 0; i < n; i++) {
            g[i] = 0.5f + (float)i / (float)n;
            b[i] = (float)(i % 5) - 2.0f;
        }
        gh_clip_layernorm(x, 3, n, g, b, 1e-5, y);
        gh_clip_layernorm_ref(x, 3, n, g, b, 1e-5, ref);
        for (int i = 0; i < 3 * n; i++)
            CHECK(fabsf(y[i] - ref[i]) <= 1e-5f * (1.0f + fabsf(ref[i])));
    }
}

GH_TEST_MAIN(GH_TEST(test_exp_and_act), GH_TEST(test_norms), GH_TEST(test_layernorm_paths))
