/* SPDX-License-Identifier: MIT */
/* The service commands: `serve`, `analyze`, `cache stats|purge`, `db migrate`. They share
 * one wiring of catalogue, store, memory cache, provider and pipeline. */
#include "cli.h"
#include "config.h"

#include "gh/alloc.h"
#include "gh/file.h"
#include "gh/log.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct service {
    struct gh_config cfg;
    struct gh_catalogue *cat;
    struct gh_store *store;
    struct gh_lru *lru;
    struct gh_redis *redis; /* NULL without REDIS_URL */
    struct gh_provider *provider;
    struct gh_pipeline *pipeline;
    struct gh_limits *limits;
    struct gh_limits_proxies *proxies;
    struct gh_vmem *vmem; /* NULL: no visual memory (no embedding provider, or turned off) */
};

static void service_close(struct service *s)
{
    gh_pipeline_free(s->pipeline);
    gh_limits_free(s->limits);
    gh_limits_proxies_free(s->proxies);
    gh_vmem_free(s->vmem);
    gh_provider_free(s->provider);
    gh_lru_free(s->lru);
    gh_redis_free(s->redis);
    gh_store_close(s->store);
    gh_catalogue_free(s->cat);
    memset(s, 0, sizeof *s);
}

/* The visual memory, when the provider embeds photos (CLIP is loaded) and VISUAL_MEMORY_MAX is
 * not 0. */
static int vmem_open(struct service *s, struct gh_err *err)
{
    struct gh_vmem_opts o = {0};
    const char *model = NULL;
    int dim;

    if (s->cfg.vmem_max <= 0 || !s->provider->ops->embedding_space ||
        (dim = s->provider->ops->embedding_space(s->provider, &model)) <= 0)
        return GH_OK;
    o.model = model;
    o.dim = dim;
    o.max_entries = s->cfg.vmem_max;
    o.retention_s = s->cfg.vmem_retention_s;
    o.refresh_ms = s->cfg.vmem_refresh_ms;
    return gh_vmem_new(s->store, &o, &s->vmem, err);
}

/* Opens what every service command needs; with_provider = 0 skips the provider and the
 * pipeline (cache and database maintenance). Prints the reason on failure. */
static int service_open(struct service *s, int with_provider)
{
    struct gh_pipeline_deps deps;
    struct gh_err err = {0};
    int rc;

    rc = s->cfg.catalogue_path ? gh_catalogue_load_file(s->cfg.catalogue_path, &s->cat, &err)
                               : gh_catalogue_load_embedded(&s->cat, &err);
    if (rc == GH_OK)
        rc = gh_store_open_opts(s->cfg.database_url, &s->cfg.store, &s->store, &err);
    if (rc == GH_OK)
        rc = gh_store_sync_catalogue(s->store, s->cat, &err);
    if (rc == GH_OK && with_provider) {
        /* CLIP's settings, the catalogue its classes come from, and the threshold under which
         * "auto" escalates from CLIP to a remote provider (the pipeline's "not sure" line). */
        s->cfg.provider.clip_model = s->cfg.clip_model;
        s->cfg.provider.clip_threads = s->cfg.clip_threads;
        s->cfg.provider.clip_precision = s->cfg.clip_precision;
        s->cfg.provider.clip_max_batch = s->cfg.clip_max_batch;
        s->cfg.provider.clip_batch_wait_ms = s->cfg.clip_batch_wait_ms;
        s->cfg.provider.cat = s->cat;
        s->cfg.provider.escalate_below = s->cfg.pipeline.confidence_threshold;
        rc = gh_provider_new(&s->cfg.provider, &s->provider, &err);
    }
    if (rc == GH_OK && s->cfg.redis_url) {
        /* does not connect: a Redis that is down at start only makes the layer skip */
        struct gh_redis_options ro = {s->cfg.redis_url, s->cfg.redis_ttl_s,
                                      (int)s->cfg.redis_timeout_ms};

        rc = gh_redis_new(&ro, &s->redis, &err);
    }
    if (rc == GH_OK && with_provider && s->cfg.lru_entries > 0) {
        s->lru = gh_lru_new((size_t)s->cfg.lru_entries, (size_t)s->cfg.lru_mb << 20);
        if (!s->lru)
            rc = gh_err_set(&err, GH_ENOMEM, "out of memory for the in-process cache");
    }
    if (rc == GH_OK && with_provider)
        rc = vmem_open(s, &err);
    if (rc == GH_OK && with_provider) {
        s->limits = gh_limits_new(&s->cfg.limits, s->redis, &err);
        if (!s->limits)
            rc = err.code ? err.code : GH_ENOMEM;
    }
    if (rc == GH_OK && with_provider)
        rc = gh_limits_proxies_parse(s->cfg.trusted_proxies, &s->proxies, &err);
    if (rc == GH_OK && with_provider) {
        deps = (struct gh_pipeline_deps){s->store, s->lru,    s->provider, s->cat,
                                         s->redis, s->limits, s->vmem};
        s->pipeline = gh_pipeline_new(&s->cfg.pipeline, &deps, &err);
        if (!s->pipeline)
            rc = err.code ? err.code : GH_ENOMEM;
    }
    if (rc) {
        fprintf(stderr, "gymhelper: %s\n", err.msg);
        service_close(s);
    }
    return rc;
}

