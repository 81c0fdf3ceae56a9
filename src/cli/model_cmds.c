/* SPDX-License-Identifier: MIT */
/* `gymhelper model pull [NAME]`, `gymhelper model list` and `gymhelper model quantize MODEL`:
 * fetch a CLIP checkpoint from the Hugging Face Hub into the model cache, show what is there,
 * and store a model's int8 weights for loads to map. */
#include "cli.h"

#include "gh/alloc.h"
#include "gh/clip.h"
#include "gh/models.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char model_usage[] =
    "usage: gymhelper model pull [--revision REV] [--endpoint URL] [NAME]\n"
    "       gymhelper model list\n"
    "       gymhelper model quantize [--precision int8|bf16|f32] MODEL\n"
    "\n"
    "pull  downloads a CLIP checkpoint (config.json, model.safetensors, vocab.json,\n"
    "      merges.txt) from the Hugging Face Hub into $XDG_CACHE_HOME/gymhelper/models/NAME\n"
    "      (~/.cache/... when XDG_CACHE_HOME is unset). NAME defaults to\n"
    "      " GH_MODELS_DEFAULT_NAME " at a pinned revision; other models default to\n"
    "      'main'. An interrupted download resumes; every file is checked (size, SHA-256)\n"
    "      before it is used. HF_ENDPOINT (or --endpoint) points at a mirror.\n"
    "      --if-missing: nothing to do (and no network) when NAME is already pulled;\n"
    "      --connect-timeout-ms: give up on an unreachable host sooner (default 15000).\n"
    "list  prints the pulled models: name, revision, size, and whether each is complete.\n"
    "quantize  stores MODEL's layer weights packed for the engine in MODEL/gymhelper-int8.bin\n"
    "      (default: int8 with per-channel scales, for this CPU's kernels; GH_CLIP_ISA picks\n"
    "      others), -bf16.bin or -f32.bin, which a load in that CLIP_PRECISION then maps\n"
    "      instead of packing: the same embeddings, loaded in a fraction of the time.\n"
    "      MODEL: a directory or a pulled name.\n"
    "\n"
    "Use a pulled model with CLIP_MODEL=NAME (AI_PROVIDER=auto uses the default one when it\n"
    "is pulled).\n";

