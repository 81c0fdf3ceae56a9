/* SPDX-License-Identifier: MIT */
/* Fuzzes multipart/form-data parsing. Input layout: everything before the first '\n' is the
 * Content-Type header value (fed to gh_multipart_boundary), the rest is the body; an input
 * without '\n' exercises the header parser alone. Both halves get exact-size heap copies, so
 * a read past either end of either one trips ASan. */
#include "fuzz.h"
#include "gh/alloc.h"
#include "gh/multipart.h"

#include <stdlib.h>
#include <string.h>

/* A returned part must lie inside the body and its strings must be terminated. */
static void check_part(const struct gh_multipart_part *p, const uint8_t *body, size_t len)
{
    volatile uint8_t sink = 0;

    if (p->data < body || p->len > len || (size_t)(p->data - body) > len - p->len)
        abort();
    if (!memchr(p->filename, '\0', sizeof p->filename) ||
        !memchr(p->content_type, '\0', sizeof p->content_type))
        abort();
    for (size_t i = 0; i < p->len; i++) /* ASan checks every byte of the view */
        sink ^= p->data[i];
    (void)sink;
}

static void run_body(const uint8_t *data, size_t size, const char *boundary)
{
    static const char *const fields[] = {"image", "a", ""};
    uint8_t *body = gh_malloc(size);
    struct gh_multipart_part part;

    if (!body)
        return;
    memcpy(body, data, size);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        struct gh_err err = {0};
        int rc = gh_multipart_find(body, size, boundary, fields[i], &part, &err);

        if (rc == GH_OK)
            check_part(&part, body, size);
        else if ((rc != GH_EINVAL && rc != GH_ENOTFOUND) || err.code != rc)
            abort();
    }
    gh_free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl;
    size_t ct_len;
    char *ct, boundary[80];
    struct gh_err err = {0};

    if (size == 0)
        return 0;
    nl = memchr(data, '\n', size);
    ct_len = nl ? (size_t)(nl - data) : size;
    ct = gh_malloc(ct_len + 1);
    if (!ct)
        return 0;
    memcpy(ct, data, ct_len);
    ct[ct_len] = '\0';
    if (gh_multipart_boundary(ct, boundary, sizeof boundary, &err) == GH_OK) {
        if (strlen(boundary) == 0 || strlen(boundary) > 70)
            abort();
        if (nl)
            run_body(nl + 1, size - ct_len - 1, boundary);
    } else if (err.code != GH_EINVAL) {
        abort();
    }
    gh_free(ct);
    return 0;
}
