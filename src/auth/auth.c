/* SPDX-License-Identifier: MIT */
/* Accounts: passwords, sessions (sign-in, rotation, sign-out), API keys, and who a request is
 * from. Per-instance caches of what the store says about users, keys and sessions are dropped
 * whenever the store's revocation epoch moves (polled by a thread), so revocations reach every
 * instance within a second. Failed sign-ins are counted per username and per address. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define KEY_RANDOM_BYTES 32 /* 43 base64url characters */
#define PASSWORD_MIN     8
#define PASSWORD_MAX     1024

void gh_auth_config_defaults(struct gh_auth_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->issuer = "gymhelper";
    cfg->audience = "gymhelper-api";
    cfg->access_ttl_s = 900;
    cfg->refresh_ttl_s = 30 * 86400;
    cfg->skew_s = 30;
    cfg->login_max_failures = 5;
    cfg->login_window_s = 900;
}

const struct gh_auth_config *gh_auth_config(const struct gh_auth *a)
{
    return &a->cfg;
}

/* ---- passwords and random tokens ---- */

int gh_auth_password_hash(const char *password, char out[GH_PASSWORD_HASH_CAP], struct gh_err *err)
{
    size_t n = password ? strnlen(password, PASSWORD_MAX + 1) : 0;

    if (n == 0 || n > PASSWORD_MAX)
        return gh_err_set(err, GH_EINVAL, "a password is 1 to %d bytes", PASSWORD_MAX);
    if (crypto_pwhash_str(out, password, n, GH_AUTH_PW_OPSLIMIT, GH_AUTH_PW_MEMLIMIT) != 0)
        return gh_err_set(err, GH_ENOMEM,
                          "out of memory hashing a password (Argon2id needs "
                          "19 MiB)");
    return GH_OK;
}

int gh_auth_password_verify(const char *hash, const char *password)
{
    size_t n = password ? strnlen(password, PASSWORD_MAX + 1) : 0;

    if (!hash || n > PASSWORD_MAX)
        return 0;
    return crypto_pwhash_str_verify(hash, password ? password : "", n) == 0;
}

/* prefix followed by 43 base64url characters of 32 random bytes. */
static void random_token(const char *prefix, char out[GH_AUTH_SECRET_CAP])
{
    uint8_t raw[KEY_RANDOM_BYTES];
    size_t n = strlen(prefix);

    randombytes_buf(raw, sizeof raw);
    memcpy(out, prefix, n);
    gh_auth_b64_encode(raw, sizeof raw, out + n, GH_AUTH_SECRET_CAP - n);
    sodium_memzero(raw, sizeof raw);
}

int gh_auth_random_password(char out[32], struct gh_err *err)
{
    uint8_t raw[15];

    if (sodium_init() < 0)
        return gh_err_set(err, GH_EBACKEND, "libsodium cannot start");
    randombytes_buf(raw, sizeof raw);
    gh_auth_b64_encode(raw, sizeof raw, out, 32);
    return GH_OK;
}

/* A token of ours: prefix, then exactly 43 base64url characters. */
static int token_well_formed(const char *t, const char *prefix)
{
    size_t n = strlen(prefix), len = t ? strnlen(t, GH_AUTH_SECRET_CAP) : 0;
    uint8_t raw[KEY_RANDOM_BYTES + 4];
    size_t got = 0;

    if (len != n + 43 || strncmp(t, prefix, n) != 0)
        return 0;
    return gh_auth_b64_decode(t + n, 43, raw, sizeof raw, &got) == 0 && got == KEY_RANDOM_BYTES;
}

/* SHA-256 hex of a random token: what the store keeps instead of the token. */
static void token_hash(const char *t, char out[GH_TOKEN_HASH_CAP])
{
    uint8_t h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, (const unsigned char *)t, strlen(t));
    sodium_bin2hex(out, GH_TOKEN_HASH_CAP, h, sizeof h);
}

int gh_auth_share_token(char token[GH_SHARE_TOKEN_LEN + 1], char hash[GH_TOKEN_HASH_CAP],
                        struct gh_err *err)
{
    uint8_t raw[KEY_RANDOM_BYTES];

