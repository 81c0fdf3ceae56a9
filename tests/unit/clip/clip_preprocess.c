/* SPDX-License-Identifier: MIT */
/* Test driver for CLIP preprocessing (tests/clip/test_preprocess.py). Writes 3 * SIZE * SIZE
 * float32 values (CHW, host order) to standard output from
 *   --rgb W H SIZE   raw interleaved RGB on standard input (gh_clip_preprocess_rgb), or
 *   --file SIZE      encoded image bytes on standard input (gh_clip_preprocess).
 * On failure prints the error's name and message to standard error and exits 1. */
#include "gh/alloc.h"
#include "gh/clip.h"
#include "gh/file.h"
#include "gh/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct gh_err err = {0};
    uint8_t *in = NULL;
    float *out = NULL;
    size_t len = 0;
    int size, rc;

    if (argc == 5 && strcmp(argv[1], "--rgb") == 0)
        size = atoi(argv[4]);
    else if (argc == 3 && strcmp(argv[1], "--file") == 0)
        size = atoi(argv[2]);
    else {
        fprintf(stderr, "usage: clip_preprocess (--rgb W H SIZE | --file SIZE) < input\n");
        return 2;
    }
    rc = argc == 3 ? gh_image_init(1, &err) : GH_OK; /* so that gh_image_shutdown is safe */
    if (rc == GH_OK)
        rc = gh_file_read("-", 256u << 20, &in, &len, &err);
    if (rc == GH_OK && size > 0 && size <= 4096)
        out = gh_malloc_array((size_t)size * (size_t)size * 3, sizeof *out);
    if (rc == GH_OK && !out)
        rc = gh_err_set(&err, GH_EINVAL, "bad size %d", size);
    if (rc == GH_OK && argc == 5) {
        int w = atoi(argv[2]), h = atoi(argv[3]);

        if (w < 1 || h < 1 || (size_t)w * (size_t)h * 3 != len)
            rc = gh_err_set(&err, GH_EINVAL, "%zu bytes are not %d x %d RGB", len, w, h);
        else
            rc = gh_clip_preprocess_rgb(in, w, h, size, out, &err);
    } else if (rc == GH_OK) {
        rc = gh_clip_preprocess(in, len, size, out, &err);
    }
    if (rc == GH_OK)
        fwrite(out, sizeof *out, (size_t)size * (size_t)size * 3, stdout);
    else
        fprintf(stderr, "%s: %s\n", gh_err_name(rc), err.msg);
    gh_free(in);
    gh_free(out);
    if (argc == 3)
        gh_image_shutdown(); /* for the leak check */
    return rc == GH_OK ? 0 : 1;
}
