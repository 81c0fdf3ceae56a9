/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a cap (STYLE.md §4): appends grow it by doubling up to max; a
 * write that would pass max, or an allocation that fails, empties it and makes it fail from
 * then on, so a chain of appends needs one check at the end. Not thread-safe: one owner. */
#ifndef GH_BUF_H
#define GH_BUF_H

#include <stddef.h>

#include "gh/err.h"

struct gh_buf {
    char *data; /* NUL-terminated once anything was written; NULL while empty */
    size_t len;
    size_t cap;
    size_t max; /* the most bytes it may hold, NUL excluded */
    int rc;     /* GH_OK, or the first failure: GH_ETOOBIG or GH_ENOMEM */
};

/* An empty buffer that will hold at most max bytes. Allocates nothing. */
void gh_buf_init(struct gh_buf *b, size_t max);

/* Frees the bytes; b may then be initialised again. */
void gh_buf_fini(struct gh_buf *b);

/* Empties b for reuse, keeping its memory, and forgets an earlier failure. */
void gh_buf_clear(struct gh_buf *b);

/* Room for n more bytes (and a NUL) without another allocation. GH_OK, or b->rc: GH_ETOOBIG
 * past max, GH_ENOMEM; on failure b is left empty. */
int gh_buf_reserve(struct gh_buf *b, size_t n);

/* Appends n bytes of p (and keeps a NUL after them). Errors as gh_buf_reserve. */
int gh_buf_append(struct gh_buf *b, const void *p, size_t n);

/* Appends the NUL-terminated s. Errors as gh_buf_reserve. */
int gh_buf_puts(struct gh_buf *b, const char *s);

/* Appends formatted text. Errors as gh_buf_reserve. */
int gh_buf_printf(struct gh_buf *b, const char *fmt, ...) GH_PRINTF(2, 3);

/* Hands the NUL-terminated bytes out (free with gh_free) with their length in *len, leaving b
 * empty; NULL (and *len = 0) when nothing was written or a write failed. */
char *gh_buf_take(struct gh_buf *b, size_t *len);

#endif
