/* SPDX-License-Identifier: MIT */
/* The store contract: one table of cases run against every backend URL - sqlite::memory:, a
 * temporary SQLite file, and each URL in GH_STORE_TEST_URLS (space-separated, e.g. PostgreSQL).
 * Cases assume nothing about what the database already holds: keys and slugs are unique per run
 * and counts are compared as differences, so a shared server database works too. */
#include "gh/store.h"
#include "gh/store_auth.h"
#include "gh/store_corrections.h"
#include "gh/alloc.h"
#include "gh/catalogue.h"
#include "gh/phash.h"
#include "store/internal.h"
#include "../../gh_test.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define T0 INT64_C(1700000000) /* the tests' clock; the store never reads its own */

static const char *g_url; /* the backend under test */
static char g_tmp[64];    /* this run's temporary directory */
static char g_nonce[9];   /* makes slugs unique per run */
static uint64_t g_rng;    /* xorshift64 state, seeded per run */
static pthread_mutex_t g_rng_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* splitmix64's finaliser: seeds drawn from one xorshift stream would otherwise give workers
 * the same stream shifted by one, and so the same keys. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return (z ^ (z >> 31)) | 1;
}

static uint64_t rnd(void)
{
    uint64_t v;

    pthread_mutex_lock(&g_rng_mu);
    v = rng_next(&g_rng);
    pthread_mutex_unlock(&g_rng_mu);
    return v;
}

static void make_sha_from(uint64_t (*next)(void *), void *state, char out[GH_STORE_SHA_HEX_CAP])
{
    for (int i = 0; i < 4; i++)
        snprintf(out + 16 * i, 17, "%016llx", (unsigned long long)next(state));
}

static uint64_t next_global(void *unused)
{
    (void)unused;
    return rnd();
}

static void make_sha(char out[GH_STORE_SHA_HEX_CAP])
{
    make_sha_from(next_global, NULL, out);
}

/* One bit in each pHash segment (63..51, 50..38, 37..25, 24..12, 11..0): flipping the first n
 * of them gives distance n and leaves 5 - n segments equal, the index's worst case. */
static uint64_t flip(uint64_t h, int n)
{
    static const int bit[5] = {60, 45, 30, 15, 5};

    for (int i = 0; i < n; i++)
        h ^= UINT64_C(1) << bit[i];
    return h;
}

static void print_err(const char *what, int rc, const struct gh_err *err)
{
    if (rc != GH_OK)
        fprintf(stderr, "  %s: %s: %s\n", what, gh_err_name(rc), err->msg);
}

static struct gh_store *open_store(int pool_size)
{
    struct gh_store *st = NULL;
    struct gh_err err = {0};
    int rc = gh_store_open(g_url, pool_size, &st, &err);

    print_err("open", rc, &err);
    CHECK_INT(rc, GH_OK);
    return st;
}

struct entry_buf {
    struct gh_cache_entry e;
    char answer[128];
};

static void make_entry(struct entry_buf *b, uint64_t phash, int64_t created, int64_t expires)
{
    memset(b, 0, sizeof *b);
    make_sha(b->e.sha256);
    snprintf(b->answer, sizeof b->answer, "{\"slug\":\"\",\"sha\":\"%.8s\"}", b->e.sha256);
    b->e.answer_json = b->answer;
    b->e.phash = phash;
    snprintf(b->e.provider, sizeof b->e.provider, "clip");
    snprintf(b->e.model, sizeof b->e.model, "clip-vit-b-32");
    b->e.created_at = created;
    b->e.expires_at = expires;
}

static int put(struct gh_store *st, const struct gh_cache_entry *e)
{
    struct gh_err err = {0};
    int rc = gh_store_put(st, e, &err);

    print_err("put", rc, &err);
    return rc;
}

static struct gh_store_stats stats_at(struct gh_store *st, int64_t now)
{
    struct gh_store_stats s;
    struct gh_err err = {0};
    int rc = gh_store_stats(st, now, &s, &err);

    print_err("stats", rc, &err);
    CHECK_INT(rc, GH_OK);
    return s;
}

/* A near lookup that reports the answer's sha and distance ("" and -1 on a miss). */
static int near(struct gh_store *st, uint64_t phash, int max_d, int64_t now, char *sha, int *d)
{
    struct gh_cache_entry out;
    struct gh_err err = {0};
    int rc = gh_store_get_near(st, phash, max_d, now, &out, d, &err);

    if (rc != GH_ENOTFOUND)
        print_err("get_near", rc, &err);
    snprintf(sha, GH_STORE_SHA_HEX_CAP, "%s", rc == GH_OK ? out.sha256 : "");
    if (rc != GH_OK)
        *d = -1;
    gh_cache_entry_fini(&out);
    return rc;
}

/* ---- catalogue ---- */

#define ENTRY_JSON                                                                                 \
    "{\"slug\":\"%s-%s\",\"name\":\"%s\",\"aliases\":[\"%s\"],\"category\":\"%s\","                \
    "\"primary_muscles\":[\"quadriceps\"],\"secondary_muscles\":%s,"                               \
    "\"description\":\"A machine.\",\"setup\":[\"Adjust the seat.\"],"                             \
    "\"instructions\":[\"Push.\"],\"safety_tips\":[\"Go slowly.\"],"                               \
    "\"common_mistakes\":[\"Locking the knees.\"],"                                                \
    "\"beginner_prescription\":{\"sets\":3,\"reps\":\"10-12\",\"rest_seconds\":90,"                \
    "\"notes\":\"Light.\"},\"video_urls\":[\"https://example.com/v\"],"                            \
    "\"visual_description\":\"A sled.\",\"confused_with\":[]}"

/* Two entries with this run's slugs; version and the first entry's name vary per call. */
static struct gh_catalogue *make_catalogue(const char *version, const char *press_name)
{
    char press[1024], mill[1024], doc[3072];
    struct gh_catalogue *cat = NULL;
    struct gh_err err = {0};
    int rc;

    snprintf(press, sizeof press, ENTRY_JSON, g_nonce, "leg-press", press_name, "sled",
             "plate_loaded", "[\"glutes\",\"say \\\"hi\\\"\"]");
    snprintf(mill, sizeof mill, ENTRY_JSON, g_nonce, "treadmill", "Treadmill", "runner", "cardio",
             "[]");
    snprintf(doc, sizeof doc,
             "{\"version\":\"%s\",\"categories\":[{\"id\":\"cardio\",\"name\":\"Cardio\"},"
             "{\"id\":\"plate_loaded\",\"name\":\"Plate loaded\"}],\"equipment\":[%s,%s]}",
             version, press, mill);
    rc = gh_catalogue_load_buffer(doc, strlen(doc), "contract test", &cat, &err);
    print_err("catalogue", rc, &err);
    CHECK_INT(rc, GH_OK);
    return cat;
}

static void slug(char *out, size_t cap, const char *base)
{
    snprintf(out, cap, "%s-%s", g_nonce, base);
}

static int sync_catalogue(struct gh_store *st, const char *version, const char *press_name)
{
    struct gh_catalogue *cat = make_catalogue(version, press_name);
    struct gh_err err = {0};
    int rc = GH_EINVAL;

    if (cat) {
        rc = gh_store_sync_catalogue(st, cat, &err);
        print_err("sync_catalogue", rc, &err);
    }
    gh_catalogue_free(cat);
    return rc;
}

/* ---- contract cases (g_url) ---- */

static void open_twice_same_schema(void)
{
    struct gh_store *a = open_store(0), *b = NULL;
    int va, vb;

    if (!a)
        return;
    CHECK(strlen(gh_store_backend(a)) > 0);
    va = gh_store_schema_version(a, NULL);
    CHECK(va >= 1);
    CHECK_INT(stats_at(a, T0).schema_version, va);
    gh_store_close(a);
    b = open_store(2); /* migrations already applied: nothing to do, nothing fails */
    if (!b)
        return;
    vb = gh_store_schema_version(b, NULL);
    CHECK_INT(vb, va);
    gh_store_close(b);
}

