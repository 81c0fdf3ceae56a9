/* SPDX-License-Identifier: MIT */
/* Persistent store: the catalogue's equipment table, the analysis cache keyed by SHA-256 and
 * searchable by pHash, and one identification record per analysis. One interface, backends
 * chosen by URL: "sqlite:///path/to.db" (embedded default), "sqlite::memory:" (tests), and
 * "postgresql://user[:password]@host[:port]/db" (also "postgres://") for several instances;
 * one contract suite runs against each.
 * Times are Unix seconds supplied by the caller, so tests control the clock. */
#ifndef GH_STORE_H
#define GH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "gh/catalogue.h"
#include "gh/err.h"

#define GH_STORE_SHA_HEX_CAP 65 /* 64 hex digits + NUL */

/* One cached analysis. */
struct gh_cache_entry {
    char sha256[GH_STORE_SHA_HEX_CAP]; /* exact key, lower-case hex */
    uint64_t phash;
    char *answer_json;       /* the analysis as JSON text; owned (gh_free via _fini) */
    char equipment_slug[64]; /* "" when not identified */
    char provider[32];
    char model[64];
    int64_t created_at;
    int64_t expires_at; /* never served at or after this time */
    int64_t hits;
    int64_t last_hit_at; /* 0 when never hit */
    int corrected;       /* a person corrected this answer; providers never overwrite it */
};

/* One analysis as it happened (served from cache or not). */
struct gh_identification {
    int64_t id; /* set by the store on insert */
    char request_id[64];
    int64_t created_at;
    char sha256[GH_STORE_SHA_HEX_CAP];
    uint64_t phash;
    char equipment_slug[64]; /* "" when not identified */
    double confidence;
    int identified;
    int cached;
    char cache_layer[16]; /* "memory", "exact", "near", "" when not cached */
    int cache_distance;   /* pHash distance of a near hit, else 0 */
    char provider[32];
    char model[64];
    double processing_ms;
    int64_t prompt_tokens;
    int64_t completion_tokens;
    char corrected_slug[64]; /* a person's correction, "" when none */
    char owner[96];          /* who asked: an identity key ("user:7", "key:3"), "" when open */
};

struct gh_store_stats {
    int64_t entries;           /* rows in the cache, expired included */
    int64_t live_entries;      /* not expired at `now` */
    int64_t expired;           /* expired, not yet purged */
    int64_t total_hits;        /* sum of hits over rows */
    int64_t oldest_created_at; /* 0 when empty */
    int64_t newest_created_at;
    int64_t identifications;
    int64_t prompt_tokens; /* summed over identifications */
    int64_t completion_tokens;
    int64_t provider_calls; /* identifications not served from a cache */
    int64_t equipment;      /* rows in the equipment table */
    char catalogue_version[64];
    int schema_version;
};

struct gh_store;

/* Connection pool settings, the seed's numbers for PostgreSQL as defaults
 * (gh_store_options_defaults). SQLite keeps pool_size connections and ignores the rest. */
struct gh_store_options {
    int pool_size;           /* connections kept open; 0: the backend's (PostgreSQL 20, SQLite 4) */
    int max_overflow;        /* extra connections opened under load, closed when idle (10) */
    int pre_ping;            /* 1: check a pooled connection before lending it (1) */
    long recycle_s;          /* reconnect a connection older than this (3600) */
    long connect_timeout_ms; /* per connection attempt (3000) */
};

void gh_store_options_defaults(struct gh_store_options *opts);

/* Opens the store named by url, creating the file (and its directory) when needed, and runs
 * pending migrations. pool_size connections are shared by all threads (0: the backend's
 * default, SQLite 4, PostgreSQL 20). Errors: GH_EINVAL (unknown scheme, bad URL), GH_EBACKEND
 * (cannot open or migrate; message names the path and the database's reason). Thread-safe after
 * open. */
int gh_store_open(const char *url, int pool_size, struct gh_store **out,
                  struct gh_err *err) GH_MUST_CHECK;

/* gh_store_open with pool settings; opts may be NULL (all defaults). */
int gh_store_open_opts(const char *url, const struct gh_store_options *opts, struct gh_store **out,
                       struct gh_err *err) GH_MUST_CHECK;

/* Closes every connection (WAL checkpointed). NULL is a no-op. Call once no thread uses it. */
void gh_store_close(struct gh_store *st);

/* Backend name, "sqlite" or "postgresql". */
const char *gh_store_backend(const struct gh_store *st);

