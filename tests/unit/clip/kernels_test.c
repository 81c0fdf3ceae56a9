/* SPDX-License-Identifier: MIT */
/* The CLIP GEMM kernels (src/clip/kernels/): every set this CPU runs (ref, avx2, avx512 with its
 * bf16 and VNNI kernels) against the reference loops on the same packed weights, over shapes
 * that hit every tile remainder (rows 1..13 and 50, odd k, n not a multiple of 32), with and
 * without bias and accumulation; int8 and bf16 also against the exact f32 product, within their
 * quantisation bounds; the pool's split. */
#include "../../gh_test.h"
#include "clip/kernels/kernels.h"
#include "gh/alloc.h"

#include <math.h>
#include <stdlib.h>

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

struct pool_ctx {
    const struct gh_kern_ops *ops;
    struct gh_kern_gemm *g;
    gh_kern_gemm_fn fn;
};

static void run_part(void *arg, int t, int nt)
{
    struct pool_ctx *c = arg;
    int lo, hi;

    gh_kern_split(c->g->w->n_panels, 1, t, nt, &lo, &hi);
    if (lo < hi)
        c->fn(c->g, lo, hi);
}

/* y = fn over all panels on pool (2 threads), from x [rows, k] through the set's preparation. */
static void gemm(struct gh_kern_pool *pool, const struct gh_kern_ops *ops, gh_kern_gemm_fn fn,
                 const struct gh_kern_w *w, const float *x, int rows, const float *b, float *y,
                 int acc, void *act, float *ascale)
{
    struct gh_kern_gemm g = {
        .x = x, .ldx = w->k, .rows = rows, .w = w, .b = b, .y = y, .ldy = w->n, .acc = acc};
    struct pool_ctx c = {ops, &g, fn};

    if (w->prec == GH_KERN_BF16)
        ops->prep_bf16(x, w->k, w->kp, 0, rows, act, ascale);
    if (w->prec == GH_KERN_I8)
        ops->prep_i8(x, w->k, w->kp, 0, rows, act, ascale);
    g.act.data = act;
    g.act.scale = ascale;
    gh_kern_pool_run(pool, run_part, &c);
}

static float max_abs(const float *a, const float *b, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabsf(a[i] - b[i]) > m ? fabsf(a[i] - b[i]) : m;
    return m;
}

static int n_sets;
static const struct gh_kern_ops *sets[3];

static void find_sets(void)
{
    const char *names[] = {"ref", "avx2", "avx512"};
    n_sets = 0;
    for (int i = 0; i < 3; i++)
        if (gh_kern_select(names[i], &sets[n_sets], NULL) == GH_OK)
            n_sets++;
    for (int i = 0; i < n_sets; i++)
        printf("kernels %s: f32 %s, bf16 %s, int8 %s\n", sets[i]->isa, sets[i]->f32_name,
               sets[i]->bf16_name ? sets[i]->bf16_name : "-", sets[i]->i8_name);
}