    if (sodium_init() < 0)
        return gh_err_set(err, GH_EBACKEND, "libsodium cannot start");
    randombytes_buf(raw, sizeof raw);
    gh_auth_b64_encode(raw, sizeof raw, token, GH_SHARE_TOKEN_LEN + 1);
    token_hash(token, hash);
    return GH_OK;
}

int gh_auth_share_hash(const char *token, char hash[GH_TOKEN_HASH_CAP])
{
    if (!token_well_formed(token, ""))
        return GH_EINVAL;
    token_hash(token, hash);
    return GH_OK;
}

/* ---- the cache of what the store said ---- */

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

#define PROBES 8

void gh_auth_cache_clear(struct gh_auth *a)
{
    pthread_mutex_lock(&a->cache_mu);
    memset(a->cache, 0, sizeof a->cache);
    a->generation++;
    pthread_mutex_unlock(&a->cache_mu);
}

/* 1 with *out filled when key is cached and fresh; *gen gets the generation to hand to
 * cache_put, so an answer read across a clear is not kept. */
static int cache_get(struct gh_auth *a, const char *key, int64_t now, struct auth_cached *out,
                     unsigned *gen)
{
    uint32_t h = fnv1a(key);
    int hit = 0;

    pthread_mutex_lock(&a->cache_mu);
    *gen = a->generation;
    for (int i = 0; i < PROBES; i++) {
        struct auth_cached *c = &a->cache[(h + (uint32_t)i) % AUTH_CACHE_SLOTS];

        if (c->key[0] && strcmp(c->key, key) == 0) {
            hit = now - c->loaded_at < AUTH_CACHE_TTL_S;
            if (hit)
                *out = *c;
            break;
        }
    }
    pthread_mutex_unlock(&a->cache_mu);
    return hit;
}

static void cache_put(struct gh_auth *a, const struct auth_cached *v, unsigned gen)
{
    uint32_t h = fnv1a(v->key);
    struct auth_cached *slot = NULL;

    pthread_mutex_lock(&a->cache_mu);
    if (gen != a->generation)
        goto out;
    for (int i = 0; i < PROBES && !slot; i++) {
        struct auth_cached *c = &a->cache[(h + (uint32_t)i) % AUTH_CACHE_SLOTS];

        if (!c->key[0] || strcmp(c->key, v->key) == 0)
            slot = c;
    }
    *(slot ? slot : &a->cache[h % AUTH_CACHE_SLOTS]) = *v; /* full: replace the first */
out:
    pthread_mutex_unlock(&a->cache_mu);
}

static unsigned role_scopes(enum gh_role r)
{
    unsigned s = GH_SCOPE_ANALYZE | GH_SCOPE_FEEDBACK | GH_SCOPE_WORKOUTS;

    return r == GH_ROLE_ADMIN ? s | GH_SCOPE_ADMIN : s;
}

static int would_block(struct gh_err *err)
{
    return gh_err_set(err, GH_EWOULDBLOCK, "not cached: the store must be asked");
}

/* The user's current state: enabled and role. GH_EINVAL when gone or disabled. */
static int user_state(struct gh_auth *a, int64_t user_id, int64_t now, int may_block,
                      struct auth_cached *out, struct gh_err *err)
{
    struct gh_user u;
    unsigned gen;
    int rc;

    memset(out, 0, sizeof *out);
    snprintf(out->key, sizeof out->key, "u:%lld", (long long)user_id);
    if (!cache_get(a, out->key, now, out, &gen)) {
        if (!may_block)
            return would_block(err);
        rc = gh_store_user_get(a->st, user_id, NULL, &u, err);
        if (rc && rc != GH_ENOTFOUND)
            return rc;
        gh_err_clear(err);
        out->ok = rc == GH_OK && !u.disabled;
        out->user_id = user_id;
        out->role = rc == GH_OK ? u.role : GH_ROLE_NONE;
        out->loaded_at = now;
        cache_put(a, out, gen);
    }
    if (!out->ok)
        return gh_err_set(err, GH_EINVAL, "the account is disabled or no longer exists");
    return GH_OK;
}

static int family_state(struct gh_auth *a, const char *sid, int64_t now, int may_block,
                        struct gh_err *err)
{
    struct auth_cached c;
    unsigned gen;
    int rc, active = 0;

