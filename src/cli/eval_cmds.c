/* SPDX-License-Identifier: MIT */
/* `gymhelper eval DIR|TSV`: runs one or several provider configurations over labelled photos
 * and writes the Markdown and HTML reports of src/eval. CLIP configurations embed each photo
 * once per precision (worker threads, so the engine batches them) and classify from the
 * embedding; the visual-memory configuration and the few-shot curve remember a deterministic
 * part of each class and are measured on the rest. Remote providers get the provider copy of
 * each photo, as the service sends it. */
#include "cli.h"
#include "config.h"

#include "gh/alloc.h"
#include "gh/eval.h"
#include "gh/file.h"
#include "gh/recognition.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONFIGS 8
#define MAX_PHOTOS  1000000
#define MAX_SHOTS   16 /* the few-shot curve's last point: the pool per class */
#define SPLIT_SEED  1

static const char eval_usage[] =
    "usage: gymhelper eval [--provider NAME [--memory] [--precision P]]... [--out PREFIX]\n"
    "                      [--jobs N] [--no-curve] [SETTINGS] DIR|TSV\n"
    "Measures recognition on labelled photos: DIR holds one sub-folder per catalogue slug, or\n"
    "TSV lists 'path<TAB>label' (a header row naming 'path' and 'label' is recognised; paths\n"
    "are relative to the TSV's folder). Each --provider (clip, openai, llava, auto) starts a\n"
    "configuration; --memory adds the visual memory (16 photos per class remembered, measured\n"
    "on the rest) and --precision f32|bf16|int8|auto sets CLIP's, to the CLIP configuration\n"
    "before them or to a new one. Without any: clip.\n"
    "Writes PREFIX.md and PREFIX.html (default ./eval-report): top-1 and top-3 accuracy,\n"
    "recall per class, the confusion matrix, calibration (ECE, reliability diagram), the\n"
    "\"not sure\" rate, ms per image, estimated cost, and the few-shot curve of the visual\n"
    "memory (0, 1, 2, 4, 8, 16 photos per class; --no-curve skips it). --jobs: photos in\n"
    "flight (default 8). Settings (CLIP_MODEL, OPENAI_BASE_URL, CONFIDENCE_THRESHOLD, ...) as\n"
    "for serve. Exit status 1 when a photo could not be read or a configuration not run.\n";

struct photo {
    char *path;    /* as opened */
    char *name;    /* as listed (relative): the split's key and the messages' name */
    char *label;   /* its slug */
    int truth;     /* class index, once the classes are sorted */
    int skipped;   /* unreadable: left out of every configuration */
    int held_out;  /* the few-shot split: 0 in the memory pool, 1 measured */
    int pool_rank; /* in the pool: its place in its class (0 first) */
};

struct eval_config {
    char provider[16]; /* clip, openai, llava, auto */
    int memory;
    enum gh_clip_precision precision;
    int precision_set;
};

/* Embeddings of every photo for one CLIP precision. */
struct embedded {
    enum gh_clip_precision precision;
    struct gh_provider *prov;
    float *emb; /* [n_photos][dim] */
    unsigned char *ok;
    int dim;
    double wall_ms;
    const char *model_id; /* valid while prov lives */
};

struct eval {
    struct gh_config cfg;
    struct gh_catalogue *cat;
    struct photo *photos;
    size_t n_photos;
    char **classes; /* slugs, sorted */
    const char **names;
    int n_classes;
    struct eval_config configs[MAX_CONFIGS];
    int n_configs;
    struct embedded emb[MAX_CONFIGS];
    int n_emb;
    int jobs, curve;
    const char *out;
    int64_t n_skipped;
};

/* ---- arguments ---- */

/* A new configuration, CLIP until --provider says otherwise. */
static struct eval_config *open_config(struct eval *e)
{
    struct eval_config *c;

    if (e->n_configs == MAX_CONFIGS) {
        fprintf(stderr, "gymhelper: at most %d configurations\n", MAX_CONFIGS);
        return NULL;
    }
    c = &e->configs[e->n_configs++];
    memset(c, 0, sizeof *c);
    snprintf(c->provider, sizeof c->provider, "clip");
    return c;
}

