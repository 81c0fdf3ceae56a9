/* SPDX-License-Identifier: MIT */
/* Zero-shot classification over the catalogue (Radford et al. 2021, "Learning Transferable
 * Visual Models From Natural Language Supervision", 3.1.4: prompt ensembling, averaging the
 * normalised text embeddings of several prompts per class). Also the on-disk cache of the class
 * vectors, since embedding ~500 prompts with a full-size model takes a while on a CPU. */
#include "gh/zeroshot.h"

#include "gh/alloc.h"
#include "gh/digest.h"
#include "gh/file.h"
#include "gh/log.h"
#include "gh/models.h"
#include "models_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* "Not gym equipment" classes: what people photograph by mistake, and photos too poor to tell.
 * Each is a class like an equipment type: its prompts are averaged into one vector. */
struct negative {
    const char *label;
    const char *prompts[4];
};

static const struct negative negatives[] = {
    {"a person's face",
     {"a photo of a person's face.", "a selfie.", "a close-up portrait of a person."}},
    {"a pet", {"a photo of a dog.", "a photo of a cat.", "a photo of a pet."}},
    {"food", {"a photo of food.", "a photo of a meal on a plate.", "a photo of a drink."}},
    {"a street or building",
     {"a photo of a street.", "a photo of a city street with cars.", "a photo of a building."}},
    {"a landscape", {"a photo of a landscape.", "a photo of nature.", "a photo of the sky."}},
    {"a screenshot or text",
     {"a screenshot of text.", "a photo of a document.", "a screenshot of a phone screen."}},
    {"a blurry photo", {"a blurry photo.", "an out-of-focus photo.", "a motion-blurred photo."}},
    {"a dark photo", {"a very dark photo.", "a photo taken in the dark.", "a black image."}},
};

#define N_NEGATIVE (sizeof negatives / sizeof negatives[0])

/* Equipment prompt templates: text before and after "<article> <name>". */
struct template
{
    const char *before, *after;
};

static const struct template name_templates[] = {
    {"a photo of ", "."},
    {"a photo of ", ", gym equipment."},
    {"a photo of ", " in a gym."},
};
static const struct template alias_template = {"a photo of ", " in a gym."};
static const struct template plain = {"", ""};

/* ---- the cache file: a 128-byte header, then n_classes * dim little-endian float32 ---- */

#define FILE_MAGIC   "GHTXTEMB"
#define FILE_VERSION 1u
#define HEADER_LEN   128

struct gh_zeroshot {
    int dim;
    size_t n_eq, n_neg;
    float logit_scale;
    float *classes;     /* [n_eq + n_neg][dim], each row unit length */
    const char **slugs; /* n_eq, borrowed from the catalogue */
    int from_cache;
    char cache_path[GH_MODELS_PATH_CAP];
};

/* Where the class vectors come from: the model, or a test's fake. */
typedef int (*embed_fn)(void *ctx, const char *const *texts, size_t n, float *out,
                        struct gh_err *err);

struct zs_source {
    embed_fn embed;
    void *ctx;
    int dim;
    float logit_scale;
    const char *digest; /* identity of the weights, part of the cache key */
};

struct prompts {
    char **text;
    size_t *cls; /* class of each prompt: equipment index, or n_eq + negative index */
    size_t n, cap;
};

static void prompts_fini(struct prompts *p)
{
    for (size_t i = 0; i < p->n; i++)
        gh_free(p->text[i]);
    gh_free(p->text);
    gh_free(p->cls);
    memset(p, 0, sizeof *p);
}

