/* SPDX-License-Identifier: MIT */
/* GET /metrics: the Prometheus text exposition (format 0.0.4) of gh/metrics.h's counters plus
 * what other modules already count, read at scrape time (cache layers, LRU, catalogue). The
 * store's own statistics are left out: they scan whole tables on every call. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/clip.h"
#include "gh/log.h"
#include "gh/metrics.h"
#include "gh/redis.h"
#include "gh_version.h"

#include <openssl/opensslv.h> /* version macros only */
#include <stdio.h>
#include <string.h>
#include <vips/version.h> /* version macros only: no libvips API outside src/image */

/* Far above a real scrape (~20 KB), low enough that a runaway cannot exhaust memory. */
#define METRICS_MAX (4u << 20)

void gh_http_set_route_label(struct gh_http_request *req, const char *path, int prefix,
                             const char *suffix)
{
    /* Paths no API route claims are the embedded files (one label for all) or nothing. */
    if (!path)
        path = gh_http_asset(req->url) ? "/{asset}" : "other";
    snprintf(req->route_label, sizeof req->route_label, "%s%s%s", path, prefix ? "{id}" : "",
             prefix && suffix ? suffix : "");
}

void gh_http_metrics_end(const struct gh_http_request *req, const struct gh_log_request *line)
{
    gh_metrics_http_end(req->route_label[0] ? req->route_label : "other", req->method, line->status,
                        line->error_code, line->duration_ms / 1e3);
}

/* A family with one unlabelled sample; type is "counter" or "gauge". */
static void write_one(struct gh_buf *b, const char *name, const char *type, const char *help,
                      double v)
{
    gh_metrics_write_family(b, name, type, help);
    gh_metrics_write_sample(b, name, NULL, v);
}

static void write_cache(struct gh_buf *b, struct gh_app *app)
{
    static const char hits[] = "gymhelper_cache_hits_total";
    static const char *const layers[] = {"memory", "redis", "exact", "near", "visual", "coalesced"};
    struct gh_pipeline_stats ps;

    gh_pipeline_stats(app->pipeline, &ps);
    const uint64_t counts[] = {ps.memory_hits, ps.redis_hits,  ps.exact_hits,
                               ps.near_hits,   ps.visual_hits, ps.coalesced};
    gh_metrics_write_family(b, hits, "counter",
                            "Analyses answered from a cache layer: memory (in-process LRU), redis "
                            "(shared, same bytes or same pHash), exact (store, same bytes), near "
                            "(store, similar pHash), visual (a remembered photo's CLIP embedding), "
                            "coalesced (waited for an identical upload's provider call).");
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const char *labels[] = {"layer", layers[i], NULL};

        gh_metrics_write_sample(b, hits, labels, (double)counts[i]);
    }
    write_one(b, "gymhelper_cache_misses_total", "counter",
              "Analyses that went to the AI provider.", (double)ps.misses);
    write_one(b, "gymhelper_quality_samples_total", "counter",
              "Photos whose CLIP answer was recorded beside a paid model's (escalated or shadow "
              "samples); /api/v1/quality has them by confidence.",
              (double)ps.quality_samples);
    write_one(b, "gymhelper_quality_agreements_total", "counter",
              "Quality samples where CLIP and the paid model named the same equipment.",
              (double)ps.quality_agree);
    write_one(b, "gymhelper_visual_memory_added_total", "counter",
              "Photos this instance added to the visual memory with a confirmed label.",
              (double)ps.visual_remembered);
}

static void write_lru(struct gh_buf *b, struct gh_lru *lru)
{
    struct gh_lru_stats ls;

    memset(&ls, 0, sizeof ls); /* no memory layer: all 0 */
    if (lru)
        gh_lru_stats(lru, &ls);
    write_one(b, "gymhelper_lru_entries", "gauge", "Answers in the in-process LRU cache.",
              (double)ls.entries);
    write_one(b, "gymhelper_lru_bytes", "gauge",
              "Bytes the in-process LRU cache accounts for (keys, answers, overhead).",
              (double)ls.bytes);
    write_one(b, "gymhelper_lru_evictions_total", "counter",
              "Answers the in-process LRU cache dropped to stay within its bounds.",
              (double)ls.evictions);
}

