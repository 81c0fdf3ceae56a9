/* SPDX-License-Identifier: MIT */
/* SQLite backend, workouts (issue 12): the statement runner of store/rows.h that
 * store_workouts.c writes its SQL against. Statements are prepared once per lent connection
 * and kept until it is given back, so an import's thousands of rows reuse a handful. */
#include "sqlite_internal.h"
#include "store/rows.h"

#include "gh/alloc.h"

#include <string.h>

#define SQR_CACHE 8

struct gh_rows {
    struct sq_store *s;
    struct sq_conn *c;
    int tx;
    const char *sql[SQR_CACHE]; /* statement texts by address: callers pass literals */
    sqlite3_stmt *stmt[SQR_CACHE];
    int n_cached;
};

static int sqr_open(struct gh_store *st, int tx, struct gh_rows **out, struct gh_err *err)
{
    struct gh_rows *r = gh_malloc(sizeof *r);

    *out = NULL;
    if (!r)
        return gh_err_set(err, GH_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    r->s = gh_sq_of(st);
    r->c = gh_sq_acquire(r->s);
    r->tx = tx;
    if (tx && gh_sq_exec(r->c->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        int rc = gh_sq_fail(err, r->c->db, "begin a transaction");

        gh_sq_release(r->s, r->c);
        gh_free(r);
        return rc;
    }
    *out = r;
    return GH_OK;
}

static int sqr_close(struct gh_rows *r, int rc, struct gh_err *err)
{
    if (!r)
        return rc;
    for (int i = 0; i < r->n_cached; i++)
        sqlite3_finalize(r->stmt[i]);
    if (r->tx)
        rc = gh_sq_end(r->c, rc, "commit the workout log", err);
    gh_sq_release(r->s, r->c);
    gh_free(r);
    return rc;
}

static int sqr_null(const struct gh_rows_cur *c, int col)
{
    return sqlite3_column_type(c->impl, col) == SQLITE_NULL;
}

static int64_t sqr_i64(const struct gh_rows_cur *c, int col)
{
    return sqlite3_column_int64(c->impl, col);
}

static double sqr_f64(const struct gh_rows_cur *c, int col)
{
    return sqlite3_column_double(c->impl, col);
}

static const char *sqr_text(const struct gh_rows_cur *c, int col)
{
    const unsigned char *t = sqlite3_column_text(c->impl, col);

    return t ? (const char *)t : "";
}

/* The prepared statement for sql: cached by its address when dynamic is 0. */
static int sqr_prepare(struct gh_rows *r, const char *sql, sqlite3_stmt **q, int *owned,
                       struct gh_err *err)
{
    int cacheable = r->n_cached < SQR_CACHE;

    for (int i = 0; i < r->n_cached; i++)
        if (r->sql[i] == sql) {
            *q = r->stmt[i];
            *owned = 0;
            return GH_OK;
        }
    if (sqlite3_prepare_v2(r->c->db, sql, -1, q, NULL) != SQLITE_OK)
        return gh_sq_fail(err, r->c->db, "prepare a statement of the workout log");
    *owned = !cacheable;
    if (cacheable) {
        r->sql[r->n_cached] = sql;
        r->stmt[r->n_cached++] = *q;
    }
    return GH_OK;
}

static int sqr_bind(sqlite3_stmt *q, const struct gh_rows_arg *a, int n)
{
    int bad = 0;

    for (int i = 0; i < n; i++) {
        switch (a[i].kind) {
        case GH_ROWS_NULL:
            bad |= sqlite3_bind_null(q, i + 1);
            break;
        case GH_ROWS_TEXT:
            bad |= a[i].s ? gh_sq_bind_text(q, i + 1, a[i].s) : sqlite3_bind_null(q, i + 1);
            break;
        case GH_ROWS_INT:
            bad |= sqlite3_bind_int64(q, i + 1, a[i].i);
            break;
        case GH_ROWS_REAL:
            bad |= sqlite3_bind_double(q, i + 1, a[i].f);
            break;
        }
    }
    return bad;
}

static int sqr_exec(struct gh_rows *r, const char *sql, const struct gh_rows_arg *a, int n,
                    gh_rows_fn fn, void *ctx, int64_t *changes, const char *what,
                    struct gh_err *err)
{
    struct gh_rows_cur cur = {sqr_null, sqr_i64, sqr_f64, sqr_text, NULL, 0};
    sqlite3_stmt *q = NULL;
    int rc, owned = 0, step;

    rc = sqr_prepare(r, sql, &q, &owned, err);
    if (rc)
        return rc;
    if (sqr_bind(q, a, n)) {
        rc = gh_sq_fail(err, r->c->db, what);
        goto out;
    }
    cur.impl = q;
    while ((step = gh_sq_step(q)) == SQLITE_ROW) {
        if (fn && (rc = fn(ctx, &cur)) != GH_OK)
            goto out;
        cur.row++;
    }
    if (step != SQLITE_DONE)
        rc = gh_sq_fail(err, r->c->db, what);
    else if (changes)
        *changes = sqlite3_changes(r->c->db);
out:
    if (owned)
        sqlite3_finalize(q);
    else
        gh_sq_done(q);
    return rc;
}

const struct gh_store_rows_ops gh_store_sqlite_rows_ops = {
    .open = sqr_open,
    .close = sqr_close,
    .exec = sqr_exec,
};
