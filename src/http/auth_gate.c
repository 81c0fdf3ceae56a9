/* SPDX-License-Identifier: MIT */
/* Authentication and the route-independent part of authorisation, decided from the headers
 * before any body is read (issue 11 "Authorisation"): the catalogue (equipment and exercises),
 * health, the auth routes, the API docs and the web app's files are public; /metrics is
 * loopback-only or admin; every other /api/ route needs a user or an API key with the route's
 * scope when AUTH_MODE=required. Ownership (whose history) and admin-only parameters are the
 * routes' own checks. */
#include "internal.h"

#include "gh/auth.h"

#include <string.h>
#include <time.h>

static int starts(const char *url, const char *prefix)
{
    return strncmp(url, prefix, strlen(prefix)) == 0;
}

/* Open to everyone in every mode. */
static int is_public(const char *url)
{
    if (strcmp(url, "/metrics") == 0)
        return 0;
    if (!starts(url, "/api/"))
        return 1; /* /health, the web app, /openapi.json, /docs/ */
    return strcmp(url, "/api/v1/health") == 0 || strcmp(url, "/api/v1/equipment") == 0 ||
           starts(url, "/api/v1/equipment/") || strcmp(url, "/api/v1/exercises") == 0 ||
           starts(url, "/api/v1/exercises/") || starts(url, "/api/v1/auth/") ||
           starts(url, "/api/v1/shared/");
}

/* url is base or below it ("/api/v1/gyms", "/api/v1/gyms/7"; not "/api/v1/gymsX"). */
static int under(const char *url, const char *base)
{
    size_t n = strlen(base);

    return strncmp(url, base, n) == 0 && (url[n] == '\0' || url[n] == '/');
}

/* A person's workout log, plans and share links: a key made to analyze photos (a camera
 * script) must not read, export, share or delete them. The public /api/v1/shared/ is not. */
static int is_workouts(const char *url)
{
    static const char *const bases[] = {"/api/v1/gyms",    "/api/v1/workouts", "/api/v1/progress",
                                        "/api/v1/exports", "/api/v1/imports",  "/api/v1/plans",
                                        "/api/v1/shares"};

    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
        if (under(url, bases[i]))
            return 1;
    return 0;
}

/* The scope an API key needs for url; 0: any authenticated caller. */
static unsigned scope_for(const char *url, const char *method)
{
    size_t n = strlen(url);

    if (starts(url, "/api/v1/corrections"))
        return GH_SCOPE_ADMIN;
    if (is_workouts(url))
        return GH_SCOPE_WORKOUTS;
    if (strcmp(method, "POST") == 0 && n > 9 && strcmp(url + n - 9, "/feedback") == 0)
        return GH_SCOPE_FEEDBACK;
    if (strcmp(url, "/api/v1/analyze") == 0)
        return GH_SCOPE_ANALYZE;
    return 0;
}

static void unauthorized(struct gh_http_request *req, const char *why)
{
    gh_http_problem(req, 401, "unauthorized", "%s", why);
    req->resp.www_authenticate = "Bearer realm=\"gymhelper\"";
}

void gh_http_forbidden(struct gh_http_request *req, const char *why)
{
    gh_http_problem(req, 403, "forbidden", "%s", why);
}

int gh_http_is_admin(const struct gh_http_request *req)
{
    return req->ident.role == GH_ROLE_ADMIN && (req->ident.scopes & GH_SCOPE_ADMIN);
}

int gh_http_may_see(const struct gh_http_request *req, const char *owner)
{
    if (gh_http_is_admin(req))
        return 1;
    return req->owner[0] && strcmp(req->owner, owner) == 0;
}

/* Authenticates the credentials sent, if any: a GH_GATE_ value, with the answer set when
 * refused. */
static int authenticate(struct gh_http_request *req, int public, int may_block)
{
    const char *authz = gh_http_header(req, "Authorization");
    const char *key = gh_http_header(req, "X-API-Key");
    struct gh_identity id = req->ident;
    struct gh_err err = {0};
    int rc;

    if (!authz && !key)
        return GH_GATE_OK;
    rc =
        gh_auth_authenticate(req->app->auth, authz, key, (int64_t)time(NULL), may_block, &id, &err);
    if (rc == GH_OK) {
        req->ident = id;
        return GH_GATE_OK;
    }
    if (rc == GH_EWOULDBLOCK)
        return GH_GATE_BLOCKS;
    if (public)
        return GH_GATE_OK; /* a stale token does not lock anyone out of the catalogue or sign-in */
    if (rc == GH_EINVAL)
        unauthorized(req, err.msg);
    else
        gh_http_problem_from_store_err(req, &err);
    return GH_GATE_REFUSED;
}

int gh_http_auth_gate(struct gh_http_request *req, int may_block)
{
    struct gh_app *app = req->app;
    int public = is_public(req->url);
    unsigned need;
    int rc;

    if (!app->auth) { /* no accounts at all: everyone is the local admin */
        req->ident.role = GH_ROLE_ADMIN;
        req->ident.scopes =
            GH_SCOPE_ANALYZE | GH_SCOPE_FEEDBACK | GH_SCOPE_WORKOUTS | GH_SCOPE_ADMIN;
        return GH_GATE_OK;
    }
    rc = authenticate(req, public, may_block);
    if (rc != GH_GATE_OK)
        return rc;
    gh_auth_owner(&req->ident, req->owner);
    if (req->ident.kind == GH_IDENTITY_ANONYMOUS && !app->auth_required) {
        /* open mode: one implicit local user who may do everything, as before accounts */
        req->ident.role = GH_ROLE_ADMIN;
        req->ident.scopes =
            GH_SCOPE_ANALYZE | GH_SCOPE_FEEDBACK | GH_SCOPE_WORKOUTS | GH_SCOPE_ADMIN;
    }
    if (public)
        return GH_GATE_OK;
    if (strcmp(req->url, "/metrics") == 0) {
        if (req->ident.loopback || gh_http_is_admin(req))
            return GH_GATE_OK;
        if (req->ident.kind == GH_IDENTITY_ANONYMOUS)
            unauthorized(req, "/metrics answers loopback clients and admins; send an admin's "
                              "token or key");
        else
            gh_http_forbidden(req, "/metrics answers loopback clients and admins only");
        return GH_GATE_REFUSED;
    }
    if (req->ident.kind == GH_IDENTITY_ANONYMOUS && app->auth_required) {
        unauthorized(req, "sign in first: send Authorization: Bearer <access token or API key> "
                          "(POST /api/v1/auth/login gives a token)");
        return GH_GATE_REFUSED;
    }
    need = scope_for(req->url, req->method);
    if (need && !(req->ident.scopes & need)) {
        gh_http_forbidden(req, need == GH_SCOPE_ADMIN ? "this needs an admin"
                               : need == GH_SCOPE_WORKOUTS
                                   ? "the workout log, plans and share links need an API key "
                                     "with the 'workouts' scope (gymhelper key create --scope "
                                     "workouts --user NAME) or a signed-in user's token"
                                   : "this API key lacks the scope this route needs");
        return GH_GATE_REFUSED;
    }
    return GH_GATE_OK;
}
