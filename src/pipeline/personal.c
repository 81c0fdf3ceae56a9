/* SPDX-License-Identifier: MIT */
/* Each person's own corrections (issue 11): an in-process index, owner -> the photos they
 * corrected (SHA-256, pHash, slug), so that every answer to that person for that photo or a
 * near duplicate carries their correction without a store query per analysis. Filled from the
 * store's corrections table by id (every instance's), pulled at most every refresh_ms on a
 * worker; this instance's own corrections go in at once. Leaves out: shared answers (the
 * cache layers hold those). */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/clock.h"
#include "gh/log.h"
#include "gh/lru.h"
#include "gh/store_corrections.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define PERSONAL_BUCKETS 1024
#define PERSONAL_PAGE    1000
#define PERSONAL_MAX     1000000 /* corrections kept in memory; past it new owners wait */

struct personal_photo {
    char sha256[GH_STORE_SHA_HEX_CAP];
    uint64_t phash;
    char slug[64];
};

struct personal_owner {
    char owner[GH_IDENTITY_KEY_CAP];
    struct personal_photo *photos;
    size_t n, cap;
    struct personal_owner *next;
};

struct gh_personal {
    struct gh_store *store;
    struct gh_lru *lru; /* may be NULL */
    int64_t refresh_ms;
    pthread_rwlock_t lock; /* guards buckets and the photos */
    struct personal_owner *buckets[PERSONAL_BUCKETS];
    atomic_size_t n_photos;
    pthread_mutex_t pull_mu; /* one pull at a time */
    int64_t last_id;         /* the newest store row seen (under pull_mu) */
    atomic_int_least64_t last_pull_ms;
    int warned;
    int loaded; /* a first pull succeeded (under pull_mu) */
};

static uint32_t hash_owner(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h % PERSONAL_BUCKETS;
}

struct gh_personal *gh_personal_new(struct gh_store *st, struct gh_lru *lru, int64_t refresh_ms)
{
    struct gh_personal *pi = gh_malloc(sizeof *pi);

    if (!pi)
        return NULL;
    memset(pi, 0, sizeof *pi);
    pi->store = st;
    pi->lru = lru;
    pi->refresh_ms = refresh_ms > 0 ? refresh_ms : 1000;
    pthread_rwlock_init(&pi->lock, NULL);
    pthread_mutex_init(&pi->pull_mu, NULL);
    atomic_store(&pi->last_pull_ms, INT64_MIN / 2); /* due at once */
    return pi;
}

void gh_personal_free(struct gh_personal *pi)
{
    if (!pi)
        return;
    for (size_t b = 0; b < PERSONAL_BUCKETS; b++)
        for (struct personal_owner *o = pi->buckets[b], *next; o; o = next) {
            next = o->next;
            gh_free(o->photos);
            gh_free(o);
        }
    pthread_rwlock_destroy(&pi->lock);
    pthread_mutex_destroy(&pi->pull_mu);
    gh_free(pi);
}

static struct personal_owner *find_owner(struct gh_personal *pi, const char *owner)
{
    struct personal_owner *o = pi->buckets[hash_owner(owner)];

    while (o && strcmp(o->owner, owner) != 0)
        o = o->next;
    return o;
}

/* Under the write lock. Out of memory only loses this person's entry on this instance. */
static void put_locked(struct gh_personal *pi, const struct gh_correction *c)
{
    struct personal_owner *o = find_owner(pi, c->owner);
    struct personal_photo *ph = NULL;
    uint32_t b;

    if (!o) {
        o = gh_malloc(sizeof *o);
        if (!o)
            return;
        memset(o, 0, sizeof *o);
        snprintf(o->owner, sizeof o->owner, "%s", c->owner);
        b = hash_owner(c->owner);
        o->next = pi->buckets[b];
        pi->buckets[b] = o;
    }
    for (size_t i = 0; i < o->n && !ph; i++)
        if (strcmp(o->photos[i].sha256, c->sha256) == 0)
            ph = &o->photos[i]; /* a new vote replaces the owner's old one */
    if (!ph) {
        if (atomic_load(&pi->n_photos) >= PERSONAL_MAX)
            return;
        if (o->n == o->cap) {
            size_t cap = o->cap ? 2 * o->cap : 4;
            struct personal_photo *grown = gh_realloc(o->photos, cap * sizeof *grown);

            if (!grown)
                return;
            o->photos = grown;
            o->cap = cap;
        }
        ph = &o->photos[o->n++];
        atomic_fetch_add(&pi->n_photos, 1);
    }
    snprintf(ph->sha256, sizeof ph->sha256, "%s", c->sha256);
    ph->phash = c->phash;
    snprintf(ph->slug, sizeof ph->slug, "%s", c->slug);
}

