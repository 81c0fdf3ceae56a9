/* SPDX-License-Identifier: MIT */
/* Error codes and caller-owned error text. Every fallible function returns GH_OK or a negative
 * enum gh_err and, when given a struct gh_err, explains the failure in one sentence. */
#ifndef GH_ERR_H
#define GH_ERR_H

#include <stddef.h>

#if defined(__GNUC__)
#define GH_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define GH_MUST_CHECK        __attribute__((warn_unused_result))
#else
#define GH_PRINTF(fmt, args)
#define GH_MUST_CHECK
#endif

/* STYLE.md calls this "enum gh_err"; C puts enum and struct tags in one namespace, and
 * struct gh_err is the error text, so the enum is gh_err_code. */
enum gh_err_code {
    GH_OK = 0,
    GH_EINVAL = -1,        /* malformed request or argument */
    GH_ENOMEM = -2,        /* allocation failed */
    GH_EIO = -3,           /* reading or writing a file failed */
    GH_ETOOBIG = -4,       /* input over its byte limit */
    GH_EDECODE = -5,       /* bytes of an accepted type that do not decode */
    GH_EUNSUPPORTED = -6,  /* a type we do not accept */
    GH_EMISMATCH = -7,     /* declared type differs from the bytes */
    GH_ERANGE = -8,        /* a value (e.g. image dimensions) outside its allowed range */
    GH_EBACKEND = -9,      /* a library or service below us failed */
    GH_ENOTFOUND = -10,    /* no such record (a cache miss, an unknown id) */
    GH_EPROVIDER = -11,    /* the AI provider failed or answered nonsense */
    GH_ETIMEOUT = -12,     /* the AI provider did not answer in time */
    GH_EUNAVAILABLE = -13, /* no provider (or other dependency) is ready to serve */
    GH_ECONFLICT = -14,    /* the request contradicts stored state */
    GH_ELIMITED = -15,     /* a rate limit or budget refuses it for now */
    GH_EWOULDBLOCK = -16,  /* the answer needs I/O the caller asked not to do */
};

#define GH_ERR_MSG_CAP 256

/* Caller-owned; one per request or command, never shared between threads. */
struct gh_err {
    int code;
    char msg[GH_ERR_MSG_CAP];
};

/* Records code and a printf-formatted sentence in err (may be NULL) unless err already holds a
 * failure: the first place that sees a failure explains it. Returns code, so callers can
 * `return gh_err_set(err, GH_EINVAL, "...")`. */
int gh_err_set(struct gh_err *err, int code, const char *fmt, ...) GH_PRINTF(3, 4);

/* Clears err to GH_OK with an empty message. err may be NULL. */
void gh_err_clear(struct gh_err *err);

/* Stable snake_case name of a code, for machine-readable errors ("type_mismatch").
 * Never NULL; unknown codes give "unknown". */
const char *gh_err_name(int code);

/* Checked size arithmetic for sizes that come from input: return 1 and store the result, or
 * return 0 on overflow. */
static inline int gh_mul_ok(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > (size_t)-1 / b)
        return 0;
    *out = a * b;
    return 1;
}

static inline int gh_add_ok(size_t a, size_t b, size_t *out)
{
    if (a > (size_t)-1 - b)
        return 0;
    *out = a + b;
    return 1;
}

#endif
