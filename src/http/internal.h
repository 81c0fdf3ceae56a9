/* SPDX-License-Identifier: MIT */
/* Shared inside the HTTP module: the request being served, responses, problem documents and
 * the route handlers (one file each). Only src/http sees <microhttpd.h>. */
#ifndef GH_HTTP_INTERNAL_H
#define GH_HTTP_INTERNAL_H

#include "gh/buf.h"
#include "gh/http.h"
#include "gh/identity.h"
#include "gh/image.h"
#include "gh/limits.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>

/* The worker pools. Light: store, Redis, history, feedback, statistics, health, hashing big
 * uploads: work bounded by the store's and Redis's deadlines. Analysis: decoding and the
 * provider, seconds each; kept apart so that they never hold up the light work. */
enum gh_http_pool {
    GH_HTTP_POOL_LIGHT,
    GH_HTTP_POOL_ANALYSIS,
};

/* Requests waiting for a worker now, by enum gh_http_pool; zeros when no server runs. */
void gh_http_queue_waiting(int out[2]);

/* Client connections open now, and those closed at accept (past the connection limits);
 * zeros when no server runs. */
void gh_http_connections(int *open, unsigned long long *refused);

/* Bodies of the JSON routes (feedback) are capped here; only analyze takes images. */
#define GH_HTTP_JSON_BODY_MAX (16u << 10)

/* Uploads up to this size are scanned and hashed on the I/O thread (~0.1 ms at 1 GB/s), so a
 * memory hit costs no hand-off; longer ones are hashed on a light worker. */
#define GH_HTTP_INLINE_HASH_MAX (256u << 10)

/* A route's return when it handed the request to a worker (gh_http_defer). */
#define GH_ROUTE_WORK 1
/* A work function's return when it ran a request's header-stage decisions on a worker
 * (credentials not in the auth cache: the store; the shared rate limits: Redis) and the request
 * goes on: the connection resumes and its body is read and routed as usual. */
#define GH_ROUTE_CONTINUE 2

/* A response ready to queue. body is owned (gh_free) unless body_static. */
struct gh_http_response {
    int status;
    const char *content_type;
    char *body;
    size_t len;
    int body_static;
    const char *allow;         /* for 405 */
    int no_store;              /* Cache-Control: no-store */
    const char *cache_control; /* overrides no_store when set */
    const char *etag;
    const char *location;         /* for redirects */
    const char *www_authenticate; /* for 401 */
    const char *set_cookie;       /* the refresh-token cookie of the auth routes */
    const unsigned char *gz;      /* precompressed body (static files), sent when accepted */
    size_t gz_len;
    int64_t retry_after_s;      /* Retry-After when > 0 */
    char ratelimit_policy[128]; /* RateLimit-Policy / RateLimit values, "" when none */
    char ratelimit[96];
    int close; /* Connection: close (framing in doubt, or the server crowded) */
};

/* Request ids (request_id.c): a client's X-Request-ID is kept when it is a plain token of at
 * most this many bytes that is not all digits (safe in JSON and logs, and never mistaken for a
 * history number); otherwise gh_http_request_id_make draws one: 16 hex digits from the xorshift
 * state, never all digits. */
#define GH_HTTP_REQUEST_ID_MAX 64
int gh_http_request_id_usable(const char *id);
void gh_http_request_id_make(uint64_t *state, char out[17]);

struct gh_http_request {
    struct gh_app *app;
    struct MHD_Connection *conn;
    struct gh_identity ident;        /* who sent it: the peer address until authenticated */
    char owner[GH_IDENTITY_KEY_CAP]; /* gh_auth_owner(&ident): what it creates belongs to */
    /* The worker's part when a route hands the request over; NULL: an analysis. */
    void (*slow)(struct gh_http_request *req);
    const char *method; /* owned by libmicrohttpd, valid for the request */
    const char *url;
    char request_id[GH_HTTP_REQUEST_ID_MAX + 1];
    double t0;
    struct gh_buf body;       /* uploaded bytes, capped at the route's limit */
    size_t body_max;          /* the route's body cap */
    size_t body_declared;     /* Content-Length, or 0 */
    struct gh_conn *conn_ctx; /* admission's record of the connection (admission.h) */
    int refused;              /* refused before the body was in; resp holds the answer */
    size_t discarded;         /* body bytes read and dropped after refusing */
    int dispatched;           /* the body is in and a route is answering */
    int suspended;            /* the connection is suspended while a worker runs req->work */
    int has_body;             /* a body follows the headers (Content-Length or chunked) */
    int gate_pending;         /* authentication needs the store: a light worker does it */
    int recall;               /* resumed at the headers: the next empty call repeats them */
    atomic_int done;          /* the worker finished; resp is ready (set before the resume) */
    int (*work)(struct gh_http_request *req); /* what a worker runs next (gh_http_defer) */
    enum gh_http_pool pool;                   /* on which pool */
    struct gh_http_response resp;
    /* for the access log */
    int cached; /* -1 when not an analysis */
    char cache_layer[16];
    char equipment[64];
    char provider[32];
    const char *error_code;
    char route_label[48]; /* the route's pattern for metrics, never the URL; "" until routed */
    struct gh_analyze_request areq;
    char etag[24];
    char location[256];
    char cookie[256]; /* resp.set_cookie's text */
};

