/* SPDX-License-Identifier: MIT */
/* Rate limits (DESIGN.md "The next layers"): token buckets per client identity (gh/identity.h
 * `key`) for requests and for provider calls, and a global daily provider budget (calls and
 * US dollars). Shared by every instance through one atomic Redis script per decision when
 * REDIS_URL is set; in-process otherwise, and whenever Redis cannot answer (never an open
 * door). Also the client address behind a trusted proxy (TRUSTED_PROXIES, X-Forwarded-For).
 * Knows nothing of HTTP: callers turn a verdict into 429/503 and headers. */
#ifndef GH_LIMITS_H
#define GH_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"
#include "gh/identity.h"

struct gh_redis;

struct gh_limits_config {
    int requests_per_minute; /* RATE_LIMIT_REQUESTS_PER_MINUTE, default 600; 0: off */
    int requests_burst;      /* RATE_LIMIT_REQUESTS_BURST, default 100 (0: one minute's worth) */
    int provider_per_minute; /* RATE_LIMIT_PROVIDER_PER_MINUTE, default 10; 0: off */
    int provider_burst;      /* RATE_LIMIT_PROVIDER_BURST, default 10 (0: one minute's worth) */
    long budget_calls;       /* PROVIDER_DAILY_BUDGET_CALLS: paid calls per UTC day; 0: none */
    double budget_usd;       /* PROVIDER_DAILY_BUDGET_USD: estimated spend per UTC day; 0: none */
    size_t max_clients;      /* local buckets kept per kind, default 65536 */
};

void gh_limits_config_defaults(struct gh_limits_config *cfg);

enum gh_limits_kind {
    GH_LIMITS_REQUESTS, /* every request but health and metrics */
    GH_LIMITS_PROVIDER, /* one provider call (nocache, or a miss) */
};

/* A decision, with what the RateLimit / RateLimit-Policy fields (IETF httpapi draft) say. */
struct gh_limits_verdict {
    int limited;           /* 1: refuse (429) */
    int enabled;           /* 0: that limit is off; the rest is unset */
    const char *policy;    /* "requests" or "provider" */
    int64_t quota;         /* the policy's q: the burst */
    int64_t window_s;      /* the policy's w: seconds to refill the whole burst */
    int64_t remaining;     /* r: whole tokens left after this decision */
    int64_t reset_s;       /* t: seconds until one more token */
    int64_t retry_after_s; /* when limited: seconds until the request would be allowed */
    int shared;            /* decided by Redis (0: by this instance's buckets) */
};

/* Why the daily budget refuses a paid call, or GH_LIMITS_BUDGET_OK. */
enum gh_limits_budget {
    GH_LIMITS_BUDGET_OK = 0,
    GH_LIMITS_BUDGET_CALLS, /* PROVIDER_DAILY_BUDGET_CALLS reached */
    GH_LIMITS_BUDGET_USD,   /* PROVIDER_DAILY_BUDGET_USD reached */
};

struct gh_limits;

/* redis may be NULL (local buckets only); borrowed, must outlive the limits. NULL with err set
 * (GH_EINVAL for a negative setting, GH_ENOMEM). */
struct gh_limits *gh_limits_new(const struct gh_limits_config *cfg, struct gh_redis *redis,
                                struct gh_err *err);

/* NULL is a no-op. */
void gh_limits_free(struct gh_limits *l);

/* Takes one token of `kind` for the client `key` (an identity key, e.g. "addr:10.0.0.1") and
 * fills *out. 1 when allowed (or that limit is off), 0 when refused. With Redis the decision
 * is one EVALSHA (bounded by REDIS_TIMEOUT_MS, skipped while Redis is down: then the local
 * bucket decides). Thread-safe. l may be NULL: then everything is allowed. */
int gh_limits_take(struct gh_limits *l, enum gh_limits_kind kind, const char *key,
                   struct gh_limits_verdict *out);

/* 1 when gh_limits_take for kind asks Redis (that limit is on and the buckets are shared), so a
 * caller that must not block runs it elsewhere. */
int gh_limits_shared(const struct gh_limits *l, enum gh_limits_kind kind);

/* Whether a paid provider call may start now: GH_LIMITS_BUDGET_OK, or which budget today
 * (UTC) has used up; *retry_after_s gets the seconds until the next UTC day. Counts are
 * shared through Redis when set (this instance's own counts while it is down). Calls running
 * at once may each pass before any is recorded: the budget is exceeded by at most the calls
 * in flight. Thread-safe; l may be NULL. */
enum gh_limits_budget gh_limits_budget_check(struct gh_limits *l, int64_t *retry_after_s);

/* Records one paid call that was made, costing cost_nd nanodollars. Thread-safe. */
void gh_limits_budget_spend(struct gh_limits *l, int64_t cost_nd);

/* Today's counts as seen by this instance (for tests and stats). */
void gh_limits_budget_today(struct gh_limits *l, int64_t *calls, int64_t *cost_nd);

/* --- client address behind proxies --------------------------------------------------- */

struct gh_limits_proxies;

/* Parses TRUSTED_PROXIES: CIDRs or addresses separated by commas or spaces ("10.0.0.0/8,
 * ::1"). NULL or "" trusts no proxy (*out = NULL, GH_OK). GH_EINVAL names the bad entry. */
int gh_limits_proxies_parse(const char *spec, struct gh_limits_proxies **out,
                            struct gh_err *err) GH_MUST_CHECK;

void gh_limits_proxies_free(struct gh_limits_proxies *p);

/* 1 when the textual address is inside one of the ranges. */
int gh_limits_proxies_contains(const struct gh_limits_proxies *p, const char *addr);

/* The client address of a request that came from peer: when peer is a trusted proxy and
 * xff (the X-Forwarded-For header, may be NULL) is well formed, the right-most hop that is not
 * itself a trusted proxy (a client can prepend anything, so hops left of it are never
 * believed); otherwise peer. Writes it (canonical text) into id->address, sets id->loopback
 * and the key. */
void gh_limits_client_address(const struct gh_limits_proxies *p, const char *peer, const char *xff,
                              struct gh_identity *id);

#endif
