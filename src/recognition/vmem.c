/* SPDX-License-Identifier: MIT */
/* The visual memory's in-process index: every confirmed remembered photo of one embedding
 * model as an int8 row (padded to 64 bytes) with its scale, label, store id and time, searched
 * by a brute-force scan (scan.c) split over a few threads when large. Rows arrive from the
 * store in id order (gh_store_vmem_list), so an instance pulls what the others added since
 * its last look; retention and the cap drop the oldest from the front. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/clock.h"
#include "gh/recognition.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define BATCH        512   /* rows per store read */
#define LAG          256   /* ids re-read behind the newest seen: see refresh_locked */
#define DEDUP_WINDOW 2048  /* how far back a re-read row is looked for */
#define SCAN_CHUNK   1024  /* rows per kernel call */
#define SPLIT_MIN    65536 /* fewer rows: one thread scans */
#define LABELS_MAX   65535

struct label {
    char slug[64];
    char source[16];
};

struct gh_vmem {
    struct gh_store *st;
    char model[65];
    int dim;
    size_t dim_pad;
    int64_t max_entries, retention_s, refresh_ms;
    int threads;
    gh_vmem_dots_fn dots;
    pthread_rwlock_t lock;      /* the rows and labels */
    pthread_mutex_t refresh_mu; /* one pull from the store at a time */
    void *raw;                  /* the allocation vecs points into (aligned) */
    int8_t *vecs;               /* [cap, dim_pad] */
    float *scales;
    int64_t *ids, *created;
    uint16_t *labels;
    size_t head, n, cap; /* rows [head, n) are live */
    struct label *lab;
    size_t n_lab, lab_cap;
    int64_t last_id;
    int64_t local_id; /* ids of an index without a store */
    atomic_int_least64_t next_refresh_ms, refreshes, refresh_errors;
};

int gh_vmem_source_confirmed(const char *source)
{
    return source && (strcmp(source, GH_VMEM_SOURCE_PROVIDER) == 0 ||
                      strcmp(source, GH_VMEM_SOURCE_TRUSTED) == 0 ||
                      strcmp(source, GH_VMEM_SOURCE_QUORUM) == 0);
}

static int source_known(const char *source)
{
    return gh_vmem_source_confirmed(source) || strcmp(source, GH_VMEM_SOURCE_CLIP) == 0 ||
           strcmp(source, GH_VMEM_SOURCE_USER) == 0;
}

void gh_vmem_quantize(const float *x, int dim, int8_t *q, float *scale)
{
    float m = 0;

    for (int i = 0; i < dim; i++)
        m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    *scale = m / 127.0f;
    for (int i = 0; i < dim; i++)
        q[i] = m > 0 ? (int8_t)lrintf(x[i] / *scale) : 0;
}

int gh_vmem_new(struct gh_store *st, const struct gh_vmem_opts *o, struct gh_vmem **out,
                struct gh_err *err)
{
    struct gh_vmem *vm;

    *out = NULL;
    if (o->dim < 1 || o->dim > GH_STORE_VMEM_DIM_MAX || !o->model || !o->model[0] ||
        strlen(o->model) >= sizeof vm->model)
        return gh_err_set(err, GH_EINVAL, "visual memory needs a model and 1..%d dimensions",
                          GH_STORE_VMEM_DIM_MAX);
    vm = gh_malloc(sizeof *vm);
    if (!vm)
        return gh_err_set(err, GH_ENOMEM, "out of memory for the visual memory");
    memset(vm, 0, sizeof *vm);
    vm->st = st;
    snprintf(vm->model, sizeof vm->model, "%s", o->model);
    vm->dim = o->dim;
    vm->dim_pad = ((size_t)o->dim + GH_VMEM_ALIGN - 1) / GH_VMEM_ALIGN * GH_VMEM_ALIGN;
    vm->max_entries = o->max_entries > 0 ? o->max_entries : INT64_MAX;
    vm->retention_s = o->retention_s > 0 ? o->retention_s : INT64_MAX / 4;
    vm->refresh_ms = o->refresh_ms >= 0 ? o->refresh_ms : 1000;
    vm->threads = o->threads > 0 ? o->threads : 2;
    vm->dots = gh_vmem_dots_best(NULL);
    pthread_rwlock_init(&vm->lock, NULL);
    pthread_mutex_init(&vm->refresh_mu, NULL);
    *out = vm;
    return GH_OK;
}

