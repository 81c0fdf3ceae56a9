/* SPDX-License-Identifier: MIT */
/* The visual memory without a store: the SIMD kernels (int8 dots, bit-code scores) equal the
 * reference loops (integers: exactly), int8 similarities stay within 0.02 of float cosines,
 * search finds what was added and only confirmed labels, the cap and retention drop the
 * oldest, a threaded scan of a large memory finds what one thread finds, the two-stage search
 * finds at least 95% of the exact top 8 on clustered embeddings and always a planted
 * near-duplicate, with exact similarities and the same answer on every kernel, and the
 * Tip-Adapter sharpening moves probability to the neighbours' class as its closed form says. */
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

/* Bit codes against 4-bit planes: every kernel equals the definition, on word counts that leave
 * AVX2 (4 words) and AVX-512 (8 words) a tail, with the extremes (all bits, u = 0 and 15). */
static void bit_kernels_match_reference(void)
{
    enum { N = 37, WORDS_MAX = 17 };
    static uint64_t codes[N * WORDS_MAX], planes[GH_VMEM_PLANES * WORDS_MAX];
    const size_t words[] = {1, 3, 4, 8, 9, 16, 17};
    const char *names[] = {"scalar", "avx2", "avx512"};
    int32_t want[N], got[N];

    for (size_t t = 0; t < sizeof words / sizeof words[0]; t++) {
        size_t w = words[t];

        for (size_t i = 0; i < N * w; i++)
            codes[i] = (uint64_t)(urand() * 0x1p32) << 32 | (uint64_t)(urand() * 0x1p32);
        for (size_t i = 0; i < GH_VMEM_PLANES * w; i++)
            planes[i] = (uint64_t)(urand() * 0x1p32) << 32 | (uint64_t)(urand() * 0x1p32);
        for (size_t i = 0; i < w; i++) {
            codes[i] = ~0ull; /* row 0: every bit */
            codes[w + i] = 0; /* row 1: none */
        }
        for (size_t p = 0; p < GH_VMEM_PLANES; p++) {
            planes[p * w] = ~0ull; /* word 0: u = 15 */
            if (w > 1)
                planes[p * w + 1] = 0; /* word 1: u = 0 */
        }
        gh_vmem_bits_ref(planes, codes, w, N, want);
        CHECK_INT(want[1], 0);
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            gh_vmem_bits_fn f = gh_vmem_bits_by_name(names[k]);

            if (!f) {
                if (t == 0)
                    printf("     (no %s on this CPU)\n", names[k]);
                continue;
            }
            memset(got, 0x55, sizeof got);
            f(planes, codes, w, N, got);
            for (int i = 0; i < N; i++)
                CHECK_INT(got[i], want[i]);
        }
    }
}

static struct gh_vmem *mem_exact(int dim, int64_t cap, int64_t retention, int threads,
                                 int64_t exact_max)
{
    struct gh_vmem_opts o = {"test-model", dim, cap, retention, 0, threads, exact_max, 0};
    struct gh_vmem *vm = NULL;

    CHECK_INT(gh_vmem_new(NULL, &o, &vm, NULL), GH_OK);
    return vm;
}

static struct gh_vmem *mem(int dim, int64_t cap, int64_t retention, int threads)
{
    struct gh_vmem_opts o = {"test-model", dim, cap, retention, 0, threads, 0, 0};
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
    CHECK_INT(st.bytes_per_entry, 128 + 16 + 4 + 8 + 8 + 2); /* 100 dims: 2 code words */
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
    /* the exact scan, then two stages with the codes split between the threads too: the
     * candidates do not depend on the split */
    for (int mode = 0; mode < 2; mode++) {
        gh_vmem_tune(one, 0, mode ? GH_VMEM_EXACT_MAX : INT64_MAX, 0, 0);
        gh_vmem_tune(two, 0, mode ? GH_VMEM_EXACT_MAX : INT64_MAX, 0, mode ? 1024 : 0);
        for (int k = 0; k < 3; k++) {
            unit_vec(q, DIM);
            CHECK_INT(gh_vmem_search(one, q, 8, 1, a, &na, NULL), GH_OK);
            CHECK_INT(gh_vmem_search(two, q, 8, 1, b, &nb, NULL), GH_OK);
            CHECK_INT(na, 8);
            CHECK_INT(nb, 8);
            for (int i = 0; i < na && i < nb; i++) {
                CHECK_INT(a[i].id, b[i].id);
                CHECK(a[i].similarity == b[i].similarity);
            }
        }
    }
    gh_vmem_free(one);
    gh_vmem_free(two);
    free(v);
}

