/* SPDX-License-Identifier: MIT */
/* The CLIP model: loads and checks a Hugging Face CLIPModel checkpoint directory and runs the
 * two towers exactly as transformers' modeling_clip.py does (pre-norm ViT and causal text
 * transformer, projections, L2 normalisation). The linear layers run on kernels/ (f32, bf16 or
 * int8 weights packed at load, the set chosen by cpuid), split over the engine's thread pool;
 * element-wise ops are in ops.c. */
#include "gh/clip.h"

#include "gh/alloc.h"
#include "gh/digest.h"
#include "gh/file.h"
#include "internal.h"
#include "kernels/kernels.h"
#include "ops.h"
#include "qfile.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CONFIG_MAX_BYTES (1u << 20)
#define MAX_BATCH_LIMIT  256
#define PATCH_GROUP      8 /* images per patch-embedding GEMM: W (9 MB f32) streams once per 8 */

struct layer_w {
    /* The linear weights packed [in, out] in the model's precision; qkv [H, 3H]: q | k | v */
    const float *ln1_g, *ln1_b, *qkv_b, *o_b;
    const float *ln2_g, *ln2_b, *fc1_b, *fc2_b;
    struct gh_kern_w qkv, o, fc1, fc2;
};

struct tower_w {
    const struct gh_clip_tower *cfg;
    struct layer_w *layers;
    const float *pos;             /* [n_pos, H] */
    const float *post_g, *post_b; /* text final_layer_norm, vision post_layernorm */
    struct gh_kern_w proj;        /* [H, D] f32, no bias */
};

/* One pool thread's attention scratch: a head's K^T and V packed, its scores. */
struct attn_ws {
    struct gh_kern_w kt, v;
    float *scores; /* [T, T] */
};

/* One caller of gh_clip_embed_images waiting for its images' embeddings. */
struct img_req {
    const float *pixels;
    float *out;
    size_t n, taken, finished; /* images: in the request, gathered into passes, embedded */
    int rc;
    struct gh_err err;
    struct img_req *next;
};

struct gh_clip_model {
    struct gh_clip_config cfg;
    struct gh_safetensors *st;
    struct gh_clip_tokenizer *tok;
    struct tower_w text, vision;
    const float *tok_emb;       /* [vocab, Ht] */
    const float *cls;           /* [Hv] */
    struct gh_kern_w patch;     /* [3 p p, Hv] f32: the patch convolution as a GEMM */
    const float *pre_g, *pre_b; /* vision pre_layrnorm */
    float logit_scale;          /* exp()'d */
    char digest[GH_SHA256_HEX_LEN + 1];
    float **owned; /* widened weights */
    size_t n_owned, owned_cap;
    long page;

    struct gh_qfile *qmap;            /* layer weights mapped from the model's gh_qfile_name */
    char qpath[PATH_MAX];             /* that file's path */
    const struct gh_kern_ops *ops;    /* the kernel set for this CPU */
    enum gh_clip_precision precision; /* resolved: f32, bf16 or int8 */
    enum gh_kern_prec prec;           /* the layers' weights */
    struct gh_kern_pool *pool;
    int n_threads;
    char kernels[320];  /* gh_clip_model_kernels */
    void *act;          /* bf16/int8 activations [rows, kp max] */
    float *ascale;      /* [rows] */
    struct attn_ws *ws; /* [n_threads] */

    /* Concurrent image requests, gathered into shared passes (gh_clip_embed_images). */
    pthread_mutex_t qlock;
    pthread_cond_t qdone;
    struct img_req *queue; /* oldest first; a request leaves once all its images are taken */
    int leading;           /* a caller is gathering or running a pass */
    int batch_wait_ms;
    float *batch_px, *batch_out; /* [max_batch, 3 S S], [max_batch, D] */

    /* One forward pass at a time (see gh_clip_load): the work buffers below are shared. */
    pthread_mutex_t lock;
    int max_batch, grid, n_vis_tok, ctx, rows, max_seqs;
    float *x, *h, *qkv, *attn, *mlp; /* [rows, H], [rows, 3H], [rows, I] with H, I the max */
    float *patches;                  /* [PATCH_GROUP * n_vis_tok, 3 p p]: im2col, see embed */
    float *pooled;                   /* [max_seqs, H] */
    int32_t *ids;                    /* [rows] */
    int *seq_start, *seq_len;        /* [max_seqs] */
    int *pool_row;                   /* [max_seqs]: each sequence's pooled row */
};

/* ---- loading: tensors ---- */

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t used = 0;
    int w = snprintf(buf, cap, "[");
    used = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < ndim && used < cap; i++) {
        w = snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
}

static size_t n_elems(int ndim, const int64_t *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i]; /* shapes come from the config, already range-checked */
    return n;
}

static const struct gh_st_tensor *find_checked(const struct gh_clip_model *m, const char *name,
                                               int ndim, const int64_t *shape, struct gh_err *err)
{
    const struct gh_st_tensor *t = gh_st_find(m->st, name);
    char want[96], got[96];
    int same;

    if (!t) {
        gh_err_set(err, GH_EINVAL, "model.safetensors has no tensor %s", name);
        return NULL;
    }
    if (t->dtype == GH_ST_OTHER) {
        gh_err_set(err, GH_EINVAL, "tensor %s has dtype %s; expected F32, F16 or BF16", name,
                   t->dtype_name);
        return NULL;
    }
    /* A scalar may be stored as shape [] (HF) or [1]. */
    same = t->ndim == ndim || (ndim == 0 && t->ndim == 1 && t->shape[0] == 1);
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        shape_str(want, sizeof want, ndim, shape);
        shape_str(got, sizeof got, t->ndim, t->shape);
        gh_err_set(err, GH_EINVAL, "tensor %s has shape %s; the config implies %s", name, got,
                   want);
        return NULL;
    }
    return t;
}

/* The mapped pages of a tensor we copied are not read again: give them back so the copy does
 * not count twice in RSS (the file stays mapped; only whole pages inside the tensor go). */
