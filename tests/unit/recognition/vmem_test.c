/* SPDX-License-Identifier: MIT */
/* The visual memory without a store: the SIMD scan kernels equal the reference loop (integers:
 * exactly), int8 similarities stay within 0.02 of float cosines, search finds what was added
 * and only confirmed labels, the cap and retention drop the oldest, a threaded scan of a
 * large memory finds what one thread finds, and the Tip-Adapter sharpening moves probability
 * to the neighbours' class as its closed form says. */
#include "gh/recognition.h"
#include "recognition/internal.h"

#include "gh_test.h"

#include <math.h>
#include <stdlib.h>

static uint64_t g_s = 0x9e3779b97f4a7c15ull;

static double urand(void)
{
    g_s ^= g_s << 13;
    g_s ^= g_s >> 7;
    g_s ^= g_s << 17;
    return (double)(g_s >> 11) / (double)(1ull << 53);
}

static void unit_vec(float *v, int dim)
{
    double n = 0;

    for (int i = 0; i < dim; i++) {
        v[i] = (float)(urand() * 2 - 1);
        n += (double)v[i] * v[i];
    }
    for (int i = 0; i < dim; i++)
        v[i] = (float)(v[i] / sqrt(n));
}

static double cosine(const float *a, const float *b, int dim)
{
    double s = 0;

    for (int i = 0; i < dim; i++)
        s += (double)a[i] * b[i];
    return s;
}

static void kernels_match_reference(void)
{
    enum { DIM = 192, N = 37 };
    static int8_t rows[N * DIM] __attribute__((aligned(64)));
    int16_t q[DIM];
    int32_t want[N], got[N];
    const char *names[] = {"avx2", "avx512"};

    for (int i = 0; i < N * DIM; i++)
        rows[i] = (int8_t)(urand() * 255 - 127);
    for (int i = 0; i < DIM; i++)
        q[i] = (int16_t)(urand() * 255 - 127);
    rows[0] = -128; /* the extremes */
    q[0] = -128;
    gh_vmem_dots_ref(q, rows, DIM, DIM, N, want);
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        gh_vmem_dots_fn f = gh_vmem_dots_by_name(names[k]);

        if (!f) {
            printf("     (no %s on this CPU)\n", names[k]);
            continue;
        }
        memset(got, 0, sizeof got);
        f(q, rows, DIM, DIM, N, got);
        for (int i = 0; i < N; i++)
            CHECK_INT(got[i], want[i]);
    }
}

static struct gh_vmem *mem(int dim, int64_t cap, int64_t retention, int threads)
{
    struct gh_vmem_opts o = {"test-model", dim, cap, retention, 0, threads};
    struct gh_vmem *vm = NULL;

    CHECK_INT(gh_vmem_new(NULL, &o, &vm, NULL), GH_OK);
    return vm;
}

static void finds_confirmed_and_quantises_closely(void)
{
    enum { DIM = 100, N = 50 };
    static float v[N][DIM];
    struct gh_vmem *vm = mem(DIM, 0, 0, 1);
    struct gh_vmem_hit hits[4];
    struct gh_vmem_stats st;
    int n = 0;

    for (int i = 0; i < N; i++) {
        char slug[16];

        unit_vec(v[i], DIM);
        snprintf(slug, sizeof slug, "s%d", i);
        CHECK_INT(gh_vmem_add(vm, "", v[i], slug,
                              i == 7 ? GH_VMEM_SOURCE_USER : GH_VMEM_SOURCE_PROVIDER, 1000, NULL),
                  GH_OK);
    }
    gh_vmem_stats(vm, &st);
    CHECK_INT(st.entries, N - 1); /* the single user's correction is not searchable */
    CHECK_INT(st.bytes_per_entry, 128 + 4 + 8 + 8 + 2);
    CHECK_INT(gh_vmem_search(vm, v[3], 4, 1000, hits, &n, NULL), GH_OK);
    CHECK_INT(n, 4);
    CHECK_STR(hits[0].slug, "s3");
    CHECK(fabs(hits[0].similarity - 1) < 0.02);
    for (int i = 1; i < n; i++) {
        int j = atoi(hits[i].slug + 1);

        CHECK(hits[i].similarity <= hits[i - 1].similarity);
        CHECK(fabs(hits[i].similarity - cosine(v[3], v[j], DIM)) < 0.02);
    }
    CHECK_INT(gh_vmem_search(vm, v[7], 1, 1000, hits, &n, NULL), GH_OK);
    CHECK(n == 1 && strcmp(hits[0].slug, "s7") != 0);
    CHECK_INT(gh_vmem_add(vm, "", v[0], "x", "gossip", 1000, NULL), GH_EINVAL);
    v[0][5] = NAN;
    CHECK_INT(gh_vmem_search(vm, v[0], 1, 1000, hits, &n, NULL), GH_EINVAL);
    gh_vmem_free(vm);
}

