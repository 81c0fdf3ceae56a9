/* SPDX-License-Identifier: MIT */
/* The history and the feedback loop: GET /api/v1/identifications (newest first, paged by
 * `before`), GET /api/v1/identifications/{id} and POST .../{id}/feedback {"slug": ...}. An
 * id is the history's number or the analysis's request id (what analyze answered). */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/phash.h"
#include "gh/store_auth.h"
#include "gh/store_corrections.h"
#include "gh/str.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_DEFAULT 20
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

static json_t *equipment_ref(const struct gh_catalogue *cat, const char *slug)
{
    const struct gh_equipment *q = slug[0] ? gh_catalogue_find(cat, slug) : NULL;

    if (!slug[0])
        return json_null();
    return json_pack("{s:s, s:s}", "slug", slug, "name", q ? q->name : slug);
}

static json_t *item(const struct gh_catalogue *cat, const struct gh_identification *r)
{
    char hex[GH_PHASH_HEX_LEN + 1];

    gh_phash_to_hex(r->phash, hex);
    return json_pack("{s:I, s:s, s:o, s:s, s:s, s:o, s:f, s:b, s:b, s:s?, s:i, s:s, s:s, s:f, "
                     "s:b, s:o}",
                     "id", (json_int_t)r->id, "request_id", r->request_id, "created_at",
                     iso_time(r->created_at), "sha256", r->sha256, "phash", hex, "equipment",
                     equipment_ref(cat, r->equipment_slug), "confidence", r->confidence,
                     "identified", r->identified, "cached", r->cached, "cache_layer",
                     r->cache_layer[0] ? r->cache_layer : NULL, "cache_distance", r->cache_distance,
                     "provider", r->provider, "model", r->model, "processing_ms", r->processing_ms,
                     "corrected", r->corrected_slug[0] != 0, "corrected_equipment",
                     equipment_ref(cat, r->corrected_slug));
}

/* Whose history a list shows: the caller's own; an admin's choice with ?user=NAME, else all
 * ("" lists every owner). Answers the error itself and returns -1. */
static int owner_filter(struct gh_http_request *req, char owner[GH_IDENTITY_KEY_CAP])
{
    const char *name = gh_http_arg(req, "user");
    struct gh_err err = {0};
    struct gh_user u;
    int rc;

    if (!gh_http_is_admin(req)) {
        if (name) {
            gh_http_forbidden(req, "only admins list other users' analyses (user=...)");
            return -1;
        }
        snprintf(owner, GH_IDENTITY_KEY_CAP, "%s", req->owner);
        return 0;
    }
    if (!name) {
        owner[0] = '\0';
        return 0;
    }
    rc = gh_store_user_get(req->app->store, 0, name, &u, &err);
    if (rc == GH_ENOTFOUND) {
        gh_http_problem(req, 404, "user_not_found", "no user named '%.64s'", name);
        return -1;
    }
    if (rc) {
        gh_http_problem_from_store_err(req, &err);
        return -1;
    }
    snprintf(owner, GH_IDENTITY_KEY_CAP, "user:%lld", (long long)u.id);
    return 0;
}