static void release_pages(const struct gh_clip_model *m, const struct gh_st_tensor *t)
{
    uintptr_t lo = (uintptr_t)t->data, hi = lo + t->nbytes, pg = (uintptr_t)m->page;

    if (!m->st->map || pg == 0)
        return;
    lo = (lo + pg - 1) / pg * pg;
    hi = hi / pg * pg;
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Weight copies are hundreds of MB written once at load: in 2 MB pages that is a few hundred
 * page faults instead of ~120,000 (most of the copy's cost), and fewer TLB misses when the
 * GEMMs stream them. Only a hint: without transparent huge pages nothing changes. */
static void advise_huge(void *p, size_t bytes)
{
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1),
              hi = ((uintptr_t)p + bytes) & ~(huge - 1);

    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

static float *own(struct gh_clip_model *m, size_t n, struct gh_err *err)
{
    float *p;

    if (m->n_owned == m->owned_cap) {
        size_t cap = m->owned_cap ? 2 * m->owned_cap : 64;
        float **grown = gh_realloc(m->owned, cap * sizeof *grown);
        if (!grown) {
            gh_err_set(err, GH_ENOMEM, "out of memory loading the CLIP weights");
            return NULL;
        }
        m->owned = grown;
        m->owned_cap = cap;
    }
    p = gh_malloc_array(n ? n : 1, sizeof *p);
    if (!p) {
        gh_err_set(err, GH_ENOMEM, "out of memory loading the CLIP weights (%zu floats)", n);
        return NULL;
    }
    m->owned[m->n_owned++] = p;
    advise_huge(p, n * sizeof *p);
    return p;
}

/* Widens (or copies) a checked tensor into dst. */
static int load_into(struct gh_clip_model *m, const char *name, int ndim, const int64_t *shape,
                     float *dst, struct gh_err *err)
{
    const struct gh_st_tensor *t = find_checked(m, name, ndim, shape, err);

    if (!t)
        return GH_EINVAL;
    gh_st_to_f32(t->dtype, t->data, n_elems(ndim, shape), dst);
    release_pages(m, t);
    return GH_OK;
}

/* F32 tensors aligned for float loads are used in place from the mapping; others are widened
 * into an owned buffer once. */
static int load(struct gh_clip_model *m, const char *name, int ndim, const int64_t *shape,
                const float **out, struct gh_err *err)
{
    const struct gh_st_tensor *t = find_checked(m, name, ndim, shape, err);
    float *dst;

    if (!t)
        return GH_EINVAL;
    if (t->dtype == GH_ST_F32 && (uintptr_t)t->data % _Alignof(float) == 0) {
        *out = (const float *)(const void *)t->data;
        return GH_OK;
    }
    if (!(dst = own(m, n_elems(ndim, shape), err)))
        return GH_ENOMEM;
    gh_st_to_f32(t->dtype, t->data, n_elems(ndim, shape), dst);
    release_pages(m, t);
    *out = dst;
    return GH_OK;
}

static int load_name(struct gh_clip_model *m, const char *prefix, int layer, const char *suffix,
                     int ndim, const int64_t *shape, const float **out, struct gh_err *err)
{
    char name[160];

    if (layer >= 0)
        snprintf(name, sizeof name, "%s.encoder.layers.%d.%s", prefix, layer, suffix);
    else
        snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    return load(m, name, ndim, shape, out, err);
}

/* Packs an [out, in] weight (widened when F16/BF16, quantised for int8) into output channels
 * o0.. of w, and releases its mapped pages: the packed copy is what the kernels read, so the
 * file's pages would only count twice in RSS. */
struct pack_job {
    struct gh_kern_w *w;
    const float *rows;
    int o0, nb, wmax;
};

static void job_pack(void *arg, int t, int nt)
{
    struct pack_job *j = arg;
    int lo, hi;

    gh_kern_split(j->nb, GH_KERN_NR, t, nt, &lo, &hi); /* whole panels per thread (o0 % 32 == 0) */
    if (lo < hi)
        gh_kern_pack(j->w, j->rows + (size_t)lo * (size_t)j->w->k, j->o0 + lo, hi - lo, j->wmax);
}

/* gh_kern_pack over the pool: loading is a pass over every weight, as parallel as a GEMM. */
static void pack_parallel(struct gh_clip_model *m, struct gh_kern_w *w, const float *rows, int o0,
                          int nb)
{
    struct pack_job j = {w, rows, o0, nb, m->ops->i8_wmax};

    if (o0 % GH_KERN_NR != 0) { /* qkv's k and v blocks when H is no multiple of 32: serial */
        gh_kern_pack(w, rows, o0, nb, m->ops->i8_wmax);
        return;
    }
    gh_kern_pool_run(m->pool, job_pack, &j);
}

static int pack_tensor(struct gh_clip_model *m, const struct gh_st_tensor *t, int64_t out,
                       int64_t in, struct gh_kern_w *w, int o0, struct gh_err *err)
{
    enum { BLOCK = 64 }; /* source rows widened at a time */
    size_t esz, n_in = (size_t)in;
    float *rows;

    if (t->dtype == GH_ST_F32 && (uintptr_t)t->data % _Alignof(float) == 0) {
        pack_parallel(m, w, (const float *)(const void *)t->data, o0, (int)out);
        release_pages(m, t);
        return GH_OK;
    }
    esz = t->nbytes / ((size_t)out * n_in);
    rows = gh_malloc_array((size_t)BLOCK * n_in, sizeof *rows);
    if (!rows)
        return gh_err_set(err, GH_ENOMEM, "out of memory loading the CLIP weights");
    for (int64_t r0 = 0; r0 < out; r0 += BLOCK) {
        int nb = (int)(out - r0 < BLOCK ? out - r0 : BLOCK);

        gh_st_to_f32(t->dtype, t->data + (size_t)r0 * n_in * esz, (size_t)nb * n_in, rows);
        pack_parallel(m, w, rows, o0 + (int)r0, nb);
    }
    gh_free(rows);
    release_pages(m, t);
    return GH_OK;
}

static int load_packed(struct gh_clip_model *m, const char *name, int64_t out, int64_t in,
                       struct gh_kern_w *w, int o0, struct gh_err *err)
{
    int64_t shape[2] = {out, in};
    const struct gh_st_tensor *t = find_checked(m, name, 2, shape, err);

    return t ? pack_tensor(m, t, out, in, w, o0, err) : GH_EINVAL;
}

/* A layer's [out, in] weight into a fresh packed w of the model's precision. */
static int load_layer_w(struct gh_clip_model *m, const char *prefix, int layer, const char *suffix,
                        int64_t out, int64_t in, struct gh_kern_w *w, struct gh_err *err)
{
    char name[160];
    int rc;

    if ((rc = gh_kern_w_init(w, m->prec, (int)in, (int)out, err)) != GH_OK)
        return rc;
    snprintf(name, sizeof name, "%s.encoder.layers.%d.%s", prefix, layer, suffix);
    return load_packed(m, name, out, in, w, 0, err);
}

/* q, k and v projections fused into one [H, 3H] weight (and [3H] bias): one GEMM instead of
 * three, and attention reads them as column blocks of one [rows, 3H] result. */
static int load_qkv(struct gh_clip_model *m, const char *prefix, int layer, int64_t hidden,
                    struct layer_w *L, struct gh_err *err)
{
    static const char *const names[3] = {"q_proj", "k_proj", "v_proj"};
    int64_t bshape[1] = {hidden};
    float *b = own(m, 3 * (size_t)hidden, err);
    char name[160];
    int rc;

    if (!b)
        return GH_ENOMEM;
    if (!m->qmap &&
        (rc = gh_kern_w_init(&L->qkv, m->prec, (int)hidden, 3 * (int)hidden, err)) != GH_OK)
        return rc;
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s.encoder.layers.%d.self_attn.%s.weight", prefix, layer,
                 names[i]);
        if (!m->qmap &&
            (rc = load_packed(m, name, hidden, hidden, &L->qkv, i * (int)hidden, err)) != GH_OK)
            return rc;
        snprintf(name, sizeof name, "%s.encoder.layers.%d.self_attn.%s.bias", prefix, layer,
                 names[i]);
        if ((rc = load_into(m, name, 1, bshape, b + (size_t)i * (size_t)hidden, err)) != GH_OK)
            return rc;
    }
    L->qkv_b = b;
    return GH_OK;
}

static int load_layer(struct gh_clip_model *m, const char *prefix, int i,
                      const struct gh_clip_tower *c, struct layer_w *L, struct gh_err *err)
{
    int64_t h = c->hidden, in = c->intermediate;
    int64_t vh[1] = {h}, vi[1] = {in};
    const struct {
        const char *suffix;
        int ndim;
        const int64_t *shape;
        const float **out;
    } t[] = {
        {"layer_norm1.weight", 1, vh, &L->ln1_g},    {"layer_norm1.bias", 1, vh, &L->ln1_b},
        {"self_attn.out_proj.bias", 1, vh, &L->o_b}, {"layer_norm2.weight", 1, vh, &L->ln2_g},
        {"layer_norm2.bias", 1, vh, &L->ln2_b},      {"mlp.fc1.bias", 1, vi, &L->fc1_b},
        {"mlp.fc2.bias", 1, vh, &L->fc2_b},
    };
    int rc = load_qkv(m, prefix, i, h, L, err);

    if (rc == GH_OK && !m->qmap) /* else mapped from the packed file already (map_packed) */
        rc = load_layer_w(m, prefix, i, "self_attn.out_proj.weight", h, h, &L->o, err);
    if (rc == GH_OK && !m->qmap)
        rc = load_layer_w(m, prefix, i, "mlp.fc1.weight", in, h, &L->fc1, err);
    if (rc == GH_OK && !m->qmap)
        rc = load_layer_w(m, prefix, i, "mlp.fc2.weight", h, in, &L->fc2, err);

    for (size_t k = 0; rc == GH_OK && k < sizeof t / sizeof t[0]; k++)
        rc = load_name(m, prefix, i, t[k].suffix, t[k].ndim, t[k].shape, t[k].out, err);
    return rc;
}

static int alloc_layers(const struct gh_clip_tower *c, struct tower_w *tw, struct gh_err *err)
{
    tw->cfg = c;
    tw->layers = gh_malloc_array((size_t)c->layers, sizeof *tw->layers);
    if (!tw->layers)
        return gh_err_set(err, GH_ENOMEM, "out of memory loading the CLIP weights");
    memset(tw->layers, 0, (size_t)c->layers * sizeof *tw->layers);
    return GH_OK;
}

