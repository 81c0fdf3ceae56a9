/* SPDX-License-Identifier: MIT */
/* Metrics in fixed tables of C11 atomics, rendered in the Prometheus text exposition format
 * 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/). Recording never locks
 * or allocates; series are never removed, and there are no summaries or client registries. */
#include "gh/metrics.h"

#include "gh/alloc.h"

#include <float.h>
#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 3
#define MAX_SLOTS  256 /* the largest table; rendering sorts a stack array this long */

/* Upper bounds in seconds, 0.1 ms .. 30 s: an exact cache hit takes ~0.2 ms, a provider call
 * up to its 30 s default timeout. Shared by every histogram so their buckets line up. */
static const double duration_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                         0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                         1,      2.5,     5,      10,    30};
#define N_BOUNDS (sizeof duration_bounds / sizeof duration_bounds[0])

enum slot_state {
    SLOT_STATE_FREE = 0,
    SLOT_STATE_FILLING,
    SLOT_STATE_READY,
};

/* A series' label values, cut and zero-padded so that keys compare with memcmp. */
struct key {
    uint32_t hash;
    char v[MAX_LABELS][GH_METRICS_LABEL_CAP];
};

/* Head of every table slot: claimed by the first observation of its key, never freed. */
struct slot {
    atomic_uint state;
    struct key key;
};

struct counter_slot {
    struct slot s;
    atomic_uint_least64_t n;
};

struct histogram {
    atomic_uint_least64_t buckets[N_BOUNDS + 1]; /* per bucket, not cumulative; last is +Inf */
    atomic_uint_least64_t sum_ns; /* nanoseconds: an integer add stays one lock-free op */
};

struct histogram_slot {
    struct slot s;
    struct histogram h;
};

/* One metric name with a bounded set of label values: an open-addressed table (size a power
 * of two) of counter or histogram slots. */
struct family {
    const char *name;
    const char *help;
    const char *labels[MAX_LABELS]; /* label names, NULL after the last */
    double divisor;                 /* counters: rendered value = count / divisor */
    void *slots;
    size_t n_slots;
    size_t stride;
    int histogram;
};

#define COUNTERS(a)   .slots = (a), .n_slots = sizeof(a) / sizeof(a)[0], .stride = sizeof(a)[0]
#define HISTOGRAMS(a) COUNTERS(a), .histogram = 1

static struct counter_slot request_slots[256], error_slots[64], call_slots[32], token_slots[16],
    cost_slots[8];
static struct histogram_slot request_time_slots[32], analysis_slots[16], provider_time_slots[8];
_Static_assert(sizeof request_slots / sizeof request_slots[0] <= MAX_SLOTS, "MAX_SLOTS");

static struct family http_requests = {
    .name = "gymhelper_http_requests_total",
    .help = "HTTP requests answered, by route pattern (\"other\" when no route matched), method "
            "and status (499: the client went away first).",
    .labels = {"route", "method", "status"},
    .divisor = 1,
    COUNTERS(request_slots),
};
static struct family http_durations = {
    .name = "gymhelper_http_request_duration_seconds",
    .help = "Time from a request's first byte to its completion, by route pattern.",
    .labels = {"route"},
    HISTOGRAMS(request_time_slots),
};
static struct family http_errors = {
    .name = "gymhelper_http_errors_total",
    .help = "Error responses by problem code (the \"code\" of the problem document).",
    .labels = {"code"},
    .divisor = 1,
    COUNTERS(error_slots),
};
static struct family analysis_durations = {
    .name = "gymhelper_analysis_duration_seconds",
    .help = "Time to answer an analysis that succeeded, by the cache layer that answered it "
            "(miss: the provider did).",
    .labels = {"layer"},
    HISTOGRAMS(analysis_slots),
};
static struct family provider_calls = {
    .name = "gymhelper_provider_calls_total",
    .help = "AI provider calls by provider and outcome (ok, error, timeout, unavailable).",
    .labels = {"provider", "outcome"},
    .divisor = 1,
    COUNTERS(call_slots),
};
static struct family provider_durations = {
    .name = "gymhelper_provider_duration_seconds",
    .help = "AI provider call latency, retries included, by provider.",
    .labels = {"provider"},
    HISTOGRAMS(provider_time_slots),
};
static struct family provider_tokens = {
    .name = "gymhelper_provider_tokens_total",
    .help = "Tokens the AI provider reported, by provider and kind (prompt, completion).",
    .labels = {"provider", "kind"},
    .divisor = 1,
    COUNTERS(token_slots),
};
static struct family provider_cost = {
    .name = "gymhelper_provider_cost_dollars_total",
    .help = "Estimated AI provider spend in US dollars, from the reported tokens and a price "
            "table in the code (gpt-4o-mini, gpt-4o); other models count as free.",
    .labels = {"provider"},
    .divisor = 1e9, /* kept in nanodollars */
    COUNTERS(cost_slots),
};

