/* SPDX-License-Identifier: MIT */
/* Provider configuration defaults and the factory: resolves a name ("auto", "openai", "llava")
 * to a built provider, and stands in a "none" provider when nothing is configured, so the
 * service starts and says how to enable identification. The local CLIP provider comes later. */
#include "internal.h"

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

static const char none_why[] =
    "no AI provider is configured: set OPENAI_API_KEY (or AI_PROVIDER=llava with "
    "LLAVA_BASE_URL) to enable identification";

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

int gh_provider_new(const struct gh_provider_config *cfg, struct gh_provider **out,
                    struct gh_err *err)
{
    struct gh_openai_config oc = {0};
    const char *name = or_default(cfg->name, "auto");
    int rc;

    *out = NULL;
    if (strcasecmp(name, "auto") == 0) {
        if (is_set(cfg->openai_api_key))
            name = "openai";
        else if (is_set(cfg->llava_base_url))
            name = "llava";
        else {
            *out = &none_provider;
            return GH_OK;
        }
    }
    if (strcasecmp(name, "openai") == 0) {
        if (!is_set(cfg->openai_api_key))
            return gh_err_set(err, GH_EINVAL, "the openai provider needs OPENAI_API_KEY");
        oc.name = "openai";
        oc.base_url = or_default(cfg->openai_base_url, DEFAULT_OPENAI_BASE_URL);
        oc.model = or_default(cfg->openai_model, DEFAULT_OPENAI_MODEL);
        oc.api_key = cfg->openai_api_key;
    } else if (strcasecmp(name, "llava") == 0) {
        /* No key: OPENAI_API_KEY belongs to OpenAI and must not go to another server. */
        oc.name = "llava";
        oc.base_url = or_default(cfg->llava_base_url, DEFAULT_LLAVA_BASE_URL);
        oc.model = or_default(cfg->llava_model, DEFAULT_LLAVA_MODEL);
    } else {
        return gh_err_set(err, GH_EINVAL,
                          "unknown AI provider \"%.32s\": choose auto, openai or llava", name);
    }
    rc = resolve_limits(cfg, &oc, err);
    if (rc)
        return rc;
    return gh_openai_new(&oc, out, err);
}

void gh_provider_free(struct gh_provider *p)
{
    if (p)
        (*p->ops->free)(p);
}
