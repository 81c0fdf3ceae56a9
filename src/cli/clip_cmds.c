/* SPDX-License-Identifier: MIT */
/* `clip embed|classify|tokenize`: the local CLIP engine on files and texts, JSON on stdout,
 * errors on stderr with their stable code (exit 1), bad usage exit 2. Zero-shot over the
 * catalogue is the `clip` provider's job, not this command's. */
#include "cli.h"
#include "gh/alloc.h"
#include "gh/clip.h"
#include "gh/file.h"
#include "gh/models.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char clip_usage[] =
    "usage: gymhelper clip embed --model MODEL (--image FILE | --text TEXT)...\n"
    "       gymhelper clip classify --model MODEL --image FILE LABEL...\n"
    "       gymhelper clip tokenize --model MODEL TEXT...\n"
    "       gymhelper clip info --model MODEL\n"
    "\n"
    "Runs a local CLIP model. MODEL is a checkpoint directory (config.json, model.safetensors,\n"
    "vocab.json, merges.txt) or the name of a pulled model (see `gymhelper model list`).\n"
    "  embed     one JSON array (L2-normalised embedding) per input, in order\n"
    "  classify  JSON [{\"label\", \"probability\"}...], most likely first: softmax over\n"
    "            logit_scale x cosine similarity of the image and each label\n"
    "  tokenize  one JSON array of token ids per text\n"
    "  info      JSON: the CPU's ISA, the kernels and precision in use, load time\n"
    "options:\n"
    "  --threads N         threads (default: one per core)\n"
    "  --precision P       f32 (default), bf16, int8 or auto (CLIP_PRECISION)\n";

enum { OPT_MODEL = 256, OPT_IMAGE, OPT_TEXT, OPT_THREADS, OPT_PRECISION, OPT_HELP };

struct clip_input {
    int is_image;
    const char *value;
};

struct clip_args {
    const char *model;
    int threads;
    enum gh_clip_precision precision;
    struct clip_input *inputs; /* --image / --text in command-line order */
    int n_inputs, n_images, n_texts;
    char **pos; /* positional arguments (labels, texts) */
    int n_pos;
};

GH_PRINTF(1, 2) static int usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("gymhelper clip: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(see 'gymhelper clip --help')\n", stderr);
    return 2;
}

/* 0 parsed, 1 --help printed, 2 bad usage. a->inputs must hold argc entries. */
static int parse_args(int argc, char **argv, struct clip_args *a)
{
    static const struct option longs[] = {
        {"model", required_argument, NULL, OPT_MODEL},
        {"image", required_argument, NULL, OPT_IMAGE},
        {"text", required_argument, NULL, OPT_TEXT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"precision", required_argument, NULL, OPT_PRECISION},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    long v;
    int c;

    optind = 0; /* GNU: a full reset, as each command parses its own argv */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case OPT_MODEL:
            a->model = optarg;
            break;
        case OPT_IMAGE:
        case OPT_TEXT:
            a->inputs[a->n_inputs].is_image = c == OPT_IMAGE;
            a->inputs[a->n_inputs++].value = optarg;
            *(c == OPT_IMAGE ? &a->n_images : &a->n_texts) += 1;
            break;
        case OPT_THREADS:
            if (gh_cli_parse_long(optarg, 1, 256, &v) != 0)
                return usage_error("--threads %s: expected a whole number from 1 to 256", optarg);
            a->threads = (int)v;
            break;
        case OPT_PRECISION:
            if (gh_clip_precision_parse(optarg, &a->precision, NULL) != GH_OK)
                return usage_error("--precision %s: expected f32, bf16, int8 or auto", optarg);
            break;
        case 'h':
        case OPT_HELP:
            fputs(clip_usage, stdout);
            return 1;
        default:
            return usage_error("unknown or incomplete option %s", argv[optind - 1]);
        }
    }
    a->pos = argv + optind;
    a->n_pos = argc - optind;
    if (!a->model)
        return usage_error("%s needs --model DIR or --model NAME (a pulled model)", argv[0]);
    return 0;
}

static int fail(const char *what, const struct gh_err *err)
{
    fprintf(stderr, "gymhelper clip: %s: %s [%s]\n", what, err->msg, gh_err_name(err->code));
    return 1;
}

static int load_model(const struct clip_args *a, int max_batch, struct gh_clip_model **m)
{
    struct gh_clip_load_opts opts = {
        .threads = a->threads, .max_batch = max_batch, .precision = a->precision};
    struct gh_err err = {0};
    struct gh_model_ref ref;

    /* --model takes what CLIP_MODEL takes: a checkpoint directory or a pulled model's name */
    if (gh_models_resolve(a->model, &ref, &err) != GH_OK ||
        gh_clip_load(ref.dir, &opts, m, &err) != GH_OK)
        return fail(a->model, &err);
    return 0;
}

/* Reads and preprocesses one image file into out (3 * size * size floats). */
static int read_pixels(const char *path, int size, float *out)
{
    struct gh_image_limits lim = gh_image_limits_default();
    struct gh_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = gh_file_read(path, lim.max_bytes, &buf, &len, &err);

    if (rc == GH_OK)
        rc = gh_clip_preprocess(buf, len, size, out, &err);
    gh_free(buf);
    return rc == GH_OK ? 0 : fail(path, &err);
}

