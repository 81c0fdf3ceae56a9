/* SPDX-License-Identifier: MIT */
/* libmicrohttpd glue: routing, body limits enforced while reading, request ids, gzip, the
 * access log, the analysis worker pool (connections are suspended while a worker runs) and
 * graceful shutdown. Route handlers live in route_*.c. */
#include "internal.h"

#include "admission.h"
#include "listener.h"

#include "gh/alloc.h"
#include "gh/clock.h"
#include "gh/log.h"
#include "gh/metrics.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* Threads taking suspended requests from a bounded queue. */
struct pool {
    struct gh_http_server *srv;
    const char *name; /* its threads', as top -H and perf show them (15 bytes at most) */
    pthread_t *threads;
    int n_threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct gh_http_request **queue;
    int queue_cap, queue_head, queue_len;
    int stopping;
    int abandoned; /* past the shutdown grace: answer queued work 503, run none */
};

struct gh_http_server {
    struct MHD_Daemon *daemon;
    struct gh_app *app;
    int port;
    atomic_int in_flight;  /* requests between their first byte and their completion */
    atomic_int processing; /* of those, the ones whose body is in (being answered) */
    struct pool pools[2];  /* by enum gh_http_pool */
    struct gh_admission *adm;
    struct gh_listener *listener;
};

/* The server of the current process; routes reach the worker queue through it. One server
 * per process is all gymhelper runs. */
static struct gh_http_server *the_server;

static void hand_off(struct gh_http_server *srv, struct gh_http_request *req);

void gh_http_config_defaults(struct gh_http_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8000;
    cfg->io_threads = 2;
    cfg->workers = 4;
    cfg->light_workers = 4;
    cfg->queue_cap = 256;
    cfg->connection_timeout_s = 30;
    cfg->max_connections = 1024;
    cfg->max_connections_per_client = 32;
    cfg->upload_memory = (size_t)256 * 1000 * 1000;
    cfg->header_timeout_s = 5;
    cfg->upload_min_rate = 16 * 1000;
    cfg->upload_grace_s = 10;
    cfg->shutdown_grace_s = 30;
}

const char *gh_http_arg(struct gh_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *gh_http_header(struct gh_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* A client's X-Request-ID is echoed when usable (request_id.c); otherwise we make one. */
static void set_request_id(struct gh_http_request *req)
{
    static _Thread_local uint64_t state;
    const char *id = gh_http_header(req, "X-Request-ID");

    if (gh_http_request_id_usable(id)) {
        snprintf(req->request_id, sizeof req->request_id, "%s", id);
        return;
    }
    if (state == 0 && getrandom(&state, sizeof state, 0) != (ssize_t)sizeof state)
        state = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&state;
    gh_http_request_id_make(&state, req->request_id);
}

static int accepts_gzip(struct gh_http_request *req)
{
    const char *ae = gh_http_header(req, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    const char *g = ae ? strstr(ae, "gzip") : NULL;

    return g && strncmp(g, "gzip;q=0", 8) != 0 && strncmp(g, "gzip; q=0", 9) != 0;
}

/* gzip of body, or NULL when it would not help or fails (then we send it plain). */
static char *gzip_body(const char *body, size_t len, size_t *out_len)
{
    z_stream zs;
    uLong cap = compressBound((uLong)len) + 32;
    char *out;

    if (len < 1024 || len > 64u << 20)
        return NULL;
    out = gh_malloc(cap);
    if (!out)
        return NULL;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 4, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        gh_free(out);
        return NULL;
    }
    zs.next_in = (Bytef *)(uintptr_t)body;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&zs);
        gh_free(out);
        return NULL;
    }
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* Adds the headers every response carries and queues it; takes mr. */
static enum MHD_Result queue_with_headers(struct gh_http_request *req, struct MHD_Response *mr)
{
    struct gh_http_response *r = &req->resp;
    enum MHD_Result ok;

    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(mr, "X-Request-ID", req->request_id);
    gh_http_security_headers(req, mr);
    if (r->allow)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->cache_control)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, r->cache_control);
    else if (r->no_store)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->etag)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ETAG, r->etag);
    if (r->location)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_LOCATION, r->location);
    if (r->retry_after_s > 0) {
        char s[24];

        snprintf(s, sizeof s, "%lld", (long long)r->retry_after_s);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, s);
    }
    if (r->ratelimit_policy[0]) {
        MHD_add_response_header(mr, "RateLimit-Policy", r->ratelimit_policy);
        MHD_add_response_header(mr, "RateLimit", r->ratelimit);
    }
    if (r->www_authenticate)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r->www_authenticate);
    if (r->set_cookie)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
    /* Not on every answer once the server is crowded, as before: a client busy on its
     * keep-alive connection then reconnected for each request, and under hostile_bench's
     * attack wrk's reconnects met a full server (~0.3% of hits 503). Idle connections are
     * what make room (admission.c: the reaper and make_room). */
    if (r->close)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    ok = MHD_queue_response(req->conn, (unsigned int)r->status, mr);
    MHD_destroy_response(mr);
    return ok;
}

