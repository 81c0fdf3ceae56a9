/* SPDX-License-Identifier: MIT */
/* Corrections that teach without poisoning (issue 11): a person's correction is theirs at once
 * (personal.c) and one vote; the photo's shared answer (store, Redis, every instance) changes
 * on a trusted or admin correction, an admin's accept, or a quorum of distinct people agreeing.
 * A quorum never overrides a shared answer that is a correction already: only a trusted person
 * or an admin does, so a few accounts cannot take a corrected photo back. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/log.h"
#include "gh/store_corrections.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Rewrites fix's image entries everywhere the cache layers keep them. */
static void publish(const struct gh_pipeline_parts *pp, struct gh_cache_entry *fix)
{
    if (pp->deps->lru)
        gh_lru_remove(pp->deps->lru, fix->sha256); /* the next hit reads the correction */
    fix->corrected = 1;
    /* Other instances read Redis before their own store: overwrite the image's entries there,
     * or they keep serving the old answer until the TTL ends. */
    if (pp->deps->redis &&
        gh_redis_put(pp->deps->redis, fix, GH_REDIS_KEY_SHA | GH_REDIS_KEY_PHASH) != GH_OK)
        gh_logf(GH_LOG_WARN,
                "the correction of %.16s... could not be written to redis; other instances may "
                "serve the old answer until it expires there",
                fix->sha256);
}

/* The cached answer the person was served for photo sha256 (pHash phash, 0: unknown) into
 * *out: the photo's own entry (store, else Redis: an answer this instance served from Redis
 * was never in its own store), else the near duplicate's whose answer it was (the near layer
 * keeps no row per copy: the store within CACHE_MAX_DISTANCE, else Redis by exact pHash).
 * 1 when found. */
static int served_entry(const struct gh_pipeline_parts *pp, const char *sha256, uint64_t phash,
                        int64_t now, struct gh_cache_entry *out)
{
    struct gh_err serr = {0};
    int distance = 0;

    if (gh_store_get_exact(pp->deps->store, sha256, now, out, &serr) == GH_OK)
        return 1;
    if (pp->deps->redis && gh_redis_get_sha(pp->deps->redis, sha256, now, out) == GH_OK)
        return 1;
    if (!phash)
        return 0;
    if (gh_store_get_near(pp->deps->store, phash, pp->cfg->max_distance, now, out, &distance,
                          &serr) == GH_OK)
        return 1;
    return pp->deps->redis && gh_redis_get_phash(pp->deps->redis, phash, now, out) == GH_OK;
}

/* Makes slug the shared answer of photo sha256: its cached answer with the equipment replaced,
 * "corrected": true, expiring when it did (repeating a correction never renews it). When that
 * answer was a near duplicate's, the near duplicate's entry is corrected: it is what answers
 * the photo and its copies. With override 0 a shared answer that is a correction already is
 * kept: GH_ECONFLICT with *kept = 1. */
static int shared_apply(const struct gh_pipeline_parts *pp, int64_t ident_id, const char *sha256,
                        uint64_t phash, const char *slug, int override, int64_t now, int *kept,
                        struct gh_err *err)
{
    struct gh_cache_entry cached, fix;
    char *answer = NULL;
    int rc;

    *kept = 0;
    memset(&cached, 0, sizeof cached);
    /* The corrected answer is the cached one with the equipment replaced: without it there is
     * no record of the image's details to build a whole answer from. */
    if (!served_entry(pp, sha256, phash, now, &cached)) {
        gh_cache_entry_fini(&cached);
        return gh_err_set(err, GH_ECONFLICT,
                          "the answer for that photo is no longer cached; upload the photo again "
                          "and correct the new answer");
    }
    /* The memory layer learnt a near duplicate's answer under this photo's own key too. */
    if (pp->deps->lru && strcmp(cached.sha256, sha256) != 0)
        gh_lru_remove(pp->deps->lru, sha256);
    if (cached.corrected && strcmp(cached.equipment_slug, slug) == 0) {
        rc = GH_OK; /* shared already: nothing to write, the expiry stays */
        goto out;
    }
    if (cached.corrected && !override) {
        *kept = 1;
        rc = gh_err_set(err, GH_ECONFLICT,
                        "the photo's shared answer is a correction already; only a trusted "
                        "person or an admin changes it");
        goto out;
    }
    answer = gh_answer_correct(pp->deps->cat, cached.answer_json, slug);
    if (!answer) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory building the corrected answer");
        goto out;
    }
    memset(&fix, 0, sizeof fix);
    copy_str(fix.sha256, sizeof fix.sha256, cached.sha256);
    fix.phash = cached.phash ? cached.phash : phash;
    fix.answer_json = answer;
    copy_str(fix.equipment_slug, sizeof fix.equipment_slug, slug);
    copy_str(fix.provider, sizeof fix.provider, cached.provider);
    copy_str(fix.model, sizeof fix.model, cached.model);
    fix.created_at = now;
    fix.expires_at = cached.expires_at;
    rc = gh_store_correct(pp->deps->store, ident_id, &fix, now, err);
    if (rc == GH_OK)
        publish(pp, &fix);
