/* SPDX-License-Identifier: MIT */
/* Bounded storage (issue 10): cache hits counted in memory and written in batches, one
 * statement per batch instead of a write per hit, and the history's retention. What a batch
 * holds is lost when the process dies before the next flush (counters, not records). */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "gh/alloc.h"

#define HITS_SLOTS 4096 /* power of two; open addressing */
#define HITS_FULL  2048 /* distinct photos pending before a lookup flushes itself */

struct gh_store_hits {
    pthread_mutex_t mu;
    struct gh_store_hit slot[HITS_SLOTS]; /* sha256[0] == '\0': free */
    size_t n;
    struct gh_store_hit_counters c;
};

struct gh_store_hits *gh_store_hits_new(void)
{
    struct gh_store_hits *h = gh_malloc(sizeof *h);

    if (!h)
        return NULL;
    memset(h, 0, sizeof *h);
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        gh_free(h);
        return NULL;
    }
    return h;
}

void gh_store_hits_free(struct gh_store_hits *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->mu);
    gh_free(h);
}

/* FNV-1a of the hex key; the key is a SHA-256, so its first bytes would do, but a caller may
 * pass any 64 hex digits. */
static size_t slot_of(const struct gh_store_hits *h, const char *sha)
{
    uint64_t x = UINT64_C(1469598103934665603);
    size_t i;

    for (const char *p = sha; *p; p++)
        x = (x ^ (uint8_t)*p) * UINT64_C(1099511628211);
    i = (size_t)x & (HITS_SLOTS - 1);
    while (h->slot[i].sha256[0] && strcmp(h->slot[i].sha256, sha) != 0)
        i = (i + 1) & (HITS_SLOTS - 1);
    return i;
}

int64_t gh_store_hits_add(struct gh_store_hits *h, const char *sha, int64_t now, int *full)
{
    struct gh_store_hit *e;
    int64_t n;

    pthread_mutex_lock(&h->mu);
    e = &h->slot[slot_of(h, sha)];
    if (!e->sha256[0] && h->n >= HITS_SLOTS / 2) {
        /* Full while a flush is under way elsewhere: a free slot must always remain for the
         * probe to end, so this hit is not counted. */
        h->c.hits++;
        h->c.dropped++;
        *full = 1;
        pthread_mutex_unlock(&h->mu);
        return 1;
    }
    if (!e->sha256[0]) {
        snprintf(e->sha256, sizeof e->sha256, "%s", sha);
        h->n++;
    }
    e->n++;
    if (now > e->last_at)
        e->last_at = now;
    n = e->n;
    h->c.hits++;
    *full = h->n >= HITS_FULL;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* Removes the slot at i, re-placing the run after it (linear probing has no tombstones). */
static void remove_slot(struct gh_store_hits *h, size_t i)
{
    size_t j = (i + 1) & (HITS_SLOTS - 1);

    memset(&h->slot[i], 0, sizeof h->slot[i]);
    h->n--;
    while (h->slot[j].sha256[0]) {
        struct gh_store_hit e = h->slot[j];

        memset(&h->slot[j], 0, sizeof e);
        h->slot[slot_of(h, e.sha256)] = e;
        j = (j + 1) & (HITS_SLOTS - 1);
    }
}

void gh_store_hits_forget(struct gh_store_hits *h, const char *sha)
{
    size_t i;

    pthread_mutex_lock(&h->mu);
    i = slot_of(h, sha);
    if (h->slot[i].sha256[0])
        remove_slot(h, i);
    pthread_mutex_unlock(&h->mu);
}

/* Moves every pending count into a new array (*out, gh_free it); 0 pending: *out NULL. */
static int take(struct gh_store_hits *h, struct gh_store_hit **out, size_t *n_out)
{
    struct gh_store_hit *v = NULL;
    size_t n = 0;

    *out = NULL;
    *n_out = 0;
    pthread_mutex_lock(&h->mu);
    if (h->n && !(v = gh_malloc(h->n * sizeof *v))) {
        pthread_mutex_unlock(&h->mu);
        return GH_ENOMEM;
    }
    for (size_t i = 0; i < HITS_SLOTS && n < h->n; i++)
        if (h->slot[i].sha256[0])
            v[n++] = h->slot[i];
    memset(h->slot, 0, sizeof h->slot);
    h->n = 0;
    pthread_mutex_unlock(&h->mu);
    *out = v;
    *n_out = n;
    return GH_OK;
}

int gh_store_flush_hits(struct gh_store *st, struct gh_err *err)
{
    struct gh_store_hit *v = NULL;
    int64_t rows = 0, lost = 0;
    size_t n = 0;
    int rc;

    if (!st)
        return gh_err_set(err, GH_EINVAL, "no store given");
    if (take(st->hits, &v, &n) != GH_OK)
        return gh_err_set(err, GH_ENOMEM, "out of memory writing hit counters");
    if (!n)
        return GH_OK;
    rc = st->ops->add_hits(st, v, n, &rows, err);
    if (rc)
        for (size_t i = 0; i < n; i++)
            lost += v[i].n;
    pthread_mutex_lock(&st->hits->mu);
    st->hits->c.flushes += rc == GH_OK;
    st->hits->c.rows_written += rows;
    st->hits->c.dropped += lost;
    pthread_mutex_unlock(&st->hits->mu);
    gh_free(v);
    return rc;
}

void gh_store_hit_counters(struct gh_store *st, struct gh_store_hit_counters *out)
{
    memset(out, 0, sizeof *out);
    if (!st)
        return;
    pthread_mutex_lock(&st->hits->mu);
    *out = st->hits->c;
    out->pending = 0;
    for (size_t i = 0; i < HITS_SLOTS; i++)
        out->pending += st->hits->slot[i].n;
    pthread_mutex_unlock(&st->hits->mu);
}

int gh_store_prune_history(struct gh_store *st, int64_t before_created_at,
                           struct gh_store_pruned *out, struct gh_err *err)
{
    struct gh_store_pruned tmp;

    if (!out)
        out = &tmp;
    memset(out, 0, sizeof *out);
    if (!st)
        return gh_err_set(err, GH_EINVAL, "no store given");
    return st->ops->prune_history(st, before_created_at, out, err);
}
