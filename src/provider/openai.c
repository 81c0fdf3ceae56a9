/* SPDX-License-Identifier: MIT */
/* OpenAI-compatible Chat Completions client, behind both "openai" and "llava": one POST per
 * attempt with the photo as a data URL and a JSON schema that limits the answer to catalogue
 * slugs, retries with backoff inside one deadline, and an answer that is checked, never trusted.
 * Streaming, tools and the Responses API are left out. */
#include "internal.h"

#include "gh/alloc.h"
#include "gh/buf.h"
#include "gh/clock.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* attempt_once: a failure worth another try; never leaves this file. */
#define RETRY 1

#define MAX_TOKENS        200
#define SERVER_MSG_CAP    160
#define RETRY_AFTER_MAX_S 86400

static const char system_prompt[] =
    "You identify gym equipment in photos for a gym assistant. The user sends one photo and a "
    "catalogue of equipment; each catalogue item has a slug, a name, a description of what it "
    "looks like, and the items it is often confused with. Name the catalogue item that is the "
    "main subject of the photo; tell apart items that are often confused by the visual details "
    "their descriptions give. Answer with one JSON object and nothing else: {\"slug\": the "
    "catalogue slug, or null when the photo shows no catalogue item or you cannot tell, "
    "\"confidence\": a number from 0 to 1, how likely the slug is right, \"alternatives\": up to "
    "3 objects {\"slug\": another catalogue slug, \"confidence\": 0 to 1}, most likely first}. "
    "Use only slugs from the catalogue, exactly as written.";

struct openai {
    struct gh_provider base; /* first: the ops get &base */
    char *url;               /* base URL + "/chat/completions" */
    char *model;
    char *api_key; /* NULL without a key; kept to scrub server text */
    char *auth;    /* "Authorization: Bearer <key>", NULL without a key */
    long connect_timeout_ms;
    long timeout_ms;
    int max_retries;
    long backoff_base_ms;
};

/* Growable text with a hard cap; after a failed append it stays valid and says why. */
/* One analyze call: the request, built once, and the state of the current attempt. */
struct call {
    CURL *curl;
    struct curl_slist *headers;
    char *body;
    size_t body_len;
    const struct gh_catalogue *cat;
    int64_t deadline_ms;
    struct gh_buf resp;
    long retry_after_ms; /* -1 when the last response named no delay */
    char errbuf[CURL_ERROR_SIZE];
};

