/* SPDX-License-Identifier: MIT */
/* CLIP engine timings for bench/clip_bench.py: load (twice; the second, warm, is reported),
 * image embedding at batch 1 and batch N, text embedding, peak RSS. One JSON object on stdout.
 *   clip_bench DIR THREADS RUNS BATCH PROMPT [PRECISION]
 * PRECISION: f32 (default), bf16, int8 or auto; the JSON names the kernels that ran. */
#include "gh/alloc.h"
#include "gh/clip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Peak RSS in KiB: VmHWM, which starts afresh at exec (ru_maxrss keeps the high-water mark of
 * the process that forked us, e.g. the Python script that wrote the weights). */
static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    struct rusage ru;

    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    if (kb < 0 && getrusage(RUSAGE_SELF, &ru) == 0)
        kb = ru.ru_maxrss;
    return kb;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median ms of runs calls embedding n images (one warm-up call first). */
static int time_images(struct gh_clip_model *m, const float *px, size_t n, float *out, int runs,
                       double *ms, struct gh_err *err)
{
    double *t = gh_malloc_array((size_t)runs, sizeof *t);
    int rc = gh_clip_embed_images(m, px, n, out, err);

    for (int i = 0; rc == GH_OK && i < runs; i++) {
        double t0 = now_ms();
        rc = gh_clip_embed_images(m, px, n, out, err);
        t[i] = now_ms() - t0;
    }
    if (rc == GH_OK)
        *ms = median(t, runs);
    gh_free(t);
    return rc;
}

static int time_text(struct gh_clip_model *m, const char *prompt, float *out, int runs, double *ms,
                     struct gh_err *err)
{
    double *t = gh_malloc_array((size_t)runs, sizeof *t);
    int rc = gh_clip_embed_texts(m, &prompt, 1, out, err);

    for (int i = 0; rc == GH_OK && i < runs; i++) {
        double t0 = now_ms();
        rc = gh_clip_embed_texts(m, &prompt, 1, out, err);
        t[i] = now_ms() - t0;
    }
    if (rc == GH_OK)
        *ms = median(t, runs);
    gh_free(t);
    return rc;
}

int main(int argc, char **argv)
{
    struct gh_err err = {0};
    struct gh_clip_model *m = NULL;
    struct gh_clip_load_opts opts = {0};
    double load_ms[2], b1 = 0, bn = 0, txt = 0, t0;
    float *px = NULL, *out = NULL;
    int32_t ids[GH_CLIP_CONTEXT];
    size_t n_ids = 0, img;
    int runs, batch, rc = GH_ENOMEM;

    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: clip_bench DIR THREADS RUNS BATCH PROMPT [PRECISION]\n");
        return 2;
    }
    if (argc == 7 && gh_clip_precision_parse(argv[6], &opts.precision, &err) != GH_OK) {
        fprintf(stderr, "clip_bench: %s\n", err.msg);
        return 2;
    }
    opts.threads = atoi(argv[2]);
    runs = atoi(argv[3]);
    batch = atoi(argv[4]);
    opts.max_batch = batch;
    for (int i = 0; i < 2; i++) {
        gh_clip_free(m);
        m = NULL;
        t0 = now_ms();
        if ((rc = gh_clip_load(argv[1], &opts, &m, &err)) != GH_OK)
            goto out;
        load_ms[i] = now_ms() - t0;
    }
    img = 3 * (size_t)gh_clip_model_config(m)->image_size *
          (size_t)gh_clip_model_config(m)->image_size;
    px = gh_malloc_array((size_t)batch * img, sizeof *px);
    out = gh_malloc_array((size_t)batch, (size_t)gh_clip_model_config(m)->projection_dim * 4);
    if (!px || !out)
        goto out;
    srand(1);
    for (size_t i = 0; i < (size_t)batch * img; i++)
        px[i] = (float)rand() / (float)RAND_MAX * 4.0f - 2.0f;
    if ((rc = time_images(m, px, 1, out, runs, &b1, &err)) != GH_OK ||
        (rc = time_images(m, px, (size_t)batch, out, runs, &bn, &err)) != GH_OK ||
        (rc = time_text(m, argv[5], out, runs, &txt, &err)) != GH_OK ||
        (rc = gh_clip_tokenize(gh_clip_model_tokenizer(m), argv[5], ids, GH_CLIP_CONTEXT, &n_ids,
                               &err)) != GH_OK)
        goto out;
    printf("{\"load_ms\":[%.3f,%.3f],\"image_ms_b1\":%.3f,\"image_ms_per_image_bn\":%.3f,"
           "\"batch\":%d,\"text_ms\":%.3f,\"maxrss_kb\":%ld,\"precision\":\"%s\","
           "\"isa\":\"%s\",\"kernels\":\"%s\",\"cpu\":\"%s\",\"ids\":[",
           load_ms[0], load_ms[1], b1, bn / batch, batch, txt, peak_rss_kb(),
           gh_clip_precision_name(gh_clip_model_precision(m)), gh_clip_model_isa(m),
           gh_clip_model_kernels(m), gh_clip_cpu_line());
    for (size_t i = 0; i < n_ids; i++)
        printf("%s%d", i ? "," : "", (int)ids[i]);
    printf("]}\n");
out:
    if (rc != GH_OK)
        fprintf(stderr, "clip_bench: %s\n", err.msg[0] ? err.msg : "out of memory");
    gh_free(px);
    gh_free(out);
    gh_clip_free(m);
    return rc == GH_OK ? 0 : 1;
}
