/* SPDX-License-Identifier: MIT */
/* The store's accounts (issue 11): users, API keys, refresh-token families, a shared secret and
 * a revocation epoch, and the history filtered by owner. Same backends and contract suite as
 * gh/store.h. Secrets are never stored: passwords as Argon2id strings, keys and refresh tokens
 * as SHA-256 hex of the random token (what src/auth computes). Thread-safe. */
#ifndef GH_STORE_AUTH_H
#define GH_STORE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"
#include "gh/identity.h"
#include "gh/store.h"

#define GH_USERNAME_CAP      64  /* 1..63 bytes of [a-z0-9._-] */
#define GH_PASSWORD_HASH_CAP 128 /* crypto_pwhash_STRBYTES */
#define GH_TOKEN_HASH_CAP    65  /* SHA-256 hex and NUL */

struct gh_user {
    int64_t id; /* set by the store on insert */
    char username[GH_USERNAME_CAP];
    char password_hash[GH_PASSWORD_HASH_CAP];
    enum gh_role role;
    int64_t created_at;
    int disabled;
};

struct gh_api_key {
    int64_t id;      /* set by the store on insert */
    int64_t user_id; /* whose key; 0 for a service key that belongs to nobody */
    char name[64];
    char prefix[16]; /* the first characters of the key, to recognise it in lists */
    char key_hash[GH_TOKEN_HASH_CAP];
    unsigned scopes; /* enum gh_scope bits */
    int64_t created_at;
    int64_t revoked_at; /* 0 while valid */
};

/* One refresh token as the store knows it. */
struct gh_refresh_token {
    int64_t id;
    char family[40]; /* every token rotated from one login shares it */
    int64_t user_id;
    int64_t expires_at;
    int64_t used_at;    /* 0 until rotated */
    int64_t revoked_at; /* 0 until its family is revoked */
};

/* "user", "trusted", "admin" and back; GH_ROLE_NONE / NULL for anything else. */
enum gh_role gh_role_parse(const char *s);
const char *gh_role_name(enum gh_role r);

/* Inserts u (username unique); sets u->id. GH_ECONFLICT when the name is taken, GH_EINVAL for a
 * name outside GH_USERNAME_CAP's alphabet or an empty hash. */
int gh_store_user_add(struct gh_store *st, struct gh_user *u, struct gh_err *err) GH_MUST_CHECK;

/* By id (> 0), else by username. GH_ENOTFOUND. */
int gh_store_user_get(struct gh_store *st, int64_t id, const char *username, struct gh_user *out,
                      struct gh_err *err) GH_MUST_CHECK;

/* Up to cap users by id; *n_out gets the count. */
int gh_store_user_list(struct gh_store *st, struct gh_user *out, size_t cap, size_t *n_out,
                       struct gh_err *err) GH_MUST_CHECK;

/* Sets the password hash (NULL: unchanged) and disabled (-1: unchanged). GH_ENOTFOUND. */
int gh_store_user_update(struct gh_store *st, int64_t id, const char *password_hash, int disabled,
                         struct gh_err *err) GH_MUST_CHECK;

/* Inserts k; sets k->id. GH_ECONFLICT when the hash exists. */
int gh_store_key_add(struct gh_store *st, struct gh_api_key *k, struct gh_err *err) GH_MUST_CHECK;

/* The key with that hash, revoked or not. GH_ENOTFOUND. */
int gh_store_key_find(struct gh_store *st, const char *key_hash, struct gh_api_key *out,
                      struct gh_err *err) GH_MUST_CHECK;

int gh_store_key_list(struct gh_store *st, struct gh_api_key *out, size_t cap, size_t *n_out,
                      struct gh_err *err) GH_MUST_CHECK;

/* Marks key id revoked at now (a revoked key stays revoked). GH_ENOTFOUND. */
int gh_store_key_revoke(struct gh_store *st, int64_t id, int64_t now,
                        struct gh_err *err) GH_MUST_CHECK;

/* Stores a refresh token of family for user_id, valid until expires_at. */
int gh_store_refresh_add(struct gh_store *st, const char *family, int64_t user_id,
                         const char *token_hash, int64_t now, int64_t expires_at,
                         struct gh_err *err) GH_MUST_CHECK;

/* Spends the token with token_hash at now: *out gets the row as it was before; *spent is 1
 * when this call marked it used (it was unused, unrevoked and unexpired, and no concurrent
 * call spent it first), else 0 and the caller decides (used_at != 0 is a reuse). GH_ENOTFOUND
 * when no such token exists. */
int gh_store_refresh_spend(struct gh_store *st, const char *token_hash, int64_t now,
                           struct gh_refresh_token *out, int *spent,
                           struct gh_err *err) GH_MUST_CHECK;

/* Revokes every token of family at now. */
int gh_store_refresh_revoke_family(struct gh_store *st, const char *family, int64_t now,
                                   struct gh_err *err) GH_MUST_CHECK;

/* Revokes every token of every family of user_id at now: a new password or a disabled
 * account ends the sessions signed in before. */
int gh_store_refresh_revoke_user(struct gh_store *st, int64_t user_id, int64_t now,
                                 struct gh_err *err) GH_MUST_CHECK;

/* *active = 1 while family has an unrevoked token. */
int gh_store_refresh_family_active(struct gh_store *st, const char *family, int *active,
                                   struct gh_err *err) GH_MUST_CHECK;

/* The value kept under key; when there is none, proposed is stored first (the first writer
 * of several instances wins, and all read the winner's). */
int gh_store_meta_get_or_set(struct gh_store *st, const char *key, const char *proposed, char *out,
                             size_t out_cap, struct gh_err *err) GH_MUST_CHECK;

/* The revocation epoch: a counter every revocation (key, family, disabled user, password)
 * increments, so each instance drops what it cached when it sees a new value. bump = 1
 * increments first. */
int gh_store_auth_epoch(struct gh_store *st, int bump, int64_t *out,
                        struct gh_err *err) GH_MUST_CHECK;

/* As gh_store_list_identifications, only owner's ("" lists every one). */
int gh_store_list_identifications_owned(struct gh_store *st, const char *owner, int64_t before_id,
                                        size_t limit, struct gh_identification *out, size_t *n_out,
                                        struct gh_err *err) GH_MUST_CHECK;

#endif