static atomic_int_least64_t in_flight;
static atomic_uint_least64_t dropped;
/* For the savings estimate: the spend and number of the successful provider calls so far. */
static atomic_uint_least64_t ok_calls, ok_cost_nd, savings_nd;

/* --- recording ------------------------------------------------------------------------- */

static size_t n_labels(const struct family *f)
{
    size_t n = 0;

    while (n < MAX_LABELS && f->labels[n])
        n++;
    return n;
}

/* FNV-1a over the values, with a separator so ("ab", "") and ("a", "b") differ. */
static void key_make(struct key *k, const char *const *values, size_t n)
{
    uint32_t h = 2166136261u;

    memset(k, 0, sizeof *k);
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i] ? values[i] : "";

        for (size_t j = 0; j < GH_METRICS_LABEL_CAP - 1 && v[j]; j++) {
            k->v[i][j] = v[j];
            h = (h ^ (unsigned char)v[j]) * 16777619u;
        }
        h = (h ^ 0xffu) * 16777619u;
    }
    k->hash = h;
}

static struct slot *slot_at(const struct family *f, size_t i)
{
    return (struct slot *)(void *)((char *)f->slots + i * f->stride);
}

/* The slot of key k, claimed when k is new; NULL (counted as dropped) when f is full. A new
 * key is published by its state's release store, after which it never changes. */
static struct slot *find(const struct family *f, const struct key *k)
{
    size_t mask = f->n_slots - 1;

    for (size_t i = 0; i < f->n_slots; i++) {
        struct slot *s = slot_at(f, ((size_t)k->hash + i) & mask);
        unsigned int st = atomic_load_explicit(&s->state, memory_order_acquire);

        if (st == SLOT_STATE_FREE) {
            if (atomic_compare_exchange_strong_explicit(&s->state, &st, SLOT_STATE_FILLING,
                                                        memory_order_acquire,
                                                        memory_order_acquire)) {
                s->key = *k;
                atomic_store_explicit(&s->state, SLOT_STATE_READY, memory_order_release);
                return s;
            }
        }
        /* Another thread is copying this slot's key in: a few stores, once per series. */
        while (st == SLOT_STATE_FILLING) {
            sched_yield();
            st = atomic_load_explicit(&s->state, memory_order_acquire);
        }
        if (s->key.hash == k->hash && memcmp(s->key.v, k->v, sizeof k->v) == 0)
            return s;
    }
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
    return NULL;
}

static void counter_add(struct family *f, const char *const *values, uint64_t n)
{
    struct key k;
    struct slot *s;

    key_make(&k, values, n_labels(f));
    s = find(f, &k);
    if (s)
        atomic_fetch_add_explicit(&((struct counter_slot *)(void *)s)->n, n, memory_order_relaxed);
}

/* Buckets are "less than or equal" (le): a value on a bound counts in that bound's bucket. */
static void histogram_observe(struct histogram *h, double seconds)
{
    size_t i = 0;

    if (!(seconds >= 0)) /* NaN, or a clock that stepped back */
        seconds = 0;
    if (seconds > 1e9)
        seconds = 1e9;
    while (i < N_BOUNDS && seconds > duration_bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(seconds * 1e9 + 0.5), memory_order_relaxed);
}

