/* SPDX-License-Identifier: MIT */
/* Plans and share links (issue 12; README "Workout plans"): /api/v1/plans (generate from one of
 * the caller's gyms or an equipment list, list, get with next session's weights from the log,
 * delete, start a day as a workout), /api/v1/shares (make, list, revoke read-only links) and
 * the public /api/v1/shared/{token}, which shows the shared object and nothing of its owner.
 * Subtree routes (server.c) that read their own segments and method, on a light worker. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/auth.h"
#include "gh/plan.h"
#include "gh/store_plans.h"
#include "gh/store_workouts.h"
#include "gh/workouts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SEGS_MAX         5
#define SEG_CAP          80
#define EQUIPMENT_MAX    128
#define HISTORY_SESSIONS 3

struct path {
    int n;
    char s[SEGS_MAX][SEG_CAP];
};

/* The segments of req->url after base; -1 when too many or one is too long or empty. */
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
    return *u == '\0' ? 0 : -1;
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

static void label(struct gh_http_request *req, const char *pattern)
{
    snprintf(req->route_label, sizeof req->route_label, "%s", pattern);
}

/* A positive decimal id, or 0. */
static int64_t parse_id(const char *s)
{
    char *end = NULL;
    long long v;

    if (!s[0] || s[0] == '-' || s[0] == '+')
        return 0;
    v = strtoll(s, &end, 10);
    return *end == '\0' && v > 0 && v < INT64_MAX ? (int64_t)v : 0;
}

static json_t *time_json(int64_t t)
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

/* The body as a JSON object (an empty body is {}); NULL after answering the problem. */
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

/* An optional client_id into out ("" when absent). 0, or -1 answered. */
static int client_id(struct gh_http_request *req, json_t *o, int required, char out[65])
{
    json_t *v = json_object_get(o, "client_id");

    out[0] = '\0';
    if (!v && !required)
        return 0;
    if (!json_is_string(v) || !gh_workouts_client_id_ok(json_string_value(v)))
        return bad_field(req, "client_id", "8 to 64 letters, digits, '_' or '-'");
    snprintf(out, 65, "%s", json_string_value(v));
    return 0;
}

static void store_problem(struct gh_http_request *req, const struct gh_err *err,
                          const char *not_found)
{
    if (err->code == GH_ENOTFOUND)
        gh_http_problem(req, 404, not_found, "%s", err->msg);
    else
        gh_http_problem_from_store_err(req, err);
}

/* ---- progression from the log ---- */

/* The owner's last sessions of one exercise, for gh_plan_add_next. */
struct history {
    struct gh_store *st;
    const char *owner;
    struct gh_wset *rows; /* the last query's sets, owned here */
    struct gh_plan_set sets[HISTORY_SESSIONS][32];
};

static int history_last(void *ctx, const char *exercise, struct gh_plan_session *out, size_t cap,
                        size_t *n)
{
    struct history *h = ctx;
    struct gh_set_filter f = {.exercise = exercise};
    struct gh_err err = {0};
    size_t n_rows = 0;
    int64_t current = 0;
    int rc;

    *n = 0;
    gh_free(h->rows);
    h->rows = NULL;
    rc = gh_store_set_query(h->st, h->owner, &f, &h->rows, &n_rows, &err);
    if (rc)
        return rc;
    if (cap > HISTORY_SESSIONS)
        cap = HISTORY_SESSIONS;
    /* oldest first: walk back from the newest, one session per workout */
    for (size_t i = n_rows; i-- > 0;) {
        const struct gh_wset *s = &h->rows[i];
        struct gh_plan_session *sess;

        if (s->workout_id != current) {
            if (*n == cap)
                break;
            current = s->workout_id;
            out[*n].sets = h->sets[*n];
            out[*n].n_sets = 0;
            (*n)++;
        }
        sess = &out[*n - 1];
        if (sess->n_sets < 32) {
            struct gh_plan_set *ps = &h->sets[*n - 1][sess->n_sets++];

            /* newest first within the walk; the order of sets does not matter to the rule */
            ps->weight_kg = s->weight_kg == s->weight_kg ? s->weight_kg : -1; /* NAN: none */
            ps->reps = s->reps;
            ps->warmup = s->warmup;
        }
    }
    return GH_OK;
}