/* The layers' packed weights in the int8 file's order: text then vision, per layer qkv, o, fc1,
 * fc2; with shapes set (gh_kern_w_shape) when shape is non-zero. Returns the count. */
static int layer_weights(struct gh_clip_model *m, struct gh_kern_w **out, int shape)
{
    int n = 0;

    for (int t = 0; t < 2; t++) {
        struct tower_w *tw = t ? &m->vision : &m->text;
        int h = tw->cfg->hidden, in = tw->cfg->intermediate;
        for (int i = 0; i < tw->cfg->layers; i++) {
            struct layer_w *L = &tw->layers[i];
            if (shape) {
                gh_kern_w_shape(&L->qkv, m->prec, h, 3 * h);
                gh_kern_w_shape(&L->o, m->prec, h, h);
                gh_kern_w_shape(&L->fc1, m->prec, h, in);
                gh_kern_w_shape(&L->fc2, m->prec, in, h);
            }
            out[n++] = &L->qkv;
            out[n++] = &L->o;
            out[n++] = &L->fc1;
            out[n++] = &L->fc2;
        }
    }
    return n;
}

/* The layers' weights from the model's packed file for this precision when one made for this
 * model (and for int8 these kernels) is there (gymhelper model quantize): mapped, not packed, so
 * loading reads none of the safetensors layer weights. Another file is left alone. */
static int map_packed(struct gh_clip_model *m, struct gh_err *err)
{
    size_t n_max = 4 * ((size_t)m->cfg.text.layers + (size_t)m->cfg.vision.layers), used;
    struct gh_kern_w **ws = gh_malloc_array(n_max, sizeof *ws);
    int n, rc;

    if (!ws)
        return gh_err_set(err, GH_ENOMEM, "out of memory loading the CLIP weights");
    n = layer_weights(m, ws, 1);
    rc = gh_qfile_map(m->qpath, m->digest, m->ops->i8_wmax, ws, n, &m->qmap, err);
    if (rc == GH_ENOTFOUND || rc == GH_EMISMATCH) {
        for (int i = 0; i < n; i++)
            memset(ws[i], 0, sizeof *ws[i]); /* packed at load instead */
        rc = GH_OK;
    }
    gh_free(ws);
    used = strlen(m->kernels);
    if (rc == GH_OK)
        snprintf(m->kernels + used, sizeof m->kernels - used, "; %s weights %s%s",
                 gh_clip_precision_name(m->precision),
                 m->qmap                 ? "mapped from "
                 : m->prec == GH_KERN_I8 ? "quantised at load"
                                         : "packed at load",
                 m->qmap ? gh_qfile_name(m->prec) : "");
    return rc;
}

int gh_clip_save_packed(struct gh_clip_model *m, char *path, size_t cap, struct gh_err *err)
{
    size_t n_max = 4 * ((size_t)m->cfg.text.layers + (size_t)m->cfg.vision.layers);
    struct gh_kern_w **ws = gh_malloc_array(n_max, sizeof *ws);
    int n, rc;

    if (!ws)
        return gh_err_set(err, GH_ENOMEM, "out of memory");
    n = layer_weights(m, ws, 0);
    rc = gh_qfile_write(m->qpath, m->digest, m->ops->i8_wmax, (const struct gh_kern_w *const *)ws,
                        n, err);
    gh_free(ws);
    if (rc == GH_OK && path && cap)
        snprintf(path, cap, "%s", m->qpath);
    return rc;
}

static int load_tower(struct gh_clip_model *m, const char *prefix, const struct gh_clip_tower *c,
                      struct tower_w *tw, struct gh_err *err)
{
    int rc = GH_OK;

    for (int i = 0; rc == GH_OK && i < c->layers; i++)
        rc = load_layer(m, prefix, i, c, &tw->layers[i], err);
    return rc;
}

/* The projections stay f32 whatever the layers' precision (the embedding's last rounding). */
static int load_f32_w(struct gh_clip_model *m, const char *name, int64_t out, int64_t in,
                      struct gh_kern_w *w, struct gh_err *err)
{
    int rc = gh_kern_w_init(w, GH_KERN_F32, (int)in, (int)out, err);

    return rc == GH_OK ? load_packed(m, name, out, in, w, 0, err) : rc;
}

/* The patch convolution [H, 3, p, p] is an [H, 3 p p] weight over im2col rows; f32, as the
 * first layer sees raw pixels. */
static int load_patch(struct gh_clip_model *m, const int64_t *shape, struct gh_err *err)
{
    const char *name = "vision_model.embeddings.patch_embedding.weight";
    const struct gh_st_tensor *t = find_checked(m, name, 4, shape, err);
    int64_t in = shape[1] * shape[2] * shape[3];
    int rc;

    if (!t)
        return GH_EINVAL;
    if ((rc = gh_kern_w_init(&m->patch, GH_KERN_F32, (int)in, (int)shape[0], err)) != GH_OK)
        return rc;
    return pack_tensor(m, t, shape[0], in, &m->patch, 0, err); /* same bytes as [H, 3 p p] */
}

static int load_weights(struct gh_clip_model *m, struct gh_err *err)
{
    const struct gh_clip_config *c = &m->cfg;
    int64_t ht = c->text.hidden, hv = c->vision.hidden, p = c->patch_size;
    int64_t emb[2] = {c->vocab_size, ht}, tpos[2] = {c->max_positions, ht};
    int64_t vpos[2] = {(int64_t)m->grid * m->grid + 1, hv}, vht[1] = {ht}, vhv[1] = {hv};
    int64_t patch[4] = {hv, 3, p, p}, vproj[2] = {c->projection_dim, hv};
    int64_t tproj[2] = {c->projection_dim, ht};
    const float *scale = NULL;
    float s;
    int rc;

    if ((rc = alloc_layers(&c->text, &m->text, err)) != GH_OK ||
        (rc = alloc_layers(&c->vision, &m->vision, err)) != GH_OK ||
        (rc = map_packed(m, err)) != GH_OK ||
        (rc = load_tower(m, "text_model", &c->text, &m->text, err)) != GH_OK ||
        (rc = load_tower(m, "vision_model", &c->vision, &m->vision, err)) != GH_OK)
        return rc;
    if ((rc = load(m, "text_model.embeddings.token_embedding.weight", 2, emb, &m->tok_emb, err)) ||
        (rc = load(m, "text_model.embeddings.position_embedding.weight", 2, tpos, &m->text.pos,
                   err)) ||
        (rc = load(m, "text_model.final_layer_norm.weight", 1, vht, &m->text.post_g, err)) ||
        (rc = load(m, "text_model.final_layer_norm.bias", 1, vht, &m->text.post_b, err)) ||
        (rc = load_f32_w(m, "text_projection.weight", tproj[0], tproj[1], &m->text.proj, err)) ||
        (rc = load(m, "vision_model.embeddings.class_embedding", 1, vhv, &m->cls, err)) ||
        (rc = load_patch(m, patch, err)) ||
        (rc = load(m, "vision_model.embeddings.position_embedding.weight", 2, vpos, &m->vision.pos,
                   err)) ||
        (rc = load(m, "vision_model.pre_layrnorm.weight", 1, vhv, &m->pre_g, err)) ||
        (rc = load(m, "vision_model.pre_layrnorm.bias", 1, vhv, &m->pre_b, err)) ||
        (rc = load(m, "vision_model.post_layernorm.weight", 1, vhv, &m->vision.post_g, err)) ||
        (rc = load(m, "vision_model.post_layernorm.bias", 1, vhv, &m->vision.post_b, err)) ||
        (rc =
             load_f32_w(m, "visual_projection.weight", vproj[0], vproj[1], &m->vision.proj, err)) ||
        (rc = load(m, "logit_scale", 0, NULL, &scale, err)))
        return rc;
    s = expf(scale[0]);
    if (!isfinite(s))
        return gh_err_set(err, GH_EINVAL, "tensor logit_scale (%g) is not a usable log scale",
                          (double)scale[0]);
    m->logit_scale = s;
    return GH_OK;
}

