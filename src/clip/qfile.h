/* SPDX-License-Identifier: MIT */
/* The int8 weight file of `gymhelper model quantize` (qfile.c): the model's packed int8 layer
 * weights, mapped at load instead of quantised again. Internal to src/clip. */
#ifndef GH_CLIP_QFILE_H
#define GH_CLIP_QFILE_H

#include "gh/err.h"
#include "kernels/kernels.h"

/* Its name inside the model directory. */
#define GH_QFILE_NAME "gymhelper-int8.bin"

struct gh_qfile;

/* Writes the n int8 weights w (packed by gh_kern_pack with wmax) for the model with digest
 * (64 hex characters) to path: a temporary file renamed into place. Errors: GH_EIO. */
int gh_qfile_write(const char *path, const char *digest, int wmax, const struct gh_kern_w *const *w,
                   int n, struct gh_err *err) GH_MUST_CHECK;

/* Maps path and points each w[i] (prec int8; k, n, kp, n_panels set as gh_kern_w_init sets
 * them, raw[] NULL) at its data, scales and column sums inside the mapping, which *out owns.
 * Errors: GH_ENOTFOUND (no file), GH_EMISMATCH (a file for another model, weight range or byte
 * order: nothing is said in err), GH_EINVAL (malformed or truncated: err names the file),
 * GH_EIO, GH_ENOMEM. */
int gh_qfile_map(const char *path, const char *digest, int wmax, struct gh_kern_w *const *w, int n,
                 struct gh_qfile **out, struct gh_err *err) GH_MUST_CHECK;

/* Unmaps (the weights pointing into it are then invalid). NULL is a no-op. */
void gh_qfile_close(struct gh_qfile *q);

#endif