/* observe with seconds < 0 only creates the series, so it shows before its first event. */
static void histogram_add(struct family *f, const char *const *values, double seconds, int observe)
{
    struct key k;
    struct slot *s;

    key_make(&k, values, n_labels(f));
    s = find(f, &k);
    if (s && observe)
        histogram_observe(&((struct histogram_slot *)(void *)s)->h, seconds);
}

void gh_metrics_http_begin(void)
{
    atomic_fetch_add_explicit(&in_flight, 1, memory_order_relaxed);
}

static const char *method_label(const char *method)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

    for (size_t i = 0; method && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(method, known[i]) == 0)
            return known[i];
    return "other"; /* methods are client input: keep the label set bounded */
}

static const char *status_label(int status, char out[4])
{
    if (status < 100 || status > 999)
        return "other";
    out[0] = (char)('0' + status / 100);
    out[1] = (char)('0' + status / 10 % 10);
    out[2] = (char)('0' + status % 10);
    out[3] = '\0';
    return out;
}

void gh_metrics_http_end(const char *route, const char *method, int status, const char *error_code,
                         double seconds)
{
    char st[4];
    const char *labels[MAX_LABELS];

    labels[0] = route ? route : "other";
    labels[1] = method_label(method);
    labels[2] = status_label(status, st);
    atomic_fetch_sub_explicit(&in_flight, 1, memory_order_relaxed);
    counter_add(&http_requests, labels, 1);
    histogram_add(&http_durations, labels, seconds, 1);
    if (error_code)
        counter_add(&http_errors, &error_code, 1);
}

static const char *const layers[] = {"memory", "redis", "exact", "near", "coalesced", "miss"};
#define N_LAYERS (sizeof layers / sizeof layers[0])

void gh_metrics_analysis(const char *layer, double seconds)
{
    const char *label = NULL;
    uint64_t calls;

    if (!layer || !layer[0])
        layer = "miss";
    for (size_t i = 0; i < N_LAYERS; i++)
        if (strcmp(layer, layers[i]) == 0)
            label = layers[i];
    if (!label)
        return; /* a layer this table does not know: keep the label set fixed */
    histogram_add(&analysis_durations, &label, seconds, 1);
    calls = atomic_load_explicit(&ok_calls, memory_order_relaxed);
    if (label != layers[N_LAYERS - 1] && calls > 0)
        atomic_fetch_add_explicit(&savings_nd,
                                  atomic_load_explicit(&ok_cost_nd, memory_order_relaxed) / calls,
                                  memory_order_relaxed);
}

/* Token counts come from the provider's answer: clamp them so the cost cannot overflow. */
static uint64_t tokens(int64_t n)
{
    return n <= 0 ? 0 : n > INT64_C(1000000000000) ? UINT64_C(1000000000000) : (uint64_t)n;
}

static const char *outcome_label(int rc)
{
    switch (rc) {
    case GH_OK:
        return "ok";
    case GH_ETIMEOUT:
        return "timeout";
    case GH_EUNAVAILABLE:
        return "unavailable";
    default:
        return "error";
    }
}

void gh_metrics_provider_call(const char *provider, int rc, double seconds, int64_t prompt_tokens,
                              int64_t completion_tokens, int64_t cost_nd)
{
    const char *call[2] = {provider, outcome_label(rc)};
    const char *prompt[2] = {provider, "prompt"}, *completion[2] = {provider, "completion"};
    uint64_t p = tokens(prompt_tokens), c = tokens(completion_tokens), cost = tokens(cost_nd);

    counter_add(&provider_calls, call, 1);
    histogram_add(&provider_durations, &provider, seconds, 1);
    counter_add(&provider_tokens, prompt, p);
    counter_add(&provider_tokens, completion, c);
    counter_add(&provider_cost, &provider, cost);
    if (rc == GH_OK) {
        atomic_fetch_add_explicit(&ok_cost_nd, cost, memory_order_relaxed);
        atomic_fetch_add_explicit(&ok_calls, 1, memory_order_relaxed);
    }
}

