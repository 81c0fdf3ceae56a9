/* SPDX-License-Identifier: MIT */
/* The Redis hot layer shared by several instances (hiredis): answers by exact key (SHA-256) and
 * by exact pHash, each a JSON document under a versioned key with a TTL. It never fails a
 * request: every command is bounded by a timeout, and after a failure a circuit breaker skips
 * Redis for a growing backoff (1 s doubling to 30 s), so an outage costs one timeout per
 * backoff period. Near-duplicate search (distance > 0) stays in the SQL store. */
#ifndef GH_REDIS_H
#define GH_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"
#include "gh/store.h"

/* Keys: GH_REDIS_PREFIX "sha:<64 hex>" and GH_REDIS_PREFIX "ph:<16 hex>". Bump the version
 * when the value format changes, so old and new instances never read each other's values. */
#define GH_REDIS_PREFIX "gh:v1:"

struct gh_redis_options {
    const char *url; /* redis://[:password@]host[:port][/db] */
    int64_t ttl_s;   /* EX of every key, > 0 */
    int timeout_ms;  /* connect and each command, > 0 */
};

enum gh_redis_state {
    GH_REDIS_STATE_OK = 0,
    GH_REDIS_STATE_DOWN, /* the breaker is open: the layer is skipped until a retry succeeds */
};

struct gh_redis_stats {
    uint64_t hits;       /* by SHA-256 */
    uint64_t phash_hits; /* by pHash */
    uint64_t misses;     /* lookups that found nothing usable (garbage counts here too) */
    uint64_t bad_values; /* values that were not our JSON document */
    uint64_t errors;     /* commands that failed: timeouts, refused or lost connections */
    uint64_t skipped;    /* operations skipped while the breaker was open */
    uint64_t writes;     /* keys written */
    uint64_t outages;    /* times the breaker opened */
    int down;            /* the breaker is open now */
};

/* hiredis writes with plain write(2): the process must ignore SIGPIPE (main.c does), or a
 * server that dies mid-command kills it. */
struct gh_redis;

/* Parses the URL and prepares the pool; does not connect (the first command does, so a Redis
 * that is down at start only makes the layer skip). GH_EINVAL with a sentence for a bad URL or
 * option (the password never appears in it), GH_ENOMEM. */
int gh_redis_new(const struct gh_redis_options *opts, struct gh_redis **out,
                 struct gh_err *err) GH_MUST_CHECK;

/* Closes every pooled connection and frees. No command may be in progress. NULL is a no-op. */
void gh_redis_free(struct gh_redis *r);

/* Looks up the answer for an exact SHA-256 (lower-case hex) or for an exact pHash. GH_OK
 * fills *out (answer_json owned: gh_cache_entry_fini; hits and last_hit_at are 0);
 * GH_ENOTFOUND on a miss, which includes every failure, a skipped layer and a value that is
 * not our document or has expired. Blocks at most about one timeout. Thread-safe. */
int gh_redis_get_sha(struct gh_redis *r, const char *sha256, int64_t now,
                     struct gh_cache_entry *out) GH_MUST_CHECK;
int gh_redis_get_phash(struct gh_redis *r, uint64_t phash, int64_t now,
                       struct gh_cache_entry *out) GH_MUST_CHECK;

enum {
    GH_REDIS_KEY_SHA = 1,   /* write e under its SHA-256 */
    GH_REDIS_KEY_PHASH = 2, /* write e under its pHash */
};

/* Writes e (sha256, phash, answer_json, slug, provider, model, created_at, expires_at,
 * corrected) under the keys chosen by `keys`, each with the TTL, in one round trip. An entry
 * with e->corrected set replaces whatever is there; any other entry leaves a corrected value
 * in place (a provider answer never overwrites a person's correction, as in the store).
 * Best effort: returns GH_OK, or GH_EBACKEND / GH_EUNAVAILABLE (skipped) for the caller's
 * counters; nothing needs handling. Thread-safe. */
int gh_redis_put(struct gh_redis *r, const struct gh_cache_entry *e, int keys);

/* The layer's state for health checks: while the breaker is closed, a PING (bounded by the
 * timeout) confirms it; while it is open, DOWN without any I/O until the next retry is due.
 * detail (may be NULL) gets a sentence: "ok", or why it is down. Thread-safe. */
enum gh_redis_state gh_redis_check(struct gh_redis *r, char *detail, size_t detail_cap);

/* Counts the keys under GH_REDIS_PREFIX by kind with SCAN (for `gymhelper cache stats`; walks
 * the whole keyspace, so not for request paths). GH_EBACKEND with a sentence on failure. */
int gh_redis_count_keys(struct gh_redis *r, int64_t *n_sha, int64_t *n_phash,
                        struct gh_err *err) GH_MUST_CHECK;

/* Runs a Lua script atomically: EVALSHA, and EVAL once when the server does not know it yet
 * (restarted, flushed). args are the script's KEYS (the first n_keys) then its ARGV, n_args in
 * all (at most 5). The reply must be an array of integers: up to n_out of them go into out.
 * GH_OK; GH_EUNAVAILABLE while the breaker skips Redis (nothing was sent); GH_EBACKEND when
 * the exchange failed or the reply is not such an array. Bounded by the timeout; thread-safe.
 * For the rate limits' shared buckets (gh/limits.h). */
int gh_redis_script(struct gh_redis *r, const char *script, int n_keys, const char *const *args,
                    int n_args, int64_t *out, size_t n_out) GH_MUST_CHECK;

/* "host:port/db" of the URL, without any password, for logs and stats. */
const char *gh_redis_address(const struct gh_redis *r);

void gh_redis_stats(struct gh_redis *r, struct gh_redis_stats *out);

#endif
