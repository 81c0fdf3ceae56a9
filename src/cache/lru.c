/* SPDX-License-Identifier: MIT */
/* In-process LRU cache: a chained hash table (power-of-two buckets, grown with the entry count)
 * and a doubly linked recency list under one mutex. Each entry is one heap block holding links,
 * key, value, JSON and slug; the cache owns one reference and every reader one more.
 * No persistence and no background expiry: expired entries go when looked up or evicted. */
#include "gh/lru.h"
#include "gh/alloc.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Accounted per entry on top of key, JSON and slug: the block header below plus allocator
 * slack. A constant, not sizeof, so a byte bound means the same on every build. */
#define LRU_ENTRY_OVERHEAD 128u
#define LRU_MIN_BUCKETS    16u

struct lru_entry {
    struct gh_lru_value pub;       /* first member: a value pointer is an entry pointer */
    atomic_size_t refs;            /* the cache's reference (while linked) plus one per reader */
    struct lru_entry *prev, *next; /* recency list, head most recent; next also chains the
                                      entries dropped by one call, once they are unlinked */
    struct lru_entry *chain;       /* next entry in the same bucket */
    uint64_t hash;
    size_t cost; /* accounted bytes */
    size_t key_len;
    char key[]; /* key, JSON, slug, each NUL-terminated */
};

_Static_assert(sizeof(struct lru_entry) + 4 <= LRU_ENTRY_OVERHEAD,
               "overhead undercounts the header");

struct gh_lru {
    pthread_mutex_t mu;
    struct lru_entry **buckets;
    size_t n_buckets; /* a power of two */
    struct lru_entry *head, *tail;
    size_t n_entries;
    size_t bytes;
    size_t max_entries;
    size_t max_bytes;
    uint64_t seed; /* read-only after gh_lru_new, so hashing happens outside the lock */
    uint64_t hits, misses, evictions;
};

/* Keys are hex SHA-256 of uploads, so a client can grind them; a per-cache random seed keeps
 * bucket placement unpredictable. FNV-1a, then the splitmix64 finalizer because FNV's low bits
 * (the ones the mask keeps) mix poorly. */
static uint64_t key_hash(uint64_t seed, const char *key, size_t len)
{
    uint64_t h = seed ^ 0xcbf29ce484222325u;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3u;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebu;
    h ^= h >> 31;
    return h;
}

static uint64_t make_seed(const struct gh_lru *lru)
{
    uint64_t seed = 0;
    struct timespec ts;

    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed)
        return seed;
    /* Early boot without entropy: weaker, but the cache must still work. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)(uintptr_t)lru ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec;
}

static void entry_release(struct lru_entry *e)
{
    /* acq_rel: whoever drops the last reference must see the others' reads finished. */
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        gh_free(e);
}

static void release_list(struct lru_entry *e)
{
    while (e) {
        struct lru_entry *next = e->next;

        entry_release(e);
        e = next;
    }
}

/* The link that points at key's entry, or the NULL link ending its bucket. Under the lock. */
static struct lru_entry **find_link(struct gh_lru *lru, const char *key, size_t key_len, uint64_t h)
{
    struct lru_entry **pp = &lru->buckets[h & (lru->n_buckets - 1)];

    for (; *pp; pp = &(*pp)->chain) {
        const struct lru_entry *e = *pp;

        if (e->hash == h && e->key_len == key_len && memcmp(e->key, key, key_len) == 0)
            break;
    }
    return pp;
}

