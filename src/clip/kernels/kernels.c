/* SPDX-License-Identifier: MIT */
/* Choosing the kernel set (cpuid once, GH_CLIP_ISA to force one) and packing weights into the
 * panel layout every set reads (kernels.h). */
#include "kernels.h"

#include "gh/alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct cpu {
    int avx2, avx512, vnni, bf16;
};

static struct cpu cpu_caps(void)
{
    struct cpu c = {0};
#if defined(__x86_64__) && defined(__GNUC__)
    /* libgcc checks XCR0 too: an OS that does not save the zmm state reports no AVX-512 */
    c.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    c.avx512 = c.avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl");
    c.vnni = c.avx512 && __builtin_cpu_supports("avx512vnni");
    c.bf16 = c.avx512 && __builtin_cpu_supports("avx512bf16");
#endif
    return c;
}

const char *gh_kern_cpu_line(void)
{
    static char line[96];
    struct cpu c = cpu_caps();

    snprintf(line, sizeof line, "%s%s%s%s", c.avx2 ? "avx2 fma" : "baseline x86-64/other",
             c.avx512 ? " avx512f avx512bw avx512vl" : "", c.vnni ? " avx512vnni" : "",
             c.bf16 ? " avx512bf16" : "");
    return line;
}

int gh_kern_select(const char *want, const struct gh_kern_ops **out, struct gh_err *err)
{
    struct cpu c = cpu_caps();
#ifdef GH_CLIP_X86_KERNELS
    const struct gh_kern_ops *avx512 = c.avx512 ? gh_kern_avx512_ops(c.vnni, c.bf16) : NULL;
    const struct gh_kern_ops *avx2 = c.avx2 ? gh_kern_avx2_ops() : NULL;
#else
    const struct gh_kern_ops *avx512 = NULL, *avx2 = NULL;
    (void)c;
#endif

    if (!want || !*want)
        want = getenv("GH_CLIP_ISA");
    if (!want || !*want || strcmp(want, "auto") == 0) {
        *out = avx512 ? avx512 : avx2 ? avx2 : &gh_kern_ref_ops;
        return GH_OK;
    }
    if (strcmp(want, "ref") == 0)
        *out = &gh_kern_ref_ops;
    else if (strcmp(want, "avx512") == 0)
        *out = avx512;
    else if (strcmp(want, "avx2") == 0)
        *out = avx2;
    else
        return gh_err_set(err, GH_EINVAL,
                          "CLIP kernels \"%.40s\" are unknown (expected auto, avx512, avx2 or ref)",
                          want);
    if (!*out)
        return gh_err_set(err, GH_EINVAL, "CLIP kernels \"%s\" cannot run on this CPU (it has: %s)",
                          want, gh_kern_cpu_line());
    return GH_OK;
}

static int group(enum gh_kern_prec prec)
{
    return prec == GH_KERN_I8 ? 4 : prec == GH_KERN_BF16 ? 2 : 1;
}

static size_t elem_size(enum gh_kern_prec prec)
{
    return prec == GH_KERN_I8 ? 1 : prec == GH_KERN_BF16 ? 2 : 4;
}

/* 64-byte aligned (whole cache lines for the kernels' loads) through gh_malloc, which tests can
 * make fail: *raw is what gh_free takes. */
static void *alloc_aligned(size_t bytes, int zero, void **raw)
{
    uint8_t *p = gh_malloc(bytes + 64);
    const uintptr_t huge = (uintptr_t)2 << 20;

    *raw = p;
    if (!p)
        return NULL;
    /* Weights are hundreds of MB written once: 2 MB pages mean a few hundred page faults instead
     * of ~100,000, and fewer TLB misses when the kernels stream them (a hint only). */
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1),
              hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    if (zero)
        memset(p, 0, bytes + 64);
    return p + (64 - (uintptr_t)p % 64);
}

void gh_kern_w_shape(struct gh_kern_w *w, enum gh_kern_prec prec, int k, int n)
{
    int g = group(prec);

    memset(w, 0, sizeof *w);
    w->prec = prec;
    w->k = k;
    w->n = n;
    w->kp = (k + g - 1) / g * g;
    w->n_panels = (n + GH_KERN_NR - 1) / GH_KERN_NR;
}

int gh_kern_w_init(struct gh_kern_w *w, enum gh_kern_prec prec, int k, int n, struct gh_err *err)
{
    gh_kern_w_shape(w, prec, k, n);
    /* packing writes every element of whole panels and groups; only padding needs zeros */
    w->data = alloc_aligned((size_t)w->n_panels * GH_KERN_NR * (size_t)w->kp * elem_size(prec),
                            n % GH_KERN_NR != 0 || w->kp != k, &w->raw[0]);
    if (prec == GH_KERN_I8) {
        w->scale =
            alloc_aligned((size_t)w->n_panels * GH_KERN_NR * sizeof *w->scale, 1, &w->raw[1]);
        w->colsum =
            alloc_aligned((size_t)w->n_panels * GH_KERN_NR * sizeof *w->colsum, 1, &w->raw[2]);
    }
    if (!w->data || (prec == GH_KERN_I8 && (!w->scale || !w->colsum))) {
        gh_kern_w_fini(w);
        return gh_err_set(err, GH_ENOMEM, "out of memory for a packed CLIP weight [%d, %d]", k, n);
    }
    return GH_OK;
}

