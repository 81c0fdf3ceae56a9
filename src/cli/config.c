/* SPDX-License-Identifier: MIT */
/* One table of settings drives environment parsing, flag parsing and --help, so the three
 * cannot drift apart. */
#include "config.h"
#include "cli.h"
#include "gh/clip.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind {
    K_STR,
    K_INT,
    K_LONG,
    K_MB,
    K_KB,
    K_DAYS,
    K_SECONDS,
    K_FRACTION,
    K_USD,
    K_LEVEL,
    K_FORMAT,
    K_BOOL,
    K_PRECISION
};

struct setting {
    const char *env;  /* NULL: flag only */
    const char *flag; /* NULL: environment only */
    enum kind kind;
    long min, max;
    size_t offset;
    const char *help;
};

#define AT(field) offsetof(struct gh_config, field)

static const struct setting settings[] = {
    {"HOST", "host", K_STR, 0, 0, AT(http.host), "address to listen on (127.0.0.1)"},
    {"PORT", "port", K_INT, 0, 65535, AT(http.port), "TCP port; 0 picks an unused one (8000)"},
    {"DATABASE_URL", "database-url", K_STR, 0, 0, AT(database_url),
     "sqlite:///path, sqlite::memory: or postgresql://user@host:port/db "
     "(sqlite:///./data/gymhelper.db)"},
    {"DATABASE_POOL_SIZE", "db-pool-size", K_INT, 1, 64, AT(store.pool_size),
     "store connections kept open (PostgreSQL 20, SQLite 4)"},
    {"DATABASE_MAX_OVERFLOW", "db-max-overflow", K_INT, 0, 1000, AT(store.max_overflow),
     "extra PostgreSQL connections under load (10)"},
    {"DATABASE_PRE_PING", "db-pre-ping", K_INT, 0, 1, AT(store.pre_ping),
     "1: check a pooled PostgreSQL connection before use (1)"},
    {"DATABASE_POOL_RECYCLE_SECONDS", "db-pool-recycle", K_LONG, 1, 86400, AT(store.recycle_s),
     "reconnect PostgreSQL connections older than this (3600)"},
    {"REDIS_URL", "redis-url", K_STR, 0, 0, AT(redis_url),
     "redis://host:port/db hot layer shared by instances (none)"},
    {"REDIS_TTL_SECONDS", "redis-ttl", K_LONG, 1, 31536000, AT(redis_ttl_s),
     "seconds an answer stays in Redis (3600)"},
    {"REDIS_TIMEOUT_MS", "redis-timeout-ms", K_LONG, 1, 60000, AT(redis_timeout_ms),
     "Redis connect/command timeout; slower means skipped (100)"},
    {"CLIP_MODEL", "clip-model", K_STR, 0, 0, AT(clip_model),
     "CLIP checkpoint directory or pulled model name (none)"},
    {"CLIP_THREADS", "clip-threads", K_INT, 0, 256, AT(clip_threads),
     "threads for CLIP inference, 0 = one per core (0)"},
    {"CLIP_PRECISION", "clip-precision", K_PRECISION, 0, 0, AT(clip_precision),
     "CLIP weights: f32, bf16, int8 or auto, the fastest accurate one here (f32)"},
    {"CLIP_MAX_BATCH", "clip-max-batch", K_INT, 1, 64, AT(clip_max_batch),
     "images per CLIP forward pass; concurrent requests share one (8)"},
    {"CLIP_BATCH_WAIT_MS", "clip-batch-wait-ms", K_INT, 0, 1000, AT(clip_batch_wait_ms),
     "ms a CLIP pass that has company waits for more; a lone request never waits (2)"},
    {"AI_PROVIDER", "ai-provider", K_STR, 0, 0, AT(provider.name),
     "auto, clip, openai or llava (auto)"},
    {"OPENAI_API_KEY", NULL, K_STR, 0, 0, AT(provider.openai_api_key),
     "API key (environment only)"},
    {"OPENAI_BASE_URL", "openai-base-url", K_STR, 0, 0, AT(provider.openai_base_url),
     "Chat Completions base URL (https://api.openai.com/v1)"},
    {"OPENAI_MODEL", "openai-model", K_STR, 0, 0, AT(provider.openai_model), "model (gpt-4o-mini)"},
    {"LLAVA_BASE_URL", "llava-base-url", K_STR, 0, 0, AT(provider.llava_base_url),
     "OpenAI-compatible local server (http://127.0.0.1:11434/v1)"},
    {"LLAVA_MODEL", "llava-model", K_STR, 0, 0, AT(provider.llava_model), "model (llava)"},
    {"PROVIDER_TIMEOUT_MS", "provider-timeout-ms", K_LONG, 100, 600000, AT(provider.timeout_ms),
     "whole provider call incl. retries (30000)"},
    {"PROVIDER_RETRIES", "provider-retries", K_INT, 0, 10, AT(provider.max_retries),
     "retries on 429/5xx (2)"},
    {"CACHE_TTL_DAYS", "cache-ttl-days", K_DAYS, 1, 3650, AT(pipeline.cache_ttl_s),
     "days a cached answer is served (30)"},
    {"CACHE_TTL_SECONDS", "cache-ttl-seconds", K_SECONDS, 1, 315360000, AT(pipeline.cache_ttl_s),
     "the same in seconds (overrides days)"},
    {"CACHE_MAX_DISTANCE", "cache-max-distance", K_INT, 0, 4, AT(pipeline.max_distance),
     "pHash distance of a near-duplicate hit, 0..4 (4)"},
    {"CONFIDENCE_THRESHOLD", "confidence-threshold", K_FRACTION, 0, 1,
     AT(pipeline.confidence_threshold), "below it the answer is 'not sure' (0.5)"},
    {"VISUAL_MATCH_THRESHOLD", "visual-match-threshold", K_FRACTION, 0, 1,
     AT(pipeline.visual_threshold),
     "a remembered photo this similar answers without a provider call (0.92)"},
    {"SHADOW_SAMPLE_RATE", "shadow-sample-rate", K_FRACTION, 0, 1, AT(provider.shadow_rate),
     "share of CLIP's sure answers also asked of the paid model, to measure them (0.05)"},
    {"VISUAL_MEMORY_MAX", "visual-memory-max", K_LONG, 0, 100000000, AT(vmem_max),
     "remembered photos kept, 0 = no visual memory (1000000)"},
    {"VISUAL_MEMORY_DAYS", "visual-memory-days", K_DAYS, 1, 36500, AT(vmem_retention_s),
     "days a photo is remembered (365)"},
    {"HISTORY_RETENTION_DAYS", "history-retention-days", K_DAYS, 0, 36500, AT(history_retention_s),
     "days analyses, corrections and quality samples are kept, 0 = for ever (90)"},
    {"VISUAL_MEMORY_REFRESH_MS", "visual-memory-refresh-ms", K_LONG, 0, 3600000,
     AT(vmem_refresh_ms), "how often other instances' photos are pulled (1000)"},
    {"MAX_UPLOAD_MB", "max-upload-mb", K_MB, 1, 1000, AT(pipeline.lim.max_bytes),
     "upload limit in MB of 1,000,000 bytes (10)"},
    {"IMAGE_MIN_SIDE", "min-side", K_INT, 1, 100000, AT(pipeline.lim.min_side),
     "smallest width/height (50)"},
    {"IMAGE_MAX_SIDE", "max-side", K_INT, 1, 100000, AT(pipeline.lim.max_side),
     "largest width/height (10000)"},
    {"CATALOGUE_PATH", "catalogue", K_STR, 0, 0, AT(catalogue_path),
     "catalogue JSON file (the embedded one)"},
    {"LRU_ENTRIES", "lru-entries", K_LONG, 0, 10000000, AT(lru_entries),
     "in-process cache entries, 0 = off (10000)"},
    {"LRU_MB", "lru-mb", K_LONG, 1, 100000, AT(lru_mb), "in-process cache size in MB (64)"},
    {"RATE_LIMIT_REQUESTS_PER_MINUTE", "rate-limit-requests", K_INT, 0, 1000000,
     AT(limits.requests_per_minute),
     "requests per client and minute, all routes but health and metrics; 0 = off (600)"},
    {"RATE_LIMIT_REQUESTS_BURST", "rate-limit-requests-burst", K_INT, 0, 1000000,
     AT(limits.requests_burst), "requests a client may send at once (100)"},
    {"RATE_LIMIT_PROVIDER_PER_MINUTE", "rate-limit-provider", K_INT, 0, 1000000,
     AT(limits.provider_per_minute),
     "provider calls (misses, nocache) per client and minute; 0 = off (10)"},
    {"RATE_LIMIT_PROVIDER_BURST", "rate-limit-provider-burst", K_INT, 0, 1000000,
     AT(limits.provider_burst), "provider calls a client may make at once (10)"},
    {"PROVIDER_DAILY_BUDGET_CALLS", "provider-budget-calls", K_LONG, 0, 1000000000,
     AT(limits.budget_calls), "paid provider calls per UTC day, all clients; 0 = no limit (0)"},
    {"PROVIDER_DAILY_BUDGET_USD", "provider-budget-usd", K_USD, 0, 1000000, AT(limits.budget_usd),
     "estimated provider spend per UTC day in US$; 0 = no limit (0)"},
    {"TRUSTED_PROXIES", "trusted-proxies", K_STR, 0, 0, AT(trusted_proxies),
     "proxies (CIDRs) whose X-Forwarded-For names the client (none)"},
    {"HTTP_THREADS", "threads", K_INT, 1, 256, AT(http.io_threads), "I/O threads (2)"},
    {"WORKERS", "workers", K_INT, 1, 256, AT(http.workers), "analysis workers (4)"},
    {"MAX_CONNECTIONS", "max-connections", K_INT, 1, 1000000, AT(http.max_connections),
     "open connections before 503 server_busy (1024)"},
    {"MAX_CONNECTIONS_PER_CLIENT", "max-connections-per-client", K_INT, 1, 1000000,
     AT(http.max_connections_per_client), "open connections of one client address (32)"},
    {"UPLOAD_MEMORY_MB", "upload-memory-mb", K_MB, 1, 1000000, AT(http.upload_memory),
     "upload bytes held in memory at once, all requests (256)"},
    {"HEADER_TIMEOUT_S", "header-timeout", K_INT, 1, 300, AT(http.header_timeout_s),
     "seconds a client has to send the whole request headers (5)"},
    {"UPLOAD_MIN_RATE_KBPS", "upload-min-rate-kbps", K_KB, 0, 1000000, AT(http.upload_min_rate),
     "slower uploads are dropped after the grace period, KB/s (16)"},
    {"UPLOAD_GRACE_S", "upload-grace", K_INT, 0, 3600, AT(http.upload_grace_s),
     "seconds of an upload before the minimum rate applies (10)"},
    {"SHUTDOWN_GRACE_S", "shutdown-grace", K_INT, 0, 3600, AT(http.shutdown_grace_s),
     "seconds requests in progress get to finish on SIGTERM; then queued ones get 503 (30)"},
    {"ANALYSIS_QUEUE", "analysis-queue", K_INT, 1, 100000, AT(http.queue_cap),
     "analyses waiting for a worker; one more is 503 server_busy (256)"},
    {"LOG_LEVEL", "log-level", K_LEVEL, 0, 0, AT(log_level), "debug, info, warn, error (info)"},
    {"LOG_FORMAT", "log-format", K_FORMAT, 0, 0, AT(log_format), "json or text (json)"},
    {"AUTH_MODE", "auth-mode", K_STR, 0, 0, AT(auth_mode),
     "required or open (open on a loopback HOST, else required)"},
    {"JWT_SECRET", NULL, K_STR, 0, 0, AT(auth.jwt_secret),
     "HS256 signing secret, 32+ bytes (generated once, kept in the store)"},
    {"JWT_ISSUER", "jwt-issuer", K_STR, 0, 0, AT(auth.issuer), "access tokens' iss (gymhelper)"},
    {"JWT_AUDIENCE", "jwt-audience", K_STR, 0, 0, AT(auth.audience),
     "access tokens' aud (gymhelper-api)"},
    {"ACCESS_TOKEN_TTL_SECONDS", "access-token-ttl", K_SECONDS, 10, 86400, AT(auth.access_ttl_s),
     "life of an access token (900)"},
    {"REFRESH_TOKEN_TTL_DAYS", "refresh-token-ttl-days", K_DAYS, 1, 365, AT(auth.refresh_ttl_s),
     "life of a refresh token (30)"},
    {"ALLOW_SIGNUP", "allow-signup", K_BOOL, 0, 1, AT(auth.allow_signup),
     "true: anyone may register an account (false)"},
    {"LOGIN_MAX_FAILURES", "login-max-failures", K_INT, 1, 1000, AT(auth.login_max_failures),
     "failed sign-ins per username and per address before a lockout (5)"},
    {"LOGIN_LOCKOUT_SECONDS", "login-lockout", K_SECONDS, 1, 86400, AT(auth.login_window_s),
     "window of those failures and length of the lockout (900)"},
    {"CORRECTION_QUORUM", "correction-quorum", K_INT, 1, 1000, AT(pipeline.correction_quorum),
     "distinct users agreeing on a photo's equipment that change its shared answer (3)"},
};