/* A route runs on an I/O thread and answers only from memory: it fills req->resp and returns
 * 0, or returns gh_http_defer(...) to have a worker run the blocking part. The server suspends
 * the connection first, then queues it (so no worker can resume a connection that is not yet
 * suspended). A work function fills req->resp and returns 0, or defers again (to the other
 * pool) while the connection stays suspended. */
typedef int (*gh_route_fn)(struct gh_http_request *req);

static inline int gh_http_defer(struct gh_http_request *req, gh_route_fn work,
                                enum gh_http_pool pool)
{
    req->work = work;
    req->pool = pool;
    return GH_ROUTE_WORK;
}

/* Request hygiene and admission at the headers (screen.c), before any body is read. */
struct gh_admission;
enum { GH_SCREEN_OK, GH_SCREEN_NOW };

/* GH_SCREEN_OK to read the body and route; GH_SCREEN_NOW: req->resp holds the refusal, to be
 * sent at once (a body still coming is drained after the close: lingering close).
 * takes_upload: the route takes images (analyze); json_post: a route that takes a JSON body.
 * Sets req->body_max and initialises req->body. */
int gh_http_screen(struct gh_http_request *req, struct gh_admission *adm, int takes_upload,
                   int json_post);

/* The 413 for req's body cap, and the 503 for a spent upload budget (server.c). */
void gh_http_too_large(struct gh_http_request *req);
void gh_http_upload_busy(struct gh_http_request *req);

/* Problem details (RFC 9457) as application/problem+json with a stable code. */
void gh_http_problem(struct gh_http_request *req, int status, const char *code, const char *fmt,
                     ...) GH_PRINTF(4, 5);

/* The HTTP status and problem code for an error of the lower layers. */
void gh_http_problem_from_err(struct gh_http_request *req, const struct gh_err *err);

/* The same for errors of the store (history, feedback, cache stats): there GH_EUNAVAILABLE
 * means the database is unreachable, not the AI provider. */
void gh_http_problem_from_store_err(struct gh_http_request *req, const struct gh_err *err);

/* A JSON body (takes ownership of json, allocated with malloc/gh_malloc). */
void gh_http_json(struct gh_http_request *req, int status, char *json, size_t len);

/* A no-store JSON answer from a jansson document (taken over, NULL allowed: then, as when
 * it cannot be written out, the answer is 503 out_of_memory). */
struct json_t;
void gh_http_json_doc(struct gh_http_request *req, int status, struct json_t *doc);

/* 1 while at least 90% of MAX_CONNECTIONS are open (admission.c): answers that can come from
 * memory should, and keep-alive is ended. Any thread. */
int gh_http_crowded(void);

/* Query argument, or NULL. */
const char *gh_http_arg(struct gh_http_request *req, const char *name);
const char *gh_http_header(struct gh_http_request *req, const char *name);

/* Routes */
int gh_route_health(struct gh_http_request *req);
int gh_route_cache_stats(struct gh_http_request *req);
int gh_route_quality(struct gh_http_request *req);
int gh_route_equipment_list(struct gh_http_request *req);
int gh_route_equipment_get(struct gh_http_request *req);
int gh_route_exercises_list(struct gh_http_request *req);
int gh_route_exercises_get(struct gh_http_request *req);
int gh_route_analyze(struct gh_http_request *req);
int gh_route_static(struct gh_http_request *req);
int gh_route_identifications(struct gh_http_request *req);
int gh_route_identification_get(struct gh_http_request *req);
int gh_route_identification_feedback(struct gh_http_request *req);
int gh_route_metrics(struct gh_http_request *req);
/* Accounts (route_auth.c) and corrections review (route_corrections.c). */
int gh_route_auth_login(struct gh_http_request *req);
int gh_route_auth_refresh(struct gh_http_request *req);
int gh_route_auth_logout(struct gh_http_request *req);
int gh_route_auth_register(struct gh_http_request *req);
int gh_route_auth_config(struct gh_http_request *req);
int gh_route_me(struct gh_http_request *req);
int gh_route_corrections(struct gh_http_request *req);
int gh_route_correction_accept(struct gh_http_request *req);
int gh_route_correction_reject(struct gh_http_request *req);
/* A correction as the review API and feedback answer it (route_corrections.c). */
struct gh_correction;
struct json_t *gh_http_correction_json(const struct gh_correction *c);
/* The workout log (route_workouts.c, issue 12): subtree routes that read their own segments
 * and answer every method themselves. */
