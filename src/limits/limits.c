/* SPDX-License-Identifier: MIT */
/* Token buckets per client and the daily provider budget: one Lua script per decision in Redis
 * when it is configured and answering, a bounded in-process table otherwise. A bucket holds up
 * to `burst` tokens and gains per_minute / 60 000 of one every millisecond; a request takes
 * one. Leaves HTTP to the caller and the client's address to proxy.c. */
#include "gh/limits.h"

#include "gh/alloc.h"
#include "gh/clock.h"
#include "gh/log.h"
#include "gh/redis.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PROBE        16 /* slots looked at per key: a full neighbourhood evicts the idlest */
#define REDIS_PREFIX "gh:v1:rl:"

struct bucket {
    char key[GH_IDENTITY_KEY_CAP]; /* "" when free */
    double tokens;
    int64_t ts_ms; /* monotonic time of the last refill */
    uint64_t used; /* the table's tick when last taken from: the eviction order */
};

struct table {
    const char *name; /* the RateLimit-Policy item: "requests", "provider" */
    int enabled;
    double burst;
    double ms_per_token;
    pthread_mutex_t mu;
    struct bucket *slots;
    size_t n_slots;
    uint64_t tick;
};

struct gh_limits {
    struct table tables[2]; /* by enum gh_limits_kind */
    struct gh_redis *redis;
    long budget_calls;
    int64_t budget_nd;
    pthread_mutex_t budget_mu;
    int64_t day; /* UTC day number the local counts are for */
    int64_t calls, cost_nd;
};

/* KEYS[1] the bucket; ARGV[1] burst, ARGV[2] milliseconds per token. Redis's own clock, so
 * instances with skewed clocks agree. Returns {allowed, whole tokens left, ms until allowed,
 * ms until one more token}. A bucket left alone until full expires: absent means full. */