static int take_flags(struct eval *e, int *argc, char **argv)
{
    int w = 1;

    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *v = i + 1 < *argc ? argv[i + 1] : NULL;
        struct eval_config *c = e->n_configs ? &e->configs[e->n_configs - 1] : NULL;
        long n;

        if (strcmp(a, "--provider") == 0 || strcmp(a, "--memory") == 0 ||
            strcmp(a, "--precision") == 0) {
            int opens = strcmp(a, "--provider") == 0, memory = strcmp(a, "--memory") == 0;

            /* --memory and --precision refine the CLIP configuration before them, or start
             * one: "--provider openai --precision int8" is two configurations */
            if (!opens &&
                (!c || strcmp(c->provider, "clip") != 0 || (memory ? c->memory : c->precision_set)))
                c = NULL;
            if ((opens || !c) && (c = open_config(e)) == NULL)
                return -1;
            if (memory) {
                c->memory = 1;
                continue;
            }
            if (!v) {
                fprintf(stderr, "gymhelper: %s wants a value\n", a);
                return -1;
            }
            i++;
            if (opens) {
                if (strcmp(v, "clip") && strcmp(v, "openai") && strcmp(v, "llava") &&
                    strcmp(v, "auto")) {
                    fprintf(stderr,
                            "gymhelper: --provider is clip, openai, llava or auto, not "
                            "'%s'\n",
                            v);
                    return -1;
                }
                snprintf(c->provider, sizeof c->provider, "%s", v);
            } else if (gh_clip_precision_parse(v, &c->precision, NULL) != GH_OK) {
                fprintf(stderr, "gymhelper: --precision is f32, bf16, int8 or auto, not '%s'\n", v);
                return -1;
            } else {
                c->precision_set = 1;
            }
        } else if (strcmp(a, "--out") == 0 && v) {
            e->out = v;
            i++;
        } else if (strcmp(a, "--jobs") == 0 && v) {
            if (gh_cli_parse_long(v, 1, 64, &n)) {
                fprintf(stderr, "gymhelper: --jobs wants a whole number 1..64\n");
                return -1;
            }
            e->jobs = (int)n;
            i++;
        } else if (strcmp(a, "--no-curve") == 0) {
            e->curve = 0;
        } else {
            argv[w++] = argv[i];
        }
    }
    *argc = w;
    argv[w] = NULL;
    if (e->n_configs == 0)
        open_config(e);
    return 0;
}

/* ---- the labelled photos ---- */

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = gh_malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}

static int class_of(const struct eval *e, const char *slug)
{
    for (int i = 0; i < e->n_classes; i++)
        if (strcmp(e->classes[i], slug) == 0)
            return i;
    return -1;
}

static int add_class(struct eval *e, const char *slug)
{
    char **c;

    if (class_of(e, slug) >= 0)
        return GH_OK;
    c = gh_realloc(e->classes, (size_t)(e->n_classes + 1) * sizeof *c);
    if (!c)
        return GH_ENOMEM;
    e->classes = c;
    if (!(c[e->n_classes] = str_dup(slug)))
        return GH_ENOMEM;
    e->n_classes++;
    return GH_OK;
}

static int add_photo(struct eval *e, const char *dir, const char *name, const char *label,
                     size_t *cap)
{
    struct photo *p;
    size_t len = strlen(dir) + strlen(name) + 2;

    if (!gh_catalogue_find(e->cat, label)) {
        fprintf(stderr, "gymhelper: %s: '%s' is not a catalogue slug; left out\n", name, label);
        e->n_skipped++;
        return GH_OK;
    }
    if (e->n_photos == MAX_PHOTOS)
        return GH_ETOOBIG;
    if (e->n_photos == *cap) {
        size_t ncap = *cap ? 2 * *cap : 256;
        struct photo *np = gh_realloc(e->photos, ncap * sizeof *np);

        if (!np)
            return GH_ENOMEM;
        e->photos = np;
        *cap = ncap;
    }
    p = &e->photos[e->n_photos];
    memset(p, 0, sizeof *p);
    p->path = gh_malloc(len);
    p->name = str_dup(name);
    p->label = str_dup(label);
    if (!p->path || !p->name || !p->label) {
        gh_free(p->path);
        gh_free(p->name);
        gh_free(p->label);
        return GH_ENOMEM;
    }
    snprintf(p->path, len, "%s/%s", dir, name);
    e->n_photos++;
    return add_class(e, label);
}