static void list_unlink(struct gh_lru *lru, struct lru_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        lru->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        lru->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push_front(struct gh_lru *lru, struct lru_entry *e)
{
    e->prev = NULL;
    e->next = lru->head;
    if (lru->head)
        lru->head->prev = e;
    else
        lru->tail = e;
    lru->head = e;
}

/* Takes the entry at *pp out of table and list; the caller now holds the cache's reference
 * and drops it after unlocking. */
static struct lru_entry *detach(struct gh_lru *lru, struct lru_entry **pp)
{
    struct lru_entry *e = *pp;

    *pp = e->chain;
    e->chain = NULL;
    list_unlink(lru, e);
    lru->n_entries--;
    lru->bytes -= e->cost;
    return e;
}

/* Doubles the bucket array once the load passes 1. Best effort: when the allocation fails the
 * chains just get longer. Under the lock, but amortised over the inserts that needed it. */
static void maybe_grow(struct gh_lru *lru)
{
    size_t n = lru->n_buckets * 2;
    struct lru_entry **nb;

    if (lru->n_entries <= lru->n_buckets || n > SIZE_MAX / 2 / sizeof *nb)
        return;
    nb = gh_malloc_array(n, sizeof *nb);
    if (!nb)
        return;
    memset(nb, 0, n * sizeof *nb);
    for (size_t i = 0; i < lru->n_buckets; i++) {
        struct lru_entry *e = lru->buckets[i];

        while (e) {
            struct lru_entry *next = e->chain;
            size_t j = (size_t)(e->hash & (n - 1));

            e->chain = nb[j];
            nb[j] = e;
            e = next;
        }
    }
    gh_free(lru->buckets);
    lru->buckets = nb;
    lru->n_buckets = n;
}

struct gh_lru *gh_lru_new(size_t max_entries, size_t max_bytes)
{
    struct gh_lru *lru;

    if (max_entries == 0 || max_bytes == 0)
        return NULL;
    lru = gh_malloc(sizeof *lru);
    if (!lru)
        return NULL;
    memset(lru, 0, sizeof *lru);
    lru->n_buckets = LRU_MIN_BUCKETS;
    lru->buckets = gh_malloc_array(lru->n_buckets, sizeof *lru->buckets);
    if (!lru->buckets || pthread_mutex_init(&lru->mu, NULL) != 0) {
        gh_free(lru->buckets);
        gh_free(lru);
        return NULL;
    }
    memset(lru->buckets, 0, lru->n_buckets * sizeof *lru->buckets);
    lru->max_entries = max_entries;
    lru->max_bytes = max_bytes;
    lru->seed = make_seed(lru);
    return lru;
}

void gh_lru_free(struct gh_lru *lru)
{
    if (!lru)
        return;
    /* Readers may still hold values: dropping the cache's reference frees only the rest. */
    release_list(lru->head);
    gh_free(lru->buckets);
    pthread_mutex_destroy(&lru->mu);
    gh_free(lru);
}

const struct gh_lru_value *gh_lru_get(struct gh_lru *lru, const char *key, int64_t now)
{
    size_t key_len;
    uint64_t h;
    struct lru_entry **pp, *e, *expired = NULL;

    assert(lru && key);
    key_len = strlen(key);
    h = key_hash(lru->seed, key, key_len); /* outside the lock: the seed never changes */
    pthread_mutex_lock(&lru->mu);
    pp = find_link(lru, key, key_len, h);
    e = *pp;
    if (e && now >= e->pub.expires_at) {
        expired = detach(lru, pp);
        e = NULL;
    }
    if (e) {
        /* Relaxed is enough: the cache's own reference keeps it above zero under the lock. */
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        list_unlink(lru, e);
        list_push_front(lru, e);
        lru->hits++;
    } else {
        lru->misses++;
    }
    pthread_mutex_unlock(&lru->mu);
    if (expired)
        entry_release(expired);
    return e ? &e->pub : NULL;
}

/* The accounted size of an entry, or 0 when it overflows. */
static size_t entry_cost(size_t key_len, size_t json_len, size_t slug_len, size_t prov_len)
{
    size_t n;

    if (!gh_add_ok(key_len, json_len, &n) || !gh_add_ok(n, slug_len, &n) ||
        !gh_add_ok(n, prov_len, &n) || !gh_add_ok(n, LRU_ENTRY_OVERHEAD, &n))
        return 0;
    return n;
}

/* One block: header, then key, JSON, slug and provider with their NULs (cost already covers
 * the sum, and sizeof the header plus four NULs fits in the overhead). */
static struct lru_entry *entry_new(const char *key, size_t key_len, const char *json,
                                   size_t json_len, const char *slug, size_t slug_len,
                                   const char *prov, size_t prov_len, size_t cost)
{
    struct lru_entry *e = gh_malloc(sizeof *e + key_len + json_len + slug_len + prov_len + 4);
    char *p;

    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    atomic_init(&e->refs, 1);
    e->cost = cost;
    e->key_len = key_len;
    p = e->key;
    memcpy(p, key, key_len + 1);
    p += key_len + 1;
    if (json_len)
        memcpy(p, json, json_len);
    p[json_len] = '\0';
    e->pub.json = p;
    e->pub.json_len = json_len;
    p += json_len + 1;
    memcpy(p, slug, slug_len + 1);
    e->pub.slug = p;
    p += slug_len + 1;
    memcpy(p, prov, prov_len + 1);
    e->pub.provider = p;
    return e;
}

int gh_lru_put(struct gh_lru *lru, const char *key, const char *json, size_t json_len,
               const char *slug, const char *provider, uint64_t phash, int64_t expires_at)
{
    size_t key_len, slug_len, prov_len, cost;
    uint64_t h;
    struct lru_entry **pp, *e = NULL, *dropped = NULL;
    int rc = GH_OK;

    assert(lru && key && (json || json_len == 0));
    key_len = strlen(key);
    h = key_hash(lru->seed, key, key_len);
    if (!slug)
        slug = "";
    slug_len = strlen(slug);
    if (!provider)
        provider = "";
    prov_len = strlen(provider);
    cost = entry_cost(key_len, json_len, slug_len, prov_len);
    if (cost == 0 || cost > lru->max_bytes)
        rc = GH_ETOOBIG;
    else if (!(e = entry_new(key, key_len, json, json_len, slug, slug_len, provider, prov_len,
                             cost)))
        rc = GH_ENOMEM;
    if (e) {
        e->hash = h;
        e->pub.phash = phash;
        e->pub.expires_at = expires_at;
    }

    pthread_mutex_lock(&lru->mu);
    /* A failed put still removes the old value: the caller meant to replace it. */
    pp = find_link(lru, key, key_len, h);
    if (*pp)
        dropped = detach(lru, pp);
    if (e) {
        pp = &lru->buckets[h & (lru->n_buckets - 1)];
        e->chain = *pp;
        *pp = e;
        list_push_front(lru, e);
        lru->n_entries++;
        lru->bytes += cost;
    }
    /* Never evicts e itself: alone it is within both bounds (cost <= max_bytes, 1 entry). */
    while (lru->n_entries > lru->max_entries || lru->bytes > lru->max_bytes) {
        struct lru_entry *t = lru->tail;

        t = detach(lru, find_link(lru, t->key, t->key_len, t->hash));
        t->next = dropped;
        dropped = t;
        lru->evictions++;
    }
    maybe_grow(lru);
    pthread_mutex_unlock(&lru->mu);

    release_list(dropped);
    return rc;
}

void gh_lru_remove(struct gh_lru *lru, const char *key)
{
    size_t key_len;
    uint64_t h;
    struct lru_entry **pp, *e = NULL;

    assert(lru && key);
    key_len = strlen(key);
    h = key_hash(lru->seed, key, key_len);
    pthread_mutex_lock(&lru->mu);
    pp = find_link(lru, key, key_len, h);
    if (*pp)
        e = detach(lru, pp);
    pthread_mutex_unlock(&lru->mu);
    if (e)
        entry_release(e);
}

void gh_lru_value_release(const struct gh_lru_value *v)
{
    /* The value is the entry's first member, and entries are never const objects. */
    if (v)
        entry_release((struct lru_entry *)(uintptr_t)v);
}

void gh_lru_stats(struct gh_lru *lru, struct gh_lru_stats *out)
{
    pthread_mutex_lock(&lru->mu);
    out->entries = lru->n_entries;
    out->bytes = lru->bytes;
    out->hits = lru->hits;
    out->misses = lru->misses;
    out->evictions = lru->evictions;
    out->max_entries = lru->max_entries;
    out->max_bytes = lru->max_bytes;
    pthread_mutex_unlock(&lru->mu);
}