/* ---- loading: files, buffers ---- */

static int join(char *out, size_t cap, const char *dir, const char *file, struct gh_err *err)
{
    int n = snprintf(out, cap, "%s/%s", dir, file);

    if (n < 0 || (size_t)n >= cap)
        return gh_err_set(err, GH_EINVAL, "model directory path is too long: %s", dir);
    return GH_OK;
}

/* Names the file in a message from a reader that does not (so "cannot open" says which). A
 * message that names the file bare ("config.json: ...", as the config parser, which sees only
 * text, writes) gets the path in its place rather than both. */
static int in_file(int rc, const char *path, struct gh_err *err)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t bl = strlen(base);
    char msg[GH_ERR_MSG_CAP + 2]; /* ": " and the whole message */

    if (rc == GH_OK || !err || strstr(err->msg, path))
        return rc;
    if (strncmp(err->msg, base, bl) == 0 && (err->msg[bl] == ':' || err->msg[bl] == ' '))
        snprintf(msg, sizeof msg, "%s", err->msg + bl);
    else
        snprintf(msg, sizeof msg, ": %s", err->msg);
    gh_err_clear(err);
    return gh_err_set(err, rc, "%s%s", path, msg);
}

static int check_config(const struct gh_clip_config *c, struct gh_err *err)
{
    const struct gh_clip_tower *t[2] = {&c->text, &c->vision};

    for (int i = 0; i < 2; i++)
        if (t[i]->heads <= 0 || t[i]->hidden <= 0 || t[i]->hidden % t[i]->heads != 0 ||
            t[i]->intermediate <= 0 || t[i]->layers <= 0)
            return gh_err_set(err, GH_EINVAL, "the %s tower has unusable sizes",
                              i ? "vision" : "text");
    if (c->patch_size <= 0 || c->patch_size > c->image_size || c->max_positions < 2 ||
        c->vocab_size <= 0 || c->projection_dim <= 0)
        return gh_err_set(err, GH_EINVAL, "unusable image, patch or text sizes");
    return GH_OK;
}

static int digest(struct gh_clip_model *m, const uint8_t *cfg, size_t cfg_len, struct gh_err *err)
{
    uint8_t d[GH_SHA256_LEN], *buf = gh_malloc(cfg_len + m->st->header_len + 1);
    int rc;

    if (!buf)
        return gh_err_set(err, GH_ENOMEM, "out of memory hashing the CLIP model");
    memcpy(buf, cfg, cfg_len);
    memcpy(buf + cfg_len, m->st->header, m->st->header_len);
    rc = gh_sha256(buf, cfg_len + m->st->header_len, d, err);
    gh_free(buf);
    if (rc == GH_OK)
        gh_sha256_to_hex(d, m->digest);
    return rc;
}

static float *buffer(size_t a, size_t b, struct gh_err *err)
{
    float *p = gh_malloc_array(a ? a : 1, b * sizeof(float));

    if (!p)
        gh_err_set(err, GH_ENOMEM, "out of memory for the CLIP work buffers");
    return p;
}

/* Every work buffer, sized once for max_batch images or one full text context. */
static int alloc_buffers(struct gh_clip_model *m, struct gh_err *err)
{
    const struct gh_clip_config *c = &m->cfg;
    size_t hm = (size_t)(c->text.hidden > c->vision.hidden ? c->text.hidden : c->vision.hidden);
    size_t im = (size_t)(c->text.intermediate > c->vision.intermediate ? c->text.intermediate
                                                                       : c->vision.intermediate);
    size_t rows = (size_t)m->max_batch * (size_t)m->n_vis_tok, tmax;

    if (rows < (size_t)m->ctx)
        rows = (size_t)m->ctx;
    if (rows > INT_MAX / 4)
        return gh_err_set(err, GH_EINVAL, "config.json: too many image tokens per batch");
    m->rows = (int)rows;
    tmax = (size_t)(m->n_vis_tok > m->ctx ? m->n_vis_tok : m->ctx);
    /* texts have >= 2 tokens, so a pass holds at most rows / 2 of them */
    m->max_seqs = m->max_batch > m->rows / 2 ? m->max_batch : m->rows / 2;
    if (!(m->x = buffer(rows, hm, err)) || !(m->h = buffer(rows, hm, err)) ||
        !(m->attn = buffer(rows, hm, err)) || !(m->qkv = buffer(rows, 3 * hm, err)) ||
        !(m->mlp = buffer(rows, im, err)) ||
        !(m->patches = buffer((size_t)(m->max_batch < PATCH_GROUP ? m->max_batch : PATCH_GROUP) *
                                  (size_t)m->n_vis_tok,
                              3 * (size_t)c->patch_size * (size_t)c->patch_size, err)) ||
        !(m->pooled = buffer((size_t)m->max_seqs, hm, err)))
        return GH_ENOMEM;
    m->ids = gh_malloc_array(rows, sizeof *m->ids);
    m->seq_start = gh_malloc_array((size_t)m->max_seqs, sizeof *m->seq_start);
    m->seq_len = gh_malloc_array((size_t)m->max_seqs, sizeof *m->seq_len);
    m->pool_row = gh_malloc_array((size_t)m->max_seqs, sizeof *m->pool_row);
    if (!m->ids || !m->seq_start || !m->seq_len || !m->pool_row)
        return gh_err_set(err, GH_ENOMEM, "out of memory for the CLIP work buffers");
    /* bf16/int8 activations: the widest GEMM input is the MLP's (padded to whole groups) */
    m->act = gh_malloc(gh_kern_act_bytes(m->prec, (int)rows, (int)im + 4) + 64);
    m->ascale = gh_malloc_array(rows, sizeof *m->ascale);
    m->batch_px =
        buffer((size_t)m->max_batch, 3 * (size_t)c->image_size * (size_t)c->image_size, err);
    m->batch_out = buffer((size_t)m->max_batch, (size_t)c->projection_dim, err);
    if (!m->batch_px || !m->batch_out)
        return GH_ENOMEM;
    m->ws = gh_malloc_array((size_t)m->n_threads, sizeof *m->ws);
    /* zeroed before anything can fail: gh_clip_free walks m->ws whenever it is set */
    if (m->ws)
        memset(m->ws, 0, (size_t)m->n_threads * sizeof *m->ws);
    if (!m->act || !m->ascale || !m->ws)
        return gh_err_set(err, GH_ENOMEM, "out of memory for the CLIP work buffers");
    for (int t = 0; t < m->n_threads; t++) {
        struct attn_ws *w = &m->ws[t];
        int rc;
        /* K^T: [d, T] and V: [T, d] for d up to the widest head, T the longest sequence */
        if ((rc = gh_kern_w_init(&w->kt, GH_KERN_F32, (int)hm, (int)tmax, err)) != GH_OK ||
            (rc = gh_kern_w_init(&w->v, GH_KERN_F32, (int)tmax, (int)hm, err)) != GH_OK)
            return rc;
        if (!(w->scores = buffer(tmax, tmax, err)))
            return GH_ENOMEM;
    }
    return GH_OK;
}

static int load_files(struct gh_clip_model *m, const char *dir, struct gh_err *err)
{
    char path[PATH_MAX], merges[PATH_MAX];
    uint8_t *cfg = NULL;
    size_t cfg_len = 0;
    int rc;

    if ((rc = join(path, sizeof path, dir, "config.json", err)) != GH_OK ||
        (rc = in_file(gh_file_read(path, CONFIG_MAX_BYTES, &cfg, &cfg_len, err), path, err)))
        return rc;
    if ((rc = in_file(gh_clip_config_parse((const char *)cfg, cfg_len, &m->cfg, err), path, err)) !=
            GH_OK ||
        (rc = in_file(check_config(&m->cfg, err), path, err)) != GH_OK ||
        (rc = join(path, sizeof path, dir, "model.safetensors", err)) != GH_OK ||
        (rc = in_file(gh_st_open(path, &m->st, err), path, err)) != GH_OK ||
        (rc = digest(m, cfg, cfg_len, err)) != GH_OK ||
        (rc = join(m->qpath, sizeof m->qpath, dir, gh_qfile_name(m->prec), err)) != GH_OK ||
        (rc = join(path, sizeof path, dir, "vocab.json", err)) != GH_OK ||
        (rc = join(merges, sizeof merges, dir, "merges.txt", err)) != GH_OK ||
        (rc = gh_clip_tokenizer_load(path, merges, &m->tok, err)) != GH_OK) /* names the file */
        goto out;
    if (gh_clip_tokenizer_eot(m->tok) >= m->cfg.vocab_size ||
        gh_clip_tokenizer_sot(m->tok) >= m->cfg.vocab_size || gh_clip_tokenizer_eot(m->tok) < 0)
        rc = gh_err_set(err, GH_EINVAL,
                        "vocab.json has ids beyond the config's vocab_size %d (end token %d)",
                        m->cfg.vocab_size, (int)gh_clip_tokenizer_eot(m->tok));
out:
    gh_free(cfg);
    return rc;
}

