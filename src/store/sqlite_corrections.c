/* SPDX-License-Identifier: MIT */
/* SQLite backend, corrections (gh/store_corrections.h): votes per owner and photo, their count
 * and review state. Statements are prepared per call: they run on feedback, on review and on
 * each instance's pull of new corrections, not per analysis. */
#include "sqlite_internal.h"

#include <string.h>

/* The columns sqc_read expects; u is the owner's user row (LEFT JOIN), c the correction. */
#define SQC_COLS                                                                                   \
    "c.id, c.identification_id, c.sha256, c.phash, c.owner, coalesce(u.username, ''), c.slug,"     \
    " c.previous_slug, c.status, c.created_at, c.decided_at,"                                      \
    " (SELECT count(*) FROM corrections v WHERE v.sha256 = c.sha256 AND v.slug = c.slug"           \
    " AND v.status <> 'rejected')"
#define SQC_FROM                                                                                   \
    " FROM corrections c LEFT JOIN users u ON c.owner LIKE 'user:%'"                               \
    " AND u.id = CAST(substr(c.owner, 6) AS INTEGER)"

static void sqc_read(sqlite3_stmt *q, struct gh_correction *c)
{
    char status[16];

    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(q, 0);
    c->identification_id = sqlite3_column_int64(q, 1);
    gh_sq_copy_text(c->sha256, sizeof c->sha256, q, 2);
    c->phash = gh_sq_u64(sqlite3_column_int64(q, 3));
    gh_sq_copy_text(c->owner, sizeof c->owner, q, 4);
    gh_sq_copy_text(c->username, sizeof c->username, q, 5);
    gh_sq_copy_text(c->slug, sizeof c->slug, q, 6);
    gh_sq_copy_text(c->previous_slug, sizeof c->previous_slug, q, 7);
    gh_sq_copy_text(status, sizeof status, q, 8);
    c->status = gh_correction_status_parse(status);
    c->created_at = sqlite3_column_int64(q, 9);
    c->decided_at = sqlite3_column_int64(q, 10);
    c->votes = sqlite3_column_int64(q, 11);
}

static int sqc_prep(struct sq_conn *c, const char *sql, sqlite3_stmt **q, const char *what,
                    struct gh_err *err)
{
    *q = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, q, NULL) != SQLITE_OK)
        return gh_sq_fail(err, c->db, what);
    return GH_OK;
}

/* Steps q to the end; *changes gets the rows it changed (may be NULL). Finalizes q. */
static int sqc_done(struct sq_conn *c, sqlite3_stmt *q, int bad, int64_t *changes, const char *what,
                    struct gh_err *err)
{
    int rc = GH_OK;

    if (bad || gh_sq_step(q) != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, what);
    else if (changes)
        *changes = sqlite3_changes(c->db);
    sqlite3_finalize(q);
    return rc;
}

/* Deletes owner's earlier vote for the photo. Once an admin rejected it, the owner's later votes
 * for that photo stay rejected, whatever their slug: a reject would otherwise last only until
 * the voter votes again. */
static int sqc_replace(struct sq_conn *c, struct gh_correction *v, struct gh_err *err)
{
    sqlite3_stmt *q;
    int rc, bad, step;

    rc = sqc_prep(c,
                  "DELETE FROM corrections WHERE owner = ?1 AND sha256 = ?2"
                  " RETURNING status, decided_at",
                  &q, "replace an earlier correction", err);
    if (rc)
        return rc;
    bad = gh_sq_bind_text(q, 1, v->owner) | gh_sq_bind_text(q, 2, v->sha256);
    while (!bad && (step = gh_sq_step(q)) == SQLITE_ROW)
        gh_store_correction_keep_rejected(v, (const char *)sqlite3_column_text(q, 0),
                                          sqlite3_column_int64(q, 1));
    if (bad || step != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "replace an earlier correction");
    sqlite3_finalize(q);
    return rc;
}

