/* SPDX-License-Identifier: MIT */
/* The accounts part of the store interface (gh/store_auth.h): checks every argument once for
 * all backends, then dispatches through struct gh_store_auth_ops. */
#include "gh/store_auth.h"
#include "store/internal.h"

#include <string.h>

static const char *const role_names[] = {
    [GH_ROLE_USER] = "user",
    [GH_ROLE_TRUSTED] = "trusted",
    [GH_ROLE_ADMIN] = "admin",
};

enum gh_role gh_role_parse(const char *s)
{
    if (!s)
        return GH_ROLE_NONE;
    for (int r = GH_ROLE_USER; r <= GH_ROLE_ADMIN; r++)
        if (strcmp(s, role_names[r]) == 0)
            return (enum gh_role)r;
    return GH_ROLE_NONE;
}

const char *gh_role_name(enum gh_role r)
{
    return r >= GH_ROLE_USER && r <= GH_ROLE_ADMIN ? role_names[r] : NULL;
}

static int check_store(struct gh_store *st, struct gh_err *err)
{
    if (!st || !st->ops->auth)
        return gh_err_set(err, GH_EINVAL, "no store given");
    return GH_OK;
}

/* 1..63 bytes of lower-case letters, digits, '.', '_' and '-': safe in URLs, logs and JSON. */
static int check_username(const char *name, struct gh_err *err)
{
    size_t n = name ? strnlen(name, GH_USERNAME_CAP) : 0;

    if (n == 0 || n >= GH_USERNAME_CAP)
        return gh_err_set(err, GH_EINVAL, "a username is 1 to %d characters", GH_USERNAME_CAP - 1);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return gh_err_set(err, GH_EINVAL,
                              "a username uses only a-z, 0-9, '.', '_' and '-' (no capitals)");
    }
    return GH_OK;
}

static int check_text(const char *s, size_t cap, const char *what, struct gh_err *err)
{
    if (!s || !s[0] || !memchr(s, '\0', cap))
        return gh_err_set(err, GH_EINVAL, "the %s is missing or longer than %zu bytes", what,
                          cap - 1);
    return GH_OK;
}

int gh_store_user_add(struct gh_store *st, struct gh_user *u, struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && !u)
        rc = gh_err_set(err, GH_EINVAL, "no user given");
    if (rc == GH_OK)
        rc = check_username(u->username, err);
    if (rc == GH_OK)
        rc = check_text(u->password_hash, sizeof u->password_hash, "password hash", err);
    if (rc == GH_OK && !gh_role_name(u->role))
        rc = gh_err_set(err, GH_EINVAL, "a role is user, trusted or admin");
    return rc ? rc : st->ops->auth->user_add(st, u, err);
}

int gh_store_user_get(struct gh_store *st, int64_t id, const char *username, struct gh_user *out,
                      struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && id <= 0)
        rc = check_username(username, err);
    if (rc == GH_OK && !out)
        rc = gh_err_set(err, GH_EINVAL, "nowhere to put the user");
    if (rc == GH_EINVAL && id <= 0 && out) { /* no such name can exist */
        gh_err_clear(err);
        return gh_err_set(err, GH_ENOTFOUND, "no such user");
    }
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    return st->ops->auth->user_get(st, id, username, out, err);
}

int gh_store_user_list(struct gh_store *st, struct gh_user *out, size_t cap, size_t *n_out,
                       struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && (!out || !n_out || cap == 0))
        rc = gh_err_set(err, GH_EINVAL, "nowhere to put the users");
    if (rc)
        return rc;
    memset(out, 0, cap * sizeof *out);
    return st->ops->auth->user_list(st, out, cap, n_out, err);
}

int gh_store_user_update(struct gh_store *st, int64_t id, const char *password_hash, int disabled,
                         struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && id <= 0)
        rc = gh_err_set(err, GH_EINVAL, "no user id given");
    if (rc == GH_OK && password_hash)
        rc = check_text(password_hash, GH_PASSWORD_HASH_CAP, "password hash", err);
    if (rc == GH_OK && (disabled < -1 || disabled > 1))
        rc = gh_err_set(err, GH_EINVAL, "disabled is 0, 1 or -1 (unchanged)");
    return rc ? rc : st->ops->auth->user_update(st, id, password_hash, disabled, err);
}

static int check_hash(const char *h, struct gh_err *err)
{
    if (!h || strnlen(h, GH_TOKEN_HASH_CAP) != GH_TOKEN_HASH_CAP - 1)
        return gh_err_set(err, GH_EINVAL, "a token hash is 64 hex digits");
    return GH_OK;
}

int gh_store_key_add(struct gh_store *st, struct gh_api_key *k, struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && !k)
        rc = gh_err_set(err, GH_EINVAL, "no key given");
    if (rc == GH_OK)
        rc = check_hash(k->key_hash, err);
    if (rc == GH_OK)
        rc = check_text(k->name, sizeof k->name, "key name", err);
    if (rc == GH_OK)
        rc = check_text(k->prefix, sizeof k->prefix, "key prefix", err);
    return rc ? rc : st->ops->auth->key_add(st, k, err);
}

