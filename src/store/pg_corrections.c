/* SPDX-License-Identifier: MIT */
/* PostgreSQL backend, corrections (gh/store_corrections.h), the same operations as
 * sqlite_corrections.c. Sent unprepared: they run on feedback, on review and on each instance's
 * pull of new corrections, not per analysis. */
#include "pg_internal.h"

#include <stdio.h>
#include <string.h>

#define PGC_COLS                                                                                   \
    "c.id, c.identification_id, c.sha256, c.phash, c.owner, coalesce(u.username, ''), c.slug,"     \
    " c.previous_slug, c.status, c.created_at, c.decided_at,"                                      \
    " (SELECT count(*) FROM corrections v WHERE v.sha256 = c.sha256 AND v.slug = c.slug"           \
    " AND v.status <> 'rejected')"
#define PGC_FROM                                                                                   \
    " FROM corrections c LEFT JOIN users u ON u.id ="                                              \
    " CASE WHEN c.owner LIKE 'user:%' THEN substr(c.owner, 6)::bigint END"

static void pgc_read(const PGresult *r, int row, struct gh_correction *c)
{
    char status[16];

    memset(c, 0, sizeof *c);
    c->id = gh_pg_i64(r, row, 0);
    c->identification_id = gh_pg_i64(r, row, 1);
    gh_pg_copy_text(c->sha256, sizeof c->sha256, r, row, 2);
    c->phash = (uint64_t)gh_pg_i64(r, row, 3);
    gh_pg_copy_text(c->owner, sizeof c->owner, r, row, 4);
    gh_pg_copy_text(c->username, sizeof c->username, r, row, 5);
    gh_pg_copy_text(c->slug, sizeof c->slug, r, row, 6);
    gh_pg_copy_text(c->previous_slug, sizeof c->previous_slug, r, row, 7);
    gh_pg_copy_text(status, sizeof status, r, row, 8);
    c->status = gh_correction_status_parse(status);
    c->created_at = gh_pg_i64(r, row, 9);
    c->decided_at = gh_pg_i64(r, row, 10);
    c->votes = gh_pg_i64(r, row, 11);
}

/* The statements of one vote, inside the caller's transaction. */
static int pgc_add_tx(struct pg_store *s, struct pg_conn *c, struct gh_correction *v,
                      struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    /* one vote per owner and photo: concurrent votes of one owner for one photo queue here
     * instead of failing on the unique key */
    gh_pg_param_text(&p, v->owner);
    gh_pg_param_text(&p, v->sha256);
    rc = gh_pg_exec_sql(s, c, "SELECT pg_advisory_xact_lock(hashtext($1 || ' ' || $2))", &p, NULL,
                        "lock the vote", err);
    /* once an admin rejected it, the owner's later votes for the photo stay rejected */
    if (rc == GH_OK)
        rc = gh_pg_exec_sql(s, c,
                            "DELETE FROM corrections WHERE owner = $1 AND sha256 = $2"
                            " RETURNING status, decided_at",
                            &p, &r, "replace an earlier correction", err);
    for (int i = 0; rc == GH_OK && i < PQntuples(r); i++)
        gh_store_correction_keep_rejected(v, PQgetvalue(r, i, 0), gh_pg_i64(r, i, 1));
    PQclear(r);
    r = NULL;
    if (rc)
        return rc;
    p.n = 0;
    gh_pg_param_i64(&p, v->identification_id);
    gh_pg_param_text(&p, v->sha256);
    gh_pg_param_i64(&p, (int64_t)v->phash);
    gh_pg_param_text(&p, v->owner);
    gh_pg_param_text(&p, v->slug);
    gh_pg_param_text(&p, v->previous_slug);
    gh_pg_param_text(&p, gh_correction_status_name(v->status));
    gh_pg_param_i64(&p, v->created_at);
    gh_pg_param_i64(&p, v->decided_at);
    rc = gh_pg_exec_sql(s, c,
                        "INSERT INTO corrections (identification_id, sha256, phash, owner, slug,"
                        " previous_slug, status, created_at, decided_at)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id,"
                        " (SELECT count(*) FROM corrections WHERE sha256 = $2 AND slug = $5"
                        " AND status <> 'rejected')",
                        &p, &r, "record a correction", err);
    if (rc == GH_OK && PQntuples(r) == 1) {
        v->id = gh_pg_i64(r, 0, 0);
        /* the subquery sees the table before the insert */
        v->votes = gh_pg_i64(r, 0, 1) + (v->status != GH_CORRECTION_REJECTED);
    } else if (rc == GH_OK) {
        rc = gh_err_set(err, GH_EBACKEND, "postgresql: recording a correction returned no id");
    }
    PQclear(r);
    if (rc)
        return rc;
    p.n = 0;
    gh_pg_param_i64(&p, v->identification_id);
    gh_pg_param_text(&p, v->slug);
    gh_pg_param_i64(&p, v->created_at);
    p.n = 2; /* id and slug */
    rc = gh_pg_exec_sql(s, c, "UPDATE user_identifications SET corrected_slug = $2 WHERE id = $1",
                        &p, NULL, "mark the identification corrected", err);
    p.n = 3; /* and the time, still in the buffer */
    if (rc == GH_OK)
        rc = gh_pg_exec_sql(s, c,
                            "INSERT INTO identification_feedback (identification_id, slug,"
                            " created_at) VALUES ($1, $2, $3)",
                            &p, NULL, "record the feedback", err);
    return rc;
}

