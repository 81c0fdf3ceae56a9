/* SPDX-License-Identifier: MIT */
/* Admin review of people's corrections (issue 11): GET /api/v1/corrections?status=&limit=&before=
 * (newest first) and POST /api/v1/corrections/{id}/accept|reject. The auth gate lets only
 * admins (or keys with the admin scope) reach these; the check is repeated here. */
#include "internal.h"

#include "gh/store_corrections.h"
#include "gh/str.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_DEFAULT 50
#define PAGE_MAX     100

static json_t *iso_time(int64_t t)
{
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

json_t *gh_http_correction_json(const struct gh_correction *c)
{
    /* "user": the person's name; a key that acts for nobody shows as its identity key */
    return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s?, s:I, s:s, s:o}", "id", (json_int_t)c->id,
                     "identification_id", (json_int_t)c->identification_id, "sha256", c->sha256,
                     "user", c->username[0] ? c->username : c->owner, "slug", c->slug,
                     "previous_slug", c->previous_slug[0] ? c->previous_slug : NULL, "votes",
                     (json_int_t)c->votes, "status", gh_correction_status_name(c->status),
                     "created_at", iso_time(c->created_at));
}

static int need_admin(struct gh_http_request *req)
{
    if (gh_http_is_admin(req))
        return 0;
    gh_http_forbidden(req, "reviewing corrections needs an admin");
    return 1;
}

static int gh_route_corrections_work(struct gh_http_request *req)
{
    struct gh_correction page[PAGE_MAX + 1]; /* one more tells whether a next page exists */
    const char *status_s = gh_http_arg(req, "status"), *limit_s = gh_http_arg(req, "limit"),
               *before_s = gh_http_arg(req, "before");
    long long limit = PAGE_DEFAULT, before = 0;
    struct gh_err err = {0};
    int status = -1, more;
    json_t *items;
    size_t n = 0;

    if (need_admin(req))
        return 0;
    if (status_s && (status = gh_correction_status_parse(status_s)) < 0) {
        gh_http_problem(req, 400, "invalid_parameter",
                        "status must be pending, accepted, rejected or applied");
        return 0;
    }
    if (limit_s && gh_str_to_whole(limit_s, 1, PAGE_MAX, &limit) != 0) {
        gh_http_problem(req, 400, "invalid_parameter", "limit must be a whole number from 1 to %d",
                        PAGE_MAX);
        return 0;
    }
    if (before_s && gh_str_to_whole(before_s, 1, INT64_MAX, &before) != 0) {
        gh_http_problem(req, 400, "invalid_parameter",
                        "before must be the id of a correction (a positive number, from next)");
        return 0;
    }
    if (gh_store_correction_list(req->app->store, status, before, (size_t)limit + 1, page, &n,
                                 &err)) {
        gh_http_problem_from_store_err(req, &err);
        return 0;
    }
    more = n > (size_t)limit;
    if (more)
        n = (size_t)limit;
    items = json_array();
    for (size_t i = 0; items && i < n; i++)
        if (json_array_append_new(items, gh_http_correction_json(&page[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    gh_http_json_doc(req, 200,
                     items ? json_pack("{s:o, s:o}", "items", items, "next",
                                       more ? json_integer(page[n - 1].id) : json_null())
                           : NULL);
    return 0;
}

/* POST /api/v1/corrections/{id}/accept or /reject. */
static int review(struct gh_http_request *req, int accept)
{
    const char *s = req->url + strlen("/api/v1/corrections/");
    struct gh_correction c;
    struct gh_err err = {0};
    char id[32];
    size_t n = strcspn(s, "/");
    long long v = 0;
    int rc;

    if (need_admin(req))
        return 0;
    snprintf(id, sizeof id, "%.*s", (int)(n < sizeof id ? n : sizeof id - 1), s);
    rc = gh_str_to_whole(id, 1, INT64_MAX, &v) == 0
             ? gh_pipeline_review(req->app->pipeline, (int64_t)v, accept, &c, &err)
             : GH_ENOTFOUND;
    if (rc == GH_ENOTFOUND)
        gh_http_problem(req, 404, "correction_not_found",
                        "no correction '%.20s'; GET /api/v1/corrections lists them", id);
    else if (rc == GH_ECONFLICT)
        gh_http_problem(req, 409, "conflict", "%s", err.msg);
    else if (rc)
        gh_http_problem_from_store_err(req, &err);
    else
        gh_http_json_doc(req, 200, gh_http_correction_json(&c));
    return 0;
}

static int accept_work(struct gh_http_request *req)
{
    return review(req, 1);
}

static int reject_work(struct gh_http_request *req)
{
    return review(req, 0);
}

/* Store reads and writes: on a light worker. */
int gh_route_corrections(struct gh_http_request *req)
{
    return gh_http_defer(req, gh_route_corrections_work, GH_HTTP_POOL_LIGHT);
}

int gh_route_correction_accept(struct gh_http_request *req)
{
    return gh_http_defer(req, accept_work, GH_HTTP_POOL_LIGHT);
}

int gh_route_correction_reject(struct gh_http_request *req)
{
    return gh_http_defer(req, reject_work, GH_HTTP_POOL_LIGHT);
}
