/* SPDX-License-Identifier: MIT */
/* The "clip" provider: zero-shot CLIP over the catalogue on this machine (no upload, no bill).
 * Under "auto" it may hold a remote provider to escalate to when CLIP is unsure. A model that
 * is missing or broken leaves the provider not ready, so the service still starts and says
 * what to run. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/clip.h"
#include "gh/log.h"
#include "gh/models.h"
#include "gh/recognition.h"
#include "gh/zeroshot.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct clip_provider {
    struct gh_provider base;
    struct gh_clip_model *model; /* NULL: not ready, why says so */
    struct gh_zeroshot *zs;
    struct gh_provider *fallback;
    const struct gh_catalogue *cat;
    double escalate_below;
    double shadow_rate;
    atomic_uint_least64_t draws; /* the shadow sampler's counter */
    int image_size, dim;
    char model_name[GH_MODELS_NAME_CAP];
    char why[GH_ERR_MSG_CAP];
};

static const char no_model_why[] =
    "no CLIP model is pulled: run `gymhelper model pull` (or set CLIP_MODEL to a checkpoint "
    "directory)";

static const char *equipment_name(const struct clip_provider *p, const char *slug)
{
    const struct gh_equipment *q = slug ? gh_catalogue_find(p->cat, slug) : NULL;

    return q ? q->name : slug ? slug : "";
}

/* The zero-shot result as a provider answer; the pipeline turns a low probability into "not
 * sure" with the alternatives as candidates. */
static void fill(const struct gh_zeroshot_result *r, struct gh_provider_result *out)
{
    out->confidence = r->n_top > 0 ? r->top[0].p : 0;
    if (r->not_gym) {
        /* No candidates: equipment names would read as guesses about a photo of a cat. */
        snprintf(out->note, sizeof out->note,
                 "this does not look like gym equipment (it looks more like %s); try a photo "
                 "of the whole machine in good light",
                 r->negative);
        return;
    }
    snprintf(out->slug, sizeof out->slug, "%s", r->top[0].slug);
    for (int i = 1; i < r->n_top && out->n_alternatives < GH_PROVIDER_MAX_ALTS; i++) {
        struct gh_provider_candidate *c = &out->alternatives[out->n_alternatives++];

        snprintf(c->slug, sizeof c->slug, "%s", r->top[i].slug);
        c->confidence = r->top[i].p;
    }
}

static int embed(struct clip_provider *p, const struct gh_provider_request *req, float *emb,
                 struct gh_err *err)
{
    size_t n_px = 3 * (size_t)p->image_size * (size_t)p->image_size;
    float *px = gh_malloc_array(n_px, sizeof *px);
    int rc;

    if (!px)
        return gh_err_set(err, GH_ENOMEM, "out of memory for the CLIP input");
    rc = gh_clip_preprocess(req->jpeg, req->jpeg_len, p->image_size, px, err);
    if (rc == GH_OK)
        rc = gh_clip_embed_images(p->model, px, 1, emb, err);
    gh_free(px);
    return rc;
}

/* Zero-shot over the catalogue, sharpened by the remembered neighbours the pipeline found. */
static int classify(struct clip_provider *p, const struct gh_provider_request *req,
                    struct gh_zeroshot_result *r, struct gh_err *err)
{
    float *emb = NULL;
    int rc;

    if (!req->embedding) {
        emb = gh_malloc_array((size_t)p->dim, sizeof *emb);
        if (!emb)
            return gh_err_set(err, GH_ENOMEM, "out of memory for the CLIP input");
        rc = embed(p, req, emb, err);
        if (rc)
            goto out;
    }
    rc = gh_zeroshot_classify(p->zs, emb ? emb : req->embedding, 1 + GH_PROVIDER_MAX_ALTS, r, err);
    if (rc == GH_OK && req->n_neighbours > 0)
        gh_vmem_sharpen(p->cat, req->neighbours, req->n_neighbours, GH_VMEM_ALPHA, GH_VMEM_BETA, r);
out:
    gh_free(emb);
    return rc;
}

/* Asks the remote provider instead; its answer goes out, marked as escalated. When that call
 * fails the person still gets CLIP's candidates to pick from, with the reason, and nothing is
 * cached: the same photo a minute later may reach the remote provider. */
static int escalate(struct clip_provider *p, const struct gh_provider_request *req,
                    const struct gh_zeroshot_result *r, struct gh_provider_result *out,
                    struct gh_err *err)
{
    struct gh_provider_result own = *out;
    char why[160];
    int rc;

