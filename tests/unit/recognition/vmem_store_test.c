/* SPDX-License-Identifier: MIT */
/* Visual memory in the store, against every backend: a temporary SQLite file and each URL in
 * GH_STORE_TEST_URLS (PostgreSQL in `make test`). Rows come back in id order, only confirmed
 * ones, only the model's, after an id and a time; pruning by age and by the cap; and two
 * indexes on one store, as two instances: what one remembers the other finds on its next
 * refresh. Models are unique per run, so a shared database works. */
#include "gh/recognition.h"
#include "gh/store.h"

#include "gh_test.h"
#include "gh_test_vec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define DIM 40

static const char *g_url;
static char g_model[65];

static struct gh_store *open_store(void)
{
    struct gh_store *st = NULL;
    struct gh_err err = {0};

    if (gh_store_open(g_url, 2, &st, &err) != GH_OK)
        fprintf(stderr, "%s: %s\n", g_url, err.msg);
    return st;
}

static void row(struct gh_vmem_row *r, const char *model, int seed, const char *slug,
                const char *source, int64_t t)
{
    float v[DIM];

    memset(r, 0, sizeof *r);
    gh_test_unit_vec(v, DIM, seed);
    r->created_at = t;
    snprintf(r->sha256, sizeof r->sha256, "%064d", seed);
    snprintf(r->slug, sizeof r->slug, "%s", slug);
    snprintf(r->source, sizeof r->source, "%s", source);
    snprintf(r->model, sizeof r->model, "%s", model);
    r->dim = DIM;
    gh_vmem_quantize(v, DIM, r->vec, &r->scale);
}

static void rows_round_trip_filtered_and_pruned(void)
{
    struct gh_store *st = open_store();
    static struct gh_vmem_row r, out[8];
    char other[65];
    int64_t first = 0, deleted = -1;
    size_t n = 0;

    if (!st) {
        CHECK(0);
        return;
    }
    snprintf(other, sizeof other, "%.50s-other", g_model);
    for (int i = 0; i < 5; i++) {
        row(&r, i == 3 ? other : g_model, i, i % 2 ? "bench" : "barbell",
            i == 2 ? GH_VMEM_SOURCE_CLIP : GH_VMEM_SOURCE_PROVIDER, 1000 + i);
        CHECK_INT(gh_store_vmem_add(st, &r, NULL), GH_OK);
        CHECK(r.id > first);
        first = first ? first : r.id;
    }
    CHECK_INT(gh_store_vmem_list(st, g_model, first - 1, 0, 8, out, &n, NULL), GH_OK);
    CHECK_INT(n, 3); /* not the CLIP answer, not the other model's */
    if (n == 3) {
        row(&r, g_model, 4, "barbell", GH_VMEM_SOURCE_PROVIDER, 1004);
        CHECK_INT(out[2].dim, DIM);
        CHECK(memcmp(out[2].vec, r.vec, DIM) == 0);
        CHECK(fabsf(out[2].scale - r.scale) < 1e-6f * r.scale);
        CHECK_STR(out[2].slug, "barbell");
        CHECK_STR(out[2].source, "provider");
        CHECK_INT(out[0].created_at, 1000);
        CHECK(out[0].id < out[1].id && out[1].id < out[2].id);
    }
    CHECK_INT(gh_store_vmem_list(st, g_model, out[0].id, 0, 8, out, &n, NULL), GH_OK);
    CHECK_INT(n, 2);
    CHECK_INT(gh_store_vmem_list(st, g_model, first - 1, 1002, 8, out, &n, NULL), GH_OK);
    CHECK_INT(n, 1);
    CHECK_INT(gh_store_vmem_list(st, g_model, first - 1, 0, 0, out, &n, NULL), GH_EINVAL);
    r.dim = GH_STORE_VMEM_DIM_MAX + 1;
    CHECK_INT(gh_store_vmem_add(st, &r, NULL), GH_EINVAL);
    /* age: rows created before 1002 of any model; other tests' rows are newer (time(NULL)) */
    CHECK_INT(gh_store_vmem_prune(st, 1002, 0, &deleted, NULL), GH_OK);
    CHECK(deleted >= 2);
    CHECK_INT(gh_store_vmem_list(st, g_model, first - 1, 0, 8, out, &n, NULL), GH_OK);
    CHECK_INT(n, 1);
    gh_store_close(st);
}

static void second_instance_sees_the_firsts_memory(void)
{
    struct gh_store *a = open_store(), *b = open_store();
    struct gh_vmem_opts o = {g_model, DIM, 0, 0, 0, 1, 0, 0};
    struct gh_vmem *va = NULL, *vb = NULL;
    struct gh_vmem_hit hit;
    float v[DIM], w[DIM];
    int64_t now = (int64_t)time(NULL);
    int n = 0;

    if (!a || !b) {
        CHECK(0);
        goto out;
    }
    snprintf(g_model + strlen(g_model) - 1, 2, "2"); /* a fresh model: an empty memory */
    CHECK_INT(gh_vmem_new(a, &o, &va, NULL), GH_OK);
    CHECK_INT(gh_vmem_new(b, &o, &vb, NULL), GH_OK);
    gh_test_unit_vec(v, DIM, 101);
    gh_test_unit_vec(w, DIM, 202);
    CHECK_INT(gh_vmem_search(vb, v, 1, now, &hit, &n, NULL), GH_OK);
    CHECK_INT(n, 0);
    CHECK_INT(gh_vmem_add(va, "", v, "leg-press", GH_VMEM_SOURCE_PROVIDER, now, NULL), GH_OK);
    CHECK_INT(gh_vmem_add(va, "", w, "dip-station", GH_VMEM_SOURCE_CLIP, now, NULL), GH_OK);
    CHECK_INT(gh_vmem_search(vb, v, 1, now, &hit, &n, NULL), GH_OK); /* refresh_ms 0 */
    CHECK_INT(n, 1);
    CHECK_STR(hit.slug, "leg-press");
    CHECK(hit.similarity > 0.98);
    CHECK_INT(gh_vmem_search(vb, w, 1, now, &hit, &n, NULL), GH_OK);
    CHECK(n == 1 && strcmp(hit.slug, "leg-press") == 0); /* CLIP's own label is not there */
out:
    gh_vmem_free(va);
    gh_vmem_free(vb);
    gh_store_close(a);
    gh_store_close(b);
}

