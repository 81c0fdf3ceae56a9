/* SPDX-License-Identifier: MIT */
/* Pillow-compatible resampling of 8-bit images (Lanczos planes for pHash, bicubic RGB for
 * CLIP), and square-grid orientation. The arithmetic follows Pillow's libImaging/Resample.c
 * (precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal/Vertical_8bpc) so that
 * our pHash and CLIP input equal the references'. */
#include "internal.h"

#include "gh/alloc.h"

#include <math.h>
#include <string.h>

#define PRECISION_BITS  (32 - 8 - 2)
#define LANCZOS_SUPPORT 3.0
#define BICUBIC_SUPPORT 2.0

static double sinc(double x)
{
    if (x == 0.0)
        return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos(double x)
{
    return (x >= -LANCZOS_SUPPORT && x < LANCZOS_SUPPORT) ? sinc(x) * sinc(x / LANCZOS_SUPPORT)
                                                          : 0.0;
}

/* Pillow's bicubic_filter: Keys' cubic convolution with a = -0.5. */
static double bicubic(double x)
{
    const double a = -0.5;

    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

struct filter {
    double (*fn)(double);
    double support;
};

static const struct filter lanczos_filter = {lanczos, LANCZOS_SUPPORT};
static const struct filter bicubic_filter = {bicubic, BICUBIC_SUPPORT};

/* Fixed-point weights for each output position: bounds[2i] is the first input index,
 * bounds[2i+1] the count; weights for output i at kk[i * ksize]. */
struct coeffs {
    int ksize;
    int *bounds;
    int32_t *kk;
};

/* Weights for outputs first .. first + count - 1 of out_size (a window of the full resize:
 * each output's weights depend only on its own position). */
static int precompute(int in_size, int out_size, int first, int count, const struct filter *f,
                      struct coeffs *c)
{
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f->support * filterscale, *w;
    int ksize = (int)ceil(support) * 2 + 1;

    c->ksize = ksize;
    c->bounds = gh_malloc_array((size_t)count * 2, sizeof *c->bounds);
    c->kk = gh_malloc_array((size_t)count * (size_t)ksize, sizeof *c->kk);
    w = gh_malloc_array((size_t)ksize, sizeof *w);
    if (!c->bounds || !c->kk || !w) {
        gh_free(w);
        return GH_ENOMEM;
    }
    for (int i = 0; i < count; i++) {
        int xx = first + i;
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5), x;

        if (xmin < 0)
            xmin = 0;
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        for (x = 0; x < xmax; x++) {
            w[x] = f->fn((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        for (x = 0; x < ksize; x++) {
            double k = x < xmax && ww != 0.0 ? w[x] / ww : 0.0;

            c->kk[i * ksize + x] = (int32_t)(k < 0 ? -0.5 + k * (1 << PRECISION_BITS)
                                                   : 0.5 + k * (1 << PRECISION_BITS));
        }
        c->bounds[i * 2] = xmin;
        c->bounds[i * 2 + 1] = xmax;
    }
    gh_free(w);
    return GH_OK;
}

/* Pillow's clip8: the fixed-point sum floored to an integer and clamped to 0..255. */
static uint8_t clip8(int32_t v)
{
    if (v < 0)
        return 0;
    v >>= PRECISION_BITS;
    return (uint8_t)(v > 255 ? 255 : v);
}

static void coeffs_fini(struct coeffs *c)
{
    gh_free(c->bounds);
    gh_free(c->kk);
}

/* The vertical pass, shared by every layout: tmp holds the horizontally resampled rows from
 * first on, width bytes each (pixels times channels), and out gets oh such rows. */
static void vertical_pass(const uint8_t *tmp, size_t width, const struct coeffs *cv, int first,
                          int oh, uint8_t *out)
{
    for (int yy = 0; yy < oh; yy++) {
        const int32_t *k = &cv->kk[yy * cv->ksize];
        int ymin = cv->bounds[yy * 2] - first, n = cv->bounds[yy * 2 + 1];

        for (size_t xx = 0; xx < width; xx++) {
            int32_t ss = 1 << (PRECISION_BITS - 1);

            for (int y = 0; y < n; y++)
                ss += tmp[(size_t)(ymin + y) * width + xx] * k[y];
            out[(size_t)yy * width + xx] = clip8(ss);
        }
    }
}

int gh_resample_lanczos_u8(const uint8_t *in, int w, int h, size_t stride, uint8_t *out, int ow,
                           int oh)
{
    struct coeffs ch = {0, NULL, NULL}, cv = {0, NULL, NULL};
    uint8_t *tmp = NULL;
    int first, last, rc;

    rc = precompute(w, ow, 0, ow, &lanczos_filter, &ch);
    if (rc == GH_OK)
        rc = precompute(h, oh, 0, oh, &lanczos_filter, &cv);
    if (rc)
        goto out;
    /* Only the rows the vertical pass reads go through the horizontal pass (as Pillow). */
    first = cv.bounds[0];
    last = cv.bounds[(oh - 1) * 2] + cv.bounds[(oh - 1) * 2 + 1];
    tmp = gh_malloc_array((size_t)ow, (size_t)(last - first));
    if (!tmp) {
        rc = GH_ENOMEM;
        goto out;
    }
    for (int y = first; y < last; y++) {
        const uint8_t *row = in + (size_t)y * stride;

        for (int xx = 0; xx < ow; xx++) {
            const int32_t *k = &ch.kk[xx * ch.ksize];
            int xmin = ch.bounds[xx * 2], n = ch.bounds[xx * 2 + 1];
            int32_t ss = 1 << (PRECISION_BITS - 1);

            for (int x = 0; x < n; x++)
                ss += row[xmin + x] * k[x];
            tmp[(size_t)(y - first) * (size_t)ow + (size_t)xx] = clip8(ss);
        }
    }
    vertical_pass(tmp, (size_t)ow, &cv, first, oh, out);
out:
    gh_free(tmp);
    coeffs_fini(&ch);
    coeffs_fini(&cv);
    return rc;
}

int gh_resample_bicubic_rgb(const uint8_t *in, int w, int h, size_t stride, int ow, int oh, int x0,
                            int y0, int cw, int ch_, uint8_t *out)
{
    struct coeffs ch = {0, NULL, NULL}, cv = {0, NULL, NULL};
    uint8_t *tmp = NULL;
    size_t tstride = (size_t)cw * 3;
    int first, last, rc;

    rc = precompute(w, ow, x0, cw, &bicubic_filter, &ch);
    if (rc == GH_OK)
        rc = precompute(h, oh, y0, ch_, &bicubic_filter, &cv);
    if (rc)
        goto out;
    /* Only the rows the vertical pass reads go through the horizontal pass (as Pillow). */
    first = cv.bounds[0];
    last = cv.bounds[(ch_ - 1) * 2] + cv.bounds[(ch_ - 1) * 2 + 1];
    tmp = gh_malloc_array(tstride, (size_t)(last - first));
    if (!tmp) {
        rc = GH_ENOMEM;
        goto out;
    }
    for (int y = first; y < last; y++) {
        const uint8_t *row = in + (size_t)y * stride;
        uint8_t *dst = tmp + (size_t)(y - first) * tstride;

        for (int xx = 0; xx < cw; xx++) {
            const int32_t *k = &ch.kk[xx * ch.ksize];
            const uint8_t *src = row + (size_t)ch.bounds[xx * 2] * 3;
            int n = ch.bounds[xx * 2 + 1];
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;

            for (int x = 0; x < n; x++) {
                s0 += src[x * 3] * k[x];
                s1 += src[x * 3 + 1] * k[x];
                s2 += src[x * 3 + 2] * k[x];
            }
            dst[xx * 3] = clip8(s0);
            dst[xx * 3 + 1] = clip8(s1);
            dst[xx * 3 + 2] = clip8(s2);
        }
    }
    vertical_pass(tmp, tstride, &cv, first, ch_, out);
out:
    gh_free(tmp);
    coeffs_fini(&ch);
    coeffs_fini(&cv);
    return rc;
}

void gh_orient_square(const uint8_t *in, uint8_t *out, int n, int orientation)
{
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            int sx = x, sy = y; /* stored pixel shown at (x, y) */

            switch (orientation) {
            case 2: /* mirrored */
                sx = n - 1 - x;
                break;
            case 3: /* rotated 180 */
                sx = n - 1 - x;
                sy = n - 1 - y;
                break;
            case 4: /* mirrored vertically */
                sy = n - 1 - y;
                break;
            case 5: /* transposed */
                sx = y;
                sy = x;
                break;
            case 6: /* shown after rotating 90 clockwise */
                sx = y;
                sy = n - 1 - x;
                break;
            case 7: /* transversed */
                sx = n - 1 - y;
                sy = n - 1 - x;
                break;
            case 8: /* shown after rotating 90 anticlockwise */
                sx = n - 1 - y;
                sy = x;
                break;
            default:
                break;
            }
            out[y * n + x] = in[sy * n + sx];
        }
}