static void sync_catalogue_counts_and_version(void)
{
    struct gh_store *st = open_store(0);
    char version[64], s[64], name[64];
    int64_t before;

    if (!st)
        return;
    before = stats_at(st, T0).equipment;
    snprintf(version, sizeof version, "contract-%s-1", g_nonce);
    CHECK_INT(sync_catalogue(st, version, "Leg Press"), GH_OK);
    CHECK_INT(stats_at(st, T0).equipment, before + 2);
    CHECK_STR(stats_at(st, T0).catalogue_version, version);
    slug(s, sizeof s, "leg-press");
    CHECK_INT(gh_store_equipment_name(st, s, name, sizeof name, NULL), GH_OK);
    CHECK_STR(name, "Leg Press");
    slug(s, sizeof s, "treadmill");
    CHECK_INT(gh_store_equipment_name(st, s, name, sizeof name, NULL), GH_OK);
    CHECK_STR(name, "Treadmill");
    CHECK_INT(gh_store_equipment_name(st, "no-such-slug-at-all", name, sizeof name, NULL),
              GH_ENOTFOUND);
    /* The same catalogue again changes nothing. */
    CHECK_INT(sync_catalogue(st, version, "Leg Press"), GH_OK);
    CHECK_INT(stats_at(st, T0).equipment, before + 2);
    gh_store_close(st);
}

static void resync_updates_name_and_version(void)
{
    struct gh_store *st = open_store(0);
    char v1[64], v2[64], s[64], name[64];
    int64_t count;

    if (!st)
        return;
    snprintf(v1, sizeof v1, "contract-%s-1", g_nonce);
    snprintf(v2, sizeof v2, "contract-%s-2", g_nonce);
    CHECK_INT(sync_catalogue(st, v1, "Leg Press"), GH_OK);
    count = stats_at(st, T0).equipment;
    CHECK_INT(sync_catalogue(st, v2, "Seated Leg Press"), GH_OK);
    CHECK_INT(stats_at(st, T0).equipment, count);
    CHECK_STR(stats_at(st, T0).catalogue_version, v2);
    slug(s, sizeof s, "leg-press");
    CHECK_INT(gh_store_equipment_name(st, s, name, sizeof name, NULL), GH_OK);
    CHECK_STR(name, "Seated Leg Press");
    gh_store_close(st);
}

static void put_get_exact_roundtrip(void)
{
    struct gh_store *st = open_store(0);
    struct gh_cache_entry out;
    struct gh_err err = {0};
    struct entry_buf b;
    char version[64];
    int rc;

    if (!st)
        return;
    snprintf(version, sizeof version, "contract-%s-1", g_nonce);
    CHECK_INT(sync_catalogue(st, version, "Leg Press"), GH_OK);
    /* Top bit set: the hash must survive a signed 64-bit column. */
    make_entry(&b, UINT64_C(0xf123456789abcdef), T0, T0 + 1000);
    snprintf(b.answer, sizeof b.answer,
             "{\"equipment\":\"leg press\",\"note\":\"\\u00e9 \xc3\xa9\"}");
    slug(b.e.equipment_slug, sizeof b.e.equipment_slug, "leg-press");
    snprintf(b.e.provider, sizeof b.e.provider, "openai");
    snprintf(b.e.model, sizeof b.e.model, "gpt-4o-2024-08-06");
    b.e.hits = 7;
    b.e.last_hit_at = T0 - 5;
    CHECK_INT(put(st, &b.e), GH_OK);
    rc = gh_store_get_exact(st, b.e.sha256, T0 + 1, &out, &err);
    print_err("get_exact", rc, &err);
    CHECK_INT(rc, GH_OK);
    CHECK_STR(out.sha256, b.e.sha256);
    CHECK(out.phash == b.e.phash);
    CHECK_STR(out.answer_json, b.answer);
    CHECK_STR(out.equipment_slug, b.e.equipment_slug);
    CHECK_STR(out.provider, "openai");
    CHECK_STR(out.model, "gpt-4o-2024-08-06");
    CHECK_INT(out.created_at, T0);
    CHECK_INT(out.expires_at, T0 + 1000);
    CHECK_INT(out.hits, 8); /* this lookup counted */
    CHECK_INT(out.last_hit_at, T0 + 1);
    gh_cache_entry_fini(&out);
    CHECK(out.answer_json == NULL);
    gh_store_close(st);
}

static void exact_miss_is_not_found(void)
{
    struct gh_store *st = open_store(0);
    struct gh_cache_entry out;
    struct gh_err err = {0};
    char sha[GH_STORE_SHA_HEX_CAP];

    if (!st)
        return;
    make_sha(sha);
    CHECK_INT(gh_store_get_exact(st, sha, T0, &out, &err), GH_ENOTFOUND);
    CHECK_INT(err.code, GH_ENOTFOUND);
    CHECK(out.answer_json == NULL);
    gh_cache_entry_fini(&out); /* safe after a miss */
    gh_store_close(st);
}

static void expired_never_served(void)
{
    struct gh_store *st = open_store(0);
    struct gh_cache_entry out;
    struct entry_buf b;
    char sha[GH_STORE_SHA_HEX_CAP];
    int d;

    if (!st)
        return;
    make_entry(&b, rnd(), T0, T0 + 100);
    CHECK_INT(put(st, &b.e), GH_OK);
    CHECK_INT(gh_store_get_exact(st, b.e.sha256, T0 + 99, &out, NULL), GH_OK);
    gh_cache_entry_fini(&out);
    CHECK_INT(gh_store_get_exact(st, b.e.sha256, T0 + 100, &out, NULL), GH_ENOTFOUND);
    CHECK_INT(gh_store_get_exact(st, b.e.sha256, T0 + 101, &out, NULL), GH_ENOTFOUND);
    CHECK_INT(near(st, b.e.phash, 0, T0 + 99, sha, &d), GH_OK);
    CHECK_INT(near(st, b.e.phash, 4, T0 + 100, sha, &d), GH_ENOTFOUND);
    gh_store_close(st);
}

static void put_replaces_same_sha(void)
{
    struct gh_store *st = open_store(0);
    struct gh_cache_entry out;
    struct entry_buf a, b;
    char sha[GH_STORE_SHA_HEX_CAP];
    int64_t before;
    int d;

    if (!st)
        return;
    before = stats_at(st, T0).entries;
    make_entry(&a, rnd(), T0, T0 + 1000);
    a.e.hits = 3;
    CHECK_INT(put(st, &a.e), GH_OK);
    b = a;
    b.e.answer_json = b.answer;
    snprintf(b.answer, sizeof b.answer, "{\"replaced\":true}");
    b.e.phash = rnd();
    b.e.hits = 0;
    b.e.created_at = T0 + 10;
    CHECK_INT(put(st, &b.e), GH_OK);
    CHECK_INT(stats_at(st, T0).entries, before + 1);
    CHECK_INT(gh_store_get_exact(st, a.e.sha256, T0 + 20, &out, NULL), GH_OK);
    CHECK_STR(out.answer_json, "{\"replaced\":true}");
    CHECK_INT(out.hits, 1);
    CHECK_INT(out.created_at, T0 + 10);
    gh_cache_entry_fini(&out);
    CHECK_INT(near(st, a.e.phash, 0, T0 + 20, sha, &d), GH_ENOTFOUND); /* old hash gone */
    CHECK_INT(near(st, b.e.phash, 0, T0 + 20, sha, &d), GH_OK);
    CHECK_STR(sha, a.e.sha256);
    gh_store_close(st);
}

