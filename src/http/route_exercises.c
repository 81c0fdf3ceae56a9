/* SPDX-License-Identifier: MIT */
/* GET /api/v1/exercises[?equipment=&muscle=&pattern=&measure=&q=] and
 * GET /api/v1/exercises/{slug}: the catalogue's exercises, pre-serialised by the catalogue.
 * Unlike the equipment list, a filter value that names nothing is a 400: a typo in a slug or
 * a muscle should not look like "no exercises". */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/catalogue.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define Q_MAX 100

struct filters {
    const char *equipment, *muscle, *pattern, *measure, *q;
    const struct gh_exercise *q_match; /* what q means as an app's exercise name */
};

static int has(const struct gh_strv *v, const char *s)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcasecmp(v->v[i], s) == 0)
            return 1;
    return 0;
}

static const char *arg(struct gh_http_request *req, const char *name)
{
    const char *v = gh_http_arg(req, name);

    return v && *v ? v : NULL; /* an empty filter is no filter */
}

/* 0 when value is in the vocabulary; else answers 400 listing the allowed words. */
static int check_vocab(struct gh_http_request *req, const char *which, const char *value)
{
    char list[400];
    size_t at = 0;
    const char *w;

    if (!value)
        return 0;
    for (size_t i = 0; (w = gh_exercise_vocab(which, i)); i++) {
        if (strcasecmp(w, value) == 0)
            return 0;
        at += (size_t)snprintf(list + at, at < sizeof list ? sizeof list - at : 0, "%s%s",
                               i ? ", " : "", w);
        if (at >= sizeof list)
            at = sizeof list - 1;
    }
    gh_http_problem(req, 400, "invalid_parameter", "%s '%.60s' is not one of: %s", which, value,
                    list);
    return -1;
}

static int read_filters(struct gh_http_request *req, struct filters *f)
{
    const struct gh_catalogue *cat = req->app->cat;

    f->equipment = arg(req, "equipment");
    f->muscle = arg(req, "muscle");
    f->pattern = arg(req, "pattern");
    f->measure = arg(req, "measure");
    f->q = arg(req, "q");
    f->q_match = NULL;
    if (f->equipment && !gh_catalogue_find(cat, f->equipment)) {
        gh_http_problem(req, 400, "invalid_parameter",
                        "equipment '%.80s' is not an equipment slug; GET /api/v1/equipment "
                        "lists them",
                        f->equipment);
        return -1;
    }
    if (check_vocab(req, "muscle", f->muscle) || check_vocab(req, "pattern", f->pattern) ||
        check_vocab(req, "measure", f->measure))
        return -1;
    if (f->q && strlen(f->q) > Q_MAX) {
        gh_http_problem(req, 400, "invalid_parameter", "q is %zu bytes; at most %d", strlen(f->q),
                        Q_MAX);
        return -1;
    }
    if (f->q)
        f->q_match = gh_catalogue_match_exercise(cat, f->q);
    return 0;
}

static int matches_text(const struct gh_exercise *x, const struct filters *f)
{
    if (x == f->q_match || strcasestr(x->name, f->q) || strcasestr(x->slug, f->q))
        return 1;
    for (size_t i = 0; i < x->aliases.n; i++)
        if (strcasestr(x->aliases.v[i], f->q))
            return 1;
    return 0;
}

static int passes(const struct gh_exercise *x, const struct filters *f)
{
    return (!f->equipment || has(&x->equipment, f->equipment)) &&
           (!f->muscle || has(&x->primary_muscles, f->muscle) ||
            has(&x->secondary_muscles, f->muscle)) &&
           (!f->pattern || strcasecmp(x->pattern, f->pattern) == 0) &&
           (!f->measure || strcasecmp(x->measure, f->measure) == 0) &&
           (!f->q || matches_text(x, f));
}

int gh_route_exercises_list(struct gh_http_request *req)
{
    const struct gh_catalogue *cat = req->app->cat;
    const char *version = gh_catalogue_version(cat);
    struct filters f;
    size_t len = 0, count = 0, at = 0, n = gh_catalogue_n_exercises(cat);
    char *body;

    if (read_filters(req, &f))
        return 0;
    for (size_t i = 0; i < n; i++) /* upper bound: every exercise passes */
        len += strlen(gh_catalogue_exercise_at(cat, i)->json) + 1;
    len += strlen(version) + 96;
    body = gh_malloc(len);
    if (!body) {
        gh_http_problem(req, 503, "out_of_memory", "the server is out of memory");
        return 0;
    }
    /* The version is a catalogue-checked plain string; the entries are JSON already. */
    at = (size_t)snprintf(body, len, "{\"catalogue_version\":\"%s\",\"exercises\":[", version);
    for (size_t i = 0; i < n; i++) {
        const struct gh_exercise *x = gh_catalogue_exercise_at(cat, i);
        size_t m = strlen(x->json);

        if (!passes(x, &f))
            continue;
        if (count++)
            body[at++] = ',';
        memcpy(body + at, x->json, m);
        at += m;
    }
    at += (size_t)snprintf(body + at, len - at, "],\"count\":%zu}", count);
    gh_http_json(req, 200, body, at);
    return 0;
}

int gh_route_exercises_get(struct gh_http_request *req)
{
    const char *slug = strrchr(req->url, '/') + 1; /* the router matched one segment */
    const struct gh_exercise *x = gh_catalogue_find_exercise(req->app->cat, slug);
    size_t n;
    char *body;

    if (!x) {
        gh_http_problem(req, 404, "exercise_not_found",
                        "no exercise with slug '%.80s'; GET /api/v1/exercises lists them", slug);
        return 0;
    }
    n = strlen(x->json);
    body = gh_malloc(n + 1);
    if (!body) {
        gh_http_problem(req, 503, "out_of_memory", "the server is out of memory");
        return 0;
    }
    memcpy(body, x->json, n + 1);
    gh_http_json(req, 200, body, n);
    return 0;
}
