/* SPDX-License-Identifier: MIT */
/* Error text and stable error names. */
#include "gh/err.h"

#include <stdarg.h>
#include <stdio.h>

int gh_err_set(struct gh_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (!err || err->code != GH_OK)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void gh_err_clear(struct gh_err *err)
{
    if (!err)
        return;
    err->code = GH_OK;
    err->msg[0] = '\0';
}

const char *gh_err_name(int code)
{
    switch (code) {
    case GH_OK:
        return "ok";
    case GH_EINVAL:
        return "invalid";
    case GH_ENOMEM:
        return "out_of_memory";
    case GH_EIO:
        return "io_error";
    case GH_ETOOBIG:
        return "too_large";
    case GH_EDECODE:
        return "undecodable";
    case GH_EUNSUPPORTED:
        return "unsupported_type";
    case GH_EMISMATCH:
        return "type_mismatch";
    case GH_ERANGE:
        return "out_of_range";
    case GH_EBACKEND:
        return "backend";
    case GH_ENOTFOUND:
        return "not_found";
    case GH_EPROVIDER:
        return "provider_error";
    case GH_ETIMEOUT:
        return "provider_timeout";
    case GH_EUNAVAILABLE:
        return "unavailable";
    case GH_ECONFLICT:
        return "conflict";
    case GH_ELIMITED:
        return "rate_limited";
    case GH_EWOULDBLOCK:
        return "would_block";
    default:
        return "unknown";
    }
}