/* Schema version after migrations. */
int gh_store_schema_version(struct gh_store *st, struct gh_err *err);

/* Upserts every catalogue entry by slug (in one transaction) and records the catalogue's
 * version. Entries no longer in the catalogue are kept (history may point at them). */
int gh_store_sync_catalogue(struct gh_store *st, const struct gh_catalogue *cat,
                            struct gh_err *err) GH_MUST_CHECK;

/* Looks up a live entry (expires_at > now) by exact key; on a hit increments hits, sets
 * last_hit_at = now, and fills *out (release with gh_cache_entry_fini). GH_ENOTFOUND when
 * absent or expired. */
int gh_store_get_exact(struct gh_store *st, const char *sha256_hex, int64_t now,
                       struct gh_cache_entry *out, struct gh_err *err) GH_MUST_CHECK;

/* Finds the live entry whose pHash is nearest to phash within max_distance (0..4), using the
 * five segment indexes (no scan), ties broken by the newest. Counts the hit as above and
 * sets *distance. GH_ENOTFOUND when none; GH_EINVAL when max_distance is outside 0..4. */
int gh_store_get_near(struct gh_store *st, uint64_t phash, int max_distance, int64_t now,
                      struct gh_cache_entry *out, int *distance, struct gh_err *err) GH_MUST_CHECK;

/* Inserts or replaces the entry with e->sha256 (hits reset to e->hits). An entry a person
 * corrected is left as it is and GH_ECONFLICT says so: a later provider answer never
 * overwrites a correction. */
int gh_store_put(struct gh_store *st, const struct gh_cache_entry *e,
                 struct gh_err *err) GH_MUST_CHECK;

/* Appends rec; sets rec->id. */
int gh_store_record_identification(struct gh_store *st, struct gh_identification *rec,
                                   struct gh_err *err) GH_MUST_CHECK;

/* Appends n records in one transaction (all or none); sets each id. */
int gh_store_record_identifications(struct gh_store *st, struct gh_identification *recs, size_t n,
                                    struct gh_err *err) GH_MUST_CHECK;

/* The most recent identifications with id < before_id (0: the newest), newest first, at
 * most limit (1..1000) into out; *n_out gets the count. */
int gh_store_list_identifications(struct gh_store *st, int64_t before_id, size_t limit,
                                  struct gh_identification *out, size_t *n_out,
                                  struct gh_err *err) GH_MUST_CHECK;

/* One identification by id (> 0), else the latest with request_id of owner (NULL: of anyone;
 * clients choose request ids, so two people's analyses may share one). GH_ENOTFOUND. */
int gh_store_get_identification(struct gh_store *st, int64_t id, const char *request_id,
                                const char *owner, struct gh_identification *out,
                                struct gh_err *err) GH_MUST_CHECK;

/* A person's correction, in one transaction: records that identification ident_id should be
 * e->equipment_slug, and makes e (answer, slug; its sha256 and phash name the image) the
 * image's cache entry, marked corrected, kept at least until e->expires_at. */
int gh_store_correct(struct gh_store *st, int64_t ident_id, const struct gh_cache_entry *e,
                     int64_t now, struct gh_err *err) GH_MUST_CHECK;

int gh_store_stats(struct gh_store *st, int64_t now, struct gh_store_stats *out,
                   struct gh_err *err) GH_MUST_CHECK;

/* Deletes entries with expires_at <= now; *n_purged gets the count (may be NULL). */
int gh_store_purge_expired(struct gh_store *st, int64_t now, int64_t *n_purged,
                           struct gh_err *err) GH_MUST_CHECK;

/* ---- visual memory (issue 14): CLIP image embeddings with their labels ---- */

#define GH_STORE_VMEM_DIM_MAX 1024

/* One remembered photo. The vector is int8 with one scale (x ~ vec * scale). */
struct gh_vmem_row {
    int64_t id; /* set by the store on insert; increases with every insert */
    int64_t created_at;
    char sha256[GH_STORE_SHA_HEX_CAP];
    char slug[64];
    char source[16]; /* gh/recognition.h's GH_VMEM_SOURCE_* */
    char model[65];  /* the embedding model's identity */
    int dim;         /* 1..GH_STORE_VMEM_DIM_MAX */
    float scale;
    int8_t vec[GH_STORE_VMEM_DIM_MAX];
};

