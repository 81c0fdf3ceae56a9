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