static void near_finds_distance_0_to_4_not_5(void)
{
    struct gh_store *st = open_store(0);
    struct entry_buf b;
    char sha[GH_STORE_SHA_HEX_CAP];
    int d;

    if (!st)
        return;
    make_entry(&b, rnd(), T0, T0 + 1000);
    CHECK_INT(put(st, &b.e), GH_OK);
    for (int n = 0; n <= 4; n++) {
        CHECK_INT(near(st, flip(b.e.phash, n), 4, T0 + 1, sha, &d), GH_OK);
        CHECK_STR(sha, b.e.sha256);
        CHECK_INT(d, n);
    }
    CHECK_INT(near(st, flip(b.e.phash, 5), 4, T0 + 1, sha, &d), GH_ENOTFOUND);
    CHECK_INT(near(st, flip(b.e.phash, 3), 2, T0 + 1, sha, &d), GH_ENOTFOUND);
    CHECK_INT(near(st, flip(b.e.phash, 2), 2, T0 + 1, sha, &d), GH_OK);
    CHECK_INT(near(st, b.e.phash ^ 1, 0, T0 + 1, sha, &d), GH_ENOTFOUND);
    gh_store_close(st);
}

static void near_nearest_wins(void)
{
    struct gh_store *st = open_store(0);
    struct entry_buf far, close;
    char sha[GH_STORE_SHA_HEX_CAP];
    uint64_t q = rnd();
    int d;

    if (!st)
        return;
    make_entry(&close, flip(q, 1), T0, T0 + 1000);
    make_entry(&far, flip(q, 3), T0 + 50, T0 + 1000); /* newer, but farther */
    CHECK_INT(put(st, &close.e), GH_OK);
    CHECK_INT(put(st, &far.e), GH_OK);
    CHECK_INT(near(st, q, 4, T0 + 60, sha, &d), GH_OK);
    CHECK_STR(sha, close.e.sha256);
    CHECK_INT(d, 1);
    gh_store_close(st);
}

static void near_newest_wins_on_tie(void)
{
    struct gh_store *st = open_store(0);
    struct entry_buf older, newer;
    char sha[GH_STORE_SHA_HEX_CAP];
    uint64_t q = rnd();
    int d;

    if (!st)
        return;
    /* Both at distance 2, through different bits. */
    make_entry(&newer, q ^ (UINT64_C(3) << 40), T0 + 10, T0 + 1000);
    make_entry(&older, q ^ UINT64_C(3), T0, T0 + 1000);
    CHECK_INT(put(st, &newer.e), GH_OK); /* inserted first, so insertion order cannot decide */
    CHECK_INT(put(st, &older.e), GH_OK);
    CHECK_INT(near(st, q, 4, T0 + 20, sha, &d), GH_OK);
    CHECK_STR(sha, newer.e.sha256);
    CHECK_INT(d, 2);
    gh_store_close(st);
}

static void near_skips_expired(void)
{
    struct gh_store *st = open_store(0);
    struct entry_buf dead, live;
    char sha[GH_STORE_SHA_HEX_CAP];
    uint64_t q = rnd();
    int d;

    if (!st)
        return;
    make_entry(&dead, q, T0, T0 + 10);
    make_entry(&live, flip(q, 3), T0, T0 + 1000);
    CHECK_INT(put(st, &dead.e), GH_OK);
    CHECK_INT(put(st, &live.e), GH_OK);
    CHECK_INT(near(st, q, 4, T0 + 5, sha, &d), GH_OK);
    CHECK_STR(sha, dead.e.sha256);
    CHECK_INT(near(st, q, 4, T0 + 10, sha, &d), GH_OK);
    CHECK_STR(sha, live.e.sha256);
    CHECK_INT(d, 3);
    gh_store_close(st);
}

static void hits_are_counted(void)
{
    struct gh_store *st = open_store(0);
    struct gh_cache_entry out;
    struct entry_buf b;
    int64_t before;
    int d;

    if (!st)
        return;
    before = stats_at(st, T0).total_hits;
    make_entry(&b, rnd(), T0, T0 + 1000);
    CHECK_INT(put(st, &b.e), GH_OK);
    CHECK_INT(gh_store_get_exact(st, b.e.sha256, T0 + 1, &out, NULL), GH_OK);
    CHECK_INT(out.hits, 1);
    CHECK_INT(out.last_hit_at, T0 + 1);
    gh_cache_entry_fini(&out);
    CHECK_INT(gh_store_get_exact(st, b.e.sha256, T0 + 2, &out, NULL), GH_OK);
    gh_cache_entry_fini(&out);
    CHECK_INT(gh_store_get_near(st, flip(b.e.phash, 2), 4, T0 + 3, &out, &d, NULL), GH_OK);
    CHECK_INT(out.hits, 3);
    CHECK_INT(out.last_hit_at, T0 + 3);
    CHECK_INT(d, 2);
    gh_cache_entry_fini(&out);
    CHECK_INT(stats_at(st, T0).total_hits, before + 3);
    gh_store_close(st);
}

static void record_ids_increase_and_sums(void)
{
    struct gh_store *st = open_store(0);
    struct gh_store_stats before, after;
    struct gh_identification rec[3];
    struct gh_err err = {0};
    int rc;

    if (!st)
        return;
    before = stats_at(st, T0);
    memset(rec, 0, sizeof rec);
    for (int i = 0; i < 3; i++) {
        snprintf(rec[i].request_id, sizeof rec[i].request_id, "req-%s-%d", g_nonce, i);
        rec[i].created_at = T0 + i;
        make_sha(rec[i].sha256);
        rec[i].phash = rnd();
        rec[i].confidence = 0.25 * (i + 1);
        snprintf(rec[i].provider, sizeof rec[i].provider, "openai");
        snprintf(rec[i].model, sizeof rec[i].model, "gpt-4o");
        rec[i].processing_ms = 12.5;
    }
    slug(rec[0].equipment_slug, sizeof rec[0].equipment_slug, "leg-press");
    rec[0].identified = 1;
    rec[0].prompt_tokens = 100;
    rec[0].completion_tokens = 20;
    rec[1].cached = 1;
    snprintf(rec[1].cache_layer, sizeof rec[1].cache_layer, "near");
    rec[1].cache_distance = 3;
    rec[2].prompt_tokens = 50;
    rec[2].completion_tokens = 10;
    rec[2].sha256[0] = '\0'; /* a refused upload has no key */
    for (int i = 0; i < 3; i++) {
        rc = gh_store_record_identification(st, &rec[i], &err);
        print_err("record", rc, &err);
        CHECK_INT(rc, GH_OK);
        CHECK(rec[i].id > 0);
        if (i > 0)
            CHECK(rec[i].id > rec[i - 1].id);
    }
    after = stats_at(st, T0);
    CHECK_INT(after.identifications - before.identifications, 3);
    CHECK_INT(after.prompt_tokens - before.prompt_tokens, 150);
    CHECK_INT(after.completion_tokens - before.completion_tokens, 30);
    CHECK_INT(after.provider_calls - before.provider_calls, 2);
    /* The same three again as one batch: one transaction, ids still increasing. */
    for (int i = 0; i < 3; i++)
        rec[i].id = 0;
    rc = gh_store_record_identifications(st, rec, 3, &err);
    print_err("record batch", rc, &err);
    CHECK_INT(rc, GH_OK);
    CHECK(rec[0].id > 0 && rec[1].id > rec[0].id && rec[2].id > rec[1].id);
    CHECK_INT(stats_at(st, T0).identifications - after.identifications, 3);
    /* One bad record refuses the whole batch. */
    memset(rec[1].request_id, 'x', sizeof rec[1].request_id); /* unterminated */
    CHECK_INT(gh_store_record_identifications(st, rec, 3, NULL), GH_EINVAL);
    CHECK_INT(stats_at(st, T0).identifications - after.identifications, 3);
    gh_store_close(st);
}