/* The precision asked for, on the kernel set chosen: auto is int8 wherever the set has a SIMD
 * int8 kernel (VNNI, or AVX2's), which holds the accuracy bound (tests/clip/test_precision.py),
 * else f32. bf16 needs AVX512-BF16 (or the reference loops, for tests). */
static int choose_precision(struct gh_clip_model *m, enum gh_clip_precision want,
                            struct gh_err *err)
{
    const struct gh_kern_ops *o = m->ops;

    if (want == GH_CLIP_PRECISION_AUTO)
        want = o != &gh_kern_ref_ops ? GH_CLIP_PRECISION_INT8 : GH_CLIP_PRECISION_F32;
    if (want == GH_CLIP_PRECISION_BF16 && !o->bf16)
        return gh_err_set(err, GH_EINVAL,
                          "CLIP precision bf16 needs AVX512-BF16 kernels, which the %s set lacks "
                          "(this CPU has: %s); use f32, int8 or auto",
                          o->isa, gh_kern_cpu_line());
    m->precision = want;
    m->prec = want == GH_CLIP_PRECISION_INT8   ? GH_KERN_I8
              : want == GH_CLIP_PRECISION_BF16 ? GH_KERN_BF16
                                               : GH_KERN_F32;
    snprintf(m->kernels, sizeof m->kernels,
             "%s on %d threads: layers %s (%s); patch embedding, attention, projections f32 (%s)",
             o->isa, m->n_threads, gh_clip_precision_name(want),
             m->prec == GH_KERN_I8     ? o->i8_name
             : m->prec == GH_KERN_BF16 ? o->bf16_name
                                       : o->f32_name,
             o->f32_name);
    return GH_OK;
}

/* Threads: the engine's pool is the only parallelism (GEMMs split by output panels, element-wise
 * ops and attention heads by rows and heads); the mutex serialises forward passes, so several
 * HTTP workers calling at once take turns over the shared work buffers instead of
 * oversubscribing the cores. */
int gh_clip_load(const char *dir, const struct gh_clip_load_opts *opts, struct gh_clip_model **out,
                 struct gh_err *err)
{
    struct gh_clip_model *m;
    int threads = opts ? opts->threads : 0, max_batch = opts ? opts->max_batch : 0, rc;
    enum gh_clip_precision want = opts ? opts->precision : GH_CLIP_PRECISION_F32;

    *out = NULL;
    if (threads < 0 || max_batch < 0 || max_batch > MAX_BATCH_LIMIT)
        return gh_err_set(err, GH_EINVAL, "CLIP load options: threads %d, max_batch %d (1..%d)",
                          threads, max_batch, MAX_BATCH_LIMIT);
    if ((int)want < GH_CLIP_PRECISION_F32 || want > GH_CLIP_PRECISION_AUTO)
        return gh_err_set(err, GH_EINVAL, "CLIP load options: unknown precision %d", (int)want);
    if (!(m = gh_malloc(sizeof *m)))
        return gh_err_set(err, GH_ENOMEM, "out of memory loading the CLIP model");
    memset(m, 0, sizeof *m);
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        gh_free(m);
        return gh_err_set(err, GH_EBACKEND, "cannot create the CLIP model's lock");
    }
    pthread_mutex_init(&m->qlock, NULL);
    pthread_cond_init(&m->qdone, NULL);
    m->batch_wait_ms = opts && opts->batch_wait_ms > 0 ? opts->batch_wait_ms : 0;
    m->page = sysconf(_SC_PAGESIZE);
    m->max_batch = max_batch ? max_batch : 8;
    if (threads == 0)
        threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    m->n_threads = threads > 0 ? threads : 1;
    if ((rc = gh_kern_select(opts ? opts->isa : NULL, &m->ops, err)) != GH_OK ||
        (rc = choose_precision(m, want, err)) != GH_OK ||
        (rc = gh_kern_pool_new(m->n_threads, &m->pool, err)) != GH_OK ||
        (rc = load_files(m, dir, err)) != GH_OK)
        goto out;
    m->grid = m->cfg.image_size / m->cfg.patch_size;
    m->n_vis_tok = m->grid * m->grid + 1;
    m->ctx = m->cfg.max_positions < GH_CLIP_CONTEXT ? m->cfg.max_positions : GH_CLIP_CONTEXT;
    if ((rc = load_weights(m, err)) != GH_OK || (rc = alloc_buffers(m, err)) != GH_OK)
        goto out;
    *out = m;
out:
    if (rc != GH_OK)
        gh_clip_free(m);
    return rc;
}

void gh_clip_free(struct gh_clip_model *m)
{
    if (!m)
        return;
    gh_kern_pool_free(m->pool);
    for (size_t i = 0; i < m->n_owned; i++)
        gh_free(m->owned[i]);
    gh_free(m->owned);
    for (int t = 0; t < 2; t++) {
        struct tower_w *tw = t ? &m->vision : &m->text;
        for (int i = 0; tw->layers && i < tw->cfg->layers; i++) {
            gh_kern_w_fini(&tw->layers[i].qkv);
            gh_kern_w_fini(&tw->layers[i].o);
            gh_kern_w_fini(&tw->layers[i].fc1);
            gh_kern_w_fini(&tw->layers[i].fc2);
        }
        gh_kern_w_fini(&tw->proj);
        gh_free(tw->layers);
    }
    gh_kern_w_fini(&m->patch);
    gh_qfile_close(m->qmap); /* after the layers' weights that pointed into it */
    for (int t = 0; m->ws && t < m->n_threads; t++) {
        gh_kern_w_fini(&m->ws[t].kt);
        gh_kern_w_fini(&m->ws[t].v);
        gh_free(m->ws[t].scores);
    }
    gh_free(m->ws);
    gh_free(m->act);
    gh_free(m->ascale);
    gh_free(m->x);
    gh_free(m->h);
    gh_free(m->attn);
    gh_free(m->qkv);
    gh_free(m->mlp);
    gh_free(m->patches);
    gh_free(m->pooled);
    gh_free(m->ids);
    gh_free(m->seq_start);
    gh_free(m->seq_len);
    gh_free(m->pool_row);
    gh_clip_tokenizer_free(m->tok);
    gh_st_close(m->st);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->qlock);
    pthread_cond_destroy(&m->qdone);
    gh_free(m->batch_px);
    gh_free(m->batch_out);
    gh_free(m);
}

const struct gh_clip_config *gh_clip_model_config(const struct gh_clip_model *m)
{
    return &m->cfg;
}

const struct gh_clip_tokenizer *gh_clip_model_tokenizer(const struct gh_clip_model *m)
{
    return m->tok;
}

float gh_clip_logit_scale(const struct gh_clip_model *m)
{
    return m->logit_scale;
}

const char *gh_clip_model_digest(const struct gh_clip_model *m)
{
    return m->digest;
}

enum gh_clip_precision gh_clip_model_precision(const struct gh_clip_model *m)
{
    return m->precision;
}

const char *gh_clip_model_isa(const struct gh_clip_model *m)
{
    return m->ops->isa;
}

const char *gh_clip_model_kernels(const struct gh_clip_model *m)
{
    return m->kernels;
}

const char *gh_clip_cpu_line(void)
{
    return gh_kern_cpu_line();
}

static const char *const precision_names[] = {"f32", "bf16", "int8", "auto"};

