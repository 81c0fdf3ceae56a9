/* SPDX-License-Identifier: MIT */
/* The analysis pipeline: cache layers from cheapest to dearest, then one provider call per
 * distinct upload in flight (single-flight), then store and answer. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/clock.h"
#include "gh/log.h"
#include "gh/metrics.h"
#include "gh/phash.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECORDER_QUEUE 65536

/* One provider call in progress; identical uploads wait on it instead of calling again. */
struct flight {
    char key[GH_SHA256_HEX_LEN + 1];
    pthread_cond_t cv;
    int done;
    int rc;
    struct gh_err err;
    char *answer; /* stored answer on success */
    size_t answer_len;
    char slug[64];
    char provider[32];
    char model[64];
    double confidence;
    int64_t prompt_tokens, completion_tokens;
    char layer[16];    /* "visual" when the visual memory answered, else "" */
    double similarity; /* of that visual hit */
    int refs;
    struct flight *next;
};

struct gh_pipeline {
    struct gh_pipeline_config cfg;
    struct gh_pipeline_deps deps;
    struct gh_recorder *recorder;
    struct gh_personal *personal; /* each person's own corrections */
    pthread_mutex_t flights_mu;
    struct flight *flights;
    atomic_uint_least64_t requests, memory_hits, redis_hits, redis_phash_hits, exact_hits,
        near_hits, coalesced, misses, provider_errors, store_errors, visual_hits, visual_remembered,
        quality_samples, quality_agree,
        bad_answers; /* answers read back that were damaged or not ours (served as misses) */
    atomic_uint_least64_t coalescing; /* requests waiting for a leader's call now */
    atomic_int_least64_t prompt_tokens, completion_tokens;
    /* The store's breaker (store_admit): 0, or the monotonic ms until which the store is
     * skipped; the current back-off. */
    atomic_int_least64_t store_skip_until, store_backoff;
};

void gh_pipeline_config_defaults(struct gh_pipeline_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->lim = gh_image_limits_default();
    cfg->prep = gh_image_prep_opts_default();
    cfg->cache_ttl_s = 30 * 24 * 3600;
    cfg->max_distance = 4;
    cfg->confidence_threshold = 0.5;
    cfg->visual_threshold = 0.92;
    cfg->visual_k = 8;
    cfg->correction_quorum = 3;
    cfg->personal_refresh_ms = 1000;
}

struct gh_pipeline *gh_pipeline_new(const struct gh_pipeline_config *cfg,
                                    const struct gh_pipeline_deps *deps, struct gh_err *err)
{
    struct gh_pipeline *p;

    if (cfg->max_distance < 0 || cfg->max_distance > 4 || cfg->cache_ttl_s <= 0 ||
        cfg->confidence_threshold < 0 || cfg->confidence_threshold > 1 ||
        cfg->visual_threshold < 0 || cfg->visual_threshold > 1 || cfg->visual_k < 0 ||
        cfg->visual_k > GH_VMEM_K_MAX || cfg->correction_quorum < 1) {
        gh_err_set(err, GH_EINVAL,
                   "cache distance must be 0..4, TTL positive, confidence and visual match "
                   "thresholds 0..1, visual neighbours 0..16, correction quorum at least 1");
        return NULL;
    }
    if (!deps->store || !deps->provider || !deps->cat) {
        gh_err_set(err, GH_EINVAL, "the pipeline needs a store, a provider and a catalogue");
        return NULL;
    }
    p = gh_malloc(sizeof *p);
    if (!p) {
        gh_err_set(err, GH_ENOMEM, "out of memory creating the pipeline");
        return NULL;
    }
    memset(p, 0, sizeof *p);
    p->cfg = *cfg;
    p->deps = *deps;
    p->recorder = gh_recorder_new(deps->store, RECORDER_QUEUE);
    p->personal = gh_personal_new(deps->store, deps->lru, cfg->personal_refresh_ms);
    if (!p->recorder || !p->personal) {
        gh_recorder_free(p->recorder);
        gh_personal_free(p->personal);
        gh_free(p);
        gh_err_set(err, GH_ENOMEM, "cannot start the identification recorder");
        return NULL;
    }
    pthread_mutex_init(&p->flights_mu, NULL);
    return p;
}

void gh_pipeline_free(struct gh_pipeline *p)
{
    if (!p)
        return;
    gh_recorder_free(p->recorder);
    gh_personal_free(p->personal);
    pthread_mutex_destroy(&p->flights_mu);
    gh_free(p);
}