static void free_rows(struct gh_vmem *vm)
{
    gh_free(vm->raw);
    gh_free(vm->scales);
    gh_free(vm->ids);
    gh_free(vm->created);
    gh_free(vm->labels);
}

void gh_vmem_free(struct gh_vmem *vm)
{
    if (!vm)
        return;
    free_rows(vm);
    gh_free(vm->lab);
    pthread_rwlock_destroy(&vm->lock);
    pthread_mutex_destroy(&vm->refresh_mu);
    gh_free(vm);
}

/* Moves the live rows to the front of arrays of cap rows (new ones when cap changes). Called
 * with the write lock held. */
static int relayout(struct gh_vmem *vm, size_t cap)
{
    size_t live = vm->n - vm->head;
    void *raw = cap <= (SIZE_MAX - GH_VMEM_ALIGN) / vm->dim_pad
                    ? gh_malloc(cap * vm->dim_pad + GH_VMEM_ALIGN) /* 64-byte aligned below */
                    : NULL;
    float *scales = gh_malloc_array(cap, sizeof *scales);
    int64_t *ids = gh_malloc_array(cap, sizeof *ids), *created = gh_malloc_array(cap, sizeof *ids);
    uint16_t *labels = gh_malloc_array(cap, sizeof *labels);
    int8_t *vecs;

    if (!raw || !scales || !ids || !created || !labels) {
        gh_free(raw);
        gh_free(scales);
        gh_free(ids);
        gh_free(created);
        gh_free(labels);
        return GH_ENOMEM;
    }
    vecs = (int8_t *)raw + (GH_VMEM_ALIGN - (uintptr_t)raw % GH_VMEM_ALIGN) % GH_VMEM_ALIGN;
    if (live) {
        memcpy(vecs, vm->vecs + vm->head * vm->dim_pad, live * vm->dim_pad);
        memcpy(scales, vm->scales + vm->head, live * sizeof *scales);
        memcpy(ids, vm->ids + vm->head, live * sizeof *ids);
        memcpy(created, vm->created + vm->head, live * sizeof *created);
        memcpy(labels, vm->labels + vm->head, live * sizeof *labels);
    }
    free_rows(vm);
    vm->raw = raw;
    vm->vecs = vecs;
    vm->scales = scales;
    vm->ids = ids;
    vm->created = created;
    vm->labels = labels;
    vm->head = 0;
    vm->n = live;
    vm->cap = cap;
    return GH_OK;
}

/* The label's index, added when new. -1 when out of memory or labels. */
static int label_of(struct gh_vmem *vm, const char *slug, const char *source)
{
    for (size_t i = 0; i < vm->n_lab; i++)
        if (strcmp(vm->lab[i].slug, slug) == 0 && strcmp(vm->lab[i].source, source) == 0)
            return (int)i;
    if (vm->n_lab >= LABELS_MAX)
        return -1;
    if (vm->n_lab == vm->lab_cap) {
        size_t cap = vm->lab_cap ? 2 * vm->lab_cap : 64;
        struct label *l = gh_realloc(vm->lab, cap * sizeof *l);

        if (!l)
            return -1;
        vm->lab = l;
        vm->lab_cap = cap;
    }
    snprintf(vm->lab[vm->n_lab].slug, sizeof vm->lab[0].slug, "%s", slug);
    snprintf(vm->lab[vm->n_lab].source, sizeof vm->lab[0].source, "%s", source);
    return (int)vm->n_lab++;
}

