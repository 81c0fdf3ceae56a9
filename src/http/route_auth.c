/* SPDX-License-Identifier: MIT */
/* The accounts API: POST /api/v1/auth/login, /refresh, /logout, /register, GET
 * /api/v1/auth/config and /api/v1/me. Bodies are small JSON objects (Content-Type:
 * application/json, so a cross-site form cannot post them). Sign-in and sign-up cost an
 * Argon2id computation and run on a worker. The web app asks for its refresh token in an
 * HttpOnly; Secure; SameSite=Strict cookie scoped to /api/v1/auth ("use_cookie": true) and
 * then never sees it; API clients get it in the body. Refresh and sign-out by cookie answer
 * only JSON requests from this origin (cookie_use_refused). */
#include "internal.h"

#include "gh/auth.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define AUTH_BODY_MAX 16384
#define COOKIE_NAME   "gh_refresh"
#define COOKIE_ATTRS  "Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict"

static int is_json(struct gh_http_request *req)
{
    const char *ct = gh_http_header(req, "Content-Type");

    return ct && strncasecmp(ct, "application/json", 16) == 0 &&
           (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

/* The body as a JSON object, or NULL with the answer set. An empty body is {} when
 * empty_ok (refresh and logout by cookie). */
static json_t *body_object(struct gh_http_request *req, int empty_ok)
{
    json_t *doc;

    if (req->body.len == 0 && empty_ok)
        return json_object();
    if (!is_json(req)) {
        gh_http_problem(req, 415, "unsupported_media_type",
                        "send the body as JSON with Content-Type: application/json");
        return NULL;
    }
    if (req->body.len > AUTH_BODY_MAX) {
        gh_http_problem(req, 413, "payload_too_large", "this body is limited to %d bytes",
                        AUTH_BODY_MAX);
        return NULL;
    }
    doc = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        gh_http_problem(req, 400, "invalid_json", "send a JSON object");
        return NULL;
    }
    return doc;
}

static const char *str_field(json_t *doc, const char *name)
{
    json_t *v = json_object_get(doc, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void unauthorized(struct gh_http_request *req, const struct gh_err *err)
{
    gh_http_problem(req, 401, "unauthorized", "%s", err->msg);
    req->resp.www_authenticate = "Bearer realm=\"gymhelper\"";
}

static void set_cookie(struct gh_http_request *req, const char *token, int64_t max_age)
{
    snprintf(req->cookie, sizeof req->cookie, COOKIE_NAME "=%s; Max-Age=%lld; " COOKIE_ATTRS, token,
             (long long)max_age);
    req->resp.set_cookie = req->cookie;
}

static const char *cookie_of(struct gh_http_request *req)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, COOKIE_NAME);
}

/* Spending the cookie (refresh, logout) is refused unless the request comes from a page of
 * this origin. SameSite=Strict keeps the cookie off cross-site requests, but a sibling
 * subdomain counts as the same site; so a browser's Sec-Fetch-Site must say same-origin, and
 * the Content-Type must be JSON, which no HTML form can send and which a script of another
 * origin can send only after a CORS preflight this server never grants. 0, or 1 with the
 * answer set. */
static int cookie_use_refused(struct gh_http_request *req)
{
    const char *site = gh_http_header(req, "Sec-Fetch-Site");

    if (site && strcmp(site, "same-origin") != 0) {
        gh_http_forbidden(req, "the sign-in cookie is spent only by this site's own pages");
        return 1;
    }
    if (!is_json(req)) {
        gh_http_problem(req, 415, "unsupported_media_type",
                        "to use the sign-in cookie, POST {} with Content-Type: "
                        "application/json");
        return 1;
    }
    return 0;
}

/* The refresh token from the body, else from our cookie (*from_cookie set); NULL with the
 * answer set when the cookie may not be used here, or with no answer when there is none. */
static const char *refresh_token_of(struct gh_http_request *req, json_t *doc, int *from_cookie)
{
    const char *t = str_field(doc, "refresh_token");

    *from_cookie = 0;
    if (t)
        return t;
    t = cookie_of(req);
    if (!t)
        return NULL;
    *from_cookie = 1;
    return cookie_use_refused(req) ? NULL : t;
}

static json_t *user_json(const struct gh_user *u)
{
    return json_pack("{s:I, s:s, s:s}", "id", (json_int_t)u->id, "username", u->username, "role",
                     gh_role_name(u->role));
}

static void session_answer(struct gh_http_request *req, int status, const struct gh_auth_session *s,
                           int use_cookie)
{
    const struct gh_auth_config *cfg = gh_auth_config(req->app->auth);
    json_t *doc =
        json_pack("{s:s, s:s, s:I, s:o}", "access_token", s->access_token, "token_type", "bearer",
                  "expires_in", (json_int_t)s->expires_in, "user", user_json(&s->user));

    if (doc && !use_cookie)
        json_object_set_new(doc, "refresh_token", json_string(s->refresh_token));
    if (use_cookie)
        set_cookie(req, s->refresh_token, cfg->refresh_ttl_s);
    gh_http_json_doc(req, status, doc);
}

static void answer_err(struct gh_http_request *req, int rc, const struct gh_err *err)
{
    if (rc == GH_EINVAL || rc == GH_ECONFLICT)
        unauthorized(req, err);
    else
        gh_http_problem_from_store_err(req, err);
}

static int run_slow(struct gh_http_request *req)
{
    req->slow(req);
    return 0;
}

/* Hands req to a worker for fn (the server answers 503 when none can take it). Argon2id is
 * seconds of CPU under load: the analysis pool, not the light one that health checks use. */
static int to_worker(struct gh_http_request *req, void (*fn)(struct gh_http_request *))
{
    req->slow = fn;
    return gh_http_defer(req, run_slow, GH_HTTP_POOL_ANALYSIS);
}

static void login_slow(struct gh_http_request *req)
{
    struct gh_auth_session s;
    struct gh_err err = {0};
    int64_t retry = 0;
    json_t *doc = body_object(req, 0);
    const char *user, *pw;
    int rc;

    if (!doc)
        return;
    user = str_field(doc, "username");
    pw = str_field(doc, "password");
    if (!user || !pw) {
        gh_http_problem(req, 400, "invalid_json",
                        "send {\"username\": \"...\", \"password\": \"...\"}");
        goto out;
    }
    rc = gh_auth_login(req->app->auth, user, pw, req->ident.address, (int64_t)time(NULL), &s,
                       &retry, &err);
    if (rc == GH_EUNAVAILABLE && retry > 0) {
        gh_http_problem(req, 429, "rate_limited", "%s", err.msg);
        req->resp.retry_after_s = retry;
    } else if (rc) {
        answer_err(req, rc, &err);
    } else {
        session_answer(req, 200, &s, json_is_true(json_object_get(doc, "use_cookie")));
    }
    gh_auth_session_wipe(&s);
out:
    json_decref(doc);
}

int gh_route_auth_login(struct gh_http_request *req)
{
    return to_worker(req, login_slow);
}

static void register_slow(struct gh_http_request *req)
{
    struct gh_auth_session s;
    struct gh_err err = {0};
    json_t *doc = body_object(req, 0);
    const char *user, *pw;
    int rc;

    if (!doc)
        return;
    user = str_field(doc, "username");
    pw = str_field(doc, "password");
    if (!user || !pw) {
        gh_http_problem(req, 400, "invalid_json",
                        "send {\"username\": \"...\", \"password\": \"...\"}");
        goto out;
    }
    rc = gh_auth_register(req->app->auth, user, pw, (int64_t)time(NULL), &s, &err);
    if (rc == GH_ECONFLICT)
        gh_http_problem(req, 409, "username_taken", "that username is taken; choose another");
    else if (rc == GH_EINVAL)
        gh_http_problem(req, 422, "invalid_account", "%s", err.msg);
    else if (rc)
        gh_http_problem_from_store_err(req, &err);
    else
        session_answer(req, 201, &s, json_is_true(json_object_get(doc, "use_cookie")));
    gh_auth_session_wipe(&s);
out:
    json_decref(doc);
}

int gh_route_auth_register(struct gh_http_request *req)
{
    if (!gh_auth_config(req->app->auth)->allow_signup) {
        gh_http_forbidden(req, "sign-up is off on this server (ALLOW_SIGNUP); ask an admin "
                               "for an account");
        return 0;
    }
    return to_worker(req, register_slow);
}

int gh_route_auth_refresh(struct gh_http_request *req)
{
    struct gh_auth_session s;
    struct gh_err err = {0};
    json_t *doc = body_object(req, 1);
    const char *tok;
    int rc, from_cookie;

    if (!doc)
        return 0;
    tok = refresh_token_of(req, doc, &from_cookie);
    if (!tok && from_cookie)
        goto out; /* refused */
    if (!tok) {
        gh_http_problem(req, 400, "invalid_json",
                        "send {\"refresh_token\": \"ghr_...\"} (or the sign-in cookie)");
        goto out;
    }
    rc = gh_auth_refresh(req->app->auth, tok, (int64_t)time(NULL), &s, &err);
    if (rc) {
        answer_err(req, rc, &err);
        if (from_cookie)
            set_cookie(req, "", 0); /* the browser drops a dead cookie */
    } else {
        session_answer(req, 200, &s, from_cookie);
    }
    gh_auth_session_wipe(&s);
out:
    json_decref(doc);
    return 0;
}

int gh_route_auth_logout(struct gh_http_request *req)
{
    struct gh_err err = {0};
    json_t *doc = body_object(req, 1);
    const char *tok;
    int rc, from_cookie;

    if (!doc)
        return 0;
    tok = refresh_token_of(req, doc, &from_cookie);
    if (!tok && from_cookie) {
        json_decref(doc);
        return 0; /* refused */
    }
    rc = tok ? gh_auth_logout(req->app->auth, tok, (int64_t)time(NULL), &err) : GH_OK;
    if (rc && rc != GH_EINVAL) {
        gh_http_problem_from_store_err(req, &err);
    } else {
        set_cookie(req, "", 0);
        req->resp.status = 204;
        req->resp.body = NULL;
        req->resp.len = 0;
        req->resp.no_store = 1;
    }
    json_decref(doc);
    return 0;
}

int gh_route_auth_config(struct gh_http_request *req)
{
    const struct gh_auth_config *cfg = req->app->auth ? gh_auth_config(req->app->auth) : NULL;

    /* session_cookie: the web app tries a refresh on load only when there is a cookie to
     * spend (it cannot see an HttpOnly one), so a signed-out visit makes no failing call. */
    gh_http_json_doc(req, 200,
                     json_pack("{s:s, s:b, s:I, s:b}", "mode",
                               req->app->auth_required ? "required" : "open", "signup",
                               cfg && cfg->allow_signup, "access_token_ttl",
                               (json_int_t)(cfg ? cfg->access_ttl_s : 0), "session_cookie",
                               cookie_of(req) != NULL && cookie_of(req)[0] != '\0'));
    return 0;
}

static const char *kind_name(enum gh_identity_kind k)
{
    return k == GH_IDENTITY_USER ? "user" : k == GH_IDENTITY_API_KEY ? "api_key" : "anonymous";
}

int gh_route_me(struct gh_http_request *req)
{
    const struct gh_identity *id = &req->ident;
    struct gh_user u;
    struct gh_err err = {0};
    char scopes[64];
    json_t *doc;

    gh_auth_scopes_format(id->scopes, scopes, sizeof scopes);
    doc = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:b}", "kind", kind_name(id->kind), "identity",
                    id->key, "role", gh_role_name(id->role), "scopes", scopes, "mode",
                    req->app->auth_required ? "required" : "open", "admin", gh_http_is_admin(req));
    if (doc && id->user_id > 0 && req->app->store &&
        gh_store_user_get(req->app->store, id->user_id, NULL, &u, &err) == GH_OK) {
        json_object_set_new(doc, "user", user_json(&u));
    }
    if (doc && id->key_id > 0)
        json_object_set_new(doc, "key_id", json_integer(id->key_id));
    gh_http_json_doc(req, 200, doc);
    return 0;
}