static int sqc_insert(struct sq_conn *c, struct gh_correction *v, struct gh_err *err)
{
    sqlite3_stmt *q;
    int rc, bad;

    rc = sqc_replace(c, v, err);
    if (rc)
        return rc;
    rc = sqc_prep(c,
                  "INSERT INTO corrections (identification_id, sha256, phash, owner, slug,"
                  " previous_slug, status, created_at, decided_at)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
                  &q, "record a correction", err);
    if (rc)
        return rc;
    bad = sqlite3_bind_int64(q, 1, v->identification_id) | gh_sq_bind_text(q, 2, v->sha256) |
          sqlite3_bind_int64(q, 3, gh_sq_i64(v->phash)) | gh_sq_bind_text(q, 4, v->owner) |
          gh_sq_bind_text(q, 5, v->slug) | gh_sq_bind_text(q, 6, v->previous_slug) |
          gh_sq_bind_text(q, 7, gh_correction_status_name(v->status)) |
          sqlite3_bind_int64(q, 8, v->created_at) | sqlite3_bind_int64(q, 9, v->decided_at);
    if (!bad && gh_sq_step(q) == SQLITE_ROW)
        v->id = sqlite3_column_int64(q, 0);
    else
        rc = gh_sq_fail(err, c->db, "record a correction");
    sqlite3_finalize(q);
    return rc;
}

/* The history: the identification shows the correction, the feedback log keeps it. */
static int sqc_note(struct sq_conn *c, const struct gh_correction *v, struct gh_err *err)
{
    sqlite3_stmt *q;
    int rc, bad;

    rc = sqc_prep(c, "UPDATE user_identifications SET corrected_slug = ?2 WHERE id = ?1", &q,
                  "mark the identification corrected", err);
    if (rc)
        return rc;
    bad = sqlite3_bind_int64(q, 1, v->identification_id) | gh_sq_bind_text(q, 2, v->slug);
    rc = sqc_done(c, q, bad, NULL, "mark the identification corrected", err);
    if (rc)
        return rc;
    rc = sqc_prep(c,
                  "INSERT INTO identification_feedback (identification_id, slug, created_at)"
                  " VALUES (?1, ?2, ?3)",
                  &q, "record the feedback", err);
    if (rc)
        return rc;
    bad = sqlite3_bind_int64(q, 1, v->identification_id) | gh_sq_bind_text(q, 2, v->slug) |
          sqlite3_bind_int64(q, 3, v->created_at);
    return sqc_done(c, q, bad, NULL, "record the feedback", err);
}

static int sqc_count(struct sq_conn *c, struct gh_correction *v, struct gh_err *err)
{
    sqlite3_stmt *q;
    int rc, bad;

    rc = sqc_prep(c,
                  "SELECT count(*) FROM corrections WHERE sha256 = ?1 AND slug = ?2"
                  " AND status <> 'rejected'",
                  &q, "count the votes", err);
    if (rc)
        return rc;
    bad = gh_sq_bind_text(q, 1, v->sha256) | gh_sq_bind_text(q, 2, v->slug);
    if (!bad && gh_sq_step(q) == SQLITE_ROW)
        v->votes = sqlite3_column_int64(q, 0);
    else
        rc = gh_sq_fail(err, c->db, "count the votes");
    sqlite3_finalize(q);
    return rc;
}

