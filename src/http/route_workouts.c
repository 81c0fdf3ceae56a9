/* SPDX-License-Identifier: MIT */
/* The workout log's API (issue 12; README "Workouts"): /api/v1/gyms, /api/v1/workouts with
 * their sets, /api/v1/progress, /api/v1/exports/workouts.csv and /api/v1/imports. Each is a
 * subtree route (server.c) that reads its own segments and method; all of it runs on a light
 * worker, as owner req->owner ("local" for open mode's user). */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/multipart.h"
#include "gh/store_workouts.h"
#include "gh/workouts.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SEGS_MAX 5
#define SEG_CAP  80

struct path {
    int n;
    char s[SEGS_MAX][SEG_CAP];
};

/* The segments of req->url after base ("/api/v1/workouts/7/sets" -> "7", "sets"); -1 when
 * there are too many or one is too long. */
static int split(const struct gh_http_request *req, const char *base, struct path *p)
{
    const char *u = req->url + strlen(base);

    p->n = 0;
    while (*u == '/') {
        size_t n;

        u++;
        n = strcspn(u, "/");
        if (n == 0 && *u == '\0')
            break; /* a trailing slash */
        if (p->n == SEGS_MAX || n == 0 || n >= SEG_CAP)
            return -1;
        memcpy(p->s[p->n], u, n);
        p->s[p->n++][n] = '\0';
        u += n;
    }
    return 0;
}

static const char *owner_of(const struct gh_http_request *req)
{
    return req->owner[0] ? req->owner : "local";
}

static int is(const struct gh_http_request *req, const char *method)
{
    return strcmp(req->method, method) == 0 ||
           (strcmp(method, "GET") == 0 && strcmp(req->method, "HEAD") == 0);
}

static int not_allowed(struct gh_http_request *req, const char *allow)
{
    gh_http_problem(req, 405, "method_not_allowed", "%s is not allowed on %s; use %s", req->method,
                    req->url, allow);
    req->resp.allow = allow;
    return 0;
}

static int no_such_path(struct gh_http_request *req)
{
    gh_http_problem(req, 404, "not_found", "no such endpoint: %s %s", req->method, req->url);
    return 0;
}

static void label(struct gh_http_request *req, const char *pattern)
{
    snprintf(req->route_label, sizeof req->route_label, "%s", pattern);
}

/* A positive id from a path segment; 0 when it is not one. */
static int64_t seg_id(const char *s)
{
    char *end = NULL;
    long long v;

    if (!s[0] || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
        return 0;
    v = strtoll(s, &end, 10);
    return v > 0 ? (int64_t)v : 0;
}

static int store_failed(struct gh_http_request *req, const struct gh_err *err, const char *code)
{
    if (err->code == GH_ENOTFOUND)
        gh_http_problem(req, 404, code, "%s", err->msg);
    else if (err->code == GH_EINVAL)
        gh_http_problem(req, 400, "invalid_field", "%s", err->msg);
    else
        gh_http_problem_from_store_err(req, err);
    return 0;
}

/* ---- request bodies ---- */

/* The JSON object of the body; answers 415/400 itself and returns NULL. */
static json_t *body_object(struct gh_http_request *req)
{
    const char *ct = gh_http_header(req, "Content-Type");
    json_error_t jerr;
    json_t *doc;

    if (req->body.len == 0)
        return json_object();
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        gh_http_problem(req, 415, "unsupported_media_type",
                        "this endpoint takes a JSON body: send it with Content-Type: "
                        "application/json");
        return NULL;
    }
    doc = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        gh_http_problem(req, 400, "invalid_json", "the body is not a JSON object");
        return NULL;
    }
    return doc;
}

static int bad_field(struct gh_http_request *req, const char *name, const char *what)
{
    gh_http_problem(req, 400, "invalid_field", "\"%s\" must be %s", name, what);
    return -1;
}

/* A string field into out (cap bytes); absent or null leaves out alone. 0, or -1 answered. */
static int get_str(struct gh_http_request *req, json_t *o, const char *name, char *out, size_t cap,
                   size_t min)
{
    json_t *v = json_object_get(o, name);
    char what[64];

    snprintf(what, sizeof what, "a string of %zu to %zu bytes", min, cap - 1);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) < min || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return bad_field(req, name, what);
    snprintf(out, cap, "%s", json_string_value(v));
    return 0;
}

