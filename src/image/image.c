/* SPDX-License-Identifier: MIT */
/* libvips adapter: header-only validation, then streaming decodes with shrink-on-load into the
 * normalised forms (luma grid for pHash, RGB pixels, provider JPEG). Only this file sees
 * <vips/vips.h>. Every image is opened by the loader of its sniffed type, never by libvips'
 * own guessing, and with fail_on=error so truncated data fails instead of decoding partly. */
#include "gh/image.h"
#include "gh/alloc.h"
#include "internal.h"

#include <pthread.h>
#include <string.h>
#include <vips/vips.h>

/* Keep the decoded image at least this many times the target size on each axis, so the
 * JPEG/WebP shrink-on-load (a box filter) leaves the final antialiasing to Lanczos: more for
 * the pHash grid, whose bits depend on fine differences, than for photos for providers. */
#define GRID_HEADROOM 4
#define FIT_HEADROOM  2

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc = GH_OK;

/* libvips reports decode trouble twice: as a warning on stderr and in its error buffer.
 * The error buffer reaches the caller through struct gh_err; the warnings would only put
 * unattributed lines in the logs of a server handling many requests at once. */
static void drop_warning(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
    (void)domain;
    (void)level;
    (void)msg;
    (void)data;
}

static void init_vips(void)
{
    if (VIPS_INIT("gymhelper") != 0) {
        init_rc = GH_EBACKEND;
        return;
    }
    /* The operation cache keys on buffer addresses: a later request reusing an address would
     * get an earlier request's pixels. Our inputs are never repeated, so nothing is lost. */
    vips_cache_set_max(0);
    vips_block_untrusted_set(TRUE);
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, drop_warning, NULL);
}

int gh_image_init(int threads, struct gh_err *err)
{
    pthread_once(&init_once, init_vips);
    if (init_rc != GH_OK)
        return gh_err_set(err, init_rc, "image library (libvips) failed to start");
    if (threads > 0)
        vips_concurrency_set(threads);
    return GH_OK;
}

void gh_image_shutdown(void)
{
    if (init_rc == GH_OK)
        vips_shutdown();
}

struct gh_image_limits gh_image_limits_default(void)
{
    struct gh_image_limits lim = {
        .max_bytes = 10u * 1000 * 1000, .min_side = 50, .max_side = 10000};
    return lim;
}

struct gh_image_prep_opts gh_image_prep_opts_default(void)
{
    struct gh_image_prep_opts o = {.max_side = 1024, .enhance = 0, .quality = 95};
    return o;
}

/* Moves libvips' (process-global) error text into err as one line. */
static int vips_fail(struct gh_err *err, int code, const char *what)
{
    char *msg = vips_error_buffer_copy();
    size_t n = msg ? strlen(msg) : 0;

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (msg[i] == '\n')
            msg[i] = ';';
    gh_err_set(err, code, "%s%s%s", what, n ? ": " : "", n ? msg : "");
    g_free(msg);
    return code;
}

/* Opens buf lazily (header only) with the loader for fmt. shrink is the integer
 * shrink-on-load factor (1, 2, 4 or 8 for JPEG; any for WebP; ignored for PNG). */
static int open_image(const uint8_t *buf, size_t len, enum gh_image_format fmt, int shrink,
                      VipsImage **out, struct gh_err *err)
{
    void *p = (void *)buf; /* libvips takes void * but only reads */
    int r = -1;

    *out = NULL;
    switch (fmt) {
    case GH_IMAGE_FORMAT_JPEG:
        r = vips_jpegload_buffer(p, len, out, "shrink", shrink, "fail_on", VIPS_FAIL_ON_ERROR,
                                 "access", VIPS_ACCESS_SEQUENTIAL, NULL);
        break;
    case GH_IMAGE_FORMAT_PNG:
        r = vips_pngload_buffer(p, len, out, "fail_on", VIPS_FAIL_ON_ERROR, "access",
                                VIPS_ACCESS_SEQUENTIAL, NULL);
        break;
    case GH_IMAGE_FORMAT_WEBP:
        r = vips_webpload_buffer(p, len, out, "scale", 1.0 / shrink, "fail_on", VIPS_FAIL_ON_ERROR,
                                 "access", VIPS_ACCESS_SEQUENTIAL, NULL);
        break;
    case GH_IMAGE_FORMAT_UNKNOWN:
        break;
    }
    if (r != 0) {
        *out = NULL;
        return vips_fail(err, GH_EDECODE, "the image header could not be read");
    }
    return GH_OK;
}