    memset(&c, 0, sizeof c);
    snprintf(c.key, sizeof c.key, "f:%s", sid);
    if (!cache_get(a, c.key, now, &c, &gen)) {
        if (!may_block)
            return would_block(err);
        rc = gh_store_refresh_family_active(a->st, sid, &active, err);
        if (rc)
            return rc;
        c.ok = active;
        c.loaded_at = now;
        cache_put(a, &c, gen);
    }
    if (!c.ok)
        return gh_err_set(err, GH_EINVAL,
                          "this session has ended (signed out or revoked); "
                          "sign in again");
    return GH_OK;
}

static int key_state(struct gh_auth *a, const char *key, int64_t now, int may_block,
                     struct auth_cached *out, struct gh_err *err)
{
    char hash[GH_TOKEN_HASH_CAP];
    struct gh_api_key k;
    unsigned gen;
    int rc;

    if (!token_well_formed(key, GH_AUTH_KEY_PREFIX))
        return gh_err_set(err, GH_EINVAL, "that is not an API key (gh_ and 43 characters)");
    token_hash(key, hash);
    memset(out, 0, sizeof *out);
    snprintf(out->key, sizeof out->key, "k:%s", hash);
    if (!cache_get(a, out->key, now, out, &gen)) {
        if (!may_block)
            return would_block(err);
        rc = gh_store_key_find(a->st, hash, &k, err);
        if (rc && rc != GH_ENOTFOUND)
            return rc;
        gh_err_clear(err);
        out->ok = rc == GH_OK && k.revoked_at == 0;
        out->key_id = rc == GH_OK ? k.id : 0;
        out->user_id = rc == GH_OK ? k.user_id : 0;
        out->scopes = rc == GH_OK ? k.scopes : 0;
        out->loaded_at = now;
        cache_put(a, out, gen);
    }
    if (!out->ok)
        return gh_err_set(err, GH_EINVAL, "unknown or revoked API key");
    return GH_OK;
}

/* A key's powers: its scopes, and admin only when its owner is an admin (a service key with
 * the admin scope is one). */
static int identify_key(struct gh_auth *a, const char *key, int64_t now, int may_block,
                        struct gh_identity *id, struct gh_err *err)
{
    struct auth_cached k, u;
    int rc = key_state(a, key, now, may_block, &k, err);

    if (rc)
        return rc;
    id->kind = GH_IDENTITY_API_KEY;
    id->key_id = k.key_id;
    id->user_id = k.user_id;
    id->scopes = k.scopes;
    id->role = k.scopes & GH_SCOPE_ADMIN ? GH_ROLE_ADMIN : GH_ROLE_USER;
    if (k.user_id > 0) {
        rc = user_state(a, k.user_id, now, may_block, &u, err);
        if (rc)
            return rc;
        if (u.role != GH_ROLE_ADMIN)
            id->scopes &= ~(unsigned)GH_SCOPE_ADMIN;
        id->role = id->scopes & GH_SCOPE_ADMIN ? GH_ROLE_ADMIN : u.role;
    }
    gh_identity_set_key(id);
    return GH_OK;
}

static int identify_jwt(struct gh_auth *a, const char *token, int64_t now, int may_block,
                        struct gh_identity *id, struct gh_err *err)
{
    struct gh_auth_claims c;
    struct auth_cached u;
    int rc = gh_auth_jwt_verify(a, token, now, &c, err);

    if (rc == GH_OK)
        rc = user_state(a, c.user_id, now, may_block, &u, err);
    if (rc == GH_OK)
        rc = family_state(a, c.sid, now, may_block, err);
    if (rc)
        return rc;
    id->kind = GH_IDENTITY_USER;
    id->user_id = c.user_id;
    id->key_id = 0;
    id->role = u.role; /* the store's, not the token's: a changed role applies at once */
    id->scopes = role_scopes(u.role);
    gh_identity_set_key(id);
    return GH_OK;
}

int gh_auth_authenticate(struct gh_auth *a, const char *authorization, const char *api_key,
                         int64_t now, int may_block, struct gh_identity *id, struct gh_err *err)
{
    const char *cred;

    if (authorization) {
        if (strncasecmp(authorization, "Bearer ", 7) != 0)
            return gh_err_set(err, GH_EINVAL, "use Authorization: Bearer <token or API key>");
        cred = authorization + 7;
        while (*cred == ' ')
            cred++;
        if (strncmp(cred, GH_AUTH_KEY_PREFIX, strlen(GH_AUTH_KEY_PREFIX)) == 0)
            return identify_key(a, cred, now, may_block, id, err);
        return identify_jwt(a, cred, now, may_block, id, err);
    }
    if (api_key)
        return identify_key(a, api_key, now, may_block, id, err);
    return GH_OK;
}

