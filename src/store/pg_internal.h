/* SPDX-License-Identifier: MIT */
/* Shared by the PostgreSQL backend's files: pg.c (pool, connections, queries, migrations),
 * pg_cache.c (catalogue, cache, stats) and pg_history.c (identifications and corrections). */
#ifndef GH_STORE_PG_INTERNAL_H
#define GH_STORE_PG_INTERNAL_H

#include "store/internal.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>

/* Every statement, prepared once per connection on first use (SQL in pg.c's pg_sql). */
enum pg_stmt_id {
    PG_STMT_SCHEMA_VERSION,
    PG_STMT_UPSERT_EQUIPMENT,
    PG_STMT_SET_META,
    PG_STMT_GET_EXACT,
    PG_STMT_GET_NEAR,
    PG_STMT_PUT,
    PG_STMT_RECORD,
    PG_STMT_STATS,
    PG_STMT_PURGE,
    PG_STMT_EQUIPMENT_NAME,
    PG_STMT_IDENT_LIST,
    PG_STMT_IDENT_GET,
    PG_STMT_IDENT_BY_REQUEST,
    PG_STMT_FEEDBACK_INSERT,
    PG_STMT_IDENT_CORRECT,
    PG_STMT_CACHE_CORRECT,
    PG_N_STMT,
};

/* The near-duplicate search (DESIGN.md "Storage"): rows sharing one of the five pHash
 * segments ($1..$5), live at $6, within distance $8 of the hash $7; nearest, then newest.
 * Five index-only scans, one per segment index, whose entries carry phash, expiry, age and id
 * (pg.c's migration 1): the distance filter runs on index entries, so a lookup reads a few
 * index pages instead of one heap page per candidate (at 1M rows ~700 candidates). "+ 0"
 * keeps the planner from scanning the expiry index instead, as it would when few rows are
 * live.
 * bench/pg_bench.py times this text. */
#define GH_PG_NEAR_SQL                                                                             \
    "SELECT id FROM ("                                                                             \
    "SELECT id, phash, created_at, expires_at FROM equipment_cache WHERE seg0 = $1"                \
    " UNION ALL SELECT id, phash, created_at, expires_at FROM equipment_cache WHERE seg1 = $2"     \
    " UNION ALL SELECT id, phash, created_at, expires_at FROM equipment_cache WHERE seg2 = $3"     \
    " UNION ALL SELECT id, phash, created_at, expires_at FROM equipment_cache WHERE seg3 = $4"     \
    " UNION ALL SELECT id, phash, created_at, expires_at FROM equipment_cache WHERE seg4 = $5"     \
    ") c WHERE expires_at + 0 > $6 AND bit_count((phash # $7)::bit(64)) <= $8"                     \
    " ORDER BY bit_count((phash # $7)::bit(64)), created_at DESC, id DESC LIMIT 1"

#define PG_MAX_PARAMS 16

/* Text-format query parameters; numbers are formatted into buf. */
struct pg_params {
    const char *v[PG_MAX_PARAMS];
    char buf[PG_MAX_PARAMS][32];
    int n;
};

struct pg_conn {
    PGconn *db;
    uint32_t prepared;    /* bit i: statement i is prepared on this connection */
    int64_t opened_ms;    /* monotonic clock, for recycling */
    int64_t idle_ms;      /* when it was last returned to the pool */
    long timeout_ms;      /* how long one query may take before the connection is given up */
    int broken;           /* lost, timed out or in an unknown state: close instead of pooling */
    struct pg_conn *next; /* in the idle list */
};

struct pg_store {
    char *url;                    /* what libpq gets; may hold a password, so never printed */
    char *options;                /* the startup "options": the URL's, then pg.c's pg_options */
    char *label;                  /* how messages name the server: host:port/dbname */
    char *password;               /* scrubbed from libpq's messages; NULL when the URL has none */
    struct gh_store_options opts; /* pool_size resolved */
    int sync_ready;               /* mu and cond are initialised */
    pthread_mutex_t mu;
    pthread_cond_t cond;  /* a connection came back or a slot freed */
    struct pg_conn *idle; /* most recently returned first */
    int n_open;           /* connections lent out or idle, and those being opened */
    int n_idle;
    int n_waiting; /* threads waiting for a connection */
};

#define PG_LONG_TIMEOUT_MS 60000L /* migrations, catalogue sync and purges touch many rows */

struct pg_store *gh_pg_of(struct gh_store *st);

/* The pool. gh_pg_acquire lends a healthy connection: an idle one (closed and replaced when
 * the server dropped it, it is due for recycling, or a pre-ping after an idle second fails),
 * a new one while fewer than pool_size + max_overflow are open, else the first one returned
 * within connect_timeout_ms. Errors: GH_EUNAVAILABLE (server unreachable, pool exhausted).
 * gh_pg_release takes it back; broken connections, and overflow ones nobody waits for, are
 * closed. */
int gh_pg_acquire(struct pg_store *s, struct pg_conn **out, struct gh_err *err);
void gh_pg_release(struct pg_store *s, struct pg_conn *c);

/* Runs prepared statement id (preparing it on first use) with params p (may be NULL); on
 * success *out holds the result (PQclear it). Failures: GH_EUNAVAILABLE when the connection
 * was lost or timed out (the connection is then marked broken), GH_EINVAL when the server
 * refuses the values (SQLSTATE classes 22 and 23), GH_EBACKEND for other errors the server
 * reports. what completes "cannot ..." in the message. */
int gh_pg_exec(struct pg_store *s, struct pg_conn *c, enum pg_stmt_id id, const struct pg_params *p,
               PGresult **out, const char *what, struct gh_err *err);
