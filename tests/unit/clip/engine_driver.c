/* SPDX-License-Identifier: MIT */
/* Test driver for the CLIP engine (tests/clip/test_engine.py): embeds raw preprocessed pixels,
 * so the engine is checked against the float64 reference without the image pipeline.
 *   clip_engine_driver DIR MAX_BATCH PIXELS.f32|- [TEXT...]
 * PIXELS.f32: n images of 3 x S x S float32 (CHW, native order), n from the size; "-": none.
 * Prints one JSON array per image, then per text, then {"logit_scale":..,"digest":..}.
 * CLIP_DRIVER_PRECISION=f32|bf16|int8|auto picks the weights' precision (GH_CLIP_ISA the kernels).
 * With CLIP_DRIVER_THREADS=N in the environment, N threads also embed the same images and texts
 * at once; any result that differs from the single-threaded one by more than 1e-6 is reported
 * (exit 1; an image gathered into a larger pass may round differently in the last bit, as
 * test_batch_size_does_not_change_results allows; a pass that mixed up buffers is off by far
 * more): the model's lock must make concurrent calls take turns over its shared work buffers. The
 * threads start each round together (a barrier), so their calls arrive at once;
 * CLIP_DRIVER_BATCH_WAIT_MS sets how long a pass with company waits for more. The last line also
 * gives the process's batch counters (gh_clip_batch_stats): passes, images, calls. */
#include "gh/alloc.h"
#include "gh/clip.h"
#include "gh/file.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
    struct gh_clip_model *m;
    const float *pixels;
    size_t n_img, n_txt;
    const char *const *texts;
    const float *want_img, *want_txt; /* the single-threaded results */
    int d, ok;
    pthread_barrier_t *start; /* each round's start, shared by the threads */
};

static int close_to(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(a[i] - b[i]) <= 1e-6f))
            return 0;
    return 1;
}

static void *concurrent_embed(void *arg)
{
    struct job *j = arg;
    size_t ni = j->n_img * (size_t)j->d, nt = j->n_txt * (size_t)j->d;
    float *img = gh_malloc_array(ni + 1, sizeof *img), *txt = gh_malloc_array(nt + 1, 4);

    j->ok = img && txt;
    for (int rep = 0; rep < 3; rep++) {
        pthread_barrier_wait(j->start); /* every thread waits every round, failed or not */
        j->ok = j->ok &&
                (!j->n_img || gh_clip_embed_images(j->m, j->pixels, j->n_img, img, NULL) == 0) &&
                (!j->n_txt || gh_clip_embed_texts(j->m, j->texts, j->n_txt, txt, NULL) == 0) &&
                close_to(img, j->want_img, ni) && close_to(txt, j->want_txt, nt);
    }
    gh_free(img);
    gh_free(txt);
    return NULL;
}

/* 0 when every thread reproduced the single-threaded embeddings. */
static int check_concurrent(struct job *proto, int n)
{
    pthread_t th[8];
    struct job jobs[8];
    pthread_barrier_t start;
    int bad = 0, started = 0;

    n = n > 8 ? 8 : n < 1 ? 1 : n;
    if (pthread_barrier_init(&start, NULL, (unsigned)n) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        jobs[i] = *proto;
        jobs[i].start = &start;
        if (pthread_create(&th[i], NULL, concurrent_embed, &jobs[i]) != 0)
            break;
        started++;
    }
    if (started < n) { /* the barrier would never open: nothing to join but a deadlock */
        fprintf(stderr, "clip_engine_driver: cannot start %d threads\n", n);
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        bad += !jobs[i].ok;
    }
    pthread_barrier_destroy(&start);
    if (bad)
        fprintf(stderr, "clip_engine_driver: %d of %d concurrent callers got other results\n", bad,
                n);
    return bad ? -1 : 0;
}

