/* SPDX-License-Identifier: MIT */
/* PostgreSQL backend, part three: the identification history (batched inserts, pages, lookups)
 * and people's corrections, which rewrite an image's cache row in the same transaction. */
#include "pg_internal.h"

#include <stdint.h>
#include <string.h>

static int pg_insert_identification(struct pg_store *s, struct pg_conn *c,
                                    struct gh_identification *rec, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_text(&p, rec->request_id);
    gh_pg_param_i64(&p, rec->created_at);
    gh_pg_param_text(&p, rec->sha256);
    gh_pg_param_i64(&p, (int64_t)rec->phash);
    gh_pg_param_text(&p, rec->equipment_slug);
    gh_pg_param_f64(&p, rec->confidence);
    gh_pg_param_bool(&p, rec->identified);
    gh_pg_param_bool(&p, rec->cached);
    gh_pg_param_text(&p, rec->cache_layer);
    gh_pg_param_i64(&p, rec->cache_distance);
    gh_pg_param_text(&p, rec->provider);
    gh_pg_param_text(&p, rec->model);
    gh_pg_param_f64(&p, rec->processing_ms);
    gh_pg_param_i64(&p, rec->prompt_tokens);
    gh_pg_param_i64(&p, rec->completion_tokens);
    gh_pg_param_text(&p, rec->owner);
    rc = gh_pg_exec(s, c, PG_STMT_RECORD, &p, &r, "record an identification", err);
    if (rc == GH_OK)
        rec->id = gh_pg_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

/* Several records in one transaction: all or none, and one commit for the batch. */
int gh_pg_record_identifications(struct gh_store *st, struct gh_identification *recs, size_t n,
                                 struct gh_err *err)
{
    struct pg_store *s = gh_pg_of(st);
    struct pg_conn *c = NULL;
    int rc, batch = n > 1;

    rc = gh_pg_acquire(s, &c, err);
    if (rc)
        return rc;
    if (batch)
        rc = gh_pg_sql(s, c, "BEGIN", "begin recording identifications", err);
    for (size_t i = 0; rc == GH_OK && i < n; i++)
        rc = pg_insert_identification(s, c, &recs[i], err);
    if (batch)
        rc = gh_pg_end(s, c, rc, "commit identifications", err);
    if (rc) {
        for (size_t i = 0; i < n; i++) /* none was kept */
            recs[i].id = 0;
    }
    gh_pg_release(s, c);
    return rc;
}

void gh_pg_read_ident(const PGresult *r, int row, struct gh_identification *o)
{
    memset(o, 0, sizeof *o);
    o->id = gh_pg_i64(r, row, 0);
    gh_pg_copy_text(o->request_id, sizeof o->request_id, r, row, 1);
    o->created_at = gh_pg_i64(r, row, 2);
    gh_pg_copy_text(o->sha256, sizeof o->sha256, r, row, 3);
    o->phash = (uint64_t)gh_pg_i64(r, row, 4);
    gh_pg_copy_text(o->equipment_slug, sizeof o->equipment_slug, r, row, 5);
    o->confidence = gh_pg_f64(r, row, 6);
    o->identified = gh_pg_bool(r, row, 7);
    o->cached = gh_pg_bool(r, row, 8);
    gh_pg_copy_text(o->cache_layer, sizeof o->cache_layer, r, row, 9);
    o->cache_distance = (int)gh_pg_i64(r, row, 10);
    gh_pg_copy_text(o->provider, sizeof o->provider, r, row, 11);
    gh_pg_copy_text(o->model, sizeof o->model, r, row, 12);
    o->processing_ms = gh_pg_f64(r, row, 13);
    o->prompt_tokens = gh_pg_i64(r, row, 14);
    o->completion_tokens = gh_pg_i64(r, row, 15);
    gh_pg_copy_text(o->corrected_slug, sizeof o->corrected_slug, r, row, 16);
    gh_pg_copy_text(o->owner, sizeof o->owner, r, row, 17);
}

int gh_pg_list_identifications(struct gh_store *st, int64_t before_id, size_t limit,
                               struct gh_identification *out, size_t *n_out, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    size_t n = 0;
    int rc;

    gh_pg_param_i64(&p, before_id > 0 ? before_id : INT64_MAX);
    gh_pg_param_i64(&p, (int64_t)limit);
    rc = gh_pg_run(st, PG_STMT_IDENT_LIST, &p, 0, &r, "list identifications", err);
    for (; rc == GH_OK && n < limit && n < (size_t)PQntuples(r); n++)
        gh_pg_read_ident(r, (int)n, &out[n]);
    *n_out = rc ? 0 : n;
    PQclear(r);
    return rc;
}

int gh_pg_get_identification(struct gh_store *st, int64_t id, const char *request_id,
                             const char *owner, struct gh_identification *out, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    if (id > 0)
        gh_pg_param_i64(&p, id);
    else {
        gh_pg_param_text(&p, request_id);
        gh_pg_param_text(&p, owner); /* NULL: anyone's */
    }
    rc = gh_pg_run(st, id > 0 ? PG_STMT_IDENT_GET : PG_STMT_IDENT_BY_REQUEST, &p, 0, &r,
                   "read an identification", err);
    if (rc == GH_OK && PQntuples(r) == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no identification with that id");
    if (rc == GH_OK)
        gh_pg_read_ident(r, 0, out);
    PQclear(r);
    return rc;
}

static int pg_note_feedback(struct pg_store *s, struct pg_conn *c, int64_t ident_id,
                            const char *slug, int64_t now, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    int rc;

    gh_pg_param_i64(&p, ident_id);
    gh_pg_param_text(&p, slug);
    gh_pg_param_i64(&p, now);
    rc = gh_pg_exec(s, c, PG_STMT_FEEDBACK_INSERT, &p, NULL, "record the feedback", err);
    p.n = 2; /* id and slug again */
    if (rc == GH_OK)
        rc = gh_pg_exec(s, c, PG_STMT_IDENT_CORRECT, &p, NULL, "mark the identification corrected",
                        err);
    return rc;
}

int gh_pg_correct(struct gh_store *st, int64_t ident_id, const struct gh_cache_entry *e,
                  int64_t now, struct gh_err *err)
{
    struct pg_store *s = gh_pg_of(st);
    struct pg_params p = {.n = 0};
    struct pg_conn *c = NULL;
    int rc;

    gh_pg_params_entry(&p, e);
    rc = gh_pg_acquire(s, &c, err);
    if (rc)
        return rc;
    rc = gh_pg_sql(s, c, "BEGIN", "begin a correction", err);
    if (rc == GH_OK)
        rc = pg_note_feedback(s, c, ident_id, e->equipment_slug, now, err);
    if (rc == GH_OK)
        rc = gh_pg_exec(s, c, PG_STMT_CACHE_CORRECT, &p, NULL, "store the corrected answer", err);
    rc = gh_pg_end(s, c, rc, "commit a correction", err);
    gh_pg_release(s, c);
    return rc;
}