/* Runs one or more SQL statements without parameters (BEGIN, COMMIT, migrations). */
int gh_pg_sql(struct pg_store *s, struct pg_conn *c, const char *sql, const char *what,
              struct gh_err *err);
/* Runs sql once with parameters, unprepared (EXPLAIN). */
int gh_pg_exec_sql(struct pg_store *s, struct pg_conn *c, const char *sql,
                   const struct pg_params *p, PGresult **out, const char *what, struct gh_err *err);
/* One statement outside a transaction on a connection of the pool: acquires one, gives it
 * timeout_ms (0: the pool's own) and runs gh_pg_exec, then releases it; the result outlives
 * the connection. */
int gh_pg_run(struct gh_store *st, enum pg_stmt_id id, const struct pg_params *p, long timeout_ms,
              PGresult **out, const char *what, struct gh_err *err);
/* gh_pg_exec_sql with any number of text parameters (values[i] NULL: SQL NULL). */
int gh_pg_exec_params(struct pg_store *s, struct pg_conn *c, const char *sql, int n,
                      const char *const *values, PGresult **out, const char *what,
                      struct gh_err *err);
/* ROLLBACK when a transaction is open; a failure marks the connection broken. */
void gh_pg_rollback(struct pg_store *s, struct pg_conn *c);
/* Ends the open transaction: COMMIT when rc is GH_OK (a failure reported as "cannot <what>"),
 * else ROLLBACK. Returns the outcome. */
int gh_pg_end(struct pg_store *s, struct pg_conn *c, int rc, const char *what, struct gh_err *err);

void gh_pg_param_text(struct pg_params *p, const char *s);
void gh_pg_param_i64(struct pg_params *p, int64_t v);
void gh_pg_param_f64(struct pg_params *p, double v);
void gh_pg_param_bool(struct pg_params *p, int v);

int64_t gh_pg_i64(const PGresult *r, int row, int col);
double gh_pg_f64(const PGresult *r, int row, int col);
int gh_pg_bool(const PGresult *r, int row, int col);
void gh_pg_copy_text(char *dst, size_t cap, const PGresult *r, int row, int col);
/* Rows an INSERT/UPDATE/DELETE changed. */
int64_t gh_pg_changes(const PGresult *r);

/* The history operations of struct gh_store_ops (pg_history.c). */
int gh_pg_record_identifications(struct gh_store *st, struct gh_identification *recs, size_t n,
                                 struct gh_err *err);
int gh_pg_list_identifications(struct gh_store *st, int64_t before_id, size_t limit,
                               struct gh_identification *out, size_t *n_out, struct gh_err *err);
int gh_pg_get_identification(struct gh_store *st, int64_t id, const char *request_id,
                             const char *owner, struct gh_identification *out, struct gh_err *err);
int gh_pg_correct(struct gh_store *st, int64_t ident_id, const struct gh_cache_entry *e,
                  int64_t now, struct gh_err *err);
/* Parameters 1..13 of PG_STMT_PUT and PG_STMT_CACHE_CORRECT (same columns, same order). */
void gh_pg_params_entry(struct pg_params *p, const struct gh_cache_entry *e);

/* The cache, catalogue and statistics operations (pg_cache.c). */
int gh_pg_schema_version(struct gh_store *st, int *out, struct gh_err *err);
int gh_pg_sync_catalogue(struct gh_store *st, const struct gh_catalogue *cat, struct gh_err *err);
int gh_pg_get_exact(struct gh_store *st, const char *sha256_hex, int64_t now,
                    struct gh_cache_entry *out, struct gh_err *err);
int gh_pg_get_near(struct gh_store *st, uint64_t phash, int max_distance, int64_t now,
                   struct gh_cache_entry *out, int *distance, struct gh_err *err);
int gh_pg_put(struct gh_store *st, const struct gh_cache_entry *e, struct gh_err *err);
int gh_pg_stats(struct gh_store *st, int64_t now, struct gh_store_stats *out, struct gh_err *err);
int gh_pg_purge_expired(struct gh_store *st, int64_t now, int64_t *n_purged, struct gh_err *err);
int gh_pg_equipment_name(struct gh_store *st, const char *slug, char *name, size_t name_cap,
                         struct gh_err *err);
int gh_pg_explain_near(struct gh_store *st, char *plan, size_t plan_cap, struct gh_err *err);

/* The visual-memory operations (pg_vmem.c). */
int gh_pg_vmem_add(struct gh_store *st, struct gh_vmem_row *row, struct gh_err *err);
int gh_pg_vmem_list(struct gh_store *st, const char *model, int64_t after_id,
                    int64_t min_created_at, size_t limit, struct gh_vmem_row *out, size_t *n_out,
                    struct gh_err *err);
int gh_pg_vmem_prune(struct gh_store *st, int64_t before_created_at, int64_t keep_max,
                     int64_t *n_deleted, struct gh_err *err);
/* Reads row `row` of PG_IDENT_COLS into *o (zeroed first). */
void gh_pg_read_ident(const PGresult *r, int row, struct gh_identification *o);
/* The columns of an identification, in the order gh_pg_read_ident expects. */
#define PG_IDENT_COLS                                                                              \
    "id, request_id, created_at, sha256, phash, equipment_slug, confidence, identified, cached,"   \
    " cache_layer, cache_distance, provider, model, processing_ms, prompt_tokens,"                 \
    " completion_tokens, corrected_slug, owner"

int gh_pg_quality_add(struct gh_store *st, const struct gh_quality_sample *s, struct gh_err *err);
int gh_pg_quality_buckets(struct gh_store *st, int64_t since, struct gh_quality_bucket *out,
                          struct gh_err *err);

#endif