    if (r->not_gym)
        snprintf(why, sizeof why, "CLIP saw no gym equipment (more like %s)", r->negative);
    else
        snprintf(why, sizeof why, "CLIP was not sure (best guess %s, %.0f%%)",
                 equipment_name(p, own.slug), 100 * own.confidence);
    rc = p->fallback->ops->analyze(p->fallback, req, out, err);
    if (rc) {
        gh_logf(GH_LOG_WARN, "%s; escalating to %s failed: %s", why, p->fallback->name,
                err ? err->msg : "");
        *out = own;
        out->uncacheable = 1;
        snprintf(out->note, sizeof out->note, "%.100s, and asking %.31s failed (%.90s)", why,
                 p->fallback->name, err ? err->msg : "unknown error");
        if (err)
            memset(err, 0, sizeof *err);
        return GH_OK;
    }
    snprintf(out->escalated_from, sizeof out->escalated_from, "clip");
    memcpy(out->clip_slug, own.clip_slug, sizeof out->clip_slug);
    out->clip_confidence = own.clip_confidence;
    if (out->note[0]) {
        char theirs[sizeof out->note];

        memcpy(theirs, out->note, sizeof theirs);
        snprintf(out->note, sizeof out->note, "%.100s, so %.31s was asked: %.100s", why,
                 out->provider, theirs);
    } else {
        snprintf(out->note, sizeof out->note, "%.150s, so %.31s was asked", why, out->provider);
    }
    return GH_OK;
}

/* A uniform draw in [0, 1): splitmix64 of a counter, so threads need no lock or seed. */
static double draw(struct clip_provider *p)
{
    uint64_t z = atomic_fetch_add(&p->draws, 1) * UINT64_C(0x9e3779b97f4a7c15) + 1;

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    return (double)(z >> 11) / (double)(UINT64_C(1) << 53);
}

/* A shadow sample: CLIP's sure answer stands, and the remote model's answer to the same photo
 * is kept beside it so that agreement is measured where CLIP is confident too. A failure only
 * loses the sample. */
static void shadow(struct clip_provider *p, const struct gh_provider_request *req,
                   struct gh_provider_result *out)
{
    struct gh_provider_result paid;
    struct gh_err e = {0};

    if (p->fallback->ops->analyze(p->fallback, req, &paid, &e) != GH_OK) {
        gh_logf(GH_LOG_WARN, "shadow sample from %s failed: %s", p->fallback->name, e.msg);
        return;
    }
    out->shadow = 1;
    snprintf(out->shadow_slug, sizeof out->shadow_slug, "%s", paid.slug);
    snprintf(out->shadow_model, sizeof out->shadow_model, "%s", paid.model);
    out->shadow_prompt_tokens = paid.prompt_tokens;
    out->shadow_completion_tokens = paid.completion_tokens;
}

static int clip_analyze(struct gh_provider *base, const struct gh_provider_request *req,
                        struct gh_provider_result *out, struct gh_err *err)
{
    struct clip_provider *p = (struct clip_provider *)base;
    struct gh_zeroshot_result r;
    int rc;

    memset(out, 0, sizeof *out);
    snprintf(out->provider, sizeof out->provider, "clip");
    snprintf(out->model, sizeof out->model, "%.63s", p->model_name);
    if (!p->model) {
        snprintf(out->note, sizeof out->note, "%.255s", p->why);
        return gh_err_set(err, GH_EUNAVAILABLE, "%s", p->why);
    }
    rc = classify(p, req, &r, err);
    if (rc)
        return rc;
    fill(&r, out);
    snprintf(out->clip_slug, sizeof out->clip_slug, "%s", r.not_gym ? "" : r.top[0].slug);
    out->clip_confidence = out->confidence;
    if (p->fallback && (r.not_gym || out->confidence < p->escalate_below)) {
        if (!req->local_only)
            return escalate(p, req, &r, out, err);
        /* not cached: once the budget allows, the same photo may get the remote answer */
        out->uncacheable = 1;
        snprintf(out->note, sizeof out->note,
                 "CLIP was not sure, and today's budget for %.31s is spent, so CLIP answered "
                 "alone",
                 p->fallback->name);
    }
    if (p->fallback && !req->local_only && !r.not_gym && p->shadow_rate > 0 &&
        draw(p) < p->shadow_rate)
        shadow(p, req, out);
    return GH_OK;
}

static int clip_embedding_space(struct gh_provider *base, const char **model)
{
    struct clip_provider *p = (struct clip_provider *)base;

    if (!p->model)
        return 0;
    *model = gh_clip_model_digest(p->model);
    return p->dim;
}

