/* SPDX-License-Identifier: MIT */
/* Request ids. An analysis answers its request id as the `identification_id` to correct it by,
 * and the identification routes also take the history's numbers (all digits): the two sets
 * must not meet, or a request id made only of digits is looked up as a number and the
 * correction of a fresh answer gets 404 (about one generated id in 1,850 is all digits). */
#include "internal.h"

#include "gh/str.h"

#include <stdio.h>
#include <string.h>

static int token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':';
}

int gh_http_request_id_usable(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > GH_HTTP_REQUEST_ID_MAX || gh_str_all_digits(id))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!token_char(id[i]))
            return 0;
    return 1;
}

void gh_http_request_id_make(uint64_t *state, char out[17])
{
    do {
        *state ^= *state << 13; /* xorshift64: ids need to be unique, not secret */
        *state ^= *state >> 7;
        *state ^= *state << 17;
        snprintf(out, 17, "%016llx", (unsigned long long)*state);
    } while (gh_str_all_digits(out));
}
