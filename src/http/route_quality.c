/* SPDX-License-Identifier: MIT */
/* GET /api/v1/quality: how often CLIP's own answer agrees with the paid model's (or a person's
 * correction) by confidence, and the CONFIDENCE_THRESHOLD that would give ?precision=
 * (default 0.95) with the paid calls it would save. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/recognition.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int gh_route_quality(struct gh_http_request *req)
{
    const char *p_s = gh_http_arg(req, "precision");
    struct gh_quality_report r;
    struct gh_err err = {0};
    char *end = NULL, *text;

    memset(&r, 0, sizeof r);
    r.precision_target = 0.95;
    if (p_s) {
        r.precision_target = strtod(p_s, &end);
        if (!*p_s || *end || !(r.precision_target > 0 && r.precision_target <= 1)) {
            gh_http_problem(req, 400, "invalid_parameter",
                            "precision must be a number above 0 and at most 1, e.g. 0.95");
            return 0;
        }
    }
    if (gh_store_quality_buckets(req->app->store, 0, r.b, &err) != GH_OK) {
        gh_http_problem_from_store_err(req, &err);
        return 0;
    }
    r.current_threshold = req->app->confidence_threshold;
    r.shadow_rate = req->app->shadow_rate;
    gh_quality_compute(&r);
    text = gh_quality_json(&r);
    gh_http_json_doc(req, 200, text ? json_loads(text, 0, NULL) : NULL); /* NULL: 503 */
    gh_free(text);
    return 0;
}