void gh_kern_w_fini(struct gh_kern_w *w)
{
    for (int i = 0; i < 3; i++)
        gh_free(w->raw[i]);
    memset(w, 0, sizeof *w);
}

size_t gh_kern_w_bytes(const struct gh_kern_w *w)
{
    size_t n = (size_t)w->n_panels * GH_KERN_NR;
    return n * (size_t)w->kp * elem_size(w->prec) + (w->prec == GH_KERN_I8 ? n * 8 : 0);
}

size_t gh_kern_act_bytes(enum gh_kern_prec prec, int rows, int kp)
{
    return prec == GH_KERN_F32 ? 0 : (size_t)rows * (size_t)kp * elem_size(prec);
}

/* Packing runs once per weight element at load (~150 M for ViT-B/32): panel by panel, k by k,
 * so the writes are sequential and the reads 32 row streams; quantisation rounds with the same
 * instruction as the activations' (gh_kern_round). */
void gh_kern_pack(struct gh_kern_w *w, const float *rows, int o0, int nb, int wmax)
{
    int g = group(w->prec), kg = w->kp / g, k = w->k;

    for (int p = o0 / GH_KERN_NR; p * GH_KERN_NR < o0 + nb; p++) {
        int lo = p * GH_KERN_NR > o0 ? p * GH_KERN_NR : o0;
        int hi = (p + 1) * GH_KERN_NR < o0 + nb ? (p + 1) * GH_KERN_NR : o0 + nb;
        size_t base = (size_t)p * (size_t)kg * GH_KERN_NR * (size_t)g;
        for (int o = lo; o < hi; o++) {
            const float *src = rows + (size_t)(o - o0) * (size_t)k;
            size_t lane = (size_t)(o % GH_KERN_NR);
            if (w->prec == GH_KERN_F32) {
                float *d = (float *)w->data + base + lane;
                for (int i = 0; i < k; i++)
                    d[(size_t)i * GH_KERN_NR] = src[i];
            } else if (w->prec == GH_KERN_BF16) {
                uint16_t *d = (uint16_t *)w->data + base + lane * 2;
                for (int i = 0; i < k; i++)
                    d[(size_t)(i >> 1) * 2 * GH_KERN_NR + (size_t)(i & 1)] =
                        gh_kern_to_bf16(src[i]);
            } else {
                int8_t *d = (int8_t *)w->data + base + lane * 4;
                float mx = 0, inv;
                int32_t sum = 0;
                for (int i = 0; i < k; i++)
                    mx = fabsf(src[i]) > mx ? fabsf(src[i]) : mx;
                inv = mx > 0 ? (float)wmax / mx : 0.0f;
                for (int i = 0; i < k; i++) {
                    int q = gh_kern_round(src[i] * inv);
                    q = q > wmax ? wmax : q < -wmax ? -wmax : q;
                    d[(size_t)(i >> 2) * 4 * GH_KERN_NR + (size_t)(i & 3)] = (int8_t)q;
                    sum += q;
                }
                w->scale[o] = mx / (float)wmax;
                w->colsum[o] = sum;
            }
        }
    }
}

void gh_kern_pack_kn(struct gh_kern_w *w, const float *src, size_t ld)
{
    float *d = w->data;

    for (int p = 0; p < w->n_panels; p++) {
        int c0 = p * GH_KERN_NR, nv = w->n - c0 < GH_KERN_NR ? w->n - c0 : GH_KERN_NR;
        for (int k = 0; k < w->k; k++)
            memcpy(d + ((size_t)p * (size_t)w->kp + (size_t)k) * GH_KERN_NR,
                   src + (size_t)k * ld + (size_t)c0, (size_t)nv * sizeof *d);
    }
}

void gh_kern_w_reshape(struct gh_kern_w *w, int k, int n)
{
    w->k = w->kp = k;
    w->n = n;
    w->n_panels = (n + GH_KERN_NR - 1) / GH_KERN_NR;
}

void gh_kern_pack_strided(struct gh_kern_w *w, const float *rows, size_t ld, int o0, int nb)
{
    float *d = w->data;

    for (int j = 0; j < nb; j++) {
        int o = o0 + j, p = o / GH_KERN_NR, lane = o % GH_KERN_NR;
        float *base = d + (size_t)p * (size_t)w->kp * GH_KERN_NR + (size_t)lane;
        for (int k = 0; k < w->k; k++)
            base[(size_t)k * GH_KERN_NR] = rows[(size_t)j * ld + (size_t)k];
    }
}
