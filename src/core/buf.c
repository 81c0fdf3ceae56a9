/* SPDX-License-Identifier: MIT */
/* The growable, capped buffer of gh/buf.h. */
#include "gh/buf.h"

#include "gh/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gh_buf_init(struct gh_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void gh_buf_fini(struct gh_buf *b)
{
    gh_free(b->data);
    memset(b, 0, sizeof *b);
}

void gh_buf_clear(struct gh_buf *b)
{
    b->len = 0;
    b->rc = GH_OK;
    if (b->data)
        b->data[0] = '\0';
}

static int fail(struct gh_buf *b, int rc)
{
    gh_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->rc = rc;
    return rc;
}

int gh_buf_reserve(struct gh_buf *b, size_t n)
{
    size_t want, cap;
    char *p;

    if (b->rc)
        return b->rc;
    if (!gh_add_ok(b->len, n, &want) || want > b->max)
        return fail(b, GH_ETOOBIG);
    want++; /* the NUL */
    if (want <= b->cap)
        return GH_OK;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap = cap > b->max / 2 ? b->max + 1 : cap * 2;
    p = gh_realloc(b->data, cap);
    if (!p)
        return fail(b, GH_ENOMEM);
    b->data = p;
    b->cap = cap;
    return GH_OK;
}

int gh_buf_append(struct gh_buf *b, const void *p, size_t n)
{
    int rc = gh_buf_reserve(b, n);

    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return GH_OK;
}

int gh_buf_puts(struct gh_buf *b, const char *s)
{
    return gh_buf_append(b, s, strlen(s));
}

int gh_buf_printf(struct gh_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b, GH_EINVAL);
    rc = gh_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return GH_OK;
}

char *gh_buf_take(struct gh_buf *b, size_t *len)
{
    char *text = b->rc == GH_OK ? b->data : NULL;

    *len = text ? b->len : 0;
    if (!text)
        gh_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    return text;
}
