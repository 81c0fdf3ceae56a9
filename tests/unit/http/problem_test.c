/* SPDX-License-Identifier: MIT */
/* Problem documents (RFC 9457): every error code of the lower layers maps to its documented
 * status and stable `code`, the document has all its members, and details or URLs with bytes
 * we do not control (quotes, control bytes, invalid UTF-8) still make valid JSON. */
#include "../../../src/http/internal.h"
#include "gh/alloc.h"
#include "../../gh_test.h"

#include <jansson.h>

static void request_init(struct gh_http_request *req, const char *url)
{
    memset(req, 0, sizeof *req);
    req->url = url;
    snprintf(req->request_id, sizeof req->request_id, "%s", "req-1");
}

/* The response as JSON, checked to be a whole problem document of status and code. */
static json_t *problem_of(struct gh_http_request *req, int status, const char *code)
{
    json_error_t jerr;
    json_t *doc;

    CHECK_INT(req->resp.status, status);
    CHECK_STR(req->resp.content_type, "application/problem+json");
    CHECK_STR(req->error_code, code);
    doc = json_loadb(req->resp.body, req->resp.len, 0, &jerr);
    CHECK(doc != NULL);
    if (!doc) {
        fprintf(stderr, "not JSON (%s): %.*s\n", jerr.text, (int)req->resp.len, req->resp.body);
        return NULL;
    }
    CHECK_INT(json_integer_value(json_object_get(doc, "status")), status);
    CHECK_STR(json_string_value(json_object_get(doc, "code")), code);
    CHECK(strncmp(json_string_value(json_object_get(doc, "type")), "urn:gymhelper:problem:", 22) ==
          0);
    CHECK(json_string_length(json_object_get(doc, "title")) > 0);
    CHECK(json_is_string(json_object_get(doc, "detail")));
    CHECK_STR(json_string_value(json_object_get(doc, "request_id")), "req-1");
    return doc;
}

static void release(struct gh_http_request *req)
{
    if (!req->resp.body_static)
        gh_free(req->resp.body);
    req->resp.body = NULL;
}

static void errors_map_to_documented_statuses(void)
{
    static const struct {
        int err, status;
        const char *code;
    } cases[] = {
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
        {-9999, 503, "backend_unavailable"}, /* an unknown code still answers */
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gh_http_request req;
        struct gh_err err = {0};
        json_t *doc;

        request_init(&req, "/api/v1/analyze");
        err.code = cases[i].err;
        snprintf(err.msg, sizeof err.msg, "case %zu", i);
        gh_http_problem_from_err(&req, &err);
        doc = problem_of(&req, cases[i].status, cases[i].code);
        if (doc) {
            char want[32];

            snprintf(want, sizeof want, "case %zu", i);
            CHECK_STR(json_string_value(json_object_get(doc, "detail")), want);
            CHECK_STR(json_string_value(json_object_get(doc, "instance")), "/api/v1/analyze");
        }
        json_decref(doc);
        release(&req);
    }
}

static void store_unavailable_is_backend_unavailable(void)
{
    struct gh_http_request req;
    struct gh_err err = {0};

    request_init(&req, "/api/v1/identifications");
    err.code = GH_EUNAVAILABLE;
    snprintf(err.msg, sizeof err.msg, "%s", "connection refused");
    gh_http_problem_from_store_err(&req, &err);
    json_decref(problem_of(&req, 503, "backend_unavailable"));
    release(&req);
}

static void untrusted_bytes_make_valid_json(void)
{
    struct gh_http_request req;
    json_t *doc;

    request_init(&req, "/api/v1/equipment/\"\x01\xff\xfe\"");
    gh_http_problem(&req, 404, "equipment_not_found", "no '%s' \"here\"\n\x02 \xc3\x28", "\xff");
    doc = problem_of(&req, 404, "equipment_not_found");
    if (doc) {
        CHECK(strstr(json_string_value(json_object_get(doc, "instance")), "/api/v1/equipment/") ==
              json_string_value(json_object_get(doc, "instance")));
        CHECK(strstr(json_string_value(json_object_get(doc, "detail")), "\"here\"") != NULL);
    }
    json_decref(doc);
    release(&req);
}

static void a_missing_document_is_503(void)
{
    struct gh_http_request req;

    request_init(&req, "/api/v1/cache/stats");
    gh_http_json_doc(&req, 200, NULL); /* what json_pack gives when memory runs out */
    json_decref(problem_of(&req, 503, "out_of_memory"));
    release(&req);
}

GH_TEST_MAIN(GH_TEST(errors_map_to_documented_statuses),
             GH_TEST(store_unavailable_is_backend_unavailable),
             GH_TEST(untrusted_bytes_make_valid_json), GH_TEST(a_missing_document_is_503))
