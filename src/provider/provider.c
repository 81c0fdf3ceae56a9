/* SPDX-License-Identifier: MIT */
/* Provider configuration defaults and the factory: resolves a name ("auto", "openai", "llava",
 * "clip") to a built provider, and stands in a "none" provider when nothing is configured, so
 * the service starts and says how to enable identification. */
#include "internal.h"

#include "gh/models.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_OPENAI_BASE_URL "https://api.openai.com/v1"
#define DEFAULT_OPENAI_MODEL    "gpt-4o-mini"
#define DEFAULT_LLAVA_BASE_URL  "http://127.0.0.1:11434/v1" /* Ollama's OpenAI-compatible API */
#define DEFAULT_LLAVA_MODEL     "llava"
#define DEFAULT_CONNECT_MS      5000
#define DEFAULT_TIMEOUT_MS      30000
#define DEFAULT_MAX_RETRIES     2
#define DEFAULT_BACKOFF_MS      500
#define MAX_RETRIES_LIMIT       10
#define DEFAULT_ESCALATE_BELOW  0.5 /* the pipeline's default confidence threshold */

static const char none_why[] =
    "no AI provider is configured: run `gymhelper model pull` for local CLIP, or set "
    "OPENAI_API_KEY (or AI_PROVIDER=llava with LLAVA_BASE_URL) to enable identification";

static int none_analyze(struct gh_provider *p, const struct gh_provider_request *req,
                        struct gh_provider_result *out, struct gh_err *err)
{
    (void)p;
    (void)req;
    memset(out, 0, sizeof *out);
    snprintf(out->provider, sizeof out->provider, "none");
    snprintf(out->note, sizeof out->note, "%s", none_why);
    return gh_err_set(err, GH_EUNAVAILABLE, "%s", none_why);
}

static int none_ready(struct gh_provider *p, char *why, size_t cap)
{
    (void)p;
    if (why && cap > 0)
        snprintf(why, cap, "%s", none_why);
    return 0;
}

static void none_free(struct gh_provider *p)
{
    (void)p; /* a shared static instance: it holds nothing */
}

static const struct gh_provider_ops none_ops = {
    .analyze = none_analyze,
    .ready = none_ready,
    .free = none_free,
};

static struct gh_provider none_provider = {.ops = &none_ops, .name = "none", .model = ""};

void gh_provider_config_defaults(struct gh_provider_config *cfg)
{
    /* Pointers stay NULL ("use the default"): "auto" must tell an explicit LLAVA_BASE_URL from
     * the default one. */
    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout_ms = DEFAULT_CONNECT_MS;
    cfg->timeout_ms = DEFAULT_TIMEOUT_MS;
    cfg->max_retries = DEFAULT_MAX_RETRIES;
    cfg->backoff_base_ms = DEFAULT_BACKOFF_MS;
    cfg->escalate_below = DEFAULT_ESCALATE_BELOW;
    cfg->shadow_rate = 0.05;
}

static int is_set(const char *s)
{
    return s && *s;
}

static const char *or_default(const char *s, const char *def)
{
    return is_set(s) ? s : def;
}

/* Zero or negative numbers mean the default too, so a zeroed config works. */
static int resolve_limits(const struct gh_provider_config *cfg, struct gh_openai_config *oc,
                          struct gh_err *err)
{
    if (cfg->max_retries > MAX_RETRIES_LIMIT)
        return gh_err_set(err, GH_EINVAL, "max_retries is %d, over the limit of %d",
                          cfg->max_retries, MAX_RETRIES_LIMIT);
    oc->connect_timeout_ms =
        cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
    oc->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    oc->max_retries = cfg->max_retries >= 0 ? cfg->max_retries : DEFAULT_MAX_RETRIES;
    oc->backoff_base_ms = cfg->backoff_base_ms >= 0 ? cfg->backoff_base_ms : DEFAULT_BACKOFF_MS;
    return GH_OK;
}

/* openai or llava, by name ("openai"/"llava"). */
static int remote_new(const struct gh_provider_config *cfg, const char *name,
                      struct gh_provider **out, struct gh_err *err)
{
    struct gh_openai_config oc = {0};
    int rc;