/* Why an attempt failed in a way worth retrying. */
struct attempt {
    long retry_after_ms;
    char why[200];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static atomic_uint_fast64_t seed_counter;

/* Appends; a failure stays in b->rc (gh/buf.h) and is checked once at the end. */
static void sb_adds(struct gh_buf *b, const char *s)
{
    (void)gh_buf_puts(b, s);
}

static char *str_join(const char *a, size_t a_len, const char *b, size_t b_len)
{
    char *s = gh_malloc(a_len + b_len + 1);

    if (!s)
        return NULL;
    memcpy(s, a, a_len);
    memcpy(s + a_len, b, b_len);
    s[a_len + b_len] = '\0';
    return s;
}

static int64_t now_ms(void)
{
    return (int64_t)gh_mono_ms();
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* splitmix64 (Steele et al., "Fast splittable pseudorandom number generators", 2014): jitter
 * needs spread, not secrecy, and a per-call state keeps threads apart without locks. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* "Full jitter" (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015): uniform in
 * [0, base * 2^attempt], so clients that failed together do not retry together. */
static long jitter_ms(long base_ms, int attempt, uint64_t *state)
{
    long cap = base_ms;

    for (int i = 0; i < attempt && cap < 60000; i++)
        cap *= 2;
    if (cap <= 0)
        return 0;
    return (long)(next_random(state) % (uint64_t)(cap + 1));
}

static void format_seconds(long ms, char *out, size_t cap)
{
    if (ms % 1000 == 0)
        snprintf(out, cap, "%ld s", ms / 1000);
    else
        snprintf(out, cap, "%.1f s", (double)ms / 1000.0);
}

static int timeout_error(const struct openai *p, struct gh_err *err)
{
    char s[32];

    format_seconds(p->timeout_ms, s, sizeof s);
    return gh_err_set(err, GH_ETIMEOUT, "the AI provider did not answer within %s", s);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* A word holds the secret when it contains it whole, or (for secrets of 8 bytes and more) any
 * 8 consecutive bytes of it: OpenAI echoes keys masked as "sk-ab***wxyz". */
static int holds_secret(const char *w, size_t n, const char *secret, size_t s_len)
{
    if (s_len < 8)
        return memmem(w, n, secret, s_len) != NULL;
    for (size_t i = 0; i + 8 <= n; i++)
        if (memmem(secret, s_len, w + i, 8))
            return 1;
    return 0;
}

void gh_provider_scrub(const char *text, size_t len, const char *secret, char *out, size_t cap)
{
    static const char mark[] = "[redacted]";
    size_t s_len = secret ? strlen(secret) : 0, o = 0, i = 0, j;

    if (cap == 0)
        return;
    while (i < len && o + 1 < cap) {
        if (is_space(text[i])) {
            out[o++] = ' ';
            i++;
            continue;
        }
        for (j = i; j < len && !is_space(text[j]); j++)
            ;
        if (s_len && holds_secret(text + i, j - i, secret, s_len)) {
            for (size_t k = 0; mark[k] && o + 1 < cap; k++)
                out[o++] = mark[k];
        } else {
            for (; i < j && o + 1 < cap; i++)
                out[o++] = isprint((unsigned char)text[i]) ? text[i] : '?';
        }
        i = j;
    }
    out[o] = '\0';
}

long gh_provider_retry_after_ms(const char *value, time_t now)
{
    char v[64];
    size_t n = 0, i;
    time_t t;
    long s;

    while (is_space(*value))
        value++;
    while (value[n] && n + 1 < sizeof v)
        n++;
    while (n > 0 && is_space(value[n - 1]))
        n--;
    memcpy(v, value, n);
    v[n] = '\0';
    for (i = 0; i < n && isdigit((unsigned char)v[i]); i++)
        ;
    if (n > 0 && i == n) {
        s = n > 6 ? RETRY_AFTER_MAX_S : strtol(v, NULL, 10);
        return (s < RETRY_AFTER_MAX_S ? s : RETRY_AFTER_MAX_S) * 1000;
    }
    t = curl_getdate(v, NULL);
    if (n == 0 || t == -1)
        return -1;
    if (t <= now)
        return 0;
    s = t - now < RETRY_AFTER_MAX_S ? (long)(t - now) : RETRY_AFTER_MAX_S;
    return s * 1000;
}

/* Length of the balanced {...} that text starts with (text[0] == '{'), 0 when it never
 * closes. Braces inside JSON strings do not count. */
static size_t balanced_len(const char *text, size_t len)
{
    size_t depth = 0;
    int in_str = 0, esc = 0;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{') {
            depth++;
        } else if (c == '}' && --depth == 0) {
            return i + 1;
        }
    }
    return 0;
}

json_t *gh_provider_answer_json(const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    int tries = 0;

    if (json_is_object(j))
        return j;
    json_decref(j);
    /* A bounded number of starts keeps hostile text with many '{' linear enough. */
    for (size_t i = 0; i < len && tries < 32; i++) {
        size_t n;

        if (text[i] != '{')
            continue;
        tries++;
        n = balanced_len(text + i, len - i);
        if (n == 0)
            continue;
        j = json_loadb(text + i, n, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(j))
            return j;
        json_decref(j);
    }
    return NULL;
}

/* The catalogue entry for a model's slug, or NULL. A JSON string may hold NUL bytes, which
 * would make a prefix look like a known slug. */
static const struct gh_equipment *known_slug(const struct gh_catalogue *cat, const json_t *s)
{
    const struct gh_equipment *e;

    if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
        return NULL;
    e = gh_catalogue_find(cat, json_string_value(s));
    return e && strlen(e->slug) < GH_SLUG_CAP ? e : NULL;
}

static double clamp01(const json_t *v)
{
    double c = json_number_value(v); /* 0 when not a number */

    return c > 0 ? (c < 1 ? c : 1) : 0;
}

/* Up to GH_PROVIDER_MAX_ALTS known slugs, not the main one, no repeats, highest first. */
static void read_alternatives(const json_t *alts, const struct gh_catalogue *cat,
                              struct gh_provider_result *out)
{
    struct gh_provider_candidate *c = out->alternatives, t;
    const struct gh_equipment *e;
    size_t i;
    int k, dup;

    for (i = 0; i < json_array_size(alts) && out->n_alternatives < GH_PROVIDER_MAX_ALTS; i++) {
        const json_t *it = json_array_get(alts, i);

        e = known_slug(cat, json_object_get(it, "slug"));
        if (!e || strcmp(e->slug, out->slug) == 0)
            continue;
        for (dup = 0, k = 0; k < out->n_alternatives; k++)
            dup |= strcmp(c[k].slug, e->slug) == 0;
        if (dup)
            continue;
        k = out->n_alternatives++;
        snprintf(c[k].slug, sizeof c[k].slug, "%s", e->slug);
        c[k].confidence = clamp01(json_object_get(it, "confidence"));
        for (; k > 0 && c[k].confidence > c[k - 1].confidence; k--) {
            t = c[k];
            c[k] = c[k - 1];
            c[k - 1] = t;
        }
    }
}

static int read_answer(const struct openai *p, const json_t *ans, const struct gh_catalogue *cat,
                       struct gh_provider_result *out, struct gh_err *err)
{
    const json_t *slug = json_object_get(ans, "slug");
    const struct gh_equipment *e;
    char shown[48];

    if (!json_is_string(slug) && !json_is_null(slug))
        return gh_err_set(err, GH_EPROVIDER, "the AI provider's answer has no \"slug\"");
    if (json_is_null(slug) || json_string_length(slug) == 0) {
        snprintf(out->note, sizeof out->note,
                 "the model recognised no catalogue equipment in the photo");
    } else if (!(e = known_slug(cat, slug))) {
        /* Never trusted: a slug outside the catalogue is no answer at all. */
        gh_provider_scrub(json_string_value(slug), json_string_length(slug), p->api_key, shown,
                          sizeof shown);
        snprintf(out->note, sizeof out->note, "the model answered an unknown slug \"%s\"", shown);
    } else {
        snprintf(out->slug, sizeof out->slug, "%s", e->slug);
        out->confidence = clamp01(json_object_get(ans, "confidence"));
    }
    read_alternatives(json_object_get(ans, "alternatives"), cat, out);
    return GH_OK;
}

static void read_meta(const struct openai *p, const json_t *root, struct gh_provider_result *out)
{
    const json_t *model = json_object_get(root, "model");
    const json_t *usage = json_object_get(root, "usage");
    const json_t *n;

    if (json_is_string(model) && json_string_length(model) > 0)
        gh_provider_scrub(json_string_value(model), json_string_length(model), p->api_key,
                          out->model, sizeof out->model);
    n = json_object_get(usage, "prompt_tokens");
    if (json_is_integer(n) && json_integer_value(n) >= 0)
        out->prompt_tokens = (int64_t)json_integer_value(n);
    n = json_object_get(usage, "completion_tokens");
    if (json_is_integer(n) && json_integer_value(n) >= 0)
        out->completion_tokens = (int64_t)json_integer_value(n);
}

static int parse_answer(const struct openai *p, const struct call *c,
                        struct gh_provider_result *out, struct gh_err *err)
{
    json_t *root = NULL, *ans = NULL;
    const json_t *msg, *refusal, *content;
    char text[200];
    int rc;

    root = json_loadb(c->resp.data ? c->resp.data : "", c->resp.len, 0, NULL);
    if (!json_is_object(root)) {
        rc = gh_err_set(err, GH_EPROVIDER, "the AI provider's answer is not a JSON object");
        goto out;
    }
    read_meta(p, root, out);
    msg = json_object_get(json_array_get(json_object_get(root, "choices"), 0), "message");
    if (!json_is_object(msg)) {
        rc = gh_err_set(err, GH_EPROVIDER, "the AI provider's answer has no choices[0].message");
        goto out;
    }
    refusal = json_object_get(msg, "refusal");
    if (json_is_string(refusal) && json_string_length(refusal) > 0) {
        /* A refusal is an answer ("not this photo"), not a broken provider. */
        gh_provider_scrub(json_string_value(refusal), json_string_length(refusal), p->api_key, text,
                          sizeof text);
        snprintf(out->note, sizeof out->note, "the model declined to answer: %s", text);
        rc = GH_OK;
        goto out;
    }
    content = json_object_get(msg, "content");
    if (json_is_string(content))
        ans = gh_provider_answer_json(json_string_value(content), json_string_length(content));
    if (!ans) {
        rc = gh_err_set(err, GH_EPROVIDER,
                        "the AI provider's answer holds no JSON object with the identification");
        goto out;
    }
    rc = read_answer(p, ans, c->cat, out, err);
out:
    json_decref(ans);
    json_decref(root);
    return rc;
}

/* error.message of an OpenAI error body, else the start of the body; scrubbed. */
static void server_message(const struct openai *p, const struct call *c, char *out, size_t cap)
{
    json_t *root = json_loadb(c->resp.data ? c->resp.data : "", c->resp.len, 0, NULL);
    const json_t *m = json_object_get(json_object_get(root, "error"), "message");

    if (json_is_string(m) && json_string_length(m) > 0)
        gh_provider_scrub(json_string_value(m), json_string_length(m), p->api_key, out, cap);
    else if (c->resp.len > 0)
        gh_provider_scrub(c->resp.data, c->resp.len < 120 ? c->resp.len : 120, p->api_key, out,
                          cap);
    else
        snprintf(out, cap, "no error message");
    json_decref(root);
}

static int http_failure(const struct openai *p, const struct call *c, long status,
                        struct attempt *a, struct gh_err *err)
{
    char msg[SERVER_MSG_CAP];

    server_message(p, c, msg, sizeof msg);
    switch (status) {
    case 429: /* rate limited: Retry-After says when */
    case 500:
    case 502:
    case 503:
    case 504: /* the server or a proxy in front of it: worth another try */
        a->retry_after_ms = c->retry_after_ms;
        snprintf(a->why, sizeof a->why, "HTTP %ld: %s", status, msg);
        return RETRY;
    default:
        break;
    }
    if (status >= 400 && status < 500)
        return gh_err_set(err, GH_EPROVIDER, "the AI provider refused the request (HTTP %ld): %s",
                          status, msg);
    return gh_err_set(err, GH_EPROVIDER, "the AI provider failed (HTTP %ld): %s", status, msg);
}

static int transport_failure(const struct openai *p, const struct call *c, CURLcode cc,
                             struct attempt *a, struct gh_err *err)
{
    const char *what = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);
    char msg[SERVER_MSG_CAP];

    if (c->resp.rc == GH_ETOOBIG || cc == CURLE_FILESIZE_EXCEEDED)
        return gh_err_set(err, GH_EPROVIDER, "the AI provider's answer is over %d MiB",
                          GH_PROVIDER_BODY_MAX >> 20);
    if (c->resp.rc == GH_ENOMEM)
        return gh_err_set(err, GH_ENOMEM, "out of memory reading the AI provider's answer");
    /* The total timeout of the attempt is the deadline; an earlier timeout is the connect one. */
    if (cc == CURLE_OPERATION_TIMEDOUT && now_ms() >= c->deadline_ms - 10)
        return timeout_error(p, err);
    gh_provider_scrub(what, strlen(what), p->api_key, msg, sizeof msg);
    a->retry_after_ms = -1;
    snprintf(a->why, sizeof a->why, "no answer: %s", msg);
    return RETRY;
}

/* One HTTP exchange within left_ms. Returns GH_OK with out filled, a final error, or RETRY
 * with a filled in. */
static int attempt_once(const struct openai *p, struct call *c, long left_ms, struct attempt *a,
                        struct gh_provider_result *out, struct gh_err *err)
{
    long connect_ms = p->connect_timeout_ms < left_ms ? p->connect_timeout_ms : left_ms;
    long status = 0;
    CURLcode cc;

