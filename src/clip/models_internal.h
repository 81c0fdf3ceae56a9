/* SPDX-License-Identifier: MIT */
/* Shared by the model registry (models.c), the downloader (pull.c) and the text-embedding cache
 * (zeroshot.c): the manifest that `model pull` keeps in a model's directory, so `model list`
 * and the next pull know the revision and which files were verified, and the file helpers. */
#ifndef GH_CLIP_MODELS_INTERNAL_H
#define GH_CLIP_MODELS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"
#include "gh/models.h"

struct gh_manifest_file {
    int verified; /* downloaded, checked and renamed into place */
    int64_t size;
    char sha256[65]; /* "" when the Hub gave no X-Linked-Etag (small files) */
};

struct gh_manifest {
    char name[GH_MODELS_NAME_CAP];
    char revision[GH_MODELS_REVISION_CAP];
    int complete;
    struct gh_manifest_file files[GH_MODELS_N_FILES]; /* in gh_models_file order */
};

/* Reads dir/GH_MODELS_MANIFEST. GH_ENOTFOUND when there is none, GH_EINVAL when it does not
 * parse (the caller starts afresh); *m is zeroed first either way. */
int gh_manifest_read(const char *dir, struct gh_manifest *m) GH_MUST_CHECK;

/* Writes it atomically (temporary file, fsync, rename). Errors: GH_EIO, GH_ENOMEM. */
int gh_manifest_write(const char *dir, const struct gh_manifest *m,
                      struct gh_err *err) GH_MUST_CHECK;

/* Replaces path with len bytes of buf so that a reader sees the old file or the whole new one
 * (temporary file beside it, fsync, rename; the temporary file removed on failure). Errors:
 * GH_EIO naming path and the reason, GH_EINVAL (path too long). */
int gh_models_write_atomic(const char *path, const void *buf, size_t len,
                           struct gh_err *err) GH_MUST_CHECK;

/* Joins a and b with '/' into out; GH_EINVAL when it does not fit. */
int gh_models_join(char *out, size_t cap, const char *a, const char *b,
                   struct gh_err *err) GH_MUST_CHECK;

/* mkdir -p with mode 0755. Errors: GH_EIO naming the path. */
int gh_models_mkdirs(const char *path, struct gh_err *err) GH_MUST_CHECK;

#endif