static const char serve_usage[] =
    "usage: gymhelper serve [SETTINGS]\n"
    "Serves the HTTP API (DESIGN.md) until SIGINT or SIGTERM, then finishes the requests in\n"
    "progress (up to 30 s) and closes the store cleanly.\n";

/* Room for the multipart envelope around an image of the maximum size. */
#define MULTIPART_OVERHEAD 16384

/* Expired cache entries and history past HISTORY_RETENTION_DAYS are purged at start and then
 * hourly; batched hit counters are written every GH_STORE_HIT_FLUSH_S between. */
#define PURGE_INTERVAL_S 3600

/* HISTORY_RETENTION_DAYS: analyses, corrections and quality samples older than it go. */
static void prune_history(struct gh_store *store, int64_t retention_s, int64_t now)
{
    struct gh_store_pruned n;
    struct gh_err err = {0};

    if (retention_s <= 0)
        return;
    if (gh_store_prune_history(store, now - retention_s, &n, &err) != GH_OK)
        gh_logf(GH_LOG_WARN, "pruning the history failed: %s", err.msg);
    else if (n.identifications + n.feedback + n.quality_samples > 0)
        gh_logf(GH_LOG_INFO,
                "forgot %lld analyses, %lld corrections and %lld quality samples older than "
                "%lld days (HISTORY_RETENTION_DAYS)",
                (long long)n.identifications, (long long)n.feedback, (long long)n.quality_samples,
                (long long)(retention_s / 86400));
}

static void purge(struct service *s)
{
    struct gh_err err = {0};
    int64_t n = 0;

    if (gh_store_purge_expired(s->store, (int64_t)time(NULL), &n, &err) != GH_OK)
        gh_logf(GH_LOG_WARN, "purging expired cache entries failed: %s", err.msg);
    else if (n > 0)
        gh_logf(GH_LOG_INFO, "purged %lld expired cache entries", (long long)n);
    prune_history(s->store, s->cfg.history_retention_s, (int64_t)time(NULL));
    if (gh_store_vmem_prune(s->store, (int64_t)time(NULL) - s->cfg.vmem_retention_s,
                            s->cfg.vmem_max, &n, &err) != GH_OK)
        gh_logf(GH_LOG_WARN, "pruning the visual memory failed: %s", err.msg);
    else if (n > 0)
        gh_logf(GH_LOG_INFO, "forgot %lld remembered photos (retention, size cap)", (long long)n);
}

static int wait_for_stop(struct service *s)
{
    sigset_t set;
    struct timespec every = {GH_STORE_HIT_FLUSH_S, 0};
    int64_t last_purge = (int64_t)time(NULL);
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    for (;;) {
        sig = sigtimedwait(&set, NULL, &every);
        if (sig == SIGINT || sig == SIGTERM)
            return sig;
        if (sig >= 0 || errno != EAGAIN)
            continue;
        if ((int64_t)time(NULL) - last_purge >= PURGE_INTERVAL_S) {
            purge(s); /* flushes the hit counters first */
            last_purge = (int64_t)time(NULL);
        } else {
            struct gh_err err = {0};

            if (gh_store_flush_hits(s->store, &err) != GH_OK)
                gh_logf(GH_LOG_WARN, "writing cache hit counters failed: %s", err.msg);
        }
    }
}

static int host_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

/* AUTH_MODE: "open" (no accounts needed) only on a loopback HOST unless set explicitly, and
 * then with a warning; any other address defaults to "required". -1 on a bad value. */