/* --- text buffer ----------------------------------------------------------------------- */

/* Appends; a failure stays in b->rc (gh/buf.h), so the writers check once at the end. */
static void buf_append(struct gh_buf *b, const char *s, size_t n)
{
    (void)gh_buf_append(b, s, n);
}

static void buf_puts(struct gh_buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

/* Label values escape \, " and newline; HELP text only \ and newline (format 0.0.4). */
static void buf_escaped(struct gh_buf *b, const char *s, int label_value)
{
    const char *run = s;

    for (; *s; s++) {
        const char *esc = *s == '\\'                 ? "\\\\"
                          : *s == '\n'               ? "\\n"
                          : label_value && *s == '"' ? "\\\""
                                                     : NULL;

        if (!esc)
            continue;
        buf_append(b, run, (size_t)(s - run));
        buf_puts(b, esc);
        run = s + 1;
    }
    buf_append(b, run, (size_t)(s - run));
}

/* Integral values without exponent or fraction; others in the shortest form that reads back
 * as the same double; Go's ParseFloat (Prometheus) reads "+Inf" and "NaN". */
static void format_value(char *out, size_t cap, double v)
{
    if (v != v)
        snprintf(out, cap, "NaN");
    else if (v > DBL_MAX || v < -DBL_MAX)
        snprintf(out, cap, "%sInf", v > 0 ? "+" : "-");
    else if (v >= -9e15 && v <= 9e15 && v == (double)(int64_t)v)
        snprintf(out, cap, "%" PRId64, (int64_t)v);
    else if (snprintf(out, cap, "%.15g", v) > 0 && strtod(out, NULL) != v)
        snprintf(out, cap, "%.17g", v);
}

/* --- rendering ------------------------------------------------------------------------- */

void gh_metrics_write_family(struct gh_buf *b, const char *name, const char *type, const char *help)
{
    buf_puts(b, "# HELP ");
    buf_puts(b, name);
    buf_puts(b, " ");
    buf_escaped(b, help, 0);
    buf_puts(b, "\n# TYPE ");
    buf_puts(b, name);
    buf_puts(b, " ");
    buf_puts(b, type);
    buf_puts(b, "\n");
}

static void write_sample(struct gh_buf *b, const char *name, const char *suffix,
                         const char *const *labels, double value)
{
    char num[40];

    buf_puts(b, name);
    buf_puts(b, suffix);
    for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
        buf_puts(b, i == 0 ? "{" : ",");
        buf_puts(b, labels[i]);
        buf_puts(b, "=\"");
        buf_escaped(b, labels[i + 1], 1);
        buf_puts(b, labels[i + 2] && labels[i + 3] ? "\"" : "\"}");
    }
    format_value(num, sizeof num, value);
    buf_puts(b, " ");
    buf_puts(b, num);
    buf_puts(b, "\n");
}

void gh_metrics_write_sample(struct gh_buf *b, const char *name, const char *const *labels,
                             double value)
{
    write_sample(b, name, "", labels, value);
}

static int by_labels(const void *a, const void *b)
{
    const struct slot *x = *(const struct slot *const *)a, *y = *(const struct slot *const *)b;

    return memcmp(x->key.v, y->key.v, sizeof x->key.v);
}

/* The published slots of f, sorted by label values so that scrapes list series stably. */
static size_t ready_slots(const struct family *f, const struct slot **out)
{
    size_t n = 0;

    for (size_t i = 0; i < f->n_slots; i++) {
        const struct slot *s = slot_at(f, i);

        if (atomic_load_explicit(&s->state, memory_order_acquire) == SLOT_STATE_READY)
            out[n++] = s;
    }
    qsort(out, n, sizeof *out, by_labels);
    return n;
}

/* name, value, ... for the slot's labels and then, when le is not NULL, "le"; NULL-ended. */
static void label_pairs(const struct family *f, const struct slot *s, const char *le,
                        const char **out)
{
    size_t n = n_labels(f), j = 0;

    for (size_t i = 0; i < n; i++) {
        out[j++] = f->labels[i];
        out[j++] = s->key.v[i];
    }
    if (le) {
        out[j++] = "le";
        out[j++] = le;
    }
    out[j] = NULL;
}