/* 1 when id is among the newest rows already (a re-read of the LAG window). */
static int seen(const struct gh_vmem *vm, int64_t id)
{
    size_t from = vm->n - vm->head > DEDUP_WINDOW ? vm->n - DEDUP_WINDOW : vm->head;

    if (id > vm->last_id)
        return 0;
    for (size_t i = vm->n; i > from; i--)
        if (vm->ids[i - 1] == id)
            return 1;
    return 0;
}

/* Appends one row; write lock held. */
static int append(struct gh_vmem *vm, const struct gh_vmem_row *r)
{
    int8_t *dst;
    int l;

    if (r->dim != vm->dim || strcmp(r->model, vm->model) != 0 || seen(vm, r->id))
        return GH_OK; /* another model's, or already here */
    if (vm->n == vm->cap) {
        size_t live = vm->n - vm->head;
        size_t cap = live < vm->cap / 2 ? vm->cap : (vm->cap ? 2 * vm->cap : 1024);

        if (relayout(vm, cap) != GH_OK)
            return GH_ENOMEM;
    }
    l = label_of(vm, r->slug, r->source);
    if (l < 0)
        return GH_ENOMEM;
    dst = vm->vecs + vm->n * vm->dim_pad;
    memcpy(dst, r->vec, (size_t)r->dim);
    memset(dst + r->dim, 0, vm->dim_pad - (size_t)r->dim);
    vm->scales[vm->n] = r->scale;
    vm->ids[vm->n] = r->id;
    vm->created[vm->n] = r->created_at;
    vm->labels[vm->n] = (uint16_t)l;
    vm->n++;
    if (r->id > vm->last_id)
        vm->last_id = r->id;
    return GH_OK;
}

/* Retention and the cap, from the front (rows arrive oldest first); write lock held. */
static void drop_old(struct gh_vmem *vm, int64_t now)
{
    int64_t oldest = now - vm->retention_s;

    while (vm->head < vm->n && vm->created[vm->head] < oldest)
        vm->head++;
    if ((int64_t)(vm->n - vm->head) > vm->max_entries)
        vm->head = vm->n - (size_t)vm->max_entries;
    if (vm->head == vm->n)
        vm->head = vm->n = 0;
}

/* PostgreSQL hands out identity values before commit, so a row may become visible after a
 * larger id already was; re-reading the LAG ids behind the newest (and skipping what is
 * already here) catches those that commit within that many inserts. */
static int refresh_locked(struct gh_vmem *vm, int64_t now, struct gh_err *err)
{
    struct gh_vmem_row *rows = gh_malloc_array(BATCH, sizeof *rows);
    int64_t after = vm->last_id > LAG ? vm->last_id - LAG : 0;
    size_t got;
    int rc = GH_OK;

    if (!rows)
        return gh_err_set(err, GH_ENOMEM, "out of memory reading the visual memory");
    do {
        rc = gh_store_vmem_list(vm->st, vm->model, after, now - vm->retention_s, BATCH, rows, &got,
                                err);
        if (rc)
            break;
        pthread_rwlock_wrlock(&vm->lock);
        for (size_t i = 0; rc == GH_OK && i < got; i++)
            rc = append(vm, &rows[i]);
        drop_old(vm, now);
        pthread_rwlock_unlock(&vm->lock);
        if (rc)
            rc = gh_err_set(err, rc, "out of memory for the visual memory");
        if (got)
            after = rows[got - 1].id;
    } while (rc == GH_OK && got == BATCH);
    gh_free(rows);
    atomic_fetch_add(rc ? &vm->refresh_errors : &vm->refreshes, 1);
    return rc;
}

int gh_vmem_refresh(struct gh_vmem *vm, int64_t now, struct gh_err *err)
{
    int rc = GH_OK;

    if (!vm->st) {
        pthread_rwlock_wrlock(&vm->lock);
        drop_old(vm, now);
        pthread_rwlock_unlock(&vm->lock);
        return GH_OK;
    }
    pthread_mutex_lock(&vm->refresh_mu);
    rc = refresh_locked(vm, now, err);
    atomic_store(&vm->next_refresh_ms, (int64_t)gh_mono_ms() + vm->refresh_ms);
    pthread_mutex_unlock(&vm->refresh_mu);
    return rc;
}