static int auth_required(const struct gh_config *cfg)
{
    int loopback = host_is_loopback(cfg->http.host);

    if (!cfg->auth_mode)
        return !loopback;
    if (strcmp(cfg->auth_mode, "required") == 0)
        return 1;
    if (strcmp(cfg->auth_mode, "open") != 0) {
        fprintf(stderr, "gymhelper: AUTH_MODE=%s: expected required or open\n", cfg->auth_mode);
        return -1;
    }
    if (!loopback)
        gh_logf(GH_LOG_WARN,
                "AUTH_MODE=open on %s: anyone who reaches this address may use, "
                "read and correct everything",
                cfg->http.host);
    return 0;
}

int gh_cli_serve(int argc, char **argv)
{
    struct service s;
    struct gh_http_server *srv = NULL;
    struct gh_auth *auth = NULL;
    struct gh_err err = {0};
    struct gh_app app;
    char why[256] = "";
    int next, rc, sig, required;

    memset(&s, 0, sizeof s);
    rc = gh_config_load(&s.cfg, argc, argv, serve_usage, &next);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (next < argc) {
        fprintf(stderr, "gymhelper serve: unexpected argument '%s'\n", argv[next]);
        return 2;
    }
    gh_log_setup(s.cfg.log_level, s.cfg.log_format);
    required = auth_required(&s.cfg);
    if (required < 0)
        return 2;
    if (service_open(&s, 1) != GH_OK)
        return 1;
    if (gh_auth_new(&s.cfg.auth, s.store, &auth, &err) != GH_OK) {
        fprintf(stderr, "gymhelper: %s\n", err.msg);
        service_close(&s);
        return 1;
    }
    gh_auth_use_redis(auth, s.redis); /* revocations reach the other instances through it too */
    memset(&app, 0, sizeof app);
    app.auth = auth;
    app.auth_required = required;
    app.pipeline = s.pipeline;
    app.store = s.store;
    app.lru = s.lru;
    app.redis = s.redis;
    app.provider = s.provider;
    app.cat = s.cat;
    app.limits = s.limits;
    app.proxies = s.proxies;
    app.confidence_threshold = s.cfg.pipeline.confidence_threshold;
    app.shadow_rate = s.cfg.provider.shadow_rate;
    app.max_body = s.cfg.pipeline.lim.max_bytes + MULTIPART_OVERHEAD;
    app.started_at = (int64_t)time(NULL);
    purge(&s);
    if (gh_http_start(&s.cfg.http, &app, &srv, &err) != GH_OK) {
        fprintf(stderr, "gymhelper: %s\n", err.msg);
        gh_auth_free(auth);
        service_close(&s);
        return 1;
    }
    gh_logf(GH_LOG_INFO, "AUTH_MODE=%s%s", required ? "required" : "open",
            s.cfg.auth.allow_signup ? ", sign-up allowed" : "");
    if (!s.provider->ops->ready(s.provider, why, sizeof why))
        gh_logf(GH_LOG_WARN, "%s", why);
    if (s.redis)
        gh_logf(GH_LOG_INFO, "redis hot layer at %s (TTL %ld s, timeout %ld ms)",
                gh_redis_address(s.redis), s.cfg.redis_ttl_s, s.cfg.redis_timeout_ms);
    gh_logf(GH_LOG_INFO,
            "gymhelper listening on http://%s:%d (store %s, provider %s, %zu "
            "equipment types)",
            s.cfg.http.host, gh_http_port(srv), gh_store_backend(s.store), s.provider->name,
            gh_catalogue_count(s.cat));
    printf("listening on http://%s:%d\n", s.cfg.http.host, gh_http_port(srv));
    fflush(stdout);
    sig = wait_for_stop(&s);
    gh_logf(GH_LOG_INFO, "received %s; finishing requests in progress",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    gh_http_stop(srv, s.cfg.http.shutdown_grace_s * 1000);
    gh_auth_free(auth);
    service_close(&s);
    gh_logf(GH_LOG_INFO, "stopped cleanly");
    return 0;
}

static const char analyze_usage[] =
    "usage: gymhelper analyze [--json] [SETTINGS] FILE...\n"
    "Identifies the equipment in each photo through the same pipeline and cache as the\n"
    "server, and prints a card (name, confidence, muscles, steps, tips) or, with --json, the\n"
    "API's JSON answer, one per line.\n";

static void print_list(const char *title, json_t *arr, int numbered)
{
    size_t i;
    json_t *v;

    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return;
    printf("%s\n", title);
    json_array_foreach(arr, i, v)
    {
        if (numbered)
            printf("  %zu. %s\n", i + 1, json_string_value(v));
        else
            printf("  - %s\n", json_string_value(v));
    }
}

static void print_card(const char *path, const char *json)
{
    json_t *doc = json_loads(json, 0, NULL), *eq, *alt;
    size_t i;

    if (!doc) {
        printf("%s\n", json);
        return;
    }
    eq = json_object_get(doc, "equipment");
    printf("== %s\n", path);
    if (json_is_object(eq)) {
        printf("%s (%.0f%% sure%s)\n", json_string_value(json_object_get(eq, "name")),
               100 * json_number_value(json_object_get(doc, "confidence")),
               json_is_true(json_object_get(doc, "cached")) ? ", from cache" : "");
        printf("%s\n", json_string_value(json_object_get(eq, "description")));
        print_list("Primary muscles:", json_object_get(eq, "primary_muscles"), 0);
        print_list("Secondary muscles:", json_object_get(eq, "secondary_muscles"), 0);
        print_list("Setup:", json_object_get(eq, "setup"), 0);
        print_list("Steps:", json_object_get(eq, "instructions"), 1);
        print_list("Safety:", json_object_get(eq, "safety_tips"), 0);
        print_list("Common mistakes:", json_object_get(eq, "common_mistakes"), 0);
    } else {
        printf("Not sure what this is.");
        if (json_array_size(json_object_get(doc, "candidates")))
            printf(" It may be:");
        printf("\n");
        json_array_foreach(json_object_get(doc, "candidates"), i, alt)
            printf("  - %s (%.0f%%)\n", json_string_value(json_object_get(alt, "name")),
                   100 * json_number_value(json_object_get(alt, "confidence")));
    }
    json_decref(doc);
}

static int analyze_one(struct service *s, const char *path, int as_json, int n)
{
    struct gh_analyze_request req;
    struct gh_analysis a;
    struct gh_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    char rid[32];
    int rc;

    rc = gh_file_read(path, s->cfg.pipeline.lim.max_bytes, &buf, &len, &err);
    if (rc == GH_OK) {
        memset(&req, 0, sizeof req);
        snprintf(rid, sizeof rid, "cli-%d", n);
        req.body = buf;
        req.len = len;
        req.declared = gh_image_format_from_filename(path);
        req.top_k = GH_PROVIDER_MAX_ALTS;
        req.request_id = rid;
        rc = gh_pipeline_analyze(s->pipeline, &req, &a, &err);
    }
    if (rc) {
        fprintf(stderr, "gymhelper: %s: %s [%s]\n", path, err.msg, gh_err_name(err.code));
    } else {
        if (as_json)
            printf("%s\n", a.json);
        else
            print_card(path, a.json);
        gh_analysis_fini(&a);
    }
    gh_free(buf);
    return rc;
}

int gh_cli_analyze(int argc, char **argv)
{
    struct service s;
    int next, rc, as_json = 0, failed = 0, first;

    memset(&s, 0, sizeof s);
    /* --json is ours; the rest are settings. */
    for (first = 1; first < argc && strcmp(argv[first], "--json") != 0; first++)
        ;
    if (first < argc) {
        as_json = 1;
        memmove(argv + first, argv + first + 1, (size_t)(argc - first - 1) * sizeof *argv);
        argc--;
    }
    rc = gh_config_load(&s.cfg, argc, argv, analyze_usage, &next);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (next >= argc) {
        fprintf(stderr, "gymhelper analyze: no FILE given\n");
        return 2;
    }
    gh_log_setup(s.cfg.log_level, s.cfg.log_format);
    if (service_open(&s, 1) != GH_OK)
        return 1;
    for (int i = next; i < argc; i++)
        failed |= analyze_one(&s, argv[i], as_json, i - next + 1) != GH_OK;
    service_close(&s);
    return failed;
}

static const char cache_usage[] =
    "usage: gymhelper cache stats|purge [SETTINGS]\n"
    "stats: what the cache and history hold, as JSON. purge: delete expired entries, and\n"
    "history older than HISTORY_RETENTION_DAYS.\n";

static const char db_usage[] = "usage: gymhelper db migrate [SETTINGS]\n"
                               "Creates or upgrades the database schema and loads the "
                               "catalogue; prints the schema version.\n";

/* ',"redis":{...}' for the stats line when REDIS_URL is set, else "": where the layer is and
 * how many keys it holds (a SCAN of our namespace; approximate while other instances write). */
static void redis_stats_json(struct gh_redis *r, char *buf, size_t cap)
{
    struct gh_err err = {0};
    int64_t n_sha = 0, n_ph = 0;
    json_t *doc;
    size_t n;

    buf[0] = '\0';
    if (!r)
        return;
    if (gh_redis_count_keys(r, &n_sha, &n_ph, &err) == GH_OK)
        doc = json_pack("{s:s, s:s, s:I, s:I}", "address", gh_redis_address(r), "state", "ok",
                        "sha_keys", (json_int_t)n_sha, "phash_keys", (json_int_t)n_ph);
    else
        doc = json_pack("{s:s, s:s, s:s}", "address", gh_redis_address(r), "state", "down",
                        "detail", err.msg);
    memcpy(buf, ",\"redis\":", 9);
    n = doc ? json_dumpb(doc, buf + 9, cap - 10, JSON_COMPACT | JSON_PRESERVE_ORDER) : 0;
    buf[n > 0 && n < cap - 10 ? 9 + n : 0] = '\0';
    json_decref(doc);
}

static int maintenance(int argc, char **argv, const char *usage, const char *const *verbs)
{
    struct service s;
    struct gh_store_stats st;
    struct gh_err err = {0};
    const char *verb;
    char redis_json[512];
    int next, rc;
    int64_t n = 0;

    memset(&s, 0, sizeof s);
    rc = gh_config_load(&s.cfg, argc, argv, usage, &next);
    if (rc)
        return rc > 0 ? 0 : 2;
    verb = next < argc ? argv[next] : "";
    if (next + 1 != argc || (strcmp(verb, verbs[0]) && (!verbs[1] || strcmp(verb, verbs[1])))) {
        fputs(usage, stderr);
        return 2;
    }
    gh_log_setup(s.cfg.log_level, s.cfg.log_format);
    if (service_open(&s, 0) != GH_OK)
        return 1;
    if (strcmp(verb, "purge") == 0) {
        struct gh_store_pruned pr = {0};
        int64_t now = (int64_t)time(NULL);

        rc = gh_store_purge_expired(s.store, now, &n, &err);
        if (rc == GH_OK)
            printf("purged %lld expired entries\n", (long long)n);
        if (rc == GH_OK && s.cfg.history_retention_s > 0) {
            rc = gh_store_prune_history(s.store, now - s.cfg.history_retention_s, &pr, &err);
            if (rc == GH_OK && pr.identifications + pr.feedback + pr.quality_samples > 0)
                printf("forgot %lld analyses, %lld corrections and %lld quality samples older "
                       "than %lld days\n",
                       (long long)pr.identifications, (long long)pr.feedback,
                       (long long)pr.quality_samples,
                       (long long)(s.cfg.history_retention_s / 86400));
        }
    } else if (strcmp(verb, "stats") == 0) {
        rc = gh_store_stats(s.store, (int64_t)time(NULL), &st, &err);
        redis_stats_json(s.redis, redis_json, sizeof redis_json);
        if (rc == GH_OK)
            printf("{\"backend\":\"%s\",\"entries\":%lld,\"live_entries\":%lld,\"expired\":%lld,"
                   "\"hits\":%lld,\"identifications\":%lld,\"provider_calls\":%lld,"
                   "\"equipment\":%lld,\"catalogue_version\":\"%s\",\"schema_version\":%d%s}\n",
                   gh_store_backend(s.store), (long long)st.entries, (long long)st.live_entries,
                   (long long)st.expired, (long long)st.total_hits, (long long)st.identifications,
                   (long long)st.provider_calls, (long long)st.equipment, st.catalogue_version,
                   st.schema_version, redis_json);
    } else {
        rc = gh_store_schema_version(s.store, &err);
        if (rc > 0)
            printf("schema version %d, catalogue %s (%zu equipment types)\n", rc,
                   gh_catalogue_version(s.cat), gh_catalogue_count(s.cat));
        rc = rc > 0 ? GH_OK : rc;
    }
    if (rc)
        fprintf(stderr, "gymhelper: %s\n", err.msg);
    service_close(&s);
    return rc ? 1 : 0;
}

static const char quality_usage[] =
    "usage: gymhelper quality [--precision P] [SETTINGS]\n"
    "How often CLIP's own answer agreed with the paid model (or a person's correction), by\n"
    "CLIP's confidence, and the CONFIDENCE_THRESHOLD that would give precision P (default\n"
    "0.95) with the paid calls it would save. SHADOW_SAMPLE_RATE and CONFIDENCE_THRESHOLD are\n"
    "read as the service reads them.\n";

/* --precision P is taken out of argv; the rest are settings. */
static int take_precision(int *argc, char **argv, double *p)
{
    for (int i = 1; i < *argc; i++) {
        char *end = NULL;

        if (strcmp(argv[i], "--precision") != 0)
            continue;
        if (i + 1 >= *argc || (*p = strtod(argv[i + 1], &end), !*argv[i + 1] || *end) ||
            !(*p > 0 && *p <= 1)) {
            fprintf(stderr, "gymhelper: --precision wants a number above 0 and at most 1\n");
            return -1;
        }
        memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 2) * sizeof *argv);
        *argc -= 2;
        argv[*argc] = NULL;
        return 0;
    }
    return 0;
}

