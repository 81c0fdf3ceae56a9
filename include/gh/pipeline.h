/* SPDX-License-Identifier: MIT */
/* The analysis pipeline of DESIGN.md: exact key -> in-process LRU -> Redis by exact key ->
 * store by exact key -> decode and pHash -> Redis by pHash -> store near-duplicate -> AI
 * provider (one call per distinct upload at a time) -> answer from the catalogue -> cache +
 * identification record. Thread-safe: one pipeline serves every worker thread. */
#ifndef GH_PIPELINE_H
#define GH_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "gh/catalogue.h"
#include "gh/digest.h"
#include "gh/err.h"
#include "gh/image.h"
#include "gh/limits.h"
#include "gh/lru.h"
#include "gh/provider.h"
#include "gh/recognition.h"
#include "gh/redis.h"
#include "gh/store.h"
#include "gh/store_corrections.h"

struct gh_pipeline_config {
    struct gh_image_limits lim;
    struct gh_image_prep_opts prep;
    int64_t cache_ttl_s;         /* CACHE_TTL_DAYS, default 30 days */
    int max_distance;            /* CACHE_MAX_DISTANCE, 0..4, default 4 */
    double confidence_threshold; /* below it the answer is "not sure", default 0.5 */
    double visual_threshold;     /* VISUAL_MATCH_THRESHOLD: a remembered photo at least this
                                  * similar answers without a provider call, default 0.92 */
    int visual_k;                /* neighbours that sharpen CLIP's scores, default 8 */
    int correction_quorum;       /* CORRECTION_QUORUM: users agreeing on a photo's equipment
                                  * that change its shared answer, default 3 */
    int64_t personal_refresh_ms; /* how often people's corrections made on other instances are
                                  * pulled from the store, default 1000 */
};

void gh_pipeline_config_defaults(struct gh_pipeline_config *cfg);

/* Borrowed collaborators; they must outlive the pipeline. lru may be NULL (no memory layer),
 * redis too (no shared hot layer). */
struct gh_pipeline_deps {
    struct gh_store *store;
    struct gh_lru *lru;
    struct gh_provider *provider;
    const struct gh_catalogue *cat;
    struct gh_redis *redis;
    struct gh_limits *limits; /* may be NULL: no provider rate limit or budget */
    struct gh_vmem *vmem;     /* visual memory (gh/recognition.h); NULL: none. Used when the
                               * provider has an embedding (ops->embed) */
};

struct gh_analyze_request {
    const uint8_t *body; /* the upload, borrowed for the call */
    size_t len;
    enum gh_image_format declared; /* from Content-Type or file name; UNKNOWN: none */
    int nocache;                   /* skip cache lookups; the fresh answer is still stored */
    int top_k;                     /* alternatives to return, 0..3 (default 3) */
    const char *request_id;
    const char *owner; /* who asked (gh_auth_owner), kept in the history; NULL: nobody */
    char sha256[GH_SHA256_HEX_LEN + 1]; /* filled by gh_pipeline_lookup for analyze to reuse */
    const char *client_key; /* the identity key whose provider bucket a call spends; NULL: none */
    /* When gh_pipeline_analyze answers GH_ELIMITED: the client's provider bucket refused
     * (limit.limited), or else the daily provider budget is spent (budget says which). */
    struct gh_limits_verdict limit;
    enum gh_limits_budget budget;
};

struct gh_analysis {
    char *json; /* the response body; gh_free */
    size_t json_len;
    int cached;
    char layer[16]; /* "memory", "redis", "exact", "near", "visual", "coalesced", "" */
    int distance;
    double similarity; /* a "visual" hit's cosine similarity, else 0 */
    char slug[64];     /* "" when not identified */
    char provider[32];
    double processing_ms;
};

struct gh_pipeline_stats {
    uint64_t requests;
    uint64_t memory_hits;
    uint64_t redis_hits;        /* Redis, by SHA-256 or by exact pHash */
    uint64_t redis_phash_hits;  /* the part of redis_hits found by pHash */
    uint64_t exact_hits;        /* store, by SHA-256 */
    uint64_t near_hits;         /* store, by pHash */
    uint64_t coalesced;         /* waited for an identical upload's provider call */
    uint64_t coalescing;        /* waiting for one now (a gauge) */
    uint64_t visual_hits;       /* answered by a remembered photo, no provider call */
    uint64_t visual_remembered; /* photos added to the visual memory (confirmed labels) */
    int visual_enabled;         /* a visual memory is wired (CLIP loaded, VISUAL_MEMORY_MAX > 0) */
    int64_t visual_entries;     /* searchable remembered photos in this instance's index */
    uint64_t visual_bytes_per_entry; /* in-process bytes per remembered photo */
    int64_t visual_refresh_errors;   /* failed pulls from the store */
    uint64_t quality_samples;        /* CLIP's answer recorded beside a paid model's */
    uint64_t quality_agree;          /* of those, the two named the same equipment */
    uint64_t misses;                 /* went to the provider */
    uint64_t provider_errors;
    uint64_t store_errors; /* store failures degraded to a miss */
    int64_t prompt_tokens;
    int64_t completion_tokens;
};