int gh_route_gyms(struct gh_http_request *req);
int gh_route_workouts(struct gh_http_request *req);
int gh_route_progress(struct gh_http_request *req);
int gh_route_exports(struct gh_http_request *req);
int gh_route_imports(struct gh_http_request *req);
/* Plans and share links (route_plans.c, issue 12), subtree routes likewise;
 * /api/v1/shared/{token} is public. */
int gh_route_plans(struct gh_http_request *req);
int gh_route_shares(struct gh_http_request *req);
int gh_route_shared(struct gh_http_request *req);

/* Who the request is from, and whether it may go on (auth_gate.c). Called once the headers
 * are in: authenticates a token or API key, then applies the route-independent policy
 * (AUTH_MODE, public paths, scopes, /metrics). Returns GH_GATE_OK to go on, GH_GATE_REFUSED
 * with req->resp set (401 unauthorized with WWW-Authenticate: Bearer, 403 forbidden, 503
 * store_unavailable), or, without may_block, GH_GATE_BLOCKS when the credentials are not in
 * the auth cache: nothing changed, call again on a worker. */
enum { GH_GATE_OK, GH_GATE_REFUSED, GH_GATE_BLOCKS };
int gh_http_auth_gate(struct gh_http_request *req, int may_block);
/* The request acts as an admin (admin role and admin scope; open mode's local user is one). */
int gh_http_is_admin(const struct gh_http_request *req);
/* Whether the request may see what owner created: admins all, others their own; open mode's
 * anonymous clients everything, as before accounts. */
int gh_http_may_see(const struct gh_http_request *req, const char *owner);
/* 403 forbidden with a sentence. */
void gh_http_forbidden(struct gh_http_request *req, const char *why);

/* Metrics (route_metrics.c): the route's pattern for req->route_label (path NULL: no API route
 * matched), and the count of a finished request from its access log line. */
void gh_http_set_route_label(struct gh_http_request *req, const char *path, int prefix,
                             const char *suffix);
struct gh_log_request;
void gh_http_metrics_end(const struct gh_http_request *req, const struct gh_log_request *line);

/* The embedded file served for url ("/" and "/docs/" map to their index.html), or NULL. */
const struct gh_asset *gh_http_asset(const char *url);

/* Rate limits (ratelimit.c). The request limit for req's route and identity, decided from the
 * headers: 0 to go on, 1 when refused (req->resp holds the 429). Health and metrics are never
 * limited. Call once per request, after the identity is final. */
int gh_http_rate_limit(struct gh_http_request *req);
/* 1 when gh_http_rate_limit may block on I/O for req (the buckets are shared through Redis):
 * the server runs it on a light worker then. */
int gh_http_rate_limit_blocks(const struct gh_http_request *req);

/* The RateLimit-Policy / RateLimit fields (IETF httpapi draft) of a verdict, and Retry-After
 * when it refused; nothing for a limit that is off. */
void gh_http_rate_limit_headers(struct gh_http_request *req, const struct gh_limits_verdict *v);

/* The analysis refused by a provider limit (GH_ELIMITED): 429 rate_limited for the client's
 * bucket, 503 provider_budget_exhausted for the daily budget, with Retry-After. */
void gh_http_provider_limited(struct gh_http_request *req, const struct gh_err *err);

/* The feedback body {"slug": "..."} (route_identifications.c; fuzz/feedback_fuzz.c). GH_OK
 * with *slug pointing into *doc; GH_EINVAL when it is not a JSON object, GH_ERANGE when it has
 * no string "slug". *doc (may be NULL) is the caller's to json_decref in every case. */
int gh_http_feedback_parse(const uint8_t *body, size_t len, struct json_t **doc, const char **slug);

/* Adds the security headers every response carries (security.c). */
void gh_http_security_headers(struct gh_http_request *req, struct MHD_Response *mr);

#endif
