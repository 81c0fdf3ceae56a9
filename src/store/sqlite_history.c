/* SPDX-License-Identifier: MIT */
/* SQLite backend, part two: the identification history (batched inserts, pages, lookups) and
 * people's corrections, which rewrite an image's cache row in the same transaction. */
#include "sqlite_internal.h"

#include "gh/phash.h"

#include <stdint.h>
#include <string.h>

static int sq_insert_identification(struct sq_conn *c, struct gh_identification *rec,
                                    struct gh_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc, bad = 0;

    rc = gh_sq_stmt(c, SQ_STMT_RECORD, &q, err);
    if (rc)
        return rc;
    bad |= gh_sq_bind_text(q, 1, rec->request_id);
    bad |= sqlite3_bind_int64(q, 2, rec->created_at);
    bad |= gh_sq_bind_text(q, 3, rec->sha256);
    bad |= sqlite3_bind_int64(q, 4, gh_sq_i64(rec->phash));
    bad |= gh_sq_bind_text(q, 5, rec->equipment_slug);
    bad |= sqlite3_bind_double(q, 6, rec->confidence);
    bad |= sqlite3_bind_int(q, 7, rec->identified);
    bad |= sqlite3_bind_int(q, 8, rec->cached);
    bad |= gh_sq_bind_text(q, 9, rec->cache_layer);
    bad |= sqlite3_bind_int(q, 10, rec->cache_distance);
    bad |= gh_sq_bind_text(q, 11, rec->provider);
    bad |= gh_sq_bind_text(q, 12, rec->model);
    bad |= sqlite3_bind_double(q, 13, rec->processing_ms);
    bad |= sqlite3_bind_int64(q, 14, rec->prompt_tokens);
    bad |= sqlite3_bind_int64(q, 15, rec->completion_tokens);
    bad |= gh_sq_bind_text(q, 16, rec->owner);
    if (bad || gh_sq_step(q) != SQLITE_ROW) {
        rc = gh_sq_fail(err, c->db, "record an identification");
        goto out;
    }
    rec->id = sqlite3_column_int64(q, 0);
    if (gh_sq_step(q) != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "record an identification");
out:
    gh_sq_done(q);
    return rc;
}