/* Embeddings clustered as real photos' are, not uniform on the sphere (where sign codes mean
 * little): a direction all photos share (CLIP's image embeddings sit in a narrow cone), 64
 * classes, instances of a class (one machine in one gym), noise per photo, the variance
 * decaying over the dimensions; popular instances have many photos. The same model as
 * bench/vmem_bench.py's data. */
#define CL_DIM_MAX 512
#define CL_CLASSES 64

struct clustered {
    int dim, n_inst;
    float mean[CL_DIM_MAX], cls[CL_CLASSES][CL_DIM_MAX];
    float *inst; /* [n_inst, dim] */
    int *inst_cls;
};

static double gauss(void)
{
    return sqrt(-2 * log(1 - urand())) * cos(2 * acos(-1.0) * urand());
}

static void normalise(float *v, int dim)
{
    double n = 0;

    for (int i = 0; i < dim; i++)
        n += (double)v[i] * v[i];
    for (int i = 0; i < dim; i++)
        v[i] = (float)(v[i] / sqrt(n));
}

static void direction(float *v, int dim, int aniso)
{
    for (int i = 0; i < dim; i++)
        v[i] = (float)(gauss() / (aniso ? sqrt(1 + i / 16.0) : 1));
    normalise(v, dim);
}

static void clustered_init(struct clustered *c, int dim, int n_inst)
{
    c->dim = dim;
    c->n_inst = n_inst;
    c->inst = malloc(sizeof(float) * (size_t)dim * (size_t)n_inst);
    c->inst_cls = malloc(sizeof(int) * (size_t)n_inst);
    direction(c->mean, dim, 0);
    for (int i = 0; i < CL_CLASSES; i++)
        direction(c->cls[i], dim, 1);
    for (int i = 0; i < n_inst; i++) {
        direction(c->inst + (size_t)i * (size_t)dim, dim, 1);
        c->inst_cls[i] = (int)(urand() * CL_CLASSES);
    }
}

static void clustered_fini(struct clustered *c)
{
    free(c->inst);
    free(c->inst_cls);
}

/* A photo of a random instance, the popular ones more likely (rank / n_inst is the product of
 * two uniform draws: density -ln x). */
static void clustered_photo(const struct clustered *c, float *v)
{
    int inst = (int)(c->n_inst * urand() * urand());
    float noise[CL_DIM_MAX];
    const float *ci = c->cls[c->inst_cls[inst]], *ii = c->inst + (size_t)inst * (size_t)c->dim;

    direction(noise, c->dim, 1);
    for (int j = 0; j < c->dim; j++)
        v[j] = c->mean[j] + 0.9f * ci[j] + 0.8f * ii[j] + 0.35f * noise[j];
    normalise(v, c->dim);
}

/* The similarity the index reports: both quantised, the int8 dot product scaled. */
static float int8_sim(const float *a, const float *b, int dim)
{
    int8_t qa[CL_DIM_MAX], qb[CL_DIM_MAX];
    float sa, sb;
    int32_t d = 0;

    gh_vmem_quantize(a, dim, qa, &sa);
    gh_vmem_quantize(b, dim, qb, &sb);
    for (int i = 0; i < dim; i++)
        d += (int32_t)qa[i] * qb[i];
    return (float)d * sa * sb;
}

