/* SPDX-License-Identifier: MIT */
/* What the store interface (store.c) shares with its backends (sqlite.c, pg.c): the
 * operations table a backend fills, and helpers that do not depend on a database. store.c has
 * checked every argument before an operation is called, so backends trust them. */
#ifndef GH_STORE_INTERNAL_H
#define GH_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gh/store.h"
#include "gh/store_auth.h"
#include "gh/store_corrections.h"

#define GH_STORE_POOL_MAX     64
#define GH_STORE_OVERFLOW_MAX 1000
#define GH_STORE_MAX_DISTANCE 4 /* the segment index finds every hash within this distance */

/* Hits counted in memory for one cache key (store_hits.c). */
struct gh_store_hit {
    char sha256[GH_STORE_SHA_HEX_CAP]; /* "" marks a free slot */
    int64_t n;
    int64_t last_at;
};

/* The pending hits of one store. gh_store_hits_add counts a hit on sha at now, returns the
 * key's pending count and sets *full when a flush is due; gh_store_hits_forget drops the key's
 * pending count. All thread-safe. */
struct gh_store_hits;
struct gh_store_hits *gh_store_hits_new(void);
void gh_store_hits_free(struct gh_store_hits *h);
int64_t gh_store_hits_add(struct gh_store_hits *h, const char *sha, int64_t now, int *full);
void gh_store_hits_forget(struct gh_store_hits *h, const char *sha);

/* One backend. Each operation returns GH_OK or a negative gh_err code and explains failures
 * in err; output structs arrive zeroed. */
struct gh_store_ops {
    const char *name;      /* gh_store_backend() */
    int default_pool_size; /* what pool_size 0 means */
    /* target: what store.c's parse_url documents for each backend (sqlite: the path; pg: the
     * whole URL). opts is checked, its pool_size resolved (1..GH_STORE_POOL_MAX). Sets st->be
     * on success; on failure leaves nothing to release. */
    int (*open)(struct gh_store *st, const char *target, const struct gh_store_options *opts,
                struct gh_err *err);
    void (*close)(struct gh_store *st);
    int (*schema_version)(struct gh_store *st, int *out, struct gh_err *err);
    int (*sync_catalogue)(struct gh_store *st, const struct gh_catalogue *cat, struct gh_err *err);
    int (*get_exact)(struct gh_store *st, const char *sha256_hex, int64_t now,
                     struct gh_cache_entry *out, struct gh_err *err);
    int (*get_near)(struct gh_store *st, uint64_t phash, int max_distance, int64_t now,
                    struct gh_cache_entry *out, int *distance, struct gh_err *err);
    int (*put)(struct gh_store *st, const struct gh_cache_entry *e, struct gh_err *err);
    int (*record_identifications)(struct gh_store *st, struct gh_identification *recs, size_t n,
                                  struct gh_err *err);
    int (*list_identifications)(struct gh_store *st, int64_t before_id, size_t limit,
                                struct gh_identification *out, size_t *n_out, struct gh_err *err);
    int (*get_identification)(struct gh_store *st, int64_t id, const char *request_id,
                              const char *owner, struct gh_identification *out, struct gh_err *err);
    int (*correct)(struct gh_store *st, int64_t ident_id, const struct gh_cache_entry *e,
                   int64_t now, struct gh_err *err);
    int (*stats)(struct gh_store *st, int64_t now, struct gh_store_stats *out, struct gh_err *err);
    int (*purge_expired)(struct gh_store *st, int64_t now, int64_t *n_purged, struct gh_err *err);
    /* Visual memory (issue 14; sqlite_vmem.c, pg_vmem.c). */
    int (*vmem_add)(struct gh_store *st, struct gh_vmem_row *row, struct gh_err *err);
    int (*vmem_list)(struct gh_store *st, const char *model, int64_t after_id,
                     int64_t min_created_at, size_t limit, struct gh_vmem_row *out, size_t *n_out,
                     struct gh_err *err);
    int (*vmem_prune)(struct gh_store *st, int64_t before_created_at, int64_t keep_max,
                      int64_t *n_deleted, struct gh_err *err);
    /* Measured escalation (issue 14; sqlite_quality.c, pg_quality.c). */
    int (*quality_add)(struct gh_store *st, const struct gh_quality_sample *s, struct gh_err *err);
    int (*quality_buckets)(struct gh_store *st, int64_t since, struct gh_quality_bucket *out,
                           struct gh_err *err);
    /* Bounded storage (issue 10; sqlite_retention.c, pg_retention.c). add_hits adds each
     * hit's n to its row's hits and raises last_hit_at to last_at, all in one transaction;
     * *rows gets the rows changed. */
    int (*prune_history)(struct gh_store *st, int64_t before_created_at,
                         struct gh_store_pruned *out, struct gh_err *err);
    int (*add_hits)(struct gh_store *st, const struct gh_store_hit *hits, size_t n, int64_t *rows,
                    struct gh_err *err);
    /* Introspection for the contract tests, see gh_store_equipment_name below. */
    int (*equipment_name)(struct gh_store *st, const char *slug, char *name, size_t name_cap,
                          struct gh_err *err);
    int (*explain_near)(struct gh_store *st, char *plan, size_t plan_cap, struct gh_err *err);
    /* Accounts (issue 11): gh/store_auth.h's operations, in their own table and files
     * (sqlite_auth.c, pg_auth.c). */
    const struct gh_store_auth_ops *auth;
    /* Corrections (issue 11): gh/store_corrections.h's operations (sqlite_corrections.c,
     * pg_corrections.c). */
    const struct gh_store_corrections_ops *corrections;
    /* Workouts (issue 12): a connection lender and statement runner, so that the SQL of
     * gh/store_workouts.h is written once (store_workouts.c; sqlite_workouts.c, pg_workouts.c;
     * store/rows.h). */
    const struct gh_store_rows_ops *rows;
};