void gh_analysis_fini(struct gh_analysis *a)
{
    if (!a)
        return;
    gh_free(a->json);
    memset(a, 0, sizeof *a);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* A person's own correction of this photo (or of one within CACHE_MAX_DISTANCE) replaces the
 * equipment in what they are served, whatever layer answered: *personal gets the corrected
 * answer (gh_free) and out->slug its slug. 0 when there is none. */
static int personal_answer(struct gh_pipeline *p, const struct gh_analyze_request *req,
                           const char *stored, uint64_t phash, char **personal, int *distance,
                           struct gh_analysis *out)
{
    char slug[64];

    if (!req->owner || !gh_personal_find(p->personal, req->owner, req->sha256, phash,
                                         p->cfg.max_distance, slug, distance))
        return 0;
    *personal = gh_answer_correct(p->deps.cat, stored, slug);
    if (*personal)
        copy_str(out->slug, sizeof out->slug, slug);
    return 1;
}

/* Fills *out from a stored answer: the per-request wrapper, and a rewrite when the image
 * differs (near hits) or fewer alternatives are wanted; then the person's own correction, if
 * any (layer "personal"). phash is this upload's (0: unknown). */
static int respond(struct gh_pipeline *p, const struct gh_analyze_request *req, const char *stored,
                   size_t stored_len, const struct gh_image_info *new_info, uint64_t new_phash,
                   uint64_t phash, int cached, const char *layer, int distance, double similarity,
                   double t0, struct gh_analysis *out, struct gh_err *err)
{
    char *rewritten = NULL, *personal = NULL;
    int rc;

    if (new_info || req->top_k < GH_PROVIDER_MAX_ALTS) {
        rewritten = gh_answer_rewrite(stored, new_info, req->sha256, new_phash, req->top_k);
        if (!rewritten)
            return gh_err_set(err, GH_ENOMEM, "out of memory building the answer");
        stored = rewritten;
        stored_len = strlen(rewritten);
    }
    if (personal_answer(p, req, stored, phash, &personal, &distance, out)) {
        if (!personal) {
            gh_free(rewritten);
            return gh_err_set(err, GH_ENOMEM, "out of memory building the answer");
        }
        stored = personal;
        stored_len = strlen(personal);
        gh_metrics_analysis(layer, (gh_mono_ms() - t0) / 1e3);
        layer = "personal"; /* not a metrics label: counted under the layer that answered */
        cached = 1;
        similarity = 0;
    }
    out->cached = cached;
    copy_str(out->layer, sizeof out->layer, layer);
    out->distance = distance;
    out->similarity = similarity;
    out->processing_ms = gh_mono_ms() - t0;
    if (!personal)
        gh_metrics_analysis(layer, out->processing_ms / 1e3);
    rc = gh_answer_wrap(stored, stored_len, req->request_id, cached, layer, distance, similarity,
                        out->processing_ms, &out->json, &out->json_len);
    gh_free(personal);
    gh_free(rewritten);
    if (rc == GH_ENOMEM)
        return gh_err_set(err, rc, "out of memory building the answer");
    if (rc) /* only a stored answer edited or damaged outside gymhelper is not an object */
        return gh_err_set(err, GH_EBACKEND,
                          "the cached answer for this photo is damaged; send it again with "
                          "nocache=true");
    return GH_OK;
}

static void record(struct gh_pipeline *p, const struct gh_analyze_request *req,
                   const struct gh_analysis *a, uint64_t phash, double confidence, int identified,
                   const char *model, int64_t ptok, int64_t ctok)
{
    struct gh_identification rec;

    memset(&rec, 0, sizeof rec);
    copy_str(rec.request_id, sizeof rec.request_id, req->request_id);
    rec.created_at = (int64_t)time(NULL);
    copy_str(rec.sha256, sizeof rec.sha256, req->sha256);
    rec.phash = phash;
    copy_str(rec.equipment_slug, sizeof rec.equipment_slug, a->slug);
    rec.confidence = confidence;
    rec.identified = identified;
    rec.cached = a->cached;
    copy_str(rec.cache_layer, sizeof rec.cache_layer, a->layer);
    rec.cache_distance = a->distance;
    copy_str(rec.provider, sizeof rec.provider, a->provider);
    copy_str(rec.model, sizeof rec.model, model);
    rec.processing_ms = a->processing_ms;
    rec.prompt_tokens = ptok;
    rec.completion_tokens = ctok;
    copy_str(rec.owner, sizeof rec.owner, req->owner ? req->owner : "");
    gh_recorder_push(p->recorder, &rec);
}

/* Cache hits are recorded with what the stored answer says (out's slug and provider); the
 * provider's confidence and tokens belong to the call that produced it. */
static void record_hit(struct gh_pipeline *p, const struct gh_analyze_request *req,
                       const struct gh_analysis *a, uint64_t phash)
{
    record(p, req, a, phash, 0, a->slug[0] != 0, "", 0, 0);
}

/* The memory layer is an optimisation: an entry it refuses (too big, no memory) is simply
 * served from the store next time. */
static void lru_remember(struct gh_pipeline *p, const char *sha256, const char *answer,
                         const char *slug, const char *provider, uint64_t phash, int64_t expires_at)
{
    int rc;

    if (!p->deps.lru)
        return;
    rc = gh_lru_put(p->deps.lru, sha256, answer, strlen(answer), slug, provider, phash, expires_at);
    (void)rc;
}

/* A store that cannot be reached (GH_EUNAVAILABLE: stopped, frozen past its deadline, pool
 * exhausted) is skipped for a while instead of costing every request a connection timeout —
 * on the I/O threads too, where the exact lookup runs. 1 s, doubling to 8 s; when a period
 * ends one caller probes and the others go on skipping until it reports. Logged once when it
 * starts and once when it ends. */
#define STORE_SKIP_FIRST_MS 1000
#define STORE_SKIP_MAX_MS   8000

static int64_t now_ms(void)
{
    return (int64_t)gh_mono_ms();
}

/* 1: use the store now (then report the outcome with store_report); 0: skip it. */
static int store_admit(struct gh_pipeline *p)
{
    int_least64_t until = atomic_load(&p->store_skip_until), now = now_ms();

    if (until == 0)
        return 1;
    if (now < until)
        return 0;
    return atomic_compare_exchange_strong(&p->store_skip_until, &until,
                                          now + atomic_load(&p->store_backoff));
}

static void store_report(struct gh_pipeline *p, int rc, const struct gh_err *e)
{
    if (rc == GH_EUNAVAILABLE) {
        int_least64_t b = atomic_load(&p->store_backoff);

        b = b ? (2 * b > STORE_SKIP_MAX_MS ? STORE_SKIP_MAX_MS : 2 * b) : STORE_SKIP_FIRST_MS;
        atomic_store(&p->store_backoff, b);
        if (atomic_exchange(&p->store_skip_until, now_ms() + b) == 0)
            gh_logf(GH_LOG_WARN, "store unavailable, answering without it and retrying: %s",
                    e->msg);
    } else if (atomic_load(&p->store_skip_until) != 0 &&
               (rc == GH_OK || rc == GH_ENOTFOUND || rc == GH_ECONFLICT)) {
        atomic_store(&p->store_backoff, 0);
        if (atomic_exchange(&p->store_skip_until, 0) != 0)
            gh_logf(GH_LOG_INFO, "store back");
    }
}

static void store_failed(struct gh_pipeline *p, const char *what, const struct gh_err *e)
{
    atomic_fetch_add(&p->store_errors, 1);
    if (e->code != GH_EUNAVAILABLE) /* those are logged once per outage by store_report */
        gh_logf(GH_LOG_WARN, "store %s failed, going on without it: %s", what, e->msg);
}

int gh_pipeline_store_check(struct gh_pipeline *p, struct gh_err *err)
{
    int rc;

    if (!store_admit(p))
        return gh_err_set(err, GH_EUNAVAILABLE,
                          "the store failed to answer; skipped for now and retried every few "
                          "seconds");
    rc = gh_store_schema_version(p->deps.store, err);
    store_report(p, rc > 0 ? GH_OK : rc, err);
    return rc;
}

/* Shares an answer with the other instances through Redis. Best effort like the LRU: Redis
 * being down or refusing only costs the other instances a hit. */
static void redis_remember(struct gh_pipeline *p, const struct gh_cache_entry *e, int keys)
{
    if (p->deps.redis)
        (void)gh_redis_put(p->deps.redis, e, keys);
}

/* Answers from a cache entry found by layer, then lets the cheaper layers learn it: the
 * memory layer always, Redis under redis_keys (0: none). With info the entry is another
 * image's answer (a copy or a near duplicate): it is rewritten to describe this upload, and
 * phash is this upload's. */
static int serve_entry(struct gh_pipeline *p, const struct gh_analyze_request *req,
                       const struct gh_cache_entry *e, const struct gh_image_info *info,
                       uint64_t phash, const char *layer, int distance, int redis_keys, double t0,
                       struct gh_analysis *out, struct gh_err *err)
{
    const char *answer = e->answer_json;
    char *rewritten = NULL;
    int rc;

    /* Read back from outside the process: never served unchecked. By pHash (info set) the
     * answer is about the stored photo (its own key), not these bytes. */
    if (gh_answer_check(p->deps.cat, e->answer_json, e->equipment_slug,
                        info ? e->sha256 : req->sha256) != GH_OK) {
        atomic_fetch_add(&p->bad_answers, 1);
        gh_logf(GH_LOG_WARN,
                "a cached answer from layer %s for %.16s... is damaged or not ours; treated as a "
                "miss",
                layer, req->sha256);
        return GH_ENOTFOUND;
    }
    if (info) {
        rewritten = gh_answer_rewrite(e->answer_json, info, req->sha256, phash, -1);
        if (!rewritten)
            return gh_err_set(err, GH_ENOMEM, "out of memory building the answer");
        answer = rewritten;
    }
    copy_str(out->slug, sizeof out->slug, e->equipment_slug);
    copy_str(out->provider, sizeof out->provider, e->provider);
    rc = respond(p, req, answer, strlen(answer), NULL, 0, info ? phash : e->phash, 1, layer,
                 distance, 0, t0, out, err);
    if (rc == GH_OK) {
        lru_remember(p, req->sha256, answer, e->equipment_slug, e->provider, phash, e->expires_at);
        if (redis_keys)
            redis_remember(p, e, redis_keys);
        record_hit(p, req, out, phash);
    }
    gh_free(rewritten);
    return rc;
}

/* Redis by exact key. This runs on the I/O thread (gh_pipeline_lookup) like the store's
 * exact lookup after it: a hit is one round trip (well under a millisecond on a LAN), and a
 * slow or dead Redis costs at most one REDIS_TIMEOUT_MS per breaker period before the layer
 * is skipped without I/O, so the thread is never held longer than the timeout. GH_ENOTFOUND on
 * a miss. */
static int from_redis(struct gh_pipeline *p, struct gh_analyze_request *req, double t0, int64_t now,
                      struct gh_analysis *out, struct gh_err *err)
{
    struct gh_cache_entry e;
    int rc;

    if (!p->deps.redis || gh_redis_get_sha(p->deps.redis, req->sha256, now, &e) != GH_OK)
        return GH_ENOTFOUND;
    atomic_fetch_add(&p->redis_hits, 1);
    rc = serve_entry(p, req, &e, NULL, e.phash, "redis", 0, 0, t0, out, err);
    gh_cache_entry_fini(&e);
    return rc;
}

/* The memory layer alone: no I/O. GH_ENOTFOUND on a miss. */
static int from_memory(struct gh_pipeline *p, struct gh_analyze_request *req, double t0,
                       int64_t now, struct gh_analysis *out, struct gh_err *err)
{
    const struct gh_lru_value *v;
    int rc;

    if (!p->deps.lru || (v = gh_lru_get(p->deps.lru, req->sha256, now)) == NULL)
        return gh_err_set(err, GH_ENOTFOUND, "not in memory");
    atomic_fetch_add(&p->memory_hits, 1);
    copy_str(out->slug, sizeof out->slug, v->slug);
    copy_str(out->provider, sizeof out->provider, v->provider);
    rc = respond(p, req, v->json, v->json_len, NULL, 0, v->phash, 1, "memory", 0, 0, t0, out, err);
    if (rc == GH_OK)
        record_hit(p, req, out, v->phash);
    gh_lru_value_release(v);
    return rc;
}

/* Redis, then the store's exact key: both may block (up to their timeouts), so only workers
 * come here. GH_ENOTFOUND on a miss. */
static int from_shared(struct gh_pipeline *p, struct gh_analyze_request *req, double t0,
                       int64_t now, struct gh_analysis *out, struct gh_err *err)
{
    struct gh_cache_entry e;
    struct gh_err serr = {0};
    int rc;

    rc = from_redis(p, req, t0, now, out, err);
    if (rc != GH_ENOTFOUND)
        return rc;
    if (!store_admit(p))
        return gh_err_set(err, GH_ENOTFOUND, "not cached (store skipped)");
    rc = gh_store_get_exact(p->deps.store, req->sha256, now, &e, &serr);
    store_report(p, rc, &serr);
    if (rc == GH_ENOTFOUND)
        return gh_err_set(err, GH_ENOTFOUND, "not cached");
    if (rc) {
        store_failed(p, "exact lookup", &serr);
        return gh_err_set(err, GH_ENOTFOUND, "not cached");
    }
    atomic_fetch_add(&p->exact_hits, 1);
    /* the next instance that sees these bytes, or this pHash, gets a Redis hit */
    rc = serve_entry(p, req, &e, NULL, e.phash, "exact", 0, GH_REDIS_KEY_SHA | GH_REDIS_KEY_PHASH,
                     t0, out, err);
    gh_cache_entry_fini(&e);
    return rc;
}

/* The memory layer, Redis, then the store's exact key. GH_ENOTFOUND on a miss. */
static int from_cache(struct gh_pipeline *p, struct gh_analyze_request *req, double t0,
                      struct gh_analysis *out, struct gh_err *err)
{
    int64_t now = (int64_t)time(NULL);
    int rc = from_memory(p, req, t0, now, out, err);

    if (rc != GH_ENOTFOUND)
        return rc;
    gh_err_clear(err);
    return from_shared(p, req, t0, now, out, err);
}

int gh_pipeline_lookup_memory(struct gh_pipeline *p, struct gh_analyze_request *req,
                              struct gh_analysis *out, struct gh_err *err)
{
    double t0 = gh_mono_ms();
    enum gh_image_format fmt = gh_image_sniff(req->body, req->len);
    uint8_t digest[GH_SHA256_LEN];
    int rc;

    memset(out, 0, sizeof *out);
    atomic_fetch_add(&p->requests, 1);
    /* Cheap refusals before hashing; the full check runs on a miss. */
    if (req->len == 0 || req->len > p->cfg.lim.max_bytes || fmt == GH_IMAGE_FORMAT_UNKNOWN ||
        (req->declared != GH_IMAGE_FORMAT_UNKNOWN && req->declared != fmt))
        return gh_image_validate(req->body, req->len, &p->cfg.lim, req->declared, NULL, err);
    rc = gh_sha256(req->body, req->len, digest, err);
    if (rc)
        return rc;
    gh_sha256_to_hex(digest, req->sha256);
    if (req->nocache)
        return gh_err_set(err, GH_ENOTFOUND, "cache bypassed");
    /* a signed-in person's own corrections made on other instances: a worker pulls them */
    if (req->owner && req->owner[0] && gh_personal_stale(p->personal))
        return gh_err_set(err, GH_ENOTFOUND, "people's corrections due for a pull");
    return from_memory(p, req, t0, (int64_t)time(NULL), out, err);
}

int gh_pipeline_lookup(struct gh_pipeline *p, struct gh_analyze_request *req,
                       struct gh_analysis *out, struct gh_err *err)
{
    double t0 = gh_mono_ms();
    int rc;

    if (!req->sha256[0]) {
        rc = gh_pipeline_lookup_memory(p, req, out, err);
        if (rc != GH_ENOTFOUND || req->nocache)
            return rc;
        gh_err_clear(err);
    } else if (req->nocache) {
        return gh_err_set(err, GH_ENOTFOUND, "cache bypassed");
    }
    memset(out, 0, sizeof *out);
    if (req->owner && req->owner[0]) {
        gh_personal_refresh(p->personal);
        rc = from_memory(p, req, t0, (int64_t)time(NULL), out, err); /* skipped when stale */
        if (rc != GH_ENOTFOUND)
            return rc;
        gh_err_clear(err);
    }
    return from_shared(p, req, t0, (int64_t)time(NULL), out, err);
}

/* Saves a fresh or re-keyed answer in both cache layers; failures only cost future hits. */
static void remember(struct gh_pipeline *p, const char *sha256, uint64_t phash, const char *answer,
                     const char *slug, const char *provider, const char *model, int64_t expires_at)
{
    struct gh_cache_entry e;
    struct gh_err serr = {0};
    int rc;

    memset(&e, 0, sizeof e);
    copy_str(e.sha256, sizeof e.sha256, sha256);
    e.phash = phash;
    e.answer_json = (char *)answer; /* borrowed: put copies what it keeps */
    copy_str(e.equipment_slug, sizeof e.equipment_slug, slug);
    copy_str(e.provider, sizeof e.provider, provider);
    copy_str(e.model, sizeof e.model, model);
    e.created_at = (int64_t)time(NULL);
    e.expires_at = expires_at;
    if (store_admit(p)) {
        rc = gh_store_put(p->deps.store, &e, &serr);
        store_report(p, rc, &serr);
        if (rc == GH_ECONFLICT)
            return; /* a person's correction stays what the caches answer */
        if (rc != GH_OK)
            store_failed(p, "write", &serr);
    }
    lru_remember(p, sha256, answer, slug, provider, phash, expires_at);
    redis_remember(p, &e, GH_REDIS_KEY_SHA | GH_REDIS_KEY_PHASH);
}

/* Redis by exact pHash: another instance's answer for a copy of this photo (re-encoded,
 * metadata changed), described as this upload's image like a near hit. Only the memory layer
 * learns these bytes: a Redis key per copy would not be overwritten by a correction of the
 * original (which rewrites the original's two keys), so it could serve the old answer. */
static int redis_phash_lookup(struct gh_pipeline *p, struct gh_analyze_request *req,
                              const struct gh_image_info *info, uint64_t phash, double t0,
                              struct gh_analysis *out, struct gh_err *err)
{
    struct gh_cache_entry e;
    int rc;

    if (!p->deps.redis ||
        gh_redis_get_phash(p->deps.redis, phash, (int64_t)time(NULL), &e) != GH_OK)
        return GH_ENOTFOUND;
    atomic_fetch_add(&p->redis_hits, 1);
    atomic_fetch_add(&p->redis_phash_hits, 1);
    rc = serve_entry(p, req, &e, info, phash, "redis", 0, 0, t0, out, err);
    gh_cache_entry_fini(&e);
    return rc;
}

static int near_lookup(struct gh_pipeline *p, struct gh_analyze_request *req,
                       const struct gh_image_info *info, uint64_t phash, double t0,
                       struct gh_analysis *out, struct gh_err *err)
{
    struct gh_cache_entry e;
    struct gh_err serr = {0};
    int distance = 0, rc;

    if (!store_admit(p))
        return GH_ENOTFOUND;
    rc = gh_store_get_near(p->deps.store, phash, p->cfg.max_distance, (int64_t)time(NULL), &e,
                           &distance, &serr);
    store_report(p, rc, &serr);
    if (rc == GH_ENOTFOUND)
        return rc;
    if (rc) {
        store_failed(p, "near-duplicate lookup", &serr);
        return GH_ENOTFOUND;
    }
    atomic_fetch_add(&p->near_hits, 1);
    /* The answer of the similar photo, describing this upload's image. Only the memory layer
     * learns these bytes: a store row per re-encoded copy would pile up rows with one pHash,
     * and every later near lookup would read them all. Redis gets the stored photo's own
     * answer under its own pHash, which a correction of it rewrites: other instances then
     * find copies of it there. */
    rc = serve_entry(p, req, &e, info, phash, "near", distance, GH_REDIS_KEY_PHASH, t0, out, err);
    gh_cache_entry_fini(&e);
    return rc;
}

/* Calls that can cost money: a remote model (CLIP and "none" cost nothing). */
static int is_remote(const char *provider)
{
    return strcmp(provider, "openai") == 0 || strcmp(provider, "llava") == 0;
}

/* The daily provider budget, decided by the one call that would spend it (waiters of a
 * coalesced call share its outcome, and a spent budget is the same for everyone). Spent: CLIP
 * answers alone (preq->local_only), or, with only a remote provider, GH_ELIMITED. */
static int budget_admit(struct gh_pipeline *p, struct gh_analyze_request *req,
                        struct gh_provider_request *preq, struct gh_err *err)
{
    struct gh_provider *prov = p->deps.provider;
    int64_t wait_s = 0;
    enum gh_limits_budget b = gh_limits_budget_check(p->deps.limits, &wait_s);

    if (b == GH_LIMITS_BUDGET_OK)
        return GH_OK;
    if (!is_remote(prov->name)) {
        preq->local_only = 1;
        return GH_OK;
    }
    req->budget = b;
    return gh_err_set(err, GH_ELIMITED,
                      "today's budget for %s (%s) is spent, so new photos cannot be identified "
                      "until 00:00 UTC (in %lld min); photos seen before are still answered from "
                      "the cache",
                      prov->name, b == GH_LIMITS_BUDGET_CALLS ? "calls" : "dollars",
                      (long long)((wait_s + 59) / 60));
}

/* The client's provider bucket: every request that needs a provider call spends one token,
 * also one that ends up waiting for an identical upload's call (it was a miss all the same). */
static int provider_admit(struct gh_pipeline *p, struct gh_analyze_request *req, struct gh_err *err)
{
    struct gh_limits_verdict *v = &req->limit;

    if (!req->client_key || gh_limits_take(p->deps.limits, GH_LIMITS_PROVIDER, req->client_key, v))
        return GH_OK;
    return gh_err_set(err, GH_ELIMITED,
                      "this client may ask for %lld new identifications per %lld s and has used "
                      "them; try again in %lld s (photos seen before are answered from the cache "
                      "without counting, unless nocache is set)",
                      (long long)v->quota, (long long)v->window_s, (long long)v->retry_after_s);
}

/* The visual memory before the provider (DESIGN.md "The cascade"): embeds the provider copy
 * with the provider's own model (*emb, for the provider to reuse and for remembering), then
 * finds the nearest remembered photos. GH_OK when the nearest is similar enough to answer:
 * *res is then that photo's label. Otherwise GH_ENOTFOUND, with the neighbours in hits for
 * the zero-shot sharpening (with nocache too: only the answer from memory is skipped).
 * Failures only skip the layer. */
static int visual_lookup(struct gh_pipeline *p, const struct gh_provider_request *preq, int nocache,
                         float **emb, struct gh_vmem_hit *hits, int *n_hits,
                         struct gh_provider_result *res)
{
    struct gh_provider *prov = p->deps.provider;
    struct gh_err e = {0};
    const char *model = NULL;
    int dim;

    *n_hits = 0;
    if (!p->deps.vmem || !prov->ops->embed || !prov->ops->embedding_space ||
        (dim = prov->ops->embedding_space(prov, &model)) <= 0)
        return GH_ENOTFOUND;
    *emb = gh_malloc_array((size_t)dim, sizeof **emb);
    if (!*emb)
        return GH_ENOTFOUND;
    if (prov->ops->embed(prov, preq, *emb, &e) != GH_OK) {
        gh_logf(GH_LOG_WARN, "embedding for the visual memory failed, going on without it: %s",
                e.msg);
        gh_free(*emb);
        *emb = NULL;
        return GH_ENOTFOUND;
    }
    if (gh_vmem_search(p->deps.vmem, *emb, p->cfg.visual_k > 0 ? p->cfg.visual_k : 1,
                       (int64_t)time(NULL), hits, n_hits, &e) != GH_OK) {
        gh_logf(GH_LOG_WARN, "visual memory search failed, going on without it: %s", e.msg);
        *n_hits = 0;
        return GH_ENOTFOUND;
    }
    if (nocache || *n_hits == 0 || hits[0].similarity < p->cfg.visual_threshold ||
        !gh_catalogue_find(p->deps.cat, hits[0].slug))
        return GH_ENOTFOUND;
    memset(res, 0, sizeof *res);
    copy_str(res->slug, sizeof res->slug, hits[0].slug);
    res->confidence = hits[0].similarity > 1 ? 1 : hits[0].similarity;
    copy_str(res->provider, sizeof res->provider, prov->name);
    copy_str(res->model, sizeof res->model, prov->model);
    snprintf(res->note, sizeof res->note,
             "answered from visual memory: a remembered photo labelled by %s is %.0f%% similar",
             strcmp(hits[0].source, GH_VMEM_SOURCE_PROVIDER) == 0 ? "the paid model"
                                                                  : hits[0].source,
             100 * hits[0].similarity);
    return GH_OK;
}

/* Remembers a fresh answer's photo with where its label came from: a remote model's answer
 * (directly, or escalated from CLIP) is confirmed; CLIP's own is kept unconfirmed, so a later
 * trusted correction can promote it (issue 11), but never answers or votes. */
static void visual_remember(struct gh_pipeline *p, const char *sha256, const float *emb,
                            const struct gh_provider_result *res)
{
    const char *source = res->escalated_from[0] || strcmp(res->provider, "clip") != 0
                             ? GH_VMEM_SOURCE_PROVIDER
                             : GH_VMEM_SOURCE_CLIP;
    const char *slug = res->slug;
    struct gh_err e = {0};

    if (res->shadow && res->shadow_slug[0] && gh_catalogue_find(p->deps.cat, res->shadow_slug)) {
        slug = res->shadow_slug; /* a shadow sample: the paid model's label is the confirmed one */
        source = GH_VMEM_SOURCE_PROVIDER;
    }
    if (gh_vmem_add(p->deps.vmem, sha256, emb, slug, source, (int64_t)time(NULL), &e) != GH_OK)
        gh_logf(GH_LOG_WARN, "remembering the photo failed: %s", e.msg);
    else if (gh_vmem_source_confirmed(source))
        atomic_fetch_add(&p->visual_remembered, 1);
}

/* Measured escalation: CLIP's own answer beside the paid model's, for an escalated photo or a
 * shadow sample. Best effort, like the other store writes of a fresh answer. */
static void quality_record(struct gh_pipeline *p, const char *sha256,
                           const struct gh_provider_result *res)
{
    struct gh_quality_sample q;
    struct gh_err e = {0};
    int rc;

    memset(&q, 0, sizeof q);
    q.created_at = (int64_t)time(NULL);
    copy_str(q.sha256, sizeof q.sha256, sha256);
    copy_str(q.clip_slug, sizeof q.clip_slug, res->clip_slug);
    q.clip_confidence = res->clip_confidence < 0   ? 0
                        : res->clip_confidence > 1 ? 1
                                                   : res->clip_confidence;
    copy_str(q.paid_slug, sizeof q.paid_slug, res->shadow ? res->shadow_slug : res->slug);
    q.shadow = res->shadow;
    atomic_fetch_add(&p->quality_samples, 1);
    if (strcmp(q.clip_slug, q.paid_slug) == 0)
        atomic_fetch_add(&p->quality_agree, 1);
    if (!store_admit(p))
        return;
    rc = gh_store_quality_add(p->deps.store, &q, &e);
    store_report(p, rc, &e);
    if (rc)
        store_failed(p, "quality sample", &e);
}

/* Asks the provider and stores the answer; fills the flight for anyone waiting on it. */
static int ask_provider(struct gh_pipeline *p, struct gh_analyze_request *req,
                        const struct gh_image_info *info, uint64_t phash, struct flight *f,
                        struct gh_err *err)
{
    struct gh_provider *prov = p->deps.provider;
    struct gh_provider_request preq;
    struct gh_provider_result res;
    struct gh_vmem_hit hits[GH_VMEM_K_MAX];
    int n_hits = 0, visual = 0;
    float *emb = NULL;
    uint8_t *jpeg = NULL;
    size_t jpeg_len = 0;
    char *answer = NULL;
    int identified = 0, rc;
    int64_t cost;
    double t_call;

    memset(&res, 0, sizeof res);
    memset(&preq, 0, sizeof preq);
    rc = budget_admit(p, req, &preq, err);
    if (rc)
        return rc;
    rc = gh_image_provider_copy(req->body, req->len, &p->cfg.lim, req->declared, &p->cfg.prep,
                                &jpeg, &jpeg_len, NULL, err);
    if (rc)
        goto out;
    preq.jpeg = jpeg;
    preq.jpeg_len = jpeg_len;
    preq.cat = p->deps.cat;
    preq.request_id = req->request_id;
    if (visual_lookup(p, &preq, req->nocache, &emb, hits, &n_hits, &res) == GH_OK) {
        visual = 1;
        atomic_fetch_add(&p->visual_hits, 1);
        copy_str(f->layer, sizeof f->layer, "visual");
        f->similarity = hits[0].similarity;
    } else {
        preq.embedding = emb;
        preq.neighbours = hits;
        preq.n_neighbours = n_hits;
        atomic_fetch_add(&p->misses, 1);
        t_call = gh_mono_ms();
        rc = prov->ops->analyze(prov, &preq, &res, err);
        cost = gh_provider_cost_nd(res.model, res.prompt_tokens, res.completion_tokens);
        gh_metrics_provider_call(prov->name, rc, (gh_mono_ms() - t_call) / 1e3, res.prompt_tokens,
                                 res.completion_tokens, cost);
        if (res.shadow) /* the remote model was asked beside CLIP */
            cost += gh_provider_cost_nd(res.shadow_model, res.shadow_prompt_tokens,
                                        res.shadow_completion_tokens);
        if (is_remote(prov->name) || res.escalated_from[0] || res.shadow)
            gh_limits_budget_spend(p->deps.limits, cost);
        if (rc) {
            atomic_fetch_add(&p->provider_errors, 1);
            goto out;
        }
    }
    atomic_fetch_add(&p->prompt_tokens, res.prompt_tokens);
    atomic_fetch_add(&p->completion_tokens, res.completion_tokens);
    if (!res.provider[0])
        copy_str(res.provider, sizeof res.provider, prov->name);
    /* a visual hit passed its own threshold: the similarity is its confidence, not a
     * probability to hold against CONFIDENCE_THRESHOLD */
    answer = gh_answer_build(p->deps.cat, &res, visual ? 0 : p->cfg.confidence_threshold, info,
                             req->sha256, phash, &identified);
    if (!answer) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory building the answer");
        goto out;
    }
    copy_str(f->slug, sizeof f->slug, identified ? res.slug : "");
    copy_str(f->provider, sizeof f->provider, res.provider);
    copy_str(f->model, sizeof f->model, res.model);
    f->confidence = res.confidence;
    f->prompt_tokens = res.prompt_tokens;
    f->completion_tokens = res.completion_tokens;
    if (!res.uncacheable)
        remember(p, req->sha256, phash, answer, f->slug, res.provider, res.model,
                 (int64_t)time(NULL) + p->cfg.cache_ttl_s);
    if (!visual && res.clip_slug[0] && (res.escalated_from[0] || res.shadow))
        quality_record(p, req->sha256, &res);
    /* a visual hit is a copy of a remembered photo: it adds nothing to the memory */
    if (emb && !visual && identified && !res.uncacheable)
        visual_remember(p, req->sha256, emb, &res);
    f->answer = answer;
    f->answer_len = strlen(answer);
    answer = NULL;
out:
    gh_free(answer);
    gh_free(emb);
    gh_free(jpeg);
    return rc;
}

