/* SPDX-License-Identifier: MIT */
/* The reference kernels: plain loops over the packed layouts (kernels.h), which every ISA's
 * kernels are tested against and which run where no ISA file applies. Accumulation in double
 * (f32, bf16) or exact int32 (int8): any difference from them is the fast kernels' rounding. */
#include "kernels.h"

#include <math.h>
#include <string.h>

static size_t elem(const struct gh_kern_w *w, int k, int o, int g)
{
    int p = o / GH_KERN_NR, lane = o % GH_KERN_NR;
    return (((size_t)p * (size_t)(w->kp / g) + (size_t)(k / g)) * GH_KERN_NR + (size_t)lane) *
               (size_t)g +
           (size_t)(k % g);
}

static float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t gh_kern_to_bf16(float f)
{
    uint32_t u;

    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* NaN stays a (quiet) NaN */
    u += 0x7fffu + ((u >> 16) & 1u);         /* round to nearest even */
    return (uint16_t)(u >> 16);
}

static void store(const struct gh_kern_gemm *g, int r, int o, double s)
{
    float *y = g->y + (size_t)r * (size_t)g->ldy + (size_t)o;

    if (g->b)
        s += g->b[o];
    *y = g->acc ? *y + (float)s : (float)s;
}

/* Output columns of panels [p0, p1) that exist. */
static int col_end(const struct gh_kern_w *w, int p1)
{
    return p1 * GH_KERN_NR < w->n ? p1 * GH_KERN_NR : w->n;
}

void gh_kern_f32_ref(const struct gh_kern_gemm *g, int p0, int p1)
{
    const struct gh_kern_w *w = g->w;
    const float *d = w->data;

    for (int r = 0; r < g->rows; r++)
        for (int o = p0 * GH_KERN_NR; o < col_end(w, p1); o++) {
            double s = 0;
            for (int k = 0; k < w->k; k++)
                s += (double)g->x[(size_t)r * (size_t)g->ldx + (size_t)k] * d[elem(w, k, o, 1)];
            store(g, r, o, s);
        }
}

void gh_kern_bf16_ref(const struct gh_kern_gemm *g, int p0, int p1)
{
    const struct gh_kern_w *w = g->w;
    const uint16_t *d = w->data, *a = g->act.data;

    for (int r = 0; r < g->rows; r++)
        for (int o = p0 * GH_KERN_NR; o < col_end(w, p1); o++) {
            double s = 0;
            for (int k = 0; k < w->kp; k++)
                s += (double)bf16_to_f32(a[(size_t)r * (size_t)w->kp + (size_t)k]) *
                     bf16_to_f32(d[elem(w, k, o, 2)]);
            store(g, r, o, s);
        }
}

void gh_kern_i8_ref(const struct gh_kern_gemm *g, int p0, int p1)
{
    const struct gh_kern_w *w = g->w;
    const int8_t *d = w->data;
    const uint8_t *a = g->act.data;

    for (int r = 0; r < g->rows; r++)
        for (int o = p0 * GH_KERN_NR; o < col_end(w, p1); o++) {
            int32_t s = 0;
            for (int k = 0; k < w->kp; k++)
                s += (int32_t)a[(size_t)r * (size_t)w->kp + (size_t)k] * d[elem(w, k, o, 4)];
            s -= 128 * w->colsum[o]; /* the activations' zero point */
            store(g, r, o, (double)s * g->act.scale[r] * w->scale[o]);
        }
}

void gh_kern_prep_bf16_ref(const float *x, int k, int kp, int r0, int r1, void *out, float *scale)
{
    uint16_t *o = out;

    (void)scale;
    for (int r = r0; r < r1; r++) {
        for (int i = 0; i < k; i++)
            o[(size_t)r * (size_t)kp + (size_t)i] = gh_kern_to_bf16(x[(size_t)r * (size_t)k + i]);
        for (int i = k; i < kp; i++)
            o[(size_t)r * (size_t)kp + (size_t)i] = 0;
    }
}

void gh_kern_prep_i8_ref(const float *x, int k, int kp, int r0, int r1, void *out, float *scale)
{
    uint8_t *o = out;

    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * (size_t)k;
        uint8_t *orow = o + (size_t)r * (size_t)kp;
        float mx = 0;
        for (int i = 0; i < k; i++)
            mx = fabsf(xr[i]) > mx ? fabsf(xr[i]) : mx;
        float inv = mx > 0 ? 127.0f / mx : 0.0f;
        scale[r] = mx / 127.0f;
        for (int i = 0; i < k; i++)
            orow[i] = (uint8_t)(gh_kern_round(xr[i] * inv) + 128);
        memset(orow + k, 128, (size_t)(kp - k));
    }
}

const struct gh_kern_ops gh_kern_ref_ops = {
    .isa = "ref",
    .f32_name = "ref (plain loops)",
    .bf16_name = "ref (plain loops)",
    .i8_name = "ref (plain loops)",
    .f32 = gh_kern_f32_ref,
    .bf16 = gh_kern_bf16_ref,
    .i8 = gh_kern_i8_ref,
    .prep_bf16 = gh_kern_prep_bf16_ref,
    .prep_i8 = gh_kern_prep_i8_ref,
    .i8_wmax = 127,
};