    gh_buf_clear(&c->resp);
    c->retry_after_ms = -1;
    c->errbuf[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, left_ms);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    cc = curl_easy_perform(c->curl);
    out->attempts++;
    if (cc != CURLE_OK)
        return transport_failure(p, c, cc, a, err);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return parse_answer(p, c, out, err);
    return http_failure(p, c, status, a, err);
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    struct call *c = ud;
    size_t len;

    if (!gh_mul_ok(size, n, &len))
        return 0;
    (void)gh_buf_append(&c->resp, buf, len);
    return c->resp.rc ? 0 : len; /* 0 makes libcurl stop with CURLE_WRITE_ERROR */
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    static const char name[] = "retry-after:";
    struct call *c = ud;
    size_t len, k = sizeof name - 1;
    char v[64];

    if (!gh_mul_ok(size, n, &len))
        return 0;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        c->retry_after_ms = -1; /* a new response (after a redirect or 100) starts afresh */
    } else if (len > k && strncasecmp(buf, name, k) == 0) {
        len -= k;
        if (len >= sizeof v)
            len = sizeof v - 1;
        memcpy(v, buf + k, len);
        v[len] = '\0';
        c->retry_after_ms = gh_provider_retry_after_ms(v, time(NULL));
    }
    return size * n;
}

