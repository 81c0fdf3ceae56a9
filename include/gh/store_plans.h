/* SPDX-License-Identifier: MIT */
/* The store's plans and share links (issue 12): a person's generated plans (the generator's
 * JSON, kept as it was made) and read-only links to a workout or a plan, kept as the SHA-256
 * of their token only. Everything is read and changed under an owner key; another owner's id
 * is GH_ENOTFOUND. SQL written once for both backends (store/rows.h). Thread-safe. */
#ifndef GH_STORE_PLANS_H
#define GH_STORE_PLANS_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"
#include "gh/store.h"
#include "gh/store_auth.h" /* GH_TOKEN_HASH_CAP */

#define GH_PLANS_MAX  200 /* what a list returns at most, newest first */
#define GH_SHARES_MAX 500 /* the same for share links */

struct gh_plan_rec {
    int64_t id;
    char client_id[65]; /* "" when the client sent none */
    int64_t gym_id;     /* 0: made from an equipment list */
    int64_t created_at;
    char *body; /* the plan JSON, gh_malloc'd; NULL in lists */
};

/* Adds a plan for owner unless client_id (may be "") names one owner has; rec gets the stored
 * plan (with its body) either way and *created says which. */
int gh_store_plan_add(struct gh_store *st, const char *owner, const char *client_id, int64_t gym_id,
                      const char *body, int64_t created_at, struct gh_plan_rec *rec, int *created,
                      struct gh_err *err) GH_MUST_CHECK;
/* Owner's plans, newest first, without bodies; *out is gh_malloc'd (NULL when none). */
int gh_store_plan_list(struct gh_store *st, const char *owner, struct gh_plan_rec **out,
                       size_t *n_out, struct gh_err *err) GH_MUST_CHECK;
/* One of owner's plans with its body (release with gh_plan_rec_fini). */
int gh_store_plan_get(struct gh_store *st, const char *owner, int64_t id, struct gh_plan_rec *out,
                      struct gh_err *err) GH_MUST_CHECK;
/* Deletes the plan and the share links to it. */
int gh_store_plan_delete(struct gh_store *st, const char *owner, int64_t id,
                         struct gh_err *err) GH_MUST_CHECK;
void gh_plan_rec_fini(struct gh_plan_rec *r);

struct gh_share {
    int64_t id;
    char owner[96];
    char kind[16]; /* "workout" or "plan" */
    int64_t object_id;
    int64_t created_at;
};

/* Records a link with token hash `hash` to owner's object; *id gets the link's id. */
int gh_store_share_add(struct gh_store *st, const char *owner, const char *hash, const char *kind,
                       int64_t object_id, int64_t created_at, int64_t *id,
                       struct gh_err *err) GH_MUST_CHECK;
/* Owner's links, newest first; *out is gh_malloc'd (NULL when none). */
int gh_store_share_list(struct gh_store *st, const char *owner, struct gh_share **out,
                        size_t *n_out, struct gh_err *err) GH_MUST_CHECK;
/* The link with token hash `hash` (anyone's): GH_ENOTFOUND when none. */
int gh_store_share_find(struct gh_store *st, const char *hash, struct gh_share *out,
                        struct gh_err *err) GH_MUST_CHECK;
/* Revokes owner's link by token hash (hash non-NULL) or by id. GH_ENOTFOUND when owner has
 * no such link. */
int gh_store_share_delete(struct gh_store *st, const char *owner, const char *hash, int64_t id,
                          struct gh_err *err) GH_MUST_CHECK;

#endif