static void purge_removes_only_expired(void)
{
    struct gh_store *st = open_store(0);
    struct gh_cache_entry out;
    struct entry_buf b[3];
    int64_t n = -1;
    int64_t before;

    if (!st)
        return;
    /* Whatever earlier cases left expiring by then goes first, so the count below is ours. */
    CHECK_INT(gh_store_purge_expired(st, T0 + 20, NULL, NULL), GH_OK);
    before = stats_at(st, T0).entries;
    for (int i = 0; i < 3; i++) {
        make_entry(&b[i], rnd(), T0, T0 + 10 * (i + 1));
        CHECK_INT(put(st, &b[i].e), GH_OK);
    }
    CHECK_INT(gh_store_purge_expired(st, T0 + 20, &n, NULL), GH_OK);
    CHECK_INT(n, 2); /* expires_at == now counts as expired */
    CHECK_INT(stats_at(st, T0).entries, before + 1);
    CHECK_INT(gh_store_get_exact(st, b[2].e.sha256, T0 + 21, &out, NULL), GH_OK);
    gh_cache_entry_fini(&out);
    CHECK_INT(gh_store_get_exact(st, b[0].e.sha256, T0, &out, NULL), GH_ENOTFOUND);
    CHECK_INT(gh_store_get_exact(st, b[1].e.sha256, T0, &out, NULL), GH_ENOTFOUND);
    CHECK_INT(gh_store_purge_expired(st, T0 + 20, &n, NULL), GH_OK);
    CHECK_INT(n, 0);
    gh_store_close(st);
}

static void stats_on_empty_and_filled_cache(void)
{
    struct gh_store *st = open_store(0);
    struct gh_store_stats s;
    struct entry_buf b[3];

    if (!st)
        return;
    CHECK_INT(gh_store_purge_expired(st, INT64_MAX, NULL, NULL), GH_OK);
    s = stats_at(st, T0);
    CHECK_INT(s.entries, 0);
    CHECK_INT(s.live_entries, 0);
    CHECK_INT(s.expired, 0);
    CHECK_INT(s.total_hits, 0);
    CHECK_INT(s.oldest_created_at, 0);
    CHECK_INT(s.newest_created_at, 0);
    CHECK(s.schema_version >= 1);
    for (int i = 0; i < 3; i++) {
        make_entry(&b[i], rnd(), T0 + 100 * i, i == 0 ? T0 + 50 : T0 + 1000);
        b[i].e.hits = i;
        CHECK_INT(put(st, &b[i].e), GH_OK);
    }
    s = stats_at(st, T0 + 60);
    CHECK_INT(s.entries, 3);
    CHECK_INT(s.live_entries, 2);
    CHECK_INT(s.expired, 1);
    CHECK_INT(s.total_hits, 0 + 1 + 2);
    CHECK_INT(s.oldest_created_at, T0);
    CHECK_INT(s.newest_created_at, T0 + 200);
    gh_store_close(st);
}

static void fresh_memory_store_is_empty(void)
{
    struct gh_store *st = NULL;
    struct gh_store_stats s;

    /* Only a new memory store is known to be empty; other URLs may hold earlier data. */
    if (strcmp(g_url, "sqlite::memory:") != 0)
        return;
    st = open_store(0);
    if (!st)
        return;
    s = stats_at(st, T0);
    CHECK_INT(s.entries + s.identifications + s.equipment + s.total_hits, 0);
    CHECK_STR(s.catalogue_version, "");
    CHECK_INT(s.oldest_created_at, 0);
    CHECK_INT(s.newest_created_at, 0);
    gh_store_close(st);
}

static void invalid_arguments(void)
{
    struct gh_store *st = open_store(0);
    struct gh_cache_entry out;
    struct gh_err err = {0};
    struct entry_buf b;
    int d = 99;

    if (!st)
        return;
    CHECK_INT(gh_store_get_near(st, 1, 5, T0, &out, &d, &err), GH_EINVAL);
    CHECK(strstr(err.msg, "0..4") != NULL);
    CHECK(out.answer_json == NULL);
    CHECK_INT(gh_store_get_near(st, 1, -1, T0, &out, &d, NULL), GH_EINVAL);
    CHECK_INT(gh_store_get_exact(st, "abc", T0, &out, NULL), GH_EINVAL);
    make_entry(&b, 1, T0, T0 + 10);
    b.e.sha256[3] = 'A'; /* keys are lower-case */
    CHECK_INT(gh_store_put(st, &b.e, NULL), GH_EINVAL);
    make_entry(&b, 1, T0, T0 + 10);
    b.e.answer_json = NULL;
    CHECK_INT(gh_store_put(st, &b.e, NULL), GH_EINVAL);
    make_entry(&b, 1, T0, T0 + 10);
    memset(b.e.provider, 'x', sizeof b.e.provider); /* unterminated */
    CHECK_INT(gh_store_put(st, &b.e, NULL), GH_EINVAL);
    gh_store_close(st);
}

static void near_query_uses_indexes(void)
{
    struct gh_store *st = open_store(0);
    struct gh_err err = {0};
    char plan[8192]; /* PostgreSQL's plan has a branch per segment index */
    int rc;

    if (!st)
        return;
    rc = gh_store_explain_near(st, plan, sizeof plan, &err);
    print_err("explain", rc, &err);
    CHECK_INT(rc, GH_OK);
    printf("  near plan: %s\n", plan);
    /* SQLite: "USING INDEX"; PostgreSQL: "Index Scan" / "Bitmap Index Scan". */
    CHECK(strstr(plan, "INDEX") || strstr(plan, "Index"));
    CHECK(!strstr(plan, "SCAN equipment_cache")); /* SQLite's full scan */
    CHECK(!strstr(plan, "Seq Scan"));             /* PostgreSQL's */
    gh_store_close(st);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Not timed by assertion (machines differ); the time is printed so a regression shows. */
static void near_lookups_at_20000_entries(void)
{
    enum { N_ENTRIES = 20000, N_LOOKUPS = 1000 };
    struct gh_store *st = open_store(0);
    uint64_t *hashes = NULL;
    struct timespec t0;
    struct entry_buf b;
    char sha[GH_STORE_SHA_HEX_CAP];
    int64_t n = 0;
    int found = 0, d, failed = 0;

    if (!st)
        return;
    hashes = gh_malloc_array(N_ENTRIES, sizeof *hashes);
    CHECK(hashes != NULL);
    if (!hashes)
        goto out;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < N_ENTRIES && !failed; i++) {
        hashes[i] = rnd();
        make_entry(&b, hashes[i], T0, T0 + 5000);
        failed = put(st, &b.e) != GH_OK;
    }
    CHECK(!failed);
    printf("  %d puts: %.2f s\n", N_ENTRIES, seconds_since(&t0));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < N_LOOKUPS; i++)
        found += near(st, flip(hashes[(i * 7919) % N_ENTRIES], 2), 4, T0 + 1, sha, &d) == GH_OK;
    printf("  %d near lookups: %.3f s\n", N_LOOKUPS, seconds_since(&t0));
    CHECK_INT(found, N_LOOKUPS);
    CHECK_INT(near(st, rnd(), 4, T0 + 1, sha, &d), GH_ENOTFOUND); /* a miss stays a miss */
    CHECK_INT(gh_store_purge_expired(st, T0 + 5000, &n, NULL), GH_OK);
    CHECK(n >= N_ENTRIES);
out:
    gh_free(hashes);
    gh_store_close(st);
}

enum { N_THREADS = 8, N_OPS = 500 };

struct worker {
    struct gh_store *st;
    uint64_t rng;
    int errors;
    pthread_t tid;
};

