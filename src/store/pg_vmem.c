/* SPDX-License-Identifier: MIT */
/* PostgreSQL backend, visual memory: remembered photos' int8 embeddings as bytea (hex in
 * text-format parameters and results), read in id order so every instance pulls the others'
 * additions. Unprepared statements: they run once per provider call or refresh, not per
 * request. */
#include "pg_internal.h"

#include "gh/alloc.h"
#include "gh/recognition.h"

#include <stdio.h>
#include <string.h>

#define GH_PG_QUALITY_SQL                                                                          \
    "SELECT bucket, shadow, count(*), sum(CASE WHEN clip_slug = CASE WHEN corr <> '' THEN corr"    \
    " ELSE paid_slug END THEN 1 ELSE 0 END), sum(CASE WHEN corr <> '' THEN 1 ELSE 0 END) FROM"     \
    " (SELECT q.bucket, q.shadow, q.clip_slug, q.paid_slug, coalesce((SELECT c.slug"               \
    " FROM corrections c WHERE c.sha256 = q.sha256 AND c.status IN ('applied', 'accepted')"        \
    " ORDER BY c.decided_at DESC, c.id DESC LIMIT 1), '') AS corr FROM quality_samples q WHERE "   \
    "q.created_at >= $1"                                                                           \
    ") s GROUP BY bucket, shadow"

#define PG_VMEM_COLS "id, created_at, sha256, slug, source, model, dim, scale, vec"

/* One statement on a pooled connection; the result outlives it. */
static int pg_vmem_run(struct gh_store *st, const char *sql, const struct pg_params *p,
                       PGresult **out, const char *what, struct gh_err *err)
{
    struct pg_store *s = gh_pg_of(st);
    struct pg_conn *c = NULL;
    int rc = gh_pg_acquire(s, &c, err);

    if (rc)
        return rc;
    rc = gh_pg_exec_sql(s, c, sql, p, out, what, err);
    gh_pg_release(s, c);
    return rc;
}

static const char hexd[] = "0123456789abcdef";