static char *data_url(const uint8_t *in, size_t n, size_t *out_len)
{
    static const char prefix[] = "data:image/jpeg;base64,";
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = sizeof prefix - 1 + (n + 2) / 3 * 4; /* n <= GH_PROVIDER_JPEG_MAX */
    char *s = gh_malloc(len + 1), *o;
    size_t i;

    if (!s)
        return NULL;
    memcpy(s, prefix, sizeof prefix - 1);
    o = s + sizeof prefix - 1;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    *out_len = len;
    return s;
}

/* Every slug, name, look and look-alike: the model can only tell apart what it is told about. */
static void catalogue_text(const struct gh_catalogue *cat, struct gh_buf *b)
{
    sb_adds(b, "Catalogue, one item per line: slug | name | what it looks like | often "
               "confused with.\n");
    for (size_t i = 0; i < gh_catalogue_count(cat); i++) {
        const struct gh_equipment *e = gh_catalogue_at(cat, i);

        sb_adds(b, "- ");
        sb_adds(b, e->slug);
        sb_adds(b, " | ");
        sb_adds(b, e->name);
        sb_adds(b, " | ");
        sb_adds(b, e->visual_description);
        if (e->confused_with.n > 0) {
            sb_adds(b, " | often confused with: ");
            for (size_t k = 0; k < e->confused_with.n; k++) {
                sb_adds(b, k ? ", " : "");
                sb_adds(b, e->confused_with.v[k]);
            }
        }
        sb_adds(b, "\n");
    }
    sb_adds(b, "\nWhich catalogue item is the main subject of this photo?");
}

