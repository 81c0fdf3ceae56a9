/* SPDX-License-Identifier: MIT */
/* The CLIP engine's GEMM kernels: linear layers y[rows, n] (+)= x[rows, k] W[k, n] + b with W
 * packed once at load in one of three precisions, one kernel set per ISA (ref.c: the plain loops
 * every set is checked against; avx2.c; avx512.c, avx512_bf16.c, avx512_vnni.c), chosen once by
 * cpuid. The thread pool (pool.c) splits the output columns, panel by panel. Internal to src/clip.
 */
#ifndef GH_CLIP_KERNELS_H
#define GH_CLIP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "gh/clip.h"
#include "gh/err.h"

#ifdef __SSE__
#include <xmmintrin.h>
#endif

/* Output columns per packed panel: 2 zmm or 4 ymm of float lanes. */
#define GH_KERN_NR 32

enum gh_kern_prec { GH_KERN_F32, GH_KERN_BF16, GH_KERN_I8 };

/* A weight packed for the kernels. Element (k, o) of W [k, n] (o an output channel) lives in
 * panel o / 32, lane o % 32, and the panels hold groups of g consecutive k per lane (g = 1 f32,
 * 2 bf16, 4 int8: what one 32-bit lane of vdpbf16ps / vpdpbusd / vpmaddubsw+vpmaddwd reads):
 *   data[((p * kp / g + k / g) * 32 + lane) * g + k % g]
 * k is padded to kp (a multiple of g) with zero weights; n to whole panels, zero too.
 * int8: w ~= scale[o] * q, q in [-wmax, wmax] (per output channel, symmetric); colsum[o] = sum
 * of q over k, for the activations' zero point. */
struct gh_kern_w {
    enum gh_kern_prec prec;
    int k, n, kp, n_panels;
    void *data;
    float *scale;    /* int8: [n_panels * 32] */
    int32_t *colsum; /* int8: [n_panels * 32] */
    void *raw[3];    /* the allocations behind data, scale, colsum */
};

/* Activations for a bf16 or int8 GEMM, prepared once per GEMM from x [rows, k] f32:
 * bf16 [rows, kp] (round to nearest even, padding 0); int8 u8 [rows, kp] = round(x / s) + 128
 * with s = max |x| / 127 per row (s[r] = 0 for a zero row), padding 128. */
struct gh_kern_act {
    const void *data;
    const float *scale; /* int8: [rows] */
};

/* One GEMM: y[r, o] = (acc ? y[r, o] : 0) + sum_k x[r, k] W[k, o] + (b ? b[o] : 0) for r < rows,
 * o < w->n; the kernel does panels [p0, p1). x is f32 [rows, w->k] (row stride ldx) for f32
 * weights, act (row stride w->kp) for the others. */
struct gh_kern_gemm {
    const float *x;
    int ldx; /* f32: x's row stride (>= w->k) */
    struct gh_kern_act act;
    int rows;
    const struct gh_kern_w *w;
    const float *b;
    float *y;
    int ldy, acc;
};

typedef void (*gh_kern_gemm_fn)(const struct gh_kern_gemm *g, int p0, int p1);
/* Prepares rows [r0, r1) of x [., k] into out (row stride kp elements), per struct gh_kern_act. */
typedef void (*gh_kern_prep_fn)(const float *x, int k, int kp, int r0, int r1, void *out,
                                float *scale);

struct gh_kern_ops {
    const char *isa;                  /* "avx512", "avx2", "ref" */
    const char *f32_name, *bf16_name; /* what runs: "avx512 fma 12x32", NULL when absent */
    const char *i8_name;
    gh_kern_gemm_fn f32, bf16, i8; /* bf16 NULL where the CPU has no AVX512-BF16 */
    gh_kern_prep_fn prep_bf16, prep_i8;
    int i8_wmax; /* 127, or 63 where vpmaddubsw's 16-bit pair sums would saturate (AVX2) */
};

/* The kernel sets, for the ISA files to fill (NULL members where not built). */
extern const struct gh_kern_ops gh_kern_ref_ops;
const struct gh_kern_ops *gh_kern_avx2_ops(void);
const struct gh_kern_ops *gh_kern_avx512_ops(int vnni, int bf16);

/* The reference loops, used by every set for what it lacks and by the tests. */
void gh_kern_f32_ref(const struct gh_kern_gemm *g, int p0, int p1);
void gh_kern_bf16_ref(const struct gh_kern_gemm *g, int p0, int p1);
void gh_kern_i8_ref(const struct gh_kern_gemm *g, int p0, int p1);
void gh_kern_prep_bf16_ref(const float *x, int k, int kp, int r0, int r1, void *out, float *scale);
void gh_kern_prep_i8_ref(const float *x, int k, int kp, int r0, int r1, void *out, float *scale);
uint16_t gh_kern_to_bf16(float f);

/* Round to nearest even, as cvtss2si/cvtps2dq do in the default MXCSR mode (the quantisers'
 * one rounding, so the reference and the SIMD preparations agree to the bit). */
