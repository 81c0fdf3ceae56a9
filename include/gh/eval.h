/* SPDX-License-Identifier: MIT */
/* Measuring a recogniser on labelled photos (`gymhelper eval`): the arithmetic (top-1 and top-3
 * accuracy, recall per class, the confusion matrix, calibration as expected calibration error
 * over equal-width confidence bins, the "not sure" rate), the deterministic few-shot split of
 * the visual-memory curve, and the Markdown and self-contained HTML reports (tables, and SVG
 * pictures drawn with presentation attributes only, so the page needs no script and no
 * inline style). Running providers over photos is the command's (src/cli/eval_cmds.c). */
#ifndef GH_EVAL_H
#define GH_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "gh/err.h"

#define GH_EVAL_TOP   3  /* top-k accuracy is reported for k = 1 and this */
#define GH_EVAL_BINS  10 /* calibration bins over [0, 1] */
#define GH_EVAL_SHOTS 6  /* points of the few-shot curve: 0, 1, 2, 4, 8, 16 photos per class */

/* One photo's outcome under one configuration. */
struct gh_eval_pred {
    int truth;            /* its class, 0..n_classes-1 */
    int top[GH_EVAL_TOP]; /* the predicted classes, best first; -1 where none (not identified,
                           * an answer outside the classes, fewer alternatives) */
    double confidence;    /* the recogniser's probability for top[0] (also when top[0] is -1:
                           * "not gym equipment" has a probability too), 0..1 */
    int not_sure;         /* answered as "not sure": under the threshold or nothing named */
    int failed;           /* the provider failed: wrong, "not sure", and out of calibration */
};

struct gh_eval_bin {
    int64_t n, correct; /* predictions whose confidence fell in the bin, top-1 right */
    double conf_sum;    /* sum of their confidences */
};

struct gh_eval_metrics {
    int n_classes;
    int64_t n, top1, topk, not_sure, failed; /* topk: truth among the GH_EVAL_TOP best */
    /* [n_classes][n_classes + 1], truth by row, top-1 by column; column n_classes counts
     * photos whose top-1 named no class (nothing identified, or failed) */
    int64_t *confusion;
    struct gh_eval_bin bins[GH_EVAL_BINS]; /* bin i holds [i/B, (i+1)/B), the last also 1 */
    int64_t n_calibrated;                  /* n - failed */
    double ece; /* sum over bins of n_b / n_calibrated * |accuracy_b - mean confidence_b| */
};

/* Computes m from n predictions over n_classes classes. A truth outside 0..n_classes-1 is
 * GH_EINVAL (a prediction outside is "no class"); confidences are clamped to [0, 1] (NaN
 * counts as 0). m->confusion belongs to m (gh_eval_metrics_fini). Errors: GH_EINVAL, GH_ENOMEM.
 * Pure; thread-safe. */
int gh_eval_metrics_compute(const struct gh_eval_pred *p, size_t n, int n_classes,
                            struct gh_eval_metrics *m, struct gh_err *err) GH_MUST_CHECK;

void gh_eval_metrics_fini(struct gh_eval_metrics *m);

/* Recall of class c (right top-1 over the photos of c); -1 when the class has no photos. */
double gh_eval_recall(const struct gh_eval_metrics *m, int c);

/* Photos of class c (the confusion matrix's row sum). */
int64_t gh_eval_support(const struct gh_eval_metrics *m, int c);

/* A stable rank for a photo within its class from its name and a seed (FNV-1a 64 of both):
 * the few-shot split sorts each class by it, puts the first min(max_shots, n_c - 1) in the pool
 * that memories are drawn from (k shots: the pool's first k) and holds out the rest, so the
 * held-out set is the same for every k. */
uint64_t gh_eval_rank(const char *name, uint64_t seed);

/* The few-shot curve's point i (0..GH_EVAL_SHOTS-1): 0, 1, 2, 4, 8, 16 photos per class. */
int gh_eval_shots(int i);

/* One configuration's column of the report. */
struct gh_eval_config {
    char name[64];  /* as the command line spelt it: "clip", "clip --memory", "openai" */
    char model[96]; /* the model that answered, "" if unknown */
    char note[256]; /* what the reader must know, e.g. which photos were evaluated */
    struct gh_eval_metrics m;
    double ms_per_image; /* wall time over photos, the CLIP embedding included */
    int64_t cost_nd;     /* estimated price of all its calls, nanodollars */
    int ran;             /* 0: it could not run; note says why and m is empty */
};

struct gh_eval_curve_point {
    int shots;                    /* remembered photos per class (at most) */
    int64_t remembered;           /* photos in memory */
    int64_t n, top1, from_memory; /* held-out photos, right, answered by a match */
};

struct gh_eval_report {
    const char *source;         /* the folder or TSV evaluated */
    const char *cpu;            /* the CPU line */
    const char *generated;      /* UTC time, ISO 8601 */
    const char *const *classes; /* slugs, n_classes */
    const char *const *names;   /* display names, n_classes */
    int n_classes;
    int64_t n_photos, n_skipped; /* listed photos read, and those that could not be */
    double threshold;            /* CONFIDENCE_THRESHOLD: under it "not sure" */
    double match_threshold;      /* VISUAL_MATCH_THRESHOLD */
    const struct gh_eval_config *configs;
    int n_configs;
    const struct gh_eval_curve_point *curve; /* NULL: no few-shot curve */
    int n_curve;
    const char *curve_note; /* which configuration and split the curve used */
};

/* The report as Markdown or as one HTML page with inline SVG (no script, no style attribute
 * or element, no external resource: it passes `default-src 'self'`). Text from the inputs is
 * escaped. Returns a NUL-terminated string to gh_free, or NULL when out of memory. */
char *gh_eval_markdown(const struct gh_eval_report *r);
char *gh_eval_html(const struct gh_eval_report *r);

#endif