int gh_http_crowded(void)
{
    return the_server && gh_admission_crowded(the_server->adm);
}

static enum MHD_Result queue(struct gh_http_request *req)
{
    struct gh_http_response *r = &req->resp;
    struct MHD_Response *mr;
    char *gz = NULL;
    size_t gz_len = 0;
    int is_json = r->content_type && strstr(r->content_type, "json");

    if (r->gz && accepts_gzip(req)) {
        mr = MHD_create_response_from_buffer(r->gz_len, (void *)(uintptr_t)r->gz,
                                             MHD_RESPMEM_PERSISTENT);
        r->body = NULL;
        if (!mr)
            return MHD_NO;
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        MHD_add_response_header(mr, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
        return queue_with_headers(req, mr);
    }
    if (is_json && accepts_gzip(req))
        gz = gzip_body(r->body, r->len, &gz_len);
    if (gz) {
        mr = MHD_create_response_from_buffer(gz_len, gz, MHD_RESPMEM_MUST_FREE);
        if (!r->body_static)
            gh_free(r->body);
    } else if (r->body_static) {
        mr = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_PERSISTENT);
    } else {
        mr = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
    }
    r->body = NULL; /* libmicrohttpd owns it now */
    if (!mr)
        return MHD_NO;
    if (gz)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (is_json)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    return queue_with_headers(req, mr);
}

#define GH_ROUTE_SUBTREE 2

struct route {
    const char *path;
    int prefix; /* 1: path ends with '/' and takes one more segment; GH_ROUTE_SUBTREE: path and
                   everything below it, every method, to the get handler (it routes itself) */
    const char *allow;
    gh_route_fn get;
    gh_route_fn post;
    const char *suffix; /* with prefix: what follows the segment ("/feedback"), or NULL */
    int takes_upload;   /* POST takes an image (analyze); other POSTs take JSON */
};

static const struct route routes[] = {
    {"/health", 0, "GET, HEAD", gh_route_health, NULL, NULL, 0},
    {"/api/v1/health", 0, "GET, HEAD", gh_route_health, NULL, NULL, 0},
    {"/api/v1/cache/stats", 0, "GET, HEAD", gh_route_cache_stats, NULL, NULL, 0},
    {"/api/v1/equipment", 0, "GET, HEAD", gh_route_equipment_list, NULL, NULL, 0},
    {"/api/v1/equipment/", 1, "GET, HEAD", gh_route_equipment_get, NULL, NULL, 0},
    {"/api/v1/exercises", 0, "GET, HEAD", gh_route_exercises_list, NULL, NULL, 0},
    {"/api/v1/exercises/", 1, "GET, HEAD", gh_route_exercises_get, NULL, NULL, 0},
    {"/api/v1/analyze", 0, "POST", NULL, gh_route_analyze, NULL, 1},
    {"/api/v1/identifications", 0, "GET, HEAD", gh_route_identifications, NULL, NULL, 0},
    {"/api/v1/identifications/", 1, "GET, HEAD", gh_route_identification_get, NULL, NULL, 0},
    {"/api/v1/identifications/", 1, "POST", NULL, gh_route_identification_feedback, "/feedback", 0},
    {"/api/v1/quality", 0, "GET, HEAD", gh_route_quality, NULL, NULL, 0},
    {"/metrics", 0, "GET, HEAD", gh_route_metrics, NULL, NULL, 0},
    {"/api/v1/auth/login", 0, "POST", NULL, gh_route_auth_login, NULL, 0},
    {"/api/v1/auth/refresh", 0, "POST", NULL, gh_route_auth_refresh, NULL, 0},
    {"/api/v1/auth/logout", 0, "POST", NULL, gh_route_auth_logout, NULL, 0},
    {"/api/v1/auth/register", 0, "POST", NULL, gh_route_auth_register, NULL, 0},
    {"/api/v1/auth/config", 0, "GET, HEAD", gh_route_auth_config, NULL, NULL, 0},
    {"/api/v1/me", 0, "GET, HEAD", gh_route_me, NULL, NULL, 0},
    {"/api/v1/corrections", 0, "GET, HEAD", gh_route_corrections, NULL, NULL, 0},
    {"/api/v1/corrections/", 1, "POST", NULL, gh_route_correction_accept, "/accept", 0},
    {"/api/v1/corrections/", 1, "POST", NULL, gh_route_correction_reject, "/reject", 0},
    {"/api/v1/gyms", GH_ROUTE_SUBTREE, "GET, HEAD, POST, PUT, PATCH, DELETE", gh_route_gyms, NULL,
     NULL, 0},
    {"/api/v1/workouts", GH_ROUTE_SUBTREE, "GET, HEAD, POST, PATCH, DELETE", gh_route_workouts,
     NULL, NULL, 0},
    {"/api/v1/progress", GH_ROUTE_SUBTREE, "GET, HEAD", gh_route_progress, NULL, NULL, 0},
    {"/api/v1/exports", GH_ROUTE_SUBTREE, "GET, HEAD", gh_route_exports, NULL, NULL, 0},
    {"/api/v1/imports", GH_ROUTE_SUBTREE, "POST", gh_route_imports, NULL, NULL, 1},
    {"/api/v1/plans", GH_ROUTE_SUBTREE, "GET, HEAD, POST, DELETE", gh_route_plans, NULL, NULL, 0},
    {"/api/v1/shares", GH_ROUTE_SUBTREE, "GET, HEAD, POST, DELETE", gh_route_shares, NULL, NULL, 0},
    {"/api/v1/shared", GH_ROUTE_SUBTREE, "GET, HEAD", gh_route_shared, NULL, NULL, 0},
};

