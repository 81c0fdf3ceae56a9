/* SPDX-License-Identifier: MIT */
/* Process-wide service metrics (requests, errors, analysis and provider latency, tokens, cost)
 * kept in C11 atomics, and their rendering in the Prometheus text exposition format 0.0.4.
 * Counts that other modules already keep (cache layers, LRU, catalogue) are not duplicated:
 * the scraper reads them and writes them with gh_metrics_write_family/_sample. */
#ifndef GH_METRICS_H
#define GH_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "gh/buf.h"
#include "gh/err.h"

#define GH_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Label values longer than this many bytes are cut (every value we record is a constant far
 * shorter: route patterns, problem codes, provider names). */
#define GH_METRICS_LABEL_CAP 48

/* Exposition text being built, capped at max bytes. A write that fails (GH_ENOMEM, or
 * GH_ETOOBIG past max) empties the text and leaves its code in rc; later writes do nothing. */
/* Recording. Thread-safe, lock-free and allocation-free: a hash of the label values, a probe
 * and relaxed atomic adds. String arguments are borrowed for the call (values are copied when
 * a series is first seen). A series beyond a table's fixed size is not recorded, only counted
 * in gymhelper_metrics_series_dropped_total. */

/* A request arrived (the in-flight gauge goes up); pair with gh_metrics_http_end. */
void gh_metrics_http_begin(void);

/* The request that gh_metrics_http_begin counted is over: counts it by route pattern, method
 * (anything but the common methods is "other") and status, its problem code when error_code is
 * not NULL, and its duration by route. route must be a pattern from a fixed set, never a URL. */
void gh_metrics_http_end(const char *route, const char *method, int status, const char *error_code,
                         double seconds);

/* An analysis answered from layer ("memory", "redis", "exact", "near", "coalesced"; "" or NULL: a
 * provider call, counted as "miss") in seconds. A hit also adds the estimated saving. */
void gh_metrics_analysis(const char *layer, double seconds);

/* One provider call: rc is its result (GH_OK, GH_ETIMEOUT, GH_EUNAVAILABLE, other codes count
 * as "error"); cost_nd its estimated price in nanodollars (gh_provider_cost_nd). */
void gh_metrics_provider_call(const char *provider, int rc, double seconds, int64_t prompt_tokens,
                              int64_t completion_tokens, int64_t cost_nd);

/* Rendering. */

/* Writes every metric recorded above into b. provider (may be NULL) is the configured one: its
 * series are shown, at 0, before its first call. Returns b->rc. Thread-safe with recording;
 * counts moving meanwhile make no torn sample (a histogram's _count is its buckets' sum). */
int gh_metrics_render(struct gh_buf *b, const char *provider) GH_MUST_CHECK;

/* "# HELP name help" (escaped) and "# TYPE name type" ("counter", "gauge", "histogram"). */
void gh_metrics_write_family(struct gh_buf *b, const char *name, const char *type,
                             const char *help);

/* One sample line. labels: name, value, name, value, ..., NULL (or labels itself NULL); values
 * are escaped. Integral values print without exponent, others in the shortest exact form. */
void gh_metrics_write_sample(struct gh_buf *b, const char *name, const char *const *labels,
                             double value);

#endif
