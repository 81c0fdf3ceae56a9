/* SPDX-License-Identifier: MIT */
/* Plans and share links of the store (gh/store_plans.h), in SQL written once for both backends
 * and run through their store/rows.h runners. Every statement but the public token lookup
 * names the owner. */
#include "gh/store_plans.h"
#include "store/rows.h"

#include "gh/alloc.h"

#include <stdio.h>
#include <string.h>

#define T(x) ((struct gh_rows_arg){GH_ROWS_TEXT, (x), 0, 0})
#define I(x) ((struct gh_rows_arg){GH_ROWS_INT, NULL, (x), 0})

static int check_owner(struct gh_store *st, const char *owner, struct gh_err *err)
{
    if (!st || !st->ops->rows)
        return gh_err_set(err, GH_EINVAL, "no store given");
    if (!owner || !owner[0] || strlen(owner) >= 96)
        return gh_err_set(err, GH_EINVAL, "no owner given");
    return GH_OK;
}

static int run(struct gh_store *st, const char *sql, const struct gh_rows_arg *a, int n,
               gh_rows_fn fn, void *ctx, int64_t *changes, const char *what, struct gh_err *err)
{
    const struct gh_store_rows_ops *ops = st->ops->rows;
    struct gh_rows *r = NULL;
    int rc = ops->open(st, 0, &r, err);

    if (rc)
        return rc;
    rc = ops->exec(r, sql, a, n, fn, ctx, changes, what, err);
    return ops->close(r, rc, err);
}

static int read_id(void *ctx, const struct gh_rows_cur *c)
{
    *(int64_t *)ctx = c->i64(c, 0);
    return GH_OK;
}

/* ---- plans ---- */

struct plan_page {
    struct gh_plan_rec *v;
    size_t n, cap;
    int with_body;
};

/* Columns: id, client_id, gym_id, created_at[, body]. */
static int read_plan(void *ctx, const struct gh_rows_cur *c)
{
    struct plan_page *p = ctx;
    struct gh_plan_rec *r;

    if (p->n == p->cap)
        return GH_OK;
    r = &p->v[p->n];
    memset(r, 0, sizeof *r);
    r->id = c->i64(c, 0);
    snprintf(r->client_id, sizeof r->client_id, "%s", c->text(c, 1));
    r->gym_id = c->null(c, 2) ? 0 : c->i64(c, 2);
    r->created_at = c->i64(c, 3);
    if (p->with_body) {
        const char *b = c->text(c, 4);
        size_t len = strlen(b);

        r->body = gh_malloc(len + 1);
        if (!r->body)
            return GH_ENOMEM;
        memcpy(r->body, b, len + 1);
    }
    p->n++;
    return GH_OK;
}

void gh_plan_rec_fini(struct gh_plan_rec *r)
{
    if (r) {
        gh_free(r->body);
        r->body = NULL;
    }
}

int gh_store_plan_get(struct gh_store *st, const char *owner, int64_t id, struct gh_plan_rec *out,
                      struct gh_err *err)
{
    struct plan_page p = {out, 0, 1, 1};
    int rc = check_owner(st, owner, err);

    memset(out, 0, sizeof *out);
    if (rc == GH_OK)
        rc = run(st,
                 "SELECT id, COALESCE(client_id, ''), gym_id, created_at, body FROM plans"
                 " WHERE owner = ?1 AND id = ?2",
                 (struct gh_rows_arg[]){T(owner), I(id)}, 2, read_plan, &p, NULL, "read a plan",
                 err);
    if (rc == GH_ENOMEM)
        gh_err_set(err, rc, "out of memory reading a plan");
    if (rc == GH_OK && p.n == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no plan with id %lld", (long long)id);
    if (rc)
        gh_plan_rec_fini(out);
    return rc;
}

int gh_store_plan_add(struct gh_store *st, const char *owner, const char *client_id, int64_t gym_id,
                      const char *body, int64_t created_at, struct gh_plan_rec *rec, int *created,
                      struct gh_err *err)
{
    const struct gh_store_rows_ops *ops;
    struct gh_rows *r = NULL;
    struct gh_rows_arg none = {GH_ROWS_NULL, NULL, 0, 0};
    int64_t id = 0;
    int rc = check_owner(st, owner, err);

