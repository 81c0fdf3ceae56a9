/* SPDX-License-Identifier: MIT */
/* Answer documents: built once per provider call from the catalogue (what is stored and
 * cached), then wrapped per request by splicing a few fields in front, so a cache hit costs a
 * memcpy instead of a JSON parse. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/phash.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static json_t *candidate(const struct gh_catalogue *cat, const char *slug, double confidence)
{
    const struct gh_equipment *q = gh_catalogue_find(cat, slug);

    return json_pack("{s:s, s:s, s:s, s:f}", "slug", slug, "name", q ? q->name : slug, "category",
                     q ? q->category : "", "confidence", confidence);
}

static json_t *image_json(const struct gh_image_info *info, const char *sha256, uint64_t phash)
{
    char hex[GH_PHASH_HEX_LEN + 1];

    gh_phash_to_hex(phash, hex);
    return json_pack("{s:s, s:i, s:i, s:i, s:s, s:s}", "format", gh_image_format_name(info->format),
                     "width", info->width, "height", info->height, "orientation", info->orientation,
                     "phash", hex, "sha256", sha256);
}

static void iso_now(char *out, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Takes ownership of value; returns -1 when it is NULL or cannot be added. */
static int set(json_t *obj, const char *key, json_t *value)
{
    return value ? json_object_set_new(obj, key, value) : -1;
}

char *gh_answer_build(const struct gh_catalogue *cat, const struct gh_provider_result *r,
                      double threshold, const struct gh_image_info *info, const char *sha256,
                      uint64_t phash, int *identified)
{
    const struct gh_equipment *q = r->slug[0] ? gh_catalogue_find(cat, r->slug) : NULL;
    json_t *doc = json_object(), *alts = json_array(), *cands = NULL;
    char when[32];
    char *text = NULL;
    int ok = doc && alts;

    *identified = q && r->confidence >= threshold;
    for (int i = 0; ok && i < r->n_alternatives; i++)
        ok = json_array_append_new(
                 alts, candidate(cat, r->alternatives[i].slug, r->alternatives[i].confidence)) == 0;
    if (ok && !*identified) {
        /* "Not sure": offer the best guess and the alternatives to pick from. */
        cands = json_array();
        ok = cands &&
             (!q || json_array_append_new(cands, candidate(cat, q->slug, r->confidence)) == 0);
        ok = ok && json_array_extend(cands, alts) == 0;
    }
    iso_now(when, sizeof when);
    ok = ok && set(doc, "identified", json_boolean(*identified)) == 0 &&
         set(doc, "equipment", *identified ? json_loads(q->json, 0, NULL) : json_null()) == 0 &&
         set(doc, "confidence", json_real(r->confidence)) == 0 &&
         json_object_set(doc, "alternatives", alts) == 0 &&
         set(doc, "candidates", cands ? json_incref(cands) : json_array()) == 0 &&
         set(doc, "provider", json_string(r->provider)) == 0 &&
         set(doc, "model", json_string(r->model)) == 0 &&
         set(doc, "image", image_json(info, sha256, phash)) == 0 &&
         set(doc, "catalogue_version", json_string(gh_catalogue_version(cat))) == 0 &&
         set(doc, "analyzed_at", json_string(when)) == 0 &&
         set(doc, "usage",
             json_pack("{s:I, s:I}", "prompt_tokens", (json_int_t)r->prompt_tokens,
                       "completion_tokens", (json_int_t)r->completion_tokens)) == 0;
    if (ok && r->note[0])
        ok = set(doc, "note", json_string(r->note)) == 0;
    if (ok && r->escalated_from[0]) /* auto: CLIP was unsure and provider answered */
        ok = set(doc, "escalated_from", json_string(r->escalated_from)) == 0;
    if (ok)
        text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(cands);
    json_decref(alts);
    json_decref(doc);
    return text; /* jansson allocates with malloc, released by gh_free */
}

char *gh_answer_rewrite(const char *stored, const struct gh_image_info *info, const char *sha256,
                        uint64_t phash, int top_k)
{
    json_t *doc = json_loads(stored, 0, NULL), *alts;
    char *text = NULL;

    if (!doc)
        return NULL;
    if (info && json_object_set_new(doc, "image", image_json(info, sha256, phash)) != 0)
        goto out;
    alts = json_object_get(doc, "alternatives");
    if (top_k >= 0 && json_is_array(alts))
        while (json_array_size(alts) > (size_t)top_k)
            json_array_remove(alts, json_array_size(alts) - 1);
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
out:
    json_decref(doc);
    return text;
}