static uint64_t next_worker(void *w)
{
    return rng_next(&((struct worker *)w)->rng);
}

/* Cycles put, get_exact, get_near, record; each read must find the thread's last put. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct gh_identification rec;
    struct gh_cache_entry out;
    struct entry_buf b;
    int d, rc = GH_OK;

    memset(&b, 0, sizeof b);
    for (int i = 0; i < N_OPS; i++) {
        struct gh_err err = {0};

        switch (i % 4) {
        case 0:
            make_entry(&b, 0, T0 + i, T0 + 100000);
            make_sha_from(next_worker, w, b.e.sha256);
            b.e.phash = next_worker(w);
            rc = gh_store_put(w->st, &b.e, &err);
            break;
        case 1:
            rc = gh_store_get_exact(w->st, b.e.sha256, T0 + i, &out, &err);
            gh_cache_entry_fini(&out);
            break;
        case 2:
            rc = gh_store_get_near(w->st, flip(b.e.phash, 1), 4, T0 + i, &out, &d, &err);
            if (rc == GH_OK && strcmp(out.sha256, b.e.sha256) != 0)
                rc = GH_EINVAL;
            gh_cache_entry_fini(&out);
            break;
        default:
            memset(&rec, 0, sizeof rec);
            snprintf(rec.request_id, sizeof rec.request_id, "worker-%d", i);
            memcpy(rec.sha256, b.e.sha256, sizeof rec.sha256);
            rec.created_at = T0 + i;
            rec.prompt_tokens = 1;
            rc = gh_store_record_identification(w->st, &rec, &err);
            break;
        }
        if (rc != GH_OK) {
            if (w->errors++ < 3)
                fprintf(stderr, "  worker op %d: %s: %s\n", i % 4, gh_err_name(rc), err.msg);
        }
    }
    return NULL;
}

static void concurrent_mixed_operations(void)
{
    struct worker w[N_THREADS];
    struct gh_store_stats before, after;
    struct gh_store *st = open_store(4);
    int errors = 0;

    if (!st)
        return;
    before = stats_at(st, T0);
    for (int i = 0; i < N_THREADS; i++) {
        w[i].st = st;
        w[i].rng = mix(rnd());
        w[i].errors = 0;
        CHECK_INT(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(w[i].tid, NULL);
        errors += w[i].errors;
    }
    CHECK_INT(errors, 0);
    after = stats_at(st, T0);
    CHECK_INT(after.entries - before.entries, N_THREADS * N_OPS / 4);
    CHECK_INT(after.identifications - before.identifications, N_THREADS * N_OPS / 4);
    CHECK_INT(after.prompt_tokens - before.prompt_tokens, N_THREADS * N_OPS / 4);
    CHECK_INT(after.total_hits - before.total_hits, N_THREADS * N_OPS / 2);
    gh_store_close(st);
}

/* Identifications read back newest first, page by page, by id and by request id. */
static void identifications_list_and_get(void)
{
    struct gh_store *st = open_store(0);
    struct gh_identification rec[5], page[3], one;
    struct gh_err err = {0};
    size_t n = 0;
    int rc;

    if (!st)
        return;
    memset(rec, 0, sizeof rec);
    for (int i = 0; i < 5; i++) {
        snprintf(rec[i].request_id, sizeof rec[i].request_id, "list-%s-%d", g_nonce, i);
        rec[i].created_at = T0 + i;
        make_sha(rec[i].sha256);
        snprintf(rec[i].provider, sizeof rec[i].provider, "openai");
    }
    rc = gh_store_record_identifications(st, rec, 5, &err);
    print_err("record", rc, &err);
    CHECK_INT(rc, GH_OK);
    rc = gh_store_list_identifications(st, rec[4].id + 1, 3, page, &n, &err);
    CHECK_INT(rc, GH_OK);
    CHECK_INT(n, 3);
    CHECK(page[0].id == rec[4].id && page[2].id == rec[2].id);
    CHECK_STR(page[0].request_id, rec[4].request_id);
    CHECK_STR(page[1].sha256, rec[3].sha256);
    rc = gh_store_list_identifications(st, page[2].id, 3, page, &n, &err);
    CHECK_INT(rc, GH_OK);
    CHECK(n >= 2 && page[0].id == rec[1].id && page[1].id == rec[0].id);
    CHECK_INT(gh_store_get_identification(st, rec[2].id, NULL, NULL, &one, &err), GH_OK);
    CHECK_STR(one.request_id, rec[2].request_id);
    CHECK_STR(one.corrected_slug, "");
    CHECK_INT(gh_store_get_identification(st, 0, rec[3].request_id, NULL, &one, &err), GH_OK);
    CHECK(one.id == rec[3].id);
    gh_err_clear(&err);
    CHECK_INT(gh_store_get_identification(st, 0, "no-such-request", NULL, &one, &err),
              GH_ENOTFOUND);
    CHECK_INT(gh_store_get_identification(st, INT64_MAX, NULL, NULL, &one, NULL), GH_ENOTFOUND);
    CHECK_INT(gh_store_list_identifications(st, 0, 0, page, &n, NULL), GH_EINVAL);
    gh_store_close(st);
}

/* A correction replaces the image's cached answer, marks it, records the feedback, and no
 * later provider answer (put) overwrites it; an image without a cache row gets one. */
static void corrections_stick(void)
{
    struct gh_store *st = open_store(0);
    struct entry_buf b, fresh;
    struct gh_identification rec, got;
    struct gh_cache_entry e, fix;
    struct gh_err err = {0};
    char fixed[64], right[64];
    int rc;

    if (!st || sync_catalogue(st, "v-correct", NULL) != GH_OK) {
        gh_store_close(st);
        return;
    }
    make_entry(&b, rnd(), T0, T0 + 100);
    CHECK_INT(put(st, &b.e), GH_OK);
    memset(&rec, 0, sizeof rec);
    snprintf(rec.request_id, sizeof rec.request_id, "fix-%s", g_nonce);
    rec.created_at = T0;
    memcpy(rec.sha256, b.e.sha256, sizeof rec.sha256);
    CHECK_INT(gh_store_record_identification(st, &rec, &err), GH_OK);
    fix = b.e;
    slug(right, sizeof right, "leg-press");
    snprintf(fix.equipment_slug, sizeof fix.equipment_slug, "%s", right);
    snprintf(fixed, sizeof fixed, "{\"corrected\":true}");
    fix.answer_json = fixed;
    fix.expires_at = T0 + 50; /* shorter than the row's: the row keeps T0 + 100 */
    rc = gh_store_correct(st, rec.id, &fix, T0 + 1, &err);
    print_err("correct", rc, &err);
    CHECK_INT(rc, GH_OK);
    CHECK_INT(gh_store_get_exact(st, b.e.sha256, T0 + 2, &e, &err), GH_OK);
    CHECK_STR(e.answer_json, fixed);
    CHECK_STR(e.equipment_slug, right);
    CHECK_INT(e.corrected, 1);
    CHECK_INT(e.expires_at, T0 + 100);
    gh_cache_entry_fini(&e);
    CHECK_INT(put(st, &b.e), GH_ECONFLICT); /* a provider's later answer is refused */
    CHECK_INT(gh_store_get_exact(st, b.e.sha256, T0 + 3, &e, &err), GH_OK);
    CHECK_STR(e.answer_json, fixed);
    gh_cache_entry_fini(&e);
    CHECK_INT(gh_store_get_identification(st, rec.id, NULL, NULL, &got, &err), GH_OK);
    CHECK_STR(got.corrected_slug, right);
    /* an image whose cache entry is gone */
    make_entry(&fresh, rnd(), T0, T0 + 100);
    fresh.e.answer_json = fixed;
    snprintf(fresh.e.equipment_slug, sizeof fresh.e.equipment_slug, "%s", right);
    CHECK_INT(gh_store_correct(st, rec.id, &fresh.e, T0 + 4, &err), GH_OK);
    CHECK_INT(gh_store_get_exact(st, fresh.e.sha256, T0 + 5, &e, &err), GH_OK);
    CHECK_INT(e.corrected, 1);
    gh_cache_entry_fini(&e);
    fresh.e.equipment_slug[0] = '\0';
    CHECK_INT(gh_store_correct(st, rec.id, &fresh.e, T0 + 4, NULL), GH_EINVAL);
    gh_store_close(st);
}