static void print_rows(const float *e, size_t n, int d)
{
    for (size_t i = 0; i < n; i++) {
        putchar('[');
        for (int j = 0; j < d; j++)
            printf("%s%.9g", j ? "," : "", (double)e[i * (size_t)d + (size_t)j]);
        puts("]");
    }
}

int main(int argc, char **argv)
{
    struct gh_err err = {0};
    struct gh_clip_model *m = NULL;
    struct gh_clip_load_opts opts = {.threads = 2, .max_batch = 0};
    struct gh_clip_batch_stats bs;
    const char *wait = getenv("CLIP_DRIVER_BATCH_WAIT_MS");
    uint8_t *px = NULL;
    size_t px_len = 0, n_img = 0, n_txt;
    float *out = NULL, *pixels = NULL, *txt_out = NULL;
    const char *conc = getenv("CLIP_DRIVER_THREADS");
    int status = 1, d, s;

    if (argc < 4) {
        fprintf(stderr, "usage: clip_engine_driver DIR MAX_BATCH PIXELS.f32|- [TEXT...]\n");
        return 2;
    }
    opts.max_batch = (int)strtol(argv[2], NULL, 10);
    opts.batch_wait_ms = wait ? (int)strtol(wait, NULL, 10) : 0;
    if (getenv("CLIP_DRIVER_PRECISION") &&
        gh_clip_precision_parse(getenv("CLIP_DRIVER_PRECISION"), &opts.precision, &err) != GH_OK)
        goto out;
    if (gh_clip_load(argv[1], &opts, &m, &err) != GH_OK)
        goto out;
    d = gh_clip_model_config(m)->projection_dim;
    s = gh_clip_model_config(m)->image_size;
    if (strcmp(argv[3], "-") != 0) {
        if (gh_file_read(argv[3], (size_t)1 << 30, &px, &px_len, &err) != GH_OK)
            goto out;
        n_img = px_len / (3 * (size_t)s * (size_t)s * sizeof(float));
        pixels = gh_malloc(px_len + 1); /* aligned copy of the bytes */
        out = gh_malloc_array(n_img + 1, (size_t)d * sizeof *out);
        if (!pixels || !out)
            goto out;
        memcpy(pixels, px, px_len);
        if (gh_clip_embed_images(m, pixels, n_img, out, &err) != GH_OK)
            goto out;
        print_rows(out, n_img, d);
    }
    n_txt = (size_t)(argc - 4);
    if (n_txt) {
        if (!(txt_out = gh_malloc_array(n_txt, (size_t)d * sizeof *txt_out)))
            goto out;
        if (gh_clip_embed_texts(m, (const char *const *)(argv + 4), n_txt, txt_out, &err) != GH_OK)
            goto out;
        print_rows(txt_out, n_txt, d);
    }
    if (conc) {
        struct job proto = {.m = m,
                            .pixels = pixels,
                            .n_img = n_img,
                            .n_txt = n_txt,
                            .texts = (const char *const *)(argv + 4),
                            .want_img = out,
                            .want_txt = txt_out,
                            .d = d};
        if (check_concurrent(&proto, (int)strtol(conc, NULL, 10)) != 0) {
            gh_err_set(&err, GH_EINVAL, "concurrent calls disagree");
            goto out;
        }
    }
    gh_clip_batch_stats(&bs);
    printf("{\"logit_scale\":%.9g,\"digest\":\"%s\",\"kernels\":\"%s\",\"passes\":%llu,"
           "\"images\":%llu,\"calls\":%llu}\n",
           (double)gh_clip_logit_scale(m), gh_clip_model_digest(m), gh_clip_model_kernels(m),
           (unsigned long long)bs.passes, (unsigned long long)bs.images,
           (unsigned long long)bs.calls);
    status = 0;
out:
    if (status)
        fprintf(stderr, "clip_engine_driver: %s\n", err.msg[0] ? err.msg : "out of memory");
    gh_free(out);
    gh_free(txt_out);
    gh_free(pixels);
    gh_free(px);
    gh_clip_free(m);
    return status;
}