struct topk {
    int k, n;
    float sim[GH_VMEM_K_MAX];
    size_t row[GH_VMEM_K_MAX];
};

static void topk_push(struct topk *t, float s, size_t row)
{
    int i;

    if (t->n == t->k && s <= t->sim[t->n - 1])
        return;
    i = t->n < t->k ? t->n++ : t->n - 1;
    for (; i > 0 && t->sim[i - 1] < s; i--) {
        t->sim[i] = t->sim[i - 1];
        t->row[i] = t->row[i - 1];
    }
    t->sim[i] = s;
    t->row[i] = row;
}

struct scan_job {
    const struct gh_vmem *vm;
    const int16_t *q;
    float qscale;
    size_t from, to;
    struct topk top;
};

static void scan_range(struct scan_job *j)
{
    const struct gh_vmem *vm = j->vm;
    int32_t dots[SCAN_CHUNK];

    for (size_t i = j->from; i < j->to; i += SCAN_CHUNK) {
        size_t m = j->to - i < SCAN_CHUNK ? j->to - i : SCAN_CHUNK;

        vm->dots(j->q, vm->vecs + i * vm->dim_pad, vm->dim_pad, vm->dim_pad, m, dots);
        for (size_t r = 0; r < m; r++)
            topk_push(&j->top, (float)dots[r] * j->qscale * vm->scales[i + r], i + r);
    }
}

static void *scan_thread(void *arg)
{
    scan_range(arg);
    return NULL;
}

#define THREADS_MAX 16

/* The k best live rows; read lock held. Large memories are split between threads: the scan
 * is bound by memory bandwidth, which one core does not saturate. */
static void scan(const struct gh_vmem *vm, const int16_t *q, float qscale, struct topk *out)
{
    struct scan_job jobs[THREADS_MAX];
    pthread_t tid[THREADS_MAX];
    int started[THREADS_MAX] = {0};
    size_t live = vm->n - vm->head;
    int nt = live >= SPLIT_MIN ? vm->threads : 1;

    nt = nt > THREADS_MAX ? THREADS_MAX : nt;
    for (int t = 0; t < nt; t++) {
        size_t chunk = (live + (size_t)nt - 1) / (size_t)nt;

        jobs[t] = (struct scan_job){
            vm,
            q,
            qscale,
            vm->head + (size_t)t * chunk,
            vm->head + ((size_t)(t + 1) * chunk < live ? (size_t)(t + 1) * chunk : live),
            {.k = out->k}};
        if (jobs[t].from > jobs[t].to)
            jobs[t].from = jobs[t].to;
        /* thread 0 is this one; a thread that cannot start is scanned here */
        if (t > 0)
            started[t] = pthread_create(&tid[t], NULL, scan_thread, &jobs[t]) == 0;
    }
    scan_range(&jobs[0]);
    for (int t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            scan_range(&jobs[t]);
    }
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < jobs[t].top.n; i++)
            topk_push(out, jobs[t].top.sim[i], jobs[t].top.row[i]);
}

int gh_vmem_search(struct gh_vmem *vm, const float *emb, int k, int64_t now,
                   struct gh_vmem_hit *hits, int *n_hits, struct gh_err *err)
{
    int16_t *q = NULL;
    int8_t *q8 = NULL;
    struct topk top = {0};
    struct gh_err rerr = {0};
    float qscale;
    int rc = GH_OK;