/* The stored plan as served: its body with id, gym_id, created_at and, for its owner, next. */
static json_t *plan_json(struct gh_http_request *req, const struct gh_plan_rec *rec, int owned,
                         struct gh_err *err)
{
    struct history h = {.st = req->app->store, .owner = owner_of(req)};
    struct gh_plan_history hist = {history_last, &h};
    char *text = NULL;
    json_t *doc = NULL;
    int rc = gh_plan_add_next(req->app->cat, rec->body, owned ? &hist : NULL, &text, err);

    gh_free(h.rows);
    if (rc == GH_OK)
        doc = json_loads(text, 0, NULL);
    gh_free(text);
    if (!doc) {
        if (rc == GH_OK)
            gh_err_set(err, GH_ENOMEM, "out of memory");
        return NULL;
    }
    if (owned) {
        json_object_set_new(doc, "id", json_integer(rec->id));
        json_object_set_new(doc, "gym_id", rec->gym_id ? json_integer(rec->gym_id) : json_null());
    }
    json_object_set_new(doc, "created_at", time_json(rec->created_at));
    return doc;
}

/* The equipment of the plan's gym, or the body's list, into eq (pointers into gym or doc). */
static int plan_equipment(struct gh_http_request *req, json_t *doc, struct gh_gym *gym,
                          int64_t *gym_id, const char **eq, size_t *n_eq)
{
    json_t *g = json_object_get(doc, "gym_id"), *list = json_object_get(doc, "equipment"), *v;
    struct gh_err err = {0};
    size_t i;

    *n_eq = 0;
    *gym_id = 0;
    if (json_is_integer(g) && json_integer_value(g) > 0) {
        *gym_id = json_integer_value(g);
        if (gh_store_gym_get(req->app->store, owner_of(req), *gym_id, gym, &err) != GH_OK) {
            store_problem(req, &err, "gym_not_found");
            return -1;
        }
        for (char *p = gym->equipment, *sp; p && *p && *n_eq < EQUIPMENT_MAX; p = sp) {
            sp = strchr(p, ' ');
            if (sp)
                *sp++ = '\0';
            eq[(*n_eq)++] = p;
        }
        return 0;
    }
    if (g && !json_is_null(g))
        return bad_field(req, "gym_id", "the id of one of your gyms");
    if (!json_is_array(list) || json_array_size(list) > EQUIPMENT_MAX)
        return bad_field(req, "gym_id",
                         "given (one of your gyms), or \"equipment\" a list of "
                         "equipment slugs");
    json_array_foreach(list, i, v)
    {
        if (!json_is_string(v) || !gh_catalogue_find(req->app->cat, json_string_value(v))) {
            gh_http_problem(req, 422, "unknown_equipment",
                            "\"equipment\"[%zu] is not an equipment slug of the catalogue", i);
            return -1;
        }
        eq[(*n_eq)++] = json_string_value(v);
    }
    return 0;
}

/* Reads goal, days, minutes and experience. 0, or -1 answered. */
static int plan_input(struct gh_http_request *req, json_t *doc, struct gh_plan_input *in)
{
    json_t *d = json_object_get(doc, "days_per_week"), *m = json_object_get(doc, "session_minutes");
    json_t *x = json_object_get(doc, "experience");
    char range[64];

    if (gh_plan_goal_parse(json_string_value(json_object_get(doc, "goal")), &in->goal) != GH_OK)
        return bad_field(req, "goal", "\"strength\", \"muscle\" or \"general\"");
    if (!json_is_integer(d) || json_integer_value(d) < GH_PLAN_DAYS_MIN ||
        json_integer_value(d) > GH_PLAN_DAYS_MAX)
        return bad_field(req, "days_per_week", "a whole number from 2 to 6");
    in->days_per_week = (int)json_integer_value(d);
    in->session_minutes = 60;
    snprintf(range, sizeof range, "a whole number from %d to %d", GH_PLAN_MINUTES_MIN,
             GH_PLAN_MINUTES_MAX);
    if (m && (!json_is_integer(m) || json_integer_value(m) < GH_PLAN_MINUTES_MIN ||
              json_integer_value(m) > GH_PLAN_MINUTES_MAX))
        return bad_field(req, "session_minutes", range);
    if (m)
        in->session_minutes = (int)json_integer_value(m);
    in->experience = GH_PLAN_EXPERIENCE_INTERMEDIATE;
    if (x && gh_plan_experience_parse(json_string_value(x), &in->experience) != GH_OK)
        return bad_field(req, "experience", "\"beginner\", \"intermediate\" or \"advanced\"");
    return 0;
}

