/* SPDX-License-Identifier: MIT */
/* multipart/form-data (RFC 7578) parsing of a fully buffered request body: finds one named
 * field and returns a view of its bytes, its filename and its Content-Type. No copies. */
#ifndef GH_MULTIPART_H
#define GH_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"

#define GH_MULTIPART_NAME_CAP 256

struct gh_multipart_part {
    const uint8_t *data; /* points into the body passed in; valid while it is */
    size_t len;
    char filename[GH_MULTIPART_NAME_CAP];     /* "" when absent; truncated when longer */
    char content_type[GH_MULTIPART_NAME_CAP]; /* "" when absent */
};

/* Extracts the boundary from a Content-Type header value such as
 * `multipart/form-data; boundary="abc"` (quoted or not, parameters in any order, type
 * case-insensitive). Writes it NUL-terminated into out (cap bytes). Errors: GH_EINVAL when
 * the type is not multipart/form-data, or the boundary is missing, empty, longer than 70
 * characters (RFC 2046 5.1.1) or longer than cap - 1. */
int gh_multipart_boundary(const char *content_type, char *out, size_t cap,
                          struct gh_err *err) GH_MUST_CHECK;

/* Finds the first part whose Content-Disposition is form-data with name="field" and fills
 * *out. Handles CRLF (and bare LF) line ends, an optional preamble and epilogue, header
 * names case-insensitively, quoted names with escaped quotes, and filename*=UTF-8''... .
 * Errors: GH_ENOTFOUND (well-formed body without that field; message names the field),
 * GH_EINVAL (malformed: no opening boundary, a part without its closing boundary, headers
 * without a blank line, headers over 8 KB). Never reads outside body[0..len). Pure;
 * thread-safe. */
int gh_multipart_find(const uint8_t *body, size_t len, const char *boundary, const char *field,
                      struct gh_multipart_part *out, struct gh_err *err) GH_MUST_CHECK;

#endif
