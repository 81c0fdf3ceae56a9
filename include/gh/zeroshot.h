/* SPDX-License-Identifier: MIT */
/* Zero-shot classification over the equipment catalogue with a CLIP model: one class vector per
 * equipment (the renormalised mean of several prompt embeddings: name templates, aliases, the
 * visual description) plus "not gym equipment" classes (faces, pets, food, streets, text,
 * blurry or dark photos). An image embedding is scored with a softmax over logit_scale *
 * cosine across all classes. Class vectors are computed once per (model digest, prompt set,
 * catalogue) and cached on disk; the object is then read-only and thread-safe. */
#ifndef GH_ZEROSHOT_H
#define GH_ZEROSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "gh/catalogue.h"
#include "gh/clip.h"
#include "gh/err.h"

/* Bump when the templates or negative classes change: it is part of the cache key. */
#define GH_ZEROSHOT_PROMPT_VERSION 1
/* The negative gate: the photo is "not gym equipment" when a negative class has the highest
 * probability, or when the negative classes together hold more than this. */
#define GH_ZEROSHOT_NEGATIVE_MASS 0.5
#define GH_ZEROSHOT_TOP_MAX       8

struct gh_zeroshot;

struct gh_zeroshot_opts {
    /* Directory of the text-embedding cache. NULL: $XDG_CACHE_HOME/gymhelper/textemb (or
     * ~/.cache/...); "": no cache. Failures to read or write it are logged, never fatal. */
    const char *cache_dir;
};

/* Builds the classes for cat with model m: from the cache when a valid file for this key is
 * there, else by embedding every prompt (seconds to minutes for a full-size model on a CPU),
 * then writes the cache (temporary file + rename). m must outlive the object only for
 * gh_zeroshot_classify callers that embed with it; the object keeps no pointer to m. cat must
 * outlive it (slugs are borrowed). Errors: those of gh_clip_embed_texts, GH_ENOMEM. */
int gh_zeroshot_new(struct gh_clip_model *m, const struct gh_catalogue *cat,
                    const struct gh_zeroshot_opts *opts, struct gh_zeroshot **out,
                    struct gh_err *err) GH_MUST_CHECK;

void gh_zeroshot_free(struct gh_zeroshot *zs);

/* 1 when the class vectors came from the disk cache. */
int gh_zeroshot_from_cache(const struct gh_zeroshot *zs);
/* Dimension of the vectors, and the number of equipment and negative classes. */
int gh_zeroshot_dim(const struct gh_zeroshot *zs);
size_t gh_zeroshot_n_equipment(const struct gh_zeroshot *zs);
size_t gh_zeroshot_n_negative(const struct gh_zeroshot *zs);
/* The cache file this object reads and writes ("" when caching is off). */
const char *gh_zeroshot_cache_path(const struct gh_zeroshot *zs);

struct gh_zeroshot_hit {
    const char *slug; /* borrowed from the catalogue */
    double p;         /* softmax probability over every class, negatives included */
};

struct gh_zeroshot_result {
    struct gh_zeroshot_hit top[GH_ZEROSHOT_TOP_MAX]; /* equipment only, best first */
    int n_top;
    int not_gym;          /* the negative gate fired */
    const char *negative; /* the best negative class, e.g. "a person's face" (static) */
    double negative_p;    /* its probability */
    double negative_mass; /* all negative classes together */
};

/* Scores an L2-normalised image embedding of gh_zeroshot_dim floats; keeps the k best equipment
 * classes (k clamped to 1..GH_ZEROSHOT_TOP_MAX). Allocates nothing; thread-safe. Errors:
 * GH_EINVAL (a NaN/Inf in the embedding). */
int gh_zeroshot_classify(const struct gh_zeroshot *zs, const float *embedding, int k,
                         struct gh_zeroshot_result *out, struct gh_err *err) GH_MUST_CHECK;

#endif
