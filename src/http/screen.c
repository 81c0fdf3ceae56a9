/* SPDX-License-Identifier: MIT */
/* Request hygiene from the headers, before any body is read (issue 10, item 4): framing that
 * two parsers could read two ways (several Content-Length fields, Transfer-Encoding with
 * Content-Length), control bytes in the path, bodies over the route's cap, JSON routes without
 * a JSON Content-Type, and admission's verdicts are answered at once and the connection closed;
 * a body the client may still be sending is read and dropped after that (lingering close, in
 * admission.c), so that clients which send it first still read the answer. */
#include "internal.h"

#include "admission.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct framing {
    int n_length; /* Content-Length fields */
    int bad_length;
    unsigned long long length;
    int chunked; /* Transfer-Encoding present */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct framing *f = cls;

    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        char *end = NULL;

        f->n_length++;
        if (!value || !*value || strspn(value, "0123456789") != strlen(value))
            f->bad_length = 1;
        else
            f->length = strtoull(value, &end, 10);
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->chunked = 1;
    }
    return MHD_YES;
}

/* application/json, with parameters or not (RFC 8259 §11). */
static int is_json(const char *ct)
{
    size_t n = strlen("application/json");

    return ct && strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int busy(struct gh_http_request *req, enum gh_admit verdict)
{
    if (verdict == GH_ADMIT_BUSY_CLIENT)
        gh_http_problem(req, 503, "server_busy",
                        "this client holds too many connections at once (the limit is "
                        "MAX_CONNECTIONS_PER_CLIENT); close some and try again");
    else
        gh_http_problem(req, 503, "server_busy",
                        "the server holds as many connections as it can; try again in a few "
                        "seconds");
    req->resp.retry_after_s = 2;
    return 1;
}

/* 1 after answering a refusal into req->resp. */
static int check(struct gh_http_request *req, struct gh_admission *adm, int takes_upload,
                 int json_post, const struct framing *f)
{
    const char *ct = gh_http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    int has_body = f->chunked || f->length > 0, bad_uri = 0;
    enum gh_admit verdict = gh_admission_begin(adm, req->conn_ctx, has_body, &bad_uri);

    if (bad_uri) {
        gh_http_problem(req, 400, "invalid_path",
                        "the path or query holds a NUL or another control character");
        return 1;
    }
    if (verdict != GH_ADMIT_OK)
        return busy(req, verdict);
    req->body_max = takes_upload ? req->app->max_body : GH_HTTP_JSON_BODY_MAX;
    if (f->length > req->body_max) {
        req->body_declared = (size_t)f->length; /* for the message */
        return -1;                              /* 413: the caller words it */
    }
    if (json_post && has_body && !is_json(ct)) { /* an empty body (logout by cookie) has none */
        gh_http_problem(req, 415, "unsupported_media_type",
                        "this endpoint takes a JSON body: send it with Content-Type: "
                        "application/json");
        return 1;
    }
    if (f->length > 0) {
        if (gh_admission_reserve(adm, req->conn_ctx, (size_t)f->length + 1) != 0)
            return -2; /* the upload budget is spent: the caller words it */
        req->body_declared = (size_t)f->length;
        if (gh_buf_reserve(&req->body, req->body_declared) != GH_OK) {
            gh_http_problem(req, 503, "out_of_memory",
                            "the server is out of memory; try again shortly");
            return 1;
        }
    }
    return 0;
}

int gh_http_screen(struct gh_http_request *req, struct gh_admission *adm, int takes_upload,
                   int json_post)
{
    struct framing f;
    int rc;

    memset(&f, 0, sizeof f);
    req->body_max = takes_upload ? req->app->max_body : GH_HTTP_JSON_BODY_MAX;
    gh_buf_init(&req->body, req->body_max);
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.n_length > 1 || f.bad_length || (f.n_length && f.chunked)) {
        gh_http_problem(req, 400, "invalid_framing",
                        f.n_length > 1 ? "the request has more than one Content-Length field"
                        : f.bad_length ? "Content-Length is not a number of bytes"
                                       : "the request has both Transfer-Encoding and "
                                         "Content-Length; send one");
        req->resp.close = 1;
        gh_admission_linger(req->conn_ctx, req->resp.status);
        return GH_SCREEN_NOW;
    }
    rc = check(req, adm, takes_upload, json_post, &f);
    if (rc == 0)
        return GH_SCREEN_OK;
    if (rc == -1)
        gh_http_too_large(req);
    else if (rc == -2)
        gh_http_upload_busy(req);
    req->resp.close = 1;
    gh_buf_fini(&req->body);
    if (f.chunked || f.length > 0)
        gh_admission_linger(req->conn_ctx, req->resp.status);
    return GH_SCREEN_NOW;
}