    *created = 0;
    memset(rec, 0, sizeof *rec);
    if (rc)
        return rc;
    ops = st->ops->rows;
    if ((rc = ops->open(st, 1, &r, err)) != GH_OK)
        return rc;
    rc = ops->exec(r,
                   "INSERT INTO plans (owner, client_id, gym_id, body, created_at)"
                   " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (owner, client_id) DO NOTHING"
                   " RETURNING id",
                   (struct gh_rows_arg[]){T(owner), client_id[0] ? T(client_id) : none,
                                          gym_id > 0 ? I(gym_id) : none, T(body), I(created_at)},
                   5, read_id, &id, NULL, "add a plan", err);
    if (rc == GH_OK && id > 0)
        *created = 1;
    else if (rc == GH_OK)
        rc = ops->exec(r, "SELECT id FROM plans WHERE owner = ?1 AND client_id = ?2",
                       (struct gh_rows_arg[]){T(owner), T(client_id)}, 2, read_id, &id, NULL,
                       "read a plan", err);
    if ((rc = ops->close(r, rc, err)) != GH_OK)
        return rc;
    return gh_store_plan_get(st, owner, id, rec, err);
}

int gh_store_plan_list(struct gh_store *st, const char *owner, struct gh_plan_rec **out,
                       size_t *n_out, struct gh_err *err)
{
    struct plan_page p = {NULL, 0, GH_PLANS_MAX, 0};
    int rc = check_owner(st, owner, err);

    *out = NULL;
    *n_out = 0;
    if (rc)
        return rc;
    p.v = gh_malloc_array(GH_PLANS_MAX, sizeof *p.v);
    if (!p.v)
        return gh_err_set(err, GH_ENOMEM, "out of memory listing plans");
    rc = run(st,
             "SELECT id, COALESCE(client_id, ''), gym_id, created_at FROM plans WHERE owner = ?1"
             " ORDER BY id DESC LIMIT 200",
             (struct gh_rows_arg[]){T(owner)}, 1, read_plan, &p, NULL, "list plans", err);
    if (rc || p.n == 0) {
        gh_free(p.v);
        return rc;
    }
    *out = p.v;
    *n_out = p.n;
    return GH_OK;
}

int gh_store_plan_delete(struct gh_store *st, const char *owner, int64_t id, struct gh_err *err)
{
    const struct gh_store_rows_ops *ops;
    struct gh_rows *r = NULL;
    int64_t changed = 0;
    int rc = check_owner(st, owner, err);

    if (rc)
        return rc;
    ops = st->ops->rows;
    if ((rc = ops->open(st, 1, &r, err)) != GH_OK)
        return rc;
    rc = ops->exec(r, "DELETE FROM plans WHERE owner = ?1 AND id = ?2",
                   (struct gh_rows_arg[]){T(owner), I(id)}, 2, NULL, NULL, &changed,
                   "delete a plan", err);
    if (rc == GH_OK)
        rc =
            ops->exec(r, "DELETE FROM shares WHERE owner = ?1 AND kind = 'plan' AND object_id = ?2",
                      (struct gh_rows_arg[]){T(owner), I(id)}, 2, NULL, NULL, NULL,
                      "delete a plan's links", err);
    if (rc == GH_OK && changed == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no plan with id %lld", (long long)id);
    return ops->close(r, rc, err);
}

/* ---- share links ---- */

struct share_page {
    struct gh_share *v;
    size_t n, cap;
};

/* Columns: id, owner, kind, object_id, created_at. */
static int read_share(void *ctx, const struct gh_rows_cur *c)
{
    struct share_page *p = ctx;
    struct gh_share *s;

    if (p->n == p->cap)
        return GH_OK;
    s = &p->v[p->n++];
    memset(s, 0, sizeof *s);
    s->id = c->i64(c, 0);
    snprintf(s->owner, sizeof s->owner, "%s", c->text(c, 1));
    snprintf(s->kind, sizeof s->kind, "%s", c->text(c, 2));
    s->object_id = c->i64(c, 3);
    s->created_at = c->i64(c, 4);
    return GH_OK;
}

static int check_kind(const char *kind, struct gh_err *err)
{
    if (!kind || (strcmp(kind, "workout") != 0 && strcmp(kind, "plan") != 0))
        return gh_err_set(err, GH_EINVAL, "kind must be workout or plan");
    return GH_OK;
}

int gh_store_share_add(struct gh_store *st, const char *owner, const char *hash, const char *kind,
                       int64_t object_id, int64_t created_at, int64_t *id, struct gh_err *err)
{
    int rc = check_owner(st, owner, err);

    *id = 0;
    if (rc == GH_OK)
        rc = check_kind(kind, err);
    if (rc == GH_OK && (!hash || strlen(hash) != GH_TOKEN_HASH_CAP - 1))
        rc = gh_err_set(err, GH_EINVAL, "a share link needs its token's hash");
    if (rc == GH_OK)
        rc = run(st,
                 "INSERT INTO shares (token_hash, owner, kind, object_id, created_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                 (struct gh_rows_arg[]){T(hash), T(owner), T(kind), I(object_id), I(created_at)}, 5,
                 read_id, id, NULL, "add a share link", err);
    return rc;
}

int gh_store_share_list(struct gh_store *st, const char *owner, struct gh_share **out,
                        size_t *n_out, struct gh_err *err)
{
    struct share_page p = {NULL, 0, GH_SHARES_MAX};
    int rc = check_owner(st, owner, err);

    *out = NULL;
    *n_out = 0;
    if (rc)
        return rc;
    p.v = gh_malloc_array(GH_SHARES_MAX, sizeof *p.v);
    if (!p.v)
        return gh_err_set(err, GH_ENOMEM, "out of memory listing share links");
    rc = run(st,
             "SELECT id, owner, kind, object_id, created_at FROM shares WHERE owner = ?1"
             " ORDER BY id DESC LIMIT 500",
             (struct gh_rows_arg[]){T(owner)}, 1, read_share, &p, NULL, "list share links", err);
    if (rc || p.n == 0) {
        gh_free(p.v);
        return rc;
    }
    *out = p.v;
    *n_out = p.n;
    return GH_OK;
}

int gh_store_share_find(struct gh_store *st, const char *hash, struct gh_share *out,
                        struct gh_err *err)
{
    struct share_page p = {out, 0, 1};
    int rc;

    if (!st || !st->ops->rows || !hash)
        return gh_err_set(err, GH_EINVAL, "no store or token given");
    rc = run(st, "SELECT id, owner, kind, object_id, created_at FROM shares WHERE token_hash = ?1",
             (struct gh_rows_arg[]){T(hash)}, 1, read_share, &p, NULL, "read a share link", err);
    if (rc == GH_OK && p.n == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no such share link (it may have been revoked)");
    return rc;
}

int gh_store_share_delete(struct gh_store *st, const char *owner, const char *hash, int64_t id,
                          struct gh_err *err)
{
    int64_t changed = 0;
    int rc = check_owner(st, owner, err);

    if (rc == GH_OK && hash)
        rc = run(st, "DELETE FROM shares WHERE owner = ?1 AND token_hash = ?2",
                 (struct gh_rows_arg[]){T(owner), T(hash)}, 2, NULL, NULL, &changed,
                 "revoke a share link", err);
    else if (rc == GH_OK)
        rc = run(st, "DELETE FROM shares WHERE owner = ?1 AND id = ?2",
                 (struct gh_rows_arg[]){T(owner), I(id)}, 2, NULL, NULL, &changed,
                 "revoke a share link", err);
    if (rc == GH_OK && changed == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no such share link");
    return rc;
}