static int orientation_of(VipsImage *img)
{
    int o = 1;

    if (vips_image_get_typeof(img, VIPS_META_ORIENTATION) &&
        vips_image_get_int(img, VIPS_META_ORIENTATION, &o) != 0)
        o = 1;
    return (o >= 1 && o <= 8) ? o : 1;
}

static void fill_info(VipsImage *img, enum gh_image_format fmt, struct gh_image_info *info)
{
    info->format = fmt;
    info->width = vips_image_get_width(img);
    info->height = vips_image_get_height(img);
    info->orientation = orientation_of(img);
    info->bands = vips_image_get_bands(img);
    info->has_alpha = vips_image_hasalpha(img) ? 1 : 0;
    info->n_pages = vips_image_get_n_pages(img);
}

int gh_image_check_type(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                        enum gh_image_format declared, enum gh_image_format *fmt,
                        struct gh_err *err)
{
    if (len == 0)
        return gh_err_set(err, GH_EINVAL, "the file is empty (0 bytes)");
    if (len > lim->max_bytes)
        return gh_err_set(err, GH_ETOOBIG, "the file is %zu bytes; the limit is %zu bytes", len,
                          lim->max_bytes);
    *fmt = gh_image_sniff(buf, len);
    if (*fmt == GH_IMAGE_FORMAT_UNKNOWN)
        return gh_err_set(err, GH_EUNSUPPORTED,
                          "unsupported file type: found %s; send a JPEG, PNG or WebP photo",
                          gh_image_describe(buf, len));
    if (declared != GH_IMAGE_FORMAT_UNKNOWN && declared != *fmt)
        return gh_err_set(err, GH_EMISMATCH, "the file is declared as %s but its bytes are %s",
                          gh_image_format_name(declared), gh_image_describe(buf, len));
    return GH_OK;
}

int gh_image_check_dims(const struct gh_image_info *info, const struct gh_image_limits *lim,
                        struct gh_err *err)
{
    if (info->width < lim->min_side || info->height < lim->min_side ||
        info->width > lim->max_side || info->height > lim->max_side)
        return gh_err_set(err, GH_ERANGE,
                          "the image is %dx%d pixels; width and height must each be between "
                          "%d and %d",
                          info->width, info->height, lim->min_side, lim->max_side);
    return GH_OK;
}

int gh_image_validate(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                      enum gh_image_format declared, struct gh_image_info *info, struct gh_err *err)
{
    struct gh_image_limits def = gh_image_limits_default();
    struct gh_image_info tmp;
    enum gh_image_format fmt = GH_IMAGE_FORMAT_UNKNOWN;
    VipsImage *img = NULL;
    int rc;

    if (!lim)
        lim = &def;
    if (!info)
        info = &tmp;
    memset(info, 0, sizeof *info);
    rc = gh_image_check_type(buf, len, lim, declared, &fmt, err);
    if (rc)
        return rc;
    info->format = fmt;
    rc = gh_image_init(0, err);
    if (rc)
        return rc;
    rc = open_image(buf, len, fmt, 1, &img, err); /* header only: no pixels decoded */
    if (rc)
        return rc;
    fill_info(img, fmt, info);
    g_object_unref(img);
    return gh_image_check_dims(info, lim, err);
}

/* Largest shrink-on-load factor that keeps each axis at least a headroom times its final
 * size: side x side for a grid (fit = 0), or the image fitted within side (fit = 1; side 0
 * means full size). JPEG shrinks by 1, 2, 4 or 8 in the DCT domain; PNG cannot shrink. */
static int pick_shrink(const struct gh_image_info *info, int side, int fit)
{
    double w = info->width, h = info->height, need_w = side, need_h = side;
    int s = 8, headroom = fit ? FIT_HEADROOM : GRID_HEADROOM;

    if (side <= 0 || info->format == GH_IMAGE_FORMAT_PNG)
        return 1;
    if (fit) {
        double longest = w > h ? w : h, scale = longest > side ? side / longest : 1.0;

        need_w = w * scale;
        need_h = h * scale;
    }
    while (s > 1 && (w / s < need_w * headroom || h / s < need_h * headroom))
        s /= 2;
    return s;
}

/* Reassigns *img to out, dropping the reference to the old image. */
static void step(VipsImage **img, VipsImage *out)
{
    g_object_unref(*img);
    *img = out;
}

