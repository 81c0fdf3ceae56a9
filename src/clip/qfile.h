/* SPDX-License-Identifier: MIT */
/* The packed weight files of `gymhelper model quantize` (qfile.c): the model's layer weights
 * packed (and for int8 quantised) as the loader would, mapped at load instead. Internal to
 * src/clip. */
#ifndef GH_CLIP_QFILE_H
#define GH_CLIP_QFILE_H

#include "gh/err.h"
#include "kernels/kernels.h"

/* Its name inside the model directory for prec: "gymhelper-int8.bin", "-bf16", "-f32". */
const char *gh_qfile_name(enum gh_kern_prec prec);

struct gh_qfile;

/* Writes the n weights w (all of one precision, packed by gh_kern_pack with wmax; wmax is
 * ignored but for int8) for the model with digest (64 hex characters) to path: a temporary file
 * renamed into place. Errors: GH_EIO. */
int gh_qfile_write(const char *path, const char *digest, int wmax, const struct gh_kern_w *const *w,
                   int n, struct gh_err *err) GH_MUST_CHECK;

/* Maps path and points each w[i] (prec, k, n, kp, n_panels set by gh_kern_w_shape, raw[] NULL)
 * at its data (and for int8 its scales and column sums) inside the mapping, which *out owns.
 * Errors: GH_ENOTFOUND (no file), GH_EMISMATCH (a file of another version, model, precision,
 * weight range or byte order: nothing is said in err), GH_EINVAL (malformed or truncated: err
 * names the file), GH_EIO, GH_ENOMEM. */
int gh_qfile_map(const char *path, const char *digest, int wmax, struct gh_kern_w *const *w, int n,
                 struct gh_qfile **out, struct gh_err *err) GH_MUST_CHECK;

/* Unmaps (the weights pointing into it are then invalid). NULL is a no-op. */
void gh_qfile_close(struct gh_qfile *q);

#endif
