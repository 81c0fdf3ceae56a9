/* SPDX-License-Identifier: MIT */
/* Shared inside src/auth: the auth object (auth.c) and the JWT code (jwt.c). */
#ifndef GH_AUTH_INTERNAL_H
#define GH_AUTH_INTERNAL_H

#include "gh/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>

#define AUTH_CACHE_SLOTS        1024 /* users, keys and families known to this instance */
#define AUTH_LIMIT_SLOTS        4096 /* usernames and addresses with recent failed sign-ins */
#define AUTH_CACHE_TTL_S        60   /* reloaded at least this often even if the poller stalls */
#define AUTH_VERIFIED_SLOTS     256  /* access tokens whose signature and claims were checked */
#define AUTH_VERIFIED_TOKEN_MAX 512  /* ours are ~300 bytes; longer ones are never remembered */

/* A token that verified: the same bytes verify again with the same claims (one secret per
 * process), so only the times are checked again. */
struct auth_verified {
    size_t len; /* 0: free */
    char token[AUTH_VERIFIED_TOKEN_MAX];
    struct gh_auth_claims claims;
};

struct auth_cached {
    char key[72]; /* "u:<id>", "k:<sha256>", "f:<family>"; "" when free */
    int ok;       /* user enabled / key unrevoked / family active */
    int64_t user_id, key_id;
    enum gh_role role;
    unsigned scopes;
    int64_t loaded_at;
};

struct auth_limit {
    char key[GH_IDENTITY_KEY_CAP]; /* "u:<name>" or "a:<address>"; "" when free */
    int failures;
    int64_t window_start;
};

struct gh_auth {
    struct gh_auth_config cfg;
    struct gh_store *st;
    uint8_t secret[256]; /* the HMAC key: JWT_SECRET's bytes, or the stored random one */
    size_t secret_len;
    /* HMAC-SHA-256 keyed with secret, before any message: each signature copies it instead of
     * hashing the key's two padded blocks again (set once at start, then read-only) */
    crypto_auth_hmacsha256_state hmac_keyed;
    pthread_mutex_t verified_mu;
    struct auth_verified verified[AUTH_VERIFIED_SLOTS];
    unsigned generation; /* bumped by each clear: a lookup that spans one is not cached */
    char header_b64[64]; /* base64url of the one header we issue: the verifier's fast path */
    char dummy_hash[GH_PASSWORD_HASH_CAP]; /* verified against when a user does not exist */
    pthread_mutex_t cache_mu;
    struct auth_cached cache[AUTH_CACHE_SLOTS];
    int64_t epoch;
    pthread_mutex_t limit_mu;
    struct auth_limit limits[AUTH_LIMIT_SLOTS];
    pthread_t poller;
    int poller_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    int stopping;
    struct gh_redis *redis; /* under stop_mu; NULL: revocations go through the store only */
    int64_t redis_epoch;    /* the poller's last reading of Redis's copy */
};

/* base64url without padding (RFC 7515 section 2). Encode: out has room for
 * sodium_base64_ENCODED_LEN(len, URLSAFE_NO_PADDING). Decode: -1 on any character outside the
 * alphabet, padding, or more than cap bytes. */
void gh_auth_b64_encode(const uint8_t *bin, size_t len, char *out, size_t cap);
int gh_auth_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* Clears every cached answer (a revocation happened). */
void gh_auth_cache_clear(struct gh_auth *a);

#endif
