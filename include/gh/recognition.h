/* SPDX-License-Identifier: MIT */
/* Recognition above the CLIP engine: visual memory (every answered photo's image embedding,
 * kept as int8 with a scale, with its label and where the label came from) searched by a
 * SIMD scan, exact for small memories, in two stages (bit codes, then int8) for large ones, and
 * the training-free sharpening of CLIP's zero-shot scores by the
 * nearest remembered photos (Tip-Adapter, Zhang et al. 2022). The memory lives in the store
 * (both backends) and in an in-process index per instance that pulls other instances'
 * additions incrementally. Labels count only when confirmed (gh_vmem_source_confirmed). */
#ifndef GH_RECOGNITION_H
#define GH_RECOGNITION_H

#include <stddef.h>
#include <stdint.h>

#include "gh/catalogue.h"
#include "gh/err.h"
#include "gh/store.h"
#include "gh/zeroshot.h"

#define GH_VMEM_K_MAX 16 /* neighbours one search returns at most */

/* Where a label came from. Only "provider" (a paid model answered), "trusted" (a trusted or
 * admin person's correction) and "quorum" (enough people agreed) are confirmed and answer or
 * vote; "clip" (CLIP's own answer) and "user" (one person's correction) are kept so that a
 * later confirmation can promote the photo, but never searched. */
#define GH_VMEM_SOURCE_PROVIDER "provider"
#define GH_VMEM_SOURCE_TRUSTED  "trusted"
#define GH_VMEM_SOURCE_QUORUM   "quorum"
#define GH_VMEM_SOURCE_CLIP     "clip"
#define GH_VMEM_SOURCE_USER     "user"

/* 1 when labels from source may answer and vote. */
int gh_vmem_source_confirmed(const char *source);

/* Symmetric int8 quantisation of an embedding: scale = max|x| / 127, q = round(x / scale).
 * A zero vector gets scale 0. */
void gh_vmem_quantize(const float *x, int dim, int8_t *q, float *scale);

struct gh_vmem_opts {
    const char *model;   /* the embedding model's identity (gh_clip_model_digest); copied */
    int dim;             /* 1..GH_STORE_VMEM_DIM_MAX */
    int64_t max_entries; /* size cap: the oldest are dropped beyond it (VISUAL_MEMORY_MAX) */
    int64_t retention_s; /* entries older than this are dropped (VISUAL_MEMORY_DAYS) */
    int64_t refresh_ms;  /* searches pull other instances' additions at most this often */
    int threads;         /* scan threads for large memories; 0: 2 */
    int64_t exact_max;   /* up to this many photos a search compares the query with each; beyond,
                          * bit codes pick candidates first; 0: GH_VMEM_EXACT_MAX */
    int candidates;      /* candidates the bit codes pick for the exact rerank; 0: from the
                          * size (512 .. 4096, photos / 256) */
};

/* Where the exact scan is already fast: about 4.4 MB at 512 dimensions (20,000 photos took
 * 0.3 ms in bench/vmem_bench.py) and codes would gain little. */
#define GH_VMEM_EXACT_MAX 8192

struct gh_vmem_hit {
    char slug[64];
    char source[16];
    double similarity; /* cosine of the two embeddings, from their int8 forms */
    int64_t id;        /* the store row */
};

struct gh_vmem_stats {
    int64_t entries;        /* searchable now */
    size_t bytes_per_entry; /* in-process: vector, bit code, scale, label, id, time */
    int64_t refreshes;      /* successful pulls from the store */
    int64_t refresh_errors; /* failed pulls (the index keeps what it has) */
    int64_t last_id;        /* the newest store row seen */
};

struct gh_vmem;

/* An empty index for embeddings of opts->model; st may be NULL (an index in memory only, for
 * benchmarks and `gymhelper eval`), else it is borrowed and must outlive the index, and the
 * first search loads what the store holds. Errors: GH_EINVAL (dim out of range, no model),
 * GH_ENOMEM. */
int gh_vmem_new(struct gh_store *st, const struct gh_vmem_opts *opts, struct gh_vmem **out,
                struct gh_err *err) GH_MUST_CHECK;