/* NULL with err set on failure (GH_ENOMEM, GH_EINVAL for a bad config). */
struct gh_pipeline *gh_pipeline_new(const struct gh_pipeline_config *cfg,
                                    const struct gh_pipeline_deps *deps, struct gh_err *err);

/* Waits for queued identification records to be written, then frees. NULL is a no-op. */
void gh_pipeline_free(struct gh_pipeline *p);

/* The in-memory path, for an I/O thread (no I/O, no lock held for long): checks the declared
 * type against the bytes, computes the SHA-256 into req->sha256 and answers from the LRU. GH_OK
 * with *out filled on a hit; GH_ENOTFOUND on a miss (then gh_pipeline_lookup on a worker);
 * other errors as gh_image_validate. With req->nocache it only validates and hashes. */
int gh_pipeline_lookup_memory(struct gh_pipeline *p, struct gh_analyze_request *req,
                              struct gh_analysis *out, struct gh_err *err) GH_MUST_CHECK;

/* The shared cache layers, for workers: when req->sha256 is empty, first what
 * gh_pipeline_lookup_memory does; then Redis and the store's exact key (each may block up to
 * its timeout: see gh/redis.h and the store's breaker). GH_OK with *out filled on a hit;
 * GH_ENOTFOUND on a miss (call gh_pipeline_analyze); other errors as gh_image_validate. */
int gh_pipeline_lookup(struct gh_pipeline *p, struct gh_analyze_request *req,
                       struct gh_analysis *out, struct gh_err *err) GH_MUST_CHECK;

/* The whole pipeline (runs the fast path first when req->sha256 is empty). May block for
 * seconds on the provider. Errors: those of gh_image_validate/gh_image_luma_grid for the
 * image (GH_EINVAL, GH_ETOOBIG, GH_EUNSUPPORTED, GH_EMISMATCH, GH_EDECODE, GH_ERANGE), and
 * GH_EPROVIDER, GH_ETIMEOUT, GH_EUNAVAILABLE from the provider; GH_ELIMITED when a provider
 * call is needed and the client's provider rate limit or the daily budget refuses it (see
 * req->limit; with a CLIP provider a spent budget makes CLIP answer alone instead). Store
 * failures never fail a request: they are logged and the analysis goes on without that layer. */
int gh_pipeline_analyze(struct gh_pipeline *p, struct gh_analyze_request *req,
                        struct gh_analysis *out, struct gh_err *err) GH_MUST_CHECK;

void gh_analysis_fini(struct gh_analysis *a);

/* Returns once every analysis answered so far is in the history (records are written in the
 * background; reads of the history that must see them call this first). */
void gh_pipeline_flush(struct gh_pipeline *p);

/* Finds an earlier analysis by its history id (all digits) or its request id: then owner's
 * latest with it (NULL: anyone's; a request id is the client's choice, so two people may have
 * used the same). GH_ENOTFOUND when none; GH_EBACKEND when the store fails. */
int gh_pipeline_find_identification(struct gh_pipeline *p, const char *id, const char *owner,
                                    struct gh_identification *out,
                                    struct gh_err *err) GH_MUST_CHECK;

/* A person's correction of the earlier analysis with history id ident_id (found as above; the
 * caller has checked that owner may correct it, and passes the id it checked): stored as owner's
 * vote for that photo, and from now on that person (owner not "") is answered with slug for the
 * photo and its near duplicates (layer "personal"). The shared answer (store, Redis: every instance
 * and person) changes only when trusted is set (a trusted or admin person; also open mode's local
 * user, owner ""), or when correction_quorum distinct owners voted for slug: then the photo's
 * cached answer is rewritten with slug's equipment and "corrected": true, keeping its expiry, and
 * no provider answer overwrites it. *out gets the updated history record, *vote the correction as
 * stored (status applied when it changed the shared answer, else pending). Errors: GH_ENOTFOUND (no
 * such analysis), GH_EINVAL (slug not in the catalogue), GH_ECONFLICT (no image to correct;
 * for a trusted correction, its cached answer expired: upload again), GH_EBACKEND,
 * GH_ENOMEM. */
int gh_pipeline_correct(struct gh_pipeline *p, int64_t ident_id, const char *slug,
                        const char *owner, int trusted, struct gh_identification *out,
                        struct gh_correction *vote, struct gh_err *err) GH_MUST_CHECK;

/* An admin's review of correction id: accept makes it the photo's shared answer as a trusted
 * correction would (status accepted; accepting one already shared changes nothing); reject
 * stops it counting as a vote (status rejected; the person still sees it). *out gets it
 * afterwards. Errors: GH_ENOTFOUND, GH_ECONFLICT (rejecting one that is the shared answer
 * already, or accepting one whose photo is no longer cached), the store's. */
int gh_pipeline_review(struct gh_pipeline *p, int64_t id, int accept, struct gh_correction *out,
                       struct gh_err *err) GH_MUST_CHECK;

void gh_pipeline_stats(struct gh_pipeline *p, struct gh_pipeline_stats *out);

/* The store's state for health checks, through the pipeline's breaker: the schema version
 * (> 0) when the store answers; GH_EUNAVAILABLE without any I/O while the store is being
 * skipped after failing to answer (requests then go on without it; when the pause ends one
 * caller, a request or this check, tries it again); other store errors as they come. */
int gh_pipeline_store_check(struct gh_pipeline *p, struct gh_err *err);

#endif
