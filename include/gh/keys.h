/* SPDX-License-Identifier: MIT */
/* The two cache keys of an upload: SHA-256 of its bytes (exact) and the pHash of the oriented
 * picture (near-duplicate). The one place that joins the image, phash and digest modules. */
#ifndef GH_KEYS_H
#define GH_KEYS_H

#include <stdint.h>

#include "gh/digest.h"
#include "gh/image.h"

struct gh_image_keys {
    uint8_t sha256[GH_SHA256_LEN];
    uint64_t phash;
    struct gh_image_info info;
};

/* Validates buf (see gh_image_validate) and computes both keys. Errors as gh_image_luma_grid
 * and gh_sha256; on error *out is zeroed except out->info, which holds whatever the header
 * gave. buf is borrowed. Thread-safe. */
int gh_keys_compute(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                    enum gh_image_format declared, struct gh_image_keys *out,
                    struct gh_err *err) GH_MUST_CHECK;

#endif
