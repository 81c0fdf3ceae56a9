/* SPDX-License-Identifier: MIT */
/* The image module on images made here with libvips: every refusal class with its code,
 * header-only limits, truncation, and normalisation (orientation, alpha, grey, 16-bit, CMYK),
 * plus the provider copy. */
#include "gh/alloc.h"
#include "gh/image.h"
#include "../../gh_test.h"

#include <sys/resource.h>
#include <vips/vips.h>

struct blob {
    uint8_t *data;
    size_t len;
};

/* A w x h sRGB test card: horizontal ramp in red, vertical in green, a dark square top-left so
 * orientation is visible. */
static VipsImage *card(int w, int h)
{
    VipsImage *x = NULL, *r = NULL, *g = NULL, *b = NULL, *rgb = NULL, *out = NULL;
    VipsImage *xy[3] = {NULL, NULL, NULL};

    if (vips_xyz(&x, w, h, NULL) || vips_extract_band(x, &xy[0], 0, NULL) ||
        vips_extract_band(x, &xy[1], 1, NULL))
        return NULL;
    vips_linear1(xy[0], &r, 255.0 / w, 0, "uchar", TRUE, NULL);
    vips_linear1(xy[1], &g, 255.0 / h, 0, "uchar", TRUE, NULL);
    vips_linear1(xy[0], &b, 0, 128, "uchar", TRUE, NULL);
    VipsImage *bands[3] = {r, g, b};
    vips_bandjoin(bands, &rgb, 3, NULL);
    double black[3] = {0, 0, 0};
    vips_draw_rect(rgb, black, 3, 0, 0, w / 3, h / 3, "fill", TRUE, NULL);
    vips_copy(rgb, &out, "interpretation", VIPS_INTERPRETATION_sRGB, NULL);
    g_object_unref(x);
    g_object_unref(xy[0]);
    g_object_unref(xy[1]);
    g_object_unref(r);
    g_object_unref(g);
    g_object_unref(b);
    g_object_unref(rgb);
    return out;
}

static struct blob save(VipsImage *img, const char *suffix)
{
    struct blob b = {NULL, 0};
    void *buf = NULL;
    size_t len = 0;

    if (vips_image_write_to_buffer(img, suffix, &buf, &len, NULL) != 0) {
        fprintf(stderr, "save %s: %s\n", suffix, vips_error_buffer());
        return b;
    }
    b.data = gh_malloc(len);
    memcpy(b.data, buf, len);
    b.len = len;
    g_free(buf);
    return b;
}

static struct blob card_as(int w, int h, const char *suffix)
{
    VipsImage *img = card(w, h);
    struct blob b = save(img, suffix);

    g_object_unref(img);
    return b;
}

static struct gh_image_limits lim;

static void accepts_the_three_formats(void)
{
    static const struct {
        const char *suffix;
        enum gh_image_format fmt;
    } cases[] = {{".jpg", GH_IMAGE_FORMAT_JPEG},
                 {".png", GH_IMAGE_FORMAT_PNG},
                 {".webp", GH_IMAGE_FORMAT_WEBP}};

    for (size_t i = 0; i < 3; i++) {
        struct blob b = card_as(120, 80, cases[i].suffix);
        struct gh_image_info info;
        struct gh_err err = {0};

        CHECK_INT(gh_image_validate(b.data, b.len, &lim, GH_IMAGE_FORMAT_UNKNOWN, &info, &err),
                  GH_OK);
        CHECK_INT(info.format, cases[i].fmt);
        CHECK_INT(info.width, 120);
        CHECK_INT(info.height, 80);
        CHECK_INT(info.orientation, 1);
        CHECK_INT(info.n_pages, 1);
        /* declared equal: fine; declared different: mismatch naming both */
        CHECK_INT(gh_image_validate(b.data, b.len, &lim, cases[i].fmt, NULL, NULL), GH_OK);
        gh_err_clear(&err);
        CHECK_INT(gh_image_validate(b.data, b.len, &lim, cases[(i + 1) % 3].fmt, NULL, &err),
                  GH_EMISMATCH);
        CHECK(strstr(err.msg, gh_image_format_name(cases[(i + 1) % 3].fmt)) != NULL);
        gh_free(b.data);
    }
}