static int get_client_id(struct gh_http_request *req, json_t *o, char out[GH_CLIENT_ID_CAP])
{
    json_t *v = json_object_get(o, "client_id");

    if (!json_is_string(v) || !gh_workouts_client_id_ok(json_string_value(v)))
        return bad_field(req, "client_id",
                         "8 to 64 letters, digits, '_' or '-' made by the client (a retry sends "
                         "the same one)");
    snprintf(out, GH_CLIENT_ID_CAP, "%s", json_string_value(v));
    return 0;
}

/* RFC 3339: "2026-12-02T18:30:00Z", fractions and offsets allowed; -1 when it is not. */
static int64_t parse_rfc3339(const char *s)
{
    struct tm tm;
    const char *p;
    int64_t t, off = 0;

    memset(&tm, 0, sizeof tm);
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    t = (int64_t)timegm(&tm);
    if (*p == 'Z' || *p == 'z')
        return p[1] ? -1 : t;
    if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int h = (p[1] - '0') * 10 + (p[2] - '0'), m = (p[4] - '0') * 10 + (p[5] - '0');

        off = (int64_t)(h * 3600 + m * 60);
        return *p == '+' ? t - off : t + off;
    }
    return -1;
}

/* A time field; null sets 0, absent leaves *out. */
static int get_time(struct gh_http_request *req, json_t *o, const char *name, int64_t *out)
{
    json_t *v = json_object_get(o, name);
    int64_t t;

    if (!v)
        return 0;
    if (json_is_null(v)) {
        *out = 0;
        return 0;
    }
    t = json_is_string(v) ? parse_rfc3339(json_string_value(v)) : -1;
    if (t <= 0)
        return bad_field(req, name, "an RFC 3339 time such as \"2026-12-02T18:30:00Z\"");
    *out = t;
    return 0;
}