void gh_auth_session_wipe(struct gh_auth_session *s)
{
    sodium_memzero(s, sizeof *s);
}

/* ---- failed sign-ins ---- */

static struct auth_limit *limit_slot(struct gh_auth *a, const char *key, int64_t now, int create)
{
    uint32_t h = fnv1a(key);
    struct auth_limit *oldest = NULL;

    for (int i = 0; i < PROBES; i++) {
        struct auth_limit *l = &a->limits[(h + (uint32_t)i) % AUTH_LIMIT_SLOTS];

        if (l->key[0] && strcmp(l->key, key) == 0)
            return l;
        if (!oldest || !l->key[0] || l->window_start < oldest->window_start)
            oldest = oldest && !oldest->key[0] ? oldest : l;
    }
    if (!create)
        return NULL;
    /* A free slot, else the stalest: an attacker filling the table only forgets itself. */
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->key, sizeof oldest->key, "%s", key);
    oldest->window_start = now;
    return oldest;
}

/* Seconds until key may try again, 0 when it may now. Caller holds limit_mu. */
static int64_t limit_wait(struct gh_auth *a, const char *key, int64_t now)
{
    struct auth_limit *l = limit_slot(a, key, now, 0);

    if (!l || now - l->window_start >= a->cfg.login_window_s)
        return 0;
    return l->failures >= a->cfg.login_max_failures ? l->window_start + a->cfg.login_window_s - now
                                                    : 0;
}

static void limit_fail(struct gh_auth *a, const char *key, int64_t now)
{
    struct auth_limit *l = limit_slot(a, key, now, 1);

    if (now - l->window_start >= a->cfg.login_window_s) {
        l->window_start = now;
        l->failures = 0;
    }
    l->failures++;
}

static void limit_keys(const char *username, const char *address, char *ukey, char *akey)
{
    snprintf(ukey, GH_IDENTITY_KEY_CAP, "u:%.80s", username);
    snprintf(akey, GH_IDENTITY_KEY_CAP, "a:%.80s", address ? address : "");
}

/* ---- sessions ---- */

static int issue(struct gh_auth *a, const struct gh_user *u, const char *family, int64_t now,
                 struct gh_auth_session *out, struct gh_err *err)
{
    struct gh_auth_claims c;
    char hash[GH_TOKEN_HASH_CAP];
    uint8_t raw[16];
    int rc;

    memset(&c, 0, sizeof c);
    if (family) {
        snprintf(c.sid, sizeof c.sid, "%s", family);
    } else {
        randombytes_buf(raw, sizeof raw);
        gh_auth_b64_encode(raw, sizeof raw, c.sid, sizeof c.sid);
    }
    random_token(GH_AUTH_REFRESH_PREFIX, out->refresh_token);
    token_hash(out->refresh_token, hash);
    rc = gh_store_refresh_add(a->st, c.sid, u->id, hash, now, now + a->cfg.refresh_ttl_s, err);
    if (rc)
        return rc;
    c.user_id = u->id;
    c.role = u->role;
    c.iat = now;
    c.nbf = now;
    c.exp = now + a->cfg.access_ttl_s;
    out->expires_in = a->cfg.access_ttl_s;
    out->user = *u;
    memset(out->user.password_hash, 0, sizeof out->user.password_hash);
    return gh_auth_jwt_sign(a, &c, out->access_token, sizeof out->access_token, err);
}

