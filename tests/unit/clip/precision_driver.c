/* SPDX-License-Identifier: MIT */
/* Test driver for tests/clip/test_precision.py: the same photos through one checkpoint in
 * several precisions and kernel sets, with zero-shot top-1 over the catalogue's prompts.
 *   clip_precision_driver DIR PHOTO_LIST CONFIG...
 * PHOTO_LIST: one image path a line. CONFIG: PRECISION[@ISA] (f32, int8@avx2, bf16, ...); the
 * first config's model also embeds the catalogue prompts once: the class vectors are keyed by
 * the model, not the precision (as the provider's text-embedding cache is), so every config is
 * classified against the same vectors and only the image tower differs. Each photo is decoded
 * and preprocessed once. Prints one JSON object per config:
 *   {"config", "kernels", "load_ms", "top1": [slug or negative class per photo],
 *    "margin": [log(p1 / p2) of the top-1 over the runner-up, per photo],
 *    "emb": [[projection_dim floats] per photo]}
 * A config this CPU cannot run prints {"config", "skip": "<why>"}. */
#include "gh/alloc.h"
#include "gh/catalogue.h"
#include "gh/clip.h"
#include "gh/file.h"
#include "gh/zeroshot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Reads the list and preprocesses every photo into *pixels ([n, 3, S, S]). */
static int read_photos(const char *list, int size, float **pixels, size_t *n, struct gh_err *err)
{
    size_t px = 3 * (size_t)size * (size_t)size, cap = 0, len = 0;
    uint8_t *raw = NULL, *text = NULL, *img = NULL;
    char *line, *next;
    int rc;

    *pixels = NULL;
    *n = 0;
    if ((rc = gh_file_read(list, (size_t)1 << 24, &raw, &len, err)) != GH_OK)
        return rc;
    text = gh_malloc(len + 1); /* the bytes with a terminating NUL */
    if (text) {
        memcpy(text, raw, len);
        text[len] = '\0';
    }
    gh_free(raw);
    if (!text)
        return gh_err_set(err, GH_ENOMEM, "out of memory");
    for (line = (char *)text; rc == GH_OK && line && *line; line = next) {
        size_t img_len = 0;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!*line)
            continue;
        if (*n == cap) {
            float *grown = gh_realloc(*pixels, (cap = cap ? 2 * cap : 64) * px * sizeof(float));
            if (!grown) {
                rc = gh_err_set(err, GH_ENOMEM, "out of memory for the photos");
                break;
            }
            *pixels = grown;
        }
        rc = gh_file_read(line, (size_t)64 << 20, &img, &img_len, err);
        if (rc == GH_OK)
            rc = gh_clip_preprocess(img, img_len, size, *pixels + *n * px, err);
        if (rc == GH_OK)
            (*n)++;
        else
            fprintf(stderr, "clip_precision_driver: %s: %s\n", line, err->msg);
        gh_free(img);
        img = NULL;
    }
    gh_free(text);
    return rc;
}

/* Top-1 over every class (equipment and negatives), and its margin: log(p1 / p2), the logit
 * gap to the runner-up among the two best equipment classes and the best negative one. */
static const char *classify(const struct gh_zeroshot *zs, const float *e, double *margin)
{
    struct gh_zeroshot_result r;
    double p[3];

    if (gh_zeroshot_classify(zs, e, 2, &r, NULL) != GH_OK || r.n_top < 2)
        return "?";
    p[0] = r.top[0].p;
    p[1] = r.top[1].p;
    p[2] = r.negative_p;
    if (margin) /* best / second best of the three */
        *margin = p[2] > p[0] ? log(p[2] / p[0]) : log(p[0] / (p[1] > p[2] ? p[1] : p[2]));
    return p[0] >= p[2] ? r.top[0].slug : r.negative;
}

