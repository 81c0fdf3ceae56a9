/* SPDX-License-Identifier: MIT */
/* The LRU cache: hits and misses, replacement, expiry, eviction by recency and by bytes,
 * oversized values, values outliving eviction and the cache, stats, and many threads at once. */
#include "gh/lru.h"
#include "../../gh_test.h"

#include <pthread.h>
#include <stdlib.h>

/* 64 hex characters, like a SHA-256 key; n picks the last 8. */
static void make_key(char key[65], unsigned n)
{
    snprintf(key, 65, "%056x%08x", 0u, n);
}

/* The per-entry overhead, measured through stats so the test does not hard-code it. */
static uint64_t overhead(void)
{
    struct gh_lru *lru = gh_lru_new(4, 1 << 20);
    struct gh_lru_stats st = {0};
    char key[65];

    make_key(key, 0);
    if (!lru || gh_lru_put(lru, key, "{}", 2, "", "openai", 0, 100) != GH_OK)
        return 0;
    gh_lru_stats(lru, &st);
    gh_lru_free(lru);
    return st.bytes - 64 - 2;
}

static void put_get_replace(void)
{
    struct gh_lru *lru = gh_lru_new(8, 1 << 20);
    const struct gh_lru_value *v, *old;
    char key[65];

    make_key(key, 1);
    CHECK(lru != NULL);
    CHECK_INT(gh_lru_put(lru, key, "{\"a\":1}", 7, "lat-pulldown", "openai", 42, 1000), GH_OK);
    v = gh_lru_get(lru, key, 10);
    CHECK(v != NULL);
    if (v) {
        CHECK_STR(v->json, "{\"a\":1}");
        CHECK_INT(v->json_len, 7);
        CHECK_STR(v->slug, "lat-pulldown");
        CHECK_INT(v->phash, 42);
        CHECK_INT(v->expires_at, 1000);
    }
    /* Replacing hands later readers the new value; the old reference stays readable. */
    old = v;
    CHECK_INT(gh_lru_put(lru, key, "{\"a\":2}", 7, NULL, "openai", 7, 2000), GH_OK);
    v = gh_lru_get(lru, key, 10);
    CHECK(v != NULL && v != old);
    if (v) {
        CHECK_STR(v->json, "{\"a\":2}");
        CHECK_STR(v->slug, "");
        CHECK_INT(v->phash, 7);
    }
    if (old)
        CHECK_STR(old->json, "{\"a\":1}");
    gh_lru_value_release(old);
    gh_lru_value_release(v);
    gh_lru_value_release(NULL);
    gh_lru_free(lru);
    gh_lru_free(NULL);
}

static void miss_and_remove(void)
{
    struct gh_lru *lru = gh_lru_new(8, 1 << 20);
    struct gh_lru_stats st;
    char a[65], b[65];

    make_key(a, 1);
    make_key(b, 2);
    CHECK(gh_lru_get(lru, a, 0) == NULL);
    CHECK_INT(gh_lru_put(lru, a, "x", 1, "", "openai", 0, 100), GH_OK);
    CHECK(gh_lru_get(lru, b, 0) == NULL);
    gh_lru_remove(lru, b); /* absent: no-op */
    gh_lru_remove(lru, a);
    CHECK(gh_lru_get(lru, a, 0) == NULL);
    gh_lru_stats(lru, &st);
    CHECK_INT(st.entries, 0);
    CHECK_INT(st.bytes, 0);
    CHECK_INT(st.misses, 3);
    CHECK_INT(st.hits, 0);
    gh_lru_free(lru);
}

static void expired_entry_is_removed(void)
{
    struct gh_lru *lru = gh_lru_new(8, 1 << 20);
    const struct gh_lru_value *v;
    struct gh_lru_stats st;
    char key[65];

    make_key(key, 3);
    CHECK_INT(gh_lru_put(lru, key, "x", 1, "", "openai", 0, 100), GH_OK);
    v = gh_lru_get(lru, key, 99); /* one second before expiry: a hit */
    CHECK(v != NULL);
    gh_lru_value_release(v);
    CHECK(gh_lru_get(lru, key, 100) == NULL); /* at expires_at: gone */
    gh_lru_stats(lru, &st);
    CHECK_INT(st.entries, 0);
    CHECK_INT(st.bytes, 0);
    CHECK_INT(st.hits, 1);
    CHECK_INT(st.misses, 1);
    CHECK_INT(st.evictions, 0);
    CHECK(gh_lru_get(lru, key, 0) == NULL); /* removed, not just hidden */
    gh_lru_free(lru);
}

