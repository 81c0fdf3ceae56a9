/* SPDX-License-Identifier: MIT */
/* The visual memory's in-process index: every confirmed remembered photo of one embedding
 * model as an int8 row (padded to 64 bytes) with its scale, label, store id and time, plus a
 * bit code (one bit per dimension). A small memory is scanned exactly; a large one in two
 * stages: the codes pick the best candidates, the int8 rows rank those exactly. Scans are split
 * over a few threads when large. Rows arrive from the store in id order (gh_store_vmem_list),
 * so an instance pulls what the others added since its last look; retention and the cap drop
 * the oldest from the front. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/clock.h"
#include "gh/recognition.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH          512    /* rows per store read */
#define LAG            256    /* ids re-read behind the newest seen: see refresh_locked */
#define DEDUP_WINDOW   2048   /* how far back a re-read row is looked for */
#define SCAN_CHUNK     1024   /* rows per kernel call */
#define SPLIT_MIN      65536  /* fewer rows: one thread scans */
#define CODE_SPLIT_MIN 262144 /* the same for the bit codes, 1/8 of the bytes */
#define LABELS_MAX     65535
/* Up to GH_VMEM_EXACT_MAX live rows (about 4 MB at 512 dimensions, a fraction of a
 * millisecond) a search is an exact scan of them all; beyond, two stages. */
#define CANDIDATES_MIN 512  /* the first stage keeps max(this, rows / CANDIDATES_DIV) ... */
#define CANDIDATES_DIV 256  /* ... */
#define CANDIDATES_MAX 4096 /* ... and at most this many, for the exact rerank */
#define PREFETCH       8    /* candidates' rows fetched ahead of the rerank */

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
    int64_t exact_max;
    int candidates; /* fixed by opts, else 0: from the size */
    size_t code_split_min;
    gh_vmem_dots_fn dots;
    gh_vmem_bits_fn bits;
    size_t n_words;             /* 64-bit words per code: dim_pad / 64 */
    float *centre;              /* [dim_pad]: the mean of the live rows at the last relayout */
    pthread_rwlock_t lock;      /* the rows and labels */
    pthread_mutex_t refresh_mu; /* one pull from the store at a time */
    void *raw;                  /* the allocation vecs points into (aligned) */
    int8_t *vecs;               /* [cap, dim_pad] */
    void *codes_raw;            /* the allocation codes points into (aligned) */
    uint64_t *codes;            /* [cap, n_words] */
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
    vm->exact_max = o->exact_max > 0 ? o->exact_max : GH_VMEM_EXACT_MAX;
    vm->candidates = o->candidates > 0 ? o->candidates : 0;
    vm->code_split_min = CODE_SPLIT_MIN;
    vm->dots = gh_vmem_dots_best(NULL);
    vm->bits = gh_vmem_bits_best(NULL);
    vm->n_words = vm->dim_pad / 64;
    vm->centre = gh_malloc_array(vm->dim_pad, sizeof *vm->centre);
    if (!vm->centre) {
        gh_free(vm);
        return gh_err_set(err, GH_ENOMEM, "out of memory for the visual memory");
    }
    memset(vm->centre, 0, vm->dim_pad * sizeof *vm->centre);
    pthread_rwlock_init(&vm->lock, NULL);
    pthread_mutex_init(&vm->refresh_mu, NULL);
    *out = vm;
    return GH_OK;
}

static void free_rows(struct gh_vmem *vm)
{
    gh_free(vm->raw);
    gh_free(vm->codes_raw);
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
    gh_free(vm->centre);
    gh_free(vm->lab);
    pthread_rwlock_destroy(&vm->lock);
    pthread_mutex_destroy(&vm->refresh_mu);
    gh_free(vm);
}

/* Bit j of row i's code: dimension j above the centre (internal.h). Written for the
 * vectoriser: compares into bytes, then eight bytes of 0/1 into a byte by one multiplication
 * (byte k lands on bit 56 + k; the other products land on distinct bits, so nothing carries). */