static int sq_correction_add(struct gh_store *st, struct gh_correction *v, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    int rc = GH_OK;

    if (gh_sq_exec(c->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = gh_sq_fail(err, c->db, "begin a correction");
        goto out;
    }
    rc = sqc_insert(c, v, err);
    if (rc == GH_OK)
        rc = sqc_note(c, v, err);
    if (rc == GH_OK)
        rc = sqc_count(c, v, err);
    rc = gh_sq_end(c, rc, "commit a correction", err);
out:
    gh_sq_release(s, c);
    return rc;
}

/* Runs a SELECT of SQC_COLS bound to a[0..n) and reads up to cap rows into out. */
static int sqc_select(struct gh_store *st, const char *sql, const int64_t *a, int n,
                      const char *status, struct gh_correction *out, size_t cap, size_t *n_out,
                      struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q;
    size_t got = 0;
    int rc, step = SQLITE_DONE, bad = 0;

    rc = sqc_prep(c, sql, &q, "read corrections", err);
    if (rc)
        goto out;
    for (int i = 0; i < n; i++)
        bad |= sqlite3_bind_int64(q, i + 1, a[i]);
    if (status)
        bad |= gh_sq_bind_text(q, n + 1, status);
    while (!bad && got < cap && (step = gh_sq_step(q)) == SQLITE_ROW)
        sqc_read(q, &out[got++]);
    if (bad || (got < cap && step != SQLITE_DONE))
        rc = gh_sq_fail(err, c->db, "read corrections");
    sqlite3_finalize(q);
out:
    gh_sq_release(s, c);
    *n_out = rc ? 0 : got;
    return rc;
}

static int sq_correction_get(struct gh_store *st, int64_t id, struct gh_correction *out,
                             struct gh_err *err)
{
    size_t n = 0;
    int rc = sqc_select(st, "SELECT " SQC_COLS SQC_FROM " WHERE c.id = ?1", &id, 1, NULL, out, 1,
                        &n, err);

    if (rc == GH_OK && n == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no correction with that id");
    return rc;
}

static int sq_correction_list(struct gh_store *st, int status, int64_t before_id, size_t limit,
                              struct gh_correction *out, size_t *n_out, struct gh_err *err)
{
    int64_t a[2] = {before_id, (int64_t)limit};

    if (status < 0)
        return sqc_select(
            st, "SELECT " SQC_COLS SQC_FROM " WHERE c.id < ?1 ORDER BY c.id DESC LIMIT ?2", a, 2,
            NULL, out, limit, n_out, err);
    return sqc_select(st,
                      "SELECT " SQC_COLS SQC_FROM
                      " WHERE c.status = ?3 AND c.id < ?1 ORDER BY c.id DESC LIMIT ?2",
                      a, 2, gh_correction_status_name(status), out, limit, n_out, err);
}

static int sq_correction_since(struct gh_store *st, int64_t after_id, size_t limit,
                               struct gh_correction *out, size_t *n_out, struct gh_err *err)
{
    int64_t a[2] = {after_id, (int64_t)limit};

    /* username and votes are not needed here: a plain scan of the primary key */
    return sqc_select(st,
                      "SELECT c.id, c.identification_id, c.sha256, c.phash, c.owner, '', c.slug,"
                      " c.previous_slug, c.status, c.created_at, c.decided_at, 0"
                      " FROM corrections c WHERE c.id > ?1 AND c.owner <> ''"
                      " ORDER BY c.id LIMIT ?2",
                      a, 2, NULL, out, limit, n_out, err);
}

static int sq_correction_set_status(struct gh_store *st, int64_t id, int status, int64_t now,
                                    struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    int64_t changes = 0;
    sqlite3_stmt *q;
    int rc = GH_OK, bad;

    if (gh_sq_exec(c->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = gh_sq_fail(err, c->db, "begin a review");
        goto out;
    }
    rc = sqc_prep(c, "UPDATE corrections SET status = ?2, decided_at = ?3 WHERE id = ?1", &q,
                  "review a correction", err);
    if (rc == GH_OK) {
        bad = sqlite3_bind_int64(q, 1, id) |
              gh_sq_bind_text(q, 2, gh_correction_status_name(status)) |
              sqlite3_bind_int64(q, 3, now);
        rc = sqc_done(c, q, bad, &changes, "review a correction", err);
    }
    if (rc == GH_OK && changes == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no correction with that id");
    if (rc == GH_OK && (status == GH_CORRECTION_ACCEPTED || status == GH_CORRECTION_APPLIED)) {
        rc = sqc_prep(c,
                      "UPDATE corrections SET status = 'applied', decided_at = ?2"
                      " WHERE status = 'pending' AND (sha256, slug) ="
                      " (SELECT sha256, slug FROM corrections WHERE id = ?1)",
                      &q, "apply the agreeing votes", err);
        if (rc == GH_OK)
            rc = sqc_done(c, q, sqlite3_bind_int64(q, 1, id) | sqlite3_bind_int64(q, 2, now), NULL,
                          "apply the agreeing votes", err);
    }
    rc = gh_sq_end(c, rc, "commit a review", err);
out:
    gh_sq_release(s, c);
    return rc;
}

const struct gh_store_corrections_ops gh_store_sqlite_corrections_ops = {
    .add = sq_correction_add,
    .get = sq_correction_get,
    .list = sq_correction_list,
    .since = sq_correction_since,
    .set_status = sq_correction_set_status,
};
