/* SPDX-License-Identifier: MIT */
/* The HTTP face of the rate limits (gh/limits.h): which routes count, the 429 / 503 problem
 * documents, and the RateLimit-Policy / RateLimit fields of the IETF httpapi draft
 * (draft-ietf-httpapi-ratelimit-headers-10+: a List of String items with q/w and r/t). */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Liveness probes and scrapers must work while a client is being throttled. */
static int exempt(const char *url)
{
    return strcmp(url, "/health") == 0 || strcmp(url, "/api/v1/health") == 0 ||
           strcmp(url, "/metrics") == 0;
}

void gh_http_rate_limit_headers(struct gh_http_request *req, const struct gh_limits_verdict *v)
{
    struct gh_http_response *r = &req->resp;

    if (!v->enabled)
        return;
    snprintf(r->ratelimit_policy, sizeof r->ratelimit_policy, "\"%s\";q=%lld;w=%lld", v->policy,
             (long long)v->quota, (long long)v->window_s);
    snprintf(r->ratelimit, sizeof r->ratelimit, "\"%s\";r=%lld;t=%lld", v->policy,
             (long long)v->remaining, (long long)v->reset_s);
    if (v->limited)
        r->retry_after_s = v->retry_after_s;
}

int gh_http_rate_limit_blocks(const struct gh_http_request *req)
{
    return req->app->limits && !exempt(req->url) &&
           gh_limits_shared(req->app->limits, GH_LIMITS_REQUESTS);
}

int gh_http_rate_limit(struct gh_http_request *req)
{
    struct gh_limits_verdict v;

    if (!req->app->limits || exempt(req->url))
        return 0;
    if (gh_limits_take(req->app->limits, GH_LIMITS_REQUESTS, req->ident.key, &v)) {
        gh_http_rate_limit_headers(req, &v);
        return 0;
    }
    gh_http_problem(req, 429, "rate_limited",
                    "too many requests from this client: %lld per %lld s are allowed; try again "
                    "in %lld s",
                    (long long)v.quota, (long long)v.window_s, (long long)v.retry_after_s);
    gh_http_rate_limit_headers(req, &v);
    return 1;
}

void gh_http_provider_limited(struct gh_http_request *req, const struct gh_err *err)
{
    const struct gh_limits_verdict *v = &req->areq.limit;
    time_t now;

    if (v->limited) {
        gh_http_problem(req, 429, "rate_limited", "%s", err->msg);
        gh_http_rate_limit_headers(req, v);
        return;
    }
    /* The daily budget: it is the same for everyone until the next UTC day. */
    gh_http_problem(req, 503, "provider_budget_exhausted", "%s", err->msg);
    now = time(NULL);
    req->resp.retry_after_s = 86400 - (int64_t)now % 86400;
}
