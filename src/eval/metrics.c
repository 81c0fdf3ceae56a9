/* SPDX-License-Identifier: MIT */
/* The arithmetic of `gymhelper eval`: accuracy, the confusion matrix, calibration. Expected
 * calibration error as in Guo et al., "On Calibration of Modern Neural Networks" (ICML 2017),
 * with GH_EVAL_BINS equal-width bins over the top-1 confidence. */
#include "gh/eval.h"

#include "gh/alloc.h"

#include <math.h>
#include <string.h>

static double clamp01(double x)
{
    if (!(x > 0)) /* NaN too */
        return 0;
    return x > 1 ? 1 : x;
}

static int bin_of(double conf)
{
    int b = (int)(conf * GH_EVAL_BINS);

    return b >= GH_EVAL_BINS ? GH_EVAL_BINS - 1 : b;
}

static void count(struct gh_eval_metrics *m, const struct gh_eval_pred *p)
{
    int k = p->failed || p->top[0] < 0 || p->top[0] >= m->n_classes ? m->n_classes : p->top[0];
    int right = !p->failed && k == p->truth;

    m->confusion[(size_t)p->truth * (size_t)(m->n_classes + 1) + (size_t)k]++;
    m->top1 += right;
    for (int i = 0; i < GH_EVAL_TOP && !p->failed; i++) {
        if (p->top[i] == p->truth) {
            m->topk++;
            break;
        }
    }
    m->not_sure += p->failed || p->not_sure;
    if (p->failed) {
        m->failed++;
        return;
    }
    double conf = clamp01(p->confidence);
    struct gh_eval_bin *b = &m->bins[bin_of(conf)];

    b->n++;
    b->correct += right;
    b->conf_sum += conf;
    m->n_calibrated++;
}

int gh_eval_metrics_compute(const struct gh_eval_pred *p, size_t n, int n_classes,
                            struct gh_eval_metrics *m, struct gh_err *err)
{
    size_t cells;

    memset(m, 0, sizeof *m);
    if (n_classes <= 0)
        return gh_err_set(err, GH_EINVAL, "no classes to evaluate");
    m->n_classes = n_classes;
    cells = (size_t)n_classes * (size_t)(n_classes + 1);
    m->confusion = gh_malloc_array(cells, sizeof *m->confusion);
    if (!m->confusion)
        return gh_err_set(err, GH_ENOMEM, "out of memory for the confusion matrix");
    memset(m->confusion, 0, cells * sizeof *m->confusion);
    for (size_t i = 0; i < n; i++) {
        if (p[i].truth < 0 || p[i].truth >= n_classes) {
            gh_eval_metrics_fini(m);
            return gh_err_set(err, GH_EINVAL, "photo %zu has no class", i);
        }
        count(m, &p[i]);
    }
    m->n = (int64_t)n;
    for (int b = 0; b < GH_EVAL_BINS && m->n_calibrated > 0; b++) {
        const struct gh_eval_bin *x = &m->bins[b];

        if (x->n == 0)
            continue;
        m->ece += (double)x->n / (double)m->n_calibrated *
                  fabs((double)x->correct / (double)x->n - x->conf_sum / (double)x->n);
    }
    return GH_OK;
}

void gh_eval_metrics_fini(struct gh_eval_metrics *m)
{
    gh_free(m->confusion);
    memset(m, 0, sizeof *m);
}

int64_t gh_eval_support(const struct gh_eval_metrics *m, int c)
{
    int64_t s = 0;

    for (int j = 0; j <= m->n_classes; j++)
        s += m->confusion[(size_t)c * (size_t)(m->n_classes + 1) + (size_t)j];
    return s;
}

double gh_eval_recall(const struct gh_eval_metrics *m, int c)
{
    int64_t s = gh_eval_support(m, c);

    if (s == 0)
        return -1;
    return (double)m->confusion[(size_t)c * (size_t)(m->n_classes + 1) + (size_t)c] / (double)s;
}

uint64_t gh_eval_rank(const char *name, uint64_t seed)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (int i = 0; i < 8; i++) {
        h ^= (seed >> (8 * i)) & 0xff;
        h *= UINT64_C(0x100000001b3);
    }
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        h ^= *s;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}