/* Of the two-stage top 8, those at least as similar as the exact 8th (ties count). */
static int found_of_exact(const struct gh_vmem_hit *two, int n_two, const struct gh_vmem_hit *ex,
                          int n_ex)
{
    int found = 0;

    for (int i = 0; i < n_two && n_ex > 0; i++)
        found += two[i].similarity >= ex[n_ex - 1].similarity;
    return found;
}

/* 20,000 clustered 512-d photos (two stages past GH_VMEM_EXACT_MAX); each query is a new photo,
 * and a near-duplicate of it (cosine >= 0.95) is planted first, somewhere among the rows. */
static void two_stages_find_the_exact_neighbours(void)
{
    enum { DIM = 512, N = 20000, NQ = 40 };
    struct clustered c;
    float *v = malloc(sizeof(float) * DIM * (N + NQ)), q[NQ][DIM];
    struct gh_vmem *two = mem(DIM, 0, 0, 1), *exact = mem_exact(DIM, 0, 0, 1, INT64_MAX);
    struct gh_vmem_hit a[8], b[8], ref[NQ][8];
    int na, nb, found = 0, nref[NQ];
    const char *bits[] = {"ref", "scalar", "avx2", "avx512"}, *dots[] = {"ref", "avx2", "avx512"};

    clustered_init(&c, DIM, N / 16);
    for (int i = 0; i < NQ; i++) /* row i * (N / NQ) + i is query i's near-duplicate */
        clustered_photo(&c, q[i]);
    for (int i = 0, d = 0; i < N + NQ; i++) {
        float *r = v + (size_t)i * DIM;

        if (i % (N / NQ + 1) == 0 && d < NQ) {
            for (int j = 0; j < DIM; j++)
                r[j] = q[d][j] + (float)(0.2 * gauss() / sqrt(DIM)); /* cosine ~0.98 */
            normalise(r, DIM);
            CHECK(cosine(r, q[d], DIM) >= 0.95);
            d++;
        } else {
            clustered_photo(&c, r);
        }
        CHECK_INT(gh_vmem_add(two, "", r, "barbell", GH_VMEM_SOURCE_PROVIDER, 1, NULL), GH_OK);
        CHECK_INT(gh_vmem_add(exact, "", r, "barbell", GH_VMEM_SOURCE_PROVIDER, 1, NULL), GH_OK);
    }
    for (int i = 0; i < NQ; i++) {
        int64_t dup = (int64_t)i * (N / NQ + 1) + 1; /* ids count from 1 */

        CHECK_INT(gh_vmem_search(two, q[i], 8, 1, a, &na, NULL), GH_OK);
        CHECK_INT(gh_vmem_search(exact, q[i], 8, 1, b, &nb, NULL), GH_OK);
        CHECK_INT(na, 8);
        CHECK_INT(nb, 8);
        CHECK_INT(b[0].id, dup);     /* planted as the nearest ... */
        CHECK_INT(a[0].id, dup);     /* ... and found */
        for (int j = 0; j < na; j++) /* the similarities are the exact ones */
            CHECK(a[j].similarity == (double)int8_sim(q[i], v + (size_t)(a[j].id - 1) * DIM, DIM));
        found += found_of_exact(a, na, b, nb);
        memcpy(ref[i], a, sizeof a);
        nref[i] = na;
    }
    printf("     recall@8 %.4f over %d queries, %d photos\n", found / (8.0 * NQ), NQ, N + NQ);
    CHECK(found >= 0.95 * 8 * NQ);
    /* every kernel gives the same answer, each forced in turn (the others the best) */
    for (size_t k = 0; k < sizeof bits / sizeof bits[0] + sizeof dots / sizeof dots[0]; k++) {
        const char *bn = k < 4 ? bits[k] : NULL, *dn = k < 4 ? NULL : dots[k - 4];

        if (gh_vmem_use_kernels(two, dn, bn) != GH_OK)
            continue;
        for (int i = 0; i < 3; i++) {
            CHECK_INT(gh_vmem_search(two, q[i], 8, 1, a, &na, NULL), GH_OK);
            CHECK_INT(na, nref[i]);
            for (int j = 0; j < na && j < nref[i]; j++) {
                CHECK_INT(a[j].id, ref[i][j].id);
                CHECK(a[j].similarity == ref[i][j].similarity);
            }
        }
        CHECK_INT(gh_vmem_use_kernels(two, "avx512", "avx512") == GH_OK ||
                      gh_vmem_use_kernels(two, "avx2", "avx2") == GH_OK ||
                      gh_vmem_use_kernels(two, "ref", "scalar") == GH_OK,
                  1);
    }
    gh_vmem_free(two);
    gh_vmem_free(exact);
    clustered_fini(&c);
    free(v);
}

