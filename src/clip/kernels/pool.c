/* SPDX-License-Identifier: MIT */
/* The CLIP engine's thread pool: n - 1 workers woken per run (a generation counter), the caller
 * doing part 0. A forward pass is ~100 runs of 0.05-2 ms each: waking a sleeping thread through
 * a condition variable costs 5-50 us per run (more when the scheduler is busy), so workers and
 * the caller first spin on the counters for a bounded time (pauses, then yields: ~0.15 ms when
 * the machine is idle) and only then sleep: inside a pass nobody sleeps, and no core spins when
 * the engine is idle. */
#include "kernels.h"

#include "gh/alloc.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

/* 2048 pauses are ~45 us on Zen 5; a yield is ~1.5 us on an idle core (so ~0.15 ms in all), and
 * up to a time slice where another thread is runnable, which then gets the core. */
#define SPIN_PAUSES 2048
#define SPIN_ITERS  (SPIN_PAUSES + 64)

struct gh_kern_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    pthread_t *threads;
    int n, started;
    atomic_ulong gen;   /* bumped per run (under lock), after fn and ctx are set */
    atomic_int pending; /* workers still running the current run */
    atomic_int quit;
    int sleepers; /* workers waiting on wake (under lock) */
    int waiting;  /* the caller waits on done (under lock) */
    void (*fn)(void *ctx, int t, int nt);
    void *ctx;
};

struct worker_arg {
    struct gh_kern_pool *p;
    int t;
};

/* Spin i of SPIN_ITERS: a pause, and past SPIN_PAUSES a yield, so that on a machine with more
 * runnable threads than cores a preempted sibling (whose part this thread waits for) can run. */
static inline void cpu_relax(int i)
{
    if (i >= SPIN_PAUSES) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* The next generation after seen: spun for, then slept for. */
static unsigned long next_gen(struct gh_kern_pool *p, unsigned long seen)
{
    unsigned long g;

    for (int i = 0; i < SPIN_ITERS; i++) {
        if ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) != seen)
            return g;
        cpu_relax(i);
    }
    pthread_mutex_lock(&p->lock);
    while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) {
        p->sleepers++;
        pthread_cond_wait(&p->wake, &p->lock);
        p->sleepers--;
    }
    pthread_mutex_unlock(&p->lock);
    return g;
}

static void *worker(void *arg)
{
    struct gh_kern_pool *p = ((struct worker_arg *)arg)->p;
    int t = ((struct worker_arg *)arg)->t;
    unsigned long seen = 0;

    gh_free(arg);
    pthread_setname_np(pthread_self(), "gh-clip");
    for (;;) {
        seen = next_gen(p, seen);
        if (atomic_load_explicit(&p->quit, memory_order_relaxed))
            break;
        p->fn(p->ctx, t, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->lock); /* the caller checks pending under it before waiting */
            if (p->waiting)
                pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
    return NULL;
}

int gh_kern_pool_new(int n_threads, struct gh_kern_pool **out, struct gh_err *err)
{
    struct gh_kern_pool *p = gh_malloc(sizeof *p);

    *out = NULL;
    if (!p)
        return gh_err_set(err, GH_ENOMEM, "out of memory for the CLIP thread pool");
    memset(p, 0, sizeof *p);
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, 0);
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
    atomic_store_explicit(&p->quit, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
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
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->lock); /* a worker checks gen under it before sleeping */
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    if (p->sleepers > 0)
        pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    fn(ctx, 0, p->n);
    for (int i = 0; i < SPIN_ITERS; i++) {
        if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0)
            return;
        cpu_relax(i);
    }
    pthread_mutex_lock(&p->lock);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        p->waiting = 1;
        pthread_cond_wait(&p->done, &p->lock);
    }
    p->waiting = 0;
    pthread_mutex_unlock(&p->lock);
}

void gh_kern_split(int n, int unit, int t, int nt, int *lo, int *hi)
{
    int units = (n + unit - 1) / unit;
    int a = (int)((long)units * t / nt), b = (int)((long)units * (t + 1) / nt);

    *lo = a * unit < n ? a * unit : n;
    *hi = b * unit < n ? b * unit : n;
}
