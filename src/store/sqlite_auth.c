/* SPDX-License-Identifier: MIT */
/* SQLite backend, accounts (gh/store_auth.h): users, API keys, refresh-token families, the
 * shared secret and revocation epoch in store_meta, and the history by owner. Statements are
 * prepared per call: these run at sign-in and on cache misses of src/auth, not per request. */
#include "sqlite_internal.h"

#include <stdio.h>
#include <string.h>

struct sqa_arg {
    const char *s; /* text when set, else i */
    int64_t i;
};

#define SQA_T(x)                                                                                   \
    {                                                                                              \
        (x), 0                                                                                     \
    }
#define SQA_I(x)                                                                                   \
    {                                                                                              \
        NULL, (x)                                                                                  \
    }

/* Prepares sql on c and binds a[0..n). On failure nothing is left to finalize. */
static int sqa_prep(struct sq_conn *c, const char *sql, const struct sqa_arg *a, int n,
                    sqlite3_stmt **q, const char *what, struct gh_err *err)
{
    int bad = 0;

    *q = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, q, NULL) != SQLITE_OK)
        return gh_sq_fail(err, c->db, what);
    for (int i = 0; i < n; i++)
        bad |= a[i].s ? gh_sq_bind_text(*q, i + 1, a[i].s) : sqlite3_bind_int64(*q, i + 1, a[i].i);
    if (bad) {
        int rc = gh_sq_fail(err, c->db, what);

        sqlite3_finalize(*q);
        *q = NULL;
        return rc;
    }
    return GH_OK;
}

/* Runs a statement that returns nothing; *changes gets the rows it changed (may be NULL). */
static int sqa_exec(struct sq_conn *c, const char *sql, const struct sqa_arg *a, int n,
                    int64_t *changes, const char *what, struct gh_err *err)
{
    sqlite3_stmt *q;
    int rc = sqa_prep(c, sql, a, n, &q, what, err);

    if (rc)
        return rc;
    if (gh_sq_step(q) != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, what);
    else if (changes)
        *changes = sqlite3_changes(c->db);
    sqlite3_finalize(q);
    return rc;
}

/* Runs a statement that yields at most one row: read() fills out from it; no row is
 * absent_rc with the sentence absent (a taken name, an unknown key). */
static int sqa_one_row(struct gh_store *st, const char *sql, const struct sqa_arg *a, int n,
                       const char *what, int absent_rc, const char *absent,
                       void (*read)(sqlite3_stmt *, void *), void *out, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q;
    int rc, step;

    rc = sqa_prep(c, sql, a, n, &q, what, err);
    if (rc)
        goto out;
    step = gh_sq_step(q);
    if (step == SQLITE_ROW)
        read(q, out);
    else if (step == SQLITE_DONE)
        rc = gh_err_set(err, absent_rc, "%s", absent);
    else
        rc = gh_sq_fail(err, c->db, what);
    sqlite3_finalize(q);
out:
    gh_sq_release(s, c);
    return rc;
}

static void sqa_read_id(sqlite3_stmt *q, void *out)
{
    *(int64_t *)out = sqlite3_column_int64(q, 0);
}

#define SQA_USER_COLS "id, username, password_hash, role, created_at, disabled"

static void sqa_read_user(sqlite3_stmt *q, void *out)
{
    struct gh_user *u = out;
    char role[16];

    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(q, 0);
    gh_sq_copy_text(u->username, sizeof u->username, q, 1);
    gh_sq_copy_text(u->password_hash, sizeof u->password_hash, q, 2);
    gh_sq_copy_text(role, sizeof role, q, 3);
    u->role = gh_role_parse(role);
    u->created_at = sqlite3_column_int64(q, 4);
    u->disabled = sqlite3_column_int(q, 5) != 0;
}

static int sq_user_add(struct gh_store *st, struct gh_user *u, struct gh_err *err)
{
    struct sqa_arg a[] = {SQA_T(u->username), SQA_T(u->password_hash), SQA_T(gh_role_name(u->role)),
                          SQA_I(u->created_at), SQA_I(u->disabled)};
    char taken[128];

    snprintf(taken, sizeof taken, "a user named %s exists already", u->username);
    return sqa_one_row(st,
                       "INSERT INTO users (username, password_hash, role, created_at, disabled)"
                       " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(username) DO NOTHING RETURNING id",
                       a, 5, "add a user", GH_ECONFLICT, taken, sqa_read_id, &u->id, err);
}

