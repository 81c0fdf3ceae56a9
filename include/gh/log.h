/* SPDX-License-Identifier: MIT */
/* Logging: one line per event on stderr, as JSON (default, for machines) or text (for people).
 * Each line is written with a single write(2), so lines from many threads never interleave. */
#ifndef GH_LOG_H
#define GH_LOG_H

#include <stdint.h>

#include "gh/err.h"

enum gh_log_level {
    GH_LOG_DEBUG = 0,
    GH_LOG_INFO,
    GH_LOG_WARN,
    GH_LOG_ERROR,
};

enum gh_log_format {
    GH_LOG_JSON = 0,
    GH_LOG_TEXT,
};

/* Sets the minimum level and the format for the process. Not thread-safe: call at start. */
void gh_log_setup(enum gh_log_level level, enum gh_log_format format);

/* Parses "debug", "info", "warn"/"warning", "error" (any case) / "json", "text".
 * GH_EINVAL for anything else. */
int gh_log_parse_level(const char *s, enum gh_log_level *out) GH_MUST_CHECK;
int gh_log_parse_format(const char *s, enum gh_log_format *out) GH_MUST_CHECK;

/* 1 when level would be written. */
int gh_log_enabled(enum gh_log_level level);

/* A message with printf formatting: {"ts":..., "level":..., "msg":...}. */
void gh_logf(enum gh_log_level level, const char *fmt, ...) GH_PRINTF(2, 3);

/* One HTTP request, the access log line. Strings may be NULL (omitted). */
struct gh_log_request {
    const char *request_id;
    const char *method;
    const char *path;
    int status;
    double duration_ms;
    int cached; /* -1: not an analysis */
    const char *cache_layer;
    const char *equipment;
    const char *provider;
    const char *error_code;
};

void gh_log_request(const struct gh_log_request *r);

#endif
