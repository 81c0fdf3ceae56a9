/* SPDX-License-Identifier: MIT */
/* The metrics module: counters and series tables, histogram buckets (le inclusive), prices and
 * the savings estimate, and the exposition text (HELP/TYPE, escaping, +Inf, _sum/_count). */
#include "../../../src/core/alloc.c"   /* for the allocation counter */
#include "../../../src/core/metrics.c" /* for the static tables and helpers */
#include "../../gh_test.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

static void reset(void)
{
    struct family *all[] = {&http_requests,      &http_durations, &http_errors,
                            &analysis_durations, &provider_calls, &provider_durations,
                            &provider_tokens,    &provider_cost};

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        memset(all[i]->slots, 0, all[i]->n_slots * all[i]->stride);
    atomic_store(&in_flight, 0);
    atomic_store(&dropped, 0);
    atomic_store(&ok_calls, 0);
    atomic_store(&ok_cost_nd, 0);
    atomic_store(&savings_nd, 0);
}

/* The exposition text of everything recorded (and provider's declared series). */
static char *render(const char *provider)
{
    struct gh_buf b;
    size_t len = 0;
    char *text;

    gh_buf_init(&b, 1u << 20);
    CHECK_INT(gh_metrics_render(&b, provider), GH_OK);
    text = gh_buf_take(&b, &len);
    gh_buf_fini(&b);
    CHECK(text && strlen(text) == len);
    return text;
}

/* 1 when text has line as a whole line. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

#define CHECK_LINE(text, line)                                                                     \
    do {                                                                                           \
        if (!has_line((text), (line))) {                                                           \
            fprintf(stderr, "%s:%d: no line \"%s\" in:\n%s\n", __FILE__, __LINE__, (line),         \
                    (text));                                                                       \
            gh_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

static void counts_requests_by_route_method_status(void)
{
    char *text;

    reset();
    for (int i = 0; i < 3; i++) {
        gh_metrics_http_begin();
        gh_metrics_http_end("/api/v1/analyze", "POST", 200, NULL, 0.0002);
    }
    gh_metrics_http_begin();
    gh_metrics_http_end("/api/v1/analyze", "POST", 415, "unsupported_media_type", 0.0001);
    gh_metrics_http_begin();
    gh_metrics_http_end("other", "BREW", 404, "not_found", 0.0001); /* unknown method */
    gh_metrics_http_begin();
    gh_metrics_http_end(NULL, "GET", 1000, "not_found", 0.0001); /* no route, odd status */
    gh_metrics_http_begin();                                     /* still in flight */
    text = render(NULL);
    CHECK_LINE(text, "# TYPE gymhelper_http_requests_total counter");
    CHECK_LINE(text, "gymhelper_http_requests_total{route=\"/api/v1/analyze\",method=\"POST\","
                     "status=\"200\"} 3");
    CHECK_LINE(text, "gymhelper_http_requests_total{route=\"/api/v1/analyze\",method=\"POST\","
                     "status=\"415\"} 1");
    CHECK_LINE(text, "gymhelper_http_requests_total{route=\"other\",method=\"other\","
                     "status=\"404\"} 1");
    CHECK_LINE(text, "gymhelper_http_requests_total{route=\"other\",method=\"GET\","
                     "status=\"other\"} 1");
    CHECK_LINE(text, "gymhelper_http_errors_total{code=\"not_found\"} 2");
    CHECK_LINE(text, "gymhelper_http_errors_total{code=\"unsupported_media_type\"} 1");
    CHECK_LINE(text, "gymhelper_http_requests_in_flight 1");
    CHECK_LINE(text, "gymhelper_http_request_duration_seconds_count{route=\"/api/v1/analyze\"} 4");
    CHECK_LINE(text, "gymhelper_metrics_series_dropped_total 0");
    gh_free(text);
}