int gh_auth_login(struct gh_auth *a, const char *username, const char *password,
                  const char *address, int64_t now, struct gh_auth_session *out,
                  int64_t *retry_after_s, struct gh_err *err)
{
    char ukey[GH_IDENTITY_KEY_CAP], akey[GH_IDENTITY_KEY_CAP];
    struct gh_user u;
    int64_t wait;
    int rc, ok;

    *retry_after_s = 0;
    limit_keys(username ? username : "", address, ukey, akey);
    pthread_mutex_lock(&a->limit_mu);
    wait = limit_wait(a, ukey, now);
    if (limit_wait(a, akey, now) > wait)
        wait = limit_wait(a, akey, now);
    pthread_mutex_unlock(&a->limit_mu);
    if (wait > 0) {
        *retry_after_s = wait;
        return gh_err_set(err, GH_EUNAVAILABLE,
                          "too many failed sign-ins; try again in %lld seconds", (long long)wait);
    }
    rc = gh_store_user_get(a->st, 0, username, &u, err);
    if (rc && rc != GH_ENOTFOUND)
        return rc;
    gh_err_clear(err);
    /* The same Argon2id work whether or not the user exists. */
    ok = gh_auth_password_verify(rc == GH_OK ? u.password_hash : a->dummy_hash, password);
    if (rc != GH_OK || !ok || u.disabled) {
        pthread_mutex_lock(&a->limit_mu);
        limit_fail(a, ukey, now);
        limit_fail(a, akey, now);
        pthread_mutex_unlock(&a->limit_mu);
        return gh_err_set(err, GH_EINVAL, "wrong username or password");
    }
    pthread_mutex_lock(&a->limit_mu);
    {
        struct auth_limit *l = limit_slot(a, ukey, now, 0);

        if (l)
            memset(l, 0, sizeof *l);
    }
    pthread_mutex_unlock(&a->limit_mu);
    return issue(a, &u, NULL, now, out, err);
}

int gh_auth_register(struct gh_auth *a, const char *username, const char *password, int64_t now,
                     struct gh_auth_session *out, struct gh_err *err)
{
    struct gh_user u;
    int rc;

    if (!password || strnlen(password, PASSWORD_MIN) < PASSWORD_MIN)
        return gh_err_set(err, GH_EINVAL, "a password has at least %d characters", PASSWORD_MIN);
    memset(&u, 0, sizeof u);
    snprintf(u.username, sizeof u.username, "%s", username ? username : "");
    if (!username || strlen(username) >= sizeof u.username)
        return gh_err_set(err, GH_EINVAL, "a username is 1 to %d characters", GH_USERNAME_CAP - 1);
    u.role = GH_ROLE_USER;
    u.created_at = now;
    rc = gh_auth_password_hash(password, u.password_hash, err);
    if (rc == GH_OK)
        rc = gh_store_user_add(a->st, &u, err);
    return rc ? rc : issue(a, &u, NULL, now, out, err);
}

/* Redis's copy of the revocation epoch: a counter other instances poll (gh_auth_use_redis). */
static const char redis_incr[] = "return {redis.call('INCR', KEYS[1])}";
static const char redis_read[] = "return {tonumber(redis.call('GET', KEYS[1]) or '0')}";

static struct gh_redis *redis_of(struct gh_auth *a)
{
    struct gh_redis *r;

    pthread_mutex_lock(&a->stop_mu);
    r = a->redis;
    pthread_mutex_unlock(&a->stop_mu);
    return r;
}

int gh_auth_revoked(struct gh_store *st, struct gh_auth *a, struct gh_err *err)
{
    const char *key[] = {GH_AUTH_REDIS_EPOCH};
    struct gh_redis *r = a ? redis_of(a) : NULL;
    int64_t epoch = 0;
    int rc = gh_store_auth_epoch(st, 1, &epoch, err);

    if (a)
        gh_auth_cache_clear(a);
    /* best effort: the store's epoch, written first, reaches everyone anyway */
    if (rc == GH_OK && r && gh_redis_script(r, redis_incr, 1, key, 1, &epoch, 1) != GH_OK)
        gh_logf(GH_LOG_WARN, "a revocation could not be announced through redis; other "
                             "instances see it from the store");
    return rc;
}

void gh_auth_use_redis(struct gh_auth *a, struct gh_redis *r)
{
    pthread_mutex_lock(&a->stop_mu);
    a->redis = r;
    pthread_mutex_unlock(&a->stop_mu);
}

/* After a refresh issued out's pair in family: a reuse seen or a sign-out meanwhile revoked
 * the family's tokens, but not the new one, written after; the spent token shows it (spending
 * it again changes nothing). Then the new pair dies with the family: GH_ECONFLICT. A
 * revocation after this look covers the new token, which is written by then. */
static int revoked_meanwhile(struct gh_auth *a, const char *hash, const char *family, int64_t now,
                             struct gh_auth_session *out, struct gh_err *err)
{
    struct gh_refresh_token t;
    int spent = 0, rc = gh_store_refresh_spend(a->st, hash, now, &t, &spent, err);

