/* SPDX-License-Identifier: MIT */
/* Structured logging to stderr. JSON string escaping is done here (leaf code, no jansson) so
 * the logger works before anything else starts and costs no allocation. */
#include "gh/log.h"
#include "gh/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LINE_CAP 4096

static enum gh_log_level min_level = GH_LOG_INFO;
static enum gh_log_format log_format = GH_LOG_JSON;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void gh_log_setup(enum gh_log_level level, enum gh_log_format format)
{
    min_level = level;
    log_format = format;
}

int gh_log_parse_level(const char *s, enum gh_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum gh_log_level)i;
            return GH_OK;
        }
    if (strcasecmp(s, "warning") == 0) {
        *out = GH_LOG_WARN;
        return GH_OK;
    }
    return GH_EINVAL;
}

int gh_log_parse_format(const char *s, enum gh_log_format *out)
{
    if (strcasecmp(s, "json") == 0)
        *out = GH_LOG_JSON;
    else if (strcasecmp(s, "text") == 0)
        *out = GH_LOG_TEXT;
    else
        return GH_EINVAL;
    return GH_OK;
}

int gh_log_enabled(enum gh_log_level level)
{
    return level >= min_level;
}

/* A bounded line buffer: appends never overflow; the line is cut instead. */
struct line {
    char buf[LINE_CAP];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (l->len >= LINE_CAP - 2)
        return;
    if (n > LINE_CAP - 2 - l->len) /* room for "\n" */
        n = LINE_CAP - 2 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

static void putf(struct line *l, const char *fmt, ...) GH_PRINTF(2, 3);

static void putf(struct line *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(l->buf + l->len, LINE_CAP - 1 - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < LINE_CAP - 1 - l->len ? (size_t)n : LINE_CAP - 2 - l->len;
}

/* JSON string contents (RFC 8259 7): quote, backslash and control characters escaped. */
static void put_escaped(struct line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(l, e, 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(l, e, 6);
        } else {
            put(l, s, 1);
        }
    }
}

/* A logfmt value for the text format: bare when it is a plain word, else in double quotes with
 * quote and backslash escaped. Control bytes (C0, DEL and UTF-8-encoded C1) never reach the
 * terminal or the file raw: \n, \r, \t or \xNN. So nothing a client sends (a path, an id) can
 * end the line or forge another field. */
static void put_text_value(struct line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    int quote = *s == '\0';

    for (const char *p = s; *p && !quote; p++)
        quote = (unsigned char)*p <= 0x20 || *p == '"' || *p == '=' || *p == '\\' ||
                (unsigned char)*p == 0x7f || (unsigned char)*p == 0xc2;
    if (!quote) {
        puts_(l, s);
        return;
    }
    puts_(l, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(l, e, 2);
        } else if (c == '\n' || c == '\r' || c == '\t') {
            char e[2] = {'\\', c == '\n' ? 'n' : c == '\r' ? 'r' : 't'};
            put(l, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            put(l, e, 4);
        } else if (c == 0xc2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9f) {
            c = (unsigned char)*++s; /* U+0080..U+009F */
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(l, e, 6);
        } else {
            put(l, s, 1);
        }
    }
    puts_(l, "\"");
}

static void begin(struct line *l, enum gh_log_level level)
{
    struct timeval tv;
    struct tm tm;
    char ts[32];

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    l->len = 0;
    if (log_format == GH_LOG_JSON)
        putf(l, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\"", ts, (long)(tv.tv_usec / 1000),
             level_names[level]);
    else
        putf(l, "%s.%03ldZ %-5s", ts, (long)(tv.tv_usec / 1000), level_names[level]);
}

static void field_str(struct line *l, const char *key, const char *raw)
{
    char value[LINE_CAP / 2];

    if (!raw)
        return;
    gh_utf8_sanitize(value, sizeof value, raw); /* paths and ids come from clients */
    if (log_format == GH_LOG_JSON) {
        putf(l, ",\"%s\":\"", key);
        put_escaped(l, value);
        puts_(l, "\"");
    } else {
        putf(l, " %s=", key);
        put_text_value(l, value);
    }
}

static void end(struct line *l)
{
    ssize_t w;

    if (log_format == GH_LOG_JSON)
        puts_(l, "}");
    l->buf[l->len++] = '\n';
    w = write(STDERR_FILENO, l->buf, l->len);
    (void)w; /* nowhere to report a failing log */
}

void gh_logf(enum gh_log_level level, const char *fmt, ...)
{
    struct line l;
    char msg[LINE_CAP / 2];
    va_list ap;

    if (level < min_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    begin(&l, level);
    field_str(&l, "msg", msg);
    end(&l);
}

void gh_log_request(const struct gh_log_request *r)
{
    enum gh_log_level level = r->status >= 500 ? GH_LOG_ERROR : GH_LOG_INFO;
    struct line l;

    if (level < min_level)
        return;
    begin(&l, level);
    field_str(&l, "request_id", r->request_id);
    field_str(&l, "method", r->method);
    field_str(&l, "path", r->path);
    if (log_format == GH_LOG_JSON)
        putf(&l, ",\"status\":%d,\"duration_ms\":%.3f", r->status, r->duration_ms);
    else
        putf(&l, " status=%d duration_ms=%.3f", r->status, r->duration_ms);
    if (r->cached >= 0) {
        if (log_format == GH_LOG_JSON)
            putf(&l, ",\"cached\":%s", r->cached ? "true" : "false");
        else
            putf(&l, " cached=%s", r->cached ? "true" : "false");
    }
    field_str(&l, "cache_layer", r->cache_layer);
    field_str(&l, "equipment", r->equipment);
    field_str(&l, "provider", r->provider);
    field_str(&l, "error", r->error_code);
    end(&l);
}