/* Issue 11: corrections are votes, one per owner and photo, counted per slug without the
 * rejected ones; accepting or applying one applies the pending votes that agree. */
static struct gh_correction vote_of(const char *sha, int64_t ident, const char *owner,
                                    const char *slug_, int64_t at)
{
    struct gh_correction c;

    memset(&c, 0, sizeof c);
    c.identification_id = ident;
    snprintf(c.sha256, sizeof c.sha256, "%s", sha);
    c.phash = 0x1234;
    snprintf(c.owner, sizeof c.owner, "%s", owner);
    snprintf(c.slug, sizeof c.slug, "%s", slug_);
    snprintf(c.previous_slug, sizeof c.previous_slug, "barbell");
    c.status = GH_CORRECTION_PENDING;
    c.created_at = at;
    return c;
}

/* Casts v again after its owner's earlier vote for the photo was rejected: it is stored, and
 * stays rejected without counting. Returns it as stored. */
static struct gh_correction revote_stays_rejected(struct gh_store *st, struct gh_correction v)
{
    struct gh_err err = {0};

    CHECK_INT(gh_store_correction_add(st, &v, &err), GH_OK);
    CHECK_INT(v.status, GH_CORRECTION_REJECTED);
    CHECK_INT(v.votes, 0);
    return v;
}

static void corrections_are_votes(void)
{
    struct gh_store *st = open_store(0);
    struct gh_correction v1, v2, v3, again, got, page[50];
    struct gh_identification rec, hist;
    struct gh_err err = {0};
    struct gh_user u;
    char sha[GH_STORE_SHA_HEX_CAP], o1[64], o2[64], o3[64];
    size_t n = 0, seen = 0;
    int rc;

    if (!st)
        return;
    make_sha(sha);
    memset(&rec, 0, sizeof rec);
    snprintf(rec.request_id, sizeof rec.request_id, "vote-%s", g_nonce);
    memcpy(rec.sha256, sha, sizeof rec.sha256);
    rec.created_at = T0;
    CHECK_INT(gh_store_record_identification(st, &rec, &err), GH_OK);
    memset(&u, 0, sizeof u);
    snprintf(u.username, sizeof u.username, "voter-%s", g_nonce);
    snprintf(u.password_hash, sizeof u.password_hash, "x");
    u.role = GH_ROLE_USER;
    u.created_at = T0;
    CHECK_INT(gh_store_user_add(st, &u, &err), GH_OK);
    snprintf(o1, sizeof o1, "user:%lld", (long long)u.id);
    snprintf(o2, sizeof o2, "key:%s-2", g_nonce);
    snprintf(o3, sizeof o3, "key:%s-3", g_nonce);
    v1 = vote_of(sha, rec.id, o1, "squat-rack", T0 + 1);
    rc = gh_store_correction_add(st, &v1, &err);
    print_err("correction_add", rc, &err);
    CHECK_INT(rc, GH_OK);
    CHECK(v1.id > 0);
    CHECK_INT(v1.votes, 1);
    CHECK_INT(gh_store_get_identification(st, rec.id, NULL, NULL, &hist, &err), GH_OK);
    CHECK_STR(hist.corrected_slug, "squat-rack");
    v2 = vote_of(sha, rec.id, o2, "squat-rack", T0 + 2);
    CHECK_INT(gh_store_correction_add(st, &v2, &err), GH_OK);
    CHECK_INT(v2.votes, 2);
    /* one owner, one vote: a new one replaces theirs and gets a new id */
    again = vote_of(sha, rec.id, o1, "leg-press", T0 + 3);
    CHECK_INT(gh_store_correction_add(st, &again, &err), GH_OK);
    CHECK(again.id > v2.id);
    CHECK_INT(again.votes, 1);
    CHECK_INT(gh_store_correction_get(st, v1.id, &got, &err), GH_ENOTFOUND);
    CHECK_INT(gh_store_correction_get(st, v2.id, &got, &err), GH_OK);
    CHECK_INT(got.votes, 1);
    CHECK_INT(got.status, GH_CORRECTION_PENDING);
    CHECK_STR(got.previous_slug, "barbell");
    CHECK_INT(gh_store_correction_get(st, again.id, &got, &err), GH_OK);
    CHECK_STR(got.username, u.username); /* a user's vote names them */
    CHECK_STR(got.owner, o1);
    CHECK(got.phash == 0x1234);
    /* applying one applies the pending votes that agree, not the others */
    v3 = vote_of(sha, rec.id, o3, "squat-rack", T0 + 4);
    CHECK_INT(gh_store_correction_add(st, &v3, &err), GH_OK);
    CHECK_INT(v3.votes, 2);
    CHECK_INT(gh_store_correction_set_status(st, v3.id, GH_CORRECTION_APPLIED, T0 + 5, &err),
              GH_OK);
    CHECK_INT(gh_store_correction_get(st, v2.id, &got, &err), GH_OK);
    CHECK_INT(got.status, GH_CORRECTION_APPLIED);
    CHECK_INT(gh_store_correction_get(st, again.id, &got, &err), GH_OK);
    CHECK_INT(got.status, GH_CORRECTION_PENDING);
    /* a rejected vote no longer counts */
    CHECK_INT(gh_store_correction_set_status(st, again.id, GH_CORRECTION_REJECTED, T0 + 6, &err),
              GH_OK);
    CHECK_INT(gh_store_correction_get(st, again.id, &got, &err), GH_OK);
    CHECK_INT(got.status, GH_CORRECTION_REJECTED);
    CHECK_INT(got.votes, 0);
    /* cast again, it stays rejected (a reject is not undone by repeating the vote); so does a
     * vote for another slug, and the first slug after it (a reject undone in two steps) */
    again = revote_stays_rejected(st, vote_of(sha, rec.id, o1, "leg-press", T0 + 7));
    CHECK_INT(gh_store_correction_get(st, again.id, &got, &err), GH_OK);
    CHECK_INT(got.status, GH_CORRECTION_REJECTED);
    CHECK(got.decided_at == T0 + 6);
    CHECK_INT(got.votes, 0);
    revote_stays_rejected(st, vote_of(sha, rec.id, o1, "smith-machine", T0 + 8));
    again = revote_stays_rejected(st, vote_of(sha, rec.id, o1, "leg-press", T0 + 9));
    CHECK_INT(gh_store_correction_get(st, again.id, &got, &err), GH_OK);
    CHECK(got.decided_at == T0 + 6);
    /* lists: by status, newest first, and what instances pull, oldest first */
    CHECK_INT(gh_store_correction_list(st, GH_CORRECTION_APPLIED, 0, 50, page, &n, &err), GH_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(page[i].sha256, sha) == 0) {
            CHECK_INT(page[i].status, GH_CORRECTION_APPLIED);
            CHECK(seen == 0 || page[i].id < v3.id);
            seen++;
        }
    CHECK_INT(seen, 2);
    CHECK_INT(gh_store_correction_list(st, -1, v3.id, 50, page, &n, &err), GH_OK);
    for (size_t i = 0; i < n; i++)
        CHECK(page[i].id < v3.id);
    CHECK_INT(gh_store_correction_since(st, v2.id - 1, 50, page, &n, &err), GH_OK);
    CHECK(n >= 3);
    for (size_t i = 1; i < n; i++)
        CHECK(page[i].id > page[i - 1].id);
    CHECK_INT(page[0].id, v2.id);
    CHECK_INT(gh_store_correction_get(st, INT64_MAX / 2, &got, NULL), GH_ENOTFOUND);
    CHECK_INT(gh_store_correction_set_status(st, INT64_MAX / 2, GH_CORRECTION_REJECTED, T0, NULL),
              GH_ENOTFOUND);
    CHECK_INT(gh_store_correction_set_status(st, v2.id, 9, T0, NULL), GH_EINVAL);
    v1.sha256[3] = '\0';
    CHECK_INT(gh_store_correction_add(st, &v1, NULL), GH_EINVAL);
    gh_store_close(st);
}