/* Files compiled into the binary, for whatever path the API routes do not claim. */
static const struct route static_route = {"/", 0, "GET, HEAD", gh_route_static, NULL, NULL, 0};

static const struct route *find_route(const char *url)
{
    size_t n = strlen(url);

    if (n > 1 && url[n - 1] == '/') /* "/api/v1/equipment/" is the list */
        n--;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        size_t m = strlen(r->path);

        if (r->prefix != 1 && n == m && strncmp(url, r->path, m) == 0)
            return r;
        if (r->prefix == GH_ROUTE_SUBTREE && n > m && url[m] == '/' &&
            strncmp(url, r->path, m) == 0)
            return r;
        if (r->prefix == 1 && n > m && strncmp(url, r->path, m) == 0) {
            const char *seg = url + m, *slash = memchr(seg, '/', n - m);
            size_t rest = slash ? n - (size_t)(slash - url) : 0;

            if (slash == seg)
                continue; /* an empty segment */
            if (!r->suffix && !slash)
                return r;
            if (r->suffix && slash && rest == strlen(r->suffix) &&
                strncmp(slash, r->suffix, rest) == 0)
                return r;
        }
    }
    return NULL;
}

static gh_route_fn route_for(const struct route *r, const char *method)
{
    if (r->prefix == GH_ROUTE_SUBTREE)
        return r->get;
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
        return r->get;
    if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
        return r->post;
    return NULL;
}

/* The socket peer's address as text; proxies and accounts refine the identity later. */
static void identity_from_socket(struct gh_identity *id, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    id->kind = GH_IDENTITY_ANONYMOUS;
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, id->address, sizeof id->address);
        id->loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, id->address, sizeof id->address);
        id->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    } else {
        snprintf(id->address, sizeof id->address, "unknown");
    }
    gh_identity_set_key(id);
}

static struct gh_http_request *request_new(struct gh_http_server *srv, struct MHD_Connection *conn,
                                           const char *url, const char *method)
{
    struct gh_http_request *req = gh_malloc(sizeof *req);

    if (!req)
        return NULL;
    memset(req, 0, sizeof *req);
    req->app = srv->app;
    req->conn = conn;
    req->url = url;
    req->method = method;
    req->t0 = gh_mono_ms();
    req->cached = -1;
    req->conn_ctx = gh_admission_conn(conn);
    identity_from_socket(&req->ident, conn);
    if (srv->app->proxies) /* behind a trusted proxy the client is the hop it added */
        gh_limits_client_address(srv->app->proxies, req->ident.address,
                                 gh_http_header(req, "X-Forwarded-For"), &req->ident);
    set_request_id(req);
    atomic_fetch_add(&srv->in_flight, 1);
    gh_metrics_http_begin();
    return req;
}

/* Upload budget is taken in steps this big when the length was not declared. */
#define BUDGET_STEP ((size_t)1 << 20)

/* Appends upload bytes: -1 past the route's cap, -2 out of memory, -3 over the upload budget. */
static int take_body(struct gh_http_request *req, const char *data, size_t n)
{
    struct gh_buf *b = &req->body;

    if (b->len + n > req->body_max)
        return -1;
    if (!req->body_declared && b->len + n + 1 > b->cap) {
        size_t step = b->cap ? b->cap : BUDGET_STEP; /* what the doubling will allocate */

        if (gh_admission_reserve(the_server->adm, req->conn_ctx, step) != 0)
            return -3;
    }
    if (gh_buf_append(b, data, n) != GH_OK)
        return -2;
    gh_admission_progress(req->conn_ctx, n);
    return 0;
}

