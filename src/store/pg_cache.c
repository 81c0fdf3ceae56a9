/* SPDX-License-Identifier: MIT */
/* PostgreSQL backend, part two: the catalogue, the cache (exact and near-duplicate hits are one
 * UPDATE ... RETURNING each), statistics, purging and the test introspection. */
#include "pg_internal.h"
#include "gh/alloc.h"
#include "gh/phash.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int gh_pg_schema_version(struct gh_store *st, int *out, struct gh_err *err)
{
    PGresult *r = NULL;
    int rc = gh_pg_run(st, PG_STMT_SCHEMA_VERSION, NULL, 0, &r, "read the schema version", err);

    if (rc == GH_OK)
        *out = (int)gh_pg_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

static int pg_upsert_equipment(struct pg_store *s, struct pg_conn *c, const struct gh_equipment *e,
                               int64_t now, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    char *muscles = NULL;
    int rc;

    rc = gh_store_muscles_json(e, &muscles, err);
    if (rc)
        return rc;
    gh_pg_param_text(&p, e->slug);
    gh_pg_param_text(&p, e->name);
    gh_pg_param_text(&p, e->category);
    gh_pg_param_text(&p, muscles);
    gh_pg_param_text(&p, e->json);
    gh_pg_param_i64(&p, now);
    rc = gh_pg_exec(s, c, PG_STMT_UPSERT_EQUIPMENT, &p, NULL, "store equipment", err);
    gh_free(muscles);
    return rc;
}

int gh_pg_sync_catalogue(struct gh_store *st, const struct gh_catalogue *cat, struct gh_err *err)
{
    struct pg_store *s = gh_pg_of(st);
    struct pg_params p = {.n = 0};
    struct pg_conn *c = NULL;
    size_t n = gh_catalogue_count(cat);
    int64_t now = (int64_t)time(NULL); /* the interface gives no clock here */
    int rc;

    rc = gh_pg_acquire(s, &c, err);
    if (rc)
        return rc;
    c->timeout_ms = PG_LONG_TIMEOUT_MS;
    rc = gh_pg_sql(s, c, "BEGIN", "begin the catalogue sync", err);
    for (size_t i = 0; i < n && rc == GH_OK; i++)
        rc = pg_upsert_equipment(s, c, gh_catalogue_at(cat, i), now, err);
    gh_pg_param_text(&p, "catalogue_version");
    gh_pg_param_text(&p, gh_catalogue_version(cat));
    if (rc == GH_OK)
        rc = gh_pg_exec(s, c, PG_STMT_SET_META, &p, NULL, "record the catalogue version", err);
    rc = gh_pg_end(s, c, rc, "commit the catalogue sync", err);
    gh_pg_release(s, c);
    return rc;
}

/* Reads PG_ENTRY_COLS of row 0 of r into out. */
static int pg_read_entry(const PGresult *r, struct gh_cache_entry *out, struct gh_err *err)
{
    size_t len = (size_t)PQgetlength(r, 0, 2);

    out->answer_json = gh_malloc(len + 1);
    if (!out->answer_json)
        return gh_err_set(err, GH_ENOMEM, "out of memory reading a cache entry");
    memcpy(out->answer_json, PQgetvalue(r, 0, 2), len);
    out->answer_json[len] = '\0';
    gh_pg_copy_text(out->sha256, sizeof out->sha256, r, 0, 0);
    out->phash = (uint64_t)gh_pg_i64(r, 0, 1);
    gh_pg_copy_text(out->equipment_slug, sizeof out->equipment_slug, r, 0, 3);
    gh_pg_copy_text(out->provider, sizeof out->provider, r, 0, 4);
    gh_pg_copy_text(out->model, sizeof out->model, r, 0, 5);
    out->created_at = gh_pg_i64(r, 0, 6);
    out->expires_at = gh_pg_i64(r, 0, 7);
    out->hits = gh_pg_i64(r, 0, 8);
    out->last_hit_at = gh_pg_i64(r, 0, 9);
    out->corrected = gh_pg_bool(r, 0, 10);
    return GH_OK;
}

/* Runs a hit statement (exact or near) and reads the entry it returned, if any. */
static int pg_hit(struct gh_store *st, enum pg_stmt_id id, const struct pg_params *p,
                  struct gh_cache_entry *out, int *distance, struct gh_err *err)
{
    PGresult *r = NULL;
    int rc = gh_pg_run(st, id, p, 0, &r, "look up a cache entry", err);

    if (rc == GH_OK && PQntuples(r) == 0)
        rc = id == PG_STMT_GET_EXACT
                 ? gh_err_set(err, GH_ENOTFOUND, "no live cache entry for that key")
                 : gh_err_set(err, GH_ENOTFOUND, "no live cache entry within distance %s", p->v[7]);
    if (rc == GH_OK)
        rc = pg_read_entry(r, out, err);
    if (rc == GH_OK && distance)
        *distance = (int)gh_pg_i64(r, 0, 11);
    if (rc)
        gh_cache_entry_fini(out);
    PQclear(r);
    return rc;
}

int gh_pg_get_exact(struct gh_store *st, const char *sha256_hex, int64_t now,
                    struct gh_cache_entry *out, struct gh_err *err)
{
    struct pg_params p = {.n = 0};

    gh_pg_param_text(&p, sha256_hex);
    gh_pg_param_i64(&p, now);
    return pg_hit(st, PG_STMT_GET_EXACT, &p, out, NULL, err);
}

int gh_pg_get_near(struct gh_store *st, uint64_t phash, int max_distance, int64_t now,
                   struct gh_cache_entry *out, int *distance, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    uint32_t seg[5];

    gh_phash_segments(phash, seg);
    for (int i = 0; i < 5; i++)
        gh_pg_param_i64(&p, seg[i]);
    gh_pg_param_i64(&p, now);
    gh_pg_param_i64(&p, (int64_t)phash);
    gh_pg_param_i64(&p, max_distance);
    return pg_hit(st, PG_STMT_GET_NEAR, &p, out, distance, err);
}

void gh_pg_params_entry(struct pg_params *p, const struct gh_cache_entry *e)
{
    uint32_t seg[5];

    gh_phash_segments(e->phash, seg);
    gh_pg_param_text(p, e->sha256);
    gh_pg_param_i64(p, (int64_t)e->phash);
    for (int i = 0; i < 5; i++)
        gh_pg_param_i64(p, seg[i]);
    gh_pg_param_text(p, e->answer_json);
    gh_pg_param_text(p, e->equipment_slug);
    gh_pg_param_text(p, e->provider);
    gh_pg_param_text(p, e->model);
    gh_pg_param_i64(p, e->created_at);
    gh_pg_param_i64(p, e->expires_at);
}

int gh_pg_put(struct gh_store *st, const struct gh_cache_entry *e, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_params_entry(&p, e);
    gh_pg_param_i64(&p, e->hits);
    gh_pg_param_i64(&p, e->last_hit_at);
    rc = gh_pg_run(st, PG_STMT_PUT, &p, 0, &r, "store a cache entry", err);
    /* The upsert's WHERE kept a corrected row: decided inside the one statement, so no other
     * writer can slip in between a check and the write. */
    if (rc == GH_OK && gh_pg_changes(r) == 0)
        rc = gh_err_set(err, GH_ECONFLICT, "a person corrected this image's answer; kept it");
    PQclear(r);
    return rc;
}

int gh_pg_stats(struct gh_store *st, int64_t now, struct gh_store_stats *out, struct gh_err *err)
{
    struct pg_store *s = gh_pg_of(st);
    struct pg_params p = {.n = 0};
    struct pg_conn *c = NULL;
    PGresult *r = NULL;
    int rc;

    gh_pg_param_i64(&p, now);
    rc = gh_pg_acquire(s, &c, err);
    if (rc)
        return rc;
    /* Counting whole tables is what sequential scans are for (see pg.c's pg_options). */
    c->timeout_ms = PG_LONG_TIMEOUT_MS;
    rc = gh_pg_sql(s, c, "BEGIN; SET LOCAL enable_seqscan = on", "begin reading statistics", err);
    if (rc == GH_OK)
        rc = gh_pg_exec(s, c, PG_STMT_STATS, &p, &r, "read statistics", err);
    rc = gh_pg_end(s, c, rc, "finish reading statistics", err);
    if (rc == GH_OK) {
        out->entries = gh_pg_i64(r, 0, 0);
        out->live_entries = gh_pg_i64(r, 0, 1);
        out->expired = out->entries - out->live_entries;
        out->total_hits = gh_pg_i64(r, 0, 2);
        out->oldest_created_at = gh_pg_i64(r, 0, 3);
        out->newest_created_at = gh_pg_i64(r, 0, 4);
        out->identifications = gh_pg_i64(r, 0, 5);
        out->prompt_tokens = gh_pg_i64(r, 0, 6);
        out->completion_tokens = gh_pg_i64(r, 0, 7);
        out->provider_calls = gh_pg_i64(r, 0, 8);
        out->equipment = gh_pg_i64(r, 0, 9);
        out->schema_version = (int)gh_pg_i64(r, 0, 10);
        gh_pg_copy_text(out->catalogue_version, sizeof out->catalogue_version, r, 0, 11);
    }
    PQclear(r);
    gh_pg_release(s, c);
    return rc;
}

int gh_pg_purge_expired(struct gh_store *st, int64_t now, int64_t *n_purged, struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_i64(&p, now);
    rc = gh_pg_run(st, PG_STMT_PURGE, &p, PG_LONG_TIMEOUT_MS, &r, "purge expired cache entries",
                   err);
    if (rc == GH_OK)
        *n_purged = gh_pg_changes(r);
    PQclear(r);
    return rc;
}

int gh_pg_equipment_name(struct gh_store *st, const char *slug, char *name, size_t name_cap,
                         struct gh_err *err)
{
    struct pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc;

    gh_pg_param_text(&p, slug);
    rc = gh_pg_run(st, PG_STMT_EQUIPMENT_NAME, &p, 0, &r, "look up equipment", err);
    if (rc == GH_OK && PQntuples(r) == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no equipment with slug %s", slug);
    if (rc == GH_OK)
        gh_pg_copy_text(name, name_cap, r, 0, 0);
    PQclear(r);
    return rc;
}

/* The plan of GH_PG_NEAR_SQL for a lookup now, one line per node joined by "; ". */
int gh_pg_explain_near(struct gh_store *st, char *plan, size_t plan_cap, struct gh_err *err)
{
    struct pg_store *s = gh_pg_of(st);
    struct pg_params p = {.n = 0};
    struct pg_conn *c = NULL;
    PGresult *r = NULL;
    size_t used = 0;
    int rc;

    for (int i = 0; i < 5; i++)
        gh_pg_param_i64(&p, 100 + i);
    gh_pg_param_i64(&p, (int64_t)time(NULL));
    gh_pg_param_i64(&p, 0x0123456789abcdefLL);
    gh_pg_param_i64(&p, 4);
    rc = gh_pg_acquire(s, &c, err);
    if (rc == GH_OK)
        rc = gh_pg_exec_sql(s, c, "EXPLAIN (COSTS OFF) " GH_PG_NEAR_SQL, &p, &r,
                            "explain the near-duplicate query", err);
    for (int i = 0; rc == GH_OK && i < PQntuples(r); i++) {
        const char *line = PQgetvalue(r, i, 0);
        int n;

        line += strspn(line, " ->"); /* indentation and arrows */
        n = snprintf(plan + used, plan_cap - used, "%s%s", used ? "; " : "", line);
        if (n < 0 || (size_t)n >= plan_cap - used)
            rc = gh_err_set(err, GH_ETOOBIG, "the query plan is over %zu bytes", plan_cap);
        else
            used += (size_t)n;
    }
    PQclear(r);
    gh_pg_release(s, c);
    return rc;
}
