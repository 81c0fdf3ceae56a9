/* SPDX-License-Identifier: MIT */
/* AI providers: something that looks at a photo and names a catalogue slug. A vtable
 * (struct gh_provider_ops) and a factory by name: "openai" (Chat Completions), "llava" (the
 * same client at an OpenAI-compatible local server), "clip" (zero-shot CLIP on this machine),
 * "auto" (whatever is configured; CLIP first, escalating to a remote model when unsure).
 * Providers never trust their model: an answer is only a slug that exists in the catalogue. */
#ifndef GH_PROVIDER_H
#define GH_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "gh/catalogue.h"
#include "gh/err.h"

#define GH_PROVIDER_MAX_ALTS 3
#define GH_SLUG_CAP          64

struct gh_provider_candidate {
    char slug[GH_SLUG_CAP];
    double confidence; /* 0..1 */
};

struct gh_provider_result {
    char slug[GH_SLUG_CAP]; /* "" when the model named nothing (or nothing known) */
    double confidence;      /* 0..1 */
    struct gh_provider_candidate alternatives[GH_PROVIDER_MAX_ALTS];
    int n_alternatives;
    char provider[32]; /* "openai", "llava", "clip": the one that answered */
    char model[64];    /* as the server reported it, else as configured */
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int attempts;            /* HTTP requests made, retries included */
    char note[256];          /* why not identified, e.g. "the model answered an unknown slug" */
    char escalated_from[32]; /* "clip" when CLIP was unsure and provider answered instead */
    int uncacheable;         /* answer it, but cache nothing: a later try may do better (CLIP's own
                              * candidates after a failed escalation) */
    /* CLIP's own top answer and probability when it ran (also when it escalated): what the
     * paid model's answer is measured against. "" when CLIP did not run. */
    char clip_slug[GH_SLUG_CAP];
    double clip_confidence;
    /* A shadow sample (SHADOW_SAMPLE_RATE): CLIP was sure and answered, and the remote model
     * was asked too; its answer, model and tokens (to be billed) are here. */
    int shadow;
    char shadow_slug[GH_SLUG_CAP];
    char shadow_model[64];
    int64_t shadow_prompt_tokens, shadow_completion_tokens;
};

struct gh_vmem_hit; /* gh/recognition.h */

struct gh_provider_request {
    const uint8_t *jpeg; /* the provider copy (gh_image_provider_copy) */
    size_t jpeg_len;
    const struct gh_catalogue *cat;
    const char *request_id; /* sent as X-Request-ID for tracing; may be NULL */
    int local_only;         /* the daily provider budget is spent: CLIP answers without
                             * escalating to a paid remote model (its note says so) */
    /* The photo's embedding from ops->embed, when the pipeline made one (NULL: none), and the
     * nearest remembered photos that sharpen CLIP's zero-shot scores (gh_vmem_sharpen). */
    const float *embedding;
    const struct gh_vmem_hit *neighbours;
    int n_neighbours;
};

struct gh_provider;

struct gh_provider_ops {
    /* Identifies the photo. A refusal or an unknown slug is an answer: GH_OK with slug ""
     * and a note. Errors: GH_EPROVIDER (HTTP error, malformed answer after the fallbacks),
     * GH_ETIMEOUT, GH_EUNAVAILABLE (not configured). *out is always initialised; attempts
     * and model are valid on failure too. The message never contains the API key.
     * Thread-safe: many requests call it at once. */
    int (*analyze)(struct gh_provider *p, const struct gh_provider_request *req,
                   struct gh_provider_result *out, struct gh_err *err);
    /* 1 when ready, else 0 with the reason in why (cap bytes). Cheap: no network. */
    int (*ready)(struct gh_provider *p, char *why, size_t cap);
    void (*free)(struct gh_provider *p);
    /* Optional (NULL: this provider has no image embedding). The embedding space: its
     * dimension and the model's identity (*model valid while p lives); 0 when not ready. */
    int (*embedding_space)(struct gh_provider *p, const char **model);
    /* Optional. Embeds req's photo into out (embedding_space floats, L2-normalised), the same
     * vector analyze would compute, so analyze can take it back through req->embedding.
     * Errors: those of the image module and the engine, GH_EUNAVAILABLE. Thread-safe. */
    int (*embed)(struct gh_provider *p, const struct gh_provider_request *req, float *out,
                 struct gh_err *err);
};

struct gh_provider {
    const struct gh_provider_ops *ops;
    const char *name;    /* "openai", "llava", "clip", "none" */
    const char *model;   /* configured model name */
    const char *kernels; /* "clip": the ISA, precision and kernels in use once loaded, else NULL */
};

