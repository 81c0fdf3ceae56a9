/* SPDX-License-Identifier: MIT */
/* GET /api/v1/cache/stats: what the cache holds and how often each layer answered. */
#include "internal.h"

#include "gh/redis.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

static json_t *iso_or_null(int64_t t)
{
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0)
        return json_null();
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static double rate(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0.0;
}

/* The visual memory (README "Visual memory"): answers from a remembered photo, photos
 * remembered by this instance, and what its in-process index holds now (every instance's
 * confirmed photos). enabled is false without CLIP or with VISUAL_MEMORY_MAX=0. */
static json_t *visual_layer(const struct gh_pipeline_stats *ps)
{
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I}", "enabled", ps->visual_enabled, "hits",
                     (json_int_t)ps->visual_hits, "remembered", (json_int_t)ps->visual_remembered,
                     "entries", (json_int_t)ps->visual_entries, "bytes_per_entry",
                     (json_int_t)ps->visual_bytes_per_entry, "refresh_errors",
                     (json_int_t)ps->visual_refresh_errors);
}

/* The Redis layer's counters; all 0 and "disabled" without REDIS_URL. hits counts both keys
 * (the pipeline's count, as for the other layers), phash_hits the part found by pHash. */
static json_t *redis_layer(struct gh_app *app, const struct gh_pipeline_stats *ps)
{
    struct gh_redis_stats rs;

    memset(&rs, 0, sizeof rs);
    if (app->redis)
        gh_redis_stats(app->redis, &rs);
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "state",
                     !app->redis ? "disabled"
                     : rs.down   ? "down"
                                 : "ok",
                     "hits", (json_int_t)ps->redis_hits, "phash_hits",
                     (json_int_t)ps->redis_phash_hits, "misses", (json_int_t)rs.misses,
                     "bad_values", (json_int_t)rs.bad_values, "errors", (json_int_t)rs.errors,
                     "skipped", (json_int_t)rs.skipped, "writes", (json_int_t)rs.writes, "outages",
                     (json_int_t)rs.outages);
}

static int gh_route_cache_stats_work(struct gh_http_request *req)
{
    struct gh_app *app = req->app;
    struct gh_store_stats ss;
    struct gh_pipeline_stats ps;
    struct gh_lru_stats ls;
    struct gh_store_hit_counters hc;
    struct gh_err err = {0};
    uint64_t hits, lookups;
    json_t *doc;

    memset(&ls, 0, sizeof ls);
    if (gh_store_stats(app->store, (int64_t)time(NULL), &ss, &err) != GH_OK) {
        gh_http_problem_from_store_err(req, &err);
        return 0;
    }
    gh_pipeline_stats(app->pipeline, &ps);
    if (app->lru)
        gh_lru_stats(app->lru, &ls);
    /* a visual-memory answer is a hit too: no provider call (and not counted as a miss) */
    hits = ps.memory_hits + ps.redis_hits + ps.exact_hits + ps.near_hits + ps.coalesced +
           ps.visual_hits;
    lookups = hits + ps.misses;
    doc = json_pack(
        "{s:I, s:I, s:I, s:o, s:o, s:f,"
        " s:{s:{s:I, s:I, s:I, s:I}, s:o, s:{s:I}, s:{s:I}, s:{s:I, s:I}, s:o},"
        " s:I, s:I, s:I, s:{s:I, s:I}, s:{s:I, s:I, s:I}, s:s}",
        "entries", (json_int_t)ss.entries, "live_entries", (json_int_t)ss.live_entries, "expired",
        (json_int_t)ss.expired, "oldest", iso_or_null(ss.oldest_created_at), "newest",
        iso_or_null(ss.newest_created_at), "hit_rate", rate(hits, lookups), "layers", "memory",
        "hits", (json_int_t)ps.memory_hits, "entries", (json_int_t)ls.entries, "bytes",
        (json_int_t)ls.bytes, "evictions", (json_int_t)ls.evictions, "redis", redis_layer(app, &ps),
        "exact", "hits", (json_int_t)ps.exact_hits, "near", "hits", (json_int_t)ps.near_hits,
        "coalesced", "hits", (json_int_t)ps.coalesced, "waiting", (json_int_t)ps.coalescing,
        "visual", visual_layer(&ps), "misses", (json_int_t)ps.misses, "requests",
        (json_int_t)ps.requests, "provider_errors", (json_int_t)ps.provider_errors, "tokens",
        "prompt", (json_int_t)ss.prompt_tokens, "completion", (json_int_t)ss.completion_tokens,
        "history", "identifications", (json_int_t)ss.identifications, "provider_calls",
        (json_int_t)ss.provider_calls, "stored_hits", (json_int_t)ss.total_hits, "backend",
        gh_store_backend(app->store));
    gh_store_hit_counters(app->store, &hc); /* gh_store_stats has just flushed them */
    if (doc)
        json_object_set_new(doc, "hit_writes",
                            json_pack("{s:I, s:I, s:I, s:I}", "hits", (json_int_t)hc.hits,
                                      "rows_written", (json_int_t)hc.rows_written, "flushes",
                                      (json_int_t)hc.flushes, "dropped", (json_int_t)hc.dropped));
    gh_http_json_doc(req, 200, doc);
    return 0;
}

/* The store aggregates whole tables: on a light worker. */
int gh_route_cache_stats(struct gh_http_request *req)
{
    return gh_http_defer(req, gh_route_cache_stats_work, GH_HTTP_POOL_LIGHT);
}
