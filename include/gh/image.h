/* SPDX-License-Identifier: MIT */
/* Image intake: which uploads we accept (JPEG, PNG, WebP, sniffed from the bytes), their limits
 * checked from the header before any pixel is decoded, and the normalised forms later stages
 * use (oriented sRGB 8-bit RGB; a resized JPEG for providers; a small luma grid for pHash).
 * Animated images are read as their first frame; other formats are refused, not converted. */
#ifndef GH_IMAGE_H
#define GH_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"

enum gh_image_format {
    GH_IMAGE_FORMAT_UNKNOWN = 0,
    GH_IMAGE_FORMAT_JPEG,
    GH_IMAGE_FORMAT_PNG,
    GH_IMAGE_FORMAT_WEBP,
};

struct gh_image_limits {
    size_t max_bytes; /* default 10 MB (10 * 1000 * 1000) */
    int min_side;     /* default 50: both width and height at least this */
    int max_side;     /* default 10000: both width and height at most this */
};

/* What the header says. width/height are as stored; orientation is EXIF's 1..8 (1 when
 * absent), so the picture a person sees is height x width for orientations 5..8. */
struct gh_image_info {
    enum gh_image_format format;
    int width;
    int height;
    int orientation;
    int bands;     /* channels as stored, alpha included */
    int has_alpha; /* 1 when the image carries transparency */
    int n_pages;   /* frames of an animation, 1 otherwise */
};

/* RGB pixels, 3 bytes a pixel, rows packed. data is freed by gh_image_pixels_fini. */
struct gh_image_pixels {
    uint8_t *data;
    int width;
    int height;
};

/* Options for the copy sent to AI providers. */
struct gh_image_prep_opts {
    int max_side; /* longest side after resizing, default 1024; never upscales */
    int enhance;  /* 1: mild contrast stretch and sharpening */
    int quality;  /* JPEG quality, default 95 */
};

/* Starts libvips once per process (idempotent, thread-safe) with our settings: no operation
 * cache (it would keep references to callers' buffers), untrusted loaders blocked, and
 * `threads` worker threads per image (0 keeps libvips' default). Returns GH_EBACKEND if
 * libvips cannot start. The other functions call it with threads = 0 when needed. */
int gh_image_init(int threads, struct gh_err *err) GH_MUST_CHECK;

/* Frees libvips' global state; only for leak checking at exit. */
void gh_image_shutdown(void);

/* The default limits above. */
struct gh_image_limits gh_image_limits_default(void);

/* Sniffs the format from the magic bytes; GH_IMAGE_FORMAT_UNKNOWN for anything else. Pure
 * function, thread-safe, reads at most the first 16 bytes. */
enum gh_image_format gh_image_sniff(const uint8_t *buf, size_t len);

/* A short description of what the bytes look like ("GIF image", "PDF document", "HTML",
 * "plain text", "empty file", "JPEG image", "unrecognised binary data"), for error messages.
 * Static string; thread-safe. */
const char *gh_image_describe(const uint8_t *buf, size_t len);

/* Lower-case name of a format ("jpeg", "png", "webp", "unknown"); static string. */
const char *gh_image_format_name(enum gh_image_format f);

/* A declared type from a MIME type ("image/jpeg", "image/jpg", "image/pjpeg", "image/png",
 * "image/webp"; parameters after ';' ignored, case-insensitive) or a file name's extension
 * (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp"). Returns GH_IMAGE_FORMAT_UNKNOWN when
 * the text names none of these: the caller then has no declaration to check. */
enum gh_image_format gh_image_format_from_mime(const char *mime);
enum gh_image_format gh_image_format_from_filename(const char *name);

/* Decides whether buf is an image we accept, reading only its header: type sniffed from the
 * bytes (and equal to `declared` unless that is UNKNOWN), byte size and dimensions within lim.
 * Fills *info (may be NULL). Does not decode pixels, so a tiny file declaring 30000 x 30000 is
 * refused without allocating for it; truncation in the pixel data shows only when decoding.
 * Errors: GH_EINVAL (empty), GH_ETOOBIG (over max_bytes), GH_EUNSUPPORTED (not JPEG, PNG or
 * WebP), GH_EMISMATCH (declared type differs), GH_EDECODE (header unreadable), GH_ERANGE
 * (dimensions outside lim). buf is borrowed for the call. Thread-safe. */
int gh_image_validate(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                      enum gh_image_format declared, struct gh_image_info *info,
                      struct gh_err *err) GH_MUST_CHECK;

/* Validates as above, then decodes to the oriented image as a side x side luma grid
 * (ITU-R 601 luma of sRGB 8-bit, alpha flattened on white, Lanczos-3 antialiasing resize
 * that ignores aspect ratio), rounded to bytes, row-major, into out[side * side].
 * Uses shrink-on-load, so a 12-megapixel JPEG decodes at 1/8 scale. side is 8..256.
 * Errors as gh_image_validate, plus GH_EDECODE for truncated or corrupt pixel data. */
int gh_image_luma_grid(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                       enum gh_image_format declared, int side, uint8_t *out,
                       struct gh_image_info *info, struct gh_err *err) GH_MUST_CHECK;

/* Validates, then decodes the whole oriented image to sRGB 8-bit RGB (alpha flattened on
 * white), downsized (Lanczos-3, aspect kept) so that its longest side is at most max_side
 * (0: no limit; never upscales). On success out->data belongs to the caller. Errors as
 * gh_image_luma_grid, plus GH_ENOMEM. */
int gh_image_load_rgb(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                      enum gh_image_format declared, int max_side, struct gh_image_pixels *out,
                      struct gh_image_info *info, struct gh_err *err) GH_MUST_CHECK;

void gh_image_pixels_fini(struct gh_image_pixels *px);

/* The copy sent to AI providers: validated, oriented, sRGB RGB, resized to opts->max_side,
 * optionally enhanced, encoded as baseline JPEG without metadata (no EXIF, so no location
 * leaves the machine). On success *jpeg (free with gh_free) and *jpeg_len are set. opts may be
 * NULL for the defaults. Errors as gh_image_load_rgb. */
int gh_image_provider_copy(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                           enum gh_image_format declared, const struct gh_image_prep_opts *opts,
                           uint8_t **jpeg, size_t *jpeg_len, struct gh_image_info *info,
                           struct gh_err *err) GH_MUST_CHECK;

/* The default provider options above. */
struct gh_image_prep_opts gh_image_prep_opts_default(void);

#endif