static int plan_generate(struct gh_http_request *req)
{
    struct gh_plan_input in = {0};
    struct gh_plan_rec rec = {0};
    struct gh_gym gym;
    struct gh_err err = {0};
    const char *eq[EQUIPMENT_MAX];
    char cid[65], *text = NULL;
    int64_t gym_id = 0;
    int created = 0;
    json_t *doc = body_object(req);

    if (!doc)
        return 0;
    if (client_id(req, doc, 0, cid) || plan_input(req, doc, &in) ||
        plan_equipment(req, doc, &gym, &gym_id, eq, &in.n_equipment))
        goto out;
    in.equipment = eq;
    if (gh_plan_generate(req->app->cat, &in, &text, &err) != GH_OK) {
        if (err.code == GH_EINVAL)
            gh_http_problem(req, 422, "no_plan_possible", "%s", err.msg);
        else
            gh_http_problem_from_err(req, &err);
        goto out;
    }
    if (gh_store_plan_add(req->app->store, owner_of(req), cid, gym_id, text, (int64_t)time(NULL),
                          &rec, &created, &err) != GH_OK) {
        store_problem(req, &err, "plan_not_found");
        goto out;
    }
    {
        json_t *out = plan_json(req, &rec, 1, &err);

        if (!out)
            gh_http_problem_from_store_err(req, &err);
        else
            gh_http_json_doc(req, created ? 201 : 200, out);
    }
out:
    gh_plan_rec_fini(&rec);
    gh_free(text);
    json_decref(doc);
    return 0;
}

static int plan_list(struct gh_http_request *req)
{
    struct gh_plan_rec *v = NULL, full;
    struct gh_err err = {0};
    json_t *items = json_array();
    size_t n = 0;

    if (gh_store_plan_list(req->app->store, owner_of(req), &v, &n, &err) != GH_OK) {
        json_decref(items);
        gh_http_problem_from_store_err(req, &err);
        return 0;
    }
    /* a list item is the plan's summary: what its reasons and days say, without next */
    for (size_t i = 0; items && i < n; i++) {
        json_t *doc;

        if (gh_store_plan_get(req->app->store, owner_of(req), v[i].id, &full, &err) != GH_OK)
            continue; /* deleted meanwhile */
        doc = json_loads(full.body, 0, NULL);
        gh_plan_rec_fini(&full);
        if (!doc)
            continue;
        json_object_set_new(doc, "id", json_integer(v[i].id));
        json_object_set_new(doc, "gym_id", v[i].gym_id ? json_integer(v[i].gym_id) : json_null());
        json_object_set_new(doc, "created_at", time_json(v[i].created_at));
        json_array_append_new(items, doc);
    }
    gh_free(v);
    gh_http_json_doc(req, 200, items ? json_pack("{s:o}", "items", items) : NULL);
    return 0;
}

/* The plan with id, or NULL after answering 404/503. */
static int load_plan(struct gh_http_request *req, const char *seg, struct gh_plan_rec *rec)
{
    int64_t id = parse_id(seg);
    struct gh_err err = {0};

    if (!id) {
        gh_http_problem(req, 404, "plan_not_found", "no plan with id %s", seg);
        return -1;
    }
    if (gh_store_plan_get(req->app->store, owner_of(req), id, rec, &err) != GH_OK) {
        store_problem(req, &err, "plan_not_found");
        return -1;
    }
    return 0;
}