/* OpenAI Structured Outputs (strict): every property required, no extra ones, slugs limited to
 * the catalogue by enum, so a conforming server cannot invent equipment. */
static json_t *response_format(const struct gh_catalogue *cat)
{
    json_t *slugs = json_array(), *slugs_or_null = json_array();
    json_t *conf = NULL, *alt = NULL, *schema = NULL, *rf = NULL;
    int bad = !slugs || !slugs_or_null;

    for (size_t i = 0; !bad && i < gh_catalogue_count(cat); i++) {
        const char *s = gh_catalogue_at(cat, i)->slug;

        bad = json_array_append_new(slugs, json_string(s)) ||
              json_array_append_new(slugs_or_null, json_string(s));
    }
    if (bad || json_array_append_new(slugs_or_null, json_null()))
        goto out;
    conf = json_pack("{s:s, s:f, s:f, s:s}", "type", "number", "minimum", 0.0, "maximum", 1.0,
                     "description", "how likely the slug is right, 0 to 1");
    alt = json_pack("{s:s, s:{s:{s:s, s:O}, s:O}, s:[ss], s:b}", "type", "object", "properties",
                    "slug", "type", "string", "enum", slugs, "confidence", conf, "required", "slug",
                    "confidence", "additionalProperties", 0);
    schema =
        json_pack("{s:s, s:{s:{s:[ss], s:O}, s:O, s:{s:s, s:s, s:O}}, s:[sss], s:b}", "type",
                  "object", "properties", "slug", "type", "string", "null", "enum", slugs_or_null,
                  "confidence", conf, "alternatives", "type", "array", "description",
                  "up to 3 other catalogue items, most likely first", "items", alt, "required",
                  "slug", "confidence", "alternatives", "additionalProperties", 0);
    rf = json_pack("{s:s, s:{s:s, s:b, s:O}}", "type", "json_schema", "json_schema", "name",
                   "equipment_identification", "strict", 1, "schema", schema);
out:
    json_decref(schema);
    json_decref(alt);
    json_decref(conf);
    json_decref(slugs_or_null);
    json_decref(slugs);
    return rf;
}