void gh_vmem_free(struct gh_vmem *vm);

/* Pulls confirmed rows for this model newer than the last one seen (every instance's), drops
 * what retention and the cap exclude at now. Safe to call from any thread; one pull at a
 * time. Errors: those of the store (the index is unchanged). */
int gh_vmem_refresh(struct gh_vmem *vm, int64_t now, struct gh_err *err) GH_MUST_CHECK;

/* The k (1..GH_VMEM_K_MAX) most similar remembered photos to the L2-normalised embedding emb,
 * most similar first, into hits; *n_hits gets how many (0 when the memory is empty). Past
 * opts->exact_max photos, the most similar among the candidates the bit codes pick: recall is
 * measured, not guaranteed, but the similarities are the exact int8 ones either way. Pulls
 * from the store first when refresh_ms has passed (a failure there is counted and the search
 * goes on with what the index holds). Thread-safe; searches run concurrently. Errors: GH_EINVAL
 * (a NaN or Inf in emb), GH_ENOMEM. */
int gh_vmem_search(struct gh_vmem *vm, const float *emb, int k, int64_t now,
                   struct gh_vmem_hit *hits, int *n_hits, struct gh_err *err) GH_MUST_CHECK;

/* Remembers a photo: its embedding (dim floats, L2-normalised), its label and the label's
 * source, written to the store (unconfirmed sources too, so a later confirmation can promote
 * them); confirmed ones then become searchable on every instance (at once on this one).
 * Without a store only confirmed ones are kept, in the index. Errors: GH_EINVAL (unknown
 * source, empty slug), the store's. */
int gh_vmem_add(struct gh_vmem *vm, const char *sha256, const float *emb, const char *slug,
                const char *source, int64_t now, struct gh_err *err) GH_MUST_CHECK;

void gh_vmem_stats(struct gh_vmem *vm, struct gh_vmem_stats *out);

/* Tip-Adapter's cache model on top of a zero-shot result: each equipment class c gets the
 * affinity a_c = sum over the neighbours labelled c of exp(-beta * (1 - similarity)), and the
 * probabilities become softmax(zero-shot logits + alpha * a), which over the zero-shot
 * probabilities p is q_c = p_c e^(alpha a_c) / sum_j p_j e^(alpha a_j). Classes outside r's top
 * list take the smaller of its last probability and the mass it leaves. r->top is re-sorted
 * and may gain the neighbours' classes (slugs borrowed from cat). A "not gym equipment" result
 * is left as it is. Only confirmed neighbours vote. */
void gh_vmem_sharpen(const struct gh_catalogue *cat, const struct gh_vmem_hit *hits, int n_hits,
                     double alpha, double beta, struct gh_zeroshot_result *r);

#define GH_VMEM_ALPHA 1.0 /* Tip-Adapter's defaults for CLIP */
#define GH_VMEM_BETA  5.5

/* ---- measured escalation: how good CLIP's own answer is, by confidence ---- */

struct gh_quality_report {
    struct gh_quality_bucket b[GH_QUALITY_BUCKETS];
    double current_threshold; /* CONFIDENCE_THRESHOLD: escalated below it */
    double shadow_rate;       /* SHADOW_SAMPLE_RATE: a shadow sample stands for 1/rate photos */
    double precision_target;
    int64_t samples, agree;    /* all samples, unweighted */
    double threshold;          /* the lowest edge of a bucket with samples at which CLIP's
                                * weighted precision over the samples at or above it reaches the
                                * target; -1: none */
    double precision;          /* that precision */
    int64_t escalations;       /* escalated samples */
    int64_t escalations_saved; /* escalated samples at or above threshold: CLIP would answer */
    double extra_paid_calls;   /* estimated sure answers below threshold (shadow / rate) that
                                * would then be escalated */
};

/* Fills r from the store's buckets (r->b) and r's current_threshold, shadow_rate and
 * precision_target. Pure arithmetic. */
void gh_quality_compute(struct gh_quality_report *r);

/* The report as a JSON object text (gh_free), or NULL when out of memory. */
char *gh_quality_json(const struct gh_quality_report *r);

#endif