static const char bucket_script[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local burst = tonumber(ARGV[1])\n"
    "local mpt = tonumber(ARGV[2])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "local tokens, ts = tonumber(v[1]), tonumber(v[2])\n"
    "if tokens == nil or ts == nil then tokens = burst; ts = now end\n"
    "if now > ts then tokens = math.min(burst, tokens + (now - ts) / mpt); ts = now end\n"
    "local allowed, retry = 0, 0\n"
    "if tokens >= 1 then tokens = tokens - 1; allowed = 1\n"
    "else retry = math.ceil((1 - tokens) * mpt) end\n"
    "redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * mpt) + 1000)\n"
    "local rem = math.floor(tokens)\n"
    "return {allowed, rem, retry, math.ceil((rem + 1 - tokens) * mpt)}\n";

/* KEYS[1] the day's counters; ARGV[1] calls to add, ARGV[2] nanodollars to add (0 and 0: just
 * read). Returns {calls, nanodollars} after the addition. */
static const char budget_script[] = "local c, nd = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
                                    "if c > 0 or nd > 0 then\n"
                                    "  redis.call('HINCRBY', KEYS[1], 'calls', c)\n"
                                    "  redis.call('HINCRBY', KEYS[1], 'nd', nd)\n"
                                    "  redis.call('EXPIRE', KEYS[1], 172800)\n"
                                    "end\n"
                                    "local v = redis.call('HMGET', KEYS[1], 'calls', 'nd')\n"
                                    "return {tonumber(v[1]) or 0, tonumber(v[2]) or 0}\n";

void gh_limits_config_defaults(struct gh_limits_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->requests_per_minute = 600;
    cfg->requests_burst = 100;
    cfg->provider_per_minute = 10;
    cfg->provider_burst = 10;
    cfg->max_clients = 65536;
}

static int table_init(struct table *t, const char *name, int per_minute, int burst, size_t n)
{
    t->name = name;
    t->enabled = per_minute > 0;
    if (!t->enabled)
        return GH_OK;
    t->burst = burst > 0 ? burst : per_minute;
    t->ms_per_token = 60000.0 / per_minute;
    t->n_slots = n < PROBE ? PROBE : n;
    t->slots = gh_malloc_array(t->n_slots, sizeof *t->slots);
    if (!t->slots)
        return GH_ENOMEM;
    memset(t->slots, 0, t->n_slots * sizeof *t->slots);
    pthread_mutex_init(&t->mu, NULL);
    return GH_OK;
}

static void table_fini(struct table *t)
{
    if (!t->slots)
        return;
    pthread_mutex_destroy(&t->mu);
    gh_free(t->slots);
}

struct gh_limits *gh_limits_new(const struct gh_limits_config *cfg, struct gh_redis *redis,
                                struct gh_err *err)
{
    struct gh_limits *l;

    if (cfg->requests_per_minute < 0 || cfg->provider_per_minute < 0 || cfg->requests_burst < 0 ||
        cfg->provider_burst < 0 || cfg->budget_calls < 0 || cfg->budget_usd < 0) {
        gh_err_set(err, GH_EINVAL, "rate limits and budgets must not be negative");
        return NULL;
    }
    l = gh_malloc(sizeof *l);
    if (!l) {
        gh_err_set(err, GH_ENOMEM, "out of memory for the rate limits");
        return NULL;
    }
    memset(l, 0, sizeof *l);
    l->redis = redis;
    l->budget_calls = cfg->budget_calls;
    l->budget_nd = (int64_t)llround(cfg->budget_usd * 1e9);
    pthread_mutex_init(&l->budget_mu, NULL);
    if (table_init(&l->tables[GH_LIMITS_REQUESTS], "requests", cfg->requests_per_minute,
                   cfg->requests_burst, cfg->max_clients) != GH_OK ||
        table_init(&l->tables[GH_LIMITS_PROVIDER], "provider", cfg->provider_per_minute,
                   cfg->provider_burst, cfg->max_clients) != GH_OK) {
        gh_limits_free(l);
        gh_err_set(err, GH_ENOMEM, "out of memory for the rate limits");
        return NULL;
    }
    return l;
}

void gh_limits_free(struct gh_limits *l)
{
    if (!l)
        return;
    table_fini(&l->tables[0]);
    table_fini(&l->tables[1]);
    pthread_mutex_destroy(&l->budget_mu);
    gh_free(l);
}

/* FNV-1a */
static uint64_t hash_key(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return h;
}

/* The bucket for key, refilled to now: its own slot, a free one, or, in a full neighbourhood,
 * the one used least recently (a client evicted that way starts again with a full bucket:
 * with the table sized far above the clients of a minute, only idle ones go). Called with
 * t->mu held. */
static struct bucket *bucket_for(struct table *t, const char *key, int64_t now)
{
    size_t start = (size_t)(hash_key(key) % t->n_slots);
    struct bucket *pick = NULL, *b;

    for (size_t i = 0; i < PROBE; i++) {
        b = &t->slots[(start + i) % t->n_slots];
        if (b->key[0] && strcmp(b->key, key) == 0) {
            pick = b;
            break;
        }
        if (!pick || (pick->key[0] && (!b->key[0] || b->used < pick->used)))
            pick = b;
    }
    if (!pick->key[0] || strcmp(pick->key, key) != 0) {
        snprintf(pick->key, sizeof pick->key, "%s", key);
        pick->tokens = t->burst;
        pick->ts_ms = now;
    }
    if (now > pick->ts_ms) {
        pick->tokens += (double)(now - pick->ts_ms) / t->ms_per_token;
        if (pick->tokens > t->burst)
            pick->tokens = t->burst;
        pick->ts_ms = now;
    }
    pick->used = ++t->tick;
    return pick;
}

static int64_t ceil_s(double ms)
{
    return ms <= 0 ? 0 : (int64_t)ceil(ms / 1000.0);
}

static void verdict_fill(const struct table *t, struct gh_limits_verdict *out, int allowed,
                         int64_t remaining, double retry_ms, double next_ms)
{
    out->limited = !allowed;
    out->remaining = remaining;
    out->retry_after_s = allowed ? 0 : ceil_s(retry_ms) < 1 ? 1 : ceil_s(retry_ms);
    out->reset_s = allowed ? ceil_s(next_ms) : out->retry_after_s;
    if (allowed && remaining >= out->quota)
        out->reset_s = 0;
    (void)t;
}

static int take_local(struct table *t, const char *key, struct gh_limits_verdict *out)
{
    int64_t now = (int64_t)gh_mono_ms();
    struct bucket *b;
    int allowed;
    double retry_ms = 0, next_ms;
    int64_t rem;

    pthread_mutex_lock(&t->mu);
    b = bucket_for(t, key, now);
    allowed = b->tokens >= 1.0;
    if (allowed)
        b->tokens -= 1.0;
    else
        retry_ms = (1.0 - b->tokens) * t->ms_per_token;
    rem = (int64_t)floor(b->tokens);
    next_ms = ((double)rem + 1.0 - b->tokens) * t->ms_per_token;
    pthread_mutex_unlock(&t->mu);
    verdict_fill(t, out, allowed, rem, retry_ms, next_ms);
    return allowed;
}

static int take_shared(struct gh_limits *l, struct table *t, const char *key,
                       struct gh_limits_verdict *out)
{
    char rkey[sizeof REDIS_PREFIX + 16 + GH_IDENTITY_KEY_CAP], burst[32], mpt[32];
    const char *args[3] = {rkey, burst, mpt};
    int64_t r[4] = {0, 0, 0, 0};

    snprintf(rkey, sizeof rkey, REDIS_PREFIX "%s:%s", t->name, key);
    snprintf(burst, sizeof burst, "%.0f", t->burst);
    snprintf(mpt, sizeof mpt, "%.6f", t->ms_per_token);
    if (gh_redis_script(l->redis, bucket_script, 1, args, 3, r, 4) != GH_OK)
        return -1;
    out->shared = 1;
    verdict_fill(t, out, r[0] == 1, r[1] < 0 ? 0 : r[1], (double)r[2], (double)r[3]);
    return r[0] == 1;
}

int gh_limits_take(struct gh_limits *l, enum gh_limits_kind kind, const char *key,
                   struct gh_limits_verdict *out)
{
    struct table *t;
    int rc;

    memset(out, 0, sizeof *out);
    if (!l || (kind != GH_LIMITS_REQUESTS && kind != GH_LIMITS_PROVIDER))
        return 1;
    t = &l->tables[kind];
    out->policy = t->name;
    if (!t->enabled)
        return 1;
    out->enabled = 1;
    out->quota = (int64_t)t->burst;
    out->window_s = ceil_s(t->burst * t->ms_per_token);
    /* Redis down or refusing: this instance's buckets decide, never nobody. */
    if (l->redis && (rc = take_shared(l, t, key, out)) >= 0)
        return rc;
    return take_local(t, key, out);
}

int gh_limits_shared(const struct gh_limits *l, enum gh_limits_kind kind)
{
    if (!l || !l->redis || (kind != GH_LIMITS_REQUESTS && kind != GH_LIMITS_PROVIDER))
        return 0;
    return l->tables[kind].enabled;
}

/* --- daily budget ------------------------------------------------------------------------ */

static int64_t utc_day(int64_t *seconds_left)
{
    int64_t now = (int64_t)time(NULL);

    if (seconds_left)
        *seconds_left = 86400 - now % 86400;
    return now / 86400;
}

/* Adds to this instance's counts (resetting them on a new day) and returns them. */
static void local_add(struct gh_limits *l, int64_t calls, int64_t nd, int64_t *c, int64_t *n)
{
    int64_t day = utc_day(NULL);

    pthread_mutex_lock(&l->budget_mu);
    if (day != l->day) {
        l->day = day;
        l->calls = l->cost_nd = 0;
    }
    l->calls += calls;
    l->cost_nd += nd;
    *c = l->calls;
    *n = l->cost_nd;
    pthread_mutex_unlock(&l->budget_mu);
}

/* Today's shared counts after adding calls and nd; -1 when Redis did not answer. */
static int shared_add(struct gh_limits *l, int64_t calls, int64_t nd, int64_t *c, int64_t *n)
{
    char key[64], a1[24], a2[24];
    const char *args[3] = {key, a1, a2};
    int64_t r[2] = {0, 0};

    if (!l->redis)
        return -1;
    snprintf(key, sizeof key, REDIS_PREFIX "budget:%lld", (long long)utc_day(NULL));
    snprintf(a1, sizeof a1, "%lld", (long long)calls);
    snprintf(a2, sizeof a2, "%lld", (long long)nd);
    if (gh_redis_script(l->redis, budget_script, 1, args, 3, r, 2) != GH_OK)
        return -1;
    *c = r[0];
    *n = r[1];
    return 0;
}

enum gh_limits_budget gh_limits_budget_check(struct gh_limits *l, int64_t *retry_after_s)
{
    int64_t calls = 0, nd = 0;

    utc_day(retry_after_s);
    if (!l || (l->budget_calls <= 0 && l->budget_nd <= 0))
        return GH_LIMITS_BUDGET_OK;
    if (shared_add(l, 0, 0, &calls, &nd) != 0)
        local_add(l, 0, 0, &calls, &nd);
    if (l->budget_calls > 0 && calls >= l->budget_calls)
        return GH_LIMITS_BUDGET_CALLS;
    if (l->budget_nd > 0 && nd >= l->budget_nd)
        return GH_LIMITS_BUDGET_USD;
    return GH_LIMITS_BUDGET_OK;
}

void gh_limits_budget_spend(struct gh_limits *l, int64_t cost_nd)
{
    int64_t c, n;

    if (!l)
        return;
    if (cost_nd < 0)
        cost_nd = 0;
    local_add(l, 1, cost_nd, &c, &n);
    if ((l->budget_calls > 0 || l->budget_nd > 0) && shared_add(l, 1, cost_nd, &c, &n) != 0)
        gh_logf(GH_LOG_DEBUG, "provider budget: redis did not record a call; counted locally");
}

void gh_limits_budget_today(struct gh_limits *l, int64_t *calls, int64_t *cost_nd)
{
    *calls = *cost_nd = 0;
    if (l && shared_add(l, 0, 0, calls, cost_nd) != 0)
        local_add(l, 0, 0, calls, cost_nd);
}
