/* SPDX-License-Identifier: MIT */
/* Shared inside the image module: the checks every decode path makes, the Pillow-compatible
 * resampler and the JPEG fast path for the pHash grid. */
#ifndef GH_IMAGE_INTERNAL_H
#define GH_IMAGE_INTERNAL_H

#include "gh/image.h"

/* Empty, byte limit, sniffed type, declared type (image.c). */
int gh_image_check_type(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                        enum gh_image_format declared, enum gh_image_format *fmt,
                        struct gh_err *err);

/* Width and height within lim (image.c). */
int gh_image_check_dims(const struct gh_image_info *info, const struct gh_image_limits *lim,
                        struct gh_err *err);

/* Shrink-on-load factor for a side x side grid (image.c). */
int gh_image_grid_shrink(const struct gh_image_info *info, int side);

/* Resizes an 8-bit single-channel image w x h (rows stride bytes apart) to ow x oh exactly as
 * Pillow's Image.resize(..., LANCZOS) does (Resample.c: Lanczos-3 with support scaled by the
 * reduction, 22-bit fixed-point weights, horizontal pass first, each pass rounded and clipped
 * to 8 bits), so the pHash matches the reference bit for bit on identical input.
 * GH_ENOMEM or GH_OK. */
int gh_resample_lanczos_u8(const uint8_t *in, int w, int h, size_t stride, uint8_t *out, int ow,
                           int oh) GH_MUST_CHECK;

/* Resizes interleaved 8-bit RGB w x h (rows stride bytes apart) to ow x oh as Pillow's
 * Image.resize(..., BICUBIC) does (the same fixed-point passes as above with Keys' cubic,
 * a = -0.5, support 2 scaled by the reduction), computing only the window of cw x ch outputs
 * at (x0, y0), which lands in out with rows packed: resize-then-crop without the full resize.
 * For CLIP's preprocessing (src/clip). GH_ENOMEM or GH_OK. */
int gh_resample_bicubic_rgb(const uint8_t *in, int w, int h, size_t stride, int ow, int oh, int x0,
                            int y0, int cw, int ch, uint8_t *out) GH_MUST_CHECK;

/* Applies EXIF orientation (1..8) to an n x n grid: out is the picture as displayed. */
void gh_orient_square(const uint8_t *in, uint8_t *out, int n, int orientation);

/* EXIF orientation from an APP1 payload ("Exif\0\0" + TIFF); 1 when absent or malformed. */
int gh_exif_orientation(const uint8_t *app1, size_t len);

/* The luma grid of a JPEG decoded by libjpeg straight to its Y channel (the BT.601 luma of
 * the picture), with DCT-domain shrink-on-load. Validates like gh_image_validate. Returns
 * GH_EUNSUPPORTED without touching err when the file needs the general path (CMYK). */
int gh_jpeg_luma_grid(const uint8_t *buf, size_t len, const struct gh_image_limits *lim, int side,
                      uint8_t *out, struct gh_image_info *info, struct gh_err *err);

#endif
