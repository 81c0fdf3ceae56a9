/* SPDX-License-Identifier: MIT */
/* Exact and perceptual keys of an upload, computed together so callers cannot hash one
 * image's bytes with another's pixels. */
#include "gh/keys.h"
#include "gh/phash.h"

#include <string.h>

int gh_keys_compute(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                    enum gh_image_format declared, struct gh_image_keys *out, struct gh_err *err)
{
    uint8_t luma[GH_PHASH_SIDE * GH_PHASH_SIDE];
    int rc;

    memset(out, 0, sizeof *out);
    rc = gh_image_luma_grid(buf, len, lim, declared, GH_PHASH_SIDE, luma, &out->info, err);
    if (rc == GH_OK)
        rc = gh_sha256(buf, len, out->sha256, err);
    if (rc) {
        memset(out->sha256, 0, sizeof out->sha256);
        return rc;
    }
    out->phash = gh_phash_from_luma(luma);
    return GH_OK;
}