/* path<TAB>label lines; a first line naming columns "path" and "label" says where they are. */
static int read_tsv(struct eval *e, const char *path, size_t *cap)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    struct gh_err err = {0};
    char *buf, *dir = NULL, *slash, *line, *save = NULL;
    int col_path = 0, col_label = 1, first = 1, rc;

    rc = gh_file_read(path, 256u << 20, &raw, &len, &err);
    if (rc) {
        fprintf(stderr, "gymhelper: %s: %s\n", path, err.msg);
        return rc;
    }
    /* the file's bytes are not NUL-terminated; the line splitting needs them to be */
    buf = gh_malloc(len + 1);
    if (buf) {
        memcpy(buf, raw, len);
        buf[len] = '\0';
    }
    gh_free(raw);
    if (!buf || !(dir = str_dup(path))) {
        gh_free(buf);
        return GH_ENOMEM;
    }
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        dir[0] = '.', dir[1] = '\0'; /* str_dup(path) holds at least two bytes: path is not "" */
    for (line = strtok_r(buf, "\n", &save); line && rc == GH_OK;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[16], *fs = NULL, *t;
        int nf = 0;

        line[strcspn(line, "\r")] = '\0';
        if (!*line || *line == '#')
            continue;
        for (t = strtok_r(line, "\t", &fs); t && nf < 16; t = strtok_r(NULL, "\t", &fs))
            f[nf++] = t;
        if (first) {
            int header = 0;

            first = 0;
            for (int i = 0; i < nf; i++) {
                if (strcmp(f[i], "path") == 0)
                    col_path = i, header = 1;
                if (strcmp(f[i], "label") == 0)
                    col_label = i, header = 1;
            }
            if (header)
                continue;
        }
        if (nf <= col_path || nf <= col_label) {
            fprintf(stderr, "gymhelper: %s: a line without a path and a label; left out\n", path);
            e->n_skipped++;
            continue;
        }
        rc = add_photo(e, dir, f[col_path], f[col_label], cap);
    }
    gh_free(dir);
    gh_free(buf);
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One sub-folder per slug; sub-folders that are not slugs are named and left out. */
static int read_dir(struct eval *e, const char *root, size_t *cap)
{
    DIR *d = opendir(root), *sd;
    struct dirent *de, *fe;
    char sub[4096], name[4096];
    int rc = GH_OK;

    if (!d) {
        fprintf(stderr, "gymhelper: %s: cannot open the folder\n", root);
        return GH_EIO;
    }
    while (rc == GH_OK && (de = readdir(d)) != NULL) {
        char **files = NULL;
        size_t n = 0, fcap = 0;

        if (de->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s/%s", root, de->d_name);
        if (!(sd = opendir(sub)))
            continue; /* a file beside the folders, such as labels.tsv or a README */
        if (!gh_catalogue_find(e->cat, de->d_name)) {
            fprintf(stderr, "gymhelper: %s: not a catalogue slug; left out\n", sub);
            closedir(sd);
            continue;
        }
        while (rc == GH_OK && (fe = readdir(sd)) != NULL) {
            if (fe->d_name[0] == '.')
                continue;
            if (n == fcap) {
                char **nf = gh_realloc(files, (fcap = fcap ? 2 * fcap : 64) * sizeof *nf);

                if (!nf) {
                    rc = GH_ENOMEM;
                    break;
                }
                files = nf;
            }
            if (!(files[n] = str_dup(fe->d_name)))
                rc = GH_ENOMEM;
            else
                n++;
        }
        closedir(sd);
        if (n > 1)
            qsort(files, n, sizeof *files, cmp_name); /* the same order on every machine */
        for (size_t i = 0; i < n; i++) {
            snprintf(name, sizeof name, "%s/%s", de->d_name, files[i]);
            if (rc == GH_OK)
                rc = add_photo(e, root, name, de->d_name, cap);
            gh_free(files[i]);
        }
        gh_free(files);
    }
    closedir(d);
    return rc;
}

struct ranked {
    uint64_t rank;
    size_t i;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;

    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Sorts the classes, gives each photo its class, and splits each class: the first
 * min(MAX_SHOTS, n - 1) of its readable photos by gh_eval_rank form the memory pool. */
static int assign(struct eval *e)
{
    struct ranked *r = gh_malloc_array(e->n_photos ? e->n_photos : 1, sizeof *r);

    if (!r)
        return GH_ENOMEM;
    qsort(e->classes, (size_t)e->n_classes, sizeof *e->classes, cmp_name);
    for (size_t i = 0; i < e->n_photos; i++)
        e->photos[i].truth = class_of(e, e->photos[i].label);
    for (int c = 0; c < e->n_classes; c++) {
        size_t n = 0, pool;

        for (size_t i = 0; i < e->n_photos; i++)
            if (e->photos[i].truth == c && !e->photos[i].skipped)
                r[n++] = (struct ranked){gh_eval_rank(e->photos[i].name, SPLIT_SEED), i};
        qsort(r, n, sizeof *r, cmp_ranked);
        pool = n > MAX_SHOTS ? MAX_SHOTS : n ? n - 1 : 0;
        for (size_t k = 0; k < n; k++) {
            e->photos[r[k].i].held_out = k >= pool;
            e->photos[r[k].i].pool_rank = (int)k;
        }
    }
    gh_free(r);
    e->names = gh_malloc_array((size_t)e->n_classes, sizeof *e->names);
    if (!e->names)
        return GH_ENOMEM;
    for (int c = 0; c < e->n_classes; c++)
        e->names[c] = gh_catalogue_find(e->cat, e->classes[c])->name;
    return GH_OK;
}

/* ---- running ---- */

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The provider copy of photo i, as the service would send it. */
static int photo_copy(const struct eval *e, size_t i, uint8_t **jpeg, size_t *jpeg_len,
                      struct gh_err *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = gh_file_read(e->photos[i].path, e->cfg.pipeline.lim.max_bytes, &buf, &len, err);

    if (rc == GH_OK)
        rc = gh_image_provider_copy(buf, len, &e->cfg.pipeline.lim, GH_IMAGE_FORMAT_UNKNOWN,
                                    &e->cfg.pipeline.prep, jpeg, jpeg_len, NULL, err);
    gh_free(buf);
    return rc;
}

struct job;
typedef void (*job_fn)(struct job *j, size_t i);

struct job {
    struct eval *e;
    job_fn fn;
    atomic_size_t next, done;
    /* one pass's inputs and outputs */
    struct embedded *em;
    struct gh_provider *prov;
    struct gh_eval_pred *pred;
    atomic_int_least64_t cost_nd;
    char model[96];
    pthread_mutex_t lock;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    size_t i, n = j->e->n_photos;

    while ((i = atomic_fetch_add(&j->next, 1)) < n) {
        if (!j->e->photos[i].skipped)
            j->fn(j, i);
        size_t d = atomic_fetch_add(&j->done, 1) + 1;
        if (d % 200 == 0)
            fprintf(stderr, "gymhelper eval: %zu/%zu photos\n", d, n);
    }
    return NULL;
}

static void run_jobs(struct job *j)
{
    pthread_t t[64];
    int n = 0;

    atomic_store(&j->next, 0);
    atomic_store(&j->done, 0);
    for (; n < j->e->jobs; n++)
        if (pthread_create(&t[n], NULL, worker, j) != 0)
            break;
    if (n == 0)
        worker(j); /* no thread could start: this one does the work */
    for (int k = 0; k < n; k++)
        pthread_join(t[k], NULL);
}

/* Reads every photo's header once: those that are not images are left out of everything. */
static void check_one(struct job *j, size_t i)
{
    struct eval *e = j->e;
    struct gh_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    struct gh_image_info info;
    int rc = gh_file_read(e->photos[i].path, e->cfg.pipeline.lim.max_bytes, &buf, &len, &err);

    if (rc == GH_OK)
        rc =
            gh_image_validate(buf, len, &e->cfg.pipeline.lim, GH_IMAGE_FORMAT_UNKNOWN, &info, &err);
    gh_free(buf);
    if (rc) {
        e->photos[i].skipped = 1;
        fprintf(stderr, "gymhelper: %s: %s; left out\n", e->photos[i].path, err.msg);
    }
}

static void embed_one(struct job *j, size_t i)
{
    struct embedded *em = j->em;
    struct gh_provider_request req = {.cat = j->e->cat};
    struct gh_err err = {0};
    uint8_t *jpeg = NULL;
    size_t jpeg_len = 0;
    int rc = photo_copy(j->e, i, &jpeg, &jpeg_len, &err);

    if (rc == GH_OK) {
        req.jpeg = jpeg;
        req.jpeg_len = jpeg_len;
        rc = em->prov->ops->embed(em->prov, &req, em->emb + i * (size_t)em->dim, &err);
    }
    gh_free(jpeg);
    if (rc)
        fprintf(stderr, "gymhelper: %s: embedding failed: %s\n", j->e->photos[i].path, err.msg);
    else
        em->ok[i] = 1;
}

/* The answer as a prediction over the evaluated classes. */
static void to_pred(const struct eval *e, const struct gh_provider_result *res, int truth,
                    struct gh_eval_pred *p)
{
    memset(p, 0, sizeof *p);
    p->truth = truth;
    for (int k = 0; k < GH_EVAL_TOP; k++)
        p->top[k] = -1;
    p->confidence = res->confidence;
    if (res->slug[0])
        p->top[0] = class_of(e, res->slug);
    for (int k = 0; k < res->n_alternatives && k + 1 < GH_EVAL_TOP; k++)
        p->top[k + 1] = class_of(e, res->alternatives[k].slug);
    p->not_sure = !res->slug[0] || res->confidence < e->cfg.pipeline.confidence_threshold;
}

static void remote_one(struct job *j, size_t i)
{
    struct eval *e = j->e;
    struct gh_provider_request req = {.cat = e->cat};
    struct gh_provider_result res;
    struct gh_err err = {0};
    uint8_t *jpeg = NULL;
    size_t jpeg_len = 0;
    int rc = photo_copy(e, i, &jpeg, &jpeg_len, &err);

    memset(&res, 0, sizeof res);
    if (rc == GH_OK) {
        req.jpeg = jpeg;
        req.jpeg_len = jpeg_len;
        rc = j->prov->ops->analyze(j->prov, &req, &res, &err);
    }
    gh_free(jpeg);
    to_pred(e, &res, e->photos[i].truth, &j->pred[i]);
    if (rc) {
        j->pred[i].failed = 1;
        fprintf(stderr, "gymhelper: %s: %s\n", e->photos[i].path, err.msg);
    }
    atomic_fetch_add(&j->cost_nd,
                     gh_provider_cost_nd(res.model, res.prompt_tokens, res.completion_tokens) +
                         (res.shadow
                              ? gh_provider_cost_nd(res.shadow_model, res.shadow_prompt_tokens,
                                                    res.shadow_completion_tokens)
                              : 0));
    pthread_mutex_lock(&j->lock);
    if (!j->model[0] && res.model[0])
        snprintf(j->model, sizeof j->model, "%s", res.model);
    pthread_mutex_unlock(&j->lock);
}

/* A provider for configuration c, or NULL with the reason in why. */
static struct gh_provider *provider_for(struct eval *e, const struct eval_config *c, char *why,
                                        size_t cap)
{
    struct gh_provider_config pc = e->cfg.provider;
    struct gh_provider *p = NULL;
    struct gh_err err = {0};

    pc.name = c->provider;
    pc.clip_model = e->cfg.clip_model;
    pc.clip_threads = e->cfg.clip_threads;
    pc.clip_precision = (int)c->precision;
    pc.clip_max_batch = e->cfg.clip_max_batch;
    pc.clip_batch_wait_ms = e->cfg.clip_batch_wait_ms;
    pc.cat = e->cat;
    pc.escalate_below = e->cfg.pipeline.confidence_threshold;
    if (gh_provider_new(&pc, &p, &err) != GH_OK) {
        snprintf(why, cap, "%s", err.msg);
        return NULL;
    }
    if (!p->ops->ready(p, why, cap)) {
        gh_provider_free(p);
        return NULL;
    }
    return p;
}

/* Every photo's CLIP embedding at c's precision, computed once and shared by the
 * configurations and the curve. NULL with why when CLIP cannot run. */
static struct embedded *embedded_for(struct eval *e, const struct eval_config *c, char *why,
                                     size_t cap)
{
    struct eval_config clip = *c;
    struct embedded *em;
    struct job j;
    double t0;

    for (int i = 0; i < e->n_emb; i++)
        if (e->emb[i].precision == c->precision)
            return e->emb[i].prov ? &e->emb[i] : NULL;
    em = &e->emb[e->n_emb++];
    memset(em, 0, sizeof *em);
    em->precision = c->precision;
    snprintf(clip.provider, sizeof clip.provider, "clip");
    em->prov = provider_for(e, &clip, why, cap);
    if (!em->prov)
        return NULL;
    em->dim = em->prov->ops->embedding_space(em->prov, &em->model_id);
    em->emb = gh_malloc_array(e->n_photos * (size_t)em->dim, sizeof *em->emb);
    em->ok = gh_malloc(e->n_photos ? e->n_photos : 1);
    if (!em->emb || !em->ok) {
        snprintf(why, cap, "out of memory for %zu embeddings", e->n_photos);
        gh_provider_free(em->prov);
        em->prov = NULL;
        return NULL;
    }
    memset(em->ok, 0, e->n_photos ? e->n_photos : 1);
    memset(&j, 0, sizeof j);
    j.e = e;
    j.fn = embed_one;
    j.em = em;
    fprintf(stderr, "gymhelper eval: embedding %zu photos with CLIP (%s, %s)\n", e->n_photos,
            gh_clip_precision_name(c->precision), em->prov->kernels ? em->prov->kernels : "");
    t0 = now_ms();
    run_jobs(&j);
    em->wall_ms = now_ms() - t0;
    return em;
}

/* The memory of the pool's first `shots` photos per class (all of its labels confirmed: they
 * are the ground truth, as a trusted person's). */
static int memory_for(struct eval *e, const struct embedded *em, int shots, struct gh_vmem **out,
                      int64_t *n_remembered, struct gh_err *err)
{
    struct gh_vmem_opts o = {.model = em->model_id,
                             .dim = em->dim,
                             .max_entries = (int64_t)e->n_photos + 1,
                             .retention_s = INT64_C(100) * 365 * 86400,
                             .refresh_ms = 0};
    int64_t now = (int64_t)time(NULL);
    int rc = gh_vmem_new(NULL, &o, out, err);

    *n_remembered = 0;
    for (size_t i = 0; rc == GH_OK && i < e->n_photos; i++) {
        const struct photo *p = &e->photos[i];

        if (p->skipped || !em->ok[i] || p->held_out || p->pool_rank >= shots)
            continue;
        rc = gh_vmem_add(*out, NULL, em->emb + i * (size_t)em->dim, p->label,
                         GH_VMEM_SOURCE_TRUSTED, now, err);
        *n_remembered += rc == GH_OK;
    }
    return rc;
}

/* CLIP's answer for photo i from its embedding, with the memory's when vm is set (as the
 * pipeline: a match at VISUAL_MATCH_THRESHOLD answers, else the neighbours sharpen). Returns 1
 * when the memory answered. */
static int clip_pred(struct eval *e, const struct embedded *em, struct gh_vmem *vm, size_t i,
                     struct gh_eval_pred *pred)
{
    struct gh_provider_request req = {.cat = e->cat};
    struct gh_provider_result res;
    struct gh_vmem_hit hits[GH_VMEM_K_MAX];
    struct gh_err err = {0};
    int n_hits = 0, k = e->cfg.pipeline.visual_k > 0 ? e->cfg.pipeline.visual_k : 1;

    memset(&res, 0, sizeof res);
    req.embedding = em->emb + i * (size_t)em->dim;
    if (!em->ok[i]) {
        to_pred(e, &res, e->photos[i].truth, pred);
        pred->failed = 1;
        return 0;
    }
    if (vm &&
        gh_vmem_search(vm, req.embedding, k, (int64_t)time(NULL), hits, &n_hits, &err) == GH_OK &&
        n_hits > 0 && hits[0].similarity >= e->cfg.pipeline.visual_threshold) {
        int m = 0;

        to_pred(e, &res, e->photos[i].truth, pred);
        pred->confidence = hits[0].similarity;
        pred->not_sure = 0; /* the match passed its own threshold, as in the pipeline */
        for (int h = 0; h < n_hits && m < GH_EVAL_TOP; h++) {
            int c = class_of(e, hits[h].slug), seen = 0;

            for (int q = 0; q < m; q++)
                seen |= pred->top[q] == c;
            if (!seen)
                pred->top[m++] = c;
        }
        return 1;
    }
    req.neighbours = hits;
    req.n_neighbours = n_hits;
    if (em->prov->ops->analyze(em->prov, &req, &res, &err) != GH_OK) {
        fprintf(stderr, "gymhelper: %s: %s\n", e->photos[i].path, err.msg);
        to_pred(e, &res, e->photos[i].truth, pred);
        pred->failed = 1;
        return 0;
    }
    to_pred(e, &res, e->photos[i].truth, pred);
    return 0;
}

static size_t readable(const struct eval *e)
{
    size_t n = 0;

    for (size_t i = 0; i < e->n_photos; i++)
        n += !e->photos[i].skipped;
    return n;
}

/* Runs configuration c into out; 0 when it ran. */
static int run_config(struct eval *e, const struct eval_config *c, struct gh_eval_config *out)
{
    struct gh_eval_pred *pred = gh_malloc_array(e->n_photos ? e->n_photos : 1, sizeof *pred);
    struct gh_err err = {0};
    size_t n = 0;
    double t0 = now_ms(), base_ms = 0;
    int rc = GH_OK;

    snprintf(out->name, sizeof out->name, "%s%s%s%s", c->provider, c->memory ? " --memory" : "",
             c->precision_set ? " --precision " : "",
             c->precision_set ? gh_clip_precision_name(c->precision) : "");
    if (!pred) {
        snprintf(out->note, sizeof out->note, "out of memory");
        return -1;
    }
    if (strcmp(c->provider, "clip") == 0) {
        struct embedded *em = embedded_for(e, c, out->note, sizeof out->note);
        struct gh_vmem *vm = NULL;
        int64_t remembered = 0;

        if (!em) {
            gh_free(pred);
            return -1;
        }
        snprintf(out->model, sizeof out->model, "%s (%s)", em->prov->model,
                 gh_clip_precision_name(c->precision));
        if (c->memory)
            rc = memory_for(e, em, MAX_SHOTS, &vm, &remembered, &err);
        t0 = now_ms();
        for (size_t i = 0; rc == GH_OK && i < e->n_photos; i++) {
            if (e->photos[i].skipped || (c->memory && !e->photos[i].held_out))
                continue;
            clip_pred(e, em, vm, i, &pred[n++]);
        }
        if (c->memory)
            snprintf(out->note, sizeof out->note,
                     "measured on the %zu photos held out (at least one per class), with %lld "
                     "remembered (up to %d per class, chosen by a fixed hash of the file name)",
                     n, (long long)remembered, MAX_SHOTS);
        /* each configuration pays for its embeddings, computed once per precision */
        base_ms = em->wall_ms / (double)(readable(e) ? readable(e) : 1);
        gh_vmem_free(vm);
    } else {
        struct job j;

        memset(&j, 0, sizeof j);
        j.e = e;
        j.fn = remote_one;
        j.pred = pred;
        j.prov = provider_for(e, c, out->note, sizeof out->note);
        if (!j.prov) {
            gh_free(pred);
            return -1;
        }
        pthread_mutex_init(&j.lock, NULL);
        fprintf(stderr, "gymhelper eval: asking %s about %zu photos\n", c->provider, e->n_photos);
        t0 = now_ms();
        run_jobs(&j);
        for (size_t i = 0; i < e->n_photos; i++)
            if (!e->photos[i].skipped)
                pred[n++] = pred[i];
        out->cost_nd = atomic_load(&j.cost_nd);
        snprintf(out->model, sizeof out->model, "%s", j.model[0] ? j.model : j.prov->model);
        pthread_mutex_destroy(&j.lock);
        gh_provider_free(j.prov);
    }
    if (rc == GH_OK)
        rc = gh_eval_metrics_compute(pred, n, e->n_classes, &out->m, &err);
    if (rc == GH_OK)
        out->ms_per_image = base_ms + (n ? (now_ms() - t0) / (double)n : 0);
    else
        snprintf(out->note, sizeof out->note, "%s", err.msg);
    out->ran = rc == GH_OK;
    gh_free(pred);
    return rc == GH_OK ? 0 : -1;
}

/* Accuracy on the held-out photos with 0, 1, 2, 4, 8, 16 photos per class remembered. */
static int run_curve(struct eval *e, const struct embedded *em, struct gh_eval_curve_point *pts)
{
    struct gh_err err = {0};

    for (int s = 0; s < GH_EVAL_SHOTS; s++) {
        struct gh_eval_curve_point *pt = &pts[s];
        struct gh_vmem *vm = NULL;

        memset(pt, 0, sizeof *pt);
        pt->shots = gh_eval_shots(s);
        if (memory_for(e, em, pt->shots, &vm, &pt->remembered, &err) != GH_OK) {
            fprintf(stderr, "gymhelper: the few-shot curve: %s\n", err.msg);
            gh_vmem_free(vm);
            return -1;
        }
        for (size_t i = 0; i < e->n_photos; i++) {
            struct gh_eval_pred pred;

            if (e->photos[i].skipped || !e->photos[i].held_out)
                continue;
            pt->from_memory += clip_pred(e, em, pt->shots ? vm : NULL, i, &pred);
            pt->n++;
            pt->top1 += !pred.failed && pred.top[0] == pred.truth;
        }
        gh_vmem_free(vm);
    }
    return 0;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    int ok = f && fputs(text, f) >= 0;

    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "gymhelper: cannot write %s\n", path);
    return ok ? 0 : -1;
}

/* "AMD EPYC ... (2 cores; avx2 fma avx512f ...)": the model name from /proc/cpuinfo. */
static void cpu_name(char *out, size_t cap)
{
    char line[512], model[256] = "an unnamed CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');

        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(model, sizeof model, "%s", colon + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
    snprintf(out, cap, "%s (%ld cores; %s)", model, cores, gh_clip_cpu_line());
}

static int write_reports(struct eval *e, const char *source, struct gh_eval_config *res,
                         const struct gh_eval_curve_point *curve, const char *curve_note)
{
    char when[32], md_path[4096], html_path[4096], cpu[512];
    time_t t = time(NULL);
    struct tm tm;
    struct gh_eval_report r;
    char *md, *html;
    int rc = -1;

    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    memset(&r, 0, sizeof r);
    r.source = source;
    cpu_name(cpu, sizeof cpu);
    r.cpu = cpu;
    r.generated = when;
    r.classes = (const char *const *)e->classes;
    r.names = e->names;
    r.n_classes = e->n_classes;
    r.n_photos = (int64_t)readable(e);
    r.n_skipped = e->n_skipped;
    r.threshold = e->cfg.pipeline.confidence_threshold;
    r.match_threshold = e->cfg.pipeline.visual_threshold;
    r.configs = res;
    r.n_configs = e->n_configs;
    r.curve = curve;
    r.n_curve = curve ? GH_EVAL_SHOTS : 0;
    r.curve_note = curve_note;
    md = gh_eval_markdown(&r);
    html = gh_eval_html(&r);
    snprintf(md_path, sizeof md_path, "%s.md", e->out);
    snprintf(html_path, sizeof html_path, "%s.html", e->out);
    if (!md || !html)
        fprintf(stderr, "gymhelper: out of memory for the report\n");
    else if (write_file(md_path, md) == 0 && write_file(html_path, html) == 0)
        rc = 0;
    gh_free(md);
    gh_free(html);
    if (rc)
        return rc;
    for (int i = 0; i < e->n_configs; i++) {
        const struct gh_eval_config *c = &res[i];

        if (!c->ran) {
            printf("%-28s not run: %s\n", c->name, c->note);
            continue;
        }
        printf("%-28s top-1 %5.1f%%  top-3 %5.1f%%  not sure %5.1f%%  ECE %.3f  %.1f ms/image  "
               "$%.4f  (%lld photos)\n",
               c->name, 100.0 * (double)c->m.top1 / (double)(c->m.n ? c->m.n : 1),
               100.0 * (double)c->m.topk / (double)(c->m.n ? c->m.n : 1),
               100.0 * (double)c->m.not_sure / (double)(c->m.n ? c->m.n : 1), c->m.ece,
               c->ms_per_image, (double)c->cost_nd / 1e9, (long long)c->m.n);
    }
    printf("wrote %s and %s\n", md_path, html_path);
    return 0;
}

static void eval_free(struct eval *e)
{
    for (size_t i = 0; i < e->n_photos; i++) {
        gh_free(e->photos[i].path);
        gh_free(e->photos[i].name);
        gh_free(e->photos[i].label);
    }
    gh_free(e->photos);
    for (int i = 0; i < e->n_classes; i++)
        gh_free(e->classes[i]);
    gh_free(e->classes);
    gh_free(e->names);
    for (int i = 0; i < e->n_emb; i++) {
        gh_provider_free(e->emb[i].prov);
        gh_free(e->emb[i].emb);
        gh_free(e->emb[i].ok);
    }
    gh_catalogue_free(e->cat);
}

/* Loads the photos of source (a folder or a TSV) and checks each is an image. */
static int load_photos(struct eval *e, const char *source)
{
    struct stat st;
    struct job j;
    size_t cap = 0;
    int rc;

    if (stat(source, &st) != 0) {
        fprintf(stderr, "gymhelper: %s: no such file or folder\n", source);
        return -1;
    }
    rc = S_ISDIR(st.st_mode) ? read_dir(e, source, &cap) : read_tsv(e, source, &cap);
    if (rc == GH_ENOMEM || rc == GH_ETOOBIG)
        fprintf(stderr, "gymhelper: %s: too many photos for this machine's memory\n", source);
    if (rc)
        return -1;
    if (e->n_photos == 0) {
        fprintf(stderr,
                "gymhelper: %s: no labelled photos (one sub-folder per catalogue slug, "
                "or path<TAB>label lines)\n",
                source);
        return -1;
    }
    memset(&j, 0, sizeof j);
    j.e = e;
    j.fn = check_one;
    run_jobs(&j);
    for (size_t i = 0; i < e->n_photos; i++)
        e->n_skipped += e->photos[i].skipped;
    if (assign(e) != GH_OK) {
        fprintf(stderr, "gymhelper: out of memory\n");
        return -1;
    }
    return 0;
}

int gh_cli_eval(int argc, char **argv)
{
    struct eval e;
    struct gh_eval_config res[MAX_CONFIGS];
    struct gh_eval_curve_point curve[GH_EVAL_SHOTS];
    char curve_note[512] = "";
    struct gh_err err = {0};
    int next, rc, status = 0, have_curve = 0;

    memset(&e, 0, sizeof e);
    memset(res, 0, sizeof res);
    e.jobs = 8;
    e.curve = 1;
    e.out = "eval-report";
    /* our flags out first: the settings parser rejects what it does not know */
    if (take_flags(&e, &argc, argv))
        return 2;
    rc = gh_config_load(&e.cfg, argc, argv, eval_usage, &next);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (argc - next != 1) {
        fputs(eval_usage, stderr);
        return 2;
    }
    for (int i = 0; i < e.n_configs; i++)
        if (!e.configs[i].precision_set)
            e.configs[i].precision = e.cfg.clip_precision;
    gh_log_setup(e.cfg.log_level, e.cfg.log_format);
    rc = e.cfg.catalogue_path ? gh_catalogue_load_file(e.cfg.catalogue_path, &e.cat, &err)
                              : gh_catalogue_load_embedded(&e.cat, &err);
    if (rc) {
        fprintf(stderr, "gymhelper: %s\n", err.msg);
        return 1;
    }
    if (load_photos(&e, argv[next])) {
        eval_free(&e);
        return 1;
    }
    status = e.n_skipped > 0;
    for (int i = 0; i < e.n_configs; i++) {
        fprintf(stderr, "gymhelper eval: configuration %d of %d\n", i + 1, e.n_configs);
        if (run_config(&e, &e.configs[i], &res[i]))
            status = 1;
    }
    for (int i = 0; e.curve && !have_curve && i < e.n_configs; i++) {
        const struct eval_config *c = &e.configs[i];
        struct embedded *em;

        if (strcmp(c->provider, "clip") != 0 || !res[i].ran)
            continue;
        em = embedded_for(&e, c, curve_note, sizeof curve_note);
        if (em && run_curve(&e, em, curve) == 0) {
            have_curve = 1;
            snprintf(curve_note, sizeof curve_note,
                     "CLIP (%s) with the visual memory: each class's photos are ordered by a "
                     "fixed hash of their names; the first %d (fewer in a small class, which "
                     "keeps at least one) can be remembered, the rest are measured at every "
                     "point. A remembered photo at least %.2f similar answers, else the nearest "
                     "%d sharpen CLIP's scores.",
                     gh_clip_precision_name(c->precision), MAX_SHOTS,
                     e.cfg.pipeline.visual_threshold, e.cfg.pipeline.visual_k);
        }
    }
    if (write_reports(&e, argv[next], res, have_curve ? curve : NULL, curve_note))
        status = 1;
    for (int i = 0; i < e.n_configs; i++)
        gh_eval_metrics_fini(&res[i].m);
    eval_free(&e);
    return status;
}
