/* SPDX-License-Identifier: MIT */
/* GET /api/v1/equipment[?category=&muscle=&q=] and GET /api/v1/equipment/{slug or id}: the
 * catalogue as served to apps. Entries are kept pre-serialised by the catalogue. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int has(const struct gh_strv *v, const char *s)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcasecmp(v->v[i], s) == 0)
            return 1;
    return 0;
}

static int matches_text(const struct gh_equipment *q, const char *text)
{
    if (strcasestr(q->name, text) || strcasestr(q->slug, text))
        return 1;
    for (size_t i = 0; i < q->aliases.n; i++)
        if (strcasestr(q->aliases.v[i], text))
            return 1;
    return 0;
}

/* Appends; a failure stays in o->rc (gh/buf.h) and is checked once at the end. */
static void adds(struct gh_buf *o, const char *s)
{
    (void)gh_buf_puts(o, s);
}

/* Far above the whole catalogue (~200 KB), low enough that a runaway cannot exhaust memory. */
#define LIST_MAX (8u << 20)

/* Slugs, category ids and versions are catalogue-checked plain tokens; no escaping needed. */
int gh_route_equipment_list(struct gh_http_request *req)
{
    const struct gh_catalogue *cat = req->app->cat;
    const char *category = gh_http_arg(req, "category"), *muscle = gh_http_arg(req, "muscle");
    const char *q = gh_http_arg(req, "q");
    struct gh_buf o;
    char num[64], *body;
    size_t count = 0, len;

    gh_buf_init(&o, LIST_MAX);
    adds(&o, "{\"catalogue_version\":\"");
    adds(&o, gh_catalogue_version(cat));
    adds(&o, "\",\"categories\":[");
    for (size_t i = 0; i < gh_catalogue_n_categories(cat); i++) {
        const struct gh_category *c = gh_catalogue_category_at(cat, i);

        adds(&o, i ? ",{\"id\":\"" : "{\"id\":\"");
        adds(&o, c->id);
        adds(&o, "\",\"name\":\"");
        adds(&o, c->name);
        adds(&o, "\"}");
    }
    adds(&o, "],\"equipment\":[");
    for (size_t i = 0; i < gh_catalogue_count(cat); i++) {
        const struct gh_equipment *e = gh_catalogue_at(cat, i);

        if (category && *category && strcasecmp(e->category, category) != 0)
            continue;
        if (muscle && *muscle && !has(&e->primary_muscles, muscle) &&
            !has(&e->secondary_muscles, muscle))
            continue;
        if (q && *q && !matches_text(e, q))
            continue;
        adds(&o, count++ ? "," : "");
        adds(&o, e->json);
    }
    snprintf(num, sizeof num, "],\"count\":%zu}", count);
    adds(&o, num);
    body = gh_buf_take(&o, &len);
    if (!body) {
        gh_http_problem(req, 503, "out_of_memory", "the server is out of memory");
        return 0;
    }
    gh_http_json(req, 200, body, len);
    return 0;
}

int gh_route_equipment_get(struct gh_http_request *req)
{
    const struct gh_catalogue *cat = req->app->cat;
    const char *id = strrchr(req->url, '/') + 1; /* the router matched one segment */
    const struct gh_equipment *e = gh_catalogue_find(cat, id);
    char *end = NULL, *body;
    long n;

    if (!e) {
        n = strtol(id, &end, 10);
        if (*id && end && *end == '\0' && n >= 1)
            e = gh_catalogue_at(cat, (size_t)n - 1);
    }
    if (!e) {
        gh_http_problem(req, 404, "equipment_not_found",
                        "no equipment with id or slug '%.80s'; GET /api/v1/equipment lists them",
                        id);
        return 0;
    }
    body = gh_malloc(strlen(e->json) + 1);
    if (!body) {
        gh_http_problem(req, 503, "out_of_memory", "the server is out of memory");
        return 0;
    }
    memcpy(body, e->json, strlen(e->json) + 1);
    gh_http_json(req, 200, body, strlen(body));
    return 0;
}