static void buckets_are_le_inclusive(void)
{
    static struct histogram h;

    memset(&h, 0, sizeof h);
    for (size_t i = 0; i < N_BOUNDS; i++) {
        histogram_observe(&h, duration_bounds[i]);                 /* on the bound: its bucket */
        histogram_observe(&h, nextafter(duration_bounds[i], 100)); /* just above: the next */
    }
    for (size_t i = 0; i <= N_BOUNDS; i++)
        CHECK_INT(atomic_load(&h.buckets[i]), i == 0 || i == N_BOUNDS ? 1 : 2);
    memset(&h, 0, sizeof h);
    histogram_observe(&h, 0);
    histogram_observe(&h, -1);  /* a clock stepping back counts as 0 */
    histogram_observe(&h, NAN); /* as does nonsense */
    histogram_observe(&h, 1e12);
    CHECK_INT(atomic_load(&h.buckets[0]), 3);
    CHECK_INT(atomic_load(&h.buckets[N_BOUNDS]), 1);
    CHECK_INT(atomic_load(&h.sum_ns), (uint64_t)1e18); /* 1e12 s is clamped to 1e9 s */
}

static void histogram_renders_cumulative_with_inf_sum_count(void)
{
    char *text;

    reset();
    gh_metrics_analysis("exact", 0.0002);  /* le 0.00025 */
    gh_metrics_analysis("exact", 0.00025); /* le 0.00025: inclusive */
    gh_metrics_analysis("exact", 0.003);   /* le 0.005 */
    gh_metrics_analysis("exact", 31);      /* +Inf only */
    gh_metrics_analysis("bogus", 1);       /* not a layer: ignored */
    gh_metrics_analysis("", 2);            /* a provider call: miss */
    text = render(NULL);
    CHECK_LINE(text, "# HELP gymhelper_analysis_duration_seconds Time to answer an analysis that "
                     "succeeded, by the cache layer that answered it (miss: the provider did).");
    CHECK_LINE(text, "# TYPE gymhelper_analysis_duration_seconds histogram");
    CHECK_LINE(text, "gymhelper_analysis_duration_seconds_bucket{layer=\"exact\",le=\"0.0001\"} 0");
    CHECK_LINE(text,
               "gymhelper_analysis_duration_seconds_bucket{layer=\"exact\",le=\"0.00025\"} 2");
    CHECK_LINE(text, "gymhelper_analysis_duration_seconds_bucket{layer=\"exact\",le=\"0.0025\"} 2");
    CHECK_LINE(text, "gymhelper_analysis_duration_seconds_bucket{layer=\"exact\",le=\"0.005\"} 3");
    CHECK_LINE(text, "gymhelper_analysis_duration_seconds_bucket{layer=\"exact\",le=\"30\"} 3");
    CHECK_LINE(text, "gymhelper_analysis_duration_seconds_bucket{layer=\"exact\",le=\"+Inf\"} 4");
    CHECK_LINE(text, "gymhelper_analysis_duration_seconds_sum{layer=\"exact\"} 31.00345");
    CHECK_LINE(text, "gymhelper_analysis_duration_seconds_count{layer=\"exact\"} 4");
    CHECK_LINE(text, "gymhelper_analysis_duration_seconds_count{layer=\"miss\"} 1");
    /* every layer is shown from the start, at 0 */
    CHECK_LINE(text, "gymhelper_analysis_duration_seconds_count{layer=\"coalesced\"} 0");
    CHECK(!strstr(text, "bogus"));
    gh_free(text);
}

static void escapes_label_values_and_help(void)
{
    const char *labels[] = {"a", "back\\slash", "b", "say \"hi\"", "c", "two\nlines", NULL};
    struct gh_buf b;
    size_t len;
    char *text;

    gh_buf_init(&b, 4096);
    gh_metrics_write_family(&b, "x_total", "counter", "a \\ and\na \"quote\"");
    gh_metrics_write_sample(&b, "x_total", labels, 2);
    gh_metrics_write_sample(&b, "y", NULL, 0.25);
    gh_metrics_write_sample(&b, "z", (const char *[]){NULL}, -3);
    text = gh_buf_take(&b, &len);
    CHECK_STR(text, "# HELP x_total a \\\\ and\\na \"quote\"\n"
                    "# TYPE x_total counter\n"
                    "x_total{a=\"back\\\\slash\",b=\"say \\\"hi\\\"\",c=\"two\\nlines\"} 2\n"
                    "y 0.25\n"
                    "z -3\n");
    gh_free(text);
    gh_buf_fini(&b);
}