int gh_store_key_find(struct gh_store *st, const char *key_hash, struct gh_api_key *out,
                      struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK)
        rc = check_hash(key_hash, err);
    if (rc == GH_OK && !out)
        rc = gh_err_set(err, GH_EINVAL, "nowhere to put the key");
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    return st->ops->auth->key_find(st, key_hash, out, err);
}

int gh_store_key_list(struct gh_store *st, struct gh_api_key *out, size_t cap, size_t *n_out,
                      struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && (!out || !n_out || cap == 0))
        rc = gh_err_set(err, GH_EINVAL, "nowhere to put the keys");
    if (rc)
        return rc;
    memset(out, 0, cap * sizeof *out);
    return st->ops->auth->key_list(st, out, cap, n_out, err);
}

int gh_store_key_revoke(struct gh_store *st, int64_t id, int64_t now, struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && id <= 0)
        rc = gh_err_set(err, GH_EINVAL, "no key id given");
    return rc ? rc : st->ops->auth->key_revoke(st, id, now, err);
}

static int check_family(const char *family, struct gh_err *err)
{
    return check_text(family, sizeof((struct gh_refresh_token *)0)->family, "token family", err);
}

int gh_store_refresh_add(struct gh_store *st, const char *family, int64_t user_id,
                         const char *token_hash, int64_t now, int64_t expires_at,
                         struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK)
        rc = check_family(family, err);
    if (rc == GH_OK)
        rc = check_hash(token_hash, err);
    if (rc == GH_OK && user_id <= 0)
        rc = gh_err_set(err, GH_EINVAL, "a refresh token belongs to a user");
    return rc ? rc
              : st->ops->auth->refresh_add(st, family, user_id, token_hash, now, expires_at, err);
}

int gh_store_refresh_spend(struct gh_store *st, const char *token_hash, int64_t now,
                           struct gh_refresh_token *out, int *spent, struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK)
        rc = check_hash(token_hash, err);
    if (rc == GH_OK && (!out || !spent))
        rc = gh_err_set(err, GH_EINVAL, "nowhere to put the token");
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    *spent = 0;
    return st->ops->auth->refresh_spend(st, token_hash, now, out, spent, err);
}

int gh_store_refresh_revoke_family(struct gh_store *st, const char *family, int64_t now,
                                   struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK)
        rc = check_family(family, err);
    return rc ? rc : st->ops->auth->refresh_revoke_family(st, family, now, err);
}

int gh_store_refresh_revoke_user(struct gh_store *st, int64_t user_id, int64_t now,
                                 struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && user_id <= 0)
        rc = gh_err_set(err, GH_EINVAL, "no user id given");
    return rc ? rc : st->ops->auth->refresh_revoke_user(st, user_id, now, err);
}

int gh_store_refresh_family_active(struct gh_store *st, const char *family, int *active,
                                   struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK)
        rc = check_family(family, err);
    if (rc == GH_OK && !active)
        rc = gh_err_set(err, GH_EINVAL, "nowhere to put the answer");
    if (rc)
        return rc;
    *active = 0;
    return st->ops->auth->refresh_family_active(st, family, active, err);
}

int gh_store_meta_get_or_set(struct gh_store *st, const char *key, const char *proposed, char *out,
                             size_t out_cap, struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && (!key || !key[0] || !proposed || !out || out_cap == 0))
        rc = gh_err_set(err, GH_EINVAL, "a meta key, a proposed value and room for the answer");
    if (rc)
        return rc;
    out[0] = '\0';
    return st->ops->auth->meta_get_or_set(st, key, proposed, out, out_cap, err);
}

int gh_store_auth_epoch(struct gh_store *st, int bump, int64_t *out, struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && !out)
        rc = gh_err_set(err, GH_EINVAL, "nowhere to put the epoch");
    return rc ? rc : st->ops->auth->auth_epoch(st, bump, out, err);
}

int gh_store_list_identifications_owned(struct gh_store *st, const char *owner, int64_t before_id,
                                        size_t limit, struct gh_identification *out, size_t *n_out,
                                        struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && (!owner || !memchr(owner, '\0', GH_IDENTITY_KEY_CAP)))
        rc = gh_err_set(err, GH_EINVAL, "the owner is missing or too long");
    if (rc == GH_OK && (limit < 1 || limit > 1000 || !out || !n_out))
        rc = gh_err_set(err, GH_EINVAL, "limit must be 1..1000");
    if (rc)
        return rc;
    if (!owner[0])
        return gh_store_list_identifications(st, before_id, limit, out, n_out, err);
    return st->ops->auth->list_owned(st, owner, before_id, limit, out, n_out, err);
}