static int plan_get(struct gh_http_request *req, const char *seg)
{
    struct gh_plan_rec rec = {0};
    struct gh_err err = {0};
    json_t *doc;

    if (load_plan(req, seg, &rec))
        return 0;
    doc = plan_json(req, &rec, 1, &err);
    if (!doc)
        gh_http_problem_from_store_err(req, &err);
    else
        gh_http_json_doc(req, 200, doc);
    gh_plan_rec_fini(&rec);
    return 0;
}

static int plan_delete(struct gh_http_request *req, const char *seg)
{
    struct gh_err err = {0};
    int64_t id = parse_id(seg);

    if (!id || gh_store_plan_delete(req->app->store, owner_of(req), id, &err) != GH_OK) {
        if (!id)
            gh_http_problem(req, 404, "plan_not_found", "no plan with id %s", seg);
        else
            store_problem(req, &err, "plan_not_found");
        return 0;
    }
    gh_http_json(req, 204, NULL, 0);
    return 0;
}

/* POST /api/v1/plans/{id}/days/{n}/start {"client_id"}: a workout at the plan's gym. */
static int plan_start(struct gh_http_request *req, const char *seg, const char *nseg)
{
    struct gh_plan_rec rec = {0};
    struct gh_workout w;
    struct gh_err err = {0};
    json_t *doc = NULL, *plan = NULL, *day, *out;
    int64_t n = parse_id(nseg);
    int created = 0, rc;

    memset(&w, 0, sizeof w);
    if (!(doc = body_object(req)) || client_id(req, doc, 1, w.client_id) ||
        load_plan(req, seg, &rec))
        goto out;
    plan = plan_json(req, &rec, 1, &err);
    if (!plan) {
        gh_http_problem_from_store_err(req, &err);
        goto out;
    }
    day = json_array_get(json_object_get(plan, "days"), n > 0 ? (size_t)(n - 1) : SIZE_MAX);
    if (!day) {
        gh_http_problem(req, 404, "plan_day_not_found", "plan %lld has days 1 to %zu, not %s",
                        (long long)rec.id, json_array_size(json_object_get(plan, "days")), nseg);
        goto out;
    }
    w.gym_id = rec.gym_id;
    snprintf(w.notes, sizeof w.notes, "Plan %lld, day %lld: %s", (long long)rec.id, (long long)n,
             json_string_value(json_object_get(day, "name")));
    rc = gh_workouts_start(req->app->store, owner_of(req), &w, &created, &err);
    if (rc == GH_ENOTFOUND && w.gym_id) { /* the plan's gym is gone: start without one */
        w.gym_id = 0;
        rc = gh_workouts_start(req->app->store, owner_of(req), &w, &created, &err);
    }
    if (rc) {
        gh_http_problem_from_store_err(req, &err);
        goto out;
    }
    out = gh_workouts_workout_json(&w, NULL, 0, 1);
    if (out)
        json_object_set_new(out, "plan_day", json_incref(day));
    gh_http_json_doc(req, created ? 201 : 200, out);
out:
    json_decref(plan);
    json_decref(doc);
    gh_plan_rec_fini(&rec);
    return 0;
}

static int plans_work(struct gh_http_request *req)
{
    struct path p;

    if (split(req, "/api/v1/plans", &p) != 0 || p.n == 2 || p.n == 3 || p.n > 4 ||
        (p.n == 4 && (strcmp(p.s[1], "days") != 0 || strcmp(p.s[3], "start") != 0))) {
        gh_http_problem(req, 404, "not_found", "no such endpoint: %s %s", req->method, req->url);
        return 0;
    }
    if (p.n == 0) {
        label(req, "/api/v1/plans");
        return is(req, "GET") ? plan_list(req) : not_allowed(req, "GET, HEAD");
    }
    if (p.n == 1 && strcmp(p.s[0], "generate") == 0) {
        label(req, "/api/v1/plans/generate");
        return is(req, "POST") ? plan_generate(req) : not_allowed(req, "POST");
    }
    if (p.n == 1) {
        label(req, "/api/v1/plans/{id}");
        if (is(req, "GET"))
            return plan_get(req, p.s[0]);
        return is(req, "DELETE") ? plan_delete(req, p.s[0]) : not_allowed(req, "GET, HEAD, DELETE");
    }
    label(req, "/api/v1/plans/{id}/days/{n}/start");
    return is(req, "POST") ? plan_start(req, p.s[0], p.s[2]) : not_allowed(req, "POST");
}