/* {"request_id":...,"identification_id":...,"cached":...,"cache":{...},
 * "processing_time_ms":..., + stored[1..]. The request id is ours or validated by the HTTP
 * layer (no quotes or controls); it doubles as the analysis's id in the history API, since
 * the numeric id is only assigned when the record is written in the background. */
int gh_answer_wrap(const char *stored, size_t stored_len, const char *request_id, int cached,
                   const char *layer, int distance, double similarity, double ms, char **out,
                   size_t *out_len)
{
    const char *rid = request_id ? request_id : "";
    char head[352], sim[48] = "";
    int n;
    size_t total;
    char *buf;

    if (stored_len < 2 || stored[0] != '{')
        return GH_EINVAL;
    if (strcmp(layer, "visual") == 0)
        snprintf(sim, sizeof sim, ",\"similarity\":%.4f", similarity);
    if (cached)
        n = snprintf(head, sizeof head,
                     "{\"request_id\":\"%s\",\"identification_id\":\"%s\",\"cached\":true,"
                     "\"cache\":{\"layer\":\"%s\",\"distance\":%d%s},\"processing_time_ms\":%.3f%s",
                     rid, rid, layer, distance, sim, ms, stored_len > 2 ? "," : "");
    else
        n = snprintf(head, sizeof head,
                     "{\"request_id\":\"%s\",\"identification_id\":\"%s\",\"cached\":false,"
                     "\"cache\":null,\"processing_time_ms\":%.3f%s",
                     rid, rid, ms, stored_len > 2 ? "," : "");
    if (n < 0 || (size_t)n >= sizeof head)
        return GH_EINVAL;
    total = (size_t)n + stored_len - 1;
    buf = gh_malloc(total + 1);
    if (!buf)
        return GH_ENOMEM;
    memcpy(buf, head, (size_t)n);
    memcpy(buf + n, stored + 1, stored_len - 1);
    buf[total] = '\0';
    *out = buf;
    *out_len = total;
    return GH_OK;
}

char *gh_answer_correct(const struct gh_catalogue *cat, const char *stored, const char *slug)
{
    const struct gh_equipment *q = gh_catalogue_find(cat, slug);
    json_t *doc = json_loads(stored, 0, NULL);
    char *text = NULL;
    int ok;

    ok = q && doc && set(doc, "identified", json_true()) == 0 &&
         set(doc, "equipment", json_loads(q->json, 0, NULL)) == 0 &&
         set(doc, "confidence", json_real(1.0)) == 0 &&
         set(doc, "alternatives", json_array()) == 0 && set(doc, "candidates", json_array()) == 0 &&
         set(doc, "corrected", json_true()) == 0;
    if (ok) {
        json_object_del(doc, "note");
        text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    }
    json_decref(doc);
    return text;
}

/* A stored answer is read back from Redis or the database, which other programs (or a
 * damaged disk) may have written: before a byte of it is spliced into a response it must be
 * a JSON object of ours, about this photo and about equipment we know. */
int gh_answer_check(const struct gh_catalogue *cat, const char *stored, const char *slug,
                    const char *sha256)
{
    json_t *doc = stored ? json_loads(stored, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *eq, *eslug, *img, *isha;
    int ok;

    ok = json_is_object(doc) && json_is_boolean(json_object_get(doc, "identified"));
    eq = ok ? json_object_get(doc, "equipment") : NULL;
    if (ok && eq && !json_is_null(eq)) {
        eslug = json_object_get(eq, "slug");
        ok = json_is_object(eq) && json_is_string(eslug) &&
             gh_catalogue_find(cat, json_string_value(eslug)) != NULL &&
             (!slug || !slug[0] || strcmp(slug, json_string_value(eslug)) == 0);
    }
    img = ok ? json_object_get(doc, "image") : NULL;
    if (ok && sha256 && img) {
        isha = json_object_get(img, "sha256");
        ok = json_is_object(img) && json_is_string(isha) &&
             strcmp(json_string_value(isha), sha256) == 0;
    }
    json_decref(doc);
    return ok ? GH_OK : GH_EINVAL;
}
