/* SPDX-License-Identifier: MIT */
/* CLIP's image input as Hugging Face's CLIPImageProcessor makes it: shortest side resized to
 * size with Pillow's bicubic (uint8 result), centre crop, /255, (x - mean) / std, CHW float32.
 * The float steps repeat numpy's float32 arithmetic so the result matches bit for bit. */
#include "gh/clip.h"

#include "gh/alloc.h"
#include "gh/image.h"
#include "image/internal.h"

#include <string.h>

#define MAX_SIZE 4096   /* far above any CLIP's image_size (224, 336, 448) */
#define MAX_SIDE 100000 /* input sides; keeps size * side inside an int */

/* OPENAI_CLIP_MEAN / OPENAI_CLIP_STD (transformers' image_utils.py) */
static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

int gh_clip_preprocess_rgb(const uint8_t *rgb, int width, int height, int size, float *out,
                           struct gh_err *err)
{
    int shortest = width < height ? width : height, longest = width < height ? height : width;
    int ow, oh, longer, x0, y0, rc;
    size_t plane = (size_t)size * (size_t)size;
    uint8_t *crop;

    if (size < 1 || size > MAX_SIZE)
        return gh_err_set(err, GH_EINVAL, "CLIP image size %d is outside 1..%d", size, MAX_SIZE);
    if (!rgb || width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE)
        return gh_err_set(err, GH_EINVAL, "an image of %d x %d pixels cannot be preprocessed",
                          width, height);
    /* get_resize_output_image_size(default_to_square=False): the short side becomes size, the
     * long one int(size * long / short), Python's correctly rounded division truncated. */
    longer = (int)((double)size * longest / shortest);
    ow = width <= height ? size : longer;
    oh = width <= height ? longer : size;
    /* center_crop: top = (h - size) // 2, left = (w - size) // 2 */
    x0 = (ow - size) / 2;
    y0 = (oh - size) / 2;
    crop = gh_malloc_array(plane, 3);
    if (!crop)
        return gh_err_set(err, GH_ENOMEM, "out of memory preprocessing an image");
    rc = gh_resample_bicubic_rgb(rgb, width, height, (size_t)width * 3, ow, oh, x0, y0, size, size,
                                 crop);
    if (rc) {
        gh_free(crop);
        return gh_err_set(err, rc, "out of memory preprocessing an image");
    }
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) {
            /* rescale: float64 multiply by 1/255, then float32; normalize in float32 */
            float x = (float)(crop[i * 3 + (size_t)c] * (1.0 / 255.0));

            out[(size_t)c * plane + i] = (x - clip_mean[c]) / clip_std[c];
        }
    gh_free(crop);
    return GH_OK;
}

int gh_clip_preprocess(const uint8_t *bytes, size_t len, int size, float *out, struct gh_err *err)
{
    struct gh_image_limits lim = gh_image_limits_default();
    struct gh_image_pixels px = {0};
    int rc;

    lim.min_side = 1; /* CLIP upscales small pictures; the upload path has its own minimum */
    rc = gh_image_load_rgb(bytes, len, &lim, GH_IMAGE_FORMAT_UNKNOWN, 0, &px, NULL, err);
    if (rc)
        return rc;
    rc = gh_clip_preprocess_rgb(px.data, px.width, px.height, size, out, err);
    gh_image_pixels_fini(&px);
    return rc;
}