/* To sRGB 8-bit with 3 bands: converts grey, 16-bit and CMYK (through libvips' ICC support
 * with its fallback profile) and flattens any alpha onto white. */
static int to_srgb8(VipsImage **img, struct gh_err *err)
{
    VipsImage *t = NULL;

    if (vips_image_get_interpretation(*img) != VIPS_INTERPRETATION_sRGB ||
        vips_image_get_format(*img) != VIPS_FORMAT_UCHAR) {
        if (vips_colourspace(*img, &t, VIPS_INTERPRETATION_sRGB, NULL) != 0)
            return vips_fail(err, GH_EDECODE, "the image's colours could not be converted");
        step(img, t);
    }
    if (vips_image_hasalpha(*img)) {
        VipsArrayDouble *white = vips_array_double_newv(3, 255.0, 255.0, 255.0);
        int r = vips_flatten(*img, &t, "background", white, NULL);

        vips_area_unref(VIPS_AREA(white));
        if (r != 0)
            return vips_fail(err, GH_EDECODE, "the image's transparency could not be removed");
        step(img, t);
    }
    if (vips_image_get_bands(*img) > 3) {
        if (vips_extract_band(*img, &t, 0, "n", 3, NULL) != 0)
            return vips_fail(err, GH_EDECODE, "the image's colour channels could not be read");
        step(img, t);
    }
    if (vips_image_get_format(*img) != VIPS_FORMAT_UCHAR) {
        if (vips_cast_uchar(*img, &t, NULL) != 0)
            return vips_fail(err, GH_EDECODE, "the image could not be converted to 8 bits");
        step(img, t);
    }
    return GH_OK;
}

/* Decodes the pending pipeline into memory (this is where truncation shows), then applies
 * the EXIF orientation, which needs random access, leaving a memory image to read. */
static int finish(VipsImage **img, struct gh_err *err)
{
    VipsImage *t = vips_image_copy_memory(*img);

    if (!t)
        return vips_fail(err, GH_EDECODE, "the image data is truncated or corrupt");
    step(img, t);
    if (vips_autorot(*img, &t, NULL) != 0)
        return vips_fail(err, GH_EDECODE, "the image could not be rotated upright");
    step(img, t);
    t = vips_image_copy_memory(*img);
    if (!t)
        return vips_fail(err, GH_ENOMEM, "the rotated image could not be stored");
    step(img, t);
    return GH_OK;
}

/* Validates and opens buf for decoding towards a final size (see pick_shrink), already
 * converted to 3-band sRGB 8-bit. */
static int open_decode(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                       enum gh_image_format declared, int side, int fit, VipsImage **out,
                       struct gh_image_info *info, struct gh_err *err)
{
    struct gh_image_info tmp;
    int rc, shrink;

    *out = NULL;
    if (!info)
        info = &tmp;
    rc = gh_image_validate(buf, len, lim, declared, info, err);
    if (rc)
        return rc;
    shrink = pick_shrink(info, side, fit);
    rc = open_image(buf, len, info->format, shrink, out, err);
    if (rc)
        return rc;
    rc = to_srgb8(out, err);
    if (rc) {
        g_object_unref(*out);
        *out = NULL;
    }
    return rc;
}

int gh_image_grid_shrink(const struct gh_image_info *info, int side)
{
    return pick_shrink(info, side, 0);
}

/* Largest integer box shrink keeping both axes GRID_HEADROOM times the grid: the general
 * path's stand-in for JPEG's DCT-domain shrink, so a huge PNG never becomes a huge plane. */
static int box_shrink_for(int w, int h, int side)
{
    int f = 1;

    while (w / (f * 2) >= side * GRID_HEADROOM && h / (f * 2) >= side * GRID_HEADROOM)
        f *= 2;
    return f;
}

/* PNG, WebP and CMYK JPEG: libvips decodes to sRGB 8-bit (alpha flattened), then to BT.601
 * luma rounded to bytes, as Pillow's convert("L"); resizing is ours, as on the JPEG path. */
static int vips_luma_grid(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                          enum gh_image_format declared, int side, uint8_t *out,
                          struct gh_image_info *info, struct gh_err *err)
{
    double luma601[3] = {0.299, 0.587, 0.114};
    VipsImage *img = NULL, *t = NULL, *m = NULL;
    uint8_t *grid = NULL;
    int rc, f;