/* An integer id field; null sets 0, absent leaves *out. */
static int get_id(struct gh_http_request *req, json_t *o, const char *name, int64_t *out)
{
    json_t *v = json_object_get(o, name);

    if (!v)
        return 0;
    if (json_is_null(v)) {
        *out = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return bad_field(req, name, "a positive integer id or null");
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* ---- gyms ---- */

static json_t *time_json(int64_t t)
{
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;

    if (!t || !gmtime_r(&tt, &tm))
        return json_null();
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static json_t *gym_doc(const struct gh_catalogue *cat, const struct gh_gym *g)
{
    json_t *eq = json_array();
    const char *p = g->equipment;
    char slug[64];

    while (eq && *p) {
        size_t n = strcspn(p, " ");
        const struct gh_equipment *e;

        snprintf(slug, sizeof slug, "%.*s", (int)(n < sizeof slug ? n : sizeof slug - 1), p);
        p += n + (p[n] == ' ');
        e = gh_catalogue_find(cat, slug);
        json_array_append_new(eq,
                              json_pack("{s:s, s:s}", "slug", slug, "name", e ? e->name : slug));
    }
    return json_pack("{s:I, s:s, s:s, s:o, s:o}", "id", (json_int_t)g->id, "client_id",
                     g->client_id, "name", g->name, "equipment", eq ? eq : json_null(),
                     "created_at", time_json(g->created_at));
}

/* 1 when the space-separated list holds slug. */
static int listed(const char *list, const char *slug)
{
    size_t n = strlen(slug);

    for (const char *p = list; *p;) {
        size_t k = strcspn(p, " ");

        if (k == n && strncmp(p, slug, n) == 0)
            return 1;
        p += k + (p[k] == ' ');
    }
    return 0;
}

/* The equipment list of a POST body into g->equipment; 0, or -1 answered. */
static int gym_equipment_arg(struct gh_http_request *req, json_t *o, struct gh_gym *g)
{
    json_t *a = json_object_get(o, "equipment"), *v;
    size_t i, len = 0;

    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return bad_field(req, "equipment", "an array of equipment slugs");
    json_array_foreach(a, i, v)
    {
        const char *slug = json_string_value(v);

        if (!slug || !gh_catalogue_find(req->app->cat, slug)) {
            gh_http_problem(req, 422, "unknown_equipment",
                            "equipment[%zu] is not a slug of the catalogue (GET /api/v1/equipment)",
                            i);
            return -1;
        }
        if (listed(g->equipment, slug))
            continue; /* named twice */
        len = strlen(g->equipment);
        snprintf(g->equipment + len, sizeof g->equipment - len, "%s%s", len ? " " : "", slug);
    }
    return 0;
}

static int gyms_create(struct gh_http_request *req)
{
    struct gh_err err = {0};
    struct gh_gym g;
    json_t *o = body_object(req);
    int created = 0;

    if (!o)
        return 0;
    memset(&g, 0, sizeof g);
    g.created_at = (int64_t)time(NULL);
    if (get_client_id(req, o, g.client_id) || get_str(req, o, "name", g.name, sizeof g.name, 1) ||
        gym_equipment_arg(req, o, &g))
        goto out;
    if (!g.name[0]) {
        bad_field(req, "name", "the gym's name (1 to 100 bytes)");
        goto out;
    }
    if (gh_store_gym_add(req->app->store, owner_of(req), &g, &created, &err))
        store_failed(req, &err, "gym_not_found");
    else
        gh_http_json_doc(req, created ? 201 : 200, gym_doc(req->app->cat, &g));
out:
    json_decref(o);
    return 0;
}

static int gyms_list(struct gh_http_request *req)
{
    struct gh_err err = {0};
    struct gh_gym *v = NULL;
    size_t n = 0;
    json_t *items;

    if (gh_store_gym_list(req->app->store, owner_of(req), &v, &n, &err))
        return store_failed(req, &err, "gym_not_found");
    items = json_array();
    for (size_t i = 0; items && i < n; i++)
        json_array_append_new(items, gym_doc(req->app->cat, &v[i]));
    gh_free(v);
    gh_http_json_doc(req, 200, items ? json_pack("{s:o}", "items", items) : NULL);
    return 0;
}

static int gym_one(struct gh_http_request *req, int64_t id)
{
    struct gh_err err = {0};
    struct gh_gym g;
    char name[GH_GYM_NAME_CAP] = "";
    json_t *o;

    if (is(req, "DELETE")) {
        if (gh_store_gym_delete(req->app->store, owner_of(req), id, &err))
            return store_failed(req, &err, "gym_not_found");
        gh_http_json(req, 204, NULL, 0);
        return 0;
    }
    if (is(req, "PATCH")) {
        if (!(o = body_object(req)))
            return 0;
        if (get_str(req, o, "name", name, sizeof name, 1) == 0 && !name[0])
            bad_field(req, "name", "the gym's new name (1 to 100 bytes)");
        else if (name[0] && gh_store_gym_rename(req->app->store, owner_of(req), id, name, &err))
            store_failed(req, &err, "gym_not_found");
        json_decref(o);
        if (req->resp.status)
            return 0;
    } else if (!is(req, "GET")) {
        return not_allowed(req, "GET, HEAD, PATCH, DELETE");
    }
    if (gh_store_gym_get(req->app->store, owner_of(req), id, &g, &err))
        return store_failed(req, &err, "gym_not_found");
    gh_http_json_doc(req, 200, gym_doc(req->app->cat, &g));
    return 0;
}

static int gym_equipment(struct gh_http_request *req, int64_t id, const char *slug)
{
    struct gh_err err = {0};
    struct gh_gym g;

    if (!is(req, "PUT") && !is(req, "DELETE"))
        return not_allowed(req, "PUT, DELETE");
    if (!gh_catalogue_find(req->app->cat, slug)) {
        gh_http_problem(req, 404, "equipment_not_found",
                        "no equipment '%.64s' in the catalogue (GET /api/v1/equipment)", slug);
        return 0;
    }
    if (gh_store_gym_equipment(req->app->store, owner_of(req), id, slug, is(req, "PUT"), &err) ||
        gh_store_gym_get(req->app->store, owner_of(req), id, &g, &err))
        return store_failed(req, &err, "gym_not_found");
    gh_http_json_doc(req, 200, gym_doc(req->app->cat, &g));
    return 0;
}

static int gyms_work(struct gh_http_request *req)
{
    struct path p;
    int64_t id;

    if (split(req, "/api/v1/gyms", &p) != 0)
        return no_such_path(req);
    if (p.n == 0) {
        label(req, "/api/v1/gyms");
        if (is(req, "GET"))
            return gyms_list(req);
        return is(req, "POST") ? gyms_create(req) : not_allowed(req, "GET, HEAD, POST");
    }
    if (p.n == 1 && !is(req, "GET") && !is(req, "PATCH") && !is(req, "DELETE"))
        return not_allowed(req, "GET, HEAD, PATCH, DELETE");
    if (p.n == 3 && !is(req, "PUT") && !is(req, "DELETE"))
        return not_allowed(req, "PUT, DELETE");
    id = seg_id(p.s[0]);
    if (!id) {
        gh_http_problem(req, 404, "gym_not_found", "'%s' is not a gym id", p.s[0]);
        return 0;
    }
    if (p.n == 1) {
        label(req, "/api/v1/gyms/{id}");
        return gym_one(req, id);
    }
    if (p.n == 3 && strcmp(p.s[1], "equipment") == 0) {
        label(req, "/api/v1/gyms/{id}/equipment/{slug}");
        return gym_equipment(req, id, p.s[2]);
    }
    return no_such_path(req);
}

int gh_route_gyms(struct gh_http_request *req)
{
    return gh_http_defer(req, gyms_work, GH_HTTP_POOL_LIGHT);
}

/* ---- workouts ---- */

static void workout_answer(struct gh_http_request *req, int status, const struct gh_workout *w)
{
    struct gh_set_filter f = {w->id, NULL, INT64_MIN, 0};
    struct gh_err err = {0};
    struct gh_wset *sets = NULL;
    size_t n = 0;

    if (gh_store_set_query(req->app->store, owner_of(req), &f, &sets, &n, &err)) {
        store_failed(req, &err, "workout_not_found");
        return;
    }
    gh_http_json_doc(req, status, gh_workouts_workout_json(w, sets, n, 1));
    gh_free(sets);
}

static int workouts_create(struct gh_http_request *req)
{
    struct gh_err err = {0};
    struct gh_workout w;
    json_t *o = body_object(req);
    int created = 0;

    if (!o)
        return 0;
    memset(&w, 0, sizeof w);
    if (get_client_id(req, o, w.client_id) || get_time(req, o, "started_at", &w.started_at) ||
        get_time(req, o, "ended_at", &w.ended_at) || get_id(req, o, "gym_id", &w.gym_id) ||
        get_str(req, o, "notes", w.notes, sizeof w.notes, 0))
        goto out;
    if (w.ended_at && w.started_at && w.ended_at < w.started_at) {
        bad_field(req, "ended_at", "at or after started_at");
        goto out;
    }
    if (gh_workouts_start(req->app->store, owner_of(req), &w, &created, &err))
        store_failed(req, &err, "gym_not_found");
    else
        workout_answer(req, created ? 201 : 200, &w);
out:
    json_decref(o);
    return 0;
}

#define PAGE_DEFAULT 20
#define PAGE_MAX     100

static int arg_int(struct gh_http_request *req, const char *name, long long lo, long long hi,
                   long long *out)
{
    const char *s = gh_http_arg(req, name);
    char *end = NULL;
    long long v;

    if (!s)
        return 0;
    v = strtoll(s, &end, 10);
    if (!s[0] || *end || v < lo || v > hi) {
        gh_http_problem(req, 400, "invalid_parameter",
                        "%s must be a whole number from %lld to %lld", name, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int workouts_list(struct gh_http_request *req)
{
    struct gh_workout *page = gh_malloc_array(PAGE_MAX + 1, sizeof *page);
    long long limit = PAGE_DEFAULT, before = 0;
    struct gh_err err = {0};
    json_t *items;
    size_t n = 0;
    int more;

    if (!page) {
        gh_http_problem(req, 503, "out_of_memory", "the server is out of memory");
        return 0;
    }
    if (arg_int(req, "limit", 1, PAGE_MAX, &limit) || arg_int(req, "before", 1, INT64_MAX, &before))
        goto out;
    if (gh_store_workout_list(req->app->store, owner_of(req), before, (size_t)limit + 1, page, &n,
                              &err)) {
        store_failed(req, &err, "workout_not_found");
        goto out;
    }
    more = n > (size_t)limit;
    if (more)
        n = (size_t)limit;
    items = json_array();
    for (size_t i = 0; items && i < n; i++)
        json_array_append_new(items, gh_workouts_workout_json(&page[i], NULL, 0, 0));
    gh_http_json_doc(req, 200,
                     items ? json_pack("{s:o, s:o}", "items", items, "next",
                                       more ? json_integer(page[n - 1].id) : json_null())
                           : NULL);
out:
    gh_free(page);
    return 0;
}

static int workout_patch(struct gh_http_request *req, struct gh_workout *w)
{
    struct gh_err err = {0};
    json_t *o = body_object(req);

    if (!o)
        return 0;
    if (get_time(req, o, "ended_at", &w->ended_at) || get_id(req, o, "gym_id", &w->gym_id) ||
        get_str(req, o, "notes", w->notes, sizeof w->notes, 0))
        goto out;
    if (w->ended_at && w->ended_at < w->started_at) {
        bad_field(req, "ended_at", "at or after the workout's started_at");
        goto out;
    }
    if (gh_store_workout_update(req->app->store, owner_of(req), w, &err))
        store_failed(req, &err, strstr(err.msg, "gym") ? "gym_not_found" : "workout_not_found");
    else
        workout_answer(req, 200, w);
out:
    json_decref(o);
    return 0;
}

static int workout_one(struct gh_http_request *req, int64_t id)
{
    struct gh_err err = {0};
    struct gh_workout w;

    if (!is(req, "GET") && !is(req, "PATCH") && !is(req, "DELETE"))
        return not_allowed(req, "GET, HEAD, PATCH, DELETE");
    if (is(req, "DELETE")) {
        if (gh_store_workout_delete(req->app->store, owner_of(req), id, &err))
            return store_failed(req, &err, "workout_not_found");
        gh_http_json(req, 204, NULL, 0);
        return 0;
    }
    if (gh_store_workout_get(req->app->store, owner_of(req), id, &w, &err))
        return store_failed(req, &err, "workout_not_found");
    if (is(req, "PATCH"))
        return workout_patch(req, &w);
    workout_answer(req, 200, &w);
    return 0;
}

/* ---- sets ---- */

static int get_num(struct gh_http_request *req, json_t *o, const char *name, double *out)
{
    json_t *v = json_object_get(o, name);

    if (!v)
        return 0;
    if (json_is_null(v)) {
        *out = NAN;
        return 0;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return bad_field(req, name, "a number or null");
    *out = json_number_value(v);
    return 0;
}

static int get_int(struct gh_http_request *req, json_t *o, const char *name, int *out)
{
    json_t *v = json_object_get(o, name);

    if (!v)
        return 0;
    if (json_is_null(v)) {
        *out = -1;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10000000)
        return bad_field(req, name, "a whole number or null");
    *out = (int)json_integer_value(v);
    return 0;
}

/* The measured fields of a body into s (absent ones stay). 0, or -1 answered. */
static int set_fields(struct gh_http_request *req, json_t *o, struct gh_wset *s)
{
    json_t *warm = json_object_get(o, "warmup");

    if (get_num(req, o, "weight", &s->weight) ||
        get_str(req, o, "unit", s->unit, sizeof s->unit, 2) || get_int(req, o, "reps", &s->reps) ||
        get_int(req, o, "duration_s", &s->duration_s) ||
        get_num(req, o, "distance_m", &s->distance_m) || get_num(req, o, "rpe", &s->rpe))
        return -1;
    if (warm && !json_is_boolean(warm) && !json_is_null(warm))
        return bad_field(req, "warmup", "true or false");
    if (warm)
        s->warmup = json_is_true(warm);
    return 0;
}

/* Checks s for its exercise: 422 with the sentence when it does not fit. */
static int set_fits(struct gh_http_request *req, struct gh_wset *s)
{
    struct gh_err err = {0};
    int rc = gh_workouts_check_set(req->app->cat, s, &err);

    if (rc == GH_ENOTFOUND)
        gh_http_problem(req, 422, "unknown_exercise", "%s", err.msg);
    else if (rc)
        gh_http_problem(req, 422, "set_does_not_fit", "%s", err.msg);
    return rc ? -1 : 0;
}

/* Records s sets against owner's earlier working sets of its exercise. */
static int set_records(struct gh_http_request *req, struct gh_wset *s, struct gh_err *err)
{
    struct gh_set_filter f = {0, s->exercise, INT64_MIN, 1};
    const struct gh_exercise *ex = gh_catalogue_find_exercise(req->app->cat, s->exercise);
    struct gh_wset *hist = NULL;
    size_t n = 0;
    int rc = gh_store_set_query(req->app->store, owner_of(req), &f, &hist, &n, err);

    if (rc == GH_OK && ex)
        s->records = gh_workouts_records(ex, hist, n, s);
    gh_free(hist);
    return rc;
}

static int sets_create(struct gh_http_request *req, int64_t workout_id)
{
    struct gh_err err = {0};
    struct gh_workout w;
    struct gh_wset s;
    json_t *o = body_object(req);
    int created = 0;

    if (!o)
        return 0;
    memset(&s, 0, sizeof s);
    s.weight = s.weight_kg = s.distance_m = s.rpe = NAN;
    s.reps = s.duration_s = -1;
    s.workout_id = workout_id;
    s.performed_at = (int64_t)time(NULL);
    if (get_client_id(req, o, s.client_id) ||
        get_str(req, o, "exercise", s.exercise, sizeof s.exercise, 1) || set_fields(req, o, &s) ||
        get_time(req, o, "performed_at", &s.performed_at))
        goto out;
    if (gh_store_workout_get(req->app->store, owner_of(req), workout_id, &w, &err)) {
        store_failed(req, &err, "workout_not_found");
        goto out;
    }
    if (!s.exercise[0]) {
        bad_field(req, "exercise", "an exercise slug (GET /api/v1/exercises)");
        goto out;
    }
    if (s.performed_at == 0)
        s.performed_at = (int64_t)time(NULL);
    if (set_fits(req, &s))
        goto out;
    if (set_records(req, &s, &err) ||
        gh_store_set_add(req->app->store, owner_of(req), &s, &created, &err))
        store_failed(req, &err, "workout_not_found");
    else
        gh_http_json_doc(req, created ? 201 : 200, gh_workouts_set_json(&s));
out:
    json_decref(o);
    return 0;
}

static int set_one(struct gh_http_request *req, int64_t workout_id, int64_t set_id)
{
    struct gh_set_filter f = {workout_id, NULL, INT64_MIN, 0};
    struct gh_err err = {0};
    struct gh_wset *sets = NULL, s;
    size_t n = 0, i;
    json_t *o;

    if (is(req, "DELETE")) {
        if (gh_store_set_delete(req->app->store, owner_of(req), workout_id, set_id, &err))
            return store_failed(req, &err, "set_not_found");
        gh_http_json(req, 204, NULL, 0);
        return 0;
    }
    if (!is(req, "PATCH") && !is(req, "GET"))
        return not_allowed(req, "GET, HEAD, PATCH, DELETE");
    if (gh_store_set_query(req->app->store, owner_of(req), &f, &sets, &n, &err))
        return store_failed(req, &err, "set_not_found");
    for (i = 0; i < n && sets[i].id != set_id; i++)
        ;
    if (i == n) {
        gh_free(sets);
        gh_http_problem(req, 404, "set_not_found", "no set with id %lld in workout %lld",
                        (long long)set_id, (long long)workout_id);
        return 0;
    }
    s = sets[i];
    gh_free(sets);
    if (is(req, "GET")) {
        gh_http_json_doc(req, 200, gh_workouts_set_json(&s));
        return 0;
    }
    if (!(o = body_object(req)))
        return 0;
    if (set_fields(req, o, &s) == 0 && set_fits(req, &s) == 0) {
        if (gh_store_set_update(req->app->store, owner_of(req), &s, &err))
            store_failed(req, &err, "set_not_found");
        else
            gh_http_json_doc(req, 200, gh_workouts_set_json(&s));
    }
    json_decref(o);
    return 0;
}

static int workouts_work(struct gh_http_request *req)
{
    struct path p;
    int64_t id, set_id;

    if (split(req, "/api/v1/workouts", &p) != 0)
        return no_such_path(req);
    if (p.n == 0) {
        label(req, "/api/v1/workouts");
        if (is(req, "GET"))
            return workouts_list(req);
        return is(req, "POST") ? workouts_create(req) : not_allowed(req, "GET, HEAD, POST");
    }
    if (p.n > 3 || (p.n >= 2 && strcmp(p.s[1], "sets") != 0))
        return no_such_path(req);
    if (p.n == 2 && !is(req, "POST"))
        return not_allowed(req, "POST");
    if (p.n != 2 && !is(req, "GET") && !is(req, "PATCH") && !is(req, "DELETE"))
        return not_allowed(req, "GET, HEAD, PATCH, DELETE");
    id = seg_id(p.s[0]);
    if (!id) {
        gh_http_problem(req, 404, "workout_not_found", "'%s' is not a workout id", p.s[0]);
        return 0;
    }
    if (p.n == 1) {
        label(req, "/api/v1/workouts/{id}");
        return workout_one(req, id);
    }
    if (p.n == 2) {
        label(req, "/api/v1/workouts/{id}/sets");
        return is(req, "POST") ? sets_create(req, id) : not_allowed(req, "POST");
    }
    label(req, "/api/v1/workouts/{id}/sets/{set_id}");
    set_id = seg_id(p.s[2]);
    if (!set_id) {
        gh_http_problem(req, 404, "set_not_found", "'%s' is not a set id", p.s[2]);
        return 0;
    }
    return set_one(req, id, set_id);
}

int gh_route_workouts(struct gh_http_request *req)
{
    return gh_http_defer(req, workouts_work, GH_HTTP_POOL_LIGHT);
}

/* ---- progress ---- */

static const struct gh_exercise *exercise_arg(struct gh_http_request *req, const char *slug)
{
    const struct gh_exercise *ex = gh_catalogue_find_exercise(req->app->cat, slug);

    if (!ex)
        gh_http_problem(req, 404, "exercise_not_found",
                        "no exercise '%.64s' (GET /api/v1/exercises)", slug);
    return ex;
}

static int progress_last(struct gh_http_request *req, const struct gh_exercise *ex)
{
    struct gh_set_filter f = {0, ex->slug, INT64_MIN, 0};
    struct gh_err err = {0};
    struct gh_wset *sets = NULL;
    size_t n = 0, from;
    json_t *a;

    if (gh_store_set_query(req->app->store, owner_of(req), &f, &sets, &n, &err))
        return store_failed(req, &err, "exercise_not_found");
    a = json_array();
    from = n;
    while (from > 0 && sets[from - 1].workout_id == sets[n - 1].workout_id)
        from--;
    for (size_t i = from; a && i < n; i++)
        json_array_append_new(a, gh_workouts_set_json(&sets[i]));
    gh_http_json_doc(
        req, 200,
        a ? json_pack("{s:s, s:o, s:o, s:o}", "exercise", ex->slug, "workout_id",
                      n ? json_integer(sets[n - 1].workout_id) : json_null(), "started_at",
                      n ? time_json(sets[n - 1].workout_started_at) : json_null(), "sets", a)
          : NULL);
    gh_free(sets);
    return 0;
}

static int64_t weeks_since(long long weeks)
{
    return (int64_t)time(NULL) - (int64_t)weeks * 7 * 86400;
}

static int progress_exercise(struct gh_http_request *req, const struct gh_exercise *ex)
{
    struct gh_set_filter f = {0, ex->slug, INT64_MIN, 0};
    struct gh_err err = {0};
    struct gh_wset *sets = NULL;
    long long weeks = 0;
    size_t n = 0;

    if (arg_int(req, "weeks", 1, 520, &weeks))
        return 0;
    if (weeks)
        f.since = weeks_since(weeks);
    if (gh_store_set_query(req->app->store, owner_of(req), &f, &sets, &n, &err))
        return store_failed(req, &err, "exercise_not_found");
    gh_http_json_doc(req, 200, gh_workouts_progress_json(ex, sets, n));
    gh_free(sets);
    return 0;
}

static int progress_muscles(struct gh_http_request *req)
{
    struct gh_err err = {0};
    struct gh_set_count *counts = NULL;
    long long weeks = 8;
    size_t n = 0;
    int64_t now = (int64_t)time(NULL), since;

    if (arg_int(req, "weeks", 1, 104, &weeks))
        return 0;
    since = now - (int64_t)(weeks - 1) * 7 * 86400;
    since -= since % 86400; /* counts are per UTC day */
    if (gh_store_set_counts(req->app->store, owner_of(req), since, &counts, &n, &err))
        return store_failed(req, &err, "not_found");
    gh_http_json_doc(req, 200, gh_workouts_muscles_json(req->app->cat, counts, n, since, now));
    gh_free(counts);
    return 0;
}

static int progress_work(struct gh_http_request *req)
{
    const struct gh_exercise *ex;
    struct path p;

    if (split(req, "/api/v1/progress", &p) != 0)
        return no_such_path(req);
    if (!is(req, "GET"))
        return not_allowed(req, "GET, HEAD");
    if (p.n == 1 && strcmp(p.s[0], "muscles") == 0) {
        label(req, "/api/v1/progress/muscles");
        return progress_muscles(req);
    }
    if (p.n < 2 || p.n > 3 || strcmp(p.s[0], "exercises") != 0 ||
        (p.n == 3 && strcmp(p.s[2], "last") != 0))
        return no_such_path(req);
    label(req, p.n == 3 ? "/api/v1/progress/exercises/{slug}/last"
                        : "/api/v1/progress/exercises/{slug}");
    if (!(ex = exercise_arg(req, p.s[1])))
        return 0;
    return p.n == 3 ? progress_last(req, ex) : progress_exercise(req, ex);
}

int gh_route_progress(struct gh_http_request *req)
{
    return gh_http_defer(req, progress_work, GH_HTTP_POOL_LIGHT);
}

/* ---- export and import ---- */

static int export_work(struct gh_http_request *req)
{
    struct gh_err err = {0};
    char *csv = NULL;
    size_t len = 0;

    label(req, "/api/v1/exports/workouts.csv");
    if (strcmp(req->url, "/api/v1/exports/workouts.csv") != 0)
        return no_such_path(req);
    if (!is(req, "GET"))
        return not_allowed(req, "GET, HEAD");
    if (gh_workouts_export_csv(req->app->store, owner_of(req), req->app->cat, &csv, &len, &err))
        return store_failed(req, &err, "not_found");
    gh_http_json(req, 200, csv, len);
    req->resp.content_type = "text/csv; charset=utf-8";
    req->resp.no_store = 1;
    return 0;
}

int gh_route_exports(struct gh_http_request *req)
{
    return gh_http_defer(req, export_work, GH_HTTP_POOL_LIGHT);
}

/* The CSV of the request: the body (text/csv) or multipart field "file". */
static int import_body(struct gh_http_request *req, const char **csv, size_t *len)
{
    const char *ct = gh_http_header(req, "Content-Type");
    struct gh_multipart_part part;
    struct gh_err err = {0};
    char boundary[128];

    if (req->body.len == 0) {
        gh_http_problem(req, 400, "empty_body",
                        "send the CSV as the body (Content-Type: text/csv) or as multipart field "
                        "'file'");
        return -1;
    }
    if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
        if (gh_multipart_boundary(ct, boundary, sizeof boundary, &err) ||
            gh_multipart_find((const uint8_t *)req->body.data, req->body.len, boundary, "file",
                              &part, &err)) {
            gh_http_problem(req, 400,
                            err.code == GH_ENOTFOUND ? "missing_file" : "malformed_multipart", "%s",
                            err.msg);
            return -1;
        }
        *csv = (const char *)part.data;
        *len = part.len;
        return 0;
    }
    if (!ct || (strncasecmp(ct, "text/csv", 8) != 0 && strncasecmp(ct, "text/plain", 10) != 0 &&
                strncasecmp(ct, "application/octet-stream", 24) != 0)) {
        gh_http_problem(req, 415, "unsupported_media_type",
                        "send the CSV with Content-Type: text/csv, or as multipart field 'file'");
        return -1;
    }
    *csv = req->body.data;
    *len = req->body.len;
    return 0;
}

static int import_format(struct gh_http_request *req, enum gh_import_format *f, const char **unit)
{
    const char *s = gh_http_arg(req, "format");

    *unit = gh_http_arg(req, "unit");
    if (*unit && strcmp(*unit, "kg") != 0 && strcmp(*unit, "lb") != 0) {
        gh_http_problem(req, 400, "invalid_parameter",
                        "unit must be kg or lb (the weight unit of a Strong export without a "
                        "unit column)");
        return -1;
    }
    if (!s || (strcmp(s, "strong") != 0 && strcmp(s, "hevy") != 0 && strcmp(s, "gymhelper") != 0)) {
        gh_http_problem(req, 400, "invalid_parameter",
                        "format must be strong, hevy or gymhelper (this server's own export)");
        return -1;
    }
    *f = s[0] == 's' ? GH_IMPORT_STRONG : s[0] == 'h' ? GH_IMPORT_HEVY : GH_IMPORT_GYMHELPER;
    return 0;
}

static int import_work(struct gh_http_request *req)
{
    struct gh_err err = {0};
    struct gh_import imp;
    enum gh_import_format f;
    const char *csv = NULL, *unit = NULL;
    int64_t imported = 0, dups = 0;
    size_t len = 0;

    label(req, "/api/v1/imports");
    if (strcmp(req->url, "/api/v1/imports") != 0)
        return no_such_path(req);
    if (!is(req, "POST"))
        return not_allowed(req, "POST");
    if (import_format(req, &f, &unit) || import_body(req, &csv, &len))
        return 0;
    if (gh_import_parse(req->app->cat, f, csv, len, unit, &imp, &err)) {
        if (err.code == GH_ENOMEM)
            gh_http_problem(req, 503, "out_of_memory", "%s", err.msg);
        else
            gh_http_problem(req, err.code == GH_ETOOBIG ? 413 : 422,
                            err.code == GH_ETOOBIG ? "payload_too_large" : "invalid_csv", "%s",
                            err.msg);
        return 0;
    }
    if (gh_import_records(req->app->store, owner_of(req), req->app->cat, &imp, &err) ||
        gh_store_workouts_import(req->app->store, owner_of(req), imp.ws, imp.n_ws, imp.sets,
                                 imp.n_sets, &imported, &dups, &err))
        store_failed(req, &err, "not_found");
    else
        gh_http_json_doc(req, 200,
                         json_pack("{s:I, s:I, s:O}", "imported", (json_int_t)imported,
                                   "duplicates", (json_int_t)dups, "not_mapped", imp.not_mapped));
    gh_import_fini(&imp);
    return 0;
}

int gh_route_imports(struct gh_http_request *req)
{
    return gh_http_defer(req, import_work, GH_HTTP_POOL_LIGHT);
}
