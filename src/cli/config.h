/* SPDX-License-Identifier: MIT */
/* Service settings: DESIGN.md's environment variables, each also a command-line flag (the
 * flag wins). OPENAI_API_KEY is environment-only so the key never shows in `ps`. */
#ifndef GH_CLI_CONFIG_H
#define GH_CLI_CONFIG_H

#include "gh/http.h"
#include "gh/log.h"
#include "gh/pipeline.h"
#include "gh/provider.h"

struct gh_config {
    struct gh_http_config http;
    struct gh_pipeline_config pipeline;
    struct gh_provider_config provider;
    const char *database_url;
    const char *catalogue_path; /* NULL: the embedded catalogue */
    const char *redis_url;
    long lru_entries;
    long lru_mb;
    int store_pool;
    enum gh_log_level log_level;
    enum gh_log_format log_format;
};

/* Defaults, then the environment, then flags from argv (getopt_long; argv[0] is the command).
 * Prints the problem and returns -1 on a bad value, 1 after printing help, 0 otherwise;
 * *next_arg is the index of the first non-option argument. */
int gh_config_load(struct gh_config *cfg, int argc, char **argv, const char *usage, int *next_arg);

#endif