int gh_pg_vmem_add(struct gh_store *st, struct gh_vmem_row *row, struct gh_err *err)
{
    struct pg_params p = {0};
    PGresult *r = NULL;
    char *hex = gh_malloc(2 * (size_t)row->dim + 3);
    int rc;

    if (!hex)
        return gh_err_set(err, GH_ENOMEM, "out of memory for an embedding");
    hex[0] = '\\';
    hex[1] = 'x';
    for (int i = 0; i < row->dim; i++) {
        uint8_t b = (uint8_t)row->vec[i];

        hex[2 + 2 * i] = hexd[b >> 4];
        hex[3 + 2 * i] = hexd[b & 15];
    }
    hex[2 + 2 * row->dim] = '\0';
    gh_pg_param_i64(&p, row->created_at);
    gh_pg_param_text(&p, row->sha256);
    gh_pg_param_text(&p, row->slug);
    gh_pg_param_text(&p, row->source);
    gh_pg_param_text(&p, row->model);
    gh_pg_param_i64(&p, row->dim);
    gh_pg_param_f64(&p, row->scale);
    gh_pg_param_text(&p, hex);
    rc = pg_vmem_run(st,
                     "INSERT INTO visual_memory (created_at, sha256, slug, source, model, dim,"
                     " scale, vec) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                     &p, &r, "remember a photo", err);
    if (rc == GH_OK)
        row->id = gh_pg_i64(r, 0, 0);
    PQclear(r);
    gh_free(hex);
    return rc;
}

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 1 when the row is whole: "\x" and 2 * dim hex digits. */
static int pg_read_row(const PGresult *r, int i, struct gh_vmem_row *row)
{
    const char *v = PQgetvalue(r, i, 8);

    memset(row, 0, sizeof *row);
    row->id = gh_pg_i64(r, i, 0);
    row->created_at = gh_pg_i64(r, i, 1);
    gh_pg_copy_text(row->sha256, sizeof row->sha256, r, i, 2);
    gh_pg_copy_text(row->slug, sizeof row->slug, r, i, 3);
    gh_pg_copy_text(row->source, sizeof row->source, r, i, 4);
    gh_pg_copy_text(row->model, sizeof row->model, r, i, 5);
    row->dim = (int)gh_pg_i64(r, i, 6);
    row->scale = (float)gh_pg_f64(r, i, 7);
    if (row->dim < 1 || row->dim > GH_STORE_VMEM_DIM_MAX || v[0] != '\\' || v[1] != 'x' ||
        strlen(v) != 2 + 2 * (size_t)row->dim)
        return 0;
    for (int j = 0; j < row->dim; j++) {
        int hi = unhex(v[2 + 2 * j]), lo = unhex(v[3 + 2 * j]);

        if (hi < 0 || lo < 0)
            return 0;
        row->vec[j] = (int8_t)(uint8_t)(hi << 4 | lo);
    }
    return 1;
}

int gh_pg_vmem_list(struct gh_store *st, const char *model, int64_t after_id,
                    int64_t min_created_at, size_t limit, struct gh_vmem_row *out, size_t *n_out,
                    struct gh_err *err)
{
    struct pg_params p = {0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_text(&p, model);
    gh_pg_param_i64(&p, after_id);
    gh_pg_param_i64(&p, min_created_at);
    gh_pg_param_i64(&p, (int64_t)limit);
    rc = pg_vmem_run(st,
                     "SELECT " PG_VMEM_COLS " FROM visual_memory WHERE model = $1 AND id > $2"
                     " AND created_at >= $3 AND source IN ('" GH_VMEM_SOURCE_PROVIDER
                     "', '" GH_VMEM_SOURCE_TRUSTED "', '" GH_VMEM_SOURCE_QUORUM "')"
                     " ORDER BY id LIMIT $4",
                     &p, &r, "read the visual memory", err);
    for (int i = 0; rc == GH_OK && i < PQntuples(r) && *n_out < limit; i++)
        if (pg_read_row(r, i, &out[*n_out]))
            (*n_out)++;
    PQclear(r);
    return rc;
}

int gh_pg_vmem_prune(struct gh_store *st, int64_t before_created_at, int64_t keep_max,
                     int64_t *n_deleted, struct gh_err *err)
{
    struct pg_params p = {0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_i64(&p, before_created_at);
    rc = pg_vmem_run(st, "DELETE FROM visual_memory WHERE created_at < $1", &p, &r,
                     "prune the visual memory", err);
    if (rc == GH_OK)
        *n_deleted += gh_pg_changes(r);
    PQclear(r);
    r = NULL;
    if (rc || keep_max <= 0)
        return rc;
    memset(&p, 0, sizeof p);
    gh_pg_param_i64(&p, keep_max);
    rc = pg_vmem_run(st,
                     "DELETE FROM visual_memory WHERE id <= (SELECT id FROM visual_memory"
                     " ORDER BY id DESC LIMIT 1 OFFSET $1)",
                     &p, &r, "prune the visual memory", err);
    if (rc == GH_OK)
        *n_deleted += gh_pg_changes(r);
    PQclear(r);
    return rc;
}

/* ---- measured escalation: CLIP's answer beside the paid model's ---- */

int gh_pg_quality_add(struct gh_store *st, const struct gh_quality_sample *qs, struct gh_err *err)
{
    struct pg_params p = {0};
    PGresult *r = NULL;
    int b = (int)(qs->clip_confidence * GH_QUALITY_BUCKETS), rc;

    gh_pg_param_i64(&p, qs->created_at);
    gh_pg_param_text(&p, qs->sha256);
    gh_pg_param_text(&p, qs->clip_slug);
    gh_pg_param_f64(&p, qs->clip_confidence);
    gh_pg_param_i64(&p, b < GH_QUALITY_BUCKETS ? b : GH_QUALITY_BUCKETS - 1);
    gh_pg_param_text(&p, qs->paid_slug);
    gh_pg_param_i64(&p, qs->shadow != 0);
    rc = pg_vmem_run(st,
                     "INSERT INTO quality_samples (created_at, sha256, clip_slug, clip_confidence,"
                     " bucket, paid_slug, shadow) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                     &p, &r, "record a quality sample", err);
    PQclear(r);
    return rc;
}

int gh_pg_quality_buckets(struct gh_store *st, int64_t since, struct gh_quality_bucket *out,
                          struct gh_err *err)
{
    struct pg_params p = {0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_i64(&p, since);
    rc = pg_vmem_run(st, GH_PG_QUALITY_SQL, &p, &r, "read the quality samples", err);
    for (int i = 0; rc == GH_OK && i < PQntuples(r); i++) {
        int64_t b = gh_pg_i64(r, i, 0);
        struct gh_quality_bucket *o = &out[b >= 0 && b < GH_QUALITY_BUCKETS ? b : 0];

        if (gh_pg_i64(r, i, 1)) {
            o->shadow += gh_pg_i64(r, i, 2);
            o->agree_shadow += gh_pg_i64(r, i, 3);
        } else {
            o->escalated += gh_pg_i64(r, i, 2);
            o->agree_escalated += gh_pg_i64(r, i, 3);
        }
        o->corrected += gh_pg_i64(r, i, 4);
    }
    PQclear(r);
    return rc;
}
