/* SPDX-License-Identifier: MIT */
/* Accounts, tokens and API keys (issue 11). Passwords are Argon2id strings (libsodium's
 * crypto_pwhash_str); access tokens are HS256 JWTs (RFC 7519) signed with libsodium's
 * HMAC-SHA-256, alg pinned, compared in constant time; refresh tokens rotate within a family and
 * a reused one revokes the family; API keys are "gh_" and 43 base64url characters, stored as
 * their SHA-256. What each instance learns from the store (a user disabled, a key revoked, a
 * family revoked) is cached until the store's revocation epoch moves, which a background thread
 * polls every GH_AUTH_EPOCH_POLL_MS, so a revocation anywhere is honoured everywhere within a
 * second. Leaves out: authorisation decisions (src/http decides per route from the identity). */
#ifndef GH_AUTH_H
#define GH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"
#include "gh/identity.h"
#include "gh/redis.h"
#include "gh/store.h"
#include "gh/store_auth.h"

#define GH_AUTH_EPOCH_POLL_MS  250
#define GH_AUTH_REDIS_POLL_MS  50 /* with Redis: its copy of the epoch is read this often */
#define GH_AUTH_REDIS_EPOCH    "gh:v1:auth:epoch"
#define GH_AUTH_TOKEN_CAP      1024 /* an access token we issue is ~300 bytes */
#define GH_AUTH_SECRET_CAP     64   /* "gh_" / "ghr_" and 43 base64url characters, NUL */
#define GH_AUTH_KEY_PREFIX     "gh_"
#define GH_AUTH_REFRESH_PREFIX "ghr_"

/* Argon2id cost: OWASP's Password Storage Cheat Sheet minimum (m = 19 MiB, t = 2, p = 1), so
 * a sign-in stays well under 300 ms on the shared 2-core test machine (README "Accounts"). */
#define GH_AUTH_PW_OPSLIMIT 2ULL
#define GH_AUTH_PW_MEMLIMIT ((size_t)19 << 20)

struct gh_auth_config {
    int required;           /* AUTH_MODE=required: requests need a token or key */
    const char *jwt_secret; /* JWT_SECRET (32+ bytes); NULL: generated once, kept in the store */
    const char *issuer;     /* JWT_ISSUER, "gymhelper" */
    const char *audience;   /* JWT_AUDIENCE, "gymhelper-api" */
    int64_t access_ttl_s;   /* ACCESS_TOKEN_TTL_SECONDS, 900 */
    int64_t refresh_ttl_s;  /* REFRESH_TOKEN_TTL_DAYS, 30 days */
    int64_t skew_s;         /* clock skew allowed on exp/nbf/iat, 30 s */
    int allow_signup;       /* ALLOW_SIGNUP: POST /api/v1/auth/register */
    int login_max_failures; /* LOGIN_MAX_FAILURES per username and per address per window, 5 */
    int64_t login_window_s; /* LOGIN_LOCKOUT_SECONDS, 900 */
};

void gh_auth_config_defaults(struct gh_auth_config *cfg);

/* The claims of an access token. */
struct gh_auth_claims {
    int64_t user_id; /* "sub" */
    enum gh_role role;
    char sid[40]; /* the refresh-token family the token came from */
    int64_t iat, nbf, exp;
};

/* What a sign-in, sign-up or refresh answers. */
struct gh_auth_session {
    char access_token[GH_AUTH_TOKEN_CAP];
    char refresh_token[GH_AUTH_SECRET_CAP];
    int64_t expires_in; /* seconds */
    struct gh_user user;
};

struct gh_auth;

/* Reads or makes the signing secret, starts the epoch poller. Errors: GH_EINVAL (secret under
 * 32 bytes, bad config), GH_EBACKEND (store), GH_ENOMEM. The store must outlive it. */
int gh_auth_new(const struct gh_auth_config *cfg, struct gh_store *st, struct gh_auth **out,
                struct gh_err *err) GH_MUST_CHECK;
/* Shares revocations through Redis as well (r borrowed, must outlive a; NULL: none): each
 * revocation this instance makes also increments GH_AUTH_REDIS_EPOCH there, and the poller reads
 * that key every GH_AUTH_REDIS_POLL_MS between its reads of the store, so the other instances
 * drop what they cached within tens of milliseconds. The store's epoch stays the authority:
 * revocations by the CLI, or while Redis is down, still arrive within GH_AUTH_EPOCH_POLL_MS. */
void gh_auth_use_redis(struct gh_auth *a, struct gh_redis *r);

/* Stops the poller and frees. NULL is a no-op. */
void gh_auth_free(struct gh_auth *a);

const struct gh_auth_config *gh_auth_config(const struct gh_auth *a);

/* Argon2id string of password (any bytes, 1..1024), and its check (1 when it matches). */
int gh_auth_password_hash(const char *password, char out[GH_PASSWORD_HASH_CAP],
                          struct gh_err *err) GH_MUST_CHECK;
int gh_auth_password_verify(const char *hash, const char *password);

