/* SPDX-License-Identifier: MIT */
/* PostgreSQL backend, accounts (gh/store_auth.h), the same operations as sqlite_auth.c. Sent
 * unprepared: they run at sign-in and on cache misses of src/auth, not per request. */
#include "pg_internal.h"

#include <stdio.h>
#include <string.h>

/* One statement on a pooled connection; the result outlives the connection. */
static int pga_run(struct gh_store *st, const char *sql, const struct pg_params *p, PGresult **out,
                   const char *what, struct gh_err *err)
{
    struct pg_store *s = gh_pg_of(st);
    struct pg_conn *c = NULL;
    int rc;

    *out = NULL;
    rc = gh_pg_acquire(s, &c, err);
    if (rc)
        return rc;
    rc = gh_pg_exec_sql(s, c, sql, p, out, what, err);
    gh_pg_release(s, c);
    return rc;
}

#define PGA_USER_COLS "id, username, password_hash, role, created_at, disabled"

static void pga_read_user(const PGresult *r, int row, struct gh_user *u)
{
    char role[16];

    memset(u, 0, sizeof *u);
    u->id = gh_pg_i64(r, row, 0);
    gh_pg_copy_text(u->username, sizeof u->username, r, row, 1);
    gh_pg_copy_text(u->password_hash, sizeof u->password_hash, r, row, 2);
    gh_pg_copy_text(role, sizeof role, r, row, 3);
    u->role = gh_role_parse(role);
    u->created_at = gh_pg_i64(r, row, 4);
    u->disabled = gh_pg_bool(r, row, 5);
}

static int pg_user_add(struct gh_store *st, struct gh_user *u, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_text(&p, u->username);
    gh_pg_param_text(&p, u->password_hash);
    gh_pg_param_text(&p, gh_role_name(u->role));
    gh_pg_param_i64(&p, u->created_at);
    gh_pg_param_bool(&p, u->disabled);
    rc = pga_run(st,
                 "INSERT INTO users (username, password_hash, role, created_at, disabled)"
                 " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING id",
                 &p, &r, "add a user", err);
    if (rc == GH_OK && PQntuples(r) == 1)
        u->id = gh_pg_i64(r, 0, 0);
    else if (rc == GH_OK)
        rc = gh_err_set(err, GH_ECONFLICT, "a user named %s exists already", u->username);
    PQclear(r);
    return rc;
}

static int pg_user_get(struct gh_store *st, int64_t id, const char *username, struct gh_user *out,
                       struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    if (id > 0)
        gh_pg_param_i64(&p, id);
    else
        gh_pg_param_text(&p, username);
    rc = pga_run(st,
                 id > 0 ? "SELECT " PGA_USER_COLS " FROM users WHERE id = $1"
                        : "SELECT " PGA_USER_COLS " FROM users WHERE username = $1",
                 &p, &r, "read a user", err);
    if (rc == GH_OK && PQntuples(r) == 1)
        pga_read_user(r, 0, out);
    else if (rc == GH_OK)
        rc = gh_err_set(err, GH_ENOTFOUND, "no such user");
    PQclear(r);
    return rc;
}

static int pg_user_list(struct gh_store *st, struct gh_user *out, size_t cap, size_t *n_out,
                        struct gh_err *err)
{
    PGresult *r = NULL;
    size_t n = 0;
    int rc;

    rc =
        pga_run(st, "SELECT " PGA_USER_COLS " FROM users ORDER BY id", NULL, &r, "list users", err);
    for (; rc == GH_OK && n < cap && n < (size_t)PQntuples(r); n++)
        pga_read_user(r, (int)n, &out[n]);
    *n_out = rc ? 0 : n;
    PQclear(r);
    return rc;
}

