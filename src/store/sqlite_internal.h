/* SPDX-License-Identifier: MIT */
/* Shared by the SQLite backend's files: sqlite.c (connections, migrations, cache, catalogue,
 * stats) and sqlite_history.c (identification history and corrections). */
#ifndef GH_STORE_SQLITE_INTERNAL_H
#define GH_STORE_SQLITE_INTERNAL_H

#include "store/internal.h"

#include <pthread.h>
#include <sqlite3.h>

/* Every statement, prepared once per connection (SQL in sqlite.c's sq_sql). */
enum sq_stmt_id {
    SQ_STMT_SCHEMA_VERSION,
    SQ_STMT_UPSERT_EQUIPMENT,
    SQ_STMT_SET_META,
    SQ_STMT_GET_META,
    SQ_STMT_FIND_EXACT,
    SQ_STMT_FIND_NEAR,
    SQ_STMT_HIT,
    SQ_STMT_PUT,
    SQ_STMT_RECORD,
    SQ_STMT_CACHE_STATS,
    SQ_STMT_IDENT_STATS,
    SQ_STMT_EQUIPMENT_COUNT,
    SQ_STMT_PURGE,
    SQ_STMT_EQUIPMENT_NAME,
    SQ_STMT_IDENT_LIST,
    SQ_STMT_IDENT_GET,
    SQ_STMT_IDENT_BY_REQUEST,
    SQ_STMT_FEEDBACK_INSERT,
    SQ_STMT_IDENT_CORRECT,
    SQ_STMT_CACHE_CORRECT,
    SQ_N_STMT,
};

struct sq_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[SQ_N_STMT]; /* prepared on first use, reset after each */
};

struct sq_store {
    char *label; /* how messages name the database: its path, or "sqlite::memory:" */
    char *name;  /* what sqlite3_open_v2 gets: the path, or a memory database's URI */
    int memory;
    struct sq_conn *conns;
    int n_conns;
    int *idle; /* indexes into conns of the connections not handed out; a stack */
    int n_idle;
    int sync_ready; /* mu and cond are initialised */
    pthread_mutex_t mu;
    pthread_cond_t cond;
};

/* Helpers of sqlite.c. gh_sq_step retries SQLITE_LOCKED on shared-cache memory databases;
 * gh_sq_fail records a database error in err and returns GH_EBACKEND; gh_sq_stmt hands out the
 * connection's prepared statement (reset and unbound by gh_sq_done); gh_sq_acquire blocks
 * until a pooled connection is free. */
struct sq_store *gh_sq_of(struct gh_store *st);
int gh_sq_step(sqlite3_stmt *s);
int gh_sq_exec(sqlite3 *db, const char *sql);
int gh_sq_fail(struct gh_err *err, sqlite3 *db, const char *what);
/* Ends the open transaction: COMMIT when rc is GH_OK (a failure reported as "cannot <what>"),
 * else ROLLBACK. Returns the outcome. */
int gh_sq_end(struct sq_conn *c, int rc, const char *what, struct gh_err *err);
int gh_sq_stmt(struct sq_conn *c, enum sq_stmt_id id, sqlite3_stmt **out, struct gh_err *err);
void gh_sq_done(sqlite3_stmt *s);
sqlite3_int64 gh_sq_i64(uint64_t v);
uint64_t gh_sq_u64(sqlite3_int64 v);
int gh_sq_bind_text(sqlite3_stmt *s, int i, const char *text);
void gh_sq_copy_text(char *dst, size_t cap, sqlite3_stmt *s, int col);
struct sq_conn *gh_sq_acquire(struct sq_store *s);
void gh_sq_release(struct sq_store *s, struct sq_conn *c);
/* Parameters 1..13 of SQ_STMT_PUT and SQ_STMT_CACHE_CORRECT; non-zero when a bind failed. */
int gh_sq_bind_entry(sqlite3_stmt *q, const struct gh_cache_entry *e);

/* The history operations of struct gh_store_ops (sqlite_history.c). */
int gh_sq_record_identifications(struct gh_store *st, struct gh_identification *recs, size_t n,
                                 struct gh_err *err);
int gh_sq_list_identifications(struct gh_store *st, int64_t before_id, size_t limit,
                               struct gh_identification *out, size_t *n_out, struct gh_err *err);
int gh_sq_get_identification(struct gh_store *st, int64_t id, const char *request_id,
                             const char *owner, struct gh_identification *out, struct gh_err *err);
int gh_sq_correct(struct gh_store *st, int64_t ident_id, const struct gh_cache_entry *e,
                  int64_t now, struct gh_err *err);

/* The visual-memory operations of struct gh_store_ops (sqlite_vmem.c). */
int gh_sq_vmem_add(struct gh_store *st, struct gh_vmem_row *row, struct gh_err *err);
int gh_sq_vmem_list(struct gh_store *st, const char *model, int64_t after_id,
                    int64_t min_created_at, size_t limit, struct gh_vmem_row *out, size_t *n_out,
                    struct gh_err *err);
int gh_sq_vmem_prune(struct gh_store *st, int64_t before_created_at, int64_t keep_max,
                     int64_t *n_deleted, struct gh_err *err);
/* Reads one row of SQ_IDENT_COLS into *r (zeroed first). */
void gh_sq_read_ident(sqlite3_stmt *q, struct gh_identification *r);
/* The columns of an identification, in the order gh_sq_read_ident expects. */
#define SQ_IDENT_COLS                                                                              \
    "id, request_id, created_at, sha256, phash, equipment_slug, confidence, identified, cached,"   \
    " cache_layer, cache_distance, provider, model, processing_ms, prompt_tokens,"                 \
    " completion_tokens, corrected_slug, owner"

int gh_sq_quality_add(struct gh_store *st, const struct gh_quality_sample *s, struct gh_err *err);
int gh_sq_quality_buckets(struct gh_store *st, int64_t since, struct gh_quality_bucket *out,
                          struct gh_err *err);

#endif