/* Signs c (iss/aud from the config) into out. Thread-safe. */
int gh_auth_jwt_sign(struct gh_auth *a, const struct gh_auth_claims *c, char *out, size_t cap,
                     struct gh_err *err) GH_MUST_CHECK;
/* Verifies token at now: three base64url parts, header alg exactly HS256 (none, RS256 and any
 * other refused), HMAC compared in constant time, iss and aud equal to ours, exp/nbf/iat within
 * the skew, sub a user id, a known role. No I/O. GH_EINVAL with the reason in err. */
int gh_auth_jwt_verify(struct gh_auth *a, const char *token, int64_t now,
                       struct gh_auth_claims *out, struct gh_err *err) GH_MUST_CHECK;

/* Who a request is from. authorization is the Authorization header (NULL: none), api_key the
 * X-API-Key header. With neither, id stays as it is (anonymous) and GH_OK. Otherwise fills
 * id's kind, user_id, key_id, role and scopes and its key; GH_EINVAL (bad, expired, revoked
 * token or key, disabled user) with a sentence in err; GH_EBACKEND when the store cannot say.
 * Reads the store on a cache miss when may_block is set; without it, a miss is GH_EWOULDBLOCK
 * (nothing changed: call again where blocking is allowed). Thread-safe. */
int gh_auth_authenticate(struct gh_auth *a, const char *authorization, const char *api_key,
                         int64_t now, int may_block, struct gh_identity *id,
                         struct gh_err *err) GH_MUST_CHECK;

/* Overwrites the session's secrets (a compiler may not drop it). */
void gh_auth_session_wipe(struct gh_auth_session *s);

/* Sign-in. GH_EINVAL: wrong username or password (the same sentence whether or not the user
 * exists, after the same work); GH_EUNAVAILABLE with *retry_after_s: too many failures for this
 * username or address; GH_EBACKEND. Costs one Argon2id verification: call on a worker. */
int gh_auth_login(struct gh_auth *a, const char *username, const char *password,
                  const char *address, int64_t now, struct gh_auth_session *out,
                  int64_t *retry_after_s, struct gh_err *err) GH_MUST_CHECK;

/* Self sign-up (only with allow_signup): a "user". GH_ECONFLICT name taken, GH_EINVAL bad
 * name or a password under 8 characters. */
int gh_auth_register(struct gh_auth *a, const char *username, const char *password, int64_t now,
                     struct gh_auth_session *out, struct gh_err *err) GH_MUST_CHECK;

/* Rotation: spends refresh_token and issues a new pair in its family. GH_EINVAL unknown,
 * expired or revoked; GH_ECONFLICT a token used before (its family is revoked now). */
int gh_auth_refresh(struct gh_auth *a, const char *refresh_token, int64_t now,
                    struct gh_auth_session *out, struct gh_err *err) GH_MUST_CHECK;

/* Revokes refresh_token's family (its access tokens stop within a second). Unknown tokens
 * are GH_OK: logging out twice is not an error. */
int gh_auth_logout(struct gh_auth *a, const char *refresh_token, int64_t now,
                   struct gh_err *err) GH_MUST_CHECK;

/* Tells this instance's cache and, through the store's epoch, every instance's, that a
 * revocation happened. */
int gh_auth_revoked(struct gh_store *st, struct gh_auth *a, struct gh_err *err) GH_MUST_CHECK;

/* "analyze,feedback,admin" to enum gh_scope bits and back. GH_EINVAL for an unknown scope. */
int gh_auth_scopes_parse(const char *s, unsigned *out, struct gh_err *err) GH_MUST_CHECK;
void gh_auth_scopes_format(unsigned scopes, char *out, size_t cap);

/* Makes an API key: writes the key (shown once) into key_out and stores its hash in rec
 * (rec->name, user_id, scopes set by the caller). */
int gh_auth_key_create(struct gh_store *st, struct gh_api_key *rec, int64_t now,
                       char key_out[GH_AUTH_SECRET_CAP], struct gh_err *err) GH_MUST_CHECK;

/* What history ownership keys on: "user:<id>" for a user or a user's key, the identity's key
 * otherwise; "" for an anonymous client (open mode). */
void gh_auth_owner(const struct gh_identity *id, char out[GH_IDENTITY_KEY_CAP]);

/* A printable random password of 20 base64url characters (for `user add` without one). */
int gh_auth_random_password(char out[32], struct gh_err *err) GH_MUST_CHECK;

/* Share links (issue 12): a token of 32 random bytes (libsodium) as 43 base64url characters,
 * and the SHA-256 hex the store keeps instead of it. GH_EBACKEND when libsodium cannot start. */
#define GH_SHARE_TOKEN_LEN 43
int gh_auth_share_token(char token[GH_SHARE_TOKEN_LEN + 1], char hash[GH_TOKEN_HASH_CAP],
                        struct gh_err *err) GH_MUST_CHECK;
/* The hash of a presented token; GH_EINVAL when it is not one we could have made. */
int gh_auth_share_hash(const char *token, char hash[GH_TOKEN_HASH_CAP]) GH_MUST_CHECK;

#endif
