/* SPDX-License-Identifier: MIT */
/* UTF-8 clean-up for text that must go into JSON (jansson refuses invalid UTF-8), and whole
 * numbers from URLs. */
#include "gh/str.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (RFC 3629 table 3.7: no overlongs, no surrogates,
 * nothing past U+10FFFF), or 0. */
static size_t valid_seq(const unsigned char *s)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;

        return (s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;

        return (s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80) ? 4 : 0;
    }
    return 0;
}

size_t gh_utf8_sanitize(char *dst, size_t cap, const char *src)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t n = 0;

    if (cap == 0)
        return 0;
    while (*s) {
        size_t k = valid_seq(s); /* a NUL inside a sequence makes it invalid: no overread */

        if (k == 0) {
            if (n + 1 >= cap)
                break;
            dst[n++] = '?';
            s++;
            continue;
        }
        if (n + k >= cap)
            break;
        memcpy(dst + n, s, k);
        n += k;
        s += k;
    }
    dst[n] = '\0';
    return n;
}

int gh_str_all_digits(const char *s)
{
    return s && *s && strspn(s, "0123456789") == strlen(s);
}

int gh_str_to_whole(const char *s, long long min, long long max, long long *out)
{
    long long v;

    if (!gh_str_all_digits(s))
        return -1;
    errno = 0;
    v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}