    if (rc == GH_OK && t.revoked_at == 0)
        return GH_OK;
    gh_auth_session_wipe(out);
    if (rc)
        return rc;
    rc = gh_store_refresh_revoke_family(a->st, family, now, err);
    if (rc == GH_OK)
        rc = gh_auth_revoked(a->st, a, err);
    return rc ? rc
              : gh_err_set(err, GH_ECONFLICT,
                           "this session ended (signed out, or its refresh token was used "
                           "twice) while it was being refreshed; sign in again");
}

int gh_auth_refresh(struct gh_auth *a, const char *refresh_token, int64_t now,
                    struct gh_auth_session *out, struct gh_err *err)
{
    char hash[GH_TOKEN_HASH_CAP];
    struct gh_refresh_token t;
    struct gh_user u;
    int rc, spent = 0;

    if (!token_well_formed(refresh_token, GH_AUTH_REFRESH_PREFIX))
        return gh_err_set(err, GH_EINVAL, "that is not a refresh token");
    token_hash(refresh_token, hash);
    rc = gh_store_refresh_spend(a->st, hash, now, &t, &spent, err);
    if (rc == GH_ENOTFOUND) {
        gh_err_clear(err);
        return gh_err_set(err, GH_EINVAL, "unknown refresh token; sign in again");
    }
    if (rc)
        return rc;
    /* A token is spent once: a second use means it was copied. So is a use that found it
     * unspent, live and still could not spend it: a request at the same moment spent it
     * first (PostgreSQL reads the row as it was when this statement began). */
    if (!spent && t.revoked_at == 0 && (t.used_at != 0 || t.expires_at > now)) {
        /* End the whole session. */
        gh_logf(GH_LOG_WARN, "a refresh token was reused; revoking its session (user %lld)",
                (long long)t.user_id);
        rc = gh_store_refresh_revoke_family(a->st, t.family, now, err);
        if (rc == GH_OK)
            rc = gh_auth_revoked(a->st, a, err);
        return rc ? rc
                  : gh_err_set(err, GH_ECONFLICT,
                               "this refresh token was used before, so its "
                               "session is revoked; sign in again");
    }
    if (!spent)
        return gh_err_set(err, GH_EINVAL,
                          t.revoked_at ? "this session was signed out; sign in "
                                         "again"
                                       : "the refresh token expired; sign in "
                                         "again");
    rc = gh_store_user_get(a->st, t.user_id, NULL, &u, err);
    if (rc == GH_ENOTFOUND || (rc == GH_OK && u.disabled)) {
        gh_err_clear(err);
        return gh_err_set(err, GH_EINVAL, "the account is disabled or no longer exists");
    }
    if (rc == GH_OK)
        rc = issue(a, &u, t.family, now, out, err);
    if (rc == GH_OK)
        rc = revoked_meanwhile(a, hash, t.family, now, out, err);
    return rc;
}

int gh_auth_logout(struct gh_auth *a, const char *refresh_token, int64_t now, struct gh_err *err)
{
    char hash[GH_TOKEN_HASH_CAP];
    struct gh_refresh_token t;
    int rc, spent = 0;

    if (!token_well_formed(refresh_token, GH_AUTH_REFRESH_PREFIX))
        return gh_err_set(err, GH_EINVAL, "that is not a refresh token");
    token_hash(refresh_token, hash);
    rc = gh_store_refresh_spend(a->st, hash, now, &t, &spent, err);
    if (rc == GH_ENOTFOUND) {
        gh_err_clear(err);
        return GH_OK;
    }
    if (rc == GH_OK)
        rc = gh_store_refresh_revoke_family(a->st, t.family, now, err);
    return rc ? rc : gh_auth_revoked(a->st, a, err);
}

/* ---- API keys and scopes ---- */

static const struct {
    const char *name;
    unsigned bit;
} scope_names[] = {
    {"analyze", GH_SCOPE_ANALYZE},
    {"feedback", GH_SCOPE_FEEDBACK},
    {"workouts", GH_SCOPE_WORKOUTS},
    {"admin", GH_SCOPE_ADMIN},
};