static int clip_embed(struct gh_provider *base, const struct gh_provider_request *req, float *out,
                      struct gh_err *err)
{
    struct clip_provider *p = (struct clip_provider *)base;

    if (!p->model)
        return gh_err_set(err, GH_EUNAVAILABLE, "%s", p->why);
    return embed(p, req, out, err);
}

static int clip_ready(struct gh_provider *base, char *why, size_t cap)
{
    struct clip_provider *p = (struct clip_provider *)base;

    if (p->model)
        return 1;
    if (why && cap > 0)
        snprintf(why, cap, "%s", p->why);
    return 0;
}

static void clip_free(struct gh_provider *base)
{
    struct clip_provider *p = (struct clip_provider *)base;

    gh_zeroshot_free(p->zs);
    gh_clip_free(p->model);
    gh_provider_free(p->fallback);
    gh_free(p);
}

static const struct gh_provider_ops clip_ops = {
    .analyze = clip_analyze,
    .ready = clip_ready,
    .free = clip_free,
    .embedding_space = clip_embedding_space,
    .embed = clip_embed,
};

/* Loads the model and its classes; on failure leaves p not ready with the reason. */
static void load(struct clip_provider *p, const struct gh_clip_provider_config *cfg)
{
    struct gh_clip_load_opts lo = {.threads = cfg->threads,
                                   .max_batch = cfg->max_batch,
                                   .precision = (enum gh_clip_precision)cfg->precision,
                                   .batch_wait_ms = cfg->batch_wait_ms};
    struct gh_zeroshot_opts zo = {.cache_dir = cfg->cache_dir};
    struct gh_model_ref ref;
    struct gh_err err = {0};
    int rc;

    rc = cfg->model ? gh_models_resolve(cfg->model, &ref, &err) : gh_models_find_default(&ref);
    if (rc) {
        snprintf(p->why, sizeof p->why, "%.255s", cfg->model ? err.msg : no_model_why);
        snprintf(p->model_name, sizeof p->model_name, "%s",
                 cfg->model ? cfg->model : GH_MODELS_DEFAULT_NAME);
        return;
    }
    snprintf(p->model_name, sizeof p->model_name, "%s", ref.name);
    rc = gh_clip_load(ref.dir, &lo, &p->model, &err);
    if (rc == GH_OK) {
        p->image_size = gh_clip_model_config(p->model)->image_size;
        p->dim = gh_clip_model_config(p->model)->projection_dim;
        rc = gh_zeroshot_new(p->model, cfg->cat, &zo, &p->zs, &err);
    }
    if (rc) {
        /* A pulled model can be pulled again; a directory is the operator's to mend. */
        if (gh_models_name_ok(ref.name))
            snprintf(p->why, sizeof p->why,
                     "CLIP model cannot be loaded: %.118s (run `gymhelper model pull %.60s` for a "
                     "fresh copy)",
                     err.msg, ref.name);
        else
            snprintf(p->why, sizeof p->why,
                     "CLIP model in %.60s cannot be loaded: %.110s (fix its files or set "
                     "CLIP_MODEL to another)",
                     ref.dir, err.msg);
        gh_clip_free(p->model);
        p->model = NULL;
        return;
    }
    p->base.kernels = gh_clip_model_kernels(p->model);
    gh_logf(GH_LOG_INFO, "CLIP model %s loaded from %s (%zu equipment classes%s; %s; CPU: %s)",
            ref.name, ref.dir, gh_zeroshot_n_equipment(p->zs),
            gh_zeroshot_from_cache(p->zs) ? ", text embeddings from the cache" : "",
            gh_clip_model_kernels(p->model), gh_clip_cpu_line());
}

int gh_clip_provider_new(const struct gh_clip_provider_config *cfg, struct gh_provider **out,
                         struct gh_err *err)
{
    struct clip_provider *p = gh_malloc(sizeof *p);

    *out = NULL;
    if (!p) {
        gh_provider_free(cfg->fallback);
        return gh_err_set(err, GH_ENOMEM, "out of memory for the CLIP provider");
    }
    memset(p, 0, sizeof *p);
    p->base.ops = &clip_ops;
    p->base.name = "clip";
    p->base.model = p->model_name;
    p->fallback = cfg->fallback;
    p->cat = cfg->cat;
    p->escalate_below = cfg->escalate_below;
    p->shadow_rate = cfg->shadow_rate;
    load(p, cfg); /* not ready: the service logs p->why (ready()), the answers carry it */
    *out = &p->base;
    return GH_OK;
}
