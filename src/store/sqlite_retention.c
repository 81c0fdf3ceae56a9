/* SPDX-License-Identifier: MIT */
/* SQLite backend, bounded storage (issue 10): the history's retention, deleted in batches so
 * the single writer is never held for long, and batched hit counters (store_hits.c). */
#include "sqlite_internal.h"

#include <sqlite3.h>

#define PRUNE_BATCH 10000

/* Runs sql (?1: the cut-off, ?2: the batch size) until it deletes fewer than a batch; adds
 * what it deleted to *n. */
static int delete_batches(struct sq_conn *c, const char *sql, int64_t before, int64_t *n,
                          const char *what, struct gh_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc = GH_OK, changed;

    if (sqlite3_prepare_v2(c->db, sql, -1, &q, NULL) != SQLITE_OK)
        return gh_sq_fail(err, c->db, what);
    do {
        sqlite3_reset(q);
        if (sqlite3_bind_int64(q, 1, before) || sqlite3_bind_int(q, 2, PRUNE_BATCH) ||
            gh_sq_step(q) != SQLITE_DONE) {
            rc = gh_sq_fail(err, c->db, what);
            break;
        }
        changed = sqlite3_changes(c->db);
        *n += changed;
    } while (changed >= PRUNE_BATCH);
    sqlite3_finalize(q);
    return rc;
}

int gh_sq_prune_history(struct gh_store *st, int64_t before_created_at, struct gh_store_pruned *out,
                        struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    int rc;

    /* Feedback first: it points at identifications, and a correction given after the cut-off
     * on an older identification goes with it. */
    rc = delete_batches(c,
                        "DELETE FROM identification_feedback WHERE id IN (SELECT id FROM"
                        " identification_feedback WHERE created_at < ?1 OR identification_id IN"
                        " (SELECT id FROM user_identifications WHERE created_at < ?1) LIMIT ?2)",
                        before_created_at, &out->feedback, "prune old feedback", err);
    if (rc == GH_OK)
        rc = delete_batches(c,
                            "DELETE FROM user_identifications WHERE id IN (SELECT id FROM"
                            " user_identifications WHERE created_at < ?1 LIMIT ?2)",
                            before_created_at, &out->identifications, "prune old identifications",
                            err);
    if (rc == GH_OK)
        rc = delete_batches(c,
                            "DELETE FROM quality_samples WHERE id IN (SELECT id FROM"
                            " quality_samples WHERE created_at < ?1 LIMIT ?2)",
                            before_created_at, &out->quality_samples, "prune old quality samples",
                            err);
    gh_sq_release(s, c);
    return rc;
}

int gh_sq_add_hits(struct gh_store *st, const struct gh_store_hit *hits, size_t n, int64_t *rows,
                   struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    int rc = GH_OK;

    if (gh_sq_exec(c->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = gh_sq_fail(err, c->db, "begin writing hit counters");
        goto out;
    }
    if (sqlite3_prepare_v2(c->db,
                           "UPDATE equipment_cache SET hits = hits + ?2,"
                           " last_hit_at = max(last_hit_at, ?3) WHERE sha256 = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        rc = gh_sq_fail(err, c->db, "write hit counters");
    for (size_t i = 0; rc == GH_OK && i < n; i++) {
        sqlite3_reset(q);
        if (gh_sq_bind_text(q, 1, hits[i].sha256) || sqlite3_bind_int64(q, 2, hits[i].n) ||
            sqlite3_bind_int64(q, 3, hits[i].last_at) || gh_sq_step(q) != SQLITE_DONE)
            rc = gh_sq_fail(err, c->db, "write hit counters");
        else
            *rows += sqlite3_changes(c->db);
    }
    sqlite3_finalize(q);
    rc = gh_sq_end(c, rc, "write hit counters", err);
    if (rc)
        *rows = 0;
out:
    gh_sq_release(s, c);
    return rc;
}