/* Issue 10: a lookup counts its hit in memory (the entry it returns includes it); the table
 * gets all of a key's hits in one row write when the batch is flushed. */
static void hits_are_written_in_batches(void)
{
    struct gh_store *st = open_store(0);
    struct gh_store_hit_counters c;
    struct gh_cache_entry out;
    struct entry_buf b;
    struct gh_err err = {0};
    int rc;

    if (!st)
        return;
    make_entry(&b, rnd(), T0, T0 + 1000);
    CHECK_INT(put(st, &b.e), GH_OK);
    for (int i = 1; i <= 50; i++) {
        CHECK_INT(gh_store_get_exact(st, b.e.sha256, T0 + i, &out, NULL), GH_OK);
        CHECK_INT(out.hits, i);
        CHECK_INT(out.last_hit_at, T0 + i);
        gh_cache_entry_fini(&out);
    }
    gh_store_hit_counters(st, &c);
    CHECK_INT(c.hits, 50);
    CHECK_INT(c.pending, 50);
    CHECK_INT(c.rows_written, 0); /* fifty hits, no write yet */
    rc = gh_store_flush_hits(st, &err);
    print_err("flush_hits", rc, &err);
    CHECK_INT(rc, GH_OK);
    gh_store_hit_counters(st, &c);
    CHECK_INT(c.flushes, 1);
    CHECK_INT(c.rows_written, 1); /* one write for fifty hits */
    CHECK_INT(c.pending, 0);
    CHECK_INT(c.dropped, 0);
    CHECK_INT(gh_store_get_exact(st, b.e.sha256, T0 + 60, &out, NULL), GH_OK);
    CHECK_INT(out.hits, 51); /* 50 from the table, this one pending */
    gh_cache_entry_fini(&out);
    /* A put sets hits: what was pending for the key is forgotten, not added later. */
    b.e.hits = 0;
    CHECK_INT(put(st, &b.e), GH_OK);
    CHECK_INT(gh_store_flush_hits(st, NULL), GH_OK);
    CHECK_INT(gh_store_get_exact(st, b.e.sha256, T0 + 61, &out, NULL), GH_OK);
    CHECK_INT(out.hits, 1);
    gh_cache_entry_fini(&out);
    gh_store_close(st);
}

/* Issue 10: HISTORY_RETENTION_DAYS. Identifications, feedback (also feedback given later on
 * an old identification) and quality samples older than the cut-off go; newer ones stay. */
static void history_pruned_by_age(void)
{
    const int64_t old = T0 - 400 * 86400, cut = T0 - 300 * 86400;
    struct gh_store *st = open_store(0);
    struct gh_identification rec[3], got;
    struct gh_quality_sample qs;
    struct gh_store_pruned n;
    struct entry_buf fix;
    struct gh_err err = {0};
    int rc;

    if (!st || sync_catalogue(st, "v-prune", NULL) != GH_OK) {
        gh_store_close(st);
        return;
    }
    memset(rec, 0, sizeof rec);
    for (int i = 0; i < 3; i++) {
        snprintf(rec[i].request_id, sizeof rec[i].request_id, "prune-%s-%d", g_nonce, i);
        rec[i].created_at = i < 2 ? old + i : T0;
        make_sha(rec[i].sha256);
    }
    CHECK_INT(gh_store_record_identifications(st, rec, 3, &err), GH_OK);
    /* a correction given now on an old analysis, and one on the new analysis */
    make_entry(&fix, rnd(), T0, T0 + 100);
    slug(fix.e.equipment_slug, sizeof fix.e.equipment_slug, "leg-press");
    memcpy(fix.e.sha256, rec[0].sha256, sizeof fix.e.sha256);
    CHECK_INT(gh_store_correct(st, rec[0].id, &fix.e, T0, &err), GH_OK);
    memcpy(fix.e.sha256, rec[2].sha256, sizeof fix.e.sha256);
    CHECK_INT(gh_store_correct(st, rec[2].id, &fix.e, T0, &err), GH_OK);
    memset(&qs, 0, sizeof qs);
    qs.created_at = old;
    memcpy(qs.sha256, rec[0].sha256, sizeof qs.sha256);
    snprintf(qs.clip_slug, sizeof qs.clip_slug, "leg-press");
    CHECK_INT(gh_store_quality_add(st, &qs, &err), GH_OK);

    rc = gh_store_prune_history(st, cut, &n, &err);
    print_err("prune_history", rc, &err);
    CHECK_INT(rc, GH_OK);
    CHECK(n.identifications >= 2); /* a shared database may hold older runs' rows too */
    CHECK(n.feedback >= 1);
    CHECK(n.quality_samples >= 1);
    CHECK_INT(gh_store_get_identification(st, rec[0].id, NULL, NULL, &got, NULL), GH_ENOTFOUND);
    CHECK_INT(gh_store_get_identification(st, rec[1].id, NULL, NULL, &got, NULL), GH_ENOTFOUND);
    CHECK_INT(gh_store_get_identification(st, rec[2].id, NULL, NULL, &got, &err), GH_OK);
    CHECK_STR(got.corrected_slug, fix.e.equipment_slug);
    /* nothing left to prune at that cut-off */
    CHECK_INT(gh_store_prune_history(st, cut, &n, &err), GH_OK);
    CHECK_INT(n.identifications + n.feedback + n.quality_samples, 0);
    gh_store_close(st);
}

static const struct gh_test_case contract_cases[] = {
    GH_TEST(open_twice_same_schema),
    GH_TEST(fresh_memory_store_is_empty),
    GH_TEST(sync_catalogue_counts_and_version),
    GH_TEST(resync_updates_name_and_version),
    GH_TEST(put_get_exact_roundtrip),
    GH_TEST(exact_miss_is_not_found),
    GH_TEST(expired_never_served),
    GH_TEST(put_replaces_same_sha),
    GH_TEST(near_finds_distance_0_to_4_not_5),
    GH_TEST(near_nearest_wins),
    GH_TEST(near_newest_wins_on_tie),
    GH_TEST(near_skips_expired),
    GH_TEST(hits_are_counted),
    GH_TEST(hits_are_written_in_batches),
    GH_TEST(history_pruned_by_age),
    GH_TEST(record_ids_increase_and_sums),
    GH_TEST(identifications_list_and_get),
    GH_TEST(corrections_stick),
    GH_TEST(corrections_are_votes),
    GH_TEST(purge_removes_only_expired),
    GH_TEST(stats_on_empty_and_filled_cache),
    GH_TEST(invalid_arguments),
    GH_TEST(near_query_uses_indexes),
    GH_TEST(near_lookups_at_20000_entries),
    GH_TEST(concurrent_mixed_operations),
};

/* ---- opening: URLs and files (backend-specific, run once) ---- */