static void flight_release(struct flight *f)
{
    /* called with flights_mu held */
    if (--f->refs > 0)
        return;
    pthread_cond_destroy(&f->cv);
    gh_free(f->answer);
    gh_free(f);
}

static void flight_unlink(struct gh_pipeline *p, struct flight *f)
{
    for (struct flight **pp = &p->flights; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            return;
        }
}

static int join_or_lead(struct gh_pipeline *p, struct gh_analyze_request *req,
                        const struct gh_image_info *info, uint64_t phash, double t0,
                        struct gh_analysis *out, struct gh_err *err)
{
    struct flight *f;
    int rc, leader = 0;

    pthread_mutex_lock(&p->flights_mu);
    for (f = p->flights; f && strcmp(f->key, req->sha256) != 0; f = f->next)
        ;
    if (!f) {
        f = gh_malloc(sizeof *f);
        if (!f) {
            pthread_mutex_unlock(&p->flights_mu);
            return gh_err_set(err, GH_ENOMEM, "out of memory");
        }
        memset(f, 0, sizeof *f);
        copy_str(f->key, sizeof f->key, req->sha256);
        pthread_cond_init(&f->cv, NULL);
        f->next = p->flights;
        p->flights = f;
        leader = 1;
    }
    f->refs++;
    if (leader) {
        pthread_mutex_unlock(&p->flights_mu);
        f->rc = ask_provider(p, req, info, phash, f, &f->err);
        pthread_mutex_lock(&p->flights_mu);
        f->done = 1;
        flight_unlink(p, f);
        pthread_cond_broadcast(&f->cv);
    } else {
        atomic_fetch_add(&p->coalescing, 1);
        while (!f->done)
            pthread_cond_wait(&f->cv, &p->flights_mu);
        atomic_fetch_sub(&p->coalescing, 1);
        atomic_fetch_add(&p->coalesced, 1);
    }
    pthread_mutex_unlock(&p->flights_mu);
    /* f->answer and f->err are immutable once done; our reference keeps f alive. */
    if (f->rc) {
        rc = gh_err_set(err, f->rc, "%s", f->err.msg);
    } else {
        copy_str(out->slug, sizeof out->slug, f->slug);
        copy_str(out->provider, sizeof out->provider, f->provider);
        rc = respond(p, req, f->answer, f->answer_len, leader ? NULL : info, phash, phash,
                     !leader || f->layer[0], leader ? f->layer : "coalesced", 0, f->similarity, t0,
                     out, err);
        if (rc == GH_OK && leader)
            record(p, req, out, phash, f->confidence, f->slug[0] != 0, f->model, f->prompt_tokens,
                   f->completion_tokens);
        else if (rc == GH_OK)
            record_hit(p, req, out, phash);
    }
    pthread_mutex_lock(&p->flights_mu);
    flight_release(f);
    pthread_mutex_unlock(&p->flights_mu);
    return rc;
}

