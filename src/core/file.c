/* SPDX-License-Identifier: MIT */
/* Whole-file reads with a cap; the cap is enforced while reading so stdin cannot flood us. */
#include "gh/file.h"
#include "gh/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int grow(uint8_t **buf, size_t *cap_now, size_t want, struct gh_err *err)
{
    uint8_t *p;

    if (want <= *cap_now)
        return GH_OK;
    p = gh_realloc(*buf, want);
    if (!p)
        return gh_err_set(err, GH_ENOMEM, "out of memory reading %zu bytes", want);
    *buf = p;
    *cap_now = want;
    return GH_OK;
}

int gh_file_read(const char *path, size_t cap, uint8_t **out, size_t *out_len, struct gh_err *err)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, buf_cap = 0;
    int rc = GH_OK;

    *out = NULL;
    *out_len = 0;
    if (!f)
        return gh_err_set(err, GH_EIO, "cannot open: %s", strerror(errno));
    for (;;) {
        size_t want = buf_cap < 65536 ? 65536 : buf_cap * 2, got;

        if (want > cap + 1)
            want = cap + 1; /* one byte past the cap is enough to know it is over */
        rc = grow(&buf, &buf_cap, want, err);
        if (rc)
            goto out;
        got = fread(buf + len, 1, buf_cap - len, f);
        len += got;
        if (len > cap) {
            rc = gh_err_set(err, GH_ETOOBIG, "file is larger than the %zu-byte limit", cap);
            goto out;
        }
        if (got == 0 || len < buf_cap) {
            if (ferror(f)) {
                rc = gh_err_set(err, GH_EIO, "read failed: %s", strerror(errno));
                goto out;
            }
            if (feof(f))
                break;
        }
    }
    *out = buf;
    *out_len = len;
    buf = NULL;
out:
    if (!is_stdin)
        fclose(f);
    gh_free(buf);
    return rc;
}
