/* SPDX-License-Identifier: MIT */
/* Shared inside the pipeline module: answer documents (answer.c) and the identification
 * recorder (recorder.c). */
#ifndef GH_PIPELINE_INTERNAL_H
#define GH_PIPELINE_INTERNAL_H

#include "gh/pipeline.h"

/* The stored answer for a provider result; NULL on allocation failure. *identified says
 * whether the slug is known and confident enough. Free with gh_free. */
char *gh_answer_build(const struct gh_catalogue *cat, const struct gh_provider_result *r,
                      double threshold, const struct gh_image_info *info, const char *sha256,
                      uint64_t phash, int *identified);

/* A copy of stored with "image" replaced (when info is not NULL) and at most top_k
 * alternatives (top_k < 0: all). NULL on parse or allocation failure. Free with gh_free. */
char *gh_answer_rewrite(const char *stored, const struct gh_image_info *info, const char *sha256,
                        uint64_t phash, int top_k);

/* The response body: the per-request fields spliced in front of a stored answer. A "visual"
 * layer also gets "similarity". */
int gh_answer_wrap(const char *stored, size_t stored_len, const char *request_id, int cached,
                   const char *layer, int distance, double similarity, double ms, char **out,
                   size_t *out_len);

/* The answer after a person's correction: the stored answer (image, provider, model kept)
 * with the equipment replaced by slug's, confidence 1, "corrected": true, no alternatives or
 * candidates. NULL when stored does not parse, slug is unknown, or memory runs out. */
/* GH_OK when stored (an answer read back from Redis or the store) is one of ours: a JSON object
 * with "identified", equipment null or in the catalogue and equal to slug (when slug is not
 * empty), and, when sha256 is given and the answer names its image, about that image. GH_EINVAL
 * otherwise (damaged, or written by something else): the caller treats it as a miss. */
int gh_answer_check(const struct gh_catalogue *cat, const char *stored, const char *slug,
                    const char *sha256);

char *gh_answer_correct(const struct gh_catalogue *cat, const char *stored, const char *slug);

/* Each person's own corrections (personal.c): owner -> photos they corrected, to answer them
 * with their correction. Thread-safe. gh_personal_new returns NULL when out of memory. */
struct gh_correction;
struct gh_personal;
struct gh_personal *gh_personal_new(struct gh_store *st, struct gh_lru *lru, int64_t refresh_ms);
void gh_personal_free(struct gh_personal *pi);
/* Adds c (owner, sha256, phash, slug), replacing that owner's earlier entry for the photo;
 * owner "" is ignored (open mode's corrections are shared). */
void gh_personal_put(struct gh_personal *pi, const struct gh_correction *c);
/* 1 when refresh_ms has passed since the last pull: I/O threads then hand a signed-in person's
 * request to a worker, which pulls first. */
int gh_personal_stale(struct gh_personal *pi);
/* Pulls newer corrections from the store when stale (blocks on the store: workers only), and
 * drops their photos from lru: a new vote may have changed a shared answer elsewhere. */
void gh_personal_refresh(struct gh_personal *pi);
/* 1 with slug and *distance when owner corrected this photo (sha256) or one within
 * max_distance of phash (0: unknown, exact only); the nearest wins. No I/O. */
int gh_personal_find(struct gh_personal *pi, const char *owner, const char *sha256, uint64_t phash,
                     int max_distance, char slug[64], int *distance);

/* What correct.c needs of the pipeline (pipeline.c), borrowed for its life. */
struct gh_pipeline_parts {
    const struct gh_pipeline_config *cfg;
    const struct gh_pipeline_deps *deps;
    struct gh_personal *personal;
};
void gh_pipeline_parts(struct gh_pipeline *p, struct gh_pipeline_parts *out);

struct gh_recorder;

/* Writes identification records on a background thread so requests never wait for the
 * database; at most cap records queue up, beyond that they are dropped with a warning. */
struct gh_recorder *gh_recorder_new(struct gh_store *store, size_t cap);
void gh_recorder_push(struct gh_recorder *r, const struct gh_identification *rec);
/* Returns once every record queued before the call is in the store. */
void gh_recorder_flush(struct gh_recorder *r);
/* Writes what is queued, stops the thread, frees. NULL is a no-op. */
void gh_recorder_free(struct gh_recorder *r);

#endif