    rc = open_decode(buf, len, lim, declared, side, 0, &img, info, err);
    if (rc)
        return rc;
    m = vips_image_new_matrix_from_array(3, 1, luma601, 3);
    if (!m || vips_recomb(img, &t, m, NULL) != 0) {
        rc = vips_fail(err, GH_EBACKEND, "luma conversion failed");
        goto out;
    }
    step(&img, t);
    f = box_shrink_for(vips_image_get_width(img), vips_image_get_height(img), side);
    if (f > 1) {
        if (vips_shrink(img, &t, (double)f, (double)f, NULL) != 0) {
            rc = vips_fail(err, GH_EDECODE, "the image could not be resized");
            goto out;
        }
        step(&img, t);
    }
    if (vips_round(img, &t, VIPS_OPERATION_ROUND_RINT, NULL) != 0) {
        rc = vips_fail(err, GH_EBACKEND, "rounding failed");
        goto out;
    }
    step(&img, t);
    if (vips_cast_uchar(img, &t, NULL) != 0) { /* clamps to 0..255 */
        rc = vips_fail(err, GH_EBACKEND, "conversion to bytes failed");
        goto out;
    }
    step(&img, t);
    t = vips_image_copy_memory(img); /* decodes; truncation shows here */
    if (!t) {
        rc = vips_fail(err, GH_EDECODE, "the image data is truncated or corrupt");
        goto out;
    }
    step(&img, t);
    grid = gh_malloc((size_t)side * (size_t)side);
    if (!grid ||
        gh_resample_lanczos_u8(vips_image_get_data(img), vips_image_get_width(img),
                               vips_image_get_height(img), (size_t)VIPS_IMAGE_SIZEOF_LINE(img),
                               grid, side, side) != GH_OK) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory resizing the image");
        goto out;
    }
    gh_orient_square(grid, out, side, info->orientation);
out:
    gh_free(grid);
    if (m)
        g_object_unref(m);
    if (img)
        g_object_unref(img);
    return rc;
}

int gh_image_luma_grid(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                       enum gh_image_format declared, int side, uint8_t *out,
                       struct gh_image_info *info, struct gh_err *err)
{
    struct gh_image_limits def = gh_image_limits_default();
    enum gh_image_format fmt = GH_IMAGE_FORMAT_UNKNOWN;
    struct gh_image_info tmp;
    int rc;

    if (side < 8 || side > 256)
        return gh_err_set(err, GH_EINVAL, "grid side %d is outside 8..256", side);
    if (!lim)
        lim = &def;
    if (!info)
        info = &tmp;
    memset(info, 0, sizeof *info);
    rc = gh_image_check_type(buf, len, lim, declared, &fmt, err);
    if (rc)
        return rc;
    info->format = fmt;
    if (fmt == GH_IMAGE_FORMAT_JPEG) {
        rc = gh_jpeg_luma_grid(buf, len, lim, side, out, info, err);
        if (rc != GH_EUNSUPPORTED)
            return rc;
    }
    return vips_luma_grid(buf, len, lim, declared, side, out, info, err);
}

/* Downsizes so the longest side is at most max_side (Lanczos-3, aspect kept; never up). */
static int fit_within(VipsImage **img, int max_side, struct gh_err *err)
{
    int w = vips_image_get_width(*img), h = vips_image_get_height(*img);
    int longest = w > h ? w : h;
    VipsImage *t = NULL;

    if (max_side <= 0 || longest <= max_side)
        return GH_OK;
    if (vips_resize(*img, &t, (double)max_side / longest, "kernel", VIPS_KERNEL_LANCZOS3, NULL) !=
        0)
        return vips_fail(err, GH_EDECODE, "the image could not be resized");
    step(img, t);
    return GH_OK;
}

static int load_fitted(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                       enum gh_image_format declared, int max_side, VipsImage **out,
                       struct gh_image_info *info, struct gh_err *err)
{
    struct gh_image_limits def = gh_image_limits_default();
    enum gh_image_format fmt = GH_IMAGE_FORMAT_UNKNOWN;
    struct gh_image_info tmp;
    uint8_t grid[32 * 32];
    int rc;