static uint64_t encode_word(const int8_t *restrict v, const float *restrict centre, float scale)
{
    uint8_t b[64];
    uint64_t bits = 0;

    for (size_t k = 0; k < 64; k++)
        b[k] = (float)v[k] * scale > centre[k];
    for (size_t k = 0; k < 64; k += 8) {
        uint64_t x = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(&x, b + k, 8); /* byte m at bits 8m, as below */
#else
        for (size_t m = 0; m < 8; m++)
            x |= (uint64_t)b[k + m] << (8 * m);
#endif
        bits |= (x * 0x0102040810204080ull >> 56) << k;
    }
    return bits;
}

static void encode(const struct gh_vmem *vm, size_t i)
{
    for (size_t w = 0; w < vm->n_words; w++)
        vm->codes[i * vm->n_words + w] =
            encode_word(vm->vecs + i * vm->dim_pad + 64 * w, vm->centre + 64 * w, vm->scales[i]);
}

/* y += a x over n (a multiple of 64), apart and in blocks of 64 so that the vectoriser knows
 * int8 x is not y and needs no remainder loop. */
static void axpy(float *restrict y, const int8_t *restrict x, float a, size_t n)
{
    for (size_t b = 0; b < n; b += 64)
        for (size_t j = b; j < b + 64; j++)
            y[j] += (float)x[j] * a;
}

/* The centre becomes the mean of the live rows and every code is made again: sign codes of
 * raw CLIP embeddings waste bits on what all photos share (they sit in a narrow cone). Called
 * from relayout, so it costs O(1) per row added, like the copy. */
static void recentre(struct gh_vmem *vm)
{
    size_t live = vm->n - vm->head;

    if (!live)
        return;
    memset(vm->centre, 0, vm->dim_pad * sizeof *vm->centre);
    for (size_t i = vm->head; i < vm->n; i++) /* padding: 0, so the centre's stays 0 */
        axpy(vm->centre, vm->vecs + i * vm->dim_pad, vm->scales[i] / (float)live, vm->dim_pad);
    for (size_t i = vm->head; i < vm->n; i++)
        encode(vm, i);
}

static void *aligned(void *raw)
{
    return (char *)raw + (GH_VMEM_ALIGN - (uintptr_t)raw % GH_VMEM_ALIGN) % GH_VMEM_ALIGN;
}

/* Moves the live rows to the front of arrays of cap rows (new ones when cap changes) and
 * recentres the codes. Called with the write lock held. */