void gh_http_too_large(struct gh_http_request *req)
{
    if (req->body_max < req->app->max_body)
        gh_http_problem(req, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                        "the body is larger than this endpoint's %zu-byte limit; only "
                        "/api/v1/analyze takes uploads",
                        req->body_max);
    else
        gh_http_problem(req, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                        "the upload is larger than the %zu-byte limit (%zu MB); send a smaller "
                        "photo",
                        req->app->max_body, req->app->max_body / 1000000);
}

void gh_http_upload_busy(struct gh_http_request *req)
{
    gh_http_problem(req, MHD_HTTP_SERVICE_UNAVAILABLE, "server_busy",
                    "the server holds as many uploads as it can right now; send it again in a "
                    "few seconds");
    req->resp.retry_after_s = 5;
}

/* The route's handler; answers 404/405 itself (into req->resp) and returns NULL. */
static gh_route_fn dispatch(struct gh_http_request *req)
{
    const struct route *r = find_route(req->url);
    gh_route_fn fn;

    gh_http_set_route_label(req, r ? r->path : NULL, r && r->prefix, r ? r->suffix : NULL);
    if (!r && gh_http_asset(req->url)) {
        if (route_for(&static_route, req->method))
            return gh_route_static;
        r = &static_route;
    }
    if (!r) {
        gh_http_problem(req, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint: %s %s",
                        req->method, req->url);
        return NULL;
    }
    fn = route_for(r, req->method);
    if (!fn) {
        gh_http_problem(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                        "%s is not allowed on %s; use %s", req->method, req->url, r->allow);
        req->resp.allow = r->allow;
    }
    return fn;
}

/* Bytes of an over-limit body read and dropped before we give up on answering politely. */
#define DISCARD_CAP (16u << 20)

/* A piece of the body. Past the limit the request is refused, but a client that sends its
 * whole body before reading (no Expect: 100-continue) only sees an answer once the body is in:
 * the rest is read and dropped (up to DISCARD_CAP, then the connection is closed: "lingering
 * close"), and the answer goes out after it. */
static enum MHD_Result take_upload(struct gh_http_request *req, const char *data, size_t *size)
{
    size_t n = *size;
    int r;

    *size = 0;
    if (req->refused) {
        req->discarded += n;
        if (req->discarded <= DISCARD_CAP)
            return MHD_YES;
        req->resp.status = 0; /* logged as the client's abort: it never gets an answer */
        return MHD_NO;
    }
    r = take_body(req, data, n);
    if (r == 0)
        return MHD_YES;
    req->refused = 1;
    req->discarded = n;
    gh_buf_fini(&req->body); /* the bytes go back now, not when the refusal is sent */
    if (r == -2)
        gh_http_problem(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out_of_memory",
                        "the server is out of memory; try again shortly");
    else if (r == -3)
        gh_http_upload_busy(req);
    else
        gh_http_too_large(req);
    return MHD_YES;
}

/* The request of a connection whose request could not be allocated (*con_cls points here):
 * it was answered 503 out_of_memory at once; later calls for its body are ignored. */
static char no_request;

/* Answers from the stack when there is no memory for a request: a client gets a 503 it can
 * retry on, not a dropped connection. Not logged: there is no request to log. */
static enum MHD_Result refuse_no_memory(struct gh_http_server *srv, struct MHD_Connection *conn,
                                        const char *url, const char *method, void **con_cls)
{
    struct gh_http_request tmp;

    memset(&tmp, 0, sizeof tmp);
    tmp.app = srv->app;
    tmp.conn = conn;
    tmp.url = url;
    tmp.method = method;
    set_request_id(&tmp);
    gh_http_problem(&tmp, MHD_HTTP_SERVICE_UNAVAILABLE, "out_of_memory",
                    "the server is out of memory; try again shortly");
    *con_cls = &no_request;
    return queue(&tmp);
}

/* Refused at the headers: a body still coming is drained after the answer (lingering close). */
static struct gh_http_request *refuse(struct gh_http_request *req)
{
    req->refused = 1;
    if (req->has_body)
        gh_admission_linger(req->conn_ctx, req->resp.status);
    return req;
}

/* The decisions at the headers that may block: authentication left pending by the I/O thread,
 * then the rate limit. GH_ROUTE_CONTINUE to read the body and route, or 0 with the refusal
 * (401/403/429/503) in req->resp. On the I/O thread when nothing blocks, else on a light
 * worker. */