/* One shape, every set and precision. */
static void check_shape(struct gh_kern_pool *pool, int rows, int k, int n, int bias, int acc)
{
    unsigned s = (unsigned)(rows * 131 + k * 7 + n);
    size_t nx = (size_t)rows * (size_t)k, ny = (size_t)rows * (size_t)n;
    float *x = gh_malloc_array(nx, 4), *wt = gh_malloc_array((size_t)n * (size_t)k, 4);
    float *b = gh_malloc_array((size_t)n, 4), *y0 = gh_malloc_array(ny, 4);
    float *exact = gh_malloc_array(ny, 4), *y = gh_malloc_array(ny, 4),
          *ref = gh_malloc_array(ny, 4);
    float *ascale = gh_malloc_array((size_t)rows, 4);
    void *act = gh_malloc((size_t)rows * (size_t)(k + 4) * 2);

    for (size_t i = 0; i < nx; i++)
        x[i] = frand(&s);
    for (size_t i = 0; i < (size_t)n * (size_t)k; i++)
        wt[i] = frand(&s);
    for (int i = 0; i < n; i++)
        b[i] = frand(&s);
    for (size_t i = 0; i < ny; i++)
        y0[i] = frand(&s);
    for (int r = 0; r < rows; r++) /* exact: double sums of the f32 operands */
        for (int o = 0; o < n; o++) {
            double t = bias ? b[o] : 0;
            for (int i = 0; i < k; i++)
                t += (double)x[(size_t)r * (size_t)k + (size_t)i] *
                     wt[(size_t)o * (size_t)k + (size_t)i];
            exact[(size_t)r * (size_t)n + (size_t)o] =
                (float)(t + (acc ? y0[(size_t)r * (size_t)n + (size_t)o] : 0));
        }
    for (int si = 0; si < n_sets; si++) {
        const struct gh_kern_ops *ops = sets[si];
        for (int prec = GH_KERN_F32; prec <= GH_KERN_I8; prec++) {
            gh_kern_gemm_fn fast = prec == GH_KERN_F32    ? ops->f32
                                   : prec == GH_KERN_BF16 ? ops->bf16
                                                          : ops->i8;
            gh_kern_gemm_fn slow = prec == GH_KERN_F32    ? gh_kern_f32_ref
                                   : prec == GH_KERN_BF16 ? gh_kern_bf16_ref
                                                          : gh_kern_i8_ref;
            struct gh_kern_w w;
            if (!fast)
                continue;
            CHECK(gh_kern_w_init(&w, (enum gh_kern_prec)prec, k, n, NULL) == GH_OK);
            gh_kern_pack(&w, wt, 0, n, ops->i8_wmax);
            memcpy(y, y0, ny * 4);
            memcpy(ref, y0, ny * 4);
            gemm(pool, ops, fast, &w, x, rows, bias ? b : NULL, y, acc, act, ascale);
            gemm(pool, ops, slow, &w, x, rows, bias ? b : NULL, ref, acc, act, ascale);
            /* same operands: only the order of f32 sums differs (int8: exact sums) */
            float same = max_abs(y, ref, ny), err = max_abs(y, exact, ny);
            /* against the exact product: |x|, |w| <= 1, so the quantisation bound grows with
             * sqrt(k) for random rounding errors; 4 sigma margins */
            float qb = prec == GH_KERN_F32 ? 1e-5f * (float)k
                       : prec == GH_KERN_BF16
                           ? 0.008f * sqrtf((float)k) + 1e-5f * (float)k
                           : (ops->i8_wmax == 127 ? 0.02f : 0.04f) * sqrtf((float)k);
            if (same > 1e-5f * (float)k + 1e-5f || err > qb)
                fprintf(stderr,
                        "%s prec %d rows %d k %d n %d bias %d acc %d: vs ref %g, vs exact %g "
                        "(bound %g)\n",
                        ops->isa, prec, rows, k, n, bias, acc, (double)same, (double)err,
                        (double)qb);
            CHECK(same <= 1e-5f * (float)k + 1e-5f);
            CHECK(err <= qb);
            gh_kern_w_fini(&w);
        }
    }
    gh_free(x);
    gh_free(wt);
    gh_free(b);
    gh_free(y0);
    gh_free(exact);
    gh_free(y);
    gh_free(ref);
    gh_free(ascale);
    gh_free(act);
}

static void test_shapes(void)
{
    static const int rows[] = {1, 2, 3, 5, 12, 13, 50};
    static const int ks[] = {1, 3, 37, 64};
    static const int ns[] = {1, 29, 32, 45, 65};
    struct gh_kern_pool *pool = NULL;

    find_sets();
    CHECK(n_sets >= 1);
    CHECK(gh_kern_pool_new(2, &pool, NULL) == GH_OK);
    for (size_t r = 0; r < sizeof rows / sizeof *rows; r++)
        for (size_t k = 0; k < sizeof ks / sizeof *ks; k++)
            for (size_t n = 0; n < sizeof ns / sizeof *ns; n++)
                check_shape(pool, rows[r], ks[k], ns[n], (int)(r + n) % 2, (int)(k + n) % 2);
    /* a ViT-B/32 shape: 50 tokens, 768 -> 96 (three panels), bias and residual */
    check_shape(pool, 50, 768, 96, 1, 1);
    check_shape(pool, 130, 200, 40, 1, 0); /* past one row chunk */
    gh_kern_pool_free(pool);
}

/* The best set on this CPU is the one picked with no preference; a name it lacks is refused. */
static void test_select(void)
{
    const struct gh_kern_ops *o = NULL;
    struct gh_err err = {0};

    CHECK(gh_kern_select(NULL, &o, NULL) == GH_OK && o != NULL);
    CHECK(gh_kern_select("ref", &o, NULL) == GH_OK && o == &gh_kern_ref_ops);
    CHECK(gh_kern_select("sse9", &o, &err) == GH_EINVAL);
    CHECK(strstr(err.msg, "sse9") != NULL);
    CHECK(strlen(gh_kern_cpu_line()) > 0);
}

static void test_split(void)
{
    int lo, hi, covered = 0;
    for (int t = 0; t < 3; t++) {
        gh_kern_split(10, 4, t, 3, &lo, &hi);
        CHECK(lo % 4 == 0 && lo <= hi && hi <= 10);
        covered += hi - lo;
    }
    CHECK_INT(covered, 10);
}

GH_TEST_MAIN(GH_TEST(test_shapes), GH_TEST(test_select), GH_TEST(test_split))