static void evicts_least_recently_used(void)
{
    struct gh_lru *lru = gh_lru_new(3, 1 << 20);
    struct gh_lru_stats st;
    char k[5][65];

    for (unsigned i = 0; i < 5; i++)
        make_key(k[i], i);
    for (unsigned i = 0; i < 3; i++)
        CHECK_INT(gh_lru_put(lru, k[i], "v", 1, "", "openai", 0, 100), GH_OK);
    /* A get refreshes: k0 becomes the most recent, so k1 is the first to go. */
    gh_lru_value_release(gh_lru_get(lru, k[0], 0));
    CHECK_INT(gh_lru_put(lru, k[3], "v", 1, "", "openai", 0, 100), GH_OK);
    CHECK(gh_lru_get(lru, k[1], 0) == NULL);
    /* Order now, oldest first: k2, k0, k3. */
    CHECK_INT(gh_lru_put(lru, k[4], "v", 1, "", "openai", 0, 100), GH_OK);
    CHECK(gh_lru_get(lru, k[2], 0) == NULL);
    for (unsigned i = 0; i < 3; i++) {
        static const unsigned kept[] = {0, 3, 4};
        const struct gh_lru_value *v = gh_lru_get(lru, k[kept[i]], 0);

        CHECK(v != NULL);
        gh_lru_value_release(v);
    }
    gh_lru_stats(lru, &st);
    CHECK_INT(st.entries, 3);
    CHECK_INT(st.evictions, 2);
    CHECK_INT(st.max_entries, 3);
    gh_lru_free(lru);
}

static void evicts_by_bytes(void)
{
    uint64_t ov = overhead();
    /* Room for exactly three entries of 64-byte key + 100-byte JSON + 5-byte slug. */
    uint64_t one = ov + 64 + 100 + 5;
    struct gh_lru *lru = gh_lru_new(100, (size_t)(3 * one));
    struct gh_lru_stats st;
    char json[101], k[4][65];

    CHECK(ov >= 64 && ov <= 256);
    memset(json, 'j', 100);
    json[100] = '\0';
    for (unsigned i = 0; i < 4; i++) {
        make_key(k[i], i);
        CHECK_INT(gh_lru_put(lru, k[i], json, 100, "bench", "openai", 0, 100), GH_OK);
    }
    gh_lru_stats(lru, &st);
    CHECK_INT(st.entries, 3);
    CHECK_INT(st.bytes, 3 * one);
    CHECK_INT(st.evictions, 1);
    CHECK_INT(st.max_bytes, 3 * one);
    CHECK(gh_lru_get(lru, k[0], 0) == NULL);
    /* A bigger value pushes out two older ones. */
    CHECK_INT(gh_lru_put(lru, k[0], json, 100, "a-much-longer-slug-than-bench", "openai", 0, 100),
              GH_OK);
    gh_lru_stats(lru, &st);
    CHECK_INT(st.entries, 2);
    CHECK(st.bytes <= 3 * one);
    CHECK(gh_lru_get(lru, k[1], 0) == NULL);
    gh_lru_free(lru);
}

static void oversized_value_is_refused(void)
{
    struct gh_lru *lru = gh_lru_new(8, 1024);
    struct gh_lru_stats st;
    char big[2048], key[65];
    const struct gh_lru_value *v;

    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    make_key(key, 9);
    CHECK_INT(gh_lru_put(lru, key, "small", 5, "", "openai", 0, 100), GH_OK);
    CHECK_INT(gh_lru_put(lru, key, big, sizeof big - 1, "", "openai", 0, 100), GH_ETOOBIG);
    /* The refused put still replaced: the old, now stale, answer is gone. */
    CHECK(gh_lru_get(lru, key, 0) == NULL);
    /* A value that fits alone evicts everything else, never itself. */
    CHECK_INT(gh_lru_put(lru, key, "small", 5, "", "openai", 0, 100), GH_OK);
    CHECK_INT(gh_lru_put(lru, "other", big, 1024 - overhead() - 5, "", "openai", 0, 100), GH_OK);
    gh_lru_stats(lru, &st);
    CHECK_INT(st.entries, 1);
    CHECK_INT(st.bytes, 1024);
    v = gh_lru_get(lru, "other", 0);
    CHECK(v != NULL);
    gh_lru_value_release(v);
    gh_lru_free(lru);
}