static void formats_values(void)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {-0.0, "0"},
        {42, "42"},
        {1e15, "1000000000000000"},
        {0.0001, "0.0001"},
        {0.00045, "0.00045"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1e300, "1e+300"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {NAN, "NaN"},
    };
    char out[40];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        format_value(out, sizeof out, cases[i].v);
        CHECK_STR(out, cases[i].text);
    }
}

static void prices_tokens_and_savings(void)
{
    char *text;

    reset();
    /* $0.00045 (prices live in the provider module: gh_provider_cost_nd) */
    gh_metrics_provider_call("openai", GH_OK, 1.5, 1000, 500, 450000);
    gh_metrics_analysis("memory", 0.0002); /* saves the average: $0.00045 */
    gh_metrics_provider_call("openai", GH_OK, 2, 1000, 100, 3500000); /* $0.0035 */
    gh_metrics_provider_call("openai", GH_ETIMEOUT, 30, 0, 0, 0);
    gh_metrics_provider_call("openai", GH_EPROVIDER, 1, 700, 10, 0); /* a free model */
    gh_metrics_analysis("near", 0.01);                               /* $0.001975 */
    gh_metrics_analysis("", 2);                                      /* no saving */
    text = render("openai");
    CHECK_LINE(text, "gymhelper_provider_calls_total{provider=\"openai\",outcome=\"ok\"} 2");
    CHECK_LINE(text, "gymhelper_provider_calls_total{provider=\"openai\",outcome=\"timeout\"} 1");
    CHECK_LINE(text, "gymhelper_provider_calls_total{provider=\"openai\",outcome=\"error\"} 1");
    CHECK_LINE(text,
               "gymhelper_provider_calls_total{provider=\"openai\",outcome=\"unavailable\"} 0");
    CHECK_LINE(text, "gymhelper_provider_tokens_total{provider=\"openai\",kind=\"prompt\"} 2700");
    CHECK_LINE(text,
               "gymhelper_provider_tokens_total{provider=\"openai\",kind=\"completion\"} 610");
    CHECK_LINE(text, "gymhelper_provider_cost_dollars_total{provider=\"openai\"} 0.00395");
    CHECK_LINE(text, "gymhelper_provider_duration_seconds_count{provider=\"openai\"} 4");
    CHECK_LINE(text, "gymhelper_provider_duration_seconds_sum{provider=\"openai\"} 34.5");
    CHECK_LINE(text, "gymhelper_cache_estimated_savings_dollars_total 0.002425");
    gh_free(text);
}

static void declares_the_configured_provider(void)
{
    char *text;

    reset();
    text = render("llava");
    CHECK_LINE(text, "gymhelper_provider_calls_total{provider=\"llava\",outcome=\"ok\"} 0");
    CHECK_LINE(text, "gymhelper_provider_cost_dollars_total{provider=\"llava\"} 0");
    CHECK_LINE(text,
               "gymhelper_provider_duration_seconds_bucket{provider=\"llava\",le=\"+Inf\"} 0");
    CHECK_LINE(text, "gymhelper_cache_estimated_savings_dollars_total 0");
    gh_free(text);
}

static void full_table_drops_and_counts(void)
{
    char name[16];
    char *text;

    reset();
    for (int i = 0; i < 10; i++) { /* the cost table has 8 slots */
        const char *p = name;

        snprintf(name, sizeof name, "p%d", i);
        counter_add(&provider_cost, &p, 1);
    }
    CHECK_INT(atomic_load(&dropped), 2);
    text = render(NULL);
    CHECK_LINE(text, "gymhelper_metrics_series_dropped_total 2");
    gh_free(text);
}

static void long_values_are_cut_and_keys_are_exact(void)
{
    char long_route[100];
    const char *a[3] = {"ab", "", "x"}, *b[3] = {"a", "b", "x"}, *lr = long_route;
    struct key ka, kb;

    memset(long_route, 'r', sizeof long_route - 1);
    long_route[sizeof long_route - 1] = '\0';
    key_make(&ka, &lr, 1);
    CHECK_INT(strlen(ka.v[0]), GH_METRICS_LABEL_CAP - 1);
    key_make(&ka, a, 3);
    key_make(&kb, b, 3);
    CHECK(ka.hash != kb.hash || memcmp(ka.v, kb.v, sizeof ka.v) != 0);
    CHECK(memcmp(ka.v, kb.v, sizeof ka.v) != 0);
}

