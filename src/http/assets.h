/* SPDX-License-Identifier: MIT */
/* Files compiled into the binary (scripts/embed_dir.py): the web app and the API docs. */
#ifndef GH_HTTP_ASSETS_H
#define GH_HTTP_ASSETS_H

#include <stddef.h>

struct gh_asset {
    const char *path; /* URL path, e.g. "/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
    const unsigned char *gz; /* gzip of data, NULL when it would not be smaller */
    size_t gz_len;
};

extern const struct gh_asset gh_assets[];
extern const size_t gh_n_assets;

#endif
