/* SPDX-License-Identifier: MIT */
/* SQLite backend, visual memory: remembered photos' int8 embeddings as BLOBs, read back in id
 * order so instances sharing the file pull each other's additions incrementally. Statements
 * are prepared per call: these run once per provider call and once per refresh, not per
 * request. */
#include "sqlite_internal.h"

#include "gh/recognition.h"

#include <string.h>

#define SQ_VMEM_COLS "id, created_at, sha256, slug, source, model, dim, scale, vec"

static int sq_prepare(struct sq_conn *c, const char *sql, sqlite3_stmt **q, const char *what,
                      struct gh_err *err)
{
    if (sqlite3_prepare_v2(c->db, sql, -1, q, NULL) != SQLITE_OK)
        return gh_sq_fail(err, c->db, what);
    return GH_OK;
}

int gh_sq_vmem_add(struct gh_store *st, struct gh_vmem_row *row, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    int rc, bad = 0;

    rc =
        sq_prepare(c,
                   "INSERT INTO visual_memory (created_at, sha256, slug, source, model, dim, scale,"
                   " vec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                   &q, "remember a photo", err);
    if (rc)
        goto out;
    bad |= sqlite3_bind_int64(q, 1, row->created_at);
    bad |= gh_sq_bind_text(q, 2, row->sha256);
    bad |= gh_sq_bind_text(q, 3, row->slug);
    bad |= gh_sq_bind_text(q, 4, row->source);
    bad |= gh_sq_bind_text(q, 5, row->model);
    bad |= sqlite3_bind_int(q, 6, row->dim);
    bad |= sqlite3_bind_double(q, 7, row->scale);
    bad |= sqlite3_bind_blob(q, 8, row->vec, row->dim, SQLITE_TRANSIENT);
    if (bad || gh_sq_step(q) != SQLITE_ROW) {
        rc = gh_sq_fail(err, c->db, "remember a photo");
        goto out;
    }
    row->id = sqlite3_column_int64(q, 0);
    if (gh_sq_step(q) != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "remember a photo");
out:
    sqlite3_finalize(q);
    gh_sq_release(s, c);
    return rc;
}

/* 1 when the row is whole: a vector of dim bytes. */
static int sq_read_row(sqlite3_stmt *q, struct gh_vmem_row *r)
{
    const void *blob;
    int n;

    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(q, 0);
    r->created_at = sqlite3_column_int64(q, 1);
    gh_sq_copy_text(r->sha256, sizeof r->sha256, q, 2);
    gh_sq_copy_text(r->slug, sizeof r->slug, q, 3);
    gh_sq_copy_text(r->source, sizeof r->source, q, 4);
    gh_sq_copy_text(r->model, sizeof r->model, q, 5);
    r->dim = sqlite3_column_int(q, 6);
    r->scale = (float)sqlite3_column_double(q, 7);
    blob = sqlite3_column_blob(q, 8);
    n = sqlite3_column_bytes(q, 8);
    if (!blob || r->dim < 1 || r->dim > GH_STORE_VMEM_DIM_MAX || n != r->dim)
        return 0;
    memcpy(r->vec, blob, (size_t)n);
    return 1;
}

int gh_sq_vmem_list(struct gh_store *st, const char *model, int64_t after_id,
                    int64_t min_created_at, size_t limit, struct gh_vmem_row *out, size_t *n_out,
                    struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    int rc, step;

    rc = sq_prepare(c,
                    "SELECT " SQ_VMEM_COLS " FROM visual_memory WHERE model = ?1 AND id > ?2"
                    " AND created_at >= ?3 AND source IN ('" GH_VMEM_SOURCE_PROVIDER
                    "', '" GH_VMEM_SOURCE_TRUSTED "', '" GH_VMEM_SOURCE_QUORUM "')"
                    " ORDER BY id LIMIT ?4",
                    &q, "read the visual memory", err);
    if (rc)
        goto out;
    if (gh_sq_bind_text(q, 1, model) || sqlite3_bind_int64(q, 2, after_id) ||
        sqlite3_bind_int64(q, 3, min_created_at) ||
        sqlite3_bind_int64(q, 4, (sqlite3_int64)limit)) {
        rc = gh_sq_fail(err, c->db, "read the visual memory");
        goto out;
    }
    while ((step = gh_sq_step(q)) == SQLITE_ROW)
        if (sq_read_row(q, &out[*n_out]))
            (*n_out)++;
    if (step != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "read the visual memory");
out:
    sqlite3_finalize(q);
    gh_sq_release(s, c);
    return rc;
}

static int sq_run_delete(struct sq_conn *c, const char *sql, int64_t v, int64_t *n,
                         struct gh_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sq_prepare(c, sql, &q, "prune the visual memory", err);

    if (rc)
        return rc;
    if (sqlite3_bind_int64(q, 1, v) || gh_sq_step(q) != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "prune the visual memory");
    else
        *n += sqlite3_changes(c->db);
    sqlite3_finalize(q);
    return rc;
}

int gh_sq_vmem_prune(struct gh_store *st, int64_t before_created_at, int64_t keep_max,
                     int64_t *n_deleted, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    int rc;

    rc = sq_run_delete(c, "DELETE FROM visual_memory WHERE created_at < ?1", before_created_at,
                       n_deleted, err);
    if (rc == GH_OK && keep_max > 0)
        rc = sq_run_delete(c,
                           "DELETE FROM visual_memory WHERE id <= (SELECT id FROM visual_memory"
                           " ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                           keep_max, n_deleted, err);
    gh_sq_release(s, c);
    return rc;
}

/* ---- measured escalation: CLIP's answer beside the paid model's ---- */

#define GH_QUALITY_SQL(P)                                                                          \
    "SELECT bucket, shadow, count(*), sum(CASE WHEN clip_slug = CASE WHEN corr <> '' THEN corr"    \
    " ELSE paid_slug END THEN 1 ELSE 0 END), sum(CASE WHEN corr <> '' THEN 1 ELSE 0 END) FROM"     \
    " (SELECT q.bucket, q.shadow, q.clip_slug, q.paid_slug, coalesce((SELECT c.slug"               \
    " FROM corrections c WHERE c.sha256 = q.sha256 AND c.status IN ('applied', 'accepted')"        \
    " ORDER BY c.decided_at DESC, c.id DESC LIMIT 1), '') AS corr FROM quality_samples q WHERE "   \
    "q.created_at >= " P ") s GROUP BY bucket, shadow"

int gh_sq_quality_add(struct gh_store *st, const struct gh_quality_sample *qs, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    int b = (int)(qs->clip_confidence * GH_QUALITY_BUCKETS), rc, bad = 0;

    rc = sq_prepare(c,
                    "INSERT INTO quality_samples (created_at, sha256, clip_slug, clip_confidence,"
                    " bucket, paid_slug, shadow) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    &q, "record a quality sample", err);
    if (rc)
        goto out;
    bad |= sqlite3_bind_int64(q, 1, qs->created_at);
    bad |= gh_sq_bind_text(q, 2, qs->sha256);
    bad |= gh_sq_bind_text(q, 3, qs->clip_slug);
    bad |= sqlite3_bind_double(q, 4, qs->clip_confidence);
    bad |= sqlite3_bind_int(q, 5, b < GH_QUALITY_BUCKETS ? b : GH_QUALITY_BUCKETS - 1);
    bad |= gh_sq_bind_text(q, 6, qs->paid_slug);
    bad |= sqlite3_bind_int(q, 7, qs->shadow != 0);
    if (bad || gh_sq_step(q) != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "record a quality sample");
out:
    sqlite3_finalize(q);
    gh_sq_release(s, c);
    return rc;
}

int gh_sq_quality_buckets(struct gh_store *st, int64_t since, struct gh_quality_bucket *out,
                          struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    int rc, step;

    rc = sq_prepare(c, GH_QUALITY_SQL("?1"), &q, "read the quality samples", err);
    if (rc)
        goto out;
    if (sqlite3_bind_int64(q, 1, since)) {
        rc = gh_sq_fail(err, c->db, "read the quality samples");
        goto out;
    }
    while ((step = gh_sq_step(q)) == SQLITE_ROW) {
        int b = sqlite3_column_int(q, 0);
        struct gh_quality_bucket *o = &out[b >= 0 && b < GH_QUALITY_BUCKETS ? b : 0];

        if (sqlite3_column_int(q, 1)) {
            o->shadow += sqlite3_column_int64(q, 2);
            o->agree_shadow += sqlite3_column_int64(q, 3);
        } else {
            o->escalated += sqlite3_column_int64(q, 2);
            o->agree_escalated += sqlite3_column_int64(q, 3);
        }
        o->corrected += sqlite3_column_int64(q, 4);
    }
    if (step != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "read the quality samples");
out:
    sqlite3_finalize(q);
    gh_sq_release(s, c);
    return rc;
}