static int open_rc(const char *url, int pool, struct gh_err *err)
{
    struct gh_store *st = NULL;
    int rc;

    gh_err_clear(err);
    rc = gh_store_open(url, pool, &st, err);
    CHECK((rc == GH_OK) == (st != NULL));
    gh_store_close(st);
    return rc;
}

static void bad_urls_are_invalid(void)
{
    static const char *const bad[] = {
        "mysql://x",        "sqlite://",        "",
        "sqlite:",          "sqlite:/x.db",     "sqlite://host/x.db",
        "sqlite:///",       "sqlite:///tmp/d/", "sqlite:///x.db?mode=ro",
        "no scheme at all", "SQLITE::MEMORY:",
    };
    struct gh_err err = {0};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = open_rc(bad[i], 0, &err);

        if (rc != GH_EINVAL)
            fprintf(stderr, "  url \"%s\" gave %s\n", bad[i], gh_err_name(rc));
        CHECK_INT(rc, GH_EINVAL);
        CHECK(err.msg[0] != '\0');
    }
    CHECK_INT(open_rc(NULL, 0, &err), GH_EINVAL);
    /* A database URL's password never reaches a message. */
    CHECK_INT(open_rc("redis://user:hunter2@host/0", 0, &err), GH_EINVAL);
    CHECK(strstr(err.msg, "hunter2") == NULL);
    CHECK(strstr(err.msg, "redis") != NULL);
    CHECK_INT(open_rc("sqlite::memory:", -1, &err), GH_EINVAL);
    CHECK_INT(open_rc("sqlite::memory:", GH_STORE_POOL_MAX + 1, &err), GH_EINVAL);
    CHECK_INT(open_rc("sqlite::memory:", GH_STORE_POOL_MAX, &err), GH_OK);
    CHECK_STR(gh_store_backend(NULL), "");
}

static void uncreatable_directory_is_backend_error(void)
{
    char file[128], url[192];
    struct gh_err err = {0};
    FILE *f;

    snprintf(file, sizeof file, "%s/blocker", g_tmp);
    f = fopen(file, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    /* A directory cannot be made below a regular file, even by root. */
    snprintf(url, sizeof url, "sqlite://%s/sub/x.db", file);
    CHECK_INT(open_rc(url, 0, &err), GH_EBACKEND);
    CHECK(strstr(err.msg, "blocker") != NULL);
    snprintf(url, sizeof url, "sqlite://%s", g_tmp); /* a directory as the database */
    CHECK_INT(open_rc(url, 0, &err), GH_EBACKEND);
}

static void garbage_file_is_backend_error(void)
{
    char path[128], url[192];
    struct gh_err err = {0};
    FILE *f;

    snprintf(path, sizeof path, "%s/garbage.db", g_tmp);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    for (int i = 0; i < 200; i++)
        fputs("this is not a database, just text pretending to be one. ", f);
    fclose(f);
    snprintf(url, sizeof url, "sqlite://%s", path);
    CHECK_INT(open_rc(url, 2, &err), GH_EBACKEND);
    CHECK(strstr(err.msg, "is not a gymhelper database") != NULL);
    CHECK(strstr(err.msg, "file is not a database") != NULL);
    CHECK(strstr(err.msg, path) != NULL);
}

static void newer_schema_is_refused(void)
{
    char path[128], url[192];
    struct gh_err err = {0};
    sqlite3 *db = NULL;

    snprintf(path, sizeof path, "%s/newer.db", g_tmp);
    snprintf(url, sizeof url, "sqlite://%s", path);
    CHECK_INT(open_rc(url, 1, &err), GH_OK);
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (9999, 0)", NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    CHECK_INT(open_rc(url, 1, &err), GH_EBACKEND);
    CHECK(strstr(err.msg, "newer") != NULL);
}

static void relative_url_creates_directories(void)
{
    char cwd[512], path[192];
    struct stat sb;
    struct gh_err err = {0};

    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_INT(chdir(g_tmp), 0);
    CHECK_INT(open_rc("sqlite:///./rel/data/gymhelper.db", 0, &err), GH_OK);
    CHECK_INT(chdir(cwd), 0);
    snprintf(path, sizeof path, "%s/rel/data/gymhelper.db", g_tmp);
    CHECK_INT(stat(path, &sb), 0);
    /* Closing checkpointed the WAL into the database and removed it. */
    snprintf(path, sizeof path, "%s/rel/data/gymhelper.db-wal", g_tmp);
    CHECK(stat(path, &sb) != 0 && errno == ENOENT);
    snprintf(path, sizeof path, "sqlite://%s/abs/deeper/x.db", g_tmp);
    CHECK_INT(open_rc(path, 0, &err), GH_OK);
    CHECK_STR(err.msg, "");
}

static void memory_stores_are_separate(void)
{
    struct gh_store *a = NULL, *b = NULL;
    struct gh_cache_entry out;
    struct entry_buf e;

    CHECK_INT(gh_store_open("sqlite::memory:", 2, &a, NULL), GH_OK);
    CHECK_INT(gh_store_open("sqlite::memory:", 2, &b, NULL), GH_OK);
    if (a && b) {
        CHECK_STR(gh_store_backend(a), "sqlite");
        make_entry(&e, rnd(), T0, T0 + 10);
        CHECK_INT(put(a, &e.e), GH_OK);
        CHECK_INT(gh_store_get_exact(a, e.e.sha256, T0, &out, NULL), GH_OK);
        gh_cache_entry_fini(&out);
        CHECK_INT(gh_store_get_exact(b, e.e.sha256, T0, &out, NULL), GH_ENOTFOUND);
    }
    gh_store_close(a);
    gh_store_close(b);
}

static const struct gh_test_case open_cases[] = {
    GH_TEST(bad_urls_are_invalid),
    GH_TEST(uncreatable_directory_is_backend_error),
    GH_TEST(garbage_file_is_backend_error),
    GH_TEST(newer_schema_is_refused),
    GH_TEST(relative_url_creates_directories),
    GH_TEST(memory_stores_are_separate),
};

static int run_contract(const char *url)
{
    size_t scheme = strcspn(url, ":");

    /* Server URLs may carry a password: name only their scheme. */
    if (strncmp(url, "sqlite", 6) == 0)
        printf("# contract: %s\n", url);
    else
        printf("# contract: %.*s://...\n", (int)scheme, url);
    g_url = url;
    return gh_test_run(contract_cases, sizeof contract_cases / sizeof contract_cases[0]);
}

/* Each URL in GH_STORE_TEST_URLS, separated by spaces. */
static int run_env_urls(void)
{
    const char *env = getenv("GH_STORE_TEST_URLS");
    char url[1024];
    int rc = 0;

    while (env && *env) {
        size_t n = strcspn(env, " ");

        if (n > 0 && n < sizeof url) {
            memcpy(url, env, n);
            url[n] = '\0';
            rc |= run_contract(url);
        } else if (n > 0) {
            fprintf(stderr, "GH_STORE_TEST_URLS: a URL is over %zu bytes\n", sizeof url);
            rc = 1;
        }
        env += n + (env[n] == ' ');
    }
    return rc;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    char tmpl[] = "/tmp/gh_store_test_XXXXXX";
    char file_url[160];
    int rc = 0;

    g_rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ UINT64_C(0x9e3779b97f4a7c15);
    snprintf(g_nonce, sizeof g_nonce, "%08llx", (unsigned long long)(rnd() & 0xffffffffu));
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(g_tmp, sizeof g_tmp, "%s", tmpl);
    rc |= gh_test_run(open_cases, sizeof open_cases / sizeof open_cases[0]);
    rc |= run_contract("sqlite::memory:");
    /* A directory that does not exist yet: opening makes it. */
    snprintf(file_url, sizeof file_url, "sqlite://%s/contract/store.db", g_tmp);
    rc |= run_contract(file_url);
    rc |= run_env_urls();
    nftw(g_tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