const char *gh_clip_precision_name(enum gh_clip_precision p)
{
    return (unsigned)p < 4 ? precision_names[p] : "?";
}

int gh_clip_precision_parse(const char *s, enum gh_clip_precision *out, struct gh_err *err)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, precision_names[i]) == 0) {
            *out = (enum gh_clip_precision)i;
            return GH_OK;
        }
    return gh_err_set(err, GH_EINVAL,
                      "CLIP precision \"%.40s\" is unknown (f32, bf16, int8 or auto)", s ? s : "");
}

/* ---- forward passes ---- */

/* The pool's jobs. One struct for all: each job reads what it needs. */
struct job {
    struct gh_clip_model *m;
    struct gh_kern_gemm g;
    gh_kern_gemm_fn fn;
    gh_kern_prep_fn prep;
    /* layer norm, activation; next: the GEMM that reads y, whose bf16/int8 activations the
     * job prepares from its rows of y while they are in cache (NULL: none, or f32) */
    const float *x, *gain, *bias;
    float *y;
    int rows, n;
    double eps;
    enum gh_clip_act act;
    int gemm_act; /* job_gemm: apply act to its part of y */
    const struct gh_kern_w *next;
    /* patch embedding: images [b0, b0 + nb) of pixels */
    const float *pixels;
    int b0, nb;
    /* attention */
    const struct gh_clip_tower *c;
    int n_seq, causal, last;
};

static void job_prep(void *arg, int t, int nt)
{
    struct job *j = arg;
    int lo, hi;

    gh_kern_split(j->g.rows, 1, t, nt, &lo, &hi);
    j->prep(j->g.x, j->g.w->k, j->g.w->kp, lo, hi, (void *)j->g.act.data, (float *)j->g.act.scale);
}

/* Prepares rows [lo, hi) of y [., w->k] as the activations of a GEMM with w. */
static void prep_rows(struct gh_clip_model *m, const struct gh_kern_w *w, const float *y, int lo,
                      int hi)
{
    gh_kern_prep_fn prep = w->prec == GH_KERN_I8 ? m->ops->prep_i8 : m->ops->prep_bf16;

    prep(y, w->k, w->kp, lo, hi, m->act, m->ascale);
}

static void job_gemm(void *arg, int t, int nt)
{
    struct job *j = arg;
    int lo, hi;

    gh_kern_split(j->g.w->n_panels, 1, t, nt, &lo, &hi);
    if (lo >= hi)
        return;
    j->fn(&j->g, lo, hi);
    if (!j->gemm_act)
        return;
    /* the activation on this part's columns, still in cache: one pool run less per layer */
    int c0 = lo * GH_KERN_NR, c1 = hi * GH_KERN_NR < j->g.w->n ? hi * GH_KERN_NR : j->g.w->n;
    for (int r = 0; r < j->g.rows; r++)
        gh_clip_activate(j->g.y + (size_t)r * (size_t)j->g.ldy + (size_t)c0, (size_t)(c1 - c0),
                         j->act);
}

/* y[rows, w->n] (+)= x[rows, w->k] W + b on the pool: activations prepared (bf16, int8) split by
 * rows unless prepared (the producer of x made them), then the GEMM split by output panels, with
 * *act applied to y after it (act NULL: none). */
static void linear_act(struct gh_clip_model *m, const struct gh_kern_w *w, const float *x, int rows,
                       const float *b, float *y, int acc, int prepared, const enum gh_clip_act *act)
{
    struct job j = {.m = m, .act = act ? *act : GH_CLIP_QUICK_GELU, .gemm_act = act != NULL};

    j.g = (struct gh_kern_gemm){.x = x,
                                .ldx = w->k,
                                .rows = rows,
                                .w = w,
                                .b = b,
                                .y = y,
                                .ldy = w->n,
                                .acc = acc,
                                .act = {m->act, m->ascale}};
    j.fn = w->prec == GH_KERN_I8     ? m->ops->i8
           : w->prec == GH_KERN_BF16 ? m->ops->bf16
                                     : m->ops->f32;
    j.prep = w->prec == GH_KERN_I8 ? m->ops->prep_i8 : m->ops->prep_bf16;
    if (w->prec != GH_KERN_F32 && !prepared)
        gh_kern_pool_run(m->pool, job_prep, &j);
    gh_kern_pool_run(m->pool, job_gemm, &j);
}

static void linear(struct gh_clip_model *m, const struct gh_kern_w *w, const float *x, int rows,
                   const float *b, float *y, int acc)
{
    linear_act(m, w, x, rows, b, y, acc, 0, NULL);
}

/* Whether a producer prepares w's activations (bf16, int8 weights). */
static const struct gh_kern_w *quantised(const struct gh_kern_w *w)
{
    return w->prec == GH_KERN_F32 ? NULL : w;
}

static void job_layernorm(void *arg, int t, int nt)
{
    struct job *j = arg;
    int lo, hi;

    gh_kern_split(j->rows, 1, t, nt, &lo, &hi);
    gh_clip_layernorm(j->x + (size_t)lo * (size_t)j->n, hi - lo, j->n, j->gain, j->bias, j->eps,
                      j->y + (size_t)lo * (size_t)j->n);
    if (j->next && lo < hi)
        prep_rows(j->m, j->next, j->y, lo, hi);
}

/* y = layer norm of x; with next (bf16, int8), also next's activations from y. */
static void layernorm(struct gh_clip_model *m, const float *x, int rows, int n, const float *g,
                      const float *b, double eps, float *y, const struct gh_kern_w *next)
{
    struct job j = {.m = m,
                    .x = x,
                    .rows = rows,
                    .n = n,
                    .gain = g,
                    .bias = b,
                    .eps = eps,
                    .y = y,
                    .next = next};

    gh_kern_pool_run(m->pool, job_layernorm, &j);
}

static void job_activate(void *arg, int t, int nt)
{
    struct job *j = arg;
    int lo, hi;

    gh_kern_split(j->rows, 1, t, nt, &lo, &hi);
    gh_clip_activate(j->y + (size_t)lo * (size_t)j->n, (size_t)(hi - lo) * (size_t)j->n, j->act);
    if (j->next && lo < hi)
        prep_rows(j->m, j->next, j->y, lo, hi);
}

/* Softmax of row[0..len) in place, zeroing row[len..n) (the causally masked keys); scale: the
 * 1 / sqrt(d) on q k^T (HF scales q first: the same product). */
static void softmax_row(float *row, int len, int n, float scale)
{
    float mx, sum = 0;

    for (int j = 0; j < len; j++)
        row[j] *= scale;
    mx = row[0];
    for (int j = 1; j < len; j++)
        mx = row[j] > mx ? row[j] : mx;
    for (int j = 0; j < len; j++)
        row[j] -= mx;
    gh_clip_vexp(row, (size_t)len);
    for (int j = 0; j < len; j++)
        sum += row[j];
    float inv = 1.0f / sum;
    for (int j = 0; j < len; j++)
        row[j] *= inv;
    for (int j = len; j < n; j++)
        row[j] = 0;
}

/* One head of one sequence: scores [n_q, n] = q_h k_h^T, softmax, out_h = scores v_h, with k_h^T
 * and v_h packed into this thread's scratch and the f32 kernel doing both products. q, k, v are
 * column blocks of qkv [n, 3H]; out_h a column block of out [n_q, H]. */
static void attend(const struct gh_clip_model *m, struct attn_ws *ws, const float *qkv, int n,
                   int hidden, int d, int hh, int causal, int q_first, int n_q, float *out)
{
    size_t ld = 3 * (size_t)hidden;
    const float *q = qkv + (size_t)q_first * ld + (size_t)(hh * d);
    struct gh_kern_gemm g = {
        .x = q, .ldx = (int)ld, .rows = n_q, .w = &ws->kt, .y = ws->scores, .ldy = n};

    gh_kern_w_reshape(&ws->kt, d, n);
    gh_kern_pack_strided(&ws->kt, qkv + (size_t)(hidden + hh * d), ld, 0, n);
    m->ops->f32(&g, 0, ws->kt.n_panels);
    for (int i = 0; i < n_q; i++)
        softmax_row(ws->scores + (size_t)i * (size_t)n, causal ? q_first + i + 1 : n, n,
                    1.0f / sqrtf((float)d));
    gh_kern_w_reshape(&ws->v, n, d);
    gh_kern_pack_kn(&ws->v, qkv + (size_t)(2 * hidden + hh * d), ld);
    g = (struct gh_kern_gemm){.x = ws->scores,
                              .ldx = n,
                              .rows = n_q,
                              .w = &ws->v,
                              .y = out + (size_t)(hh * d),
                              .ldy = hidden};
    m->ops->f32(&g, 0, ws->v.n_panels);
}