static int build_body(const struct openai *p, const struct gh_provider_request *req, struct call *c,
                      struct gh_err *err)
{
    struct gh_buf text;
    json_t *rf = NULL, *body = NULL;
    char *url = NULL;
    size_t url_len = 0;
    int rc = GH_ENOMEM;

    gh_buf_init(&text, GH_PROVIDER_BODY_MAX - 1);
    catalogue_text(req->cat, &text);
    url = data_url(req->jpeg, req->jpeg_len, &url_len);
    rf = response_format(req->cat);
    if (text.rc == GH_ETOOBIG) {
        rc = gh_err_set(err, GH_EINVAL, "the catalogue is too large to send to the AI provider");
        goto out;
    }
    if (text.rc || !url || !rf)
        goto out;
    body = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:[{s:s, s:s}, {s:s, s:{s:s%, s:s}}]}], "
                     "s:i, s:i, s:O}",
                     "model", p->model, "messages", "role", "system", "content", system_prompt,
                     "role", "user", "content", "type", "text", "text", text.data, "type",
                     "image_url", "image_url", "url", url, url_len, "detail", "low", "temperature",
                     0, "max_tokens", MAX_TOKENS, "response_format", rf);
    if (!body)
        goto out;
    c->body_len = json_dumpb(body, NULL, 0, JSON_COMPACT);
    c->body = c->body_len ? gh_malloc(c->body_len) : NULL;
    if (!c->body || json_dumpb(body, c->body, c->body_len, JSON_COMPACT) != c->body_len)
        goto out;
    rc = GH_OK;
out:
    if (rc == GH_ENOMEM)
        gh_err_set(err, GH_ENOMEM, "out of memory building the AI provider request");
    json_decref(body);
    json_decref(rf);
    gh_free(url);
    gh_buf_fini(&text);
    return rc;
}

/* Printable ASCII without spaces, 1..max bytes: cannot end a header or start another. */
static int header_safe(const char *s, size_t max)
{
    size_t n = 0;

    for (; s[n]; n++)
        if ((unsigned char)s[n] <= ' ' || (unsigned char)s[n] > '~')
            return 0;
    return n > 0 && n <= max;
}

static int add_header(struct call *c, const char *h)
{
    struct curl_slist *l = curl_slist_append(c->headers, h);

    if (!l)
        return 0;
    c->headers = l;
    return 1;
}

#define SETOPT(h, opt, val)                                                                        \
    do {                                                                                           \
        if (cc == CURLE_OK)                                                                        \
            cc = curl_easy_setopt(h, opt, val);                                                    \
    } while (0)