out:
    gh_free(answer);
    gh_cache_entry_fini(&cached);
    return rc;
}

/* A quorum was reached for vote's slug: make it shared unless the shared answer is somebody's
 * correction already, or the photo is no longer cached (then it stays pending, for an admin).
 * Never fails the person's request: their vote is stored. */
static void quorum_apply(const struct gh_pipeline_parts *pp, struct gh_correction *vote,
                         int64_t now)
{
    struct gh_err e = {0};
    int kept = 0, rc;

    rc = shared_apply(pp, vote->identification_id, vote->sha256, vote->phash, vote->slug, 0, now,
                      &kept, &e);
    if (rc == GH_OK)
        rc = gh_store_correction_set_status(pp->deps->store, vote->id, GH_CORRECTION_APPLIED, now,
                                            &e);
    if (rc == GH_OK)
        vote->status = GH_CORRECTION_APPLIED;
    else if (rc != GH_ECONFLICT)
        gh_logf(GH_LOG_WARN, "a quorum's correction of %.16s... stays pending: %s", vote->sha256,
                e.msg);
}

int gh_pipeline_correct(struct gh_pipeline *p, int64_t ident_id, const char *slug,
                        const char *owner, int trusted, struct gh_identification *out,
                        struct gh_correction *vote, struct gh_err *err)
{
    struct gh_pipeline_parts pp;
    struct gh_identification rec;
    int64_t now = (int64_t)time(NULL);
    int kept, rc;

    gh_pipeline_parts(p, &pp);
    if (!gh_catalogue_find(pp.deps->cat, slug))
        return gh_err_set(err, GH_EINVAL, "'%.64s' is not in the catalogue", slug);
    /* by the number the caller checked: its request id may name a newer analysis by now */
    rc = gh_store_get_identification(pp.deps->store, ident_id, NULL, NULL, &rec, err);
    if (rc)
        return rc;
    if (!rec.sha256[0])
        return gh_err_set(err, GH_ECONFLICT, "that analysis has no image to correct");
    if (trusted) {
        rc = shared_apply(&pp, rec.id, rec.sha256, rec.phash, slug, 1, now, &kept, err);
        if (rc)
            return rc;
    }
    memset(vote, 0, sizeof *vote);
    vote->identification_id = rec.id;
    copy_str(vote->sha256, sizeof vote->sha256, rec.sha256);
    vote->phash = rec.phash;
    copy_str(vote->owner, sizeof vote->owner, owner);
    copy_str(vote->slug, sizeof vote->slug, slug);
    copy_str(vote->previous_slug, sizeof vote->previous_slug, rec.equipment_slug);
    vote->status = trusted ? GH_CORRECTION_APPLIED : GH_CORRECTION_PENDING;
    vote->created_at = now;
    vote->decided_at = trusted ? now : 0;
    rc = gh_store_correction_add(pp.deps->store, vote, err);
    if (rc)
        return rc;
    gh_personal_put(pp.personal, vote);
    if (trusted) /* the pending votes that agree are part of the shared answer now */
        rc = gh_store_correction_set_status(pp.deps->store, vote->id, GH_CORRECTION_APPLIED, now,
                                            err);
    else if (vote->status == GH_CORRECTION_PENDING && vote->votes >= pp.cfg->correction_quorum)
        quorum_apply(&pp, vote, now); /* a vote cast again after a reject stays rejected */
    if (rc == GH_OK) /* as the review API shows it: with the name and the status now */
        rc = gh_store_correction_get(pp.deps->store, vote->id, vote, err);
    if (rc == GH_OK)
        rc = gh_store_get_identification(pp.deps->store, rec.id, NULL, NULL, out, err);
    return rc;
}

int gh_pipeline_review(struct gh_pipeline *p, int64_t id, int accept, struct gh_correction *out,
                       struct gh_err *err)
{
    struct gh_pipeline_parts pp;
    struct gh_correction c;
    int64_t now = (int64_t)time(NULL);
    int kept, rc;

    gh_pipeline_parts(p, &pp);
    rc = gh_store_correction_get(pp.deps->store, id, &c, err);
    if (rc)
        return rc;
    if (accept) {
        rc = shared_apply(&pp, c.identification_id, c.sha256, c.phash, c.slug, 1, now, &kept, err);
        if (rc == GH_OK && c.status != GH_CORRECTION_ACCEPTED)
            rc = gh_store_correction_set_status(pp.deps->store, id, GH_CORRECTION_ACCEPTED, now,
                                                err);
    } else if (c.status == GH_CORRECTION_ACCEPTED || c.status == GH_CORRECTION_APPLIED) {
        rc = gh_err_set(err, GH_ECONFLICT,
                        "correction %lld is the photo's shared answer already; to change that, "
                        "accept another correction or correct the analysis as an admin",
                        (long long)id);
    } else if (c.status != GH_CORRECTION_REJECTED) {
        rc = gh_store_correction_set_status(pp.deps->store, id, GH_CORRECTION_REJECTED, now, err);
    }
    if (rc == GH_OK)
        rc = gh_store_correction_get(pp.deps->store, id, out, err);
    return rc;
}
