/* SPDX-License-Identifier: MIT */
/* multipart/form-data (RFC 7578 over RFC 2046 5.1) on a fully buffered body: the boundary from
 * the Content-Type value, then one pass over every part, returning a view of the first one with
 * the wanted name. No heap. Content-Transfer-Encoding and nested multipart/mixed (both obsolete
 * for forms, RFC 7578 4.7 and 4.3) are not decoded: such parts come back as they are. */
#include "gh/multipart.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#define BOUNDARY_MAX 70   /* RFC 2046 5.1.1 */
#define HEADERS_MAX  8192 /* one part's header block, blank line included */

/* A byte range [p, e) of the input; never NUL-terminated. */
struct span {
    const uint8_t *p;
    const uint8_t *e;
};

/* One `name=value` parameter; value is raw: between the quotes, escapes still in. */
struct param {
    struct span name;
    struct span value;
    bool quoted;
};

struct part_info {
    bool has_disposition, is_form_data, has_name, has_filename, has_filename_ext, has_type;
    struct param name, filename, filename_ext;
    struct span type;
};

struct parser {
    const uint8_t *body, *end;
    uint8_t delim[3 + BOUNDARY_MAX]; /* "\n--" boundary: the LF of CRLF or of a bare LF */
    size_t delim_len;
};

static bool is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

static size_t span_len(struct span s)
{
    return (size_t)(s.e - s.p);
}

/* Case-insensitive comparison with a lower-case literal. */
static bool span_ieq(struct span s, const char *lit)
{
    size_t n = span_len(s), i;

    for (i = 0; i < n; i++)
        if (lit[i] == '\0' || lower(s.p[i]) != (uint8_t)lit[i])
            return false;
    return lit[i] == '\0';
}

static void skip_ows(struct span *s)
{
    while (s->p != s->e && is_ows(*s->p))
        s->p++;
}

static void trim_ows(struct span *s)
{
    skip_ows(s);
    while (s->e != s->p && is_ows(s->e[-1]))
        s->e--;
}

/* Token characters of a parameter name, and of an unquoted value (which may also hold '=',
 * as base64-style boundaries do, and obs-text). */
static bool is_name_char(uint8_t c)
{
    return c > ' ' && c < 0x7f && c != '=' && c != ';' && c != '"';
}

static bool is_value_char(uint8_t c)
{
    return c > ' ' && c != 0x7f && c != ';' && c != '"';
}

/* Only \" and \\ are escapes. Browsers never escape (they send %22, HTML's form encoding),
 * curl and RFC 7230 quoted-pairs do; keeping other backslashes keeps Windows paths intact. */
static bool is_escape(const uint8_t *p, const uint8_t *e)
{
    return p[0] == '\\' && e - p > 1 && (p[1] == '"' || p[1] == '\\');
}

static int read_value(struct span *s, struct param *out)
{
    out->quoted = s->p != s->e && *s->p == '"';
    if (!out->quoted) {
        out->value.p = s->p;
        while (s->p != s->e && is_value_char(*s->p))
            s->p++;
        out->value.e = s->p;
        return 1;
    }
    out->value.p = ++s->p;
    while (s->p != s->e && *s->p != '"')
        s->p += is_escape(s->p, s->e) ? 2 : 1;
    if (s->p == s->e)
        return -1;
    out->value.e = s->p++;
    return 1;
}

/* Reads the next `; name=value` of a header value: 1 with *out set, 0 at the end, -1 when
 * malformed. Empty parameters (`;;`, a trailing `;`) are skipped. */
static int next_param(struct span *s, struct param *out)
{
    for (;;) {
        skip_ows(s);
        if (s->p == s->e)
            return 0;
        if (*s->p != ';')
            return -1;
        s->p++;
        skip_ows(s);
        if (s->p != s->e && *s->p != ';')
            break;
    }
    out->name.p = s->p;
    while (s->p != s->e && is_name_char(*s->p))
        s->p++;
    out->name.e = s->p;
    if (out->name.p == out->name.e)
        return -1;
    skip_ows(s);
    if (s->p == s->e || *s->p != '=')
        return -1;
    s->p++;
    skip_ows(s);
    return read_value(s, out);
}

/* Ends a copy of n bytes into out[cap]. When truncated, drops a UTF-8 sequence cut in half,
 * so a name that was valid UTF-8 stays valid for the JSON it may end up in. */
