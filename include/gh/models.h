/* SPDX-License-Identifier: MIT */
/* Pulled CLIP models: where they live ($XDG_CACHE_HOME/gymhelper/models/<owner>/<name>/), how
 * a CLIP_MODEL value (a directory or a pulled name) resolves to a checkpoint directory, and the
 * download from the Hugging Face Hub (resumable, checksummed, atomic). No Hub API calls beyond
 * the file endpoint {endpoint}/{repo}/resolve/{revision}/{file}; no authentication. */
#ifndef GH_MODELS_H
#define GH_MODELS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gh/err.h"

#define GH_MODELS_DEFAULT_NAME "openai/clip-vit-base-patch32"
/* A commit of that Hub repository whose tree has model.safetensors (pinned, so every machine
 * gets the same weights and the text-embedding cache key stays valid). */
#define GH_MODELS_DEFAULT_REVISION "d15b5f29721ca72dac15f8526b284be910de18be"
#define GH_MODELS_ENDPOINT         "https://huggingface.co"
/* Written into a model's directory by `model pull`: name, revision, each verified file. */
#define GH_MODELS_MANIFEST "gymhelper-pull.json"

#define GH_MODELS_NAME_CAP     128
#define GH_MODELS_REVISION_CAP 96
#define GH_MODELS_PATH_CAP     4096

/* The files of a checkpoint directory, as gh_clip_load reads them: i-th name for i <
 * GH_MODELS_N_FILES, else NULL. */
#define GH_MODELS_N_FILES 4
const char *gh_models_file(size_t i);

/* Where pulled models live: $XDG_CACHE_HOME/gymhelper/models when XDG_CACHE_HOME is an
 * absolute path, else $HOME/.cache/gymhelper/models. Creates nothing. Errors: GH_EINVAL
 * (neither variable usable, or the path does not fit cap). */
int gh_models_root(char *out, size_t cap, struct gh_err *err) GH_MUST_CHECK;

/* 1 when name is a Hub repository id "owner/name" (letters, digits, '-', '_', '.'; no "..";
 * each part at most 96 bytes), else 0. */
int gh_models_name_ok(const char *name);

/* A checkpoint directory and the name it goes by in answers and logs. */
struct gh_model_ref {
    char dir[GH_MODELS_PATH_CAP];
    char name[GH_MODELS_NAME_CAP]; /* the pulled name, or the directory's basename */
};

/* Resolves a CLIP_MODEL value (or a CLI --model): an existing directory is used as is (its
 * basename is the name); anything else must be the name of a pulled model with every
 * gh_models_file present. Errors: GH_ENOTFOUND ("CLIP model X not found: run `gymhelper model
 * pull X`", or "... is not completely pulled"), GH_EINVAL (neither a directory nor a valid
 * name; no cache directory). Thread-safe. */
int gh_models_resolve(const char *value, struct gh_model_ref *out,
                      struct gh_err *err) GH_MUST_CHECK;

/* GH_OK with *out filled when the default model has been pulled completely, else
 * GH_ENOTFOUND (nothing pulled, or no cache directory). */
int gh_models_find_default(struct gh_model_ref *out) GH_MUST_CHECK;

struct gh_model_info {
    char name[GH_MODELS_NAME_CAP];
    char revision[GH_MODELS_REVISION_CAP]; /* "" when no manifest says */
    char dir[GH_MODELS_PATH_CAP];
    int64_t bytes; /* every file in the directory, partial downloads included */
    int complete;  /* manifest says complete and every file is there */
};

/* The models under gh_models_root(), sorted by name. *out (gh_free) may be NULL when *n is 0.
 * A missing root is an empty list. Errors: GH_EINVAL (no cache directory), GH_ENOMEM. */
int gh_models_list(struct gh_model_info **out, size_t *n, struct gh_err *err) GH_MUST_CHECK;

struct gh_models_pull_opts {
    const char *endpoint; /* NULL: $HF_ENDPOINT, else GH_MODELS_ENDPOINT */
    const char *revision; /* NULL: GH_MODELS_DEFAULT_REVISION for the default name, else "main" */
    FILE *log;            /* one line per file; NULL: silent */
    int progress;         /* redraw a progress bar on log (the caller checks it is a terminal) */
    long connect_timeout_ms; /* 0: 15000 */
    long stall_timeout_s;    /* abort a transfer that moves no byte for this long; 0: 60 */
};

/* Downloads every gh_models_file of repository name into <root>/<name>/. Each file goes to
 * <file>.part, resumed with a Range request when one is left from an earlier try; verified
 * against the Hub's X-Linked-Size and X-Linked-Etag (SHA-256) for large files or the
 * Content-Length for small ones; renamed into place only once verified. A file already
 * verified at the same revision is not fetched again. Errors: GH_EBACKEND (cannot reach the
 * host: the message names it; HTTP errors; an interrupted transfer, its partial file kept),
 * GH_EDECODE (verification failed: expected vs got, the download deleted), GH_EIO (disk),
 * GH_EINVAL (bad name, revision or endpoint), GH_ENOMEM. *out is filled on success. Not
 * thread-safe against another pull of the same model. */
int gh_models_pull(const char *name, const struct gh_models_pull_opts *opts,
                   struct gh_model_ref *out, struct gh_err *err) GH_MUST_CHECK;

#endif