static int prompts_add(struct prompts *p, size_t cls, const struct template *t, const char *art,
                       const char *name)
{
    char buf[1024];
    size_t len;

    if (p->n == p->cap) {
        size_t want = p->cap ? p->cap * 2 : 256;
        char **nt = gh_realloc(p->text, want * sizeof *nt);
        size_t *c;

        if (!nt)
            return GH_ENOMEM;
        p->text = nt;
        c = gh_realloc(p->cls, want * sizeof *c);
        if (!c)
            return GH_ENOMEM;
        p->cls = c;
        p->cap = want;
    }
    /* The tokenizer keeps 77 tokens: a cut at 1 kB is moot. */
    snprintf(buf, sizeof buf, "%s%s%s%s", t->before, art, name, t->after);
    len = strlen(buf);
    p->text[p->n] = gh_malloc(len + 1);
    if (!p->text[p->n])
        return GH_ENOMEM;
    memcpy(p->text[p->n], buf, len + 1);
    p->cls[p->n++] = cls;
    return GH_OK;
}

/* "a " or "an " by the first letter, which is right for our names ("an elliptical", "an EZ
 * curl bar", "a hack squat"). */
static const char *article(const char *word)
{
    return strchr("aeiouAEIOU", word[0]) && word[0] ? "an " : "a ";
}

static int build_prompts(const struct gh_catalogue *cat, struct prompts *p)
{
    size_t n_eq = gh_catalogue_count(cat);
    int rc = GH_OK;

    for (size_t i = 0; rc == GH_OK && i < n_eq; i++) {
        const struct gh_equipment *q = gh_catalogue_at(cat, i);

        for (size_t t = 0; rc == GH_OK && t < sizeof name_templates / sizeof *name_templates; t++)
            rc = prompts_add(p, i, &name_templates[t], article(q->name), q->name);
        for (size_t a = 0; rc == GH_OK && a < q->aliases.n; a++)
            rc = prompts_add(p, i, &alias_template, article(q->aliases.v[a]), q->aliases.v[a]);
        if (rc == GH_OK && q->visual_description && *q->visual_description)
            rc = prompts_add(p, i, &plain, "", q->visual_description);
    }
    for (size_t j = 0; rc == GH_OK && j < N_NEGATIVE; j++)
        for (size_t t = 0; rc == GH_OK && t < 4 && negatives[j].prompts[t]; t++)
            rc = prompts_add(p, n_eq + j, &plain, "", negatives[j].prompts[t]);
    return rc;
}