static int headers_work(struct gh_http_request *req)
{
    if (req->gate_pending) {
        req->gate_pending = 0;
        if (gh_http_auth_gate(req, 1) != GH_GATE_OK) {
            refuse(req);
            return 0;
        }
    }
    if (gh_http_rate_limit(req)) {
        refuse(req);
        return 0;
    }
    return GH_ROUTE_CONTINUE;
}

/* libmicrohttpd calls this first with the headers, then with each piece of the body, then
 * once more with nothing: we answer on that last call (keep-alive stays possible), except
 * for uploads refused early. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct gh_http_server *srv = cls;
    struct gh_http_request *req = *con_cls;
    gh_route_fn fn;

    (void)version;
    if (*con_cls == &no_request) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!req) {
        const struct route *r = find_route(url);
        int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

        req = request_new(srv, conn, url, method);
        if (!req)
            return refuse_no_memory(srv, conn, url, method, con_cls);
        *con_cls = req;
        switch (gh_http_screen(req, srv->adm, r && r->takes_upload,
                               r && post && r->post && !r->takes_upload)) {
        case GH_SCREEN_NOW:
            req->refused = 1;
            return queue(req);
        default:
            break;
        }
        req->has_body =
            req->body_declared || gh_http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
        /* Who it is from (a token or key) and whether it may go on, then the rate limit. What
         * needs the store (credentials not in the auth cache) or Redis (shared buckets; up to
         * REDIS_TIMEOUT_MS when it hangs) is decided by a light worker while the connection
         * waits suspended, as a route's blocking part is. */
        switch (gh_http_auth_gate(req, 0)) {
        case GH_GATE_REFUSED:
            return queue(refuse(req));
        case GH_GATE_BLOCKS:
            req->gate_pending = 1;
            break;
        default:
            break;
        }
        if (req->gate_pending || gh_http_rate_limit_blocks(req)) {
            gh_http_defer(req, headers_work, GH_HTTP_POOL_LIGHT);
            hand_off(srv, req);
            return MHD_YES;
        }
        if (headers_work(req) == 0)
            return queue(req);
        return MHD_YES;
    }
    if (atomic_load(&req->done))
        return queue(req); /* a worker finished and resumed us */
    if (req->suspended) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->recall) {
        /* libmicrohttpd 0.9.75 repeats its headers call (no data) on a connection resumed
         * there; with a body to come, that is not the last call. */
        req->recall = 0;
        if (*upload_data_size == 0)
            return MHD_YES;
    }
    if (*upload_data_size > 0)
        return take_upload(req, upload_data, upload_data_size);
    if (req->refused)
        return queue(req);
    req->dispatched = 1;
    gh_admission_answering(req->conn_ctx);
    atomic_fetch_add(&srv->processing, 1);
    fn = dispatch(req);
    if (fn && fn(req) == GH_ROUTE_WORK) {
        hand_off(srv, req);
        return MHD_YES;
    }
    return queue(req);
}

/* The path as the access log writes it: a share link's token is the link itself (the store
 * keeps only its SHA-256), so a path that carries one is logged with "{token}" instead. */
static const char *log_path(const char *url)
{
    static const char shared[] = "/api/v1/shared/", shares[] = "/api/v1/shares/";
    size_t n = sizeof shares - 1;

    if (strncmp(url, shared, sizeof shared - 1) == 0 && url[sizeof shared - 1])
        return "/api/v1/shared/{token}";
    if (strncmp(url, shares, n) == 0 && url[n] && strspn(url + n, "0123456789") != strlen(url + n))
        return "/api/v1/shares/{token}";
    return url;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct gh_http_server *srv = cls;
    struct gh_http_request *req = *con_cls;
    struct gh_log_request line;

    (void)conn;
    if (!req || *con_cls == &no_request)
        return;
    memset(&line, 0, sizeof line);
    line.request_id = req->request_id;
    line.method = req->method;
    line.path = log_path(req->url);
    line.status = req->resp.status ? req->resp.status : 499; /* client went away */
    line.duration_ms = gh_mono_ms() - req->t0;
    line.cached = req->cached;
    line.cache_layer = req->cache_layer[0] ? req->cache_layer : NULL;
    line.equipment = req->equipment[0] ? req->equipment : NULL;
    line.provider = req->provider[0] ? req->provider : NULL;
    line.error_code = req->error_code;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !req->resp.status)
        line.error_code = "connection_closed";
    gh_log_request(&line);
    gh_http_metrics_end(req, &line);
    gh_admission_end(srv->adm, req->conn_ctx);
    if (!req->resp.body_static)
        gh_free(req->resp.body);
    gh_buf_fini(&req->body);
    if (req->dispatched)
        atomic_fetch_sub(&srv->processing, 1);
    gh_free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

