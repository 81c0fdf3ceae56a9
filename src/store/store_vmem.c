/* SPDX-License-Identifier: MIT */
/* The store interface's visual-memory operations: argument checks, then the backend
 * (sqlite_vmem.c, pg_vmem.c). */
#include "internal.h"

#include <string.h>

static int check_text(const char *s, size_t cap, const char *field, struct gh_err *err)
{
    if (!memchr(s, '\0', cap))
        return gh_err_set(err, GH_EINVAL, "the %s field is not terminated within %zu bytes", field,
                          cap);
    return GH_OK;
}

int gh_store_vmem_add(struct gh_store *st, struct gh_vmem_row *row, struct gh_err *err)
{
    int rc;

    if (!st || !row)
        return gh_err_set(err, GH_EINVAL, "no store or no row given");
    if (row->dim < 1 || row->dim > GH_STORE_VMEM_DIM_MAX)
        return gh_err_set(err, GH_EINVAL, "an embedding of %d values is outside 1..%d", row->dim,
                          GH_STORE_VMEM_DIM_MAX);
    rc = check_text(row->sha256, sizeof row->sha256, "sha256", err);
    if (rc == GH_OK)
        rc = check_text(row->slug, sizeof row->slug, "slug", err);
    if (rc == GH_OK)
        rc = check_text(row->source, sizeof row->source, "source", err);
    if (rc == GH_OK)
        rc = check_text(row->model, sizeof row->model, "model", err);
    if (rc == GH_OK && (!row->slug[0] || !row->source[0] || !row->model[0]))
        rc = gh_err_set(err, GH_EINVAL, "a remembered photo needs a label, a source and a model");
    return rc ? rc : st->ops->vmem_add(st, row, err);
}

int gh_store_vmem_list(struct gh_store *st, const char *model, int64_t after_id,
                       int64_t min_created_at, size_t limit, struct gh_vmem_row *out, size_t *n_out,
                       struct gh_err *err)
{
    if (n_out)
        *n_out = 0;
    if (!st || !model || !out || !n_out)
        return gh_err_set(err, GH_EINVAL, "no store, model or output given");
    if (limit < 1 || limit > 10000)
        return gh_err_set(err, GH_EINVAL, "limit %zu is outside 1..10000", limit);
    return st->ops->vmem_list(st, model, after_id, min_created_at, limit, out, n_out, err);
}

int gh_store_vmem_prune(struct gh_store *st, int64_t before_created_at, int64_t keep_max,
                        int64_t *n_deleted, struct gh_err *err)
{
    int64_t n = 0;
    int rc;

    if (n_deleted)
        *n_deleted = 0;
    if (!st || keep_max < 0)
        return gh_err_set(err, GH_EINVAL, "no store given, or a negative cap");
    rc = st->ops->vmem_prune(st, before_created_at, keep_max, &n, err);
    if (rc == GH_OK && n_deleted)
        *n_deleted = n;
    return rc;
}

/* ---- measured escalation ---- */

int gh_store_quality_add(struct gh_store *st, const struct gh_quality_sample *s, struct gh_err *err)
{
    int rc;

    if (!st || !s)
        return gh_err_set(err, GH_EINVAL, "no store or no sample given");
    rc = check_text(s->sha256, sizeof s->sha256, "sha256", err);
    if (rc == GH_OK)
        rc = check_text(s->clip_slug, sizeof s->clip_slug, "clip_slug", err);
    if (rc == GH_OK)
        rc = check_text(s->paid_slug, sizeof s->paid_slug, "paid_slug", err);
    if (rc == GH_OK && !(s->clip_confidence >= 0 && s->clip_confidence <= 1))
        rc = gh_err_set(err, GH_EINVAL, "CLIP's confidence is outside 0..1");
    return rc ? rc : st->ops->quality_add(st, s, err);
}

int gh_store_quality_buckets(struct gh_store *st, int64_t since, struct gh_quality_bucket *out,
                             struct gh_err *err)
{
    if (!st || !out)
        return gh_err_set(err, GH_EINVAL, "no store or no output given");
    memset(out, 0, GH_QUALITY_BUCKETS * sizeof *out);
    return st->ops->quality_buckets(st, since, out, err);
}