static int gh_route_identifications_work(struct gh_http_request *req)
{
    struct gh_identification page[PAGE_MAX + 1]; /* one more tells whether a next page exists */
    const char *limit_s = gh_http_arg(req, "limit"), *before_s = gh_http_arg(req, "before");
    long long limit = PAGE_DEFAULT, before = 0;
    struct gh_err err = {0};
    char owner[GH_IDENTITY_KEY_CAP];
    json_t *items;
    size_t n = 0;
    int more;

    if (limit_s && gh_str_to_whole(limit_s, 1, PAGE_MAX, &limit) != 0) {
        gh_http_problem(req, 400, "invalid_parameter", "limit must be a whole number from 1 to %d",
                        PAGE_MAX);
        return 0;
    }
    if (before_s && gh_str_to_whole(before_s, 1, INT64_MAX, &before) != 0) {
        gh_http_problem(req, 400, "invalid_parameter",
                        "before must be the id of an identification (a positive number)");
        return 0;
    }
    if (owner_filter(req, owner) != 0)
        return 0;
    gh_pipeline_flush(req->app->pipeline); /* show what was just answered */
    if (gh_store_list_identifications_owned(req->app->store, owner, before, (size_t)limit + 1, page,
                                            &n, &err)) {
        gh_http_problem_from_store_err(req, &err);
        return 0;
    }
    more = n > (size_t)limit;
    if (more)
        n = (size_t)limit;
    items = json_array();
    for (size_t i = 0; items && i < n; i++)
        if (json_array_append_new(items, item(req->app->cat, &page[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    gh_http_json_doc(req, 200,
                     items ? json_pack("{s:o, s:o}", "items", items, "next_before",
                                       more ? json_integer(page[n - 1].id) : json_null())
                           : NULL);
    return 0;
}

/* The {id} segment of /api/v1/identifications/{id}[/feedback]. */
static void id_of(const struct gh_http_request *req, char *out, size_t cap)
{
    const char *s = req->url + strlen("/api/v1/identifications/");
    size_t n = strcspn(s, "/");

    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static void not_found(struct gh_http_request *req, const char *id)
{
    gh_http_problem(req, 404, "identification_not_found",
                    "no identification '%.64s'; use an id from GET /api/v1/identifications or "
                    "the request_id an analysis answered",
                    id);
}

/* The analysis {id} names for this caller into *rec: a history number (all digits), or a
 * request id, which names the caller's own latest (an admin's: anyone's) - request ids are the
 * clients' choice, so two people may have sent the same. Anything else (a sign, a space, bytes
 * that are not a request id's) names nothing and never reaches the store. Someone else's
 * analysis is as unknown as a missing one. Answers the error itself and returns -1. */
static int find_own(struct gh_http_request *req, const char *id, struct gh_identification *rec)
{
    struct gh_err err = {0};
    int rc = GH_ENOTFOUND;

    if (gh_str_all_digits(id) || gh_http_request_id_usable(id))
        rc = gh_pipeline_find_identification(req->app->pipeline, id,
                                             gh_http_is_admin(req) ? NULL : req->owner, rec, &err);
    if (rc == GH_OK && !gh_http_may_see(req, rec->owner))
        rc = GH_ENOTFOUND;
    if (rc == GH_ENOTFOUND)
        not_found(req, id);
    else if (rc)
        gh_http_problem_from_store_err(req, &err);
    return rc == GH_OK ? 0 : -1;
}

static int gh_route_identification_get_work(struct gh_http_request *req)
{
    struct gh_identification rec;
    char id[72];

    id_of(req, id, sizeof id);
    if (find_own(req, id, &rec) == 0)
        gh_http_json_doc(req, 200, item(req->app->cat, &rec));
    return 0;
}

int gh_http_feedback_parse(const uint8_t *body, size_t len, json_t **doc, const char **slug)
{
    json_error_t jerr;
    json_t *s;

    *slug = NULL;
    *doc = len ? json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!*doc || !json_is_object(*doc))
        return GH_EINVAL;
    s = json_object_get(*doc, "slug");
    if (!json_is_string(s))
        return GH_ERANGE;
    *slug = json_string_value(s);
    return GH_OK;
}

/* {"slug": "..."} from the body; answers the error itself and returns NULL. */
static const char *slug_from_body(struct gh_http_request *req, json_t **doc)
{
    const char *slug = NULL;
    int rc = gh_http_feedback_parse((const uint8_t *)req->body.data, req->body.len, doc, &slug);

    if (rc == GH_EINVAL)
        gh_http_problem(req, 400, "invalid_json",
                        "send a JSON object such as {\"slug\": \"lat-pulldown-machine\"}");
    else if (rc)
        gh_http_problem(req, 400, "invalid_json",
                        "the body needs a string field 'slug' naming the right equipment");
    return slug;
}

static int gh_route_identification_feedback_work(struct gh_http_request *req)
{
    const struct gh_equipment *q;
    struct gh_identification rec;
    struct gh_correction vote;
    struct gh_err err = {0};
    const char *slug;
    json_t *body = NULL;
    char id[72];
    int rc;

    id_of(req, id, sizeof id);
    slug = slug_from_body(req, &body);
    if (!slug)
        goto out;
    q = gh_catalogue_find(req->app->cat, slug);
    if (!q) {
        gh_http_problem(req, 422, "unknown_equipment",
                        "'%.64s' is not in the catalogue; GET /api/v1/equipment lists the slugs",
                        slug);
        goto out;
    }
    if (find_own(req, id, &rec) != 0) /* feedback only on one's own analyses */
        goto out;
    /* a trusted person's or an admin's correction is the shared answer at once; anyone
     * else's is theirs and one vote (open mode's local user is an admin). By the number
     * checked here: the request id may name a newer analysis by the time it is stored. */
    rc = gh_pipeline_correct(req->app->pipeline, rec.id, slug, req->owner,
                             req->ident.role >= GH_ROLE_TRUSTED, &rec, &vote, &err);
    if (rc == GH_ENOTFOUND)
        not_found(req, id);
    else if (rc)
        gh_http_problem_from_store_err(req, &err);
    else
        gh_http_json_doc(req, 200,
                         json_pack("{s:o, s:o, s:o, s:b}", "identification",
                                   item(req->app->cat, &rec), "equipment",
                                   json_loads(q->json, 0, NULL), "correction",
                                   gh_http_correction_json(&vote), "shared",
                                   vote.status == GH_CORRECTION_APPLIED ||
                                       vote.status == GH_CORRECTION_ACCEPTED));
out:
    json_decref(body);
    return 0;
}

/* The recorder flush and the store read block: on a light worker. */
int gh_route_identifications(struct gh_http_request *req)
{
    return gh_http_defer(req, gh_route_identifications_work, GH_HTTP_POOL_LIGHT);
}

/* A store read: on a light worker. */
int gh_route_identification_get(struct gh_http_request *req)
{
    return gh_http_defer(req, gh_route_identification_get_work, GH_HTTP_POOL_LIGHT);
}

/* JSON parsing and a store write: on a light worker. */
int gh_route_identification_feedback(struct gh_http_request *req)
{
    return gh_http_defer(req, gh_route_identification_feedback_work, GH_HTTP_POOL_LIGHT);
}