#define N_SETTINGS (sizeof settings / sizeof settings[0])

static void defaults(struct gh_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    gh_http_config_defaults(&cfg->http);
    gh_pipeline_config_defaults(&cfg->pipeline);
    gh_provider_config_defaults(&cfg->provider);
    gh_limits_config_defaults(&cfg->limits);
    cfg->provider.name = "auto";
    cfg->database_url = "sqlite:///./data/gymhelper.db";
    cfg->vmem_max = 1000000;
    cfg->vmem_retention_s = 365L * 24 * 3600;
    cfg->vmem_refresh_ms = 1000;
    cfg->history_retention_s = 90L * 24 * 3600;
    cfg->lru_entries = 10000;
    cfg->clip_max_batch = 8;
    cfg->clip_batch_wait_ms = 2;
    cfg->lru_mb = 64;
    gh_store_options_defaults(&cfg->store);
    cfg->redis_ttl_s = 3600;
    cfg->redis_timeout_ms = 100;
    cfg->log_level = GH_LOG_INFO;
    cfg->log_format = GH_LOG_JSON;
    gh_auth_config_defaults(&cfg->auth);
}

static int set_value(struct gh_config *cfg, const struct setting *s, const char *name,
                     const char *v)
{
    char *p = (char *)cfg + s->offset, *end = NULL;
    long n = 0;
    double d;

    switch (s->kind) {
    case K_STR:
        *(const char **)(void *)p = v;
        return 0;
    case K_LEVEL:
        if (gh_log_parse_level(v, (enum gh_log_level *)(void *)p) == GH_OK)
            return 0;
        fprintf(stderr, "gymhelper: %s=%s: expected debug, info, warn or error\n", name, v);
        return -1;
    case K_FORMAT:
        if (gh_log_parse_format(v, (enum gh_log_format *)(void *)p) == GH_OK)
            return 0;
        fprintf(stderr, "gymhelper: %s=%s: expected json or text\n", name, v);
        return -1;
    case K_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "false") == 0 ||
            strcmp(v, "0") == 0) {
            *(int *)(void *)p = v[0] == 't' || v[0] == '1';
            return 0;
        }
        fprintf(stderr, "gymhelper: %s=%s: expected true or false\n", name, v);
        return -1;
    case K_PRECISION:
        if (gh_clip_precision_parse(v, (enum gh_clip_precision *)(void *)p, NULL) == GH_OK)
            return 0;
        fprintf(stderr, "gymhelper: %s=%s: expected f32, bf16, int8 or auto\n", name, v);
        return -1;
    case K_FRACTION:
        errno = 0;
        d = strtod(v, &end);
        if (errno || !*v || *end || d < 0 || d > 1) {
            fprintf(stderr, "gymhelper: %s=%s: expected a number from 0 to 1\n", name, v);
            return -1;
        }
        *(double *)(void *)p = d;
        return 0;
    case K_USD:
        errno = 0;
        d = strtod(v, &end);
        if (errno || !*v || *end || !(d >= 0) || d > (double)s->max) {
            fprintf(stderr, "gymhelper: %s=%s: expected US dollars from 0 to %ld\n", name, v,
                    s->max);
            return -1;
        }
        *(double *)(void *)p = d;
        return 0;
    default:
        break;
    }
    if (gh_cli_parse_long(v, s->min, s->max, &n) != 0) {
        fprintf(stderr, "gymhelper: %s=%s: expected a whole number from %ld to %ld\n", name, v,
                s->min, s->max);
        return -1;
    }
    switch (s->kind) {
    case K_INT:
        *(int *)(void *)p = (int)n;
        break;
    case K_LONG:
        *(long *)(void *)p = n;
        break;
    case K_MB:
        *(size_t *)(void *)p = (size_t)n * 1000 * 1000;
        break;
    case K_KB:
        *(size_t *)(void *)p = (size_t)n * 1000;
        break;
    case K_DAYS:
        *(int64_t *)(void *)p = (int64_t)n * 86400;
        break;
    default: /* K_SECONDS */
        *(int64_t *)(void *)p = (int64_t)n;
        break;
    }
    return 0;
}