static void render_histogram(struct gh_buf *b, const struct family *f, const struct slot *s)
{
    const struct histogram *h = &((const struct histogram_slot *)(const void *)s)->h;
    const char *labels[2 * MAX_LABELS + 3];
    char le[40];
    uint64_t total = 0;

    for (size_t i = 0; i <= N_BOUNDS; i++) {
        total += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < N_BOUNDS)
            format_value(le, sizeof le, duration_bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        label_pairs(f, s, le, labels);
        write_sample(b, f->name, "_bucket", labels, (double)total);
    }
    label_pairs(f, s, NULL, labels);
    write_sample(b, f->name, "_sum", labels,
                 (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
    write_sample(b, f->name, "_count", labels, (double)total); /* == the +Inf bucket */
}

static void render_family(struct gh_buf *b, const struct family *f)
{
    const struct slot *list[MAX_SLOTS];
    const char *labels[2 * MAX_LABELS + 1];
    size_t n = ready_slots(f, list);

    gh_metrics_write_family(b, f->name, f->histogram ? "histogram" : "counter", f->help);
    for (size_t i = 0; i < n; i++) {
        const struct counter_slot *c = (const struct counter_slot *)(const void *)list[i];

        if (f->histogram) {
            render_histogram(b, f, list[i]);
            continue;
        }
        label_pairs(f, list[i], NULL, labels);
        write_sample(b, f->name, "", labels,
                     (double)atomic_load_explicit(&c->n, memory_order_relaxed) / f->divisor);
    }
}

static void write_single(struct gh_buf *b, const char *name, const char *type, const char *help,
                         double value)
{
    gh_metrics_write_family(b, name, type, help);
    gh_metrics_write_sample(b, name, NULL, value);
}

/* Series that should read 0 rather than be absent before their first event, so that rate()
 * and alerts on them work from the start. */
static void declare_series(const char *provider)
{
    static const char *const outcomes[] = {"ok", "error", "timeout", "unavailable"};

    for (size_t i = 0; i < N_LAYERS; i++)
        histogram_add(&analysis_durations, &layers[i], -1, 0);
    if (!provider || !provider[0])
        return;
    for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
        const char *call[2] = {provider, outcomes[i]};

        counter_add(&provider_calls, call, 0);
    }
    histogram_add(&provider_durations, &provider, -1, 0);
    counter_add(&provider_tokens, (const char *const[]){provider, "prompt"}, 0);
    counter_add(&provider_tokens, (const char *const[]){provider, "completion"}, 0);
    counter_add(&provider_cost, &provider, 0);
}

int gh_metrics_render(struct gh_buf *b, const char *provider)
{
    declare_series(provider);
    render_family(b, &http_requests);
    render_family(b, &http_durations);
    render_family(b, &http_errors);
    write_single(b, "gymhelper_http_requests_in_flight", "gauge",
                 "Requests between their first byte and their completion, this scrape included.",
                 (double)atomic_load_explicit(&in_flight, memory_order_relaxed));
    render_family(b, &analysis_durations);
    render_family(b, &provider_calls);
    render_family(b, &provider_durations);
    render_family(b, &provider_tokens);
    render_family(b, &provider_cost);
    write_single(b, "gymhelper_cache_estimated_savings_dollars_total", "counter",
                 "Estimated provider spend in US dollars avoided by cache hits. Assumes each hit "
                 "(memory, exact, near, coalesced) saves one provider call costing the average "
                 "of this process's successful calls so far (0 before the first one).",
                 (double)atomic_load_explicit(&savings_nd, memory_order_relaxed) / 1e9);
    write_single(b, "gymhelper_metrics_series_dropped_total", "counter",
                 "Observations not recorded because their metric's series table was full (label "
                 "sets are bounded, so this stays 0).",
                 (double)atomic_load_explicit(&dropped, memory_order_relaxed));
    return b->rc;
}
