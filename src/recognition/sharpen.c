/* SPDX-License-Identifier: MIT */
/* Tip-Adapter's training-free cache model (Zhang et al., "Tip-Adapter: Training-free
 * Adaption of CLIP for Few-shot Classification", ECCV 2022, eq. 6) applied to a zero-shot
 * result: the remembered neighbours' labels, weighted by exp(-beta (1 - cosine)), are added to
 * the zero-shot logits. The zero-shot module hands out probabilities of its top classes, not
 * logits; since softmax(l + alpha a) = p e^(alpha a) / sum p e^(alpha a), the probabilities
 * are enough, and every class without a neighbour keeps its share. */
#include "gh/recognition.h"

#include <math.h>
#include <string.h>

struct vote {
    const char *slug; /* the catalogue's */
    double p, a;
};

static int find(const struct vote *v, int n, const char *slug)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].slug, slug) == 0)
            return i;
    return -1;
}

void gh_vmem_sharpen(const struct gh_catalogue *cat, const struct gh_vmem_hit *hits, int n_hits,
                     double alpha, double beta, struct gh_zeroshot_result *r)
{
    struct vote v[GH_ZEROSHOT_TOP_MAX + GH_VMEM_K_MAX];
    double top_mass = 0, last, rest, z = 1;
    int n = 0, voted = 0;

    if (r->not_gym || r->n_top == 0 || n_hits <= 0)
        return;
    for (int i = 0; i < r->n_top; i++) {
        v[n++] = (struct vote){r->top[i].slug, r->top[i].p, 0};
        top_mass += r->top[i].p;
    }
    last = r->top[r->n_top - 1].p;
    rest = 1 - top_mass - r->negative_mass;
    for (int i = 0; i < n_hits && i < GH_VMEM_K_MAX; i++) {
        const struct gh_equipment *q = gh_catalogue_find(cat, hits[i].slug);
        int j;

        if (!q || !gh_vmem_source_confirmed(hits[i].source))
            continue;
        j = find(v, n, q->slug);
        if (j < 0) {
            /* unseen class: at most what the top list leaves, and no more than its last */
            double p = rest < last ? rest : last;

            j = n++;
            v[j] = (struct vote){q->slug, p > 0 ? p : 0, 0};
            rest -= v[j].p;
        }
        v[j].a += exp(-beta * (1 - hits[i].similarity));
        voted = 1;
    }
    if (!voted)
        return;
    for (int i = 0; i < n; i++)
        z += v[i].p * (exp(alpha * v[i].a) - 1);
    for (int i = 0; i < n; i++)
        v[i].p = v[i].p * exp(alpha * v[i].a) / z;
    /* best first, the top list's length kept (it may gain a neighbour's class) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1].p < v[j].p; j--) {
            struct vote t = v[j];

            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    r->n_top = n < GH_ZEROSHOT_TOP_MAX ? n : GH_ZEROSHOT_TOP_MAX;
    for (int i = 0; i < r->n_top; i++) {
        r->top[i].slug = v[i].slug;
        r->top[i].p = v[i].p;
    }
    r->negative_mass /= z;
    r->negative_p /= z;
}