int gh_pipeline_analyze(struct gh_pipeline *p, struct gh_analyze_request *req,
                        struct gh_analysis *out, struct gh_err *err)
{
    uint8_t luma[GH_PHASH_SIDE * GH_PHASH_SIDE];
    struct gh_image_info info;
    double t0 = gh_mono_ms();
    uint64_t phash;
    int rc;

    if (req->owner && req->owner[0])
        gh_personal_refresh(p->personal);
    if (!req->sha256[0]) {
        rc = gh_pipeline_lookup(p, req, out, err);
        if (rc != GH_ENOTFOUND)
            return rc;
        gh_err_clear(err);
    } else if (!req->nocache) {
        /* Looked up before waiting for a worker: an identical upload may have been answered
         * meanwhile. */
        rc = from_cache(p, req, t0, out, err);
        if (rc != GH_ENOTFOUND)
            return rc;
        gh_err_clear(err);
    }
    memset(out, 0, sizeof *out);
    /* nocache always needs the provider: refuse before decoding */
    if (req->nocache && (rc = provider_admit(p, req, err)) != GH_OK)
        return rc;
    rc = gh_image_luma_grid(req->body, req->len, &p->cfg.lim, req->declared, GH_PHASH_SIDE, luma,
                            &info, err);
    if (rc)
        return rc;
    phash = gh_phash_from_luma(luma);
    if (!req->nocache) {
        rc = redis_phash_lookup(p, req, &info, phash, t0, out, err);
        if (rc != GH_ENOTFOUND)
            return rc;
        rc = near_lookup(p, req, &info, phash, t0, out, err);
        if (rc != GH_ENOTFOUND)
            return rc;
    }
    if (!req->nocache && (rc = provider_admit(p, req, err)) != GH_OK)
        return rc;
    return join_or_lead(p, req, &info, phash, t0, out, err);
}