static void value_outlives_eviction_and_cache(void)
{
    struct gh_lru *lru = gh_lru_new(1, 1 << 20);
    const struct gh_lru_value *a, *b;
    char ka[65], kb[65];

    make_key(ka, 1);
    make_key(kb, 2);
    CHECK_INT(gh_lru_put(lru, ka, "{\"k\":\"a\"}", 9, "a", "openai", 1, 100), GH_OK);
    a = gh_lru_get(lru, ka, 0);
    CHECK_INT(gh_lru_put(lru, kb, "{\"k\":\"b\"}", 9, "b", "openai", 2, 100),
              GH_OK); /* evicts ka */
    CHECK(gh_lru_get(lru, ka, 0) == NULL);
    b = gh_lru_get(lru, kb, 0);
    gh_lru_free(lru);
    /* ASan would report a use after free here if either value went with the cache. */
    CHECK(a && b);
    if (a && b) {
        CHECK_STR(a->json, "{\"k\":\"a\"}");
        CHECK_STR(a->slug, "a");
        CHECK_STR(b->json, "{\"k\":\"b\"}");
        CHECK_INT(b->phash, 2);
    }
    gh_lru_value_release(a);
    gh_lru_value_release(b);
}

static void many_keys_grow_the_table(void)
{
    struct gh_lru *lru = gh_lru_new(5000, 1 << 24);
    struct gh_lru_stats st;
    char key[65], json[32];
    unsigned bad = 0;

    for (unsigned i = 0; i < 5000; i++) {
        make_key(key, i * 2654435761u);
        snprintf(json, sizeof json, "%u", i);
        CHECK_INT(gh_lru_put(lru, key, json, strlen(json), "", "openai", i, 100), GH_OK);
    }
    for (unsigned i = 0; i < 5000; i++) {
        const struct gh_lru_value *v;

        make_key(key, i * 2654435761u);
        v = gh_lru_get(lru, key, 0);
        if (!v || v->phash != i)
            bad++;
        gh_lru_value_release(v);
    }
    CHECK_INT(bad, 0);
    gh_lru_stats(lru, &st);
    CHECK_INT(st.entries, 5000);
    CHECK_INT(st.hits, 5000);
    CHECK_INT(st.evictions, 0);
    gh_lru_free(lru);
}

#define N_THREADS 8
#define N_OPS     50000
#define N_KEYS    64

struct worker {
    struct gh_lru *lru;
    unsigned seed;
    unsigned bad;
};

/* Each value's JSON and phash are derived from its key, so a torn or freed value shows. */
static void *hammer(void *arg)
{
    struct worker *w = arg;
    char key[65], json[32];

    for (unsigned i = 0; i < N_OPS; i++) {
        unsigned r = (unsigned)rand_r(&w->seed), k = r % N_KEYS, op = (r / N_KEYS) % 16;
        const struct gh_lru_value *v;

        make_key(key, k);
        if (op < 10) {
            v = gh_lru_get(w->lru, key, (int64_t)(r % 4));
            if (v && (v->phash != k || strtoul(v->json, NULL, 10) != k || v->slug[0] != 's'))
                w->bad++;
            gh_lru_value_release(v);
        } else if (op < 15) {
            snprintf(json, sizeof json, "%u", k);
            if (gh_lru_put(w->lru, key, json, strlen(json), "slug", "openai", k, 3) != GH_OK)
                w->bad++;
        } else {
            gh_lru_remove(w->lru, key);
        }
    }
    return NULL;
}

static void threads_hammer_a_small_cache(void)
{
    struct gh_lru *lru = gh_lru_new(16, 16 * 300);
    pthread_t t[N_THREADS];
    struct worker w[N_THREADS];
    struct gh_lru_stats st;

    for (unsigned i = 0; i < N_THREADS; i++) {
        w[i] = (struct worker){.lru = lru, .seed = i + 1};
        CHECK_INT(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    for (unsigned i = 0; i < N_THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(w[i].bad, 0);
    }
    gh_lru_stats(lru, &st);
    CHECK(st.entries <= 16);
    CHECK(st.bytes <= 16 * 300);
    CHECK(st.hits + st.misses > 0);
    CHECK(st.evictions > 0);
    gh_lru_free(lru);
}

static void zero_bounds_are_refused(void)
{
    CHECK(gh_lru_new(0, 100) == NULL);
    CHECK(gh_lru_new(100, 0) == NULL);
}

GH_TEST_MAIN(GH_TEST(put_get_replace), GH_TEST(miss_and_remove), GH_TEST(expired_entry_is_removed),
             GH_TEST(evicts_least_recently_used), GH_TEST(evicts_by_bytes),
             GH_TEST(oversized_value_is_refused), GH_TEST(value_outlives_eviction_and_cache),
             GH_TEST(many_keys_grow_the_table), GH_TEST(threads_hammer_a_small_cache),
             GH_TEST(zero_bounds_are_refused))