static void print_quality(const struct gh_quality_report *r)
{
    printf("%-11s %8s %9s %7s %6s %9s\n", "confidence", "samples", "escalated", "shadow", "agree",
           "corrected");
    for (int i = 0; i < GH_QUALITY_BUCKETS; i++) {
        const struct gh_quality_bucket *b = &r->b[i];
        int64_t n = b->escalated + b->shadow;

        if (n)
            printf("%.2f-%.2f   %8lld %9lld %7lld %5.0f%% %9lld\n", (double)i / GH_QUALITY_BUCKETS,
                   (double)(i + 1) / GH_QUALITY_BUCKETS, (long long)n, (long long)b->escalated,
                   (long long)b->shadow,
                   100.0 * (double)(b->agree_escalated + b->agree_shadow) / (double)n,
                   (long long)b->corrected);
    }
    printf("samples %lld, CLIP agreed on %lld; CONFIDENCE_THRESHOLD now %.2f, SHADOW_SAMPLE_RATE "
           "%.2f\n",
           (long long)r->samples, (long long)r->agree, r->current_threshold, r->shadow_rate);
    if (r->threshold < 0)
        printf("no threshold reaches precision %.2f on these samples: keep escalating\n",
               r->precision_target);
    else
        printf("threshold for precision %.2f: %.2f (measured %.3f); of %lld escalations, %lld "
               "would not have needed a paid call; about %.0f sure answers below it would have\n",
               r->precision_target, r->threshold, r->precision, (long long)r->escalations,
               (long long)r->escalations_saved, r->extra_paid_calls);
}