void gh_pipeline_stats(struct gh_pipeline *p, struct gh_pipeline_stats *out)
{
    out->requests = atomic_load(&p->requests);
    out->memory_hits = atomic_load(&p->memory_hits);
    out->redis_hits = atomic_load(&p->redis_hits);
    out->redis_phash_hits = atomic_load(&p->redis_phash_hits);
    out->exact_hits = atomic_load(&p->exact_hits);
    out->near_hits = atomic_load(&p->near_hits);
    out->coalesced = atomic_load(&p->coalesced);
    out->coalescing = atomic_load(&p->coalescing);
    out->misses = atomic_load(&p->misses);
    out->provider_errors = atomic_load(&p->provider_errors);
    out->store_errors = atomic_load(&p->store_errors);
    out->visual_hits = atomic_load(&p->visual_hits);
    out->visual_remembered = atomic_load(&p->visual_remembered);
    out->visual_enabled = p->deps.vmem != NULL;
    out->visual_entries = 0;
    out->visual_bytes_per_entry = 0;
    out->visual_refresh_errors = 0;
    if (p->deps.vmem) {
        struct gh_vmem_stats vs;

        gh_vmem_stats(p->deps.vmem, &vs);
        out->visual_entries = vs.entries;
        out->visual_bytes_per_entry = vs.bytes_per_entry;
        out->visual_refresh_errors = vs.refresh_errors;
    }
    out->quality_samples = atomic_load(&p->quality_samples);
    out->quality_agree = atomic_load(&p->quality_agree);
    out->prompt_tokens = atomic_load(&p->prompt_tokens);
    out->completion_tokens = atomic_load(&p->completion_tokens);
}

void gh_pipeline_flush(struct gh_pipeline *p)
{
    gh_recorder_flush(p->recorder);
}

int gh_pipeline_find_identification(struct gh_pipeline *p, const char *id, const char *owner,
                                    struct gh_identification *out, struct gh_err *err)
{
    char *end = NULL;
    long long n = strtoll(id, &end, 10);
    int numeric = *id && *end == '\0' && n > 0;

    gh_pipeline_flush(p);
    return gh_store_get_identification(p->deps.store, numeric ? (int64_t)n : 0, numeric ? NULL : id,
                                       owner, out, err);
}

void gh_pipeline_parts(struct gh_pipeline *p, struct gh_pipeline_parts *out)
{
    out->cfg = &p->cfg;
    out->deps = &p->deps;
    out->personal = p->personal;
}