static int pg_correction_add(struct gh_store *st, struct gh_correction *v, struct gh_err *err)
{
    struct pg_store *s = gh_pg_of(st);
    struct pg_conn *c = NULL;
    int rc = gh_pg_acquire(s, &c, err);

    if (rc)
        return rc;
    rc = gh_pg_sql(s, c, "BEGIN", "begin a correction", err);
    if (rc == GH_OK)
        rc = pgc_add_tx(s, c, v, err);
    rc = gh_pg_end(s, c, rc, "commit a correction", err);
    gh_pg_release(s, c);
    return rc;
}

static int pgc_select(struct gh_store *st, const char *sql, const struct pg_params *p,
                      struct gh_correction *out, size_t cap, size_t *n_out, struct gh_err *err)
{
    struct pg_store *s = gh_pg_of(st);
    struct pg_conn *c = NULL;
    PGresult *r = NULL;
    size_t n = 0;
    int rc = gh_pg_acquire(s, &c, err);

    if (rc)
        return rc;
    rc = gh_pg_exec_sql(s, c, sql, p, &r, "read corrections", err);
    gh_pg_release(s, c);
    for (; rc == GH_OK && n < cap && n < (size_t)PQntuples(r); n++)
        pgc_read(r, (int)n, &out[n]);
    *n_out = rc ? 0 : n;
    PQclear(r);
    return rc;
}

static int pg_correction_get(struct gh_store *st, int64_t id, struct gh_correction *out,
                             struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    size_t n = 0;
    int rc;

    gh_pg_param_i64(&p, id);
    rc = pgc_select(st, "SELECT " PGC_COLS PGC_FROM " WHERE c.id = $1", &p, out, 1, &n, err);
    if (rc == GH_OK && n == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no correction with that id");
    return rc;
}

static int pg_correction_list(struct gh_store *st, int status, int64_t before_id, size_t limit,
                              struct gh_correction *out, size_t *n_out, struct gh_err *err)
{
    struct pg_params p = {.n = 0};

    gh_pg_param_i64(&p, before_id);
    gh_pg_param_i64(&p, (int64_t)limit);
    if (status < 0)
        return pgc_select(
            st, "SELECT " PGC_COLS PGC_FROM " WHERE c.id < $1 ORDER BY c.id DESC LIMIT $2", &p, out,
            limit, n_out, err);
    gh_pg_param_text(&p, gh_correction_status_name(status));
    return pgc_select(st,
                      "SELECT " PGC_COLS PGC_FROM
                      " WHERE c.status = $3 AND c.id < $1 ORDER BY c.id DESC LIMIT $2",
                      &p, out, limit, n_out, err);
}

static int pg_correction_since(struct gh_store *st, int64_t after_id, size_t limit,
                               struct gh_correction *out, size_t *n_out, struct gh_err *err)
{
    struct pg_params p = {.n = 0};

    gh_pg_param_i64(&p, after_id);
    gh_pg_param_i64(&p, (int64_t)limit);
    return pgc_select(st,
                      "SELECT c.id, c.identification_id, c.sha256, c.phash, c.owner, '', c.slug,"
                      " c.previous_slug, c.status, c.created_at, c.decided_at, 0"
                      " FROM corrections c WHERE c.id > $1 AND c.owner <> ''"
                      " ORDER BY c.id LIMIT $2",
                      &p, out, limit, n_out, err);
}

static int pgc_review_tx(struct pg_store *s, struct pg_conn *c, int64_t id, int status, int64_t now,
                         struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_i64(&p, id);
    gh_pg_param_i64(&p, now);
    gh_pg_param_text(&p, gh_correction_status_name(status));
    rc = gh_pg_exec_sql(s, c, "UPDATE corrections SET status = $3, decided_at = $2 WHERE id = $1",
                        &p, &r, "review a correction", err);
    if (rc == GH_OK && gh_pg_changes(r) == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no correction with that id");
    PQclear(r);
    if (rc || (status != GH_CORRECTION_ACCEPTED && status != GH_CORRECTION_APPLIED))
        return rc;
    p.n = 2;
    return gh_pg_exec_sql(s, c,
                          "UPDATE corrections SET status = 'applied', decided_at = $2"
                          " WHERE status = 'pending' AND (sha256, slug) ="
                          " (SELECT sha256, slug FROM corrections WHERE id = $1)",
                          &p, NULL, "apply the agreeing votes", err);
}

static int pg_correction_set_status(struct gh_store *st, int64_t id, int status, int64_t now,
                                    struct gh_err *err)
{
    struct pg_store *s = gh_pg_of(st);
    struct pg_conn *c = NULL;
    int rc = gh_pg_acquire(s, &c, err);

    if (rc)
        return rc;
    rc = gh_pg_sql(s, c, "BEGIN", "begin a review", err);
    if (rc == GH_OK)
        rc = pgc_review_tx(s, c, id, status, now, err);
    rc = gh_pg_end(s, c, rc, "commit a review", err);
    gh_pg_release(s, c);
    return rc;
}

const struct gh_store_corrections_ops gh_store_pg_corrections_ops = {
    .add = pg_correction_add,
    .get = pg_correction_get,
    .list = pg_correction_list,
    .since = pg_correction_since,
    .set_status = pg_correction_set_status,
};
