/* SPDX-License-Identifier: MIT */
/* GET of the files compiled into the binary (the web app at /, the API docs at /docs): served
 * from memory, gzip precomputed at build time, revalidated by ETag. */
#include "internal.h"

#include "assets.h"

#include <stdio.h>
#include <string.h>

static const struct gh_asset *find(const char *path)
{
    size_t lo = 0, hi = gh_n_assets;

    while (lo < hi) { /* the table is sorted by path */
        size_t mid = (lo + hi) / 2;
        int c = strcmp(path, gh_assets[mid].path);

        if (c == 0)
            return &gh_assets[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* FNV-1a of the bytes: changes whenever the file does, which is all an ETag needs. */
static void etag_of(const struct gh_asset *a, char *out, size_t cap)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < a->len; i++)
        h = (h ^ a->data[i]) * 1099511628211ULL;
    snprintf(out, cap, "\"%016llx\"", (unsigned long long)h);
}

/* The asset for url; a directory ("/docs/") means its index.html. With as_dir, url is taken
 * as a directory even without its slash ("/docs" finds "/docs/index.html"). */
static const struct gh_asset *lookup(const char *url, int as_dir)
{
    char path[256];
    size_t n = strlen(url);

    if (n == 0 || n >= sizeof path - 16)
        return NULL;
    memcpy(path, url, n + 1);
    if (as_dir && path[n - 1] != '/')
        path[n++] = '/';
    if (path[n - 1] == '/')
        memcpy(path + n, "index.html", 11);
    return find(path);
}

const struct gh_asset *gh_http_asset(const char *url)
{
    return lookup(url, 0) ? lookup(url, 0) : lookup(url, 1);
}

int gh_route_static(struct gh_http_request *req)
{
    const struct gh_asset *a = gh_http_asset(req->url);
    const char *inm = gh_http_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);

    if (!a) {
        gh_http_problem(req, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint: %s %s",
                        req->method, req->url);
        return 0;
    }
    if (!lookup(req->url, 0)) { /* "/docs": relative links need "/docs/" */
        snprintf(req->location, sizeof req->location, "%s/", req->url);
        req->resp.location = req->location;
        req->resp.status = MHD_HTTP_PERMANENT_REDIRECT;
        req->resp.content_type = "text/plain; charset=utf-8";
        req->resp.body = (char *)"";
        req->resp.len = 0;
        req->resp.body_static = 1;
        return 0;
    }
    etag_of(a, req->etag, sizeof req->etag);
    req->resp.etag = req->etag;
    req->resp.cache_control = "no-cache"; /* names carry no hash: always revalidate */
    req->resp.content_type = a->content_type;
    req->resp.body_static = 1;
    if (inm && strcmp(inm, req->etag) == 0) {
        req->resp.status = MHD_HTTP_NOT_MODIFIED;
        req->resp.body = (char *)"";
        req->resp.len = 0;
        return 0;
    }
    req->resp.status = MHD_HTTP_OK;
    req->resp.body = (char *)(uintptr_t)a->data;
    req->resp.len = a->len;
    req->resp.gz = a->gz;
    req->resp.gz_len = a->gz_len;
    return 0;
}
