/* SPDX-License-Identifier: MIT */
/* The security headers every response carries (issue 10 item 5): a Content-Security-Policy
 * that the web app passes without 'unsafe-inline', no MIME sniffing, no framing, no referrer,
 * and a Permissions-Policy that lets the app (and only it) use the camera. */
#include "internal.h"

#include "assets.h"
#include "gh/digest.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define STYLE_HASHES_CAP 4 /* <style> blocks in index.html the policy allows by hash */

/* The app's page shell keeps its critical CSS in one inline <style> (the first paint needs no
 * round trip); CSP Level 2 allows exactly that block by its SHA-256, computed here from the
 * embedded index.html so an edit of it can never leave a stale hash. Scripts and handlers are
 * files. blob: is the photo preview (URL.createObjectURL), data: icons drawn as data URLs. */
static char csp_app[1024];

/* Swagger UI (third-party, /docs/) sets inline styles in the elements it renders; our own
 * pages get no such allowance. */
static const char csp_docs[] =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

static pthread_once_t csp_once = PTHREAD_ONCE_INIT;

static void base64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* " 'sha256-...'" for each <style> block of the page, appended to buf. */
static void style_hashes(const struct gh_asset *page, char *buf, size_t cap)
{
    const char *p = page ? (const char *)page->data : NULL, *end = p ? p + page->len : NULL;

    for (int n = 0; p && n < STYLE_HASHES_CAP; n++) {
        const char *open = memmem(p, (size_t)(end - p), "<style>", 7), *close;
        uint8_t d[GH_SHA256_LEN];
        char b64[48];
        size_t used = strlen(buf);

        if (!open)
            return;
        open += 7;
        close = memmem(open, (size_t)(end - open), "</style>", 8);
        if (!close || gh_sha256((const uint8_t *)open, (size_t)(close - open), d, NULL) != GH_OK)
            return;
        base64(d, sizeof d, b64);
        snprintf(buf + used, cap - used, " 'sha256-%s'", b64);
        p = close + 8;
    }
}

static void build_csp(void)
{
    char hashes[256] = "";

    style_hashes(gh_http_asset("/"), hashes, sizeof hashes);
    snprintf(csp_app, sizeof csp_app,
             "default-src 'self'; script-src 'self'; style-src 'self'%s; "
             "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; "
             "manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
             "frame-ancestors 'none'",
             hashes);
}

void gh_http_security_headers(struct gh_http_request *req, struct MHD_Response *mr)
{
    int docs = req->url && strncmp(req->url, "/docs/", 6) == 0;

    pthread_once(&csp_once, build_csp);
    MHD_add_response_header(mr, "Content-Security-Policy", docs ? csp_docs : csp_app);
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(mr, "X-Frame-Options", "DENY");
    MHD_add_response_header(mr, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(mr, "Permissions-Policy",
                            "camera=(self), microphone=(), geolocation=(), payment=(), usb=()");
}
