/* SPDX-License-Identifier: MIT */
/* The CLIP engine's thread pool: n - 1 workers woken per run (a generation counter under one
 * mutex), the caller doing part 0. Sleeping on a condition variable costs a few microseconds per
 * run, about a hundred runs per image: well under 1% of a forward pass, and no core spins when
 * the engine is idle on a machine it shares. */
#include "kernels.h"

#include "gh/alloc.h"

#include <pthread.h>
#include <string.h>

struct gh_kern_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    pthread_t *threads;
    int n, started;
    unsigned long gen; /* bumped per run */
    int pending;       /* workers still running the current run */
    int quit;
    void (*fn)(void *ctx, int t, int nt);
    void *ctx;
};

struct worker_arg {
    struct gh_kern_pool *p;
    int t;
};

static void *worker(void *arg)
{
    struct gh_kern_pool *p = ((struct worker_arg *)arg)->p;
    int t = ((struct worker_arg *)arg)->t;
    unsigned long seen = 0;

    gh_free(arg);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->quit && p->gen == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->quit)
            break;
        seen = p->gen;
        void (*fn)(void *, int, int) = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->lock);
        fn(ctx, t, p->n);
        pthread_mutex_lock(&p->lock);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int gh_kern_pool_new(int n_threads, struct gh_kern_pool **out, struct gh_err *err)
{
    struct gh_kern_pool *p = gh_malloc(sizeof *p);

    *out = NULL;
    if (!p)
        return gh_err_set(err, GH_ENOMEM, "out of memory for the CLIP thread pool");
    memset(p, 0, sizeof *p);
    p->n = n_threads < 1 ? 1 : n_threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (p->n > 1 && !(p->threads = gh_malloc_array((size_t)p->n - 1, sizeof *p->threads))) {
        gh_kern_pool_free(p);
        return gh_err_set(err, GH_ENOMEM, "out of memory for the CLIP thread pool");
    }
    for (int t = 1; t < p->n; t++) {
        struct worker_arg *a = gh_malloc(sizeof *a);
        if (!a) {
            gh_kern_pool_free(p);
            return gh_err_set(err, GH_ENOMEM, "out of memory for the CLIP thread pool");
        }
        a->p = p;
        a->t = t;
        if (pthread_create(&p->threads[t - 1], NULL, worker, a) != 0) {
            gh_free(a);
            gh_kern_pool_free(p);
            return gh_err_set(err, GH_EBACKEND, "cannot start the CLIP engine's thread %d", t);
        }
        p->started++;
    }
    *out = p;
    return GH_OK;
}

void gh_kern_pool_free(struct gh_kern_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    gh_free(p->threads);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    gh_free(p);
}

int gh_kern_pool_threads(const struct gh_kern_pool *p)
{
    return p->n;
}

void gh_kern_pool_run(struct gh_kern_pool *p, void (*fn)(void *ctx, int t, int nt), void *ctx)
{
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    fn(ctx, 0, p->n);
    pthread_mutex_lock(&p->lock);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void gh_kern_split(int n, int unit, int t, int nt, int *lo, int *hi)
{
    int units = (n + unit - 1) / unit;
    int a = (int)((long)units * t / nt), b = (int)((long)units * (t + 1) / nt);

    *lo = a * unit < n ? a * unit : n;
    *hi = b * unit < n ? b * unit : n;
}
