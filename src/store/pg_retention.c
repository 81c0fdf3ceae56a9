/* SPDX-License-Identifier: MIT */
/* PostgreSQL backend, bounded storage (issue 10): the history's retention, deleted in batches
 * so no statement holds row locks for long, and batched hit counters, one UPDATE over unnest()
 * arrays per batch (store_hits.c). */
#include "pg_internal.h"

#include "gh/buf.h"

#include <libpq-fe.h>

#define PRUNE_BATCH 10000

/* One statement on a pooled connection with the long deadline; the result outlives it. */
static int run(struct gh_store *st, const char *sql, const struct pg_params *p, PGresult **out,
               const char *what, struct gh_err *err)
{
    struct pg_store *s = gh_pg_of(st);
    struct pg_conn *c = NULL;
    int rc = gh_pg_acquire(s, &c, err);

    if (rc)
        return rc;
    c->timeout_ms = PG_LONG_TIMEOUT_MS;
    rc = gh_pg_exec_sql(s, c, sql, p, out, what, err);
    gh_pg_release(s, c);
    return rc;
}

/* Runs sql ($1: the cut-off, $2: the batch size) until it deletes fewer than a batch. */
static int delete_batches(struct gh_store *st, const char *sql, int64_t before, int64_t *n,
                          const char *what, struct gh_err *err)
{
    int64_t changed;
    int rc;

    do {
        struct pg_params p = {0};
        PGresult *r = NULL;

        gh_pg_param_i64(&p, before);
        gh_pg_param_i64(&p, PRUNE_BATCH);
        rc = run(st, sql, &p, &r, what, err);
        changed = rc == GH_OK ? gh_pg_changes(r) : 0;
        *n += changed;
        PQclear(r);
    } while (rc == GH_OK && changed >= PRUNE_BATCH);
    return rc;
}

int gh_pg_prune_history(struct gh_store *st, int64_t before_created_at, struct gh_store_pruned *out,
                        struct gh_err *err)
{
    int rc;

    /* Feedback first: it points at identifications (ON DELETE CASCADE would take it too,
     * unbatched). */
    rc = delete_batches(st,
                        "DELETE FROM identification_feedback WHERE id IN (SELECT id FROM"
                        " identification_feedback WHERE created_at < $1 OR identification_id IN"
                        " (SELECT id FROM user_identifications WHERE created_at < $1) LIMIT $2)",
                        before_created_at, &out->feedback, "prune old feedback", err);
    if (rc == GH_OK)
        rc = delete_batches(st,
                            "DELETE FROM user_identifications WHERE id IN (SELECT id FROM"
                            " user_identifications WHERE created_at < $1 LIMIT $2)",
                            before_created_at, &out->identifications, "prune old identifications",
                            err);
    if (rc == GH_OK)
        rc = delete_batches(st,
                            "DELETE FROM quality_samples WHERE id IN (SELECT id FROM"
                            " quality_samples WHERE created_at < $1 LIMIT $2)",
                            before_created_at, &out->quality_samples, "prune old quality samples",
                            err);
    return rc;
}

int gh_pg_add_hits(struct gh_store *st, const struct gh_store_hit *hits, size_t n, int64_t *rows,
                   struct gh_err *err)
{
    struct gh_buf keys, counts, times;
    struct pg_params p = {0};
    PGresult *r = NULL;
    int rc = GH_OK;

    /* Array literals: keys are hex and counts numbers, so nothing needs quoting. */
    gh_buf_init(&keys, (size_t)1 << 24);
    gh_buf_init(&counts, (size_t)1 << 24);
    gh_buf_init(&times, (size_t)1 << 24);
    for (size_t i = 0; i < n; i++) {
        const char *sep = i ? "," : "{";

        gh_buf_printf(&keys, "%s%s", sep, hits[i].sha256);
        gh_buf_printf(&counts, "%s%lld", sep, (long long)hits[i].n);
        gh_buf_printf(&times, "%s%lld", sep, (long long)hits[i].last_at);
    }
    gh_buf_puts(&keys, "}");
    gh_buf_puts(&counts, "}");
    if (gh_buf_puts(&times, "}") || keys.rc || counts.rc) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory writing hit counters");
        goto out;
    }
    gh_pg_param_text(&p, keys.data);
    gh_pg_param_text(&p, counts.data);
    gh_pg_param_text(&p, times.data);
    rc = run(st,
             "UPDATE equipment_cache c SET hits = c.hits + u.n,"
             " last_hit_at = greatest(c.last_hit_at, u.at)"
             " FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(sha, n, at)"
             " WHERE c.sha256 = u.sha",
             &p, &r, "write hit counters", err);
    if (rc == GH_OK)
        *rows += gh_pg_changes(r);
    PQclear(r);
out:
    gh_buf_fini(&keys);
    gh_buf_fini(&counts);
    gh_buf_fini(&times);
    return rc;
}