/* SHA-256 over everything that decides the vectors: format, model, dims, catalogue, prompts. */
static int cache_key(const struct zs_source *src, const struct gh_catalogue *cat,
                     const struct prompts *p, char key[GH_SHA256_HEX_LEN + 1], struct gh_err *err)
{
    uint8_t d[GH_SHA256_LEN];
    char *buf;
    size_t len = 256, off;
    int rc;

    for (size_t i = 0; i < p->n; i++)
        len += strlen(p->text[i]) + 24;
    buf = gh_malloc(len);
    if (!buf)
        return gh_err_set(err, GH_ENOMEM, "out of memory for the text-embedding cache key");
    off = (size_t)snprintf(buf, len, "gymhelper textemb v%u prompts v%d model %s dim %d cat %s\n",
                           FILE_VERSION, GH_ZEROSHOT_PROMPT_VERSION, src->digest, src->dim,
                           gh_catalogue_version(cat));
    for (size_t i = 0; i < p->n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%zu\t%s\n", p->cls[i], p->text[i]);
    rc = gh_sha256((const uint8_t *)buf, off < len ? off : len, d, err);
    gh_free(buf);
    if (rc == GH_OK)
        gh_sha256_to_hex(d, key);
    return rc;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Fills zs->classes from the cache file when it is valid for key; 0 when it is not. */
static int cache_load(struct gh_zeroshot *zs, const char *key)
{
    size_t n_cls = zs->n_eq + zs->n_neg, payload = n_cls * (size_t)zs->dim * 4;
    uint8_t *buf = NULL, d[GH_SHA256_LEN];
    size_t len = 0;
    int ok;

    if (!zs->cache_path[0] || access(zs->cache_path, F_OK) != 0)
        return 0;
    if (gh_file_read(zs->cache_path, HEADER_LEN + payload, &buf, &len, NULL) != GH_OK)
        return 0; /* unreadable or too big: rewritten below */
    ok = len == HEADER_LEN + payload && memcmp(buf, FILE_MAGIC, 8) == 0 &&
         get_u32(buf + 8) == FILE_VERSION && get_u32(buf + 12) == (uint32_t)zs->dim &&
         get_u32(buf + 16) == (uint32_t)n_cls && get_u32(buf + 20) == (uint32_t)zs->n_eq &&
         memcmp(buf + 24, key, 64) == 0 && gh_sha256(buf + HEADER_LEN, payload, d, NULL) == GH_OK &&
         memcmp(buf + 88, d, 32) == 0;
    for (size_t i = 0; ok && i < n_cls * (size_t)zs->dim; i++) {
        uint32_t u = get_u32(buf + HEADER_LEN + 4 * i);
        float f;

        memcpy(&f, &u, sizeof f);
        ok = isfinite(f);
        zs->classes[i] = f;
    }
    gh_free(buf);
    return ok;
}

/* Writes the cache atomically: a reader sees the old file or the whole new one. */
static int cache_store(const struct gh_zeroshot *zs, const char *key, struct gh_err *err)
{
    size_t n_cls = zs->n_eq + zs->n_neg, n = n_cls * (size_t)zs->dim, len = HEADER_LEN + 4 * n;
    char dir[GH_MODELS_PATH_CAP];
    uint8_t *buf = gh_malloc(len), d[GH_SHA256_LEN];
    char *slash;
    int rc;

    if (!buf)
        return gh_err_set(err, GH_ENOMEM, "out of memory writing the text-embedding cache");
    memset(buf, 0, HEADER_LEN);
    memcpy(buf, FILE_MAGIC, 8);
    put_u32(buf + 8, FILE_VERSION);
    put_u32(buf + 12, (uint32_t)zs->dim);
    put_u32(buf + 16, (uint32_t)n_cls);
    put_u32(buf + 20, (uint32_t)zs->n_eq);
    memcpy(buf + 24, key, 64);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;

        memcpy(&u, &zs->classes[i], sizeof u);
        put_u32(buf + HEADER_LEN + 4 * i, u);
    }
    rc = gh_sha256(buf + HEADER_LEN, 4 * n, d, err);
    if (rc)
        goto out;
    memcpy(buf + 88, d, 32);
    snprintf(dir, sizeof dir, "%s", zs->cache_path);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    rc = gh_models_mkdirs(dir, err);
    if (rc == GH_OK)
        rc = gh_models_write_atomic(zs->cache_path, buf, len, err);
out:
    gh_free(buf);
    return rc;
}

/* ---- class vectors ---- */

static void normalise(float *v, int dim)
{
    double s = 0;

    for (int i = 0; i < dim; i++)
        s += (double)v[i] * v[i];
    if (s <= 0)
        return;
    s = 1.0 / sqrt(s);
    for (int i = 0; i < dim; i++)
        v[i] = (float)(v[i] * s);
}

/* classes[c] = normalise(mean over c's prompts of normalise(emb[prompt])). */
static void average(const struct prompts *p, float *emb, int dim, float *classes, size_t n_cls)
{
    memset(classes, 0, n_cls * (size_t)dim * sizeof *classes);
    for (size_t i = 0; i < p->n; i++) {
        float *e = emb + i * (size_t)dim, *c = classes + p->cls[i] * (size_t)dim;

        normalise(e, dim);
        for (int k = 0; k < dim; k++)
            c[k] += e[k];
    }
    for (size_t c = 0; c < n_cls; c++)
        normalise(classes + c * (size_t)dim, dim);
}

static int default_cache_dir(char *out, size_t cap)
{
    char root[GH_MODELS_PATH_CAP];
    char *slash;

    if (gh_models_root(root, sizeof root, NULL) != GH_OK)
        return -1;
    slash = strrchr(root, '/'); /* .../gymhelper/models -> .../gymhelper/textemb */
    if (!slash)
        return -1;
    *slash = '\0';
    return snprintf(out, cap, "%s/textemb", root) < (int)cap ? 0 : -1;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int embed_and_average(struct gh_zeroshot *zs, const struct zs_source *src,
                             const struct prompts *p, struct gh_err *err)
{
    float *emb = gh_malloc_array(p->n, (size_t)zs->dim * sizeof(float));
    double t0 = mono_s();
    int rc;

    if (!emb)
        return gh_err_set(err, GH_ENOMEM, "out of memory embedding %zu prompts", p->n);
    gh_logf(GH_LOG_INFO,
            "CLIP: embedding %zu prompts for %zu equipment types and %zu other classes (once "
            "per model and catalogue)",
            p->n, zs->n_eq, zs->n_neg);
    rc = src->embed(src->ctx, (const char *const *)p->text, p->n, emb, err);
    if (rc == GH_OK) {
        average(p, emb, zs->dim, zs->classes, zs->n_eq + zs->n_neg);
        gh_logf(GH_LOG_INFO, "CLIP: text embeddings ready in %.1f s", mono_s() - t0);
    }
    gh_free(emb);
    return rc;
}

static int zs_build(const struct zs_source *src, const struct gh_catalogue *cat,
                    const char *cache_dir, struct gh_zeroshot **out, struct gh_err *err)
{
    struct gh_zeroshot *zs = gh_malloc(sizeof *zs);
    struct prompts p = {0};
    char key[GH_SHA256_HEX_LEN + 1], dir[GH_MODELS_PATH_CAP];
    struct gh_err werr = {0};
    int rc = GH_ENOMEM;

    *out = NULL;
    if (!zs)
        return gh_err_set(err, GH_ENOMEM, "out of memory for zero-shot classes");
    memset(zs, 0, sizeof *zs);
    zs->dim = src->dim;
    zs->logit_scale = src->logit_scale;
    zs->n_eq = gh_catalogue_count(cat);
    zs->n_neg = N_NEGATIVE;
    zs->slugs = gh_malloc_array(zs->n_eq ? zs->n_eq : 1, sizeof *zs->slugs);
    zs->classes = gh_malloc_array(zs->n_eq + zs->n_neg, (size_t)zs->dim * sizeof(float));
    if (src->dim <= 0 || !zs->slugs || !zs->classes || build_prompts(cat, &p) != GH_OK) {
        rc = gh_err_set(err, src->dim <= 0 ? GH_EINVAL : GH_ENOMEM,
                        "cannot build zero-shot classes (dim %d)", src->dim);
        goto out;
    }
    for (size_t i = 0; i < zs->n_eq; i++)
        zs->slugs[i] = gh_catalogue_at(cat, i)->slug;
    rc = cache_key(src, cat, &p, key, err);
    if (rc)
        goto out;
    if (!cache_dir)
        cache_dir = default_cache_dir(dir, sizeof dir) == 0 ? dir : "";
    if (*cache_dir && snprintf(zs->cache_path, sizeof zs->cache_path, "%s/%s.bin", cache_dir,
                               key) >= (int)sizeof zs->cache_path)
        zs->cache_path[0] = '\0';
    zs->from_cache = cache_load(zs, key);
    if (zs->from_cache)
        goto out;
    rc = embed_and_average(zs, src, &p, err);
    if (rc == GH_OK && zs->cache_path[0] && cache_store(zs, key, &werr) != GH_OK)
        gh_logf(GH_LOG_WARN, "text-embedding cache not written (it is rebuilt next start): %s",
                werr.msg);
out:
    prompts_fini(&p);
    if (rc) {
        gh_zeroshot_free(zs);
        return rc;
    }
    *out = zs;
    return GH_OK;
}

static int embed_with_model(void *ctx, const char *const *texts, size_t n, float *out,
                            struct gh_err *err)
{
    return gh_clip_embed_texts(ctx, texts, n, out, err);
}

int gh_zeroshot_new(struct gh_clip_model *m, const struct gh_catalogue *cat,
                    const struct gh_zeroshot_opts *opts, struct gh_zeroshot **out,
                    struct gh_err *err)
{
    struct zs_source src = {
        .embed = embed_with_model,
        .ctx = m,
        .dim = gh_clip_model_config(m)->projection_dim,
        .logit_scale = gh_clip_logit_scale(m),
        .digest = gh_clip_model_digest(m),
    };

    return zs_build(&src, cat, opts ? opts->cache_dir : NULL, out, err);
}

void gh_zeroshot_free(struct gh_zeroshot *zs)
{
    if (!zs)
        return;
    gh_free(zs->classes);
    gh_free(zs->slugs);
    gh_free(zs);
}

int gh_zeroshot_from_cache(const struct gh_zeroshot *zs)
{
    return zs->from_cache;
}

int gh_zeroshot_dim(const struct gh_zeroshot *zs)
{
    return zs->dim;
}

size_t gh_zeroshot_n_equipment(const struct gh_zeroshot *zs)
{
    return zs->n_eq;
}

size_t gh_zeroshot_n_negative(const struct gh_zeroshot *zs)
{
    return zs->n_neg;
}

const char *gh_zeroshot_cache_path(const struct gh_zeroshot *zs)
{
    return zs->cache_path;
}

/* ---- classification ---- */

static double logit(const struct gh_zeroshot *zs, size_t c, const float *e)
{
    const float *v = zs->classes + c * (size_t)zs->dim;
    double s = 0;

    for (int i = 0; i < zs->dim; i++)
        s += (double)v[i] * e[i];
    return zs->logit_scale * s;
}

int gh_zeroshot_classify(const struct gh_zeroshot *zs, const float *embedding, int k,
                         struct gh_zeroshot_result *out, struct gh_err *err)
{
    double top_l[GH_ZEROSHOT_TOP_MAX], max = -HUGE_VAL, best_neg = -HUGE_VAL, sum = 0, neg = 0;
    size_t n_cls = zs->n_eq + zs->n_neg, top_i[GH_ZEROSHOT_TOP_MAX], neg_i = 0;
    int n_top = 0;

    memset(out, 0, sizeof *out);
    k = k < 1 ? 1 : k > GH_ZEROSHOT_TOP_MAX ? GH_ZEROSHOT_TOP_MAX : k;
    for (int i = 0; i < zs->dim; i++)
        if (!isfinite(embedding[i]))
            return gh_err_set(err, GH_EINVAL, "the image embedding holds NaN or Inf");
    /* Pass 1: the largest logit (for a stable softmax), the k best equipment, the best
     * negative. */
    for (size_t c = 0; c < n_cls; c++) {
        double l = logit(zs, c, embedding);
        int j;

        max = l > max ? l : max;
        if (c >= zs->n_eq) {
            if (l > best_neg) {
                best_neg = l;
                neg_i = c - zs->n_eq;
            }
            continue;
        }
        if (n_top == k && l <= top_l[k - 1])
            continue;
        for (j = n_top < k ? n_top++ : k - 1; j > 0 && top_l[j - 1] < l; j--) {
            top_l[j] = top_l[j - 1];
            top_i[j] = top_i[j - 1];
        }
        top_l[j] = l;
        top_i[j] = c;
    }
    /* Pass 2: the softmax's denominator and the negatives' share. */
    for (size_t c = 0; c < n_cls; c++) {
        double e = exp(logit(zs, c, embedding) - max);

        sum += e;
        if (c >= zs->n_eq)
            neg += e;
    }
    for (int j = 0; j < n_top; j++) {
        out->top[j].slug = zs->slugs[top_i[j]];
        out->top[j].p = exp(top_l[j] - max) / sum;
    }
    out->n_top = n_top;
    if (zs->n_neg > 0) {
        out->negative = negatives[neg_i].label;
        out->negative_p = exp(best_neg - max) / sum;
        out->negative_mass = neg / sum;
    }
    out->not_gym = zs->n_neg > 0 && ((n_top == 0 || best_neg > top_l[0]) ||
                                     out->negative_mass > GH_ZEROSHOT_NEGATIVE_MASS);
    return GH_OK;
}