    if (!lim)
        lim = &def;
    rc = gh_image_check_type(buf, len, lim, declared, &fmt, err);
    if (rc)
        return rc;
    /* libvips pads a JPEG whose data stops early (before an end marker) with grey; our
     * libjpeg pass refuses it. The check costs a 1/8-scale decode, on a path that is about to
     * wait seconds for a provider anyway. */
    if (fmt == GH_IMAGE_FORMAT_JPEG) {
        rc = gh_jpeg_luma_grid(buf, len, lim, 32, grid, &tmp, err);
        if (rc && rc != GH_EUNSUPPORTED)
            return rc;
    }
    rc = open_decode(buf, len, lim, declared, max_side, 1, out, info, err);
    if (rc == GH_OK)
        rc = fit_within(out, max_side, err);
    if (rc == GH_OK)
        rc = finish(out, err);
    if (rc && *out) {
        g_object_unref(*out);
        *out = NULL;
    }
    return rc;
}

int gh_image_load_rgb(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                      enum gh_image_format declared, int max_side, struct gh_image_pixels *out,
                      struct gh_image_info *info, struct gh_err *err)
{
    VipsImage *img = NULL;
    size_t n;
    int rc;

    memset(out, 0, sizeof *out);
    rc = load_fitted(buf, len, lim, declared, max_side, &img, info, err);
    if (rc)
        return rc;
    out->width = vips_image_get_width(img);
    out->height = vips_image_get_height(img);
    n = VIPS_IMAGE_SIZEOF_IMAGE(img); /* 3 bands of uchar, rows packed */
    out->data = gh_malloc(n);
    if (!out->data) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory for a %dx%d image", out->width, out->height);
        memset(out, 0, sizeof *out);
    } else {
        memcpy(out->data, vips_image_get_data(img), n);
    }
    g_object_unref(img);
    return rc;
}

void gh_image_pixels_fini(struct gh_image_pixels *px)
{
    if (!px)
        return;
    gh_free(px->data);
    memset(px, 0, sizeof *px);
}

/* Mild, photo-safe enhancement: contrast stretched 15% about the mean, then libvips' default
 * unsharp mask, which works on lightness only so colours do not fringe. */
static int enhance(VipsImage **img, struct gh_err *err)
{
    VipsImage *t = NULL;
    double mean = 0, gain = 1.15;

    if (vips_avg(*img, &mean, NULL) != 0 ||
        vips_linear1(*img, &t, gain, mean * (1 - gain), "uchar", TRUE, NULL) != 0)
        return vips_fail(err, GH_EBACKEND, "contrast enhancement failed");
    step(img, t);
    if (vips_sharpen(*img, &t, NULL) != 0)
        return vips_fail(err, GH_EBACKEND, "sharpening failed");
    step(img, t);
    if (vips_image_get_interpretation(*img) != VIPS_INTERPRETATION_sRGB ||
        vips_image_get_format(*img) != VIPS_FORMAT_UCHAR)
        return to_srgb8(img, err);
    return GH_OK;
}

int gh_image_provider_copy(const uint8_t *buf, size_t len, const struct gh_image_limits *lim,
                           enum gh_image_format declared, const struct gh_image_prep_opts *opts,
                           uint8_t **jpeg, size_t *jpeg_len, struct gh_image_info *info,
                           struct gh_err *err)
{
    struct gh_image_prep_opts def = gh_image_prep_opts_default();
    VipsImage *img = NULL;
    void *enc = NULL;
    size_t enc_len = 0;
    int rc;

    *jpeg = NULL;
    *jpeg_len = 0;
    if (!opts)
        opts = &def;
    if (opts->quality < 1 || opts->quality > 100 || opts->max_side < 0)
        return gh_err_set(err, GH_EINVAL, "JPEG quality must be 1..100 and the size positive");
    rc = load_fitted(buf, len, lim, declared, opts->max_side, &img, info, err);
    if (rc)
        return rc;
    if (opts->enhance) {
        rc = enhance(&img, err);
        if (rc)
            goto out;
    }
    /* strip: no EXIF (location, device) leaves the machine; orientation is already applied. */
    if (vips_jpegsave_buffer(img, &enc, &enc_len, "Q", opts->quality, "strip", TRUE,
                             "optimize_coding", TRUE, NULL) != 0) {
        rc = vips_fail(err, GH_EBACKEND, "JPEG encoding failed");
        goto out;
    }
    *jpeg = gh_malloc(enc_len);
    if (!*jpeg) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory for a %zu-byte JPEG", enc_len);
        goto out;
    }
    memcpy(*jpeg, enc, enc_len);
    *jpeg_len = enc_len;
out:
    g_free(enc);
    g_object_unref(img);
    return rc;
}