int gh_auth_scopes_parse(const char *s, unsigned *out, struct gh_err *err)
{
    *out = 0;
    while (s && *s) {
        size_t n = strcspn(s, ","), i;

        for (i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++)
            if (strlen(scope_names[i].name) == n && strncmp(s, scope_names[i].name, n) == 0)
                break;
        if (i == sizeof scope_names / sizeof scope_names[0])
            return gh_err_set(err, GH_EINVAL,
                              "unknown scope '%.*s': use analyze, feedback, workouts, admin",
                              (int)(n > 32 ? 32 : n), s);
        *out |= scope_names[i].bit;
        s += n + (s[n] == ',');
    }
    if (!*out)
        return gh_err_set(err, GH_EINVAL,
                          "name at least one scope: analyze, feedback, workouts, admin");
    return GH_OK;
}

void gh_auth_scopes_format(unsigned scopes, char *out, size_t cap)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++) {
        int n;

        if (!(scopes & scope_names[i].bit))
            continue;
        n = snprintf(out + used, cap - used, "%s%s", used ? "," : "", scope_names[i].name);
        if (n < 0 || (size_t)n >= cap - used)
            return;
        used += (size_t)n;
    }
}

int gh_auth_key_create(struct gh_store *st, struct gh_api_key *rec, int64_t now,
                       char key_out[GH_AUTH_SECRET_CAP], struct gh_err *err)
{
    if (sodium_init() < 0)
        return gh_err_set(err, GH_EBACKEND, "libsodium cannot start");
    random_token(GH_AUTH_KEY_PREFIX, key_out);
    token_hash(key_out, rec->key_hash);
    snprintf(rec->prefix, sizeof rec->prefix, "%.9s", key_out);
    rec->created_at = now;
    rec->revoked_at = 0;
    return gh_store_key_add(st, rec, err);
}

void gh_auth_owner(const struct gh_identity *id, char out[GH_IDENTITY_KEY_CAP])
{
    if (id->user_id > 0)
        snprintf(out, GH_IDENTITY_KEY_CAP, "user:%lld", (long long)id->user_id);
    else if (id->kind == GH_IDENTITY_API_KEY)
        snprintf(out, GH_IDENTITY_KEY_CAP, "%s", id->key);
    else
        out[0] = '\0';
}

/* ---- lifetime ---- */

/* One reading of Redis's epoch: a change from the last one clears the cache. Redis being
 * down changes nothing (the store's epoch is read as well). */
static void poll_redis(struct gh_auth *a, struct gh_redis *r)
{
    const char *key[] = {GH_AUTH_REDIS_EPOCH};
    int64_t epoch = 0;

    if (gh_redis_script(r, redis_read, 1, key, 1, &epoch, 1) != GH_OK || epoch == a->redis_epoch)
        return;
    a->redis_epoch = epoch; /* only this thread writes it */
    gh_auth_cache_clear(a);
}

static void *poll_epoch(void *arg)
{
    struct gh_auth *a = arg;
    int64_t tick = 0;

    pthread_setname_np(pthread_self(), "gh-auth-epoch");
    pthread_mutex_lock(&a->stop_mu);
    while (!a->stopping) {
        struct timespec until;
        struct gh_err err = {0};
        struct gh_redis *r = a->redis;
        int64_t epoch = 0;
        long ms = r ? GH_AUTH_REDIS_POLL_MS : GH_AUTH_EPOCH_POLL_MS;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += ms * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&a->stop_cv, &a->stop_mu, &until);
        if (a->stopping)
            break;
        pthread_mutex_unlock(&a->stop_mu);
        if (r)
            poll_redis(a, r);
        /* the store every GH_AUTH_EPOCH_POLL_MS whatever Redis says */
        if (r && ++tick % (GH_AUTH_EPOCH_POLL_MS / GH_AUTH_REDIS_POLL_MS) != 0) {
            pthread_mutex_lock(&a->stop_mu);
            continue;
        }
        if (gh_store_auth_epoch(a->st, 0, &epoch, &err) == GH_OK && epoch != a->epoch) {
            a->epoch = epoch; /* only this thread writes it */
            gh_auth_cache_clear(a);
        } else if (err.code) {
            gh_auth_cache_clear(a); /* cannot tell what changed: trust nothing cached */
        }
        pthread_mutex_lock(&a->stop_mu);
    }
    pthread_mutex_unlock(&a->stop_mu);
    return NULL;
}