static void busy(struct gh_http_request *req)
{
    gh_http_problem(req, 503, "server_busy",
                    "too many requests are waiting for a worker right now; try again shortly");
}

static void shutting_down(struct gh_http_request *req)
{
    gh_http_problem(req, 503, "shutting_down",
                    "the server is shutting down; send the request again in a moment (another "
                    "instance, or this one once it has restarted, will answer it)");
    req->resp.retry_after_s = 1;
}

/* 0 when queued; else -1 with req answered 503: server_busy when the pool is full or stopping,
 * shutting_down past the shutdown grace, when no work starts any more. */
static int pool_submit(struct pool *pl, struct gh_http_request *req)
{
    int ok, abandoned;

    pthread_mutex_lock(&pl->mu);
    abandoned = pl->abandoned;
    ok = !pl->stopping && !abandoned && pl->queue_len < pl->queue_cap;
    if (ok) {
        pl->queue[(pl->queue_head + pl->queue_len) % pl->queue_cap] = req;
        pl->queue_len++;
        pthread_cond_signal(&pl->cv);
    }
    pthread_mutex_unlock(&pl->mu);
    if (!ok && abandoned)
        shutting_down(req);
    else if (!ok)
        busy(req);
    return ok ? 0 : -1;
}

/* The oldest queued request, taken off the queue; NULL when it is empty. pl->mu held. */
static struct gh_http_request *pool_pop(struct pool *pl)
{
    struct gh_http_request *req;

    if (pl->queue_len == 0)
        return NULL;
    req = pl->queue[pl->queue_head];
    pl->queue_head = (pl->queue_head + 1) % pl->queue_cap;
    pl->queue_len--;
    return req;
}

/* The answer is in req->resp: let the I/O thread send it. done is set before the resume, whose
 * mutex publishes resp to the I/O thread. */
static void finish(struct gh_http_request *req)
{
    if (!req->dispatched && req->has_body) /* answered at the headers: drain after the close */
        gh_admission_linger(req->conn_ctx, req->resp.status);
    atomic_store(&req->done, 1);
    MHD_resume_connection(req->conn);
}

/* A header-stage decision let the request through: the I/O thread reads its body and routes
 * it (suspended is cleared before the resume, whose mutex publishes it). */
static void go_on(struct gh_http_request *req)
{
    req->recall = req->has_body;
    req->suspended = 0;
    MHD_resume_connection(req->conn);
}

/* On the I/O thread, inside the access handler: suspend first, then queue, so the worker can
 * only ever resume a suspended connection. A full queue answers 503 through the same resume. */
static void hand_off(struct gh_http_server *srv, struct gh_http_request *req)
{
    req->suspended = 1;
    MHD_suspend_connection(req->conn);
    if (pool_submit(&srv->pools[req->pool], req) != 0)
        finish(req);
}

static void *worker_main(void *arg)
{
    struct pool *pl = arg;

    pthread_setname_np(pthread_self(), pl->name);

    for (;;) {
        struct gh_http_request *req;
        gh_route_fn fn;
        int abandoned;

        pthread_mutex_lock(&pl->mu);
        while (pl->queue_len == 0 && !pl->stopping)
            pthread_cond_wait(&pl->cv, &pl->mu);
        if (pl->queue_len == 0) {
            pthread_mutex_unlock(&pl->mu);
            return NULL;
        }
        req = pool_pop(pl);
        abandoned = pl->abandoned;
        pthread_mutex_unlock(&pl->mu);
        fn = req->work;
        req->work = NULL;
        if (abandoned) {
            shutting_down(req);
        } else {
            int rc = fn(req);

            if (rc == GH_ROUTE_CONTINUE) {
                go_on(req);
                continue;
            }
            if (rc == GH_ROUTE_WORK && pool_submit(&pl->srv->pools[req->pool], req) == 0)
                continue; /* still suspended; the other pool answers */
        }
        finish(req);
    }
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len,
                   struct gh_err *err)
{
    struct addrinfo hints, *res = NULL;
    char port_s[16];
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port_s, sizeof port_s, "%d", port);
    rc = getaddrinfo(host, port_s, &hints, &res);
    if (rc != 0 || !res)
        return gh_err_set(err, GH_EINVAL, "cannot use HOST '%s': %s", host, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return GH_OK;
}

static void pool_stop(struct pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->stopping = 1;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    for (int i = 0; i < pl->n_threads; i++)
        pthread_join(pl->threads[i], NULL);
    pl->n_threads = 0;
}

/* Past the grace period no work starts: what is queued is answered 503 here and now, not when a
 * worker is idle again: a provider call can hold every worker for PROVIDER_TIMEOUT_MS, past the
 * drain, and then the sockets close with the answers unsent. pool_submit answers what comes
 * later, and a worker what it takes off the queue meanwhile. */
