/* SPDX-License-Identifier: MIT */
/* GET /health and /api/v1/health: whether this instance can do its job, and why not. 200
 * while the store answers (a missing provider is "degraded": the catalogue and cached answers
 * still work); 503 when the store does not. */
#include "internal.h"

#include "gh_version.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

int gh_route_health(struct gh_http_request *req)
{
    struct gh_app *app = req->app;
    struct gh_err err = {0};
    char why[256] = "";
    int ready = app->provider->ops->ready(app->provider, why, sizeof why);
    int schema = gh_store_schema_version(app->store, &err);
    int store_ok = schema > 0;
    const char *status = !store_ok ? "unavailable" : ready ? "ok" : "degraded";
    json_t *doc;

    doc = json_pack(
        "{s:s, s:s, s:I, s:{s:s, s:s, s:b, s:s}, s:{s:s, s:b, s:i, s:s}, "
        "s:{s:b, s:s}, s:{s:s, s:I}}",
        "status", status, "version", GH_VERSION, "uptime_s",
        (json_int_t)(time(NULL) - app->started_at), "provider", "name", app->provider->name,
        "model", app->provider->model ? app->provider->model : "", "ready", ready, "detail",
        ready ? "ready" : why, "store", "backend", gh_store_backend(app->store), "ok", store_ok,
        "schema_version", store_ok ? schema : 0, "detail", store_ok ? "ok" : err.msg, "redis",
        "configured", 0, "detail", "not configured (REDIS_URL unset)", "catalogue", "version",
        gh_catalogue_version(app->cat), "equipment", (json_int_t)gh_catalogue_count(app->cat));
    gh_http_json_doc(req, store_ok ? 200 : 503, doc);
    return 0;
}