/* Several records in one transaction: one WAL commit instead of one per cache hit. */
int gh_sq_record_identifications(struct gh_store *st, struct gh_identification *recs, size_t n,
                                 struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    int rc = GH_OK, batch = n > 1;

    if (batch && gh_sq_exec(c->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = gh_sq_fail(err, c->db, "begin recording identifications");
        goto out;
    }
    for (size_t i = 0; rc == GH_OK && i < n; i++)
        rc = sq_insert_identification(c, &recs[i], err);
    if (batch)
        rc = gh_sq_end(c, rc, "commit identifications", err);
out:
    gh_sq_release(s, c);
    return rc;
}

void gh_sq_read_ident(sqlite3_stmt *q, struct gh_identification *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(q, 0);
    gh_sq_copy_text(r->request_id, sizeof r->request_id, q, 1);
    r->created_at = sqlite3_column_int64(q, 2);
    gh_sq_copy_text(r->sha256, sizeof r->sha256, q, 3);
    r->phash = gh_sq_u64(sqlite3_column_int64(q, 4));
    gh_sq_copy_text(r->equipment_slug, sizeof r->equipment_slug, q, 5);
    r->confidence = sqlite3_column_double(q, 6);
    r->identified = sqlite3_column_int(q, 7);
    r->cached = sqlite3_column_int(q, 8);
    gh_sq_copy_text(r->cache_layer, sizeof r->cache_layer, q, 9);
    r->cache_distance = sqlite3_column_int(q, 10);
    gh_sq_copy_text(r->provider, sizeof r->provider, q, 11);
    gh_sq_copy_text(r->model, sizeof r->model, q, 12);
    r->processing_ms = sqlite3_column_double(q, 13);
    r->prompt_tokens = sqlite3_column_int64(q, 14);
    r->completion_tokens = sqlite3_column_int64(q, 15);
    gh_sq_copy_text(r->corrected_slug, sizeof r->corrected_slug, q, 16);
    gh_sq_copy_text(r->owner, sizeof r->owner, q, 17);
}

int gh_sq_list_identifications(struct gh_store *st, int64_t before_id, size_t limit,
                               struct gh_identification *out, size_t *n_out, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    size_t n = 0;
    int rc, step;

    rc = gh_sq_stmt(c, SQ_STMT_IDENT_LIST, &q, err);
    if (rc)
        goto out;
    if (sqlite3_bind_int64(q, 1, before_id > 0 ? before_id : INT64_MAX) ||
        sqlite3_bind_int64(q, 2, (sqlite3_int64)limit)) {
        rc = gh_sq_fail(err, c->db, "list identifications");
        goto out;
    }
    while (n < limit && (step = gh_sq_step(q)) == SQLITE_ROW)
        gh_sq_read_ident(q, &out[n++]);
    if (n < limit && step != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "list identifications");
out:
    *n_out = rc ? 0 : n;
    gh_sq_done(q);
    gh_sq_release(s, c);
    return rc;
}

int gh_sq_get_identification(struct gh_store *st, int64_t id, const char *request_id,
                             const char *owner, struct gh_identification *out, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    int rc, step, bad;

    rc = gh_sq_stmt(c, id > 0 ? SQ_STMT_IDENT_GET : SQ_STMT_IDENT_BY_REQUEST, &q, err);
    if (rc)
        goto out;
    bad = id > 0 ? sqlite3_bind_int64(q, 1, id)
                 : gh_sq_bind_text(q, 1, request_id) || gh_sq_bind_text(q, 2, owner);
    step = bad ? SQLITE_ERROR : gh_sq_step(q);
    if (step == SQLITE_ROW)
        gh_sq_read_ident(q, out);
    else if (step == SQLITE_DONE)
        rc = gh_err_set(err, GH_ENOTFOUND, "no identification with that id");
    else
        rc = gh_sq_fail(err, c->db, "read an identification");
out:
    gh_sq_done(q);
    gh_sq_release(s, c);
    return rc;
}

/* Writes the corrected answer into the cache row of its image (creating it if it expired). */
static int sq_correct_cache(struct sq_conn *c, const struct gh_cache_entry *e, struct gh_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;

    rc = gh_sq_stmt(c, SQ_STMT_CACHE_CORRECT, &q, err);
    if (rc)
        return rc;
    if (gh_sq_bind_entry(q, e) || gh_sq_step(q) != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "store the corrected answer");
    gh_sq_done(q);
    return rc;
}

static int sq_note_feedback(struct sq_conn *c, int64_t ident_id, const char *slug, int64_t now,
                            struct gh_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;

    rc = gh_sq_stmt(c, SQ_STMT_FEEDBACK_INSERT, &q, err);
    if (rc)
        return rc;
    if (sqlite3_bind_int64(q, 1, ident_id) || gh_sq_bind_text(q, 2, slug) ||
        sqlite3_bind_int64(q, 3, now) || gh_sq_step(q) != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "record the feedback");
    gh_sq_done(q);
    if (rc)
        return rc;
    rc = gh_sq_stmt(c, SQ_STMT_IDENT_CORRECT, &q, err);
    if (rc)
        return rc;
    if (sqlite3_bind_int64(q, 1, ident_id) || gh_sq_bind_text(q, 2, slug) ||
        gh_sq_step(q) != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "mark the identification corrected");
    gh_sq_done(q);
    return rc;
}

int gh_sq_correct(struct gh_store *st, int64_t ident_id, const struct gh_cache_entry *e,
                  int64_t now, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    int rc = GH_OK;

    if (gh_sq_exec(c->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = gh_sq_fail(err, c->db, "begin a correction");
        goto out;
    }
    rc = sq_note_feedback(c, ident_id, e->equipment_slug, now, err);
    if (rc == GH_OK)
        rc = sq_correct_cache(c, e, err);
    rc = gh_sq_end(c, rc, "commit a correction", err);
out:
    gh_sq_release(s, c);
    return rc;
}