/* Appends row (every field but id); sets row->id. Errors: GH_EINVAL (dim out of range). */
int gh_store_vmem_add(struct gh_store *st, struct gh_vmem_row *row,
                      struct gh_err *err) GH_MUST_CHECK;

/* Rows of model with id > after_id and created_at >= min_created_at whose source is confirmed
 * ("provider", "trusted", "quorum"), oldest id first, at most limit (1..10000) into out;
 * *n_out gets the count. Rows whose stored vector does not match their dim are skipped. */
int gh_store_vmem_list(struct gh_store *st, const char *model, int64_t after_id,
                       int64_t min_created_at, size_t limit, struct gh_vmem_row *out, size_t *n_out,
                       struct gh_err *err) GH_MUST_CHECK;

/* Deletes rows created before before_created_at, then all but the newest keep_max (0: no
 * cap); *n_deleted gets the count (may be NULL). */
int gh_store_vmem_prune(struct gh_store *st, int64_t before_created_at, int64_t keep_max,
                        int64_t *n_deleted, struct gh_err *err) GH_MUST_CHECK;

/* ---- measured escalation (issue 14): CLIP's answer beside the paid model's ---- */

#define GH_QUALITY_BUCKETS 20 /* CLIP confidence in steps of 0.05 */

/* One photo both CLIP and the paid model answered: escalated (CLIP was unsure) or a shadow
 * sample (CLIP was sure; SHADOW_SAMPLE_RATE of those are checked). */
struct gh_quality_sample {
    int64_t created_at;
    char sha256[GH_STORE_SHA_HEX_CAP];
    char clip_slug[64]; /* CLIP's own top answer */
    double clip_confidence;
    char paid_slug[64]; /* "" when the paid model named nothing */
    int shadow;         /* 1: shadow sample, 0: escalated */
};

/* Counts per confidence bucket; ground truth is the photo's shared correction (applied or
 * accepted, gh/store_corrections.h) where one exists, else the paid model's answer. */
struct gh_quality_bucket {
    int64_t escalated, shadow; /* samples */
    int64_t agree_escalated, agree_shadow;
    int64_t corrected; /* samples judged by a correction */
};

int gh_store_quality_add(struct gh_store *st, const struct gh_quality_sample *s,
                         struct gh_err *err) GH_MUST_CHECK;

/* Sums the samples created at or after since into out (GH_QUALITY_BUCKETS, zeroed first). */
int gh_store_quality_buckets(struct gh_store *st, int64_t since, struct gh_quality_bucket *out,
                             struct gh_err *err) GH_MUST_CHECK;

/* ---- bounded storage (issue 10; store_hits.c) ---- */

/* Hits are counted in memory: gh_store_get_exact and gh_store_get_near return the entry with
 * this lookup (and any pending) counted, and the counts reach the table in one statement per
 * batch when gh_store_flush_hits runs (the service every GH_STORE_HIT_FLUSH_S seconds; also
 * gh_store_stats, gh_store_purge_expired and gh_store_close, and a lookup once 2048 distinct
 * photos are pending). gh_store_put forgets what is pending for its key (it sets hits).
 * Counts of a failed flush are dropped (counters, not records) and counted in `dropped`.
 * Thread-safe. */
#define GH_STORE_HIT_FLUSH_S 10

struct gh_store_hit_counters {
    int64_t hits;         /* counted since open */
    int64_t flushes;      /* batches written */
    int64_t rows_written; /* rows those batches updated: the writes hits cost */
    int64_t pending;      /* counted, not yet written */
    int64_t dropped;      /* lost to failed flushes */
};

int gh_store_flush_hits(struct gh_store *st, struct gh_err *err);
void gh_store_hit_counters(struct gh_store *st, struct gh_store_hit_counters *out);

/* What gh_store_prune_history deleted. */
struct gh_store_pruned {
    int64_t identifications;
    int64_t feedback;
    int64_t quality_samples;
};

/* HISTORY_RETENTION_DAYS: deletes identifications, feedback and quality samples created
 * before before_created_at (feedback on a deleted identification goes with it), in batches of
 * at most 10,000 rows so no writer waits long; out may be NULL. */
int gh_store_prune_history(struct gh_store *st, int64_t before_created_at,
                           struct gh_store_pruned *out, struct gh_err *err) GH_MUST_CHECK;

/* Frees out->answer_json and zeroes *e. NULL is a no-op. */
void gh_cache_entry_fini(struct gh_cache_entry *e);

#endif