static void end_copy(char *out, size_t cap, size_t n)
{
    size_t lead, need;
    uint8_t c;

    if (n < cap) {
        out[n] = '\0';
        return;
    }
    n = cap - 1;
    lead = n;
    while (lead > 0 && n - lead < 3 && ((uint8_t)out[lead - 1] & 0xc0) == 0x80)
        lead--;
    if (lead > 0) {
        c = (uint8_t)out[lead - 1];
        need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (n - (lead - 1) < need)
            n = lead - 1;
    }
    out[n] = '\0';
}

/* Copies the unescaped value into out (cap > 0, truncated); returns its full length. */
static size_t param_copy(const struct param *v, char *out, size_t cap)
{
    size_t n = 0;

    for (const uint8_t *p = v->value.p; p < v->value.e; p++) {
        if (v->quoted && is_escape(p, v->value.e))
            p++;
        if (n + 1 < cap)
            out[n] = (char)*p;
        n++;
    }
    end_copy(out, cap, n);
    return n;
}

static bool param_equals(const struct param *v, const char *s, size_t n)
{
    size_t i = 0;

    for (const uint8_t *p = v->value.p; p < v->value.e; p++, i++) {
        if (v->quoted && is_escape(p, v->value.e))
            p++;
        if (i == n || (uint8_t)s[i] != *p)
            return false;
    }
    return i == n;
}

static int hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* filename*= is an RFC 8187 ext-value: charset ' [language] ' pct-encoded bytes. Only UTF-8
 * is taken (RFC 7578 4.2 says filename* should not be sent at all, yet some clients do); false
 * for other charsets or bad escapes, and the caller falls back to filename=. */
static bool ext_value_copy(const struct param *v, char *out, size_t cap)
{
    const uint8_t *p = v->value.p, *e = v->value.e, *q;
    size_t n = 0;

    q = memchr(p, '\'', (size_t)(e - p));
    if (!q || !span_ieq((struct span){p, q}, "utf-8"))
        return false;
    p = memchr(q + 1, '\'', (size_t)(e - q - 1));
    if (!p)
        return false;
    for (p++; p < e; p++) {
        uint8_t c = *p;

        if (c == '%') {
            int hi = e - p > 2 ? hex_digit(p[1]) : -1, lo = e - p > 2 ? hex_digit(p[2]) : -1;

            if (hi < 0 || lo < 0)
                return false;
            c = (uint8_t)(hi << 4 | lo);
            p += 2;
        }
        if (n + 1 < cap)
            out[n] = (char)c;
        n++;
    }
    end_copy(out, cap, n);
    return true;
}

static int read_disposition(struct span s, struct part_info *pi, struct gh_err *err)
{
    struct span type = {s.p, s.p};
    struct param prm;
    int r;

    if (pi->has_disposition)
        return gh_err_set(err, GH_EINVAL, "a part has two Content-Disposition headers");
    pi->has_disposition = true;
    while (s.p != s.e && *s.p != ';' && !is_ows(*s.p))
        s.p++;
    type.e = s.p;
    pi->is_form_data = span_ieq(type, "form-data");
    while ((r = next_param(&s, &prm)) > 0) {
        if (span_ieq(prm.name, "name")) {
            if (pi->has_name)
                return gh_err_set(err, GH_EINVAL, "a part has two names");
            pi->name = prm;
            pi->has_name = true;
        } else if (span_ieq(prm.name, "filename") && !pi->has_filename) {
            pi->filename = prm;
            pi->has_filename = true;
        } else if (span_ieq(prm.name, "filename*") && !pi->has_filename_ext) {
            pi->filename_ext = prm;
            pi->has_filename_ext = true;
        }
    }
    if (r < 0)
        return gh_err_set(err, GH_EINVAL, "malformed Content-Disposition in a part");
    return GH_OK;
}

/* One non-empty header line, without its line end. */
static int read_header(struct span line, struct part_info *pi, struct gh_err *err)
{
    const uint8_t *colon;
    struct span name, value;

    /* obs-fold is deprecated (RFC 7230 3.2.4) and no form client sends it. */
    if (is_ows(*line.p))
        return gh_err_set(err, GH_EINVAL, "folded header line in a part");
    colon = memchr(line.p, ':', span_len(line));
    if (!colon || colon == line.p)
        return gh_err_set(err, GH_EINVAL, "part header line without a name");
    name = (struct span){line.p, colon};
    value = (struct span){colon + 1, line.e};
    trim_ows(&name);
    trim_ows(&value);
    if (span_ieq(name, "content-disposition"))
        return read_disposition(value, pi, err);
    if (span_ieq(name, "content-type")) {
        if (pi->has_type)
            return gh_err_set(err, GH_EINVAL, "a part has two Content-Type headers");
        pi->type = value;
        pi->has_type = true;
    }
    return GH_OK;
}