static int sq_user_get(struct gh_store *st, int64_t id, const char *username, struct gh_user *out,
                       struct gh_err *err)
{
    struct sqa_arg a[] = {id > 0 ? (struct sqa_arg)SQA_I(id) : (struct sqa_arg)SQA_T(username)};

    return sqa_one_row(st,
                       id > 0 ? "SELECT " SQA_USER_COLS " FROM users WHERE id = ?1"
                              : "SELECT " SQA_USER_COLS " FROM users WHERE username = ?1",
                       a, 1, "read a user", GH_ENOTFOUND, "no such user", sqa_read_user, out, err);
}

static int sq_user_list(struct gh_store *st, struct gh_user *out, size_t cap, size_t *n_out,
                        struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q;
    size_t n = 0;
    int rc, step = SQLITE_DONE;

    rc = sqa_prep(c, "SELECT " SQA_USER_COLS " FROM users ORDER BY id", NULL, 0, &q, "list users",
                  err);
    if (rc)
        goto out;
    while (n < cap && (step = gh_sq_step(q)) == SQLITE_ROW)
        sqa_read_user(q, &out[n++]);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "list users");
    sqlite3_finalize(q);
out:
    *n_out = rc ? 0 : n;
    gh_sq_release(s, c);
    return rc;
}

static int sq_user_update(struct gh_store *st, int64_t id, const char *password_hash, int disabled,
                          struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    struct sqa_arg a[] = {SQA_I(id), SQA_T(password_hash ? password_hash : ""), SQA_I(disabled)};
    int64_t n = 0;
    int rc;

    rc = sqa_exec(c,
                  "UPDATE users SET password_hash = CASE WHEN ?2 = '' THEN password_hash"
                  " ELSE ?2 END, disabled = CASE WHEN ?3 < 0 THEN disabled ELSE ?3 END"
                  " WHERE id = ?1",
                  a, 3, &n, "update a user", err);
    if (rc == GH_OK && n == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no user with id %lld", (long long)id);
    gh_sq_release(s, c);
    return rc;
}

#define SQA_KEY_COLS "id, user_id, name, prefix, key_hash, scopes, created_at, revoked_at"

static void sqa_read_key(sqlite3_stmt *q, void *out)
{
    struct gh_api_key *k = out;
    memset(k, 0, sizeof *k);
    k->id = sqlite3_column_int64(q, 0);
    k->user_id = sqlite3_column_int64(q, 1);
    gh_sq_copy_text(k->name, sizeof k->name, q, 2);
    gh_sq_copy_text(k->prefix, sizeof k->prefix, q, 3);
    gh_sq_copy_text(k->key_hash, sizeof k->key_hash, q, 4);
    k->scopes = (unsigned)sqlite3_column_int64(q, 5);
    k->created_at = sqlite3_column_int64(q, 6);
    k->revoked_at = sqlite3_column_int64(q, 7);
}

static int sq_key_add(struct gh_store *st, struct gh_api_key *k, struct gh_err *err)
{
    struct sqa_arg a[] = {SQA_I(k->user_id),  SQA_T(k->name),   SQA_T(k->prefix),
                          SQA_T(k->key_hash), SQA_I(k->scopes), SQA_I(k->created_at)};

    return sqa_one_row(st,
                       "INSERT INTO api_keys (user_id, name, prefix, key_hash, scopes, created_at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(key_hash) DO NOTHING"
                       " RETURNING id",
                       a, 6, "add an API key", GH_ECONFLICT, "that API key exists already",
                       sqa_read_id, &k->id, err);
}

static int sq_key_find(struct gh_store *st, const char *key_hash, struct gh_api_key *out,
                       struct gh_err *err)
{
    struct sqa_arg a[] = {SQA_T(key_hash)};

    return sqa_one_row(st, "SELECT " SQA_KEY_COLS " FROM api_keys WHERE key_hash = ?1", a, 1,
                       "look up an API key", GH_ENOTFOUND, "no such API key", sqa_read_key, out,
                       err);
}

static int sq_key_list(struct gh_store *st, struct gh_api_key *out, size_t cap, size_t *n_out,
                       struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q;
    size_t n = 0;
    int rc, step = SQLITE_DONE;

    rc = sqa_prep(c, "SELECT " SQA_KEY_COLS " FROM api_keys ORDER BY id", NULL, 0, &q,
                  "list API keys", err);
    if (rc)
        goto out;
    while (n < cap && (step = gh_sq_step(q)) == SQLITE_ROW)
        sqa_read_key(q, &out[n++]);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "list API keys");
    sqlite3_finalize(q);
out:
    *n_out = rc ? 0 : n;
    gh_sq_release(s, c);
    return rc;
}