int gh_route_plans(struct gh_http_request *req)
{
    return gh_http_defer(req, plans_work, GH_HTTP_POOL_LIGHT);
}

/* ---- share links ---- */

/* The public copy of a workout: its times, notes and sets, no ids of anything. */
static json_t *shared_workout(struct gh_http_request *req, const struct gh_share *sh,
                              struct gh_err *err)
{
    struct gh_workout w;
    struct gh_wset *sets = NULL;
    struct gh_set_filter f = {.workout_id = sh->object_id};
    size_t n = 0;
    json_t *doc = NULL, *s;
    size_t i;

    if (gh_store_workout_get(req->app->store, sh->owner, sh->object_id, &w, err) != GH_OK ||
        gh_store_set_query(req->app->store, sh->owner, &f, &sets, &n, err) != GH_OK)
        goto out;
    doc = gh_workouts_workout_json(&w, sets, n, 1);
    if (!doc) {
        gh_err_set(err, GH_ENOMEM, "out of memory");
        goto out;
    }
    json_object_del(doc, "id");
    json_object_del(doc, "client_id");
    json_object_del(doc, "gym_id");
    json_array_foreach(json_object_get(doc, "sets"), i, s)
    {
        json_object_del(s, "id");
        json_object_del(s, "client_id");
        json_object_del(s, "workout_id");
    }
out:
    gh_free(sets);
    return doc;
}

static json_t *shared_plan(struct gh_http_request *req, const struct gh_share *sh,
                           struct gh_err *err)
{
    struct gh_plan_rec rec = {0};
    json_t *doc = NULL;

    if (gh_store_plan_get(req->app->store, sh->owner, sh->object_id, &rec, err) == GH_OK)
        doc = plan_json(req, &rec, 0, err); /* no id, no gym, no one's log */
    gh_plan_rec_fini(&rec);
    return doc;
}

static int shared_work(struct gh_http_request *req)
{
    struct path p;
    struct gh_share sh;
    struct gh_err err = {0};
    char hash[GH_TOKEN_HASH_CAP];
    int workout;
    json_t *obj;

    label(req, "/api/v1/shared/{token}");
    if (!is(req, "GET"))
        return not_allowed(req, "GET, HEAD");
    /* one answer for malformed, unknown, revoked and deleted: nothing to tell them apart by */
    if (split(req, "/api/v1/shared", &p) != 0 || p.n != 1 ||
        gh_auth_share_hash(p.s[0], hash) != GH_OK ||
        gh_store_share_find(req->app->store, hash, &sh, &err) != GH_OK) {
        if (err.code && err.code != GH_ENOTFOUND) {
            gh_http_problem_from_store_err(req, &err);
            return 0;
        }
        gh_http_problem(req, 404, "share_not_found",
                        "this link does not exist or its owner has revoked it");
        return 0;
    }
    workout = strcmp(sh.kind, "workout") == 0;
    obj = workout ? shared_workout(req, &sh, &err) : shared_plan(req, &sh, &err);
    if (!obj && err.code != GH_ENOTFOUND && err.code != GH_OK) {
        gh_http_problem_from_store_err(req, &err);
        return 0;
    }
    if (!obj) {
        gh_http_problem(req, 404, "share_not_found",
                        "this link does not exist or its owner has revoked it");
        return 0;
    }
    gh_http_json_doc(req, 200, json_pack("{s:s, s:o}", "kind", sh.kind, sh.kind, obj));
    return 0;
}

int gh_route_shared(struct gh_http_request *req)
{
    return gh_http_defer(req, shared_work, GH_HTTP_POOL_LIGHT);
}

