/* SPDX-License-Identifier: MIT */
/* PostgreSQL backend, workouts (issue 12): the statement runner of store/rows.h. The SQL is
 * store_workouts.c's, with ?N turned into $N; values go as text, NULL as SQL NULL. */
#include "pg_internal.h"
#include "store/rows.h"

#include "gh/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gh_rows {
    struct pg_store *s;
    struct pg_conn *c;
    int tx;
};

static int pgr_open(struct gh_store *st, int tx, struct gh_rows **out, struct gh_err *err)
{
    struct gh_rows *r = gh_malloc(sizeof *r);
    int rc;

    *out = NULL;
    if (!r)
        return gh_err_set(err, GH_ENOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    r->s = gh_pg_of(st);
    r->tx = tx;
    rc = gh_pg_acquire(r->s, &r->c, err);
    if (rc == GH_OK && tx)
        rc = gh_pg_sql(r->s, r->c, "BEGIN", "begin a transaction", err);
    if (rc) {
        if (r->c)
            gh_pg_release(r->s, r->c);
        gh_free(r);
        return rc;
    }
    *out = r;
    return GH_OK;
}

static int pgr_close(struct gh_rows *r, int rc, struct gh_err *err)
{
    if (!r)
        return rc;
    if (r->tx)
        rc = gh_pg_end(r->s, r->c, rc, "commit the workout log", err);
    gh_pg_release(r->s, r->c);
    gh_free(r);
    return rc;
}

static int pgr_null(const struct gh_rows_cur *c, int col)
{
    return PQgetisnull(c->impl, c->row, col);
}

static int64_t pgr_i64(const struct gh_rows_cur *c, int col)
{
    return gh_pg_i64(c->impl, c->row, col);
}

static double pgr_f64(const struct gh_rows_cur *c, int col)
{
    return gh_pg_f64(c->impl, c->row, col);
}

static const char *pgr_text(const struct gh_rows_cur *c, int col)
{
    return PQgetvalue(c->impl, c->row, col);
}

/* Text values of a[0..n) into vals (numbers formatted into buf, 32 bytes each). */
static void pgr_values(const struct gh_rows_arg *a, int n, const char **vals, char (*buf)[32])
{
    for (int i = 0; i < n; i++) {
        switch (a[i].kind) {
        case GH_ROWS_NULL:
            vals[i] = NULL;
            break;
        case GH_ROWS_TEXT:
            vals[i] = a[i].s;
            break;
        case GH_ROWS_INT:
            snprintf(buf[i], sizeof buf[i], "%lld", (long long)a[i].i);
            vals[i] = buf[i];
            break;
        case GH_ROWS_REAL:
            snprintf(buf[i], sizeof buf[i], "%.17g", a[i].f);
            vals[i] = buf[i];
            break;
        }
    }
}

static int pgr_exec(struct gh_rows *r, const char *sql, const struct gh_rows_arg *a, int n,
                    gh_rows_fn fn, void *ctx, int64_t *changes, const char *what,
                    struct gh_err *err)
{
    struct gh_rows_cur cur = {pgr_null, pgr_i64, pgr_f64, pgr_text, NULL, 0};
    size_t len = strlen(sql);
    char *text = gh_malloc(len + 1);
    const char **vals = n ? gh_malloc_array((size_t)n, sizeof *vals) : NULL;
    char(*buf)[32] = n ? gh_malloc_array((size_t)n, sizeof *buf) : NULL;
    PGresult *res = NULL;
    int rc = GH_OK;

    if (!text || (n && (!vals || !buf))) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i <= len; i++) /* the SQL has no '?' but its parameters */
        text[i] = sql[i] == '?' ? '$' : sql[i];
    pgr_values(a, n, vals, buf);
    rc = gh_pg_exec_params(r->s, r->c, text, n, vals, &res, what, err);
    if (rc)
        goto out;
    cur.impl = res;
    for (cur.row = 0; fn && cur.row < PQntuples(res); cur.row++)
        if ((rc = fn(ctx, &cur)) != GH_OK)
            goto out;
    if (changes)
        *changes = gh_pg_changes(res);
out:
    PQclear(res);
    gh_free(buf);
    gh_free(vals);
    gh_free(text);
    return rc;
}

const struct gh_store_rows_ops gh_store_pg_rows_ops = {
    .open = pgr_open,
    .close = pgr_close,
    .exec = pgr_exec,
};