static void pool_abandon(struct pool *pl)
{
    struct gh_http_request *req;

    do {
        pthread_mutex_lock(&pl->mu);
        pl->abandoned = 1;
        req = pool_pop(pl);
        pthread_mutex_unlock(&pl->mu);
        if (req) {
            shutting_down(req);
            finish(req);
        }
    } while (req);
}

static int pool_waiting(const struct pool *pl)
{
    int n;

    pthread_mutex_lock((pthread_mutex_t *)&pl->mu);
    n = pl->queue_len;
    pthread_mutex_unlock((pthread_mutex_t *)&pl->mu);
    return n;
}

static void queue_waiting(const struct gh_http_server *srv, int out[2])
{
    out[GH_HTTP_POOL_LIGHT] = pool_waiting(&srv->pools[GH_HTTP_POOL_LIGHT]);
    out[GH_HTTP_POOL_ANALYSIS] = pool_waiting(&srv->pools[GH_HTTP_POOL_ANALYSIS]);
}

void gh_http_connections(int *open, unsigned long long *refused)
{
    *open = 0;
    *refused = 0;
    if (the_server && the_server->adm)
        gh_admission_counts(the_server->adm, open, refused);
}

void gh_http_queue_waiting(int out[2])
{
    if (the_server) {
        queue_waiting(the_server, out);
    } else {
        out[0] = 0;
        out[1] = 0;
    }
}

static void pool_fini(struct pool *pl)
{
    pthread_cond_destroy(&pl->cv);
    pthread_mutex_destroy(&pl->mu);
    gh_free(pl->threads);
    gh_free(pl->queue);
}

static void server_free(struct gh_http_server *srv)
{
    if (!srv)
        return;
    gh_listener_free(srv->listener); /* nothing new arrives while the rest stops */
    /* Light work may hand on to the analysis pool, never the reverse: stop in that order. */
    pool_stop(&srv->pools[GH_HTTP_POOL_LIGHT]);
    pool_stop(&srv->pools[GH_HTTP_POOL_ANALYSIS]);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    gh_admission_free(srv->adm);
    pool_fini(&srv->pools[GH_HTTP_POOL_LIGHT]);
    pool_fini(&srv->pools[GH_HTTP_POOL_ANALYSIS]);
    if (the_server == srv)
        the_server = NULL;
    gh_free(srv);
}

static int pool_start(struct gh_http_server *srv, struct pool *pl, const char *name, int n_threads,
                      int queue_cap, struct gh_err *err)
{
    pl->srv = srv;
    pl->name = name;
    pl->queue_cap = queue_cap > 0 ? queue_cap : 256;
    n_threads = n_threads > 0 ? n_threads : 1;
    pl->queue = gh_malloc_array((size_t)pl->queue_cap, sizeof *pl->queue);
    pl->threads = gh_malloc_array((size_t)n_threads, sizeof *pl->threads);
    if (!pl->queue || !pl->threads)
        return gh_err_set(err, GH_ENOMEM, "out of memory starting the server");
    for (int i = 0; i < n_threads; i++) {
        if (pthread_create(&pl->threads[i], NULL, worker_main, pl) != 0)
            return gh_err_set(err, GH_EBACKEND, "cannot start worker threads");
        pl->n_threads = i + 1;
    }
    return GH_OK;
}

static int start_workers(struct gh_http_server *srv, const struct gh_http_config *cfg,
                         struct gh_err *err)
{
    int rc = pool_start(srv, &srv->pools[GH_HTTP_POOL_LIGHT], "gh-worker", cfg->light_workers,
                        cfg->queue_cap, err);

    if (rc)
        return rc;
    return pool_start(srv, &srv->pools[GH_HTTP_POOL_ANALYSIS], "gh-analyze", cfg->workers,
                      cfg->queue_cap, err);
}

int gh_http_start(const struct gh_http_config *cfg, struct gh_app *app, struct gh_http_server **out,
                  struct gh_err *err)
{
    struct gh_http_server *srv;
    struct sockaddr_storage ss;
    socklen_t ss_len = 0;
    /* No listening socket: listener.c accepts and hands connections over. MHD_USE_TURBO for
     * one effect: libmicrohttpd then ends a connection by its close alone, not shutdown(2)
     * first, so admission's lingering close decides when a refused client sees the end. (It
     * also tries a new connection's first read before adding it to epoll; the suites and
     * hostile_bench ran with it.) */
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET |
                         MHD_USE_TURBO;
    int rc, io_threads = cfg->io_threads > 0 ? cfg->io_threads : 1;
    unsigned int mhd_limit;