static int load_secret(struct gh_auth *a, struct gh_err *err)
{
    uint8_t raw[32];
    char proposed[64], stored[128];
    size_t n = 0;
    int rc;

    if (a->cfg.jwt_secret) {
        n = strlen(a->cfg.jwt_secret);
        if (n < 32 || n > sizeof a->secret)
            return gh_err_set(err, GH_EINVAL, "JWT_SECRET must be 32 to %zu bytes (it is %zu)",
                              sizeof a->secret, n);
        memcpy(a->secret, a->cfg.jwt_secret, n);
        a->secret_len = n;
        return GH_OK;
    }
    randombytes_buf(raw, sizeof raw);
    gh_auth_b64_encode(raw, sizeof raw, proposed, sizeof proposed);
    rc = gh_store_meta_get_or_set(a->st, "jwt_secret", proposed, stored, sizeof stored, err);
    if (rc)
        return rc;
    if (gh_auth_b64_decode(stored, strlen(stored), a->secret, sizeof a->secret, &n) != 0 || n < 32)
        return gh_err_set(err, GH_EBACKEND,
                          "the store's jwt_secret is damaged; delete it from "
                          "store_meta or set JWT_SECRET");
    a->secret_len = n;
    return GH_OK;
}

int gh_auth_new(const struct gh_auth_config *cfg, struct gh_store *st, struct gh_auth **out,
                struct gh_err *err)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char dummy[32];
    struct gh_auth *a;
    int rc;

    *out = NULL;
    if (sodium_init() < 0)
        return gh_err_set(err, GH_EBACKEND, "libsodium cannot start");
    if (!cfg->issuer || !cfg->audience || cfg->access_ttl_s <= 0 || cfg->refresh_ttl_s <= 0 ||
        cfg->skew_s < 0 || cfg->login_max_failures < 1 || cfg->login_window_s < 1)
        return gh_err_set(err, GH_EINVAL, "the auth settings are out of range");
    a = gh_malloc(sizeof *a);
    if (!a)
        return gh_err_set(err, GH_ENOMEM, "out of memory for accounts");
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    a->st = st;
    pthread_mutex_init(&a->cache_mu, NULL);
    pthread_mutex_init(&a->verified_mu, NULL);
    pthread_mutex_init(&a->limit_mu, NULL);
    pthread_mutex_init(&a->stop_mu, NULL);
    pthread_cond_init(&a->stop_cv, NULL);
    gh_auth_b64_encode((const uint8_t *)header, sizeof header - 1, a->header_b64,
                       sizeof a->header_b64);
    rc = load_secret(a, err);
    if (rc == GH_OK)
        crypto_auth_hmacsha256_init(&a->hmac_keyed, a->secret, a->secret_len);
    if (rc == GH_OK)
        rc = gh_store_auth_epoch(st, 0, &a->epoch, err);
    if (rc == GH_OK)
        rc = gh_auth_random_password(dummy, err);
    if (rc == GH_OK)
        rc = gh_auth_password_hash(dummy, a->dummy_hash, err);
    if (rc == GH_OK) {
        if (pthread_create(&a->poller, NULL, poll_epoch, a) != 0)
            rc = gh_err_set(err, GH_EBACKEND, "cannot start the revocation poller: %s",
                            strerror(errno));
        else
            a->poller_started = 1;
    }
    if (rc) {
        gh_auth_free(a);
        return rc;
    }
    *out = a;
    return GH_OK;
}

void gh_auth_free(struct gh_auth *a)
{
    if (!a)
        return;
    if (a->poller_started) {
        pthread_mutex_lock(&a->stop_mu);
        a->stopping = 1;
        pthread_cond_signal(&a->stop_cv);
        pthread_mutex_unlock(&a->stop_mu);
        pthread_join(a->poller, NULL);
    }
    sodium_memzero(a->secret, sizeof a->secret);
    sodium_memzero(&a->hmac_keyed, sizeof a->hmac_keyed);
    pthread_cond_destroy(&a->stop_cv);
    pthread_mutex_destroy(&a->stop_mu);
    pthread_mutex_destroy(&a->limit_mu);
    pthread_mutex_destroy(&a->cache_mu);
    pthread_mutex_destroy(&a->verified_mu);
    gh_free(a);
}