int gh_cli_quality(int argc, char **argv)
{
    struct service s;
    struct gh_quality_report r;
    struct gh_err err = {0};
    int next, rc;

    memset(&s, 0, sizeof s);
    memset(&r, 0, sizeof r);
    r.precision_target = 0.95;
    if (take_precision(&argc, argv, &r.precision_target))
        return 2;
    rc = gh_config_load(&s.cfg, argc, argv, quality_usage, &next);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (next != argc) {
        fputs(quality_usage, stderr);
        return 2;
    }
    gh_log_setup(s.cfg.log_level, s.cfg.log_format);
    if (service_open(&s, 0) != GH_OK)
        return 1;
    rc = gh_store_quality_buckets(s.store, 0, r.b, &err);
    if (rc == GH_OK) {
        r.current_threshold = s.cfg.pipeline.confidence_threshold;
        r.shadow_rate = s.cfg.provider.shadow_rate;
        gh_quality_compute(&r);
        print_quality(&r);
    } else {
        fprintf(stderr, "gymhelper: %s\n", err.msg);
    }
    service_close(&s);
    return rc ? 1 : 0;
}

int gh_cli_cache(int argc, char **argv)
{
    static const char *const verbs[] = {"stats", "purge"};

    return maintenance(argc, argv, cache_usage, verbs);
}

int gh_cli_db(int argc, char **argv)
{
    static const char *const verbs[] = {"migrate", NULL};

    return maintenance(argc, argv, db_usage, verbs);
}