static int pull(int argc, char **argv)
{
    static const struct option opts[] = {
        {"revision", required_argument, NULL, 'r'},
        {"endpoint", required_argument, NULL, 'e'},
        {"if-missing", no_argument, NULL, 'm'},
        {"connect-timeout-ms", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct gh_models_pull_opts po = {0};
    struct gh_model_ref ref;
    struct gh_err err = {0};
    const char *name = GH_MODELS_DEFAULT_NAME;
    int c, if_missing = 0;
    long ms;

    optind = 1;
    while ((c = getopt_long(argc, argv, "r:e:h", opts, NULL)) != -1) {
        if (c == 'r')
            po.revision = optarg;
        else if (c == 'e')
            po.endpoint = optarg;
        else if (c == 'm')
            if_missing = 1;
        else if (c == 't' && gh_cli_parse_long(optarg, 1, 600000, &ms) == 0)
            po.connect_timeout_ms = ms;
        else if (c == 'h') {
            fputs(model_usage, stdout);
            return 0;
        } else {
            fputs(model_usage, stderr);
            return 2;
        }
    }
    if (optind < argc)
        name = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "gymhelper model pull: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    /* complete and verified when pulled: nothing to do, and no network needed */
    if (if_missing && gh_models_resolve(name, &ref, &err) == GH_OK)
        return 0;
    memset(&err, 0, sizeof err);
    po.log = stderr;
    po.progress = isatty(STDERR_FILENO); /* a bar in a log file is noise */
    fprintf(stderr, "pulling %s\n", name);
    if (gh_models_pull(name, &po, &ref, &err) != GH_OK) {
        fprintf(stderr, "gymhelper: %s\n", err.msg);
        return 1;
    }
    printf("pulled %s into %s\n", ref.name, ref.dir);
    return 0;
}

static void human_size(int64_t bytes, char *out, size_t cap)
{
    if (bytes >= 1000 * 1000)
        snprintf(out, cap, "%.1f MB", (double)bytes / 1e6);
    else if (bytes >= 1000)
        snprintf(out, cap, "%.1f kB", (double)bytes / 1e3);
    else
        snprintf(out, cap, "%lld B", (long long)bytes);
}

static int list(int argc, char **argv)
{
    struct gh_model_info *v = NULL;
    struct gh_err err = {0};
    char root[GH_MODELS_PATH_CAP], size[32], status[GH_MODELS_NAME_CAP + 64];
    size_t n = 0;

    (void)argv;
    if (argc > 1) {
        fputs(model_usage, stderr);
        return 2;
    }
    if (gh_models_root(root, sizeof root, &err) != GH_OK || gh_models_list(&v, &n, &err) != GH_OK) {
        fprintf(stderr, "gymhelper: %s\n", err.msg);
        return 1;
    }
    if (n == 0) {
        printf("no models pulled yet in %s: run `gymhelper model pull`\n", root);
        return 0;
    }
    printf("%-40s %-40s %10s  %s\n", "NAME", "REVISION", "SIZE", "STATUS");
    for (size_t i = 0; i < n; i++) {
        human_size(v[i].bytes, size, sizeof size);
        if (v[i].complete)
            snprintf(status, sizeof status, "complete");
        else
            snprintf(status, sizeof status, "incomplete (run `gymhelper model pull %s` to finish)",
                     v[i].name);
        printf("%-40s %-40s %10s  %s\n", v[i].name, v[i].revision[0] ? v[i].revision : "-", size,
               status);
    }
    gh_free(v);
    return 0;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int quantize(int argc, char **argv)
{
    struct gh_clip_load_opts opts = {.precision = GH_CLIP_PRECISION_INT8, .max_batch = 1};
    struct gh_clip_model *m = NULL;
    struct gh_model_ref ref;
    struct gh_err err = {0};
    char path[GH_MODELS_PATH_CAP + 32];
    const char *model = NULL;
    double t0 = mono_ms();
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(model_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc) {
            if (gh_clip_precision_parse(argv[++i], &opts.precision, NULL) != GH_OK ||
                opts.precision == GH_CLIP_PRECISION_AUTO) {
                fprintf(stderr,
                        "gymhelper model quantize: --precision %s: expected int8, bf16 "
                        "or f32\n",
                        argv[i]);
                return 2;
            }
        } else if (argv[i][0] != '-' && !model) {
            model = argv[i];
        } else {
            fputs("gymhelper model quantize: expected [--precision int8|bf16|f32] MODEL (a "
                  "directory or a pulled name)\n",
                  stderr);
            return 2;
        }
    }
    if (!model) {
        fputs("gymhelper model quantize: expected one MODEL (a directory or a pulled name)\n",
              stderr);
        return 2;
    }
    if ((rc = gh_models_resolve(model, &ref, &err)) == GH_OK &&
        (rc = gh_clip_load(ref.dir, &opts, &m, &err)) == GH_OK)
        rc = gh_clip_save_packed(m, path, sizeof path, &err);
    if (rc != GH_OK) {
        fprintf(stderr, "gymhelper model quantize: %s: %s [%s]\n", model, err.msg,
                gh_err_name(err.code));
        gh_clip_free(m);
        return 1;
    }
    printf("wrote %s in %.1f s (%s)\n", path, (mono_ms() - t0) / 1e3, gh_clip_model_kernels(m));
    gh_clip_free(m);
    return 0;
}

int gh_cli_model(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "quantize") == 0)
        return quantize(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "pull") == 0)
        return pull(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return list(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(model_usage, stdout);
        return 0;
    }
    fputs(model_usage, stderr);
    return 2;
}