static int share_create(struct gh_http_request *req)
{
    struct gh_err err = {0};
    char token[GH_SHARE_TOKEN_LEN + 1], hash[GH_TOKEN_HASH_CAP], url[96];
    const char *kind;
    int64_t id, share_id = 0;
    json_t *doc = body_object(req), *v;
    int rc;

    if (!doc)
        return 0;
    kind = json_string_value(json_object_get(doc, "kind"));
    v = json_object_get(doc, "id");
    if (!kind || (strcmp(kind, "workout") != 0 && strcmp(kind, "plan") != 0)) {
        bad_field(req, "kind", "\"workout\" or \"plan\"");
        goto out;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        bad_field(req, "id", "the id of one of your workouts or plans");
        goto out;
    }
    id = json_integer_value(v);
    if (strcmp(kind, "plan") == 0) {
        struct gh_plan_rec rec = {0};

        rc = gh_store_plan_get(req->app->store, owner_of(req), id, &rec, &err);
        gh_plan_rec_fini(&rec);
    } else {
        struct gh_workout w;

        rc = gh_store_workout_get(req->app->store, owner_of(req), id, &w, &err);
    }
    if (rc == GH_OK)
        rc = gh_auth_share_token(token, hash, &err);
    if (rc == GH_OK)
        rc = gh_store_share_add(req->app->store, owner_of(req), hash, kind, id, (int64_t)time(NULL),
                                &share_id, &err);
    if (rc) {
        store_problem(req, &err,
                      strcmp(kind, "plan") == 0 ? "plan_not_found" : "workout_not_found");
        goto out;
    }
    snprintf(url, sizeof url, "/#/shared/%s", token);
    gh_http_json_doc(req, 201,
                     json_pack("{s:I, s:s, s:s, s:I, s:s}", "share_id", (json_int_t)share_id,
                               "token", token, "kind", kind, "id", (json_int_t)id, "url", url));
out:
    json_decref(doc);
    return 0;
}

static int share_list(struct gh_http_request *req)
{
    struct gh_share *v = NULL;
    struct gh_err err = {0};
    size_t n = 0;
    json_t *items = json_array();

    if (gh_store_share_list(req->app->store, owner_of(req), &v, &n, &err) != GH_OK) {
        json_decref(items);
        gh_http_problem_from_store_err(req, &err);
        return 0;
    }
    for (size_t i = 0; items && i < n; i++)
        json_array_append_new(items,
                              json_pack("{s:I, s:s, s:I, s:o}", "share_id", (json_int_t)v[i].id,
                                        "kind", v[i].kind, "id", (json_int_t)v[i].object_id,
                                        "created_at", time_json(v[i].created_at)));
    gh_free(v);
    gh_http_json_doc(req, 200, items ? json_pack("{s:o}", "items", items) : NULL);
    return 0;
}

/* DELETE /api/v1/shares/{token or share_id}: the token when the client kept it, else the id
 * the list shows (tokens are not kept, so the list cannot show them). */
static int share_delete(struct gh_http_request *req, const char *seg)
{
    struct gh_err err = {0};
    char hash[GH_TOKEN_HASH_CAP];
    int64_t id = parse_id(seg);
    int by_token = !id && gh_auth_share_hash(seg, hash) == GH_OK;

    if (!id && !by_token) {
        gh_http_problem(req, 404, "share_not_found", "no such share link");
        return 0;
    }
    if (gh_store_share_delete(req->app->store, owner_of(req), by_token ? hash : NULL, id, &err) !=
        GH_OK) {
        store_problem(req, &err, "share_not_found");
        return 0;
    }
    gh_http_json(req, 204, NULL, 0);
    return 0;
}

static int shares_work(struct gh_http_request *req)
{
    struct path p;

    if (split(req, "/api/v1/shares", &p) != 0 || p.n > 1) {
        gh_http_problem(req, 404, "not_found", "no such endpoint: %s %s", req->method, req->url);
        return 0;
    }
    if (p.n == 0) {
        label(req, "/api/v1/shares");
        if (is(req, "GET"))
            return share_list(req);
        return is(req, "POST") ? share_create(req) : not_allowed(req, "GET, HEAD, POST");
    }
    label(req, "/api/v1/shares/{token}");
    return is(req, "DELETE") ? share_delete(req, p.s[0]) : not_allowed(req, "DELETE");
}

int gh_route_shares(struct gh_http_request *req)
{
    return gh_http_defer(req, shares_work, GH_HTTP_POOL_LIGHT);
}