/* Every (sequence, head) pair, split over the pool; the last block's queries are the pooled
 * rows only, written to rows 0..n_seq-1 of m->attn. */
static void job_attention(void *arg, int t, int nt)
{
    struct job *j = arg;
    struct gh_clip_model *m = j->m;
    int h = j->c->hidden, heads = j->c->heads, d = h / heads, lo, hi;

    gh_kern_split(j->n_seq * heads, 1, t, nt, &lo, &hi);
    for (int i = lo; i < hi; i++) {
        int s = i / heads, hh = i % heads, len = m->seq_len[s];
        const float *qkv = m->qkv + (size_t)m->seq_start[s] * 3 * (size_t)h;
        if (!j->last)
            attend(m, &m->ws[t], qkv, len, h, d, hh, j->causal, 0, len,
                   m->attn + (size_t)m->seq_start[s] * (size_t)h);
        else
            attend(m, &m->ws[t], qkv, len, h, d, hh, j->causal, m->pool_row[s] - m->seq_start[s], 1,
                   m->attn + (size_t)s * (size_t)h);
    }
}

/* One pre-norm block over all rows of m->x (n_seq sequences stacked): x += attn(ln1(x));
 * x += mlp(ln2(x)). Every GEMM sees all rows at once; only attention goes sequence by sequence.
 * last: the tower's last block, whose output only the pooled rows (m->pool_row) are read from:
 * every key and value is still needed, but the rest (a quarter of the block's query, output
 * and MLP work per row) runs on those rows alone, gathered into rows 0..n_seq-1 of m->x. */
static void block(struct gh_clip_model *m, const struct gh_clip_tower *c, const struct layer_w *L,
                  int rows, int n_seq, int causal, int last)
{
    int h = c->hidden, in = c->intermediate, n_out = last ? n_seq : rows;
    struct job j = {.m = m, .c = c, .n_seq = n_seq, .causal = causal, .last = last};

    layernorm(m, m->x, rows, h, L->ln1_g, L->ln1_b, c->eps, m->h, quantised(&L->qkv));
    linear_act(m, &L->qkv, m->h, rows, L->qkv_b, m->qkv, 0, 1, NULL); /* [rows, 3h] */
    gh_kern_pool_run(m->pool, job_attention, &j);
    if (last)
        for (int s = 0; s < n_seq; s++) /* pool_row[s] >= s, increasing: none overwritten early */
            memmove(m->x + (size_t)s * (size_t)h, m->x + (size_t)m->pool_row[s] * (size_t)h,
                    (size_t)h * sizeof *m->x);
    linear(m, &L->o, m->attn, n_out, L->o_b, m->x, 1);
    layernorm(m, m->x, n_out, h, L->ln2_g, L->ln2_b, c->eps, m->h, quantised(&L->fc1));
    /* [n_out, in]: f32 applies the activation in the GEMM's run; bf16/int8 in a run by rows
     * that prepares fc2's activations too */
    linear_act(m, &L->fc1, m->h, n_out, L->fc1_b, m->mlp, 0, 1,
               quantised(&L->fc2) ? NULL : &c->act);
    if (quantised(&L->fc2)) {
        j = (struct job){
            .m = m, .y = m->mlp, .rows = n_out, .n = in, .act = c->act, .next = &L->fc2};
        gh_kern_pool_run(m->pool, job_activate, &j);
    }
    linear_act(m, &L->fc2, m->mlp, n_out, L->fc2_b, m->x, 1, quantised(&L->fc2) != NULL, NULL);
}

/* The pooled rows (rows 0..n_seq-1 of m->x after the last block): layer norm, projection, L2
 * normalisation into out. */
static int project(struct gh_clip_model *m, const struct tower_w *tw, int n_seq, float *out,
                   struct gh_err *err)
{
    int h = tw->cfg->hidden, d = m->cfg.projection_dim;

    layernorm(m, m->x, n_seq, h, tw->post_g, tw->post_b, tw->cfg->eps, m->pooled, NULL);
    linear(m, &tw->proj, m->pooled, n_seq, NULL, out, 0);
    for (int s = 0; s < n_seq; s++) {
        float *e = out + (size_t)s * (size_t)d;
        gh_clip_l2_normalize(e, d);
        for (int i = 0; i < d; i++)
            if (!isfinite(e[i]))
                return gh_err_set(err, GH_EINVAL,
                                  "the forward pass gave a non-finite embedding (NaN or Inf "
                                  "in the weights or the input)");
    }
    return GH_OK;
}

/* One row of a patch-embedding group: x row = position (+ class embedding on the class row),
 * patches row = that token's patch as the conv weight [H, 3, p, p] is laid out, (channel, y, x),
 * zeros for the class row (the GEMM then adds nothing to it). Stride p, no padding: a remainder
 * past grid * p is ignored, as torch's Conv2d does. */
static void embed_row(const struct gh_clip_model *m, const float *img, int tok, float *x,
                      float *patch)
{
    int h = m->cfg.vision.hidden, p = m->cfg.patch_size, size = m->cfg.image_size;
    size_t plane = (size_t)size * (size_t)size, pp = (size_t)p * (size_t)p;

    memcpy(x, m->vision.pos + (size_t)tok * (size_t)h, (size_t)h * sizeof *x);
    if (tok == 0) {
        for (int j = 0; j < h; j++)
            x[j] += m->cls[j];
        memset(patch, 0, 3 * pp * sizeof *patch);
        return;
    }
    int gy = (tok - 1) / m->grid, gx = (tok - 1) % m->grid;
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < p; y++)
            memcpy(patch + (size_t)ch * pp + (size_t)y * (size_t)p,
                   img + (size_t)ch * plane + (size_t)(gy * p + y) * (size_t)size +
                       (size_t)(gx * p),
                   (size_t)p * sizeof *patch);
}

/* Rows of images [b0, b0 + nb) (t tokens each) split over the pool. */
static void job_embed(void *arg, int t, int nt)
{
    struct job *j = arg;
    struct gh_clip_model *m = j->m;
    size_t img = 3 * (size_t)m->cfg.image_size * (size_t)m->cfg.image_size,
           cols = 3 * (size_t)m->cfg.patch_size * (size_t)m->cfg.patch_size;
    int tok = m->n_vis_tok, lo, hi;

    gh_kern_split(j->nb * tok, 1, t, nt, &lo, &hi);
    for (int r = lo; r < hi; r++) {
        int b = j->b0 + r / tok;
        embed_row(m, j->pixels + (size_t)b * img, r % tok,
                  m->x +
                      ((size_t)b * (size_t)tok + (size_t)(r % tok)) * (size_t)m->cfg.vision.hidden,
                  m->patches + (size_t)r * cols);
    }
}

static int vision_pass(struct gh_clip_model *m, const float *pixels, int nb, float *out,
                       struct gh_err *err)
{
    const struct gh_clip_tower *c = &m->cfg.vision;
    int h = c->hidden, t = m->n_vis_tok;

    /* [cls | patches] + positions: positions first, then the conv as one GEMM per group of
     * images (class rows included, as zero patches) accumulates into them */
    for (int b0 = 0; b0 < nb; b0 += PATCH_GROUP) {
        struct job j = {.m = m, .pixels = pixels, .b0 = b0, .nb = nb - b0};
        if (j.nb > PATCH_GROUP)
            j.nb = PATCH_GROUP;
        gh_kern_pool_run(m->pool, job_embed, &j);
        linear(m, &m->patch, m->patches, j.nb * t, NULL, m->x + (size_t)b0 * (size_t)t * (size_t)h,
               1);
    }
    for (int b = 0; b < nb; b++) {
        m->seq_start[b] = b * t;
        m->seq_len[b] = t;
        m->pool_row[b] = b * t; /* the class token */
    }
    layernorm(m, m->x, nb * t, h, m->pre_g, m->pre_b, c->eps, m->x, NULL);
    for (int l = 0; l < c->layers; l++)
        block(m, c, &m->vision.layers[l], nb * t, nb, 0, l == c->layers - 1);
    return project(m, &m->vision, nb, out, err);
}

