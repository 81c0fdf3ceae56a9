/* SPDX-License-Identifier: MIT */
/* The CLIP engine's kernels: linear layers on OpenBLAS, layer norm, activations, attention,
 * L2 normalisation. Row-major activations [rows, width]; weights [out, in] as Hugging Face
 * stores them. Only ops.c sees <cblas.h>. No kernel allocates: callers pass work buffers. */
#ifndef GH_CLIP_OPS_H
#define GH_CLIP_OPS_H

#include <stddef.h>

#include "gh/clip.h"

/* Sets OpenBLAS's thread count (process-wide: OpenBLAS has one pool). n >= 1. */
void gh_clip_ops_set_threads(int n);

/* y[rows, out] = x[rows, in] * w[out, in]^T + b (b may be NULL). y must not alias x. */
void gh_clip_linear(const float *x, int rows, int in, const float *w, const float *b, int out,
                    float *y);

/* y[rows, out] += x[rows, in] * w[out, in]^T + b (b may be NULL): a residual add fused into the
 * GEMM (beta = 1), so the block output needs no copy. */
void gh_clip_linear_acc(const float *x, int rows, int in, const float *w, const float *b, int out,
                        float *y);

/* The same two with w_io [in, out] (weights re-laid at load). */
void gh_clip_linear_io(const float *x, int rows, int in, const float *w_io, const float *b, int out,
                       float *y);
void gh_clip_linear_io_acc(const float *x, int rows, int in, const float *w_io, const float *b,
                           int out, float *y);

/* b[j, i] = a[i, j] for a [rows, cols] (row stride cols), b row stride ldb >= rows: OpenBLAS's
 * blocked out-of-place transpose. */
void gh_clip_transpose(const float *a, int rows, int cols, float *b, int ldb);

/* The plain loop gh_clip_linear is checked against (double accumulation). */
void gh_clip_linear_ref(const float *x, int rows, int in, const float *w, const float *b, int out,
                        float *y);

/* y = (x - mean) / sqrt(var + eps) * g + b per row of width n; y may equal x. Mean and
 * variance are accumulated in double, two passes (no cancellation). */
void gh_clip_layernorm(const float *x, int rows, int n, const float *g, const float *b, double eps,
                       float *y);

/* In place: quick_gelu x * sigmoid(1.702 x) or exact gelu 0.5 x (1 + erf(x / sqrt 2)). */
void gh_clip_activate(float *x, size_t n, enum gh_clip_act act);

/* Multi-head self-attention of one sequence: qkv [n, 3 * hidden] holds q | k | v per row
 * (heads side by side inside each); out [n_q, hidden] receives softmax(q k^T / sqrt(d)) v per
 * head for the queries q_first .. q_first + n_q - 1 (all: 0, n; the last layer needs only the
 * pooled token's). causal: token i sees tokens 0..i only. scores: n_q * n floats of work. */
void gh_clip_attention(const float *qkv, int n, int hidden, int heads, int causal, int q_first,
                       int n_q, float *scores, float *out);

/* The plain loop gh_clip_attention is checked against (double accumulation); work: n doubles. */
void gh_clip_attention_ref(const float *qkv, int n, int hidden, int heads, int causal, double *work,
                           float *out);

/* x[0..n) /= ||x|| (left alone when the norm is 0). */
void gh_clip_l2_normalize(float *x, int n);

/* In place exp of x[0..n): vectorised on AVX2 (relative error under 2e-7), expf otherwise. */
void gh_clip_vexp(float *x, size_t n);

#endif
