/* SPDX-License-Identifier: MIT */
/* Is the remote provider reachable, and does it take our key? One GET of <base>/models (the
 * OpenAI API and OpenAI-compatible servers list their models there), for `gymhelper doctor`.
 * It sends no photo and costs nothing. */
#include "internal.h"

#include "gh/alloc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_OPENAI_URL "https://api.openai.com/v1"
#define DEFAULT_LLAVA_URL  "http://127.0.0.1:11434/v1"

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static const char *or_default(const char *s, const char *def)
{
    return s && *s ? s : def;
}

int gh_provider_probe(const struct gh_provider_config *cfg, const char *name, long timeout_ms,
                      char *detail, size_t cap, struct gh_err *err)
{
    int openai = strcasecmp(name, "openai") == 0;
    const char *base = openai ? or_default(cfg->openai_base_url, DEFAULT_OPENAI_URL)
                              : or_default(cfg->llava_base_url, DEFAULT_LLAVA_URL);
    char url[1024], auth[512], errbuf[CURL_ERROR_SIZE] = "";
    size_t len = strlen(base);
    struct curl_slist *hdr = NULL;
    CURL *c = NULL;
    long status = 0;
    CURLcode cc;
    int rc = GH_OK;

    detail[0] = '\0';
    if (openai && !(cfg->openai_api_key && *cfg->openai_api_key))
        return gh_err_set(err, GH_EUNAVAILABLE, "OPENAI_API_KEY is not set");
    while (len > 0 && base[len - 1] == '/')
        len--;
    if (len + 8 >= sizeof url)
        return gh_err_set(err, GH_EINVAL, "the base URL is too long");
    snprintf(url, sizeof url, "%.*s/models", (int)len, base);
    if (openai) {
        if (snprintf(auth, sizeof auth, "Authorization: Bearer %s", cfg->openai_api_key) >=
            (int)sizeof auth)
            return gh_err_set(err, GH_EINVAL, "OPENAI_API_KEY is too long");
        if (!(hdr = curl_slist_append(NULL, auth)))
            return gh_err_set(err, GH_ENOMEM, "out of memory");
    }
    if (!(c = curl_easy_init())) {
        rc = gh_err_set(err, GH_ENOMEM, "cannot start libcurl");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2 * timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "gymhelper");
    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        /* the URL has no key in it; the message names the host */
        rc = gh_err_set(err, GH_EBACKEND, "cannot reach %s: %s", url,
                        errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 401 || status == 403)
        rc = gh_err_set(err, GH_EPROVIDER, "%s answered HTTP %ld: the key is refused", url, status);
    else if (status >= 500)
        rc = gh_err_set(err, GH_EPROVIDER, "%s answered HTTP %ld", url, status);
    else
        snprintf(detail, cap, "%s answered HTTP %ld", url, status);
out:
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(hdr);
    return rc;
}