/* gh/store_corrections.h's operations; store_corrections.c has checked the arguments (list
 * gets before_id INT64_MAX for "the newest"). */
struct gh_store_corrections_ops {
    int (*add)(struct gh_store *st, struct gh_correction *c, struct gh_err *err);
    int (*get)(struct gh_store *st, int64_t id, struct gh_correction *out, struct gh_err *err);
    int (*list)(struct gh_store *st, int status, int64_t before_id, size_t limit,
                struct gh_correction *out, size_t *n_out, struct gh_err *err);
    int (*since)(struct gh_store *st, int64_t after_id, size_t limit, struct gh_correction *out,
                 size_t *n_out, struct gh_err *err);
    int (*set_status)(struct gh_store *st, int64_t id, int status, int64_t now, struct gh_err *err);
};

/* Both backends, for each earlier vote of v's owner for the photo that v replaces (its stored
 * status and decided_at): once an admin rejected one, a pending v stays rejected whatever its
 * slug, or a reject would last only until the voter votes again (for another slug, then the
 * first: one row per person and photo keeps no other memory of the reject). */
void gh_store_correction_keep_rejected(struct gh_correction *v, const char *status,
                                       int64_t decided_at);

struct gh_store_rows_ops;

/* gh/store_auth.h's operations; store_auth.c has checked the arguments. */
struct gh_store_auth_ops {
    int (*user_add)(struct gh_store *st, struct gh_user *u, struct gh_err *err);
    int (*user_get)(struct gh_store *st, int64_t id, const char *username, struct gh_user *out,
                    struct gh_err *err);
    int (*user_list)(struct gh_store *st, struct gh_user *out, size_t cap, size_t *n_out,
                     struct gh_err *err);
    int (*user_update)(struct gh_store *st, int64_t id, const char *password_hash, int disabled,
                       struct gh_err *err);
    int (*key_add)(struct gh_store *st, struct gh_api_key *k, struct gh_err *err);
    int (*key_find)(struct gh_store *st, const char *key_hash, struct gh_api_key *out,
                    struct gh_err *err);
    int (*key_list)(struct gh_store *st, struct gh_api_key *out, size_t cap, size_t *n_out,
                    struct gh_err *err);
    int (*key_revoke)(struct gh_store *st, int64_t id, int64_t now, struct gh_err *err);
    int (*refresh_add)(struct gh_store *st, const char *family, int64_t user_id,
                       const char *token_hash, int64_t now, int64_t expires_at, struct gh_err *err);
    int (*refresh_spend)(struct gh_store *st, const char *token_hash, int64_t now,
                         struct gh_refresh_token *out, int *spent, struct gh_err *err);
    int (*refresh_revoke_family)(struct gh_store *st, const char *family, int64_t now,
                                 struct gh_err *err);
    int (*refresh_revoke_user)(struct gh_store *st, int64_t user_id, int64_t now,
                               struct gh_err *err);
    int (*refresh_family_active)(struct gh_store *st, const char *family, int *active,
                                 struct gh_err *err);
    int (*meta_get_or_set)(struct gh_store *st, const char *key, const char *proposed, char *out,
                           size_t out_cap, struct gh_err *err);
    int (*auth_epoch)(struct gh_store *st, int bump, int64_t *out, struct gh_err *err);
    int (*list_owned)(struct gh_store *st, const char *owner, int64_t before_id, size_t limit,
                      struct gh_identification *out, size_t *n_out, struct gh_err *err);
};