static int pg_user_update(struct gh_store *st, int64_t id, const char *password_hash, int disabled,
                          struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_i64(&p, id);
    gh_pg_param_text(&p, password_hash ? password_hash : "");
    gh_pg_param_i64(&p, disabled);
    rc = pga_run(st,
                 "UPDATE users SET password_hash = CASE WHEN $2 = '' THEN password_hash"
                 " ELSE $2 END, disabled = CASE WHEN $3::int < 0 THEN disabled"
                 " ELSE $3::int <> 0 END WHERE id = $1",
                 &p, &r, "update a user", err);
    if (rc == GH_OK && gh_pg_changes(r) == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no user with id %lld", (long long)id);
    PQclear(r);
    return rc;
}

#define PGA_KEY_COLS "id, user_id, name, prefix, key_hash, scopes, created_at, revoked_at"

static void pga_read_key(const PGresult *r, int row, struct gh_api_key *k)
{
    memset(k, 0, sizeof *k);
    k->id = gh_pg_i64(r, row, 0);
    k->user_id = gh_pg_i64(r, row, 1);
    gh_pg_copy_text(k->name, sizeof k->name, r, row, 2);
    gh_pg_copy_text(k->prefix, sizeof k->prefix, r, row, 3);
    gh_pg_copy_text(k->key_hash, sizeof k->key_hash, r, row, 4);
    k->scopes = (unsigned)gh_pg_i64(r, row, 5);
    k->created_at = gh_pg_i64(r, row, 6);
    k->revoked_at = gh_pg_i64(r, row, 7);
}

static int pg_key_add(struct gh_store *st, struct gh_api_key *k, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_i64(&p, k->user_id);
    gh_pg_param_text(&p, k->name);
    gh_pg_param_text(&p, k->prefix);
    gh_pg_param_text(&p, k->key_hash);
    gh_pg_param_i64(&p, k->scopes);
    gh_pg_param_i64(&p, k->created_at);
    rc = pga_run(st,
                 "INSERT INTO api_keys (user_id, name, prefix, key_hash, scopes, created_at)"
                 " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_hash) DO NOTHING RETURNING id",
                 &p, &r, "add an API key", err);
    if (rc == GH_OK && PQntuples(r) == 1)
        k->id = gh_pg_i64(r, 0, 0);
    else if (rc == GH_OK)
        rc = gh_err_set(err, GH_ECONFLICT, "that API key exists already");
    PQclear(r);
    return rc;
}

static int pg_key_find(struct gh_store *st, const char *key_hash, struct gh_api_key *out,
                       struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_text(&p, key_hash);
    rc = pga_run(st, "SELECT " PGA_KEY_COLS " FROM api_keys WHERE key_hash = $1", &p, &r,
                 "look up an API key", err);
    if (rc == GH_OK && PQntuples(r) == 1)
        pga_read_key(r, 0, out);
    else if (rc == GH_OK)
        rc = gh_err_set(err, GH_ENOTFOUND, "no such API key");
    PQclear(r);
    return rc;
}

static int pg_key_list(struct gh_store *st, struct gh_api_key *out, size_t cap, size_t *n_out,
                       struct gh_err *err)
{
    PGresult *r = NULL;
    size_t n = 0;
    int rc;

    rc = pga_run(st, "SELECT " PGA_KEY_COLS " FROM api_keys ORDER BY id", NULL, &r, "list API keys",
                 err);
    for (; rc == GH_OK && n < cap && n < (size_t)PQntuples(r); n++)
        pga_read_key(r, (int)n, &out[n]);
    *n_out = rc ? 0 : n;
    PQclear(r);
    return rc;
}

static int pg_key_revoke(struct gh_store *st, int64_t id, int64_t now, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_i64(&p, id);
    gh_pg_param_i64(&p, now);
    rc = pga_run(st,
                 "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN $2"
                 " ELSE revoked_at END WHERE id = $1",
                 &p, &r, "revoke an API key", err);
    if (rc == GH_OK && gh_pg_changes(r) == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no API key with id %lld", (long long)id);
    PQclear(r);
    return rc;
}

static int pg_refresh_add(struct gh_store *st, const char *family, int64_t user_id,
                          const char *token_hash, int64_t now, int64_t expires_at,
                          struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_text(&p, family);
    gh_pg_param_i64(&p, user_id);
    gh_pg_param_text(&p, token_hash);
    gh_pg_param_i64(&p, now);
    gh_pg_param_i64(&p, expires_at);
    rc = pga_run(st,
                 "INSERT INTO refresh_tokens (family, user_id, token_hash, created_at,"
                 " expires_at) VALUES ($1, $2, $3, $4, $5)",
                 &p, &r, "store a refresh token", err);
    PQclear(r);
    return rc;
}

/* One statement: the CTE reads the row as it was, the UPDATE spends it only when it is
 * spendable and unspent; two instances racing on one token cannot both see a row changed. */
static int pg_refresh_spend(struct gh_store *st, const char *token_hash, int64_t now,
                            struct gh_refresh_token *out, int *spent, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_text(&p, token_hash);
    gh_pg_param_i64(&p, now);
    rc = pga_run(st,
                 "WITH old AS (SELECT id, family, user_id, expires_at, used_at, revoked_at"
                 " FROM refresh_tokens WHERE token_hash = $1),"
                 " upd AS (UPDATE refresh_tokens t SET used_at = $2 FROM old WHERE t.id = old.id"
                 " AND t.used_at = 0 AND t.revoked_at = 0 AND t.expires_at > $2 RETURNING t.id)"
                 " SELECT old.id, old.family, old.user_id, old.expires_at, old.used_at,"
                 " old.revoked_at, (SELECT count(*) FROM upd) FROM old",
                 &p, &r, "spend a refresh token", err);
    if (rc == GH_OK && PQntuples(r) == 1) {
        out->id = gh_pg_i64(r, 0, 0);
        gh_pg_copy_text(out->family, sizeof out->family, r, 0, 1);
        out->user_id = gh_pg_i64(r, 0, 2);
        out->expires_at = gh_pg_i64(r, 0, 3);
        out->used_at = gh_pg_i64(r, 0, 4);
        out->revoked_at = gh_pg_i64(r, 0, 5);
        *spent = gh_pg_i64(r, 0, 6) == 1;
    } else if (rc == GH_OK) {
        rc = gh_err_set(err, GH_ENOTFOUND, "no such refresh token");
    }
    PQclear(r);
    return rc;
}

/* Revocation runs its UPDATE twice, as two statements. A refresh writes its new token, then
 * reads whether the spent one was revoked meanwhile (auth.c, revoked_meanwhile). Under READ
 * COMMITTED one revoking statement can miss both ways: its snapshot predates the new token,
 * and the refresh's look predates its commit; the new token then outlived its session (1 race
 * in ~150 of the suite's eight-way refresh). The second statement's snapshot follows the
 * first's commit: if the refresh's look missed that commit, it came after the new token was
 * written, so the second statement sees the new token and revokes it. */
static int pga_revoke(struct gh_store *st, const char *sql, const struct pg_params *p,
                      const char *what, struct gh_err *err)
{
    PGresult *r = NULL;
    int rc;

    for (int pass = 0; pass < 2; pass++) {
        rc = pga_run(st, sql, p, &r, what, err);
        PQclear(r);
        if (rc)
            return rc;
    }
    return GH_OK;
}

static int pg_refresh_revoke_family(struct gh_store *st, const char *family, int64_t now,
                                    struct gh_err *err)
{
    struct pg_params p = {.n = 0};

    gh_pg_param_text(&p, family);
    gh_pg_param_i64(&p, now);
    return pga_revoke(
        st, "UPDATE refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at = 0", &p,
        "revoke a token family", err);
}

static int pg_refresh_revoke_user(struct gh_store *st, int64_t user_id, int64_t now,
                                  struct gh_err *err)
{
    struct pg_params p = {.n = 0};

    gh_pg_param_i64(&p, user_id);
    gh_pg_param_i64(&p, now);
    return pga_revoke(
        st, "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at = 0", &p,
        "revoke a user's sessions", err);
}

static int pg_refresh_family_active(struct gh_store *st, const char *family, int *active,
                                    struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_text(&p, family);
    rc = pga_run(st,
                 "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE family = $1 AND"
                 " revoked_at = 0)",
                 &p, &r, "check a token family", err);
    if (rc == GH_OK)
        *active = gh_pg_bool(r, 0, 0);
    PQclear(r);
    return rc;
}

static int pg_meta_get_or_set(struct gh_store *st, const char *key, const char *proposed, char *out,
                              size_t out_cap, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_text(&p, key);
    gh_pg_param_text(&p, proposed);
    /* The no-op update makes RETURNING give the stored row when the key exists. */
    rc = pga_run(st,
                 "INSERT INTO store_meta (key, value) VALUES ($1, $2) ON CONFLICT (key)"
                 " DO UPDATE SET value = store_meta.value RETURNING value",
                 &p, &r, "keep a setting", err);
    if (rc == GH_OK && PQntuples(r) == 1)
        gh_pg_copy_text(out, out_cap, r, 0, 0);
    else if (rc == GH_OK)
        rc = gh_err_set(err, GH_EBACKEND, "postgresql: cannot read a setting");
    PQclear(r);
    return rc;
}

static int pg_auth_epoch(struct gh_store *st, int bump, int64_t *out, struct gh_err *err)
{
    PGresult *r = NULL;
    int rc;

    rc = pga_run(st,
                 bump ? "INSERT INTO store_meta (key, value) VALUES ('auth_epoch', '1')"
                        " ON CONFLICT (key) DO UPDATE SET value ="
                        " (store_meta.value::bigint + 1)::text RETURNING value::bigint"
                      : "SELECT coalesce((SELECT value::bigint FROM store_meta"
                        " WHERE key = 'auth_epoch'), 0)",
                 NULL, &r, "read the revocation epoch", err);
    if (rc == GH_OK)
        *out = gh_pg_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

static int pg_list_owned(struct gh_store *st, const char *owner, int64_t before_id, size_t limit,
                         struct gh_identification *out, size_t *n_out, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    size_t n = 0;
    int rc;

    gh_pg_param_text(&p, owner);
    gh_pg_param_i64(&p, before_id > 0 ? before_id : INT64_MAX);
    gh_pg_param_i64(&p, (int64_t)limit);
    rc = pga_run(st,
                 "SELECT " PG_IDENT_COLS " FROM user_identifications WHERE owner = $1 AND id < $2"
                 " ORDER BY id DESC LIMIT $3",
                 &p, &r, "list identifications", err);
    for (; rc == GH_OK && n < limit && n < (size_t)PQntuples(r); n++)
        gh_pg_read_ident(r, (int)n, &out[n]);
    *n_out = rc ? 0 : n;
    PQclear(r);
    return rc;
}

const struct gh_store_auth_ops gh_store_pg_auth_ops = {
    .user_add = pg_user_add,
    .user_get = pg_user_get,
    .user_list = pg_user_list,
    .user_update = pg_user_update,
    .key_add = pg_key_add,
    .key_find = pg_key_find,
    .key_list = pg_key_list,
    .key_revoke = pg_key_revoke,
    .refresh_add = pg_refresh_add,
    .refresh_spend = pg_refresh_spend,
    .refresh_revoke_family = pg_refresh_revoke_family,
    .refresh_revoke_user = pg_refresh_revoke_user,
    .refresh_family_active = pg_refresh_family_active,
    .meta_get_or_set = pg_meta_get_or_set,
    .auth_epoch = pg_auth_epoch,
    .list_owned = pg_list_owned,
};