static void print_help(const char *usage)
{
    int w = 0; /* the longest variable name, so the columns line up */

    fputs(usage, stdout);
    printf("\nsettings (environment variable / flag, default in brackets):\n");
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (settings[i].env && (int)strlen(settings[i].env) > w)
            w = (int)strlen(settings[i].env);
    for (size_t i = 0; i < N_SETTINGS; i++)
        printf("  %-*s %s%-24s %s\n", w, settings[i].env ? settings[i].env : "",
               settings[i].flag ? "--" : "  ", settings[i].flag ? settings[i].flag : "",
               settings[i].help);
}

int gh_config_load(struct gh_config *cfg, int argc, char **argv, const char *usage, int *next_arg)
{
    struct option opts[N_SETTINGS + 2];
    char flag[64];
    size_t n = 0;
    int c;

    defaults(cfg);
    /* CACHE_TTL_SECONDS overrides days: it comes later in the table. */
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *v = settings[i].env ? getenv(settings[i].env) : NULL;

        if (v && *v && set_value(cfg, &settings[i], settings[i].env, v) != 0)
            return -1;
    }
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (settings[i].flag)
            opts[n++] = (struct option){settings[i].flag, required_argument, NULL, (int)i};
    opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[n] = (struct option){NULL, 0, NULL, 0};
    /* GNU getopt permutes: flags may follow the verb and the files ("db migrate --x y"). */
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            print_help(usage);
            return 1;
        }
        if (c < 0 || (size_t)c >= N_SETTINGS) {
            fprintf(stderr, "gymhelper: try 'gymhelper %s --help'\n", argv[0]);
            return -1;
        }
        /* the message names the flag as it was typed */
        snprintf(flag, sizeof flag, "--%s", settings[c].flag);
        if (set_value(cfg, &settings[c], flag, optarg) != 0)
            return -1;
    }
    *next_arg = optind;
    return 0;
}
