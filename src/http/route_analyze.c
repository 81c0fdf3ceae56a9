/* SPDX-License-Identifier: MIT */
/* POST /api/v1/analyze: multipart field `file` or a raw image body. Memory hits of small
 * uploads are answered on the I/O thread; Redis and the store are asked on a light worker, and
 * a miss goes on to an analysis worker. */
#include "internal.h"

#include "gh/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_bool(const char *s, int *out)
{
    if (!s || !*s || strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0)
        *out = 1;
    else if (strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

/* Query parameters; answers 400 itself and returns -1 when one is wrong. */
static int read_query(struct gh_http_request *req)
{
    const char *top_k = gh_http_arg(req, "top_k");
    const char *nocache = gh_http_arg(req, "nocache");
    const char *provider = gh_http_arg(req, "provider");
    struct gh_provider *prov = req->app->provider;

    req->areq.top_k = GH_PROVIDER_MAX_ALTS;
    if (top_k) {
        char *end = NULL;
        long k = strtol(top_k, &end, 10);

        if (!*top_k || *end || k < 0 || k > GH_PROVIDER_MAX_ALTS) {
            gh_http_problem(req, 400, "invalid_parameter",
                            "top_k must be a whole number from 0 to %d", GH_PROVIDER_MAX_ALTS);
            return -1;
        }
        req->areq.top_k = (int)k;
    }
    if (nocache && parse_bool(nocache, &req->areq.nocache) != 0) {
        gh_http_problem(req, 400, "invalid_parameter", "nocache must be true or false");
        return -1;
    }
    if (req->areq.nocache && !gh_http_is_admin(req)) { /* a paid provider call on demand */
        gh_http_forbidden(req, "nocache=true needs an admin; leave it out to use the cache");
        return -1;
    }
    if (provider && strcmp(provider, "auto") != 0 && strcmp(provider, prov->name) != 0) {
        if (strcmp(provider, "openai") && strcmp(provider, "llava") && strcmp(provider, "clip")) {
            gh_http_problem(req, 400, "invalid_parameter",
                            "provider must be auto, openai, llava or clip");
            return -1;
        }
        gh_http_problem(req, 503, "provider_unavailable",
                        "provider '%s' is not configured on this server; it uses '%s'", provider,
                        prov->name);
        return -1;
    }
    return 0;
}

/* Finds the image in the body; answers the error itself and returns -1. */
static int find_image(struct gh_http_request *req)
{
    const char *ct = gh_http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    struct gh_multipart_part part;
    struct gh_err err = {0};
    char boundary[128];

    if (req->body.len == 0) {
        gh_http_problem(req, 400, "empty_body",
                        "the request has no body; send the photo as multipart field 'file' "
                        "or as the raw body with Content-Type image/jpeg, image/png or "
                        "image/webp");
        return -1;
    }
    if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
        int rc = gh_multipart_boundary(ct, boundary, sizeof boundary, &err);

        if (rc == GH_OK)
            rc = gh_multipart_find((const uint8_t *)req->body.data, req->body.len, boundary, "file",
                                   &part, &err);
        if (rc == GH_ENOTFOUND) {
            gh_http_problem(req, 400, "missing_file",
                            "the form has no field named 'file'; attach the photo as 'file'");
            return -1;
        }
        if (rc) {
            gh_http_problem(req, 400, "malformed_multipart", "%s", err.msg);
            return -1;
        }
        req->areq.body = part.data;
        req->areq.len = part.len;
        req->areq.declared = gh_image_format_from_mime(part.content_type);
        if (req->areq.declared == GH_IMAGE_FORMAT_UNKNOWN)
            req->areq.declared = gh_image_format_from_filename(part.filename);
        if (part.len == 0) {
            gh_http_problem(req, 400, "empty_file", "the uploaded file is empty (0 bytes)");
            return -1;
        }
        return 0;
    }
    req->areq.body = (const uint8_t *)req->body.data;
    req->areq.len = req->body.len;
    if (!ct || strncasecmp(ct, "application/octet-stream", 24) == 0)
        return 0; /* nothing declared: the bytes decide */
    req->areq.declared = gh_image_format_from_mime(ct);
    if (req->areq.declared == GH_IMAGE_FORMAT_UNKNOWN) {
        gh_http_problem(req, 415, "unsupported_media_type",
                        "Content-Type '%.100s' is not accepted; use multipart/form-data with a "
                        "'file' field, or image/jpeg, image/png or image/webp",
                        ct);
        return -1;
    }
    return 0;
}

static void answer(struct gh_http_request *req, int rc, struct gh_analysis *a,
                   const struct gh_err *err)
{
    if (rc == GH_ELIMITED) {
        gh_http_provider_limited(req, err);
        return;
    }
    if (rc) {
        gh_http_problem_from_err(req, err);
        return;
    }
    req->cached = a->cached;
    snprintf(req->cache_layer, sizeof req->cache_layer, "%s", a->layer);
    snprintf(req->equipment, sizeof req->equipment, "%s", a->slug);
    snprintf(req->provider, sizeof req->provider, "%s", a->provider);
    gh_http_json(req, 200, a->json, a->json_len);
    req->resp.no_store = 1;
    a->json = NULL;
}

/* On an analysis worker: decode, pHash, near duplicates, the provider. */
static int analyze_miss(struct gh_http_request *req)
{
    struct gh_analysis a;
    struct gh_err err = {0};
    int rc = gh_pipeline_analyze(req->app->pipeline, &req->areq, &a, &err);

    answer(req, rc, &a, &err);
    if (rc == GH_OK)
        gh_analysis_fini(&a);
    return 0;
}

/* On a light worker: finds the image in a large body and hashes it (when the I/O thread left
 * that), then asks Redis and the store; a miss goes on to an analysis worker. */
static int analyze_shared(struct gh_http_request *req)
{
    struct gh_analysis a;
    struct gh_err err = {0};
    int rc;

    if (!req->areq.body && find_image(req) != 0)
        return 0;
    rc = gh_pipeline_lookup(req->app->pipeline, &req->areq, &a, &err);
    if (rc == GH_ENOTFOUND)
        return gh_http_defer(req, analyze_miss, GH_HTTP_POOL_ANALYSIS);
    answer(req, rc, &a, &err);
    gh_analysis_fini(&a);
    return 0;
}

int gh_route_analyze(struct gh_http_request *req)
{
    struct gh_analysis a;
    struct gh_err err = {0};
    int rc;

    req->cached = 0;
    if (read_query(req) != 0)
        return 0;
    req->areq.request_id = req->request_id;
    req->areq.client_key = req->ident.key;
    req->areq.owner = req->owner;
    if (req->body.len > GH_HTTP_INLINE_HASH_MAX) /* too long to scan and hash here */
        return gh_http_defer(req, analyze_shared, GH_HTTP_POOL_LIGHT);
    if (find_image(req) != 0)
        return 0;
    rc = gh_pipeline_lookup_memory(req->app->pipeline, &req->areq, &a, &err);
    if (rc == GH_ENOTFOUND)
        return req->areq.nocache ? gh_http_defer(req, analyze_miss, GH_HTTP_POOL_ANALYSIS)
                                 : gh_http_defer(req, analyze_shared, GH_HTTP_POOL_LIGHT);
    answer(req, rc, &a, &err);
    gh_analysis_fini(&a);
    return 0;
}
