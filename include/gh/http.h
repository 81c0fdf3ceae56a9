/* SPDX-License-Identifier: MIT */
/* The HTTP API (DESIGN.md, "HTTP API (v1)") on libmicrohttpd: a pool of I/O threads parses,
 * routes and answers what is in memory (LRU hits, catalogue, files); whatever can block (store,
 * Redis, history, JSON bodies, analyses) runs on worker pools while the connection is
 * suspended, so one slow call blocks nobody. */
#ifndef GH_HTTP_H
#define GH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "gh/auth.h"
#include "gh/catalogue.h"
#include "gh/err.h"
#include "gh/limits.h"
#include "gh/lru.h"
#include "gh/pipeline.h"
#include "gh/provider.h"
#include "gh/store.h"

/* What routes work with. Borrowed; must outlive the server. */
struct gh_app {
    struct gh_pipeline *pipeline;
    struct gh_store *store;
    struct gh_lru *lru;     /* may be NULL */
    struct gh_redis *redis; /* may be NULL: REDIS_URL unset */
    struct gh_provider *provider;
    const struct gh_catalogue *cat;
    struct gh_limits *limits; /* may be NULL: no rate limits */
    /* TRUSTED_PROXIES: whose X-Forwarded-For names the client; NULL trusts none */
    const struct gh_limits_proxies *proxies;
    size_t max_body;      /* bytes; larger uploads get 413 before their body is read */
    struct gh_auth *auth; /* accounts, tokens and keys (gh/auth.h); NULL: none (tests) */
    int auth_required;    /* AUTH_MODE=required; else open: anonymous clients act as admin */
    int64_t started_at;
    double confidence_threshold; /* CONFIDENCE_THRESHOLD, for /api/v1/quality */
    double shadow_rate;          /* SHADOW_SAMPLE_RATE, likewise */
};

struct gh_http_config {
    const char *host;         /* HOST, default 127.0.0.1 */
    int port;                 /* PORT, default 8000; 0 picks a free port */
    int io_threads;           /* default 2 */
    int workers;              /* analysis workers, default 4 */
    int light_workers;        /* workers for store, Redis and history reads, default 4 */
    int queue_cap;            /* requests waiting for a worker (per pool) before 503, default 256 */
    int connection_timeout_s; /* idle/slow clients are dropped after this, default 30 */
    /* Admission (README "Hostile traffic"): past the first two, 503 server_busy from the
     * headers; far past them, refused at accept. */
    int max_connections;            /* MAX_CONNECTIONS, default 1024 */
    int max_connections_per_client; /* MAX_CONNECTIONS_PER_CLIENT, default 32 */
    size_t upload_memory;           /* UPLOAD_MEMORY_MB in bytes: upload bytes held at once */
    int header_timeout_s;           /* HEADER_TIMEOUT_S: whole headers within, default 5 */
    size_t upload_min_rate;         /* UPLOAD_MIN_RATE_KBPS in bytes/s, default 16 KB/s */
    int upload_grace_s;             /* UPLOAD_GRACE_S before the rate counts, default 10 */
    int shutdown_grace_s;           /* SHUTDOWN_GRACE_S for requests in progress, default 30 */
};

void gh_http_config_defaults(struct gh_http_config *cfg);

struct gh_http_server;

/* Binds and starts serving. Errors: GH_EINVAL (bad host), GH_EBACKEND (cannot bind: the
 * message names the address and the reason), GH_ENOMEM. */
int gh_http_start(const struct gh_http_config *cfg, struct gh_app *app, struct gh_http_server **out,
                  struct gh_err *err) GH_MUST_CHECK;

/* The port actually bound (useful with port 0). */
int gh_http_port(const struct gh_http_server *srv);

/* Graceful stop: stops accepting, lets requests in progress finish (up to grace_ms); past it,
 * requests still waiting for a worker are answered 503 shutting_down and the ones a worker is
 * running finish within their own timeouts. Then closes everything and frees srv. NULL is a
 * no-op. */
void gh_http_stop(struct gh_http_server *srv, int grace_ms);

#endif