/* Only with REDIS_URL: a series that can never move is noise. */
static void write_redis(struct gh_buf *b, struct gh_redis *redis)
{
    struct gh_redis_stats rs;

    if (!redis)
        return;
    gh_redis_stats(redis, &rs);
    write_one(b, "gymhelper_redis_up", "gauge",
              "1 while the Redis layer is in use, 0 while its circuit breaker skips it.",
              rs.down ? 0 : 1);
    write_one(b, "gymhelper_redis_phash_hits_total", "counter",
              "Redis hits found by pHash (a copy of a photo another instance analysed).",
              (double)rs.phash_hits);
    write_one(b, "gymhelper_redis_errors_total", "counter",
              "Redis commands that failed: timeouts, refused or lost connections.",
              (double)rs.errors);
    write_one(b, "gymhelper_redis_skipped_total", "counter",
              "Redis operations skipped while the circuit breaker was open.", (double)rs.skipped);
    write_one(b, "gymhelper_redis_bad_values_total", "counter",
              "Redis values that were not a gymhelper answer document (read as misses).",
              (double)rs.bad_values);
    write_one(b, "gymhelper_redis_outages_total", "counter",
              "Times the Redis circuit breaker opened.", (double)rs.outages);
}

/* The CLIP engine's image batching: passes < calls when concurrent requests shared passes. */
static void write_clip(struct gh_buf *b)
{
    struct gh_clip_batch_stats cs;

    gh_clip_batch_stats(&cs);
    write_one(b, "gymhelper_clip_image_passes_total", "counter",
              "CLIP image forward passes (each gathers up to CLIP_MAX_BATCH images).",
              (double)cs.passes);
    write_one(b, "gymhelper_clip_images_total", "counter", "Images embedded by CLIP.",
              (double)cs.images);
    write_one(b, "gymhelper_clip_image_calls_total", "counter",
              "Requests for CLIP image embeddings (several may share one pass).", (double)cs.calls);
}

/* How deep each worker pool's queue is now: a rising analysis queue says add workers or
 * instances before clients see 503 server_busy. */
static void write_queues(struct gh_buf *b)
{
    static const char name[] = "gymhelper_http_queue_waiting";
    const char *light[] = {"pool", "light", NULL}, *analysis[] = {"pool", "analysis", NULL};
    int waiting[2];

    gh_http_queue_waiting(waiting);
    gh_metrics_write_family(b, name, "gauge",
                            "Requests waiting for a worker, by pool (ANALYSIS_QUEUE caps each).");
    gh_metrics_write_sample(b, name, light, waiting[GH_HTTP_POOL_LIGHT]);
    gh_metrics_write_sample(b, name, analysis, waiting[GH_HTTP_POOL_ANALYSIS]);
}

/* Connections held and refused: under a flood, how close MAX_CONNECTIONS is and how much is
 * being turned away at accept. */
static void write_connections(struct gh_buf *b)
{
    unsigned long long refused;
    int open;

    gh_http_connections(&open, &refused);
    write_one(b, "gymhelper_http_connections", "gauge",
              "Client connections open now, from their accept to their close (MAX_CONNECTIONS "
              "and its reserve bound them).",
              open);
    write_one(b, "gymhelper_http_connections_refused_total", "counter",
              "Connections closed at accept, past MAX_CONNECTIONS or MAX_CONNECTIONS_PER_CLIENT "
              "and their reserves.",
              (double)refused);
}

static void write_process(struct gh_buf *b, struct gh_app *app)
{
    static const char info[] = "gymhelper_build_info";
    const char *labels[] = {"version", GH_VERSION,          "libvips", VIPS_VERSION,
                            "openssl", OPENSSL_VERSION_STR, NULL};

    write_one(b, "gymhelper_catalogue_equipment", "gauge",
              "Equipment types in the loaded catalogue.", (double)gh_catalogue_count(app->cat));
    write_one(b, "process_start_time_seconds", "gauge",
              "Start time of the server since the Unix epoch, in seconds.",
              (double)app->started_at);
    gh_metrics_write_family(b, info, "gauge",
                            "Always 1; the labels name the version and the library versions "
                            "it was built with.");
    gh_metrics_write_sample(b, info, labels, 1);
}

int gh_route_metrics(struct gh_http_request *req)
{
    struct gh_app *app = req->app;
    struct gh_buf b;
    size_t len = 0;
    char *text;

    gh_buf_init(&b, METRICS_MAX);
    if (gh_metrics_render(&b, app->provider ? app->provider->name : NULL) == GH_OK) {
        write_cache(&b, app);
        write_lru(&b, app->lru);
        write_redis(&b, app->redis);
        write_clip(&b);
        write_queues(&b);
        write_connections(&b);
        write_process(&b, app);
    }
    text = gh_buf_take(&b, &len);
    gh_buf_fini(&b);
    if (!text) {
        gh_http_problem(req, 503, "out_of_memory", "the server is out of memory");
        return 0;
    }
    if (!req->resp.body_static)
        gh_free(req->resp.body);
    req->resp.status = 200;
    req->resp.content_type = GH_METRICS_CONTENT_TYPE;
    req->resp.body = text;
    req->resp.len = len;
    req->resp.body_static = 0;
    req->resp.no_store = 1;
    return 0;
}