    *n_hits = 0;
    for (int i = 0; i < vm->dim; i++)
        if (!isfinite(emb[i]))
            return gh_err_set(err, GH_EINVAL, "the embedding holds a NaN or an infinity");
    if (vm->st && (int64_t)gh_mono_ms() >= atomic_load(&vm->next_refresh_ms) &&
        pthread_mutex_trylock(&vm->refresh_mu) == 0) {
        (void)refresh_locked(vm, now, &rerr); /* counted; search what is here */
        atomic_store(&vm->next_refresh_ms, (int64_t)gh_mono_ms() + vm->refresh_ms);
        pthread_mutex_unlock(&vm->refresh_mu);
    }
    q = gh_malloc_array(vm->dim_pad, sizeof *q);
    q8 = gh_malloc((size_t)vm->dim);
    if (!q || !q8) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory for a visual-memory search");
        goto out;
    }
    gh_vmem_quantize(emb, vm->dim, q8, &qscale);
    memset(q, 0, vm->dim_pad * sizeof *q);
    for (int i = 0; i < vm->dim; i++)
        q[i] = q8[i];
    top.k = k < 1 ? 1 : k > GH_VMEM_K_MAX ? GH_VMEM_K_MAX : k;
    pthread_rwlock_rdlock(&vm->lock);
    if (vm->n > vm->head)
        scan(vm, q, qscale, &top);
    for (int i = 0; i < top.n; i++) {
        const struct label *l = &vm->lab[vm->labels[top.row[i]]];

        snprintf(hits[i].slug, sizeof hits[i].slug, "%s", l->slug);
        snprintf(hits[i].source, sizeof hits[i].source, "%s", l->source);
        hits[i].similarity = top.sim[i];
        hits[i].id = vm->ids[top.row[i]];
    }
    *n_hits = top.n;
    pthread_rwlock_unlock(&vm->lock);
out:
    gh_free(q8);
    gh_free(q);
    return rc;
}

int gh_vmem_add(struct gh_vmem *vm, const char *sha256, const float *emb, const char *slug,
                const char *source, int64_t now, struct gh_err *err)
{
    struct gh_vmem_row *row;
    int rc;

    if (!slug || !slug[0] || !source || !source_known(source))
        return gh_err_set(err, GH_EINVAL, "a remembered photo needs a label and a known source");
    for (int i = 0; i < vm->dim; i++)
        if (!isfinite(emb[i]))
            return gh_err_set(err, GH_EINVAL, "the embedding holds a NaN or an infinity");
    if (!vm->st && !gh_vmem_source_confirmed(source))
        return GH_OK;
    row = gh_malloc(sizeof *row);
    if (!row)
        return gh_err_set(err, GH_ENOMEM, "out of memory remembering a photo");
    memset(row, 0, sizeof *row);
    row->created_at = now;
    snprintf(row->sha256, sizeof row->sha256, "%s", sha256 ? sha256 : "");
    snprintf(row->slug, sizeof row->slug, "%s", slug);
    snprintf(row->source, sizeof row->source, "%s", source);
    snprintf(row->model, sizeof row->model, "%s", vm->model);
    row->dim = vm->dim;
    gh_vmem_quantize(emb, vm->dim, row->vec, &row->scale);
    if (vm->st) {
        rc = gh_store_vmem_add(vm->st, row, err);
        /* this instance sees it at once; the others on their next refresh */
        if (rc == GH_OK && gh_vmem_source_confirmed(source))
            rc = gh_vmem_refresh(vm, now, err);
    } else {
        pthread_rwlock_wrlock(&vm->lock);
        row->id = ++vm->local_id;
        rc = append(vm, row);
        drop_old(vm, now);
        pthread_rwlock_unlock(&vm->lock);
        if (rc)
            rc = gh_err_set(err, rc, "out of memory remembering a photo");
    }
    gh_free(row);
    return rc;
}

void gh_vmem_stats(struct gh_vmem *vm, struct gh_vmem_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&vm->lock);
    out->entries = (int64_t)(vm->n - vm->head);
    out->last_id = vm->last_id;
    pthread_rwlock_unlock(&vm->lock);
    out->bytes_per_entry = vm->dim_pad + sizeof(float) + 2 * sizeof(int64_t) + sizeof(uint16_t);
    out->refreshes = atomic_load(&vm->refreshes);
    out->refresh_errors = atomic_load(&vm->refresh_errors);
}