static void refusals_have_codes(void)
{
    static const struct {
        const char *bytes;
        size_t len;
        int code;
        const char *says;
    } cases[] = {
        {"", 0, GH_EINVAL, "empty"},
        {"GIF89a\1\0\1\0\0\0\0", 13, GH_EUNSUPPORTED, "GIF image"},
        {"%PDF-1.4\n%...", 13, GH_EUNSUPPORTED, "PDF document"},
        {"<html><body>hi</body></html>", 28, GH_EUNSUPPORTED, "HTML document"},
        {"just some words\n", 16, GH_EUNSUPPORTED, "plain text"},
        {"\x13\x37\xC0\xDE\x00\x01\x02", 7, GH_EUNSUPPORTED, "unrecognised binary data"},
        {"\xFF\xD8\xFF\xE0garbage-after-soi", 21, GH_EDECODE, "header"},
        {"\x89PNG\r\n\x1A\nnot-an-ihdr-chunk", 25, GH_EDECODE, "header"},
        {"RIFF\x10\0\0\0WEBPVP8 \0\0\0\0", 20, GH_EDECODE, "header"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gh_err err = {0};
        uint8_t luma[32 * 32];

        CHECK_INT(gh_image_validate((const uint8_t *)cases[i].bytes, cases[i].len, &lim,
                                    GH_IMAGE_FORMAT_UNKNOWN, NULL, &err),
                  cases[i].code);
        if (!strstr(err.msg, cases[i].says)) {
            fprintf(stderr, "case %zu: message '%s' lacks '%s'\n", i, err.msg, cases[i].says);
            CHECK(0);
        }
        CHECK_INT(gh_image_luma_grid((const uint8_t *)cases[i].bytes, cases[i].len, &lim,
                                     GH_IMAGE_FORMAT_UNKNOWN, 32, luma, NULL, NULL),
                  cases[i].code);
    }
}

static void limits_are_checked(void)
{
    struct blob small = card_as(49, 400, ".png"), big = card_as(300, 200, ".jpg");
    struct gh_image_limits tight = lim;
    struct gh_err err = {0};

    CHECK_INT(gh_image_validate(small.data, small.len, &lim, 0, NULL, &err), GH_ERANGE);
    CHECK(strstr(err.msg, "49x400") != NULL);
    tight.max_side = 299;
    CHECK_INT(gh_image_validate(big.data, big.len, &tight, 0, NULL, NULL), GH_ERANGE);
    tight.max_side = 300;
    CHECK_INT(gh_image_validate(big.data, big.len, &tight, 0, NULL, NULL), GH_OK);
    tight.max_bytes = big.len - 1;
    gh_err_clear(&err);
    CHECK_INT(gh_image_validate(big.data, big.len, &tight, 0, NULL, &err), GH_ETOOBIG);
    CHECK(strstr(err.msg, "limit") != NULL);
    tight.max_bytes = big.len;
    CHECK_INT(gh_image_validate(big.data, big.len, &tight, 0, NULL, NULL), GH_OK);
    gh_free(small.data);
    gh_free(big.data);
}

static long max_rss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Finds the SOF0/SOF2 marker and rewrites its height and width fields. */
static int patch_jpeg_dims(struct blob *b, int w, int h)
{
    for (size_t i = 2; i + 9 < b->len; i++) {
        if (b->data[i] == 0xFF && (b->data[i + 1] == 0xC0 || b->data[i + 1] == 0xC2)) {
            b->data[i + 5] = (uint8_t)(h >> 8);
            b->data[i + 6] = (uint8_t)h;
            b->data[i + 7] = (uint8_t)(w >> 8);
            b->data[i + 8] = (uint8_t)w;
            return 1;
        }
    }
    return 0;
}

/* A 2 KB file claiming 30000 x 30000 (2.7 GB of RGB) is refused from its header alone. */
static void huge_declared_size_is_refused_cheaply(void)
{
    struct blob b = card_as(64, 64, ".jpg");
    struct gh_err err = {0};
    uint8_t luma[32 * 32];
    struct gh_image_pixels px;
    long before;

    CHECK(patch_jpeg_dims(&b, 30000, 30000));
    before = max_rss_kb();
    CHECK_INT(gh_image_validate(b.data, b.len, &lim, 0, NULL, &err), GH_ERANGE);
    CHECK(strstr(err.msg, "30000x30000") != NULL);
    CHECK_INT(gh_image_luma_grid(b.data, b.len, &lim, 0, 32, luma, NULL, NULL), GH_ERANGE);
    CHECK_INT(gh_image_load_rgb(b.data, b.len, &lim, 0, 0, &px, NULL, NULL), GH_ERANGE);
    CHECK(max_rss_kb() - before < 64 * 1024);
    gh_free(b.data);
}

static void truncation_is_an_error(void)
{
    static const char *suffixes[] = {".jpg", ".png", ".webp"};

    for (size_t i = 0; i < 3; i++) {
        struct blob b = card_as(400, 300, suffixes[i]);
        struct gh_err err = {0};
        uint8_t luma[32 * 32];
        struct gh_image_pixels px;
        size_t cut = b.len * 6 / 10;

        CHECK_INT(gh_image_luma_grid(b.data, b.len, &lim, 0, 32, luma, NULL, NULL), GH_OK);
        int rc = gh_image_luma_grid(b.data, cut, &lim, 0, 32, luma, NULL, &err);
        if (rc != GH_EDECODE)
            fprintf(stderr, "%s cut to %zu: rc %d '%s'\n", suffixes[i], cut, rc, err.msg);
        CHECK_INT(rc, GH_EDECODE);
        CHECK_INT(gh_image_load_rgb(b.data, cut, &lim, 0, 0, &px, NULL, NULL), GH_EDECODE);
        gh_free(b.data);
    }
}

static int pixel(const struct gh_image_pixels *px, int x, int y, int c)
{
    return px->data[((size_t)y * (size_t)px->width + (size_t)x) * 3 + (size_t)c];
}

/* EXIF orientation 6 means "rotate 90 degrees clockwise to view": the stored top-left dark
 * square must come out top-right, and the image tall instead of wide. */
static void orientation_is_applied(void)
{
    VipsImage *img = card(300, 150), *tagged = NULL;
    struct gh_image_pixels px;
    struct gh_image_info info;
    struct blob b;

    vips_copy(img, &tagged, NULL);
    vips_image_set_int(tagged, VIPS_META_ORIENTATION, 6);
    b = save(tagged, ".jpg");
    CHECK_INT(gh_image_load_rgb(b.data, b.len, &lim, 0, 0, &px, &info, NULL), GH_OK);
    CHECK_INT(info.orientation, 6);
    CHECK_INT(info.width, 300);
    CHECK_INT(px.width, 150);
    CHECK_INT(px.height, 300);
    CHECK(pixel(&px, 140, 10, 0) < 40 && pixel(&px, 140, 10, 2) < 40); /* dark square */
    CHECK(pixel(&px, 10, 10, 2) > 100);                                /* not dark */
    gh_image_pixels_fini(&px);
    gh_free(b.data);
    g_object_unref(tagged);
    g_object_unref(img);
}

static void alpha_flattens_on_white(void)
{
    VipsImage *img = card(100, 100), *alpha = NULL, *rgba = NULL;
    struct gh_image_pixels px;
    struct gh_image_info info;
    struct blob b;

    vips_black(&alpha, 100, 100, NULL); /* fully transparent */
    vips_bandjoin2(img, alpha, &rgba, NULL);
    b = save(rgba, ".png");
    CHECK_INT(gh_image_load_rgb(b.data, b.len, &lim, 0, 0, &px, &info, NULL), GH_OK);
    CHECK(info.has_alpha);
    CHECK_INT(info.bands, 4);
    CHECK(pixel(&px, 5, 5, 0) == 255 && pixel(&px, 50, 50, 1) == 255 &&
          pixel(&px, 99, 99, 2) == 255);
    gh_image_pixels_fini(&px);
    gh_free(b.data);
    g_object_unref(rgba);
    g_object_unref(alpha);
    g_object_unref(img);
}

/* Grey, 16-bit and CMYK sources all come out as 3-band 8-bit RGB with sensible values. */
static void colour_spaces_normalise(void)
{
    VipsImage *grey = NULL, *grey16 = NULL, *g16 = NULL, *cmyk = NULL, *c = NULL;
    struct gh_image_pixels px;
    struct blob b;

    vips_black(&grey, 80, 60, NULL);
    vips_linear1(grey, &c, 1, 200, "uchar", TRUE, NULL);
    g_object_unref(grey);
    vips_copy(c, &grey, "interpretation", VIPS_INTERPRETATION_B_W, NULL);
    g_object_unref(c);
    b = save(grey, ".png");
    CHECK_INT(gh_image_load_rgb(b.data, b.len, &lim, 0, 0, &px, NULL, NULL), GH_OK);
    CHECK(pixel(&px, 3, 3, 0) == 200 && pixel(&px, 3, 3, 2) == 200);
    gh_image_pixels_fini(&px);
    gh_free(b.data);

    vips_linear1(grey, &g16, 257, 0, NULL); /* 200 -> 51400 of 65535 */
    vips_cast_ushort(g16, &c, NULL);
    vips_copy(c, &grey16, "interpretation", VIPS_INTERPRETATION_GREY16, NULL);
    g_object_unref(c);
    b = save(grey16, ".png");
    CHECK_INT(gh_image_load_rgb(b.data, b.len, &lim, 0, 0, &px, NULL, NULL), GH_OK);
    CHECK(abs(pixel(&px, 3, 3, 1) - 200) <= 1);
    gh_image_pixels_fini(&px);
    gh_free(b.data);

    /* CMYK: full cyan, nothing else: red low, blue high */
    double cyan[4] = {255, 0, 0, 0};
    vips_black(&c, 80, 60, "bands", 4, NULL);
    VipsImage *filled = NULL;
    vips_linear(c, &filled, (double[]){0, 0, 0, 0}, cyan, 4, "uchar", TRUE, NULL);
    vips_copy(filled, &cmyk, "interpretation", VIPS_INTERPRETATION_CMYK, NULL);
    b = save(cmyk, ".jpg");
    CHECK_INT(gh_image_load_rgb(b.data, b.len, &lim, 0, 0, &px, NULL, NULL), GH_OK);
    CHECK(pixel(&px, 10, 10, 0) < 100 && pixel(&px, 10, 10, 2) > 150);
    gh_image_pixels_fini(&px);
    gh_free(b.data);
    g_object_unref(filled);
    g_object_unref(c);
    g_object_unref(cmyk);
    g_object_unref(g16);
    g_object_unref(grey16);
    g_object_unref(grey);
}

static void provider_copy_is_resized_jpeg(void)
{
    struct blob b = card_as(3000, 2000, ".png"), s = card_as(200, 100, ".webp");
    struct gh_image_prep_opts o = gh_image_prep_opts_default();
    struct gh_image_info info;
    uint8_t *jpeg = NULL;
    size_t jpeg_len = 0;

    CHECK_INT(gh_image_provider_copy(b.data, b.len, &lim, 0, NULL, &jpeg, &jpeg_len, NULL, NULL),
              GH_OK);
    CHECK_INT(gh_image_sniff(jpeg, jpeg_len), GH_IMAGE_FORMAT_JPEG);
    CHECK_INT(gh_image_validate(jpeg, jpeg_len, &lim, 0, &info, NULL), GH_OK);
    CHECK_INT(info.width, 1024);
    CHECK(info.height == 683 || info.height == 682);
    gh_free(jpeg);
    o.enhance = 1;
    CHECK_INT(gh_image_provider_copy(s.data, s.len, &lim, 0, &o, &jpeg, &jpeg_len, NULL, NULL),
              GH_OK);
    CHECK_INT(gh_image_validate(jpeg, jpeg_len, &lim, 0, &info, NULL), GH_OK);
    CHECK_INT(info.width, 200); /* never upscaled */
    CHECK_INT(info.height, 100);
    gh_free(jpeg);
    o.quality = 0;
    CHECK_INT(gh_image_provider_copy(s.data, s.len, &lim, 0, &o, &jpeg, &jpeg_len, NULL, NULL),
              GH_EINVAL);
    gh_free(b.data);
    gh_free(s.data);
}

int main(void)
{
    static const struct gh_test_case cases[] = {
        GH_TEST(accepts_the_three_formats),
        GH_TEST(refusals_have_codes),
        GH_TEST(limits_are_checked),
        GH_TEST(huge_declared_size_is_refused_cheaply),
        GH_TEST(truncation_is_an_error),
        GH_TEST(orientation_is_applied),
        GH_TEST(alpha_flattens_on_white),
        GH_TEST(colour_spaces_normalise),
        GH_TEST(provider_copy_is_resized_jpeg),
    };
    int rc;

    if (gh_image_init(1, NULL) != GH_OK)
        return 1;
    lim = gh_image_limits_default();
    rc = gh_test_run(cases, sizeof cases / sizeof cases[0]);
    gh_image_shutdown();
    return rc;
}
