/* SPDX-License-Identifier: MIT */
/* Measured escalation: CLIP's agreement with the paid model (or a person's correction) by
 * confidence bucket, and the threshold that would give a chosen precision. Escalated photos
 * cover the confidences under CONFIDENCE_THRESHOLD, shadow samples (SHADOW_SAMPLE_RATE of
 * CLIP's sure answers) those above; a shadow sample stands for 1/rate answers, so precision
 * is weighted by it. */
#include "gh/recognition.h"

#include <jansson.h>
#include <string.h>

void gh_quality_compute(struct gh_quality_report *r)
{
    double w = r->shadow_rate > 0 ? 1 / r->shadow_rate : 1;
    double n = 0, agree = 0;

    r->samples = r->agree = r->escalations = r->escalations_saved = 0;
    r->threshold = -1;
    r->precision = 0;
    r->extra_paid_calls = 0;
    for (int i = 0; i < GH_QUALITY_BUCKETS; i++) {
        r->samples += r->b[i].escalated + r->b[i].shadow;
        r->agree += r->b[i].agree_escalated + r->b[i].agree_shadow;
        r->escalations += r->b[i].escalated;
    }
    /* from the most confident bucket down, the precision of everything at or above it */
    for (int i = GH_QUALITY_BUCKETS - 1; i >= 0; i--) {
        n += (double)r->b[i].escalated + w * (double)r->b[i].shadow;
        agree += (double)r->b[i].agree_escalated + w * (double)r->b[i].agree_shadow;
        /* only edges with samples: nothing is known about an empty range */
        if (r->b[i].escalated + r->b[i].shadow > 0 && agree / n >= r->precision_target) {
            r->threshold = (double)i / GH_QUALITY_BUCKETS;
            r->precision = agree / n;
        }
    }
    if (r->threshold < 0)
        return;
    for (int i = 0; i < GH_QUALITY_BUCKETS; i++) {
        double lo = (double)i / GH_QUALITY_BUCKETS;

        if (lo >= r->threshold)
            r->escalations_saved += r->b[i].escalated;
        else
            r->extra_paid_calls += w * (double)r->b[i].shadow;
    }
}

char *gh_quality_json(const struct gh_quality_report *r)
{
    json_t *doc, *buckets = json_array();
    char *text = NULL;

    for (int i = 0; buckets && i < GH_QUALITY_BUCKETS; i++) {
        const struct gh_quality_bucket *b = &r->b[i];
        int64_t n = b->escalated + b->shadow;

        if (n == 0)
            continue;
        json_array_append_new(
            buckets,
            json_pack("{s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:f}", "from",
                      (double)i / GH_QUALITY_BUCKETS, "to", (double)(i + 1) / GH_QUALITY_BUCKETS,
                      "samples", (json_int_t)n, "escalated", (json_int_t)b->escalated, "shadow",
                      (json_int_t)b->shadow, "agree",
                      (json_int_t)(b->agree_escalated + b->agree_shadow), "corrected",
                      (json_int_t)b->corrected, "agreement",
                      (double)(b->agree_escalated + b->agree_shadow) / (double)n));
    }
    doc = json_pack("{s:I, s:I, s:f, s:f, s:f, s:o, s:o, s:I, s:I, s:f, s:o}", "samples",
                    (json_int_t)r->samples, "agree", (json_int_t)r->agree, "confidence_threshold",
                    r->current_threshold, "shadow_sample_rate", r->shadow_rate, "precision_target",
                    r->precision_target, "recommended_threshold",
                    r->threshold >= 0 ? json_real(r->threshold) : json_null(), "precision",
                    r->threshold >= 0 ? json_real(r->precision) : json_null(), "escalations",
                    (json_int_t)r->escalations, "paid_calls_saved",
                    (json_int_t)r->escalations_saved, "extra_paid_calls_estimate",
                    r->extra_paid_calls, "buckets", buckets ? buckets : json_array());
    if (doc)
        text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(doc);
    return text;
}
