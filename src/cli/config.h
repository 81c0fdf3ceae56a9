/* SPDX-License-Identifier: MIT */
/* Service settings: DESIGN.md's environment variables, each also a command-line flag (the
 * flag wins). OPENAI_API_KEY is environment-only so the key never shows in `ps`. */
#ifndef GH_CLI_CONFIG_H
#define GH_CLI_CONFIG_H

#include "gh/auth.h"
#include "gh/clip.h"
#include "gh/http.h"
#include "gh/limits.h"
#include "gh/log.h"
#include "gh/pipeline.h"
#include "gh/provider.h"
#include "gh/store.h"

struct gh_config {
    struct gh_http_config http;
    struct gh_pipeline_config pipeline;
    struct gh_provider_config provider;
    const char *database_url;
    const char *catalogue_path; /* NULL: the embedded catalogue */
    struct gh_store_options store;
    const char *redis_url;  /* NULL: no Redis layer */
    long redis_ttl_s;       /* REDIS_TTL_SECONDS, default 3600 */
    long redis_timeout_ms;  /* REDIS_TIMEOUT_MS: connect and each command, default 100 */
    const char *clip_model; /* CLIP_MODEL: a checkpoint directory or a pulled model's name */
    int clip_threads;       /* CLIP_THREADS: threads, 0 = one per core */
    enum gh_clip_precision clip_precision; /* CLIP_PRECISION (f32) */
    int clip_max_batch;                    /* CLIP_MAX_BATCH: images per forward pass (8) */
    int clip_batch_wait_ms;      /* CLIP_BATCH_WAIT_MS: wait for company while others arrive (2) */
    long vmem_max;               /* VISUAL_MEMORY_MAX: remembered photos, 0 = no visual memory */
    int64_t vmem_retention_s;    /* VISUAL_MEMORY_DAYS, in seconds */
    long vmem_refresh_ms;        /* VISUAL_MEMORY_REFRESH_MS */
    int64_t history_retention_s; /* HISTORY_RETENTION_DAYS in seconds, 0 = keep for ever */
    struct gh_limits_config limits;
    const char *trusted_proxies; /* TRUSTED_PROXIES: CIDRs whose X-Forwarded-For is believed */
    long lru_entries;
    long lru_mb;
    enum gh_log_level log_level;
    enum gh_log_format log_format;
    const char *auth_mode; /* AUTH_MODE: "required", "open", NULL: from HOST */
    struct gh_auth_config auth;
};

/* Defaults, then the environment, then flags from argv (getopt_long; argv[0] is the command).
 * Prints the problem and returns -1 on a bad value, 1 after printing help, 0 otherwise;
 * *next_arg is the index of the first non-option argument. */
int gh_config_load(struct gh_config *cfg, int argc, char **argv, const char *usage, int *next_arg);

#endif