static void cap_and_retention_drop_the_oldest(void)
{
    enum { DIM = 16 };
    float v[30][DIM];
    struct gh_vmem *vm = mem(DIM, 10, 100, 1);
    struct gh_vmem_hit hit;
    struct gh_vmem_stats st;
    int n;

    for (int i = 0; i < 30; i++) {
        unit_vec(v[i], DIM);
        CHECK_INT(gh_vmem_add(vm, "", v[i], i < 20 ? "old" : "new", GH_VMEM_SOURCE_TRUSTED,
                              1000 + i, NULL),
                  GH_OK);
    }
    gh_vmem_stats(vm, &st);
    CHECK_INT(st.entries, 10);
    CHECK_INT(gh_vmem_search(vm, v[0], 1, 1030, &hit, &n, NULL), GH_OK);
    CHECK_STR(hit.slug, "new"); /* the first twenty are gone */
    CHECK_INT(gh_vmem_refresh(vm, 1000 + 25 + 100, NULL), GH_OK);
    gh_vmem_stats(vm, &st);
    CHECK_INT(st.entries, 5); /* created 1025..1029 are within 100 s */
    CHECK_INT(gh_vmem_refresh(vm, 5000, NULL), GH_OK);
    gh_vmem_stats(vm, &st);
    CHECK_INT(st.entries, 0);
    CHECK_INT(gh_vmem_search(vm, v[0], 1, 5000, &hit, &n, NULL), GH_OK);
    CHECK_INT(n, 0);
    gh_vmem_free(vm);
}

static void threaded_scan_finds_what_one_thread_finds(void)
{
    enum { DIM = 64, N = 70000 };
    float *v = malloc(sizeof(float) * DIM * N), q[DIM];
    struct gh_vmem *one = mem(DIM, 0, 0, 1), *two = mem(DIM, 0, 0, 2);
    struct gh_vmem_hit a[8], b[8];
    int na, nb;

    for (int i = 0; i < N; i++) {
        char slug[16];

        unit_vec(v + (size_t)i * DIM, DIM);
        snprintf(slug, sizeof slug, "s%d", i % 300);
        CHECK_INT(gh_vmem_add(one, "", v + (size_t)i * DIM, slug, "provider", 1, NULL), GH_OK);
        CHECK_INT(gh_vmem_add(two, "", v + (size_t)i * DIM, slug, "provider", 1, NULL), GH_OK);
    }
    unit_vec(q, DIM);
    CHECK_INT(gh_vmem_search(one, q, 8, 1, a, &na, NULL), GH_OK);
    CHECK_INT(gh_vmem_search(two, q, 8, 1, b, &nb, NULL), GH_OK);
    CHECK_INT(na, 8);
    CHECK_INT(nb, 8);
    for (int i = 0; i < na && i < nb; i++) {
        CHECK_INT(a[i].id, b[i].id);
        CHECK(a[i].similarity == b[i].similarity);
    }
    gh_vmem_free(one);
    gh_vmem_free(two);
    free(v);
}

static void sharpening_follows_the_closed_form(void)
{
    struct gh_catalogue *cat = NULL;
    struct gh_zeroshot_result r = {0}, r0;
    struct gh_vmem_hit hits[3] = {{.similarity = 0.9}, {.similarity = 0.8}, {.similarity = 0.99}};
    const struct gh_equipment *e0, *e1, *e2;
    double a, z, sum = 0;

    CHECK_INT(gh_catalogue_load_embedded(&cat, NULL), GH_OK);
    e0 = gh_catalogue_at(cat, 0);
    e1 = gh_catalogue_at(cat, 1);
    e2 = gh_catalogue_at(cat, 2);
    r.n_top = 2;
    r.top[0] = (struct gh_zeroshot_hit){e0->slug, 0.5};
    r.top[1] = (struct gh_zeroshot_hit){e1->slug, 0.3};
    r.negative_mass = 0.1;
    r0 = r;
    snprintf(hits[0].slug, sizeof hits[0].slug, "%s", e1->slug);
    snprintf(hits[1].slug, sizeof hits[1].slug, "%s", e1->slug);
    snprintf(hits[2].slug, sizeof hits[2].slug, "%s", e2->slug);
    snprintf(hits[0].source, sizeof hits[0].source, "provider");
    snprintf(hits[1].source, sizeof hits[1].source, "trusted");
    snprintf(hits[2].source, sizeof hits[2].source, "clip"); /* unconfirmed: no vote */
    gh_vmem_sharpen(cat, hits, 3, 1.0, 5.5, &r);
    a = exp(-5.5 * 0.1) + exp(-5.5 * 0.2);
    z = 1 + 0.3 * (exp(a) - 1);
    CHECK_INT(r.n_top, 2);
    CHECK_STR(r.top[0].slug, e1->slug);
    CHECK(fabs(r.top[0].p - 0.3 * exp(a) / z) < 1e-9);
    CHECK(fabs(r.top[1].p - 0.5 / z) < 1e-9);
    CHECK(fabs(r.negative_mass - 0.1 / z) < 1e-9);
    for (int i = 0; i < r.n_top; i++)
        sum += r.top[i].p;
    CHECK(sum + r.negative_mass <= 1 + 1e-9);
    r = r0;
    r.not_gym = 1;
    gh_vmem_sharpen(cat, hits, 3, 1.0, 5.5, &r);
    CHECK(r.top[0].p == 0.5 && r.top[0].slug == e0->slug); /* the negative gate stands */
    gh_catalogue_free(cat);
}

GH_TEST_MAIN(GH_TEST(kernels_match_reference), GH_TEST(finds_confirmed_and_quantises_closely),
             GH_TEST(cap_and_retention_drop_the_oldest),
             GH_TEST(threaded_scan_finds_what_one_thread_finds),
             GH_TEST(sharpening_follows_the_closed_form))
