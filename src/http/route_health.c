/* SPDX-License-Identifier: MIT */
/* GET /health and /api/v1/health: whether this instance can do its job, and why not. Each
 * component reports a state; the overall status is the worst of them: 200 "degraded" when one
 * fails and the instance still answers (store down: the memory and Redis layers and the
 * provider still work, and the store is reconnected without a restart; no provider ready:
 * catalogue and cached answers still work; Redis configured but down: the store answers
 * instead), 503 "unavailable" when neither the store nor a provider is there, else 200 "ok".
 * 503 is what makes a load balancer or an orchestrator take the instance out. */
#include "internal.h"

#include "gh/redis.h"
#include "gh_version.h"

#include "gh/alloc.h"
#include "gh/clock.h"

#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* The last answer a worker made, for the I/O thread to repeat while the server is crowded
 * (a flood): /health then answers without queueing behind anything, at most SNAPSHOT_MS old.
 * Otherwise every request checks afresh (a state change shows at once). */
#define SNAPSHOT_MS 1000

static struct {
    pthread_mutex_t mu;
    char *body; /* gh_malloc'd; NULL until the first check */
    size_t len;
    int status;
    double at_ms;
} snap = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0};

static void snapshot_put(int status, const json_t *doc)
{
    /* jansson allocates with malloc, which gh_free releases (as gh_http_json_doc relies on) */
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    size_t len = text ? strlen(text) : 0;

    if (!text)
        return;
    pthread_mutex_lock(&snap.mu);
    gh_free(snap.body);
    snap.body = text;
    snap.len = len;
    snap.status = status;
    snap.at_ms = gh_mono_ms();
    pthread_mutex_unlock(&snap.mu);
}

/* 1 when req was answered from a fresh enough snapshot. */
static int snapshot_answer(struct gh_http_request *req)
{
    char *copy = NULL;
    size_t len = 0;
    int status = 0;

    pthread_mutex_lock(&snap.mu);
    if (snap.body && gh_mono_ms() - snap.at_ms < SNAPSHOT_MS && (copy = gh_malloc(snap.len + 1))) {
        memcpy(copy, snap.body, snap.len + 1);
        len = snap.len;
        status = snap.status;
    }
    pthread_mutex_unlock(&snap.mu);
    if (!copy)
        return 0;
    gh_http_json(req, status, copy, len);
    req->resp.no_store = 1;
    return 1;
}

/* Ordered by severity: the overall status is the largest. */
enum health {
    HEALTH_OK = 0,
    HEALTH_DEGRADED,
    HEALTH_UNAVAILABLE,
};

static const char *const health_names[] = {"ok", "degraded", "unavailable"};

/* A component failing costs this much (see the top of the file). A new
 * component (a second store, a shared rate limiter) adds one worst() line in gh_route_health. */
static enum health worst(enum health h, int ok, enum health if_failed)
{
    return !ok && if_failed > h ? if_failed : h;
}

static int gh_route_health_work(struct gh_http_request *req)
{
    struct gh_app *app = req->app;
    struct gh_err err = {0};
    char why[256] = "", redis_detail[200] = "not configured (REDIS_URL unset)";
    int ready = app->provider->ops->ready(app->provider, why, sizeof why);
    int schema = app->pipeline ? gh_pipeline_store_check(app->pipeline, &err)
                               : gh_store_schema_version(app->store, &err);
    int store_ok = schema > 0;
    const char *redis = "disabled";
    enum health h = HEALTH_OK;
    json_t *doc;

    if (app->redis)
        redis = gh_redis_check(app->redis, redis_detail, sizeof redis_detail) == GH_REDIS_STATE_OK
                    ? "ok"
                    : "down";
    h = worst(h, store_ok, HEALTH_DEGRADED);
    h = worst(h, store_ok || ready, HEALTH_UNAVAILABLE);
    h = worst(h, ready, HEALTH_DEGRADED);
    h = worst(h, strcmp(redis, "down") != 0, HEALTH_DEGRADED);
    doc = json_pack(
        "{s:s, s:s, s:I, s:{s:s, s:s, s:b, s:s}, s:{s:s, s:b, s:i, s:s}, "
        "s:s, s:s, s:{s:s, s:I}}",
        "status", health_names[h], "version", GH_VERSION, "uptime_s",
        (json_int_t)(time(NULL) - app->started_at), "provider", "name", app->provider->name,
        "model", app->provider->model ? app->provider->model : "", "ready", ready, "detail",
        ready ? "ready" : why, "store", "backend", gh_store_backend(app->store), "ok", store_ok,
        "schema_version", store_ok ? schema : 0, "detail", store_ok ? "ok" : err.msg, "redis",
        redis, "redis_detail", redis_detail, "catalogue", "version", gh_catalogue_version(app->cat),
        "equipment", (json_int_t)gh_catalogue_count(app->cat));
    /* which kernels the CLIP engine runs (ISA, precision): a slow path is visible, not silent */
    if (doc && app->provider->kernels)
        json_object_set_new(json_object_get(doc, "provider"), "kernels",
                            json_string(app->provider->kernels));
    snapshot_put(h == HEALTH_UNAVAILABLE ? 503 : 200, doc);
    gh_http_json_doc(req, h == HEALTH_UNAVAILABLE ? 503 : 200, doc);
    return 0;
}

/* The store and Redis checks block: on a light worker, unless a flood is on and a check made
 * within the last second can answer from memory. */
int gh_route_health(struct gh_http_request *req)
{
    if (gh_http_crowded() && snapshot_answer(req))
        return 0;
    return gh_http_defer(req, gh_route_health_work, GH_HTTP_POOL_LIGHT);
}
