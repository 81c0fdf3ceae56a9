/* SPDX-License-Identifier: MIT */
/* SQL written once for both backends (store_workouts.c): a backend lends a connection, runs a
 * statement with ?N parameters (PostgreSQL's $N) and hands each result row to a callback.
 * Internal to src/store. */
#ifndef GH_STORE_ROWS_H
#define GH_STORE_ROWS_H

#include "store/internal.h"

#include <stdint.h>

enum gh_rows_kind { GH_ROWS_NULL, GH_ROWS_TEXT, GH_ROWS_INT, GH_ROWS_REAL };

struct gh_rows_arg {
    enum gh_rows_kind kind;
    const char *s;
    int64_t i;
    double f;
};

/* The current row of a result; columns from 0. text is "" for NULL. */
struct gh_rows_cur {
    int (*null)(const struct gh_rows_cur *c, int col);
    int64_t (*i64)(const struct gh_rows_cur *c, int col);
    double (*f64)(const struct gh_rows_cur *c, int col);
    const char *(*text)(const struct gh_rows_cur *c, int col);
    void *impl;
    int row;
};

/* Called per row; a non-zero return stops the statement and becomes exec's result. */
typedef int (*gh_rows_fn)(void *ctx, const struct gh_rows_cur *cur);

struct gh_rows; /* a connection lent by the backend */

struct gh_store_rows_ops {
    /* Lends a connection; tx = 1 also begins a transaction (IMMEDIATE on SQLite). */
    int (*open)(struct gh_store *st, int tx, struct gh_rows **out, struct gh_err *err);
    /* Ends the transaction (COMMIT when rc is GH_OK, else ROLLBACK) and gives the connection
     * back; returns the outcome. NULL is a no-op returning rc. */
    int (*close)(struct gh_rows *r, int rc, struct gh_err *err);
    /* Runs sql with a[0..n); fn (may be NULL) sees each row; *changes (may be NULL) gets the
     * rows an INSERT/UPDATE/DELETE changed. what completes "cannot ..." in messages. */
    int (*exec)(struct gh_rows *r, const char *sql, const struct gh_rows_arg *a, int n,
                gh_rows_fn fn, void *ctx, int64_t *changes, const char *what, struct gh_err *err);
};

extern const struct gh_store_rows_ops gh_store_sqlite_rows_ops;
extern const struct gh_store_rows_ops gh_store_pg_rows_ops;

#endif