struct gh_store {
    const struct gh_store_ops *ops;
    void *be;                   /* the backend's own state */
    struct gh_store_hits *hits; /* counted, not yet written */
};

extern const struct gh_store_ops gh_store_sqlite_ops;
extern const struct gh_store_ops gh_store_pg_ops;
extern const struct gh_store_auth_ops gh_store_sqlite_auth_ops;
extern const struct gh_store_auth_ops gh_store_pg_auth_ops;
extern const struct gh_store_corrections_ops gh_store_sqlite_corrections_ops;
extern const struct gh_store_corrections_ops gh_store_pg_corrections_ops;

/* The bounded-storage operations (sqlite_retention.c, pg_retention.c). */
int gh_sq_prune_history(struct gh_store *st, int64_t before_created_at, struct gh_store_pruned *out,
                        struct gh_err *err);
int gh_sq_add_hits(struct gh_store *st, const struct gh_store_hit *hits, size_t n, int64_t *rows,
                   struct gh_err *err);
int gh_pg_prune_history(struct gh_store *st, int64_t before_created_at, struct gh_store_pruned *out,
                        struct gh_err *err);
int gh_pg_add_hits(struct gh_store *st, const struct gh_store_hit *hits, size_t n, int64_t *rows,
                   struct gh_err *err);

/* A gh_malloc'd copy of s; NULL when out of memory. */
char *gh_store_strdup(const char *s);

/* The equipment's primary then secondary muscles as a JSON array of strings, e.g.
 * ["quadriceps","glutes"], for the muscle_groups column. *out is owned by the caller (gh_free).
 * Errors: GH_ENOMEM. */
int gh_store_muscles_json(const struct gh_equipment *e, char **out,
                          struct gh_err *err) GH_MUST_CHECK;

/* Test introspection: the contract tests run unchanged against every backend, so what they
 * need to see that the interface does not show goes through the backend too.
 * gh_store_equipment_name copies the stored name of slug into name (GH_ENOTFOUND when absent);
 * gh_store_explain_near copies the database's plan for the near-duplicate query into plan,
 * one line per step joined by "; ", so a test can assert that it searches indexes. */
int gh_store_equipment_name(struct gh_store *st, const char *slug, char *name, size_t name_cap,
                            struct gh_err *err) GH_MUST_CHECK;
int gh_store_explain_near(struct gh_store *st, char *plan, size_t plan_cap,
                          struct gh_err *err) GH_MUST_CHECK;

#endif