    *out = NULL;
    if (the_server)
        return gh_err_set(err, GH_EINVAL, "a server is already running in this process");
    rc = resolve(cfg->host, cfg->port, &ss, &ss_len, err);
    if (rc)
        return rc;
    srv = gh_malloc(sizeof *srv);
    if (!srv)
        return gh_err_set(err, GH_ENOMEM, "out of memory starting the server");
    memset(srv, 0, sizeof *srv);
    srv->app = app;
    for (int i = 0; i < 2; i++) {
        pthread_mutex_init(&srv->pools[i].mu, NULL);
        pthread_cond_init(&srv->pools[i].cv, NULL);
    }
    the_server = srv;
    rc = start_workers(srv, cfg, err);
    if (rc)
        goto fail;
    srv->adm = gh_admission_new(cfg);
    if (!srv->adm) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory starting the server");
        goto fail;
    }
    rc = gh_listener_open((struct sockaddr *)&ss, ss_len, &srv->listener, &srv->port, err);
    if (rc) {
        char why[GH_ERR_MSG_CAP];

        snprintf(why, sizeof why, "%s", err->msg);
        rc = gh_err_set(err, GH_EBACKEND,
                        "cannot listen on %s:%d (is the port in use, or the address not local?): "
                        "%s",
                        cfg->host, cfg->port, why);
        goto fail;
    }
    /* Admission bounds connections (gh_admission_full); libmicrohttpd's own limit must never
     * be reached. It is split among the I/O threads, and an added connection over a thread's
     * share is closed unannounced; worse, libmicrohttpd 0.9.75 then leaves that thread's
     * cleanup mutex locked (new_connection_process_ unlocks it only when the connection fits),
     * and the thread deadlocks: seen under attack while this limit was reachable (92d2aa1). So each
     * thread gets room for twice what admission allows in all (admission counts a connection
     * until libmicrohttpd's close notice, libmicrohttpd a moment longer). */
    mhd_limit = 2u *
                (unsigned int)(cfg->max_connections + GH_ADMISSION_RESERVE + GH_ADMISSION_ROOM) *
                (unsigned int)io_threads;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)io_threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)cfg->connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
        gh_admission_notify, srv->adm, MHD_OPTION_UNESCAPE_CALLBACK, gh_admission_unescape,
        srv->adm, MHD_OPTION_END);
    if (!srv->daemon) {
        rc = gh_err_set(err, GH_EBACKEND, "cannot start the HTTP server (libmicrohttpd)");
        goto fail;
    }
    rc = gh_listener_start(srv->listener, srv->daemon, srv->adm, io_threads, err);
    if (rc)
        goto fail;
    *out = srv;
    return GH_OK;
fail:
    server_free(srv);
    return rc;
}

int gh_http_port(const struct gh_http_server *srv)
{
    return srv->port;
}

/* Sleeps until *counter is 0 or the monotonic clock passes deadline. */
static void wait_zero(atomic_int *counter, double deadline)
{
    while (atomic_load(counter) > 0 && gh_mono_ms() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};

        nanosleep(&ts, NULL);
    }
}

/* Requests being answered get the whole grace period; uploads still arriving get a second
 * more, since a client that vanished mid-body looks the same as a slow one until the
 * connection timeout. Past the grace, nothing new starts: queued requests are answered 503
 * shutting_down (a client or balancer retries elsewhere) and running ones end within their own
 * timeouts (provider, store); their answers get a few seconds to go out before the sockets
 * close. */
enum { SHUTDOWN_DRAIN_MS = 5000 };

void gh_http_stop(struct gh_http_server *srv, int grace_ms)
{
    if (!srv)
        return;
    /* Stop accepting (new clients are refused from here); requests already started (queued or
     * on a worker) may finish. */
    gh_listener_stop(srv->listener);
    wait_zero(&srv->processing, gh_mono_ms() + grace_ms);
    if (atomic_load(&srv->processing) > 0) {
        int waiting[2];

        queue_waiting(srv, waiting);
        gh_logf(GH_LOG_WARN,
                "stopping with %d requests unfinished after %d ms: %d waiting for a worker are "
                "answered 503 shutting_down, the others finish first",
                atomic_load(&srv->processing), grace_ms, waiting[0] + waiting[1]);
        pool_abandon(&srv->pools[GH_HTTP_POOL_LIGHT]);
        pool_abandon(&srv->pools[GH_HTTP_POOL_ANALYSIS]);
        wait_zero(&srv->processing, gh_mono_ms() + SHUTDOWN_DRAIN_MS);
    }
    wait_zero(&srv->in_flight, gh_mono_ms() + 1000);
    server_free(srv);
}