/* Reads the header block at p through its blank line; *data is the first byte after it. */
static int read_headers(const struct parser *ps, const uint8_t *p, struct part_info *pi,
                        const uint8_t **data, struct gh_err *err)
{
    const uint8_t *limit = ps->end - p > HEADERS_MAX ? p + HEADERS_MAX : ps->end;
    int rc;

    memset(pi, 0, sizeof *pi);
    for (;;) {
        const uint8_t *lf = memchr(p, '\n', (size_t)(limit - p));
        struct span line;

        if (!lf && limit != ps->end)
            return gh_err_set(err, GH_EINVAL, "part headers over %d bytes", HEADERS_MAX);
        if (!lf)
            return gh_err_set(err, GH_EINVAL, "part headers without a blank line");
        line = (struct span){p, (lf > p && lf[-1] == '\r') ? lf - 1 : lf};
        p = lf + 1;
        if (line.p == line.e) {
            *data = p;
            return GH_OK;
        }
        rc = read_header(line, pi, err);
        if (rc != GH_OK)
            return rc;
    }
}

/* What follows "--boundary" at p: 0 for the close delimiter ("--"), 1 for a delimiter line
 * (transport padding, then CRLF or LF; *next is the next line), -1 when the bytes only look
 * like a boundary and are part data. */
static int delim_tail(const struct parser *ps, const uint8_t *p, const uint8_t **next)
{
    if (ps->end - p >= 2 && p[0] == '-' && p[1] == '-')
        return 0;
    while (p != ps->end && is_ows(*p))
        p++;
    if (p != ps->end && *p == '\r')
        p++;
    if (p == ps->end || *p != '\n')
        return -1;
    *next = p + 1;
    return 1;
}

/* Finds the first delimiter at or after from; *data_end is where the bytes before it end
 * (its CRLF or LF belongs to the delimiter). Returns delim_tail's kind, or -1 for none.
 * memchr jumps between line feeds and the boundary holds none, so candidates never overlap
 * and the scan is linear: a 10 MB part costs one pass, at most 73 compared bytes per LF. */
static int next_delim(const struct parser *ps, const uint8_t *from, const uint8_t **data_end,
                      const uint8_t **next)
{
    const uint8_t *p = from, *lf;
    int kind;

    while ((size_t)(ps->end - p) >= ps->delim_len) {
        lf = memchr(p, '\n', (size_t)(ps->end - p) - ps->delim_len + 1);
        if (!lf)
            return -1;
        if (memcmp(lf + 1, ps->delim + 1, ps->delim_len - 1) == 0) {
            kind = delim_tail(ps, lf + ps->delim_len, next);
            if (kind >= 0) {
                *data_end = (lf > from && lf[-1] == '\r') ? lf - 1 : lf;
                return kind;
            }
        }
        p = lf + 1;
    }
    return -1;
}

/* The opening delimiter: at the very start, or after a preamble and a line end. */
static int first_delim(const struct parser *ps, const uint8_t **next)
{
    const uint8_t *unused;
    size_t n = ps->delim_len - 1;
    int kind;

    if ((size_t)(ps->end - ps->body) >= n && memcmp(ps->body, ps->delim + 1, n) == 0) {
        kind = delim_tail(ps, ps->body + n, next);
        if (kind >= 0)
            return kind;
    }
    return next_delim(ps, ps->body, &unused, next);
}

static int parser_init(struct parser *ps, const uint8_t *body, size_t len, const char *boundary,
                       struct gh_err *err)
{
    size_t n = strlen(boundary);

    memset(ps, 0, sizeof *ps);
    if (n == 0 || n > BOUNDARY_MAX)
        return gh_err_set(err, GH_EINVAL, "boundary of %zu characters", n);
    /* No CR or LF inside: next_delim's linear bound relies on it. */
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)boundary[i] < ' ' || (uint8_t)boundary[i] >= 0x7f)
            return gh_err_set(err, GH_EINVAL, "boundary with a control or non-ASCII byte");
    memcpy(ps->delim, "\n--", 3);
    memcpy(ps->delim + 3, boundary, n);
    ps->delim_len = n + 3;
    ps->body = body;
    ps->end = body + len;
    return GH_OK;
}

