/* SPDX-License-Identifier: MIT */
/* Small string helpers for text that came from outside (URLs, headers, library messages). */
#ifndef GH_STR_H
#define GH_STR_H

#include <stddef.h>

/* Copies src into dst (cap bytes, always NUL-terminated when cap > 0) keeping only well-formed
 * UTF-8 (RFC 3629); each byte that does not start or continue a valid sequence becomes '?',
 * and a sequence that would not fit whole is dropped. The result is safe in JSON strings after
 * the usual escaping. Returns the length written. Pure; thread-safe. */
size_t gh_utf8_sanitize(char *dst, size_t cap, const char *src);

/* 1 when s is one or more ASCII digits and nothing else. */
int gh_str_all_digits(const char *s);

/* A whole number from min (>= 0) to max written in digits only into *out: 0, or -1 for
 * anything else (strtoll alone would also take leading spaces and a sign, and turn a number
 * past its range into LLONG_MAX). */
int gh_str_to_whole(const char *s, long long min, long long max, long long *out);

#endif