static void print_config(const char *config, const struct gh_clip_model *m, double load_ms,
                         const struct gh_zeroshot *zs, const float *emb, size_t n)
{
    int d = gh_clip_model_config(m)->projection_dim;

    printf("{\"config\":\"%s\",\"kernels\":\"%s\",\"load_ms\":%.1f,\"top1\":[", config,
           gh_clip_model_kernels(m), load_ms);
    for (size_t i = 0; i < n; i++)
        printf("%s\"%s\"", i ? "," : "", classify(zs, emb + i * (size_t)d, NULL));
    printf("],\"margin\":[");
    for (size_t i = 0; i < n; i++) {
        double margin = 0;
        (void)classify(zs, emb + i * (size_t)d, &margin);
        printf("%s%.6g", i ? "," : "", margin);
    }
    printf("],\"emb\":[");
    for (size_t i = 0; i < n; i++) {
        printf("%s[", i ? "," : "");
        for (int j = 0; j < d; j++)
            printf("%s%.8g", j ? "," : "", (double)emb[i * (size_t)d + (size_t)j]);
        putchar(']');
    }
    printf("]}\n");
    fflush(stdout);
}

/* The run's inputs, filled by the first config that loads (its sizes decide the pixels). */
struct run {
    const char *dir, *list;
    const struct gh_catalogue *cat;
    struct gh_zeroshot *zs;
    float *pixels, *emb;
    size_t n;
};

static int first_load(struct run *r, struct gh_clip_model *m, struct gh_err *err)
{
    struct gh_zeroshot_opts zo = {.cache_dir = ""};
    int d = gh_clip_model_config(m)->projection_dim, rc;

    if ((rc = read_photos(r->list, gh_clip_model_config(m)->image_size, &r->pixels, &r->n, err)) !=
        GH_OK)
        return rc;
    if (!(r->emb = gh_malloc_array(r->n + 1, (size_t)d * sizeof *r->emb)))
        return gh_err_set(err, GH_ENOMEM, "out of memory");
    return gh_zeroshot_new(m, r->cat, &zo, &r->zs, err);
}

/* One config: load, embed, print. 1: this CPU lacks it. */
static int run_config(struct run *r, char *config, struct gh_err *err)
{
    struct gh_clip_load_opts opts = {.threads = 0, .max_batch = 8};
    struct gh_clip_model *m = NULL;
    char *at = strchr(config, '@');
    double t0, load_ms;
    int rc;

    if (at)
        *at = '\0';
    opts.isa = at ? at + 1 : NULL;
    if ((rc = gh_clip_precision_parse(config, &opts.precision, err)) != GH_OK)
        return rc;
    t0 = now_ms();
    rc = gh_clip_load(r->dir, &opts, &m, err);
    load_ms = now_ms() - t0;
    if (at)
        *at = '@';
    if (rc != GH_OK && (strstr(err->msg, "cannot run on this CPU") || strstr(err->msg, "needs"))) {
        printf("{\"config\":\"%s\",\"skip\":\"%s\"}\n", config, err->msg);
        gh_err_clear(err);
        return 1;
    }
    if (rc == GH_OK && !r->zs)
        rc = first_load(r, m, err);
    if (rc == GH_OK)
        rc = gh_clip_embed_images(m, r->pixels, r->n, r->emb, err);
    if (rc == GH_OK)
        print_config(config, m, load_ms, r->zs, r->emb, r->n);
    gh_clip_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    struct gh_err err = {0};
    struct gh_catalogue *cat = NULL;
    struct run r = {0};
    int rc;

    if (argc < 4) {
        fprintf(stderr, "usage: clip_precision_driver DIR PHOTO_LIST CONFIG...\n");
        return 2;
    }
    r.dir = argv[1];
    r.list = argv[2];
    if ((rc = gh_catalogue_load_embedded(&cat, &err)) != GH_OK)
        goto out;
    r.cat = cat;
    for (int i = 3; i < argc; i++)
        if ((rc = run_config(&r, argv[i], &err)) < 0)
            goto out;
    rc = GH_OK;
out:
    if (rc != GH_OK)
        fprintf(stderr, "clip_precision_driver: %s\n", err.msg[0] ? err.msg : "failed");
    gh_zeroshot_free(r.zs);
    gh_catalogue_free(cat);
    gh_free(r.pixels);
    gh_free(r.emb);
    return rc == GH_OK ? 0 : 1;
}