static int call_init(const struct openai *p, const struct gh_provider_request *req, struct call *c,
                     struct gh_err *err)
{
    char rid[160];
    CURLcode cc = CURLE_OK;
    int rc = build_body(p, req, c, err);

    if (rc)
        return rc;
    c->cat = req->cat;
    gh_buf_init(&c->resp, GH_PROVIDER_BODY_MAX);
    c->curl = curl_easy_init();
    /* "Expect:" turns off 100-continue, which costs a second with servers that never send it. */
    if (!c->curl || !add_header(c, "Content-Type: application/json") ||
        !add_header(c, "Accept: application/json") || !add_header(c, "Expect:") ||
        (p->auth && !add_header(c, p->auth)))
        return gh_err_set(err, GH_ENOMEM, "out of memory starting the AI provider request");
    if (req->request_id && header_safe(req->request_id, 128)) {
        snprintf(rid, sizeof rid, "X-Request-ID: %s", req->request_id);
        if (!add_header(c, rid))
            return gh_err_set(err, GH_ENOMEM, "out of memory starting the AI provider request");
    }
    SETOPT(c->curl, CURLOPT_URL, p->url);
    SETOPT(c->curl, CURLOPT_NOSIGNAL, 1L); /* signals are process-wide; we run in threads */
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SETOPT(c->curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SETOPT(c->curl, CURLOPT_HTTPHEADER, c->headers);
    SETOPT(c->curl, CURLOPT_POSTFIELDS, c->body);
    SETOPT(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
    SETOPT(c->curl, CURLOPT_USERAGENT, "gymhelper");
    SETOPT(c->curl, CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)GH_PROVIDER_BODY_MAX);
    SETOPT(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(c->curl, CURLOPT_WRITEDATA, c);
    SETOPT(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(c->curl, CURLOPT_HEADERDATA, c);
    SETOPT(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
    if (cc != CURLE_OK)
        return gh_err_set(err, GH_EBACKEND, "libcurl refused an option: %s",
                          curl_easy_strerror(cc));
    return GH_OK;
}

static void call_fini(struct call *c)
{
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    gh_free(c->body);
    gh_free(c->resp.data);
}

static int check_request(const struct gh_provider_request *req, struct gh_err *err)
{
    if (!req || !req->jpeg || req->jpeg_len == 0 || !req->cat)
        return gh_err_set(err, GH_EINVAL, "the provider request needs a JPEG and a catalogue");
    if (req->jpeg_len > GH_PROVIDER_JPEG_MAX)
        return gh_err_set(err, GH_ETOOBIG, "the provider copy is %zu bytes, over %d", req->jpeg_len,
                          GH_PROVIDER_JPEG_MAX);
    if (gh_catalogue_count(req->cat) == 0)
        return gh_err_set(err, GH_EINVAL, "the catalogue is empty");
    return GH_OK;
}

static int openai_analyze(struct gh_provider *gp, const struct gh_provider_request *req,
                          struct gh_provider_result *out, struct gh_err *err)
{
    const struct openai *p = (const struct openai *)gp;
    struct call c = {0};
    struct attempt a;
    uint64_t seed = (uint64_t)now_ms() ^ atomic_fetch_add(&seed_counter, 0x632be59bd9b4e019u);
    char limit[32];
    long left, delay;
    int rc;

    memset(out, 0, sizeof *out);
    snprintf(out->provider, sizeof out->provider, "%s", p->base.name);
    snprintf(out->model, sizeof out->model, "%s", p->model);
    rc = check_request(req, err);
    if (rc)
        return rc;
    c.deadline_ms = now_ms() + p->timeout_ms;
    rc = call_init(p, req, &c, err);
    for (int attempt = 0; rc == GH_OK; attempt++) {
        left = (long)(c.deadline_ms - now_ms());
        if (left <= 0) {
            rc = timeout_error(p, err);
            break;
        }
        rc = attempt_once(p, &c, left, &a, out, err);
        if (rc != RETRY)
            break;
        if (attempt >= p->max_retries) {
            rc =
                gh_err_set(err, GH_EPROVIDER, "the AI provider failed after %d attempt%s; last: %s",
                           out->attempts, out->attempts == 1 ? "" : "s", a.why);
            break;
        }
        delay = a.retry_after_ms >= 0 ? a.retry_after_ms
                                      : jitter_ms(p->backoff_base_ms, attempt, &seed);
        if (delay >= c.deadline_ms - now_ms()) { /* never sleep past the deadline */
            format_seconds(p->timeout_ms, limit, sizeof limit);
            rc = gh_err_set(
                err, GH_EPROVIDER, "the AI provider failed and %s the %s allowed; last: %s",
                a.retry_after_ms >= 0 ? "asked to wait longer than" : "a retry would not fit in",
                limit, a.why);
            break;
        }
        sleep_ms(delay);
        rc = GH_OK;
    }
    call_fini(&c);
    return rc;
}

static int openai_ready(struct gh_provider *gp, char *why, size_t cap)
{
    (void)gp; /* configured means ready: a network check here would make health checks slow */
    if (why && cap > 0)
        why[0] = '\0';
    return 1;
}

static void wipe_free(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    gh_free(s);
}

static void openai_free(struct gh_provider *gp)
{
    struct openai *p = (struct openai *)gp;

    if (!p)
        return;
    gh_free(p->url);
    gh_free(p->model);
    wipe_free(p->api_key);
    wipe_free(p->auth);
    gh_free(p);
}

static const struct gh_provider_ops openai_ops = {
    .analyze = openai_analyze,
    .ready = openai_ready,
    .free = openai_free,
};

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int gh_openai_new(const struct gh_openai_config *cfg, struct gh_provider **out, struct gh_err *err)
{
    struct openai *p = NULL;
    size_t url_len = strlen(cfg->base_url);
    int rc = GH_ENOMEM;

    *out = NULL;
    if (strncmp(cfg->base_url, "http://", 7) != 0 && strncmp(cfg->base_url, "https://", 8) != 0)
        return gh_err_set(err, GH_EINVAL, "%s must start with http:// or https://",
                          strcmp(cfg->name, "llava") == 0 ? "LLAVA_BASE_URL" : "OPENAI_BASE_URL");
    if (cfg->api_key && !header_safe(cfg->api_key, 4096)) /* never quote the key itself */
        return gh_err_set(err, GH_EINVAL,
                          "the API key in OPENAI_API_KEY must be the key alone: printable ASCII "
                          "without spaces or line breaks, at most 4096 characters");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return gh_err_set(err, GH_EBACKEND, "libcurl failed to initialise: %s",
                          curl_easy_strerror(curl_init_rc));
    p = gh_malloc(sizeof *p);
    if (!p)
        goto out;
    memset(p, 0, sizeof *p);
    while (url_len > 0 && cfg->base_url[url_len - 1] == '/')
        url_len--;
    p->url = str_join(cfg->base_url, url_len, "/chat/completions", 17);
    p->model = str_join(cfg->model, strlen(cfg->model), "", 0);
    if (!p->url || !p->model)
        goto out;
    if (cfg->api_key) {
        size_t k = strlen(cfg->api_key);

        p->api_key = str_join(cfg->api_key, k, "", 0);
        p->auth = str_join("Authorization: Bearer ", 22, cfg->api_key, k);
        if (!p->api_key || !p->auth)
            goto out;
    }
    p->connect_timeout_ms = cfg->connect_timeout_ms;
    p->timeout_ms = cfg->timeout_ms;
    p->max_retries = cfg->max_retries;
    p->backoff_base_ms = cfg->backoff_base_ms;
    p->base.ops = &openai_ops;
    p->base.name = cfg->name;
    p->base.model = p->model;
    *out = &p->base;
    p = NULL;
    rc = GH_OK;
out:
    if (rc) {
        gh_err_set(err, rc, "out of memory creating the %s provider", cfg->name);
        if (p)
            openai_free(&p->base);
    }
    return rc;
}