struct gh_provider_config {
    const char *name;               /* AI_PROVIDER: "auto" (default), "openai", "llava", "clip" */
    const char *openai_api_key;     /* OPENAI_API_KEY */
    const char *openai_base_url;    /* OPENAI_BASE_URL, default https://api.openai.com/v1 */
    const char *openai_model;       /* OPENAI_MODEL, default gpt-4o-mini */
    const char *llava_base_url;     /* LLAVA_BASE_URL, default http://127.0.0.1:11434/v1 */
    const char *llava_model;        /* LLAVA_MODEL, default llava */
    long connect_timeout_ms;        /* default 5000 */
    long timeout_ms;                /* whole analyze call incl. retries, default 30000 */
    int max_retries;                /* on 429/5xx/transport errors, default 2 */
    long backoff_base_ms;           /* first retry delay before jitter, default 500 */
    const char *clip_model;         /* CLIP_MODEL: a directory or a pulled name; NULL: the default
                                     * model when pulled (gh_models_find_default) */
    int clip_threads;               /* CLIP_THREADS: threads, 0 = one per core */
    int clip_precision;             /* CLIP_PRECISION: an enum gh_clip_precision (0: f32) */
    int clip_max_batch;             /* CLIP_MAX_BATCH: images per forward pass; 0: 8 */
    int clip_batch_wait_ms;         /* CLIP_BATCH_WAIT_MS: 0 never waits */
    const char *clip_cache_dir;     /* text-embedding cache; NULL: the XDG default, "": none */
    const struct gh_catalogue *cat; /* the classes of "clip"; borrowed, must outlive it */
    double escalate_below;          /* auto: CLIP answers under this probability go to the remote
                                     * provider; the pipeline's confidence threshold (0.5) */
    double shadow_rate;             /* auto: SHADOW_SAMPLE_RATE, the share of CLIP's sure answers
                                     * also sent to the remote provider to measure them (0.05) */
};

/* Numeric defaults above; string fields are left NULL, meaning "use the default", so that
 * "auto" can tell an explicitly configured LLAVA_BASE_URL from the default one. */
void gh_provider_config_defaults(struct gh_provider_config *cfg);

/* Builds the provider cfg->name asks for. "auto" picks clip when a CLIP model is present
 * (clip_model set, or the default model pulled), escalating to openai (OPENAI_API_KEY set) or
 * llava (LLAVA_BASE_URL set) when CLIP's best probability is under escalate_below or its
 * negative gate says the photo is unclear: the answer is then the remote one, with
 * escalated_from "clip" and a note. Without a CLIP model "auto" picks openai when
 * OPENAI_API_KEY is set, else llava when LLAVA_BASE_URL is set, else a provider named "none"
 * whose ready() says how to enable one and whose analyze() fails with GH_EUNAVAILABLE. A CLIP
 * model that cannot be found or loaded still builds a "clip" provider: ready() says why and
 * names `gymhelper model pull`, analyze() fails with GH_EUNAVAILABLE. Errors: GH_EINVAL
 * (unknown name, "openai" without a key, "clip" without a catalogue), GH_ENOMEM. */
int gh_provider_new(const struct gh_provider_config *cfg, struct gh_provider **out,
                    struct gh_err *err) GH_MUST_CHECK;

/* The estimated price of a call to model in nanodollars (1e-9 US$), from its token counts
 * and the OpenAI price list in provider.c (matched by prefix, so dated snapshots such as
 * "gpt-4o-mini-2024-07-18" price like their model). Unknown models, CLIP and local servers
 * cost 0; negative counts count as 0 and huge ones are clamped, so it never overflows. */
int64_t gh_provider_cost_nd(const char *model, int64_t prompt_tokens, int64_t completion_tokens);

/* Asks the remote provider name ("openai" or "llava") as cfg configures it for its model list
 * (GET <base URL>/models, the key sent for openai), waiting at most timeout_ms to connect and
 * twice that in all. Sends no photo, costs nothing. GH_OK with detail (cap bytes) saying what
 * answered; errors: GH_EUNAVAILABLE (openai without OPENAI_API_KEY), GH_EBACKEND (cannot
 * connect; the message names the URL, never the key), GH_EPROVIDER (HTTP 401/403: the key is
 * refused; or a 5xx), GH_EINVAL, GH_ENOMEM. Thread-safe once curl_global_init has run. */
int gh_provider_probe(const struct gh_provider_config *cfg, const char *name, long timeout_ms,
                      char *detail, size_t cap, struct gh_err *err) GH_MUST_CHECK;

/* ops->free; NULL is a no-op. */
void gh_provider_free(struct gh_provider *p);

#endif