static int relayout(struct gh_vmem *vm, size_t cap)
{
    size_t live = vm->n - vm->head, code_len = vm->n_words * sizeof(uint64_t);
    void *raw = cap <= (SIZE_MAX - GH_VMEM_ALIGN) / vm->dim_pad
                    ? gh_malloc(cap * vm->dim_pad + GH_VMEM_ALIGN) /* 64-byte aligned below */
                    : NULL;
    void *codes_raw = raw ? gh_malloc(cap * code_len + GH_VMEM_ALIGN) : NULL;
    float *scales = gh_malloc_array(cap, sizeof *scales);
    int64_t *ids = gh_malloc_array(cap, sizeof *ids), *created = gh_malloc_array(cap, sizeof *ids);
    uint16_t *labels = gh_malloc_array(cap, sizeof *labels);
    int8_t *vecs;

    if (!raw || !codes_raw || !scales || !ids || !created || !labels) {
        gh_free(raw);
        gh_free(codes_raw);
        gh_free(scales);
        gh_free(ids);
        gh_free(created);
        gh_free(labels);
        return GH_ENOMEM;
    }
    vecs = aligned(raw);
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
    vm->codes_raw = codes_raw;
    vm->codes = aligned(codes_raw);
    vm->scales = scales;
    vm->ids = ids;
    vm->created = created;
    vm->labels = labels;
    vm->head = 0;
    vm->n = live;
    vm->cap = cap;
    recentre(vm);
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
    encode(vm, vm->n);
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

#define THREADS_MAX 16

/* Runs fn on nt jobs of size bytes each, job 0 on this thread; a job whose thread cannot start
 * runs here. */
static void run_jobs(void *(*fn)(void *), void *jobs, size_t size, int nt)
{
    pthread_t tid[THREADS_MAX];
    int started[THREADS_MAX] = {0};

    for (int t = 1; t < nt; t++)
        started[t] = pthread_create(&tid[t], NULL, fn, (char *)jobs + (size_t)t * size) == 0;
    fn(jobs);
    for (int t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            fn((char *)jobs + (size_t)t * size);
    }
}

/* Large memories are split between threads: a scan is bound by memory bandwidth, which one
 * core does not saturate. Thread t gets the live rows [*from, *to). */
static int n_threads(const struct gh_vmem *vm, size_t split_min)
{
    int nt = vm->n - vm->head >= split_min ? vm->threads : 1;

    return nt > THREADS_MAX ? THREADS_MAX : nt;
}

static void range_of(const struct gh_vmem *vm, int nt, int t, size_t *from, size_t *to)
{
    size_t live = vm->n - vm->head, chunk = (live + (size_t)nt - 1) / (size_t)nt;
    size_t a = (size_t)t * chunk < live ? (size_t)t * chunk : live;
    size_t b = (size_t)(t + 1) * chunk < live ? (size_t)(t + 1) * chunk : live;

    *from = vm->head + a;
    *to = vm->head + b;
}

struct scan_job {
    const struct gh_vmem *vm;
    const int16_t *q;
    float qscale;
    size_t from, to;
    struct topk top;
};

static void *scan_range(void *arg)
{
    struct scan_job *j = arg;
    const struct gh_vmem *vm = j->vm;
    int32_t dots[SCAN_CHUNK];

    for (size_t i = j->from; i < j->to; i += SCAN_CHUNK) {
        size_t m = j->to - i < SCAN_CHUNK ? j->to - i : SCAN_CHUNK;

        vm->dots(j->q, vm->vecs + i * vm->dim_pad, vm->dim_pad, vm->dim_pad, m, dots);
        for (size_t r = 0; r < m; r++)
            topk_push(&j->top, (float)dots[r] * j->qscale * vm->scales[i + r], i + r);
    }
    return NULL;
}

/* The k best live rows, all compared; read lock held. */
static void scan(const struct gh_vmem *vm, const int16_t *q, float qscale, struct topk *out)
{
    struct scan_job jobs[THREADS_MAX];
    int nt = n_threads(vm, SPLIT_MIN);

    for (int t = 0; t < nt; t++) {
        jobs[t] = (struct scan_job){vm, q, qscale, 0, 0, {.k = out->k}};
        range_of(vm, nt, t, &jobs[t].from, &jobs[t].to);
    }
    run_jobs(scan_range, jobs, sizeof jobs[0], nt);
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < jobs[t].top.n; i++)
            topk_push(out, jobs[t].top.sim[i], jobs[t].top.row[i]);
}

/* ---- two stages: the codes pick candidates, the int8 rows rank them ---- */

struct cand {
    int32_t score;
    size_t row;
};

/* The first stage's order: score down, then row up (so that the candidates do not depend on
 * how the rows were split between threads). */
static int cand_before(const struct cand *a, const struct cand *b)
{
    return a->score > b->score || (a->score == b->score && a->row < b->row);
}

static void cand_swap(struct cand *a, struct cand *b)
{
    struct cand t = *a;

    *a = *b;
    *b = t;
}

/* Puts the r first of a[0, n) in cand_before's order into a[0, r), in no order: Hoare's selection
 * with Lomuto's partition (rows are distinct, so no two are equal). */
static void select_first(struct cand *a, size_t n, size_t r)
{
    size_t lo = 0, hi = n;

    while (lo < r && r < hi) {
        size_t s = lo;

        cand_swap(&a[lo + (hi - lo) / 2], &a[hi - 1]);
        for (size_t i = lo; i < hi - 1; i++)
            if (cand_before(&a[i], &a[hi - 1]))
                cand_swap(&a[i], &a[s++]);
        cand_swap(&a[s], &a[hi - 1]); /* [lo, s) before the pivot at s, (s, hi) after */
        if (s < r)
            lo = s + 1;
        else
            hi = s;
    }
}

struct code_job {
    const struct gh_vmem *vm;
    const uint64_t *planes;
    size_t from, to, r;
    struct cand *buf; /* [2 r] */
    size_t n;
};

/* The r first rows of [from, to) by their codes. buf fills to 2 r, then is cut to its r first,
 * whose last score becomes the bar: rows come in order, so a later one that only ties the bar
 * comes after all r and is left out. */