static inline int gh_kern_round(float v)
{
#ifdef __SSE__
    return _mm_cvtss_si32(_mm_set_ss(v)); /* lrintf is a libm call without -fno-math-errno */
#else
    return (int)__builtin_lrintf(v);
#endif
}

/* The ISA files' kernels (x86-64 builds), gathered into sets by avx2.c and avx512.c. */
void gh_kern_f32_avx2(const struct gh_kern_gemm *g, int p0, int p1);
void gh_kern_i8_avx2(const struct gh_kern_gemm *g, int p0, int p1);
void gh_kern_prep_i8_avx2(const float *x, int k, int kp, int r0, int r1, void *out, float *scale);
void gh_kern_f32_avx512(const struct gh_kern_gemm *g, int p0, int p1);
void gh_kern_prep_i8_avx512(const float *x, int k, int kp, int r0, int r1, void *out, float *scale);
void gh_kern_bf16_avx512(const struct gh_kern_gemm *g, int p0, int p1);
void gh_kern_prep_bf16_avx512(const float *x, int k, int kp, int r0, int r1, void *out,
                              float *scale);
void gh_kern_i8_avx512vnni(const struct gh_kern_gemm *g, int p0, int p1);

/* What the CPU has, as a line ("avx2 fma avx512f avx512bw avx512vl avx512vnni avx512bf16"). */
const char *gh_kern_cpu_line(void);

/* The kernels for want: NULL or "" picks the best this CPU runs (GH_CLIP_ISA in the environment
 * overrides), "avx512", "avx2" or "ref" forces one. Errors: GH_EINVAL for an unknown name or one
 * this CPU cannot run. */
int gh_kern_select(const char *want, const struct gh_kern_ops **out,
                   struct gh_err *err) GH_MUST_CHECK;

/* Allocates w for a [k, n] weight of prec (data zeroed). Errors: GH_ENOMEM. */
int gh_kern_w_init(struct gh_kern_w *w, enum gh_kern_prec prec, int k, int n,
                   struct gh_err *err) GH_MUST_CHECK;
void gh_kern_w_fini(struct gh_kern_w *w);
/* Sets w's shape fields for a [k, n] weight of prec as gh_kern_w_init does, allocating nothing
 * (data, scale, colsum and raw NULL): for weights that point into a mapped file. */
void gh_kern_w_shape(struct gh_kern_w *w, enum gh_kern_prec prec, int k, int n);
/* Bytes of w's buffers. */
size_t gh_kern_w_bytes(const struct gh_kern_w *w);

/* Packs nb output channels o0.. from rows [nb, k] f32 (Hugging Face's [out, in] layout, row
 * stride k), quantising int8 per channel to [-wmax, wmax]. */
void gh_kern_pack(struct gh_kern_w *w, const float *rows, int o0, int nb, int wmax);

/* The same from a source already [k, n] (row stride ld), f32 weights only: attention's V. */
void gh_kern_pack_kn(struct gh_kern_w *w, const float *src, size_t ld);

/* Re-shapes an f32 w in place to [k, n] within the capacity it was made with (attention's
 * per-head K^T and V, whose sizes vary with the sequence). */
void gh_kern_w_reshape(struct gh_kern_w *w, int k, int n);

/* Packs from rows with a row stride (attention's K, rows of qkv). f32 only. */
void gh_kern_pack_strided(struct gh_kern_w *w, const float *rows, size_t ld, int o0, int nb);

/* Bytes of activation buffer a GEMM of rows x kp needs for prec (0 for f32). */
size_t gh_kern_act_bytes(enum gh_kern_prec prec, int rows, int kp);

/* ---- the thread pool (pool.c): the engine's one owner of parallelism (OpenBLAS runs
 * single-threaded inside it) ---- */

struct gh_kern_pool;

/* n_threads >= 1 threads, the caller's included (n_threads - 1 are started). Errors: GH_ENOMEM,
 * GH_EBACKEND (thread creation failed). */
int gh_kern_pool_new(int n_threads, struct gh_kern_pool **out, struct gh_err *err) GH_MUST_CHECK;
void gh_kern_pool_free(struct gh_kern_pool *p);
int gh_kern_pool_threads(const struct gh_kern_pool *p);

/* Runs fn(ctx, t, nt) for t = 0 .. nt - 1, t = 0 on the calling thread, and returns when every
 * one has returned. Not reentrant: one run at a time (the model's lock serialises them). */
void gh_kern_pool_run(struct gh_kern_pool *p, void (*fn)(void *ctx, int t, int nt), void *ctx);

/* Row tile i of [0, n) cut into ceil(n / mr) near-equal tiles of at most mr rows: 50 rows as 5
 * tiles of 10, not 4 of 12 and one of 2, whose 4 accumulators leave the FMA latency exposed. */
static inline void gh_kern_tile(int n, int mr, int i, int *lo, int *hi)
{
    int nt = (n + mr - 1) / mr;

    *lo = n * i / nt;
    *hi = n * (i + 1) / nt;
}

/* Rows [*lo, *hi) of n split in nt near-equal contiguous parts, part t, in units of unit. */
void gh_kern_split(int n, int unit, int t, int nt, int *lo, int *hi);

#endif