static void print_vec(const float *e, int d)
{
    putchar('[');
    for (int i = 0; i < d; i++)
        printf("%s%.9g", i ? "," : "", (double)e[i]);
    puts("]");
}

/* Embeds every image of a (preprocessed together, one batched call) into img_out and every
 * text into txt_out, in their own order. */
static int embed_all(struct gh_clip_model *m, const struct clip_args *a, float *img_out,
                     float *txt_out)
{
    const struct gh_clip_config *c = gh_clip_model_config(m);
    size_t px = 3 * (size_t)c->image_size * (size_t)c->image_size;
    float *pixels = gh_malloc_array((size_t)a->n_images + 1, px * sizeof *pixels);
    const char **texts = gh_malloc_array((size_t)a->n_texts + 1, sizeof *texts);
    struct gh_err err = {0};
    int status = 0, ni = 0, nt = 0;

    if (!pixels || !texts) {
        gh_err_set(&err, GH_ENOMEM, "out of memory");
        status = fail("clip", &err);
        goto out;
    }
    for (int i = 0; i < a->n_inputs && status == 0; i++) {
        if (a->inputs[i].is_image)
            status = read_pixels(a->inputs[i].value, c->image_size, pixels + (size_t)ni++ * px);
        else
            texts[nt++] = a->inputs[i].value;
    }
    if (status == 0 && ni && gh_clip_embed_images(m, pixels, (size_t)ni, img_out, &err) != GH_OK)
        status = fail("images", &err);
    if (status == 0 && nt && gh_clip_embed_texts(m, texts, (size_t)nt, txt_out, &err) != GH_OK)
        status = fail("texts", &err);
out:
    gh_free(pixels);
    gh_free(texts);
    return status;
}

static int cmd_embed(struct gh_clip_model *m, const struct clip_args *a)
{
    int d = gh_clip_model_config(m)->projection_dim, status, ni = 0, nt = 0;
    float *img = gh_malloc_array((size_t)a->n_images + 1, (size_t)d * sizeof *img);
    float *txt = gh_malloc_array((size_t)a->n_texts + 1, (size_t)d * sizeof *txt);

    if (!img || !txt) {
        fputs("gymhelper clip: out of memory\n", stderr);
        status = 1;
    } else if ((status = embed_all(m, a, img, txt)) == 0) {
        for (int i = 0; i < a->n_inputs; i++)
            print_vec(a->inputs[i].is_image ? img + (size_t)ni++ * (size_t)d
                                            : txt + (size_t)nt++ * (size_t)d,
                      d);
    }
    gh_free(img);
    gh_free(txt);
    return status;
}

struct scored {
    const char *label;
    double p;
};

static int by_p_desc(const void *x, const void *y)
{
    double a = ((const struct scored *)x)->p, b = ((const struct scored *)y)->p;
    return (a < b) - (a > b);
}

/* Softmax over logit_scale * cosine (embeddings are unit vectors: cosine = dot), printed as
 * one JSON array sorted by probability. */
static int print_classes(struct gh_clip_model *m, const struct clip_args *a, const float *img,
                         const float *txt, struct scored *s)
{
    int d = gh_clip_model_config(m)->projection_dim;
    double scale = gh_clip_logit_scale(m), mx = -INFINITY, sum = 0;
    json_t *arr = json_array();
    char *text;

    for (int i = 0; i < a->n_texts; i++) {
        double dot = 0;
        for (int j = 0; j < d; j++)
            dot += (double)img[j] * txt[(size_t)i * (size_t)d + (size_t)j];
        s[i].label = a->inputs[i + 1].value;
        s[i].p = scale * dot;
        mx = s[i].p > mx ? s[i].p : mx;
    }
    for (int i = 0; i < a->n_texts; i++)
        sum += (s[i].p = exp(s[i].p - mx));
    for (int i = 0; i < a->n_texts; i++)
        s[i].p /= sum;
    qsort(s, (size_t)a->n_texts, sizeof *s, by_p_desc);
    for (int i = 0; arr && i < a->n_texts; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:f}", "label", s[i].label, "probability", s[i].p));
    text = arr ? json_dumps(arr, JSON_REAL_PRECISION(9)) : NULL;
    json_decref(arr);
    if (!text) {
        fputs("gymhelper clip: out of memory\n", stderr);
        return 1;
    }
    puts(text);
    gh_free(text); /* jansson allocates with malloc */
    return 0;
}

static int cmd_classify(struct gh_clip_model *m, struct clip_args *a)
{
    int d = gh_clip_model_config(m)->projection_dim, status;
    float *img = gh_malloc_array(1, (size_t)d * sizeof *img);
    float *txt = gh_malloc_array((size_t)a->n_pos, (size_t)d * sizeof *txt);
    struct scored *s = gh_malloc_array((size_t)a->n_pos, sizeof *s);

    /* the labels become --text inputs after the one --image */
    for (int i = 0; i < a->n_pos; i++) {
        a->inputs[1 + i].is_image = 0;
        a->inputs[1 + i].value = a->pos[i];
    }
    a->n_inputs = 1 + a->n_pos;
    a->n_texts = a->n_pos;
    if (!img || !txt || !s) {
        fputs("gymhelper clip: out of memory\n", stderr);
        status = 1;
    } else if ((status = embed_all(m, a, img, txt)) == 0) {
        status = print_classes(m, a, img, txt, s);
    }
    gh_free(img);
    gh_free(txt);
    gh_free(s);
    return status;
}