static void *code_range(void *arg)
{
    struct code_job *j = arg;
    const struct gh_vmem *vm = j->vm;
    int32_t scores[SCAN_CHUNK];
    int64_t bar = INT64_MIN;

    for (size_t i = j->from; i < j->to; i += SCAN_CHUNK) {
        size_t m = j->to - i < SCAN_CHUNK ? j->to - i : SCAN_CHUNK;

        vm->bits(j->planes, vm->codes + i * vm->n_words, vm->n_words, m, scores);
        for (size_t r = 0; r < m; r++) {
            if (scores[r] <= bar)
                continue;
            if (j->n == 2 * j->r) {
                int32_t last = INT32_MAX;

                select_first(j->buf, j->n, j->r);
                j->n = j->r;
                for (size_t c = 0; c < j->n; c++)
                    last = j->buf[c].score < last ? j->buf[c].score : last;
                bar = last;
                if (scores[r] <= bar)
                    continue;
            }
            j->buf[j->n++] = (struct cand){scores[r], i + r};
        }
    }
    if (j->n > j->r) {
        select_first(j->buf, j->n, j->r);
        j->n = j->r;
    }
    return NULL;
}

static int row_order(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;

    return (x->row > y->row) - (x->row < y->row);
}

/* The query's 4-bit planes (internal.h): centred as the codes are, scaled to -7..7. */
static void query_planes(const struct gh_vmem *vm, const float *emb, uint64_t *planes)
{
    float m = 0;

    memset(planes, 0, GH_VMEM_PLANES * vm->n_words * sizeof *planes);
    for (int j = 0; j < vm->dim; j++)
        m = fabsf(emb[j] - vm->centre[j]) > m ? fabsf(emb[j] - vm->centre[j]) : m;
    for (int j = 0; j < vm->dim; j++) {
        int u = 8 + (m > 0 ? (int)lrintf((emb[j] - vm->centre[j]) / m * 7) : 0);

        for (int p = 0; p < GH_VMEM_PLANES; p++)
            planes[(size_t)p * vm->n_words + (size_t)j / 64] |= (uint64_t)((u >> p) & 1)
                                                                << (j % 64);
    }
}

static size_t n_candidates(const struct gh_vmem *vm)
{
    size_t r = (vm->n - vm->head) / CANDIDATES_DIV;

    if (vm->candidates > 0)
        return (size_t)vm->candidates;
    return r < CANDIDATES_MIN ? CANDIDATES_MIN : r > CANDIDATES_MAX ? CANDIDATES_MAX : r;
}

/* The k best of the r rows whose codes score highest, by the exact int8 similarity; read
 * lock held. buf: [threads * 2 r]. */
static void search2(const struct gh_vmem *vm, const uint64_t *planes, const int16_t *q,
                    float qscale, size_t r, struct cand *buf, struct topk *out)
{
    struct code_job jobs[THREADS_MAX];
    int nt = n_threads(vm, vm->code_split_min);
    size_t n = 0;

    for (int t = 0; t < nt; t++) {
        jobs[t] = (struct code_job){vm, planes, 0, 0, r, buf + (size_t)t * 2 * r, 0};
        range_of(vm, nt, t, &jobs[t].from, &jobs[t].to);
    }
    run_jobs(code_range, jobs, sizeof jobs[0], nt);
    for (int t = 0; t < nt; t++) {
        memmove(buf + n, jobs[t].buf, jobs[t].n * sizeof *buf);
        n += jobs[t].n;
    }
    if (n > r) {
        select_first(buf, n, r);
        n = r;
    }
    /* in row order: the exact scan's tie-break (the older row first), and kinder to memory */
    qsort(buf, n, sizeof *buf, row_order);
    for (size_t i = 0; i < n + PREFETCH; i++) {
        size_t row = i < n ? buf[i].row : 0;
        int32_t dot;

        /* scattered rows: DRAM latency, not bandwidth, unless fetched ahead */
        if (i < n)
            for (size_t b = 0; b < vm->dim_pad; b += 64)
                __builtin_prefetch(vm->vecs + row * vm->dim_pad + b);
        if (i < PREFETCH)
            continue;
        row = buf[i - PREFETCH].row;
        vm->dots(q, vm->vecs + row * vm->dim_pad, vm->dim_pad, vm->dim_pad, 1, &dot);
        topk_push(out, (float)dot * qscale * vm->scales[row], row);
    }
}