static void quality_samples_sum_by_bucket(void)
{
    struct gh_store *st = open_store();
    struct gh_quality_sample q = {0};
    struct gh_quality_bucket b[GH_QUALITY_BUCKETS];
    int64_t t = INT64_C(4000000000) + (int64_t)getpid() * 100; /* after every other run's */

    if (!st) {
        CHECK(0);
        return;
    }
    q.created_at = t;
    snprintf(q.sha256, sizeof q.sha256, "%064d", 7);
    snprintf(q.clip_slug, sizeof q.clip_slug, "barbell");
    snprintf(q.paid_slug, sizeof q.paid_slug, "barbell");
    q.clip_confidence = 0.97; /* bucket 19, agrees */
    CHECK_INT(gh_store_quality_add(st, &q, NULL), GH_OK);
    snprintf(q.paid_slug, sizeof q.paid_slug, "leg-press");
    q.clip_confidence = 1.0; /* bucket 19 too, disagrees */
    CHECK_INT(gh_store_quality_add(st, &q, NULL), GH_OK);
    q.shadow = 1;
    q.clip_confidence = 0.31; /* bucket 6, a shadow sample that disagrees */
    CHECK_INT(gh_store_quality_add(st, &q, NULL), GH_OK);
    q.clip_confidence = 1.5;
    CHECK_INT(gh_store_quality_add(st, &q, NULL), GH_EINVAL);
    CHECK_INT(gh_store_quality_buckets(st, t, b, NULL), GH_OK);
    CHECK_INT(b[19].escalated, 2);
    CHECK_INT(b[19].agree_escalated, 1);
    CHECK_INT(b[6].shadow, 1);
    CHECK_INT(b[6].agree_shadow, 0);
    CHECK_INT(b[0].escalated + b[0].shadow, 0);
    gh_store_close(st);
}

static void quality_threshold_follows_the_samples(void)
{
    struct gh_quality_report r = {0};

    r.b[19] = (struct gh_quality_bucket){.shadow = 10, .agree_shadow = 10};
    r.b[15] = (struct gh_quality_bucket){.escalated = 4, .agree_escalated = 3};
    r.b[8] = (struct gh_quality_bucket){.escalated = 6, .agree_escalated = 1};
    r.shadow_rate = 0.5; /* each shadow sample stands for 2 answers */
    r.precision_target = 0.95;
    gh_quality_compute(&r);
    CHECK_INT(r.samples, 20);
    CHECK(fabs(r.threshold - 0.75) < 1e-9); /* (20 + 3) / (20 + 4) = 0.958 */
    CHECK(fabs(r.precision - 23.0 / 24) < 1e-9);
    CHECK_INT(r.escalations, 10);
    CHECK_INT(r.escalations_saved, 4);
    r.precision_target = 1.0;
    gh_quality_compute(&r);
    CHECK(fabs(r.threshold - 0.95) < 1e-9);
    CHECK_INT(r.escalations_saved, 0);
}

static int run(const char *url)
{
    static const struct gh_test_case cases[] = {GH_TEST(rows_round_trip_filtered_and_pruned),
                                                GH_TEST(second_instance_sees_the_firsts_memory),
                                                GH_TEST(quality_samples_sum_by_bucket),
                                                GH_TEST(quality_threshold_follows_the_samples)};

    g_url = url;
    snprintf(g_model, sizeof g_model, "test-%08lx-%d-1", (unsigned long)time(NULL), (int)getpid());
    printf("# %s\n", strncmp(url, "sqlite", 6) == 0 ? url : "GH_STORE_TEST_URLS entry");
    return gh_test_run(cases, sizeof cases / sizeof cases[0]);
}

int main(void)
{
    char tmpl[] = "/tmp/gh_vmem_test_XXXXXX", url[1100], path[160];
    const char *env = getenv("GH_STORE_TEST_URLS");
    int rc;

    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%s/v.db", tmpl);
    snprintf(url, sizeof url, "sqlite://%s", path);
    rc = run(url);
    unlink(path);
    snprintf(url, sizeof url, "%s/v.db-wal", tmpl);
    unlink(url);
    snprintf(url, sizeof url, "%s/v.db-shm", tmpl);
    unlink(url);
    rmdir(tmpl);
    while (env && *env) {
        size_t n = strcspn(env, " ");

        if (n > 0 && n < sizeof url) {
            memcpy(url, env, n);
            url[n] = '\0';
            rc |= run(url);
        }
        env += n + (env[n] == ' ');
    }
    return rc;
}
