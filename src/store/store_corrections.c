/* SPDX-License-Identifier: MIT */
/* The corrections part of the store interface (gh/store_corrections.h): checks every argument
 * once for all backends, then dispatches through struct gh_store_corrections_ops. */
#include "gh/store_corrections.h"
#include "store/internal.h"

#include <string.h>

static const char *const status_names[] = {
    [GH_CORRECTION_PENDING] = "pending",
    [GH_CORRECTION_ACCEPTED] = "accepted",
    [GH_CORRECTION_REJECTED] = "rejected",
    [GH_CORRECTION_APPLIED] = "applied",
};

int gh_correction_status_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = GH_CORRECTION_PENDING; i <= GH_CORRECTION_APPLIED; i++)
        if (strcmp(s, status_names[i]) == 0)
            return i;
    return -1;
}

void gh_store_correction_keep_rejected(struct gh_correction *v, const char *status,
                                       int64_t decided_at)
{
    if (v->status == GH_CORRECTION_PENDING &&
        gh_correction_status_parse(status) == GH_CORRECTION_REJECTED) {
        v->status = GH_CORRECTION_REJECTED;
        v->decided_at = decided_at;
    }
}

const char *gh_correction_status_name(int status)
{
    return status >= GH_CORRECTION_PENDING && status <= GH_CORRECTION_APPLIED ? status_names[status]
                                                                              : NULL;
}

static int check_store(struct gh_store *st, struct gh_err *err)
{
    if (!st || !st->ops->corrections)
        return gh_err_set(err, GH_EINVAL, "no store given");
    return GH_OK;
}

static int check_field(const char *s, size_t cap, int may_be_empty, const char *what,
                       struct gh_err *err)
{
    if (!memchr(s, '\0', cap) || (!may_be_empty && !s[0]))
        return gh_err_set(err, GH_EINVAL, "the correction's %s is missing or too long", what);
    return GH_OK;
}

int gh_store_correction_add(struct gh_store *st, struct gh_correction *c, struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && !c)
        rc = gh_err_set(err, GH_EINVAL, "no correction given");
    if (rc == GH_OK && strnlen(c->sha256, sizeof c->sha256) != GH_STORE_SHA_HEX_CAP - 1)
        rc = gh_err_set(err, GH_EINVAL, "a correction names its photo by SHA-256 (64 hex digits)");
    if (rc == GH_OK)
        rc = check_field(c->owner, sizeof c->owner, 1, "owner", err);
    if (rc == GH_OK)
        rc = check_field(c->slug, sizeof c->slug, 0, "slug", err);
    if (rc == GH_OK)
        rc = check_field(c->previous_slug, sizeof c->previous_slug, 1, "previous slug", err);
    if (rc == GH_OK && !gh_correction_status_name(c->status))
        rc = gh_err_set(err, GH_EINVAL, "unknown correction status %d", c->status);
    if (rc == GH_OK && c->identification_id <= 0)
        rc = gh_err_set(err, GH_EINVAL, "a correction names the identification it corrects");
    return rc ? rc : st->ops->corrections->add(st, c, err);
}

int gh_store_correction_get(struct gh_store *st, int64_t id, struct gh_correction *out,
                            struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && !out)
        rc = gh_err_set(err, GH_EINVAL, "nowhere to put the correction");
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    if (id <= 0)
        return gh_err_set(err, GH_ENOTFOUND, "no correction with that id");
    return st->ops->corrections->get(st, id, out, err);
}

int gh_store_correction_list(struct gh_store *st, int status, int64_t before_id, size_t limit,
                             struct gh_correction *out, size_t *n_out, struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && status != -1 && !gh_correction_status_name(status))
        rc = gh_err_set(err, GH_EINVAL, "unknown correction status %d", status);
    if (rc == GH_OK && (limit < 1 || limit > 1000 || !out || !n_out))
        rc = gh_err_set(err, GH_EINVAL, "limit must be 1..1000");
    if (rc)
        return rc;
    memset(out, 0, limit * sizeof *out);
    *n_out = 0;
    return st->ops->corrections->list(st, status, before_id > 0 ? before_id : INT64_MAX, limit, out,
                                      n_out, err);
}

int gh_store_correction_since(struct gh_store *st, int64_t after_id, size_t limit,
                              struct gh_correction *out, size_t *n_out, struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && (limit < 1 || limit > 10000 || !out || !n_out))
        rc = gh_err_set(err, GH_EINVAL, "limit must be 1..10000");
    if (rc)
        return rc;
    memset(out, 0, limit * sizeof *out);
    *n_out = 0;
    return st->ops->corrections->since(st, after_id, limit, out, n_out, err);
}

int gh_store_correction_set_status(struct gh_store *st, int64_t id, int status, int64_t now,
                                   struct gh_err *err)
{
    int rc = check_store(st, err);

    if (rc == GH_OK && !gh_correction_status_name(status))
        rc = gh_err_set(err, GH_EINVAL, "unknown correction status %d", status);
    if (rc)
        return rc;
    if (id <= 0)
        return gh_err_set(err, GH_ENOTFOUND, "no correction with that id");
    return st->ops->corrections->set_status(st, id, status, now, err);
}
