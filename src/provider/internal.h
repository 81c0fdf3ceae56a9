/* SPDX-License-Identifier: MIT */
/* Inside the provider module: the settings of the OpenAI-compatible client (openai.c) as the
 * factory (provider.c) resolves them, and the answer-handling helpers tests reach directly.
 * Nothing here is part of the public interface. */
#ifndef GH_PROVIDER_INTERNAL_H
#define GH_PROVIDER_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "gh/provider.h"

/* Largest HTTP response body we read; a Chat Completions answer is a few kB. */
#define GH_PROVIDER_BODY_MAX (1024 * 1024)
/* Largest JPEG we send; the provider copy is a few hundred kB at most. */
#define GH_PROVIDER_JPEG_MAX (20 * 1024 * 1024)

/* Everything resolved: no NULLs except api_key, defaults applied, values checked. */
struct gh_openai_config {
    const char *name;     /* "openai" or "llava"; a static string */
    const char *base_url; /* http(s)://host/v1, "/chat/completions" is appended */
    const char *model;
    const char *api_key; /* NULL: send no Authorization header */
    long connect_timeout_ms;
    long timeout_ms;
    int max_retries;
    long backoff_base_ms;
};

/* Builds the Chat Completions client. Copies every string. Errors: GH_EINVAL (base URL not
 * http(s)), GH_EBACKEND (libcurl failed to initialise), GH_ENOMEM. */
int gh_openai_new(const struct gh_openai_config *cfg, struct gh_provider **out,
                  struct gh_err *err) GH_MUST_CHECK;

/* The local CLIP provider's settings (clip.c), resolved by the factory. */
struct gh_clip_provider_config {
    const char *model;     /* CLIP_MODEL; NULL: the default pulled model */
    int threads;           /* threads, 0 = one per core */
    int precision;         /* an enum gh_clip_precision */
    int max_batch;         /* images per forward pass; 0: 8 */
    int batch_wait_ms;     /* CLIP_BATCH_WAIT_MS */
    const char *cache_dir; /* text-embedding cache; NULL: XDG default, "": none */
    const struct gh_catalogue *cat;
    struct gh_provider *fallback; /* auto's escalation target or NULL; owned from the call on */
    double escalate_below;        /* escalate when CLIP's best probability is under it */
    double shadow_rate;           /* share of sure answers also asked of the fallback */
};

/* Builds the "clip" provider: loads the model and the zero-shot classes. A model that cannot
 * be found or loaded gives a provider that is not ready (GH_OK; ready() says why). Errors:
 * GH_ENOMEM. */
int gh_clip_provider_new(const struct gh_clip_provider_config *cfg, struct gh_provider **out,
                         struct gh_err *err) GH_MUST_CHECK;

/* The answer object in a model's text: the whole text when it is a JSON object, else the first
 * balanced {...} in it that parses as one (servers that ignore response_format wrap it in prose
 * or code fences). Returns a new reference, or NULL when there is none. */
json_t *gh_provider_answer_json(const char *text, size_t len);

/* Copies text into out (cap bytes, always terminated) with every occurrence of secret, and every
 * word that holds an 8-character piece of it (servers echo masked keys), replaced by
 * "[redacted]". secret NULL or "" copies as is. Non-printable bytes become '?'. */
void gh_provider_scrub(const char *text, size_t len, const char *secret, char *out, size_t cap);

/* Milliseconds a Retry-After value asks for: delay-seconds or an HTTP-date (RFC 9110 10.2.3),
 * relative to now; -1 when value is neither. */
long gh_provider_retry_after_ms(const char *value, time_t now);

#endif