/* gh_clip_batch_stats: process-wide, as Prometheus counters are. */
static _Atomic uint64_t n_passes, n_images, n_calls;

void gh_clip_batch_stats(struct gh_clip_batch_stats *out)
{
    out->passes = atomic_load_explicit(&n_passes, memory_order_relaxed);
    out->images = atomic_load_explicit(&n_images, memory_order_relaxed);
    out->calls = atomic_load_explicit(&n_calls, memory_order_relaxed);
}

/* Batching: callers queue their images; whoever finds no pass running leads: it gathers up to
 * max_batch queued images (its own and others', oldest first, splitting a large request across
 * passes), runs one pass on copies of them, hands each caller its rows and wakes them, and leads
 * again while its own images are not all done. A lone caller starts at once; a leader that
 * already has company waits up to batch_wait_ms for more to fill the pass. Each caller returns
 * as soon as the pass holding its last image ends. */
static size_t gather(struct gh_clip_model *m, struct img_req **from, size_t *first, size_t *cnt,
                     int *n_from)
{
    size_t img = 3 * (size_t)m->cfg.image_size * (size_t)m->cfg.image_size, used = 0;
    int k = 0;

    while (m->queue && used < (size_t)m->max_batch) {
        struct img_req *r = m->queue;
        size_t take = r->n - r->taken;
        if (take > (size_t)m->max_batch - used)
            take = (size_t)m->max_batch - used;
        memcpy(m->batch_px + used * img, r->pixels + r->taken * img, take * img * sizeof(float));
        from[k] = r;
        first[k] = r->taken;
        cnt[k++] = take;
        r->taken += take;
        used += take;
        if (r->taken == r->n)
            m->queue = r->next;
    }
    *n_from = k;
    return used;
}

static int queued_images(const struct gh_clip_model *m)
{
    size_t n = 0;
    for (const struct img_req *r = m->queue; r; r = r->next)
        n += r->n - r->taken;
    return n > (size_t)m->max_batch ? m->max_batch : (int)n;
}

static void wait_for_company(struct gh_clip_model *m)
{
    struct timespec until;

    if (m->batch_wait_ms <= 0 || !m->queue || !m->queue->next)
        return; /* alone: never wait */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)m->batch_wait_ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    while (queued_images(m) < m->max_batch &&
           pthread_cond_timedwait(&m->qdone, &m->qlock, &until) == 0)
        ;
}

/* Runs one gathered pass (qlock held on entry and exit, released around the pass). */
static void lead_pass(struct gh_clip_model *m)
{
    struct img_req *from[MAX_BATCH_LIMIT];
    size_t first[MAX_BATCH_LIMIT], cnt[MAX_BATCH_LIMIT], d = (size_t)m->cfg.projection_dim, used;
    struct gh_err err = {0};
    int k, rc;

    wait_for_company(m);
    used = gather(m, from, first, cnt, &k);
    atomic_fetch_add_explicit(&n_passes, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_images, used, memory_order_relaxed);
    pthread_mutex_unlock(&m->qlock);
    pthread_mutex_lock(&m->lock);
    rc = vision_pass(m, m->batch_px, (int)used, m->batch_out, &err);
    pthread_mutex_unlock(&m->lock);
    pthread_mutex_lock(&m->qlock);
    for (int i = 0, row = 0; i < k; row += (int)cnt[i], i++) {
        struct img_req *r = from[i];
        memcpy(r->out + first[i] * d, m->batch_out + (size_t)row * d, cnt[i] * d * sizeof(float));
        if (rc != GH_OK && r->rc == GH_OK) {
            r->rc = rc;
            r->err = err;
        }
        r->finished += cnt[i];
    }
    m->leading = 0;
    pthread_cond_broadcast(&m->qdone);
}

int gh_clip_embed_images(struct gh_clip_model *m, const float *pixels, size_t n, float *out,
                         struct gh_err *err)
{
    struct img_req req = {.pixels = pixels, .out = out, .n = n}, **tail;

    if (n == 0)
        return GH_OK;
    atomic_fetch_add_explicit(&n_calls, 1, memory_order_relaxed);
    pthread_mutex_lock(&m->qlock);
    for (tail = &m->queue; *tail; tail = &(*tail)->next)
        ;
    *tail = &req;
    pthread_cond_broadcast(&m->qdone); /* a leader waiting for company counts us */
    while (req.finished < req.n) {
        if (!m->leading && req.taken < req.n) {
            m->leading = 1;
            lead_pass(m);
        } else {
            pthread_cond_wait(&m->qdone, &m->qlock);
        }
    }
    pthread_mutex_unlock(&m->qlock);
    if (req.rc != GH_OK && err)
        *err = req.err;
    return req.rc;
}

/* Tokenizes texts from *next while a full context still fits in the rows, filling ids,
 * seq_start and seq_len; returns the number of sequences (>= 1) or a negative code. */
static int tokenize_batch(struct gh_clip_model *m, const char *const *texts, size_t n, size_t next,
                          int *used_rows, struct gh_err *err)
{
    int used = 0, s = 0;
    size_t k;

    while (next < n && s < m->max_seqs && used + m->ctx <= m->rows) {
        int rc = gh_clip_tokenize(m->tok, texts[next], m->ids + used, (size_t)m->ctx, &k, err);
        if (rc != GH_OK)
            return rc;
        for (size_t j = 0; j < k; j++)
            if (m->ids[used + (int)j] < 0 || m->ids[used + (int)j] >= m->cfg.vocab_size)
                return gh_err_set(err, GH_EINVAL, "token id %d is beyond the vocab_size %d",
                                  (int)m->ids[used + (int)j], m->cfg.vocab_size);
        m->seq_start[s] = used;
        m->seq_len[s++] = (int)k;
        used += (int)k;
        next++;
    }
    *used_rows = used;
    return s;
}

static int text_pass(struct gh_clip_model *m, int n_seq, int rows, float *out, struct gh_err *err)
{
    const struct gh_clip_tower *c = &m->cfg.text;
    int h = c->hidden, eot = (int)gh_clip_tokenizer_eot(m->tok);

    for (int r = 0, s = 0; r < rows; r++) {
        if (s + 1 < n_seq && r == m->seq_start[s + 1])
            s++;
        const float *e = m->tok_emb + (size_t)m->ids[r] * (size_t)h;
        const float *pe = m->text.pos + (size_t)(r - m->seq_start[s]) * (size_t)h;
        float *xr = m->x + (size_t)r * (size_t)h;
        for (int j = 0; j < h; j++)
            xr[j] = e[j] + pe[j];
    }
    /* Pooled at the first end-of-text token (HF: argmax of the ids, the same for CLIP's
     * vocabulary where <|endoftext|> has the highest id). */
    for (int s = 0; s < n_seq; s++) {
        int at = m->seq_start[s] + m->seq_len[s] - 1;
        for (int j = m->seq_start[s]; j < at; j++)
            if (m->ids[j] == eot) {
                at = j;
                break;
            }
        m->pool_row[s] = at;
    }
    for (int l = 0; l < c->layers; l++)
        block(m, c, &m->text.layers[l], rows, n_seq, 1, l == c->layers - 1);
    return project(m, &m->text, n_seq, out, err);
}

int gh_clip_embed_texts(struct gh_clip_model *m, const char *const *texts, size_t n, float *out,
                        struct gh_err *err)
{
    size_t d = (size_t)m->cfg.projection_dim, done = 0;
    int rc = GH_OK;

    pthread_mutex_lock(&m->lock);
    while (rc == GH_OK && done < n) {
        int rows = 0, n_seq = tokenize_batch(m, texts, n, done, &rows, err);
        if (n_seq < 0) {
            rc = n_seq;
            break;
        }
        rc = text_pass(m, n_seq, rows, out + done * d, err);
        done += (size_t)n_seq;
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}