    if (strcasecmp(name, "openai") == 0) {
        if (!is_set(cfg->openai_api_key))
            return gh_err_set(err, GH_EINVAL, "the openai provider needs OPENAI_API_KEY");
        oc.name = "openai";
        oc.base_url = or_default(cfg->openai_base_url, DEFAULT_OPENAI_BASE_URL);
        oc.model = or_default(cfg->openai_model, DEFAULT_OPENAI_MODEL);
        oc.api_key = cfg->openai_api_key;
    } else {
        /* No key: OPENAI_API_KEY belongs to OpenAI and must not go to another server. */
        oc.name = "llava";
        oc.base_url = or_default(cfg->llava_base_url, DEFAULT_LLAVA_BASE_URL);
        oc.model = or_default(cfg->llava_model, DEFAULT_LLAVA_MODEL);
    }
    rc = resolve_limits(cfg, &oc, err);
    if (rc)
        return rc;
    return gh_openai_new(&oc, out, err);
}

/* CLIP, with a remote provider to escalate to when auto has one configured. */
static int clip_new(const struct gh_provider_config *cfg, int with_fallback,
                    struct gh_provider **out, struct gh_err *err)
{
    struct gh_clip_provider_config cc = {0};
    int rc = GH_OK;

    if (!cfg->cat)
        return gh_err_set(err, GH_EINVAL, "the clip provider needs the catalogue");
    if (with_fallback && is_set(cfg->openai_api_key))
        rc = remote_new(cfg, "openai", &cc.fallback, err);
    else if (with_fallback && is_set(cfg->llava_base_url))
        rc = remote_new(cfg, "llava", &cc.fallback, err);
    if (rc)
        return rc;
    cc.model = is_set(cfg->clip_model) ? cfg->clip_model : NULL;
    cc.threads = cfg->clip_threads;
    cc.precision = cfg->clip_precision;
    cc.max_batch = cfg->clip_max_batch;
    cc.batch_wait_ms = cfg->clip_batch_wait_ms;
    cc.cache_dir = cfg->clip_cache_dir;
    cc.cat = cfg->cat;
    cc.escalate_below = cfg->escalate_below;
    cc.shadow_rate = cfg->shadow_rate;
    return gh_clip_provider_new(&cc, out, err);
}

int gh_provider_new(const struct gh_provider_config *cfg, struct gh_provider **out,
                    struct gh_err *err)
{
    const char *name = or_default(cfg->name, "auto");
    struct gh_model_ref ref;

    *out = NULL;
    if (strcasecmp(name, "auto") == 0) {
        /* Local first: no bill, no upload. A configured CLIP_MODEL counts even when it cannot
         * be loaded, so the mistake shows (health, 503) instead of silently billing a remote. */
        if (cfg->cat && (is_set(cfg->clip_model) || gh_models_find_default(&ref) == GH_OK))
            return clip_new(cfg, 1, out, err);
        if (is_set(cfg->openai_api_key))
            name = "openai";
        else if (is_set(cfg->llava_base_url))
            name = "llava";
        else {
            *out = &none_provider;
            return GH_OK;
        }
    }
    if (strcasecmp(name, "openai") == 0 || strcasecmp(name, "llava") == 0)
        return remote_new(cfg, name, out, err);
    if (strcasecmp(name, "clip") == 0)
        return clip_new(cfg, 0, out, err);
    return gh_err_set(err, GH_EINVAL,
                      "unknown AI provider \"%.32s\": choose auto, openai, llava or clip", name);
}

void gh_provider_free(struct gh_provider *p)
{
    if (p)
        (*p->ops->free)(p);
}

/* Nanodollars per token (= dollars per million tokens * 1000), input then output, from the
 * OpenAI price list; longer prefixes first. */
static const struct price {
    const char *prefix;
    int64_t in_nd, out_nd;
} prices[] = {
    {"gpt-4o-mini", 150, 600},
    {"gpt-4o", 2500, 10000},
};

/* Token counts come from the provider's answer: clamp them so the cost cannot overflow. */
static int64_t clamp_tokens(int64_t n)
{
    return n <= 0 ? 0 : n > INT64_C(1000000000) ? INT64_C(1000000000) : n;
}

int64_t gh_provider_cost_nd(const char *model, int64_t prompt_tokens, int64_t completion_tokens)
{
    for (size_t i = 0; model && i < sizeof prices / sizeof prices[0]; i++)
        if (strncmp(model, prices[i].prefix, strlen(prices[i].prefix)) == 0)
            return clamp_tokens(prompt_tokens) * prices[i].in_nd +
                   clamp_tokens(completion_tokens) * prices[i].out_nd;
    return 0;
}
