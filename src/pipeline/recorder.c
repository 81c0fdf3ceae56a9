/* SPDX-License-Identifier: MIT */
/* Background writer of identification records: requests queue a record and move on; one
 * thread drains the queue into the store. While the store is unreachable (a PostgreSQL
 * restart) the batch in hand is retried with backoff and later records wait in the queue, so
 * an outage delays the history instead of losing it; only a full queue drops records. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/log.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

struct gh_recorder {
    struct gh_store *store;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    struct gh_identification *ring;
    size_t cap, head, n;
    int stopping;
    uint64_t queued;     /* records ever queued */
    uint64_t settled;    /* of those, written (or failed to write) */
    pthread_cond_t idle; /* signalled after each batch */
    uint64_t dropped;
    int failing;                  /* the last write failed and is being retried */
    struct gh_identification one; /* the batch when the batch buffer could not be had */
};

/* Takes up to BATCH queued records per transaction: under load one commit covers hundreds
 * of cache hits, idle it still writes each record at once. */
#define BATCH 512

#define RETRY_FIRST_MS  100
#define RETRY_MAX_MS    5000
#define RETRIES_AT_STOP 2 /* a stopping service tries a failing store this many more times */

/* Sleeps ms on r->cv (r->mu held). New records signal the same variable: keep waiting
 * through those, so an outage under load is not retried once per request. */
static void wait_ms(struct gh_recorder *r, long ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!r->stopping && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0) {
    }
}

/* Writes n records, retrying while the store is unavailable. Called without r->mu. A record
 * the store refuses as invalid is not retried: it would never go in. */
static void write_batch(struct gh_recorder *r, struct gh_identification *recs, size_t n)
{
    long delay = RETRY_FIRST_MS;
    int retries_at_stop = 0;

    for (;;) {
        struct gh_err err = {0};
        int rc = gh_store_record_identifications(r->store, recs, n, &err);
        int was_failing;

        pthread_mutex_lock(&r->mu);
        was_failing = r->failing;
        if (rc == GH_OK || rc == GH_EINVAL) {
            r->failing = 0;
            pthread_mutex_unlock(&r->mu);
            if (rc != GH_OK)
                gh_logf(GH_LOG_WARN, "%zu identification records refused: %s", n, err.msg);
            else if (was_failing)
                gh_logf(GH_LOG_INFO, "identification history writes resumed");
            return;
        }
        r->failing = 1;
        pthread_cond_broadcast(&r->idle); /* flush() must not wait out an outage */
        if (r->stopping && ++retries_at_stop > RETRIES_AT_STOP) {
            pthread_mutex_unlock(&r->mu);
            gh_logf(GH_LOG_ERROR, "%zu identification records not saved at shutdown: %s", n,
                    err.msg);
            return;
        }
        if (!was_failing)
            gh_logf(GH_LOG_WARN, "identification history writes failing, retrying: %s", err.msg);
        wait_ms(r, r->stopping ? RETRY_FIRST_MS : delay);
        pthread_mutex_unlock(&r->mu);
        delay = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
    }
}

static void *run(void *arg)
{
    struct gh_recorder *r = arg;
    struct gh_identification *batch = gh_malloc_array(BATCH, sizeof *batch);

    pthread_setname_np(pthread_self(), "gh-recorder");
    pthread_mutex_lock(&r->mu);
    for (;;) {
        size_t n = 0;

        while (r->n == 0 && !r->stopping)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->n == 0)
            break; /* stopping and drained */
        while (r->n > 0 && n < (batch ? BATCH : 1)) {
            if (batch)
                batch[n] = r->ring[r->head];
            else
                r->one = r->ring[r->head];
            n++;
            r->head = (r->head + 1) % r->cap;
            r->n--;
        }
        pthread_mutex_unlock(&r->mu);
        write_batch(r, batch ? batch : &r->one, n);
        pthread_mutex_lock(&r->mu);
        r->settled += n;
        pthread_cond_broadcast(&r->idle);
    }
    pthread_mutex_unlock(&r->mu);
    gh_free(batch);
    return NULL;
}

struct gh_recorder *gh_recorder_new(struct gh_store *store, size_t cap)
{
    struct gh_recorder *r = gh_malloc(sizeof *r);

    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->store = store;
    r->cap = cap;
    r->ring = gh_malloc_array(cap, sizeof *r->ring);
    if (!r->ring) {
        gh_free(r);
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    pthread_cond_init(&r->idle, NULL);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        pthread_cond_destroy(&r->idle);
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        gh_free(r->ring);
        gh_free(r);
        return NULL;
    }
    return r;
}

void gh_recorder_push(struct gh_recorder *r, const struct gh_identification *rec)
{
    uint64_t dropped = 0;

    pthread_mutex_lock(&r->mu);
    if (r->n == r->cap) {
        dropped = ++r->dropped;
    } else {
        r->ring[(r->head + r->n) % r->cap] = *rec;
        r->n++;
        r->queued++;
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    if (dropped == 1 || (dropped && dropped % 10000 == 0))
        gh_logf(GH_LOG_WARN, "identification history is behind; %llu records dropped so far",
                (unsigned long long)dropped);
}

/* Waits for the records queued so far, not for an empty queue: under steady traffic the
 * queue may never be empty, and a history read must not wait for later requests. Nor for an
 * outage: while writes fail it returns at once (the read will fail or miss the newest). */
void gh_recorder_flush(struct gh_recorder *r)
{
    uint64_t target;

    pthread_mutex_lock(&r->mu);
    target = r->queued;
    while (r->settled < target && !r->failing)
        pthread_cond_wait(&r->idle, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

void gh_recorder_free(struct gh_recorder *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->idle);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    gh_free(r->ring);
    gh_free(r);
}
