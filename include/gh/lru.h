/* SPDX-License-Identifier: MIT */
/* In-process LRU cache of analysis answers keyed by SHA-256 (hex), bounded both by entry
 * count and by total bytes, in front of the persistent store. Values are immutable and
 * reference-counted, so a hit costs a lookup and an increment, never a copy under the lock. */
#ifndef GH_LRU_H
#define GH_LRU_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"

/* An immutable cached answer. Read its fields freely while you hold a reference. */
struct gh_lru_value {
    const char *json; /* NUL-terminated answer JSON */
    size_t json_len;
    int64_t expires_at; /* Unix seconds; the cache never returns it at or after this time */
    uint64_t phash;
    const char *slug;     /* equipment slug, "" when not identified */
    const char *provider; /* provider that produced the answer, for logs and history */
};

struct gh_lru_stats {
    uint64_t entries;
    uint64_t bytes; /* accounted bytes: keys, values and per-entry overhead */
    uint64_t hits;
    uint64_t misses;
    uint64_t evictions;
    uint64_t max_entries;
    uint64_t max_bytes;
};

struct gh_lru;

/* A cache holding at most max_entries entries and max_bytes bytes (both > 0).
 * NULL on allocation failure. */
struct gh_lru *gh_lru_new(size_t max_entries, size_t max_bytes);

/* Frees the cache; values still referenced by callers stay valid until released. */
void gh_lru_free(struct gh_lru *lru);

/* Looks key up; on a live hit returns a new reference (release with gh_lru_value_release)
 * and marks the entry most recently used; an expired entry is removed and counts as a miss.
 * NULL on a miss. Thread-safe. */
const struct gh_lru_value *gh_lru_get(struct gh_lru *lru, const char *key, int64_t now);

/* Inserts or replaces key with copies of json, slug and provider (NULL: ""); evicts least recently
 * used entries until both bounds hold. A value larger than max_bytes on its own is not cached
 * (returns GH_ETOOBIG). GH_ENOMEM on allocation failure. Thread-safe. */
int gh_lru_put(struct gh_lru *lru, const char *key, const char *json, size_t json_len,
               const char *slug, const char *provider, uint64_t phash,
               int64_t expires_at) GH_MUST_CHECK;

/* Removes key if present. Thread-safe. */
void gh_lru_remove(struct gh_lru *lru, const char *key);

/* Drops one reference; frees the value at zero. NULL is a no-op. Thread-safe. */
void gh_lru_value_release(const struct gh_lru_value *v);

void gh_lru_stats(struct gh_lru *lru, struct gh_lru_stats *out);

#endif