/* The rows in top as hits; read lock held. Returns how many. */
static int fill_hits(const struct gh_vmem *vm, const struct topk *top, struct gh_vmem_hit *hits)
{
    for (int i = 0; i < top->n; i++) {
        const struct label *l = &vm->lab[vm->labels[top->row[i]]];

        snprintf(hits[i].slug, sizeof hits[i].slug, "%s", l->slug);
        snprintf(hits[i].source, sizeof hits[i].source, "%s", l->source);
        hits[i].similarity = top->sim[i];
        hits[i].id = vm->ids[top->row[i]];
    }
    return top->n;
}

int gh_vmem_search(struct gh_vmem *vm, const float *emb, int k, int64_t now,
                   struct gh_vmem_hit *hits, int *n_hits, struct gh_err *err)
{
    int16_t *q = NULL;
    int8_t *q8 = NULL;
    uint64_t *planes = NULL;
    struct cand *buf = NULL;
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
    planes = gh_malloc_array(GH_VMEM_PLANES * vm->n_words, sizeof *planes);
    if (!q || !q8 || !planes) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory for a visual-memory search");
        goto out;
    }
    gh_vmem_quantize(emb, vm->dim, q8, &qscale);
    memset(q, 0, vm->dim_pad * sizeof *q);
    for (int i = 0; i < vm->dim; i++)
        q[i] = q8[i];
    top.k = k < 1 ? 1 : k > GH_VMEM_K_MAX ? GH_VMEM_K_MAX : k;
    pthread_rwlock_rdlock(&vm->lock);
    if ((int64_t)(vm->n - vm->head) > vm->exact_max &&
        vm->n - vm->head > (size_t)top.k + n_candidates(vm)) {
        size_t r = n_candidates(vm);

        buf = gh_malloc_array(2 * r * (size_t)n_threads(vm, vm->code_split_min), sizeof *buf);
        if (!buf) {
            pthread_rwlock_unlock(&vm->lock);
            rc = gh_err_set(err, GH_ENOMEM, "out of memory for a visual-memory search");
            goto out;
        }
        query_planes(vm, emb, planes);
        search2(vm, planes, q, qscale, r, buf, &top);
    } else if (vm->n > vm->head) {
        scan(vm, q, qscale, &top);
    }
    *n_hits = fill_hits(vm, &top, hits);
    pthread_rwlock_unlock(&vm->lock);
out:
    gh_free(buf);
    gh_free(planes);
    gh_free(q8);
    gh_free(q);
    return rc;
}

int gh_vmem_use_kernels(struct gh_vmem *vm, const char *dots, const char *bits)
{
    gh_vmem_dots_fn d = dots ? gh_vmem_dots_by_name(dots) : vm->dots;
    gh_vmem_bits_fn b = bits ? gh_vmem_bits_by_name(bits) : vm->bits;

    if (!d || !b)
        return GH_EINVAL;
    vm->dots = d;
    vm->bits = b;
    return GH_OK;
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

void gh_vmem_tune(struct gh_vmem *vm, int threads, int64_t exact_max, int candidates,
                  size_t split_min)
{
    if (split_min)
        vm->code_split_min = split_min;
    if (threads > 0)
        vm->threads = threads;
    if (exact_max > 0)
        vm->exact_max = exact_max;
    if (candidates)
        vm->candidates = candidates > 0 ? candidates : 0;
}

void gh_vmem_stats(struct gh_vmem *vm, struct gh_vmem_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&vm->lock);
    out->entries = (int64_t)(vm->n - vm->head);
    out->last_id = vm->last_id;
    pthread_rwlock_unlock(&vm->lock);
    out->bytes_per_entry = vm->dim_pad + vm->n_words * sizeof(uint64_t) + sizeof(float) +
                           2 * sizeof(int64_t) + sizeof(uint16_t);
    out->refreshes = atomic_load(&vm->refreshes);
    out->refresh_errors = atomic_load(&vm->refresh_errors);
}