void gh_personal_put(struct gh_personal *pi, const struct gh_correction *c)
{
    if (!pi || !c->owner[0])
        return;
    pthread_rwlock_wrlock(&pi->lock);
    put_locked(pi, c);
    pthread_rwlock_unlock(&pi->lock);
}

int gh_personal_stale(struct gh_personal *pi)
{
    return pi && (int64_t)gh_mono_ms() - atomic_load(&pi->last_pull_ms) >= pi->refresh_ms;
}

void gh_personal_refresh(struct gh_personal *pi)
{
    struct gh_correction *page;
    struct gh_err err = {0};
    size_t n = 0;
    int rc = GH_OK;

    if (!gh_personal_stale(pi) || pthread_mutex_trylock(&pi->pull_mu) != 0)
        return;
    page = gh_malloc_array(PERSONAL_PAGE, sizeof *page);
    while (page &&
           (rc = gh_store_correction_since(pi->store, pi->last_id, PERSONAL_PAGE, page, &n,
                                           &err)) == GH_OK &&
           n > 0) {
        pthread_rwlock_wrlock(&pi->lock);
        for (size_t i = 0; i < n; i++)
            put_locked(pi, &page[i]);
        pthread_rwlock_unlock(&pi->lock);
        /* a new vote may have changed the photo's shared answer on another instance (a trusted
         * person's, a quorum's): this instance's memory layer reads it again from Redis or the
         * store (the first pull has nothing cached to drop) */
        for (size_t i = 0; pi->lru && pi->loaded && i < n; i++)
            gh_lru_remove(pi->lru, page[i].sha256);
        pi->last_id = page[n - 1].id;
        if (n < PERSONAL_PAGE)
            break;
    }
    if (rc != GH_OK && !pi->warned)
        gh_logf(GH_LOG_WARN, "reading people's corrections failed (retried every second): %s",
                err.msg);
    pi->warned = rc != GH_OK;
    pi->loaded |= rc == GH_OK && page;
    /* a failure waits for the next period too: the store's breaker decides the rest */
    atomic_store(&pi->last_pull_ms, (int64_t)gh_mono_ms());
    gh_free(page);
    pthread_mutex_unlock(&pi->pull_mu);
}

int gh_personal_find(struct gh_personal *pi, const char *owner, const char *sha256, uint64_t phash,
                     int max_distance, char slug[64], int *distance)
{
    struct personal_owner *o;
    int best = max_distance + 1;

    if (!pi || !owner || !owner[0] || atomic_load(&pi->n_photos) == 0)
        return 0;
    pthread_rwlock_rdlock(&pi->lock);
    o = find_owner(pi, owner);
    for (size_t i = 0; o && i < o->n && best > 0; i++) {
        const struct personal_photo *ph = &o->photos[i];
        int d = strcmp(ph->sha256, sha256) == 0 ? 0
                : phash && ph->phash            ? __builtin_popcountll(ph->phash ^ phash)
                                                : best; /* an unknown pHash matches only exactly */

        if (d < best) {
            best = d;
            snprintf(slug, 64, "%s", ph->slug);
        }
    }
    pthread_rwlock_unlock(&pi->lock);
    if (best > max_distance)
        return 0;
    *distance = best;
    return 1;
}
