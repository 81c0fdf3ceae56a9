/* SPDX-License-Identifier: MIT */
/* Pillow-compatible Lanczos resampling of 8-bit planes, and square-grid orientation. The
 * arithmetic follows Pillow's libImaging/Resample.c (precompute_coeffs, normalize_coeffs_8bpc,
 * ImagingResampleHorizontal/Vertical_8bpc) so that our pHash equals the reference's. */
#include "internal.h"

#include "gh/alloc.h"

#include <math.h>
#include <string.h>

#define PRECISION_BITS  (32 - 8 - 2)
#define LANCZOS_SUPPORT 3.0

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

/* Fixed-point weights for each output position: bounds[2i] is the first input index,
 * bounds[2i+1] the count; weights for output i at kk[i * ksize]. */
struct coeffs {
    int ksize;
    int *bounds;
    int32_t *kk;
};

static int precompute(int in_size, int out_size, struct coeffs *c)
{
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = LANCZOS_SUPPORT * filterscale, *w;
    int ksize = (int)ceil(support) * 2 + 1;

    c->ksize = ksize;
    c->bounds = gh_malloc_array((size_t)out_size * 2, sizeof *c->bounds);
    c->kk = gh_malloc_array((size_t)out_size * (size_t)ksize, sizeof *c->kk);
    w = gh_malloc_array((size_t)ksize, sizeof *w);
    if (!c->bounds || !c->kk || !w) {
        gh_free(w);
        return GH_ENOMEM;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5), x;

        if (xmin < 0)
            xmin = 0;
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        for (x = 0; x < xmax; x++) {
            w[x] = lanczos((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        for (x = 0; x < ksize; x++) {
            double k = x < xmax && ww != 0.0 ? w[x] / ww : 0.0;

            c->kk[xx * ksize + x] = (int32_t)(k < 0 ? -0.5 + k * (1 << PRECISION_BITS)
                                                    : 0.5 + k * (1 << PRECISION_BITS));
        }
        c->bounds[xx * 2] = xmin;
        c->bounds[xx * 2 + 1] = xmax;
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

int gh_resample_lanczos_u8(const uint8_t *in, int w, int h, size_t stride, uint8_t *out, int ow,
                           int oh)
{
    struct coeffs ch = {0, NULL, NULL}, cv = {0, NULL, NULL};
    uint8_t *tmp = NULL;
    int first, last, rc;

    rc = precompute(w, ow, &ch);
    if (rc == GH_OK)
        rc = precompute(h, oh, &cv);
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
    for (int yy = 0; yy < oh; yy++) {
        const int32_t *k = &cv.kk[yy * cv.ksize];
        int ymin = cv.bounds[yy * 2] - first, n = cv.bounds[yy * 2 + 1];

        for (int xx = 0; xx < ow; xx++) {
            int32_t ss = 1 << (PRECISION_BITS - 1);

            for (int y = 0; y < n; y++)
                ss += tmp[(size_t)(ymin + y) * (size_t)ow + (size_t)xx] * k[y];
            out[(size_t)yy * (size_t)ow + (size_t)xx] = clip8(ss);
        }
    }
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
