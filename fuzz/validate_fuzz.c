/* SPDX-License-Identifier: MIT */
/* Fuzzes the upload path: sniffing, header validation and the pHash decode, with tiny limits
 * so big declared sizes are refused quickly and each run stays fast. */
#include "fuzz.h"
#include "gh/image.h"
#include "gh/keys.h"

#include "gh/alloc.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gh_image_limits lim = {.max_bytes = 1u << 20, .min_side = 1, .max_side = 2048};
    struct gh_image_prep_opts o = {.max_side = 48, .enhance = 1, .quality = 80};
    struct gh_image_info info;
    struct gh_image_keys keys;
    struct gh_image_pixels px;
    struct gh_err err = {0};
    uint8_t *jpeg = NULL;
    size_t jpeg_len = 0;

    if (gh_image_init(1, NULL) != GH_OK)
        abort();
    (void)gh_image_describe(data, size);
    if (gh_image_validate(data, size, &lim, GH_IMAGE_FORMAT_UNKNOWN, &info, &err) != GH_OK)
        return 0;
    gh_err_clear(&err);
    if (gh_keys_compute(data, size, &lim, info.format, &keys, &err) != GH_OK)
        return 0;
    gh_err_clear(&err);
    if (gh_image_load_rgb(data, size, &lim, info.format, 64, &px, NULL, &err) == GH_OK)
        gh_image_pixels_fini(&px);
    gh_err_clear(&err);
    if (gh_image_provider_copy(data, size, &lim, info.format, &o, &jpeg, &jpeg_len, NULL, &err) ==
        GH_OK)
        gh_free(jpeg);
    return 0;
}