static int sq_key_revoke(struct gh_store *st, int64_t id, int64_t now, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    struct sqa_arg a[] = {SQA_I(id), SQA_I(now)};
    int64_t n = 0;
    int rc;

    rc = sqa_exec(c,
                  "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN ?2"
                  " ELSE revoked_at END WHERE id = ?1",
                  a, 2, &n, "revoke an API key", err);
    if (rc == GH_OK && n == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no API key with id %lld", (long long)id);
    gh_sq_release(s, c);
    return rc;
}

static int sq_refresh_add(struct gh_store *st, const char *family, int64_t user_id,
                          const char *token_hash, int64_t now, int64_t expires_at,
                          struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    struct sqa_arg a[] = {SQA_T(family), SQA_I(user_id), SQA_T(token_hash), SQA_I(now),
                          SQA_I(expires_at)};
    int rc;

    rc = sqa_exec(c,
                  "INSERT INTO refresh_tokens (family, user_id, token_hash, created_at,"
                  " expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                  a, 5, NULL, "store a refresh token", err);
    gh_sq_release(s, c);
    return rc;
}

/* Read and conditional update in one write transaction, so two instances spending the same
 * token cannot both win. */
static int sq_refresh_spend(struct gh_store *st, const char *token_hash, int64_t now,
                            struct gh_refresh_token *out, int *spent, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    struct sqa_arg a[] = {SQA_T(token_hash)};
    struct sqa_arg b[2];
    sqlite3_stmt *q = NULL;
    int64_t n = 0;
    int rc, step;

    if (gh_sq_exec(c->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = gh_sq_fail(err, c->db, "begin spending a refresh token");
        goto out;
    }
    rc = sqa_prep(c,
                  "SELECT id, family, user_id, expires_at, used_at, revoked_at FROM refresh_tokens"
                  " WHERE token_hash = ?1",
                  a, 1, &q, "read a refresh token", err);
    if (rc == GH_OK) {
        step = gh_sq_step(q);
        if (step == SQLITE_ROW) {
            out->id = sqlite3_column_int64(q, 0);
            gh_sq_copy_text(out->family, sizeof out->family, q, 1);
            out->user_id = sqlite3_column_int64(q, 2);
            out->expires_at = sqlite3_column_int64(q, 3);
            out->used_at = sqlite3_column_int64(q, 4);
            out->revoked_at = sqlite3_column_int64(q, 5);
        } else if (step == SQLITE_DONE) {
            rc = gh_err_set(err, GH_ENOTFOUND, "no such refresh token");
        } else {
            rc = gh_sq_fail(err, c->db, "read a refresh token");
        }
        sqlite3_finalize(q);
    }
    if (rc == GH_OK && out->used_at == 0 && out->revoked_at == 0 && out->expires_at > now) {
        b[0] = (struct sqa_arg)SQA_I(out->id);
        b[1] = (struct sqa_arg)SQA_I(now);
        rc = sqa_exec(c, "UPDATE refresh_tokens SET used_at = ?2 WHERE id = ?1 AND used_at = 0", b,
                      2, &n, "spend a refresh token", err);
        *spent = rc == GH_OK && n == 1;
    }
    rc = gh_sq_end(c, rc, "commit spending a refresh token", err);
    if (rc)
        *spent = 0;
out:
    gh_sq_release(s, c);
    return rc;
}

static int sq_refresh_revoke_family(struct gh_store *st, const char *family, int64_t now,
                                    struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    struct sqa_arg a[] = {SQA_T(family), SQA_I(now)};
    int rc;

    rc = sqa_exec(c,
                  "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family = ?1 AND revoked_at = 0",
                  a, 2, NULL, "revoke a token family", err);
    gh_sq_release(s, c);
    return rc;
}

static int sq_refresh_revoke_user(struct gh_store *st, int64_t user_id, int64_t now,
                                  struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    struct sqa_arg a[] = {SQA_I(user_id), SQA_I(now)};
    int rc;

    rc = sqa_exec(c,
                  "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at = 0",
                  a, 2, NULL, "revoke a user's sessions", err);
    gh_sq_release(s, c);
    return rc;
}

static int sq_refresh_family_active(struct gh_store *st, const char *family, int *active,
                                    struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    struct sqa_arg a[] = {SQA_T(family)};
    sqlite3_stmt *q;
    int rc;

    rc = sqa_prep(c,
                  "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE family = ?1 AND"
                  " revoked_at = 0)",
                  a, 1, &q, "check a token family", err);
    if (rc)
        goto out;
    if (gh_sq_step(q) == SQLITE_ROW)
        *active = sqlite3_column_int(q, 0) != 0;
    else
        rc = gh_sq_fail(err, c->db, "check a token family");
    sqlite3_finalize(q);
out:
    gh_sq_release(s, c);
    return rc;
}

static int sq_meta_get_or_set(struct gh_store *st, const char *key, const char *proposed, char *out,
                              size_t out_cap, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    struct sqa_arg a[] = {SQA_T(key), SQA_T(proposed)};
    sqlite3_stmt *q = NULL;
    int rc;

    rc = sqa_exec(c,
                  "INSERT INTO store_meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
                  a, 2, NULL, "keep a setting", err);
    if (rc == GH_OK)
        rc = sqa_prep(c, "SELECT value FROM store_meta WHERE key = ?1", a, 1, &q, "read a setting",
                      err);
    if (rc == GH_OK) {
        if (gh_sq_step(q) == SQLITE_ROW)
            gh_sq_copy_text(out, out_cap, q, 0);
        else
            rc = gh_sq_fail(err, c->db, "read a setting");
        sqlite3_finalize(q);
    }
    gh_sq_release(s, c);
    return rc;
}

static int sq_auth_epoch(struct gh_store *st, int bump, int64_t *out, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q;
    int rc;

    rc = sqa_prep(c,
                  bump ? "INSERT INTO store_meta (key, value) VALUES ('auth_epoch', '1')"
                         " ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1"
                         " AS TEXT) RETURNING CAST(value AS INTEGER)"
                       : "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM store_meta"
                         " WHERE key = 'auth_epoch'), 0)",
                  NULL, 0, &q, "read the revocation epoch", err);
    if (rc)
        goto out;
    if (gh_sq_step(q) == SQLITE_ROW)
        *out = sqlite3_column_int64(q, 0);
    else
        rc = gh_sq_fail(err, c->db, "read the revocation epoch");
    sqlite3_finalize(q);
out:
    gh_sq_release(s, c);
    return rc;
}

static int sq_list_owned(struct gh_store *st, const char *owner, int64_t before_id, size_t limit,
                         struct gh_identification *out, size_t *n_out, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    struct sqa_arg a[] = {SQA_T(owner), SQA_I(before_id > 0 ? before_id : INT64_MAX),
                          SQA_I((int64_t)limit)};
    sqlite3_stmt *q;
    size_t n = 0;
    int rc, step = SQLITE_DONE;

    rc = sqa_prep(c,
                  "SELECT " SQ_IDENT_COLS " FROM user_identifications WHERE owner = ?1 AND id < ?2"
                  " ORDER BY id DESC LIMIT ?3",
                  a, 3, &q, "list identifications", err);
    if (rc)
        goto out;
    while (n < limit && (step = gh_sq_step(q)) == SQLITE_ROW)
        gh_sq_read_ident(q, &out[n++]);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "list identifications");
    sqlite3_finalize(q);
out:
    *n_out = rc ? 0 : n;
    gh_sq_release(s, c);
    return rc;
}

const struct gh_store_auth_ops gh_store_sqlite_auth_ops = {
    .user_add = sq_user_add,
    .user_get = sq_user_get,
    .user_list = sq_user_list,
    .user_update = sq_user_update,
    .key_add = sq_key_add,
    .key_find = sq_key_find,
    .key_list = sq_key_list,
    .key_revoke = sq_key_revoke,
    .refresh_add = sq_refresh_add,
    .refresh_spend = sq_refresh_spend,
    .refresh_revoke_family = sq_refresh_revoke_family,
    .refresh_revoke_user = sq_refresh_revoke_user,
    .refresh_family_active = sq_refresh_family_active,
    .meta_get_or_set = sq_meta_get_or_set,
    .auth_epoch = sq_auth_epoch,
    .list_owned = sq_list_owned,
};
