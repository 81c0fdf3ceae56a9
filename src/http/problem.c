/* SPDX-License-Identifier: MIT */
/* Error responses as RFC 9457 problem details, with the stable `code` clients switch on, and
 * the mapping from the lower layers' error codes to HTTP statuses. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/str.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gh_http_json(struct gh_http_request *req, int status, char *json, size_t len)
{
    if (!req->resp.body_static)
        gh_free(req->resp.body);
    req->resp.status = status;
    req->resp.content_type = "application/json";
    req->resp.body = json;
    req->resp.len = len;
    req->resp.body_static = 0;
}

void gh_http_json_doc(struct gh_http_request *req, int status, json_t *doc)
{
    char *text =
        doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;

    json_decref(doc);
    if (!text) {
        gh_http_problem(req, 503, "out_of_memory", "the server is out of memory");
        return;
    }
    gh_http_json(req, status, text, strlen(text));
    req->resp.no_store = 1;
}

static void fallback(struct gh_http_request *req)
{
    static char oom[] = "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":"
                        "503,\"code\":\"out_of_memory\",\"detail\":\"the server is out of "
                        "memory; try again shortly\"}";

    req->resp.status = MHD_HTTP_SERVICE_UNAVAILABLE;
    req->resp.content_type = "application/problem+json";
    req->resp.body = oom;
    req->resp.len = sizeof oom - 1;
    req->resp.body_static = 1;
}

static const char *title_of(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status >= 500 ? "Server Error" : "Error";
    }
}

void gh_http_problem(struct gh_http_request *req, int status, const char *code, const char *fmt,
                     ...)
{
    char raw[512], detail[512], type[128], instance[512];
    va_list ap;
    json_t *doc;
    char *text;

    /* Details quote URLs, headers and library messages: bytes we do not control, which
     * must still make valid JSON. */
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    gh_utf8_sanitize(detail, sizeof detail, raw);
    gh_utf8_sanitize(instance, sizeof instance, req->url);
    snprintf(type, sizeof type, "urn:gymhelper:problem:%s", code);
    doc = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "type", type, "title", title_of(status),
                    "status", status, "code", code, "detail", detail, "instance", instance,
                    "request_id", req->request_id);
    text =
        doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(doc);
    req->error_code = code;
    if (!text) {
        fallback(req);
        return;
    }
    gh_http_json(req, status, text, strlen(text));
    req->resp.content_type = "application/problem+json";
}

void gh_http_problem_from_err(struct gh_http_request *req, const struct gh_err *err)
{
    static const struct {
        int err;
        int status;
        const char *code;
    } map[] = {
        {GH_EINVAL, 400, "bad_request"},
        {GH_ETOOBIG, 413, "payload_too_large"},
        {GH_EUNSUPPORTED, 415, "unsupported_media_type"},
        {GH_EMISMATCH, 415, "type_mismatch"},
        {GH_EDECODE, 422, "undecodable_image"},
        {GH_ERANGE, 422, "image_dimensions_out_of_range"},
        {GH_ENOTFOUND, 404, "not_found"},
        {GH_EPROVIDER, 502, "provider_error"},
        {GH_ETIMEOUT, 504, "provider_timeout"},
        {GH_EUNAVAILABLE, 503, "provider_unavailable"},
        {GH_ENOMEM, 503, "out_of_memory"},
        {GH_EBACKEND, 503, "backend_unavailable"},
        {GH_EIO, 503, "backend_unavailable"},
        {GH_ECONFLICT, 409, "conflict"},
        {GH_ELIMITED, 429, "rate_limited"},
    };

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].err == err->code) {
            gh_http_problem(req, map[i].status, map[i].code, "%s", err->msg);
            return;
        }
    gh_http_problem(req, 503, "backend_unavailable", "%s", err->msg);
}

void gh_http_problem_from_store_err(struct gh_http_request *req, const struct gh_err *err)
{
    if (err->code == GH_EUNAVAILABLE)
        gh_http_problem(req, 503, "backend_unavailable", "%s", err->msg);
    else
        gh_http_problem_from_err(req, err);
}
