/* SPDX-License-Identifier: MIT */
/* The CLIP engine's element-wise ops: layer norm, activations, exp, L2 normalisation, on
 * row-major activations [rows, width]. The GEMMs are kernels/'s. Nothing here allocates. */
#ifndef GH_CLIP_OPS_H
#define GH_CLIP_OPS_H

#include <stddef.h>

#include "gh/clip.h"

/* y = (x - mean) / sqrt(var + eps) * g + b per row of width n; y may equal x. Mean and
 * variance are accumulated in double, two passes (no cancellation). */
void gh_clip_layernorm(const float *x, int rows, int n, const float *g, const float *b, double eps,
                       float *y);
/* The same in plain loops, which gh_clip_layernorm runs without AVX2 (or with GH_CLIP_ISA=ref,
 * which makes every op here take its plain loops) and the tests compare it with. */
void gh_clip_layernorm_ref(const float *x, int rows, int n, const float *g, const float *b,
                           double eps, float *y);

/* In place: quick_gelu x * sigmoid(1.702 x) or exact gelu 0.5 x (1 + erf(x / sqrt 2)). */
void gh_clip_activate(float *x, size_t n, enum gh_clip_act act);

/* x[0..n) /= ||x|| (left alone when the norm is 0). */
void gh_clip_l2_normalize(float *x, int n);

/* In place exp of x[0..n): vectorised on AVX2 (relative error under 2e-7), expf otherwise. */
void gh_clip_vexp(float *x, size_t n);

#endif