static void fill_part(const struct part_info *pi, const uint8_t *data, const uint8_t *data_end,
                      struct gh_multipart_part *out)
{
    out->data = data;
    out->len = (size_t)(data_end - data);
    /* RFC 6266 4.3: filename* wins over filename when both are there and usable. */
    if (!(pi->has_filename_ext &&
          ext_value_copy(&pi->filename_ext, out->filename, sizeof out->filename))) {
        if (pi->has_filename)
            param_copy(&pi->filename, out->filename, sizeof out->filename);
        else
            out->filename[0] = '\0';
    }
    if (pi->has_type) {
        size_t n = span_len(pi->type);

        memcpy(out->content_type, pi->type.p,
               n < sizeof out->content_type ? n : sizeof out->content_type - 1);
        end_copy(out->content_type, sizeof out->content_type, n);
    }
}

int gh_multipart_find(const uint8_t *body, size_t len, const char *boundary, const char *field,
                      struct gh_multipart_part *out, struct gh_err *err)
{
    struct parser ps;
    struct part_info pi;
    const uint8_t *p = NULL, *data = NULL, *data_end = NULL;
    size_t field_len;
    bool found = false;
    int kind, rc;

    assert(boundary && field && out && (body || len == 0));
    memset(out, 0, sizeof *out);
    field_len = strlen(field);
    if (len == 0) /* also keeps NULL + 0 out of parser_init */
        return gh_err_set(err, GH_EINVAL, "empty multipart body");
    rc = parser_init(&ps, body, len, boundary, err);
    if (rc != GH_OK)
        goto out;
    kind = first_delim(&ps, &p);
    if (kind < 0) {
        rc = gh_err_set(err, GH_EINVAL, "no opening boundary in the multipart body");
        goto out;
    }
    /* Every part is checked, even after a match, so a truncated body always fails alike. */
    while (kind == 1) {
        rc = read_headers(&ps, p, &pi, &data, err);
        if (rc != GH_OK)
            goto out;
        kind = next_delim(&ps, data, &data_end, &p);
        if (kind < 0) {
            rc = gh_err_set(err, GH_EINVAL, "a multipart part has no closing boundary");
            goto out;
        }
        if (!found && pi.is_form_data && pi.has_name && param_equals(&pi.name, field, field_len)) {
            fill_part(&pi, data, data_end, out);
            found = true;
        }
    }
    if (!found)
        rc = gh_err_set(err, GH_ENOTFOUND, "no form field \"%.64s\" in the body", field);
out:
    if (rc != GH_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

int gh_multipart_boundary(const char *content_type, char *out, size_t cap, struct gh_err *err)
{
    struct span s, type;
    struct param prm, b;
    bool have = false;
    size_t n;
    int r;

    if (!out || cap == 0)
        return gh_err_set(err, GH_EINVAL, "no room for the boundary");
    out[0] = '\0';
    if (!content_type)
        return gh_err_set(err, GH_EINVAL, "no Content-Type");
    s.p = (const uint8_t *)content_type;
    s.e = s.p + strlen(content_type);
    skip_ows(&s);
    type.p = s.p;
    while (s.p != s.e && *s.p != ';' && !is_ows(*s.p))
        s.p++;
    type.e = s.p;
    if (!span_ieq(type, "multipart/form-data"))
        return gh_err_set(err, GH_EINVAL, "Content-Type is not multipart/form-data");
    while ((r = next_param(&s, &prm)) > 0) {
        if (!span_ieq(prm.name, "boundary"))
            continue;
        if (have)
            return gh_err_set(err, GH_EINVAL, "two boundary parameters");
        b = prm;
        have = true;
    }
    if (r < 0)
        return gh_err_set(err, GH_EINVAL, "malformed Content-Type parameters");
    if (!have)
        return gh_err_set(err, GH_EINVAL, "multipart Content-Type without a boundary");
    n = param_copy(&b, out, cap);
    if (n == 0 || n > BOUNDARY_MAX || n >= cap) {
        out[0] = '\0';
        if (n == 0)
            return gh_err_set(err, GH_EINVAL, "empty multipart boundary");
        return gh_err_set(err, GH_EINVAL, "multipart boundary of %zu characters (at most %d)", n,
                          n > BOUNDARY_MAX ? BOUNDARY_MAX : (int)(cap - 1));
    }
    /* RFC 2046 bchars are printable ASCII, and a space never ends a boundary. */
    for (size_t i = 0; i < n; i++) {
        if ((uint8_t)out[i] < ' ' || (uint8_t)out[i] >= 0x7f || (i == n - 1 && out[i] == ' ')) {
            out[0] = '\0';
            return gh_err_set(err, GH_EINVAL, "boundary with a byte outside RFC 2046 bchars");
        }
    }
    return GH_OK;
}