/* Two stages on a memory that the cap and retention keep cutting from the front: what was
 * dropped never comes back and the answers follow the exact scan of what is left. */
static void two_stages_follow_cap_and_retention(void)
{
    enum { DIM = 128, N = 5000, CAP = 2000, KEEP_S = 2500, NQ = 20 };
    struct clustered c;
    float *v = malloc(sizeof(float) * DIM * N), q[DIM];
    struct gh_vmem *two = mem_exact(DIM, CAP, KEEP_S, 2, 100);
    struct gh_vmem *exact = mem_exact(DIM, CAP, KEEP_S, 1, INT64_MAX);
    struct gh_vmem_hit a[8], b[8];
    struct gh_vmem_stats st;
    int na, nb, found = 0;

    clustered_init(&c, DIM, 100);
    for (int i = 0; i < N; i++) {
        clustered_photo(&c, v + (size_t)i * DIM);
        CHECK_INT(
            gh_vmem_add(two, "", v + (size_t)i * DIM, "barbell", GH_VMEM_SOURCE_PROVIDER, i, NULL),
            GH_OK);
        CHECK_INT(gh_vmem_add(exact, "", v + (size_t)i * DIM, "barbell", GH_VMEM_SOURCE_PROVIDER, i,
                              NULL),
                  GH_OK);
    }
    for (int round = 0; round < 2; round++) {
        /* photo i (id i + 1) was created at i: first the cap keeps the last CAP, then
         * retention at N - 1000 + KEEP_S the last 1000 */
        int64_t now = round == 0 ? N : N - 1000 + KEEP_S,
                first = round == 0 ? N - CAP + 1 : N - 999;

        gh_vmem_stats(two, &st);
        CHECK_INT(st.entries, N - first + 1);
        for (int i = 0; i < NQ; i++) {
            clustered_photo(&c, q);
            CHECK_INT(gh_vmem_search(two, q, 8, now, a, &na, NULL), GH_OK);
            CHECK_INT(gh_vmem_search(exact, q, 8, now, b, &nb, NULL), GH_OK);
            CHECK_INT(na, 8);
            for (int j = 0; j < na; j++)
                CHECK(a[j].id >= first && a[j].id <= N);
            found += found_of_exact(a, na, b, nb);
        }
        CHECK_INT(gh_vmem_refresh(two, N - 1000 + KEEP_S, NULL), GH_OK);
        CHECK_INT(gh_vmem_refresh(exact, N - 1000 + KEEP_S, NULL), GH_OK);
    }
    printf("     recall@8 %.4f at %d dimensions\n", found / (8.0 * 2 * NQ), DIM);
    CHECK(found >= 0.9 * 8 * 2 * NQ);
    gh_vmem_free(two);
    gh_vmem_free(exact);
    clustered_fini(&c);
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

GH_TEST_MAIN(GH_TEST(kernels_match_reference), GH_TEST(bit_kernels_match_reference),
             GH_TEST(finds_confirmed_and_quantises_closely),
             GH_TEST(cap_and_retention_drop_the_oldest),
             GH_TEST(threaded_scan_finds_what_one_thread_finds),
             GH_TEST(two_stages_find_the_exact_neighbours),
             GH_TEST(two_stages_follow_cap_and_retention),
             GH_TEST(sharpening_follows_the_closed_form))
