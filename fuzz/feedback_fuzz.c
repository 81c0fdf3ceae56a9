/* SPDX-License-Identifier: MIT */
/* Fuzzes the feedback body parser of POST /api/v1/identifications/{id}/feedback
 * (gh_http_feedback_parse): any bytes give a code, and a slug found is a terminated string. */
#include "fuzz.h"
#include "gh/alloc.h"
#include "http/internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *body = gh_malloc(size ? size : 1); /* exact size: a read past the end trips ASan */
    json_t *doc = NULL;
    const char *slug = NULL;
    int rc;

    if (!body)
        return 0;
    memcpy(body, data, size);
    rc = gh_http_feedback_parse(body, size, &doc, &slug);
    if (rc != GH_OK && rc != GH_EINVAL && rc != GH_ERANGE)
        abort();
    if ((rc == GH_OK) != (slug != NULL) || (slug && strlen(slug) > size))
        abort();
    json_decref(doc);
    gh_free(body);
    return 0;
}