/* Needs only the tokenizer files, not the weights. */
static int cmd_tokenize(const struct clip_args *a)
{
    struct gh_clip_tokenizer *t = NULL;
    struct gh_err err = {0};
    struct gh_model_ref ref;
    char vocab[GH_MODELS_PATH_CAP + 16], merges[GH_MODELS_PATH_CAP + 16];
    int32_t ids[GH_CLIP_CONTEXT];
    size_t n;
    int status = 0;

    if (gh_models_resolve(a->model, &ref, &err) != GH_OK)
        return fail(a->model, &err);
    snprintf(vocab, sizeof vocab, "%s/vocab.json", ref.dir);
    snprintf(merges, sizeof merges, "%s/merges.txt", ref.dir);
    if (gh_clip_tokenizer_load(vocab, merges, &t, &err) != GH_OK)
        return fail(a->model, &err);
    for (int i = 0; i < a->n_pos && status == 0; i++) {
        if (gh_clip_tokenize(t, a->pos[i], ids, GH_CLIP_CONTEXT, &n, &err) != GH_OK) {
            status = fail(a->pos[i], &err);
            break;
        }
        putchar('[');
        for (size_t j = 0; j < n; j++)
            printf("%s%d", j ? "," : "", (int)ids[j]);
        puts("]");
    }
    gh_clip_tokenizer_free(t);
    return status;
}

/* What runs on this CPU: its ISA line, the kernel set and precision chosen, and the load time
 * (wall clock of gh_clip_load). */
static int cmd_info(const struct clip_args *a)
{
    struct gh_clip_model *m = NULL;
    struct timespec t0, t1;
    json_t *doc;
    int status;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((status = load_model(a, 8, &m)) != 0)
        return status;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:i, s:f}", "cpu", gh_clip_cpu_line(), "isa",
        gh_clip_model_isa(m), "precision", gh_clip_precision_name(gh_clip_model_precision(m)),
        "kernels", gh_clip_model_kernels(m), "digest", gh_clip_model_digest(m), "projection_dim",
        gh_clip_model_config(m)->projection_dim, "load_ms",
        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    if (doc) {
        char *text = json_dumps(doc, JSON_COMPACT);
        if (text)
            puts(text);
        gh_free(text); /* jansson allocates with malloc */
        json_decref(doc);
    }
    gh_clip_free(m);
    return doc ? 0 : 1;
}

static int run_verb(const char *verb, struct clip_args *a)
{
    struct gh_clip_model *m = NULL;
    int status;

    if (strcmp(verb, "tokenize") == 0) {
        if (a->n_inputs || a->n_pos == 0)
            return usage_error("%s takes --model DIR and one or more TEXT arguments", verb);
        return cmd_tokenize(a);
    }
    if (strcmp(verb, "embed") == 0 && (a->n_inputs == 0 || a->n_pos))
        return usage_error("%s takes --image FILE or --text TEXT inputs (and nothing else)", verb);
    if (strcmp(verb, "classify") == 0 && (a->n_images != 1 || a->n_texts || a->n_pos == 0))
        return usage_error("%s takes one --image FILE and one or more LABEL arguments", verb);
    if (strcmp(verb, "info") == 0 && (a->n_inputs || a->n_pos))
        return usage_error("%s takes --model MODEL only", verb);
    if (strcmp(verb, "info") == 0)
        return cmd_info(a);
    if ((status = load_model(a, strcmp(verb, "embed") == 0 ? 8 : 1, &m)) != 0)
        return status;
    status = strcmp(verb, "embed") == 0 ? cmd_embed(m, a) : cmd_classify(m, a);
    gh_clip_free(m);
    return status;
}

int gh_cli_clip(int argc, char **argv)
{
    struct clip_args a = {0};
    const char *verb = argc > 1 ? argv[1] : "";
    int status;

    if (argc < 2 || (strcmp(verb, "embed") != 0 && strcmp(verb, "classify") != 0 &&
                     strcmp(verb, "tokenize") != 0 && strcmp(verb, "info") != 0)) {
        if (argc >= 2 && (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0)) {
            fputs(clip_usage, stdout);
            return 0;
        }
        fputs(clip_usage, stderr);
        return 2;
    }
    if (!(a.inputs = gh_malloc_array((size_t)argc + 1, sizeof *a.inputs))) {
        fputs("gymhelper clip: out of memory\n", stderr);
        return 1;
    }
    status = parse_args(argc - 1, argv + 1, &a);
    if (status == 1)
        status = 0;
    else if (status == 0)
        status = run_verb(verb, &a);
    gh_free(a.inputs);
    return status;
}