static void buffer_cap_empties_and_reports(void)
{
    struct gh_buf b;
    size_t len = 1;

    gh_buf_init(&b, 16);
    gh_metrics_write_sample(&b, "short", NULL, 1); /* "short 1\n": 8 bytes */
    CHECK_INT(b.rc, GH_OK);
    gh_metrics_write_sample(&b, "longer_than_that", NULL, 1);
    CHECK_INT(b.rc, GH_ETOOBIG);
    CHECK(b.len == 0 && b.data == NULL);
    gh_metrics_write_sample(&b, "s", NULL, 1); /* does nothing after a failure */
    CHECK(b.len == 0);
    CHECK(gh_buf_take(&b, &len) == NULL && len == 0);
    gh_buf_fini(&b);
}

#define N_THREADS 8
#define N_EACH    20000

static void *hammer(void *arg)
{
    static const char *const routes[] = {"/a", "/b", "/c", "/d"};
    int t = (int)(intptr_t)arg;

    for (int i = 0; i < N_EACH; i++) {
        gh_metrics_http_begin();
        gh_metrics_http_end(routes[(t + i) % 4], "GET", 200 + i % 3, NULL, 0.001);
    }
    return NULL;
}

static void concurrent_counts_are_exact(void)
{
    pthread_t th[N_THREADS];
    uint64_t total = 0;
    size_t series = 0;

    reset();
    for (int i = 0; i < N_THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, hammer, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    for (size_t i = 0; i < http_requests.n_slots; i++)
        if (atomic_load(&request_slots[i].s.state) == SLOT_STATE_READY) {
            series++;
            total += atomic_load(&request_slots[i].n);
        }
    CHECK_INT(series, 12); /* 4 routes x 3 statuses, each claimed once */
    CHECK_INT(total, N_THREADS * N_EACH);
    CHECK_INT(atomic_load(&in_flight), 0);
    CHECK_INT(atomic_load(&dropped), 0);
}

/* The hot path (begin, analysis, end of an exact hit) counts every call into fixed tables and
 * never touches the heap: many requests run it at once. Its speed is `make bench`'s to report. */
static void hot_path_counts_every_call_without_allocating(void)
{
    enum { N = 20000 };
    long allocs;
    char *text;

    reset();
    gh_metrics_provider_call("openai", GH_OK, 1, 1000, 100, 210000);
    atomic_store(&fail_at, LONG_MAX); /* count allocations, fail none */
    allocs = atomic_load(&alloc_count);
    for (int i = 0; i < N; i++) {
        gh_metrics_http_begin();
        gh_metrics_analysis("exact", 0.0002);
        gh_metrics_http_end("/api/v1/analyze", "POST", 200, NULL, 0.0002);
    }
    CHECK_INT(atomic_load(&alloc_count) - allocs, 0);
    atomic_store(&fail_at, 0);
    CHECK_INT(atomic_load(&in_flight), 0);
    CHECK_INT(atomic_load(&dropped), 0);
    text = render(NULL);
    CHECK_LINE(text, "gymhelper_http_requests_total{route=\"/api/v1/analyze\",method=\"POST\","
                     "status=\"200\"} 20000");
    CHECK_LINE(text, "gymhelper_analysis_duration_seconds_count{layer=\"exact\"} 20000");
    gh_free(text);
}

GH_TEST_MAIN(GH_TEST(counts_requests_by_route_method_status), GH_TEST(buckets_are_le_inclusive),
             GH_TEST(histogram_renders_cumulative_with_inf_sum_count),
             GH_TEST(escapes_label_values_and_help), GH_TEST(formats_values),
             GH_TEST(prices_tokens_and_savings), GH_TEST(declares_the_configured_provider),
             GH_TEST(full_table_drops_and_counts), GH_TEST(long_values_are_cut_and_keys_are_exact),
             GH_TEST(buffer_cap_empties_and_reports), GH_TEST(concurrent_counts_are_exact),
             GH_TEST(hot_path_counts_every_call_without_allocating))
