/* SPDX-License-Identifier: MIT */
/* The choice of GEMM for the CLIP engine, measured: one ViT-B/32 layer's four linear layers
 * (768 -> 2304, 768 -> 768, 768 -> 3072, 3072 -> 768) at ROWS rows (50: one image, 400: eight)
 * on OpenBLAS (whatever core it picked: run it with OPENBLAS_CORETYPE set or not), oneDNN's
 * dnnl_sgemm (when built with it) and our kernels (f32, bf16, int8) on our pool. Rounds
 * alternate the candidates; one JSON line per candidate with the median GFLOP/s.
 *   clip_gemm_bench ROWS THREADS ROUNDS */
#include "clip/kernels/kernels.h"
#include "gh/alloc.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef GH_HAVE_DNNL
#include <dnnl.h>
#endif

char *openblas_get_corename(void);

static const int shapes[4][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct ctx {
    struct gh_kern_gemm *g;
    gh_kern_gemm_fn fn;
    gh_kern_prep_fn prep;
};

static void part(void *arg, int t, int nt)
{
    struct ctx *c = arg;
    int lo, hi;
    gh_kern_split(c->g->w->n_panels, 1, t, nt, &lo, &hi);
    if (lo < hi)
        c->fn(c->g, lo, hi);
}

static void prep_part(void *arg, int t, int nt)
{
    struct ctx *c = arg;
    int lo, hi;
    gh_kern_split(c->g->rows, 1, t, nt, &lo, &hi);
    c->prep(c->g->x, c->g->w->k, c->g->w->kp, lo, hi, (void *)c->g->act.data,
            (float *)c->g->act.scale);
}

enum { OPENBLAS, DNNL, OURS_F32, OURS_BF16, OURS_I8, N_CAND };

int main(int argc, char **argv)
{
    int rows = argc > 1 ? atoi(argv[1]) : 50, threads = argc > 2 ? atoi(argv[2]) : 2;
    int rounds = argc > 3 ? atoi(argv[3]) : 15;
    const struct gh_kern_ops *ops;
    struct gh_kern_pool *pool;
    float *x = gh_malloc_array((size_t)rows * 3072, 4),
          *y = gh_malloc_array((size_t)rows * 3072, 4);
    float *wio[4], *ascale = gh_malloc_array((size_t)rows, 4);
    void *act = gh_malloc((size_t)rows * 3072 * 2);
    struct gh_kern_w pw[3][4];
    double *t[N_CAND], flops = 0;
    const char *names[N_CAND] = {"openblas", "onednn", "ours-f32", "ours-bf16", "ours-int8"};

    if (gh_kern_select(NULL, &ops, NULL) || gh_kern_pool_new(threads, &pool, NULL))
        return 1;
    openblas_set_num_threads(threads);
    for (size_t i = 0; i < (size_t)rows * 3072; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (int s = 0; s < 4; s++) {
        int k = shapes[s][0], n = shapes[s][1];
        float *w = gh_malloc_array((size_t)k * n, 4);
        for (size_t i = 0; i < (size_t)k * n; i++)
            w[i] = (float)((i * 40503u) % 1000) / 5000.0f - 0.1f;
        wio[s] = w; /* used as [k, n] by BLAS, as [n, k] rows by the packer: same cost */
        for (int p = 0; p < 3; p++) {
            if (gh_kern_w_init(&pw[p][s], (enum gh_kern_prec)p, k, n, NULL))
                return 1;
            gh_kern_pack(&pw[p][s], w, 0, n, ops->i8_wmax);
        }
        flops += 2.0 * rows * k * n;
    }
    for (int c = 0; c < N_CAND; c++)
        t[c] = gh_malloc_array((size_t)rounds, sizeof(double));
    for (int r = -1; r < rounds; r++) /* round -1 warms up */
        for (int c = 0; c < N_CAND; c++) {
            double t0 = now_s();
            for (int s = 0; s < 4; s++) {
                int k = shapes[s][0], n = shapes[s][1];
                if (c == OPENBLAS) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, n, k, 1.0f, x, k,
                                wio[s], n, 0.0f, y, n);
                } else if (c == DNNL) {
#ifdef GH_HAVE_DNNL
                    dnnl_sgemm('N', 'N', rows, n, k, 1.0f, x, k, wio[s], n, 0.0f, y, n);
#endif
                } else {
                    int p = c - OURS_F32;
                    struct gh_kern_gemm g = {.x = x,
                                             .ldx = k,
                                             .rows = rows,
                                             .w = &pw[p][s],
                                             .y = y,
                                             .ldy = n,
                                             .act = {act, ascale}};
                    struct ctx cx = {&g,
                                     p == 0   ? ops->f32
                                     : p == 1 ? ops->bf16
                                              : ops->i8,
                                     p == 1 ? ops->prep_bf16 : ops->prep_i8};
                    if (!cx.fn)
                        break;
                    if (p)
                        gh_kern_pool_run(pool, prep_part, &cx);
                    gh_kern_pool_run(pool, part, &cx);
                }
            }
            if (r >= 0)
                t[c][r] = now_s() - t0;
        }
    for (int c = 0; c < N_CAND; c++) {
        qsort(t[c], (size_t)rounds, sizeof(double), cmp);
        double med = t[c][rounds / 2];
#ifndef GH_HAVE_DNNL
        if (c == DNNL)
            continue;
#endif
        if (c == OURS_BF16 && !ops->bf16)
            continue;
        printf("{\"gemm\": \"%s\", \"detail\": \"%s\", \"rows\": %d, \"threads\": %d, "
               "\"ms\": %.3f, \"gflops\": %.1f}\n",
               names[c],
               c == OPENBLAS    ? openblas_get_corename()
               : c == DNNL      ? "dnnl_sgemm"
               : c == OURS_F32  ? ops->f32_name
               : c == OURS_BF16 ? ops->bf16_name
                                : ops->i8_name,
               rows, threads, med * 1e3, flops / med / 1e9);
    }
    return 0;
}
