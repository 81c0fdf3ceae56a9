/* SPDX-License-Identifier: MIT */
/* The workout log as CSV (RFC 4180): our export, one row per set, and imports of our export,
 * Strong's (the older semicolon layout with "Weight Unit" and "Distance Unit" columns, and the
 * current comma layout) and Hevy's. Columns are found by their header names, so their order
 * does not matter. Each imported workout and set gets a client_id hashed from the file's own
 * fields (the set's from its workout and its place in it), so a second import finds them all. */
#include "gh/workouts.h"

#include "gh/alloc.h"
#include "gh/buf.h"
#include "gh/digest.h"
#include "gh/str.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ROWS_MAX   200000
#define FIELDS_MAX 40
#define FIELD_CAP  2048
/* Distinct (name, reason) entries of not_mapped; rows past them share one more entry, so a
 * file of a million made-up names answers a bounded list. */
#define NOT_MAPPED_MAX 1000
/* A text cell starting with one of these is a formula to a spreadsheet (OWASP "CSV
 * Injection": = + - @, tab and carriage return; line feed too, which a spreadsheet skips as
 * well): the export puts a ' before it, and the import of our own export takes that ' away.
 * Every text cell is guarded: client ids are the client's too, and may start with '-'. */
#define GUARDED "=+-@\t\r\n"

/* A cell of our own export without the guard put_text added. */
static const char *unguard(const char *s)
{
    return s[0] == '\'' && s[1] && strchr(GUARDED, s[1]) ? s + 1 : s;
}

/* ---- reading CSV ---- */

struct csv {
    const char *p, *end;
    char sep;
    int line; /* of the record being read, from 1 */
    int next_line;
};

struct record {
    int n;
    char f[FIELDS_MAX][FIELD_CAP]; /* fields, trimmed; longer ones cut */
};

/* Reads one record; 0 at the end of input. */
static int csv_next(struct csv *c, struct record *r)
{
    int k = 0, quoted = 0;
    size_t len = 0;

    if (c->p >= c->end)
        return 0;
    c->line = c->next_line;
    r->n = 0;
    for (;;) {
        int eof = c->p >= c->end;
        char ch = eof ? '\n' : *c->p++;

        if (quoted) {
            if (eof)
                quoted = 0;
            else if (ch == '"' && c->p < c->end && *c->p == '"')
                c->p++;
            else if (ch == '"') {
                quoted = 0;
                continue;
            } else if (ch == '\n')
                c->next_line++;
            if (!eof) {
                if (len + 1 < FIELD_CAP && k < FIELDS_MAX)
                    r->f[k][len++] = ch;
                continue;
            }
        }
        if (ch == '"' && len == 0) {
            quoted = 1;
            continue;
        }
        if (ch == c->sep || ch == '\n') {
            if (k < FIELDS_MAX) {
                while (len > 0 && (r->f[k][len - 1] == '\r' || r->f[k][len - 1] == ' '))
                    len--;
                r->f[k][len] = '\0';
                r->n = ++k;
            }
            len = 0;
            if (ch == '\n') {
                c->next_line++;
                return 1;
            }
            continue;
        }
        if (len + 1 < FIELD_CAP && k < FIELDS_MAX && !(len == 0 && ch == ' '))
            r->f[k][len++] = ch;
    }
}

static int blank(const struct record *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->f[i][0])
            return 0;
    return 1;
}

/* ---- the formats ---- */

enum col {
    C_DATE,
    C_WORKOUT,
    C_END,
    C_DURATION,
    C_WNOTES,
    C_EXERCISE,
    C_SETORDER,
    C_SETTYPE,
    C_WEIGHT,
    C_WEIGHT_LB,
    C_UNIT,
    C_WEIGHT_KG,
    C_REPS,
    C_RPE,
    C_DISTANCE,
    C_DISTANCE_MI,
    C_DIST_UNIT,
    C_SECONDS,
    C_WCLIENT,
    C_SCLIENT,
    C_PERFORMED,
    C_WARMUP,
    C_GYM,
    C_DURATION_OLD,
    N_COL,
};

/* Header names per format and column ("" when the format has none). */
static const char *const names[3][N_COL] = {
    [GH_IMPORT_GYMHELPER] =
        {
            [C_DATE] = "started_at",
            [C_END] = "ended_at",
            [C_WNOTES] = "workout_notes",
            [C_EXERCISE] = "exercise",
            [C_WEIGHT] = "weight",
            [C_UNIT] = "unit",
            [C_REPS] = "reps",
            [C_RPE] = "rpe",
            [C_DISTANCE] = "distance_m",
            [C_SECONDS] = "duration_s",
            [C_WCLIENT] = "workout_client_id",
            [C_SCLIENT] = "set_client_id",
            [C_PERFORMED] = "performed_at",
            [C_WARMUP] = "warmup",
            [C_GYM] = "gym",
        },
    [GH_IMPORT_STRONG] =
        {
            [C_DATE] = "date",
            [C_WORKOUT] = "workout name",
            [C_DURATION] = "duration",
            [C_WNOTES] = "workout notes",
            [C_EXERCISE] = "exercise name",
            [C_SETORDER] = "set order",
            [C_WEIGHT] = "weight",
            [C_UNIT] = "weight unit",
            [C_REPS] = "reps",
            [C_RPE] = "rpe",
            [C_DISTANCE] = "distance",
            [C_DIST_UNIT] = "distance unit",
            [C_SECONDS] = "seconds",
            [C_DURATION_OLD] = "workout duration",
        },
    [GH_IMPORT_HEVY] =
        {
            [C_DATE] = "start_time",
            [C_WORKOUT] = "title",
            [C_END] = "end_time",
            [C_WNOTES] = "description",
            [C_EXERCISE] = "exercise_title",
            [C_SETORDER] = "set_index",
            [C_SETTYPE] = "set_type",
            [C_WEIGHT_KG] = "weight_kg",
            [C_WEIGHT_LB] = "weight_lbs",
            [C_REPS] = "reps",
            [C_RPE] = "rpe",
            [C_DISTANCE] = "distance_km",
            [C_DISTANCE_MI] = "distance_miles",
            [C_SECONDS] = "duration_seconds",
        },
};

static const char *const format_names[] = {"gymhelper", "strong", "hevy"};

struct parse {
    const struct gh_catalogue *cat;
    enum gh_import_format format;
    int col[N_COL];   /* field index, -1 when absent */
    const char *unit; /* of layouts without a unit column */
    struct gh_import *imp;
    size_t cap_ws, cap_sets;
    int64_t ordinal; /* of the row within its workout */
    char wkey[512];  /* the current workout's key */
    json_t *seen;    /* not_mapped's entries by reason and name: one lookup per row */
};

static const char *field(const struct parse *p, const struct record *r, enum col c)
{
    int i = p->col[c];

    return i >= 0 && i < r->n ? r->f[i] : "";
}

static int header(struct parse *p, const struct record *r, struct gh_err *err)
{
    static const enum col required[] = {C_DATE, C_EXERCISE};

    for (int c = 0; c < N_COL; c++) {
        const char *want = names[p->format][c];

        p->col[c] = -1;
        for (int i = 0; want && want[0] && i < r->n; i++) {
            const char *h = r->f[i];

            if (i == 0 && (unsigned char)h[0] == 0xEF && (unsigned char)h[1] == 0xBB &&
                (unsigned char)h[2] == 0xBF)
                h += 3; /* a UTF-8 byte-order mark */
            if (strcasecmp(h, want) == 0)
                p->col[c] = i;
        }
    }
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (p->col[required[i]] < 0)
            return gh_err_set(err, GH_EINVAL,
                              "this is not a %s export: its header has no \"%s\" column",
                              format_names[p->format], names[p->format][required[i]]);
    return GH_OK;
}

/* ---- values ---- */

/* A decimal number ("80", "80.5", "80,5" in semicolon files); NAN when empty or not one. */
static double number(const char *s)
{
    char buf[64], *end = NULL;
    double v;

    if (!s[0] || strlen(s) >= sizeof buf)
        return NAN;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *q = buf; *q; q++)
        if (*q == ',')
            *q = '.';
    v = strtod(buf, &end);
    return end && *end == '\0' && isfinite(v) ? v : NAN;
}

static int64_t timegm_utc(struct tm *tm)
{
    return (int64_t)timegm(tm);
}

/* "2025-12-20 18:00:00", "2025-12-20T18:00:00Z", "2025-12-20 18:00" or Hevy's
 * "22 Dec 2025, 08:00"; as UTC. -1 when it is none of those. */
static int64_t parse_time(const char *s)
{
    static const char *const fmts[] = {
        "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
        "%d %b %Y, %H:%M",   "%d %b %Y %H:%M",     "%Y-%m-%d"};

    for (size_t i = 0; s[0] && i < sizeof fmts / sizeof fmts[0]; i++) {
        struct tm tm;
        const char *end;

        memset(&tm, 0, sizeof tm);
        end = strptime(s, fmts[i], &tm);
        if (end && *end == '\0')
            return timegm_utc(&tm);
    }
    return -1;
}

/* "st-" / "hv-" / ... and 24 hex digits of SHA-256 over the parts. */
static void derive_id(char out[GH_CLIENT_ID_CAP], const char *prefix, const char *a, const char *b)
{
    uint8_t d[GH_SHA256_LEN];
    char hex[GH_SHA256_HEX_LEN + 1], buf[1200];
    int n = snprintf(buf, sizeof buf, "%s\n%s", a, b);

    if (gh_sha256((const uint8_t *)buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, d,
                  NULL) != GH_OK)
        memset(d, 0, sizeof d);
    gh_sha256_to_hex(d, hex);
    snprintf(out, GH_CLIENT_ID_CAP, "%s-%.24s", prefix, hex);
}

/* ---- not mapped ---- */

/* Lists row line under name and reason. The name is the file's: bytes that are not UTF-8
 * become '?' (JSON carries only UTF-8). */
static int note(struct parse *p, const char *name, int line, const char *reason)
{
    char clean[FIELD_CAP], key[FIELD_CAP + 256], others[160];
    json_t *e;

    gh_utf8_sanitize(clean, sizeof clean, name);
    snprintf(key, sizeof key, "%s\n%s", reason, clean);
    e = json_object_get(p->seen, key);
    if (!e && json_object_size(p->seen) >= NOT_MAPPED_MAX) {
        snprintf(clean, sizeof clean, "(other names)");
        snprintf(others, sizeof others,
                 "more than %d different names were not mapped; the rows of the others are "
                 "listed here together",
                 NOT_MAPPED_MAX);
        reason = others;
        snprintf(key, sizeof key, "%s", reason);
        e = json_object_get(p->seen, key);
    }
    if (!e) {
        e = json_pack("{s:s, s:[], s:s}", "name", clean, "rows", "reason", reason);
        if (!e || json_array_append_new(p->imp->not_mapped, e) != 0 ||
            json_object_set(p->seen, key, e) != 0)
            return GH_ENOMEM;
    }
    return json_array_append_new(json_object_get(e, "rows"), json_integer(line)) ? GH_ENOMEM
                                                                                 : GH_OK;
}

/* ---- rows to workouts and sets ---- */

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    void *nv;
    size_t c = *cap ? *cap * 2 : 64;

    if (n < *cap)
        return GH_OK;
    nv = gh_realloc(*v, c * size);
    if (!nv)
        return GH_ENOMEM;
    *v = nv;
    *cap = c;
    return GH_OK;
}

/* Strong's duration "1h 5m", "45m", "3600" (seconds); 0 when none. */
static int64_t duration_s(const char *s)
{
    int64_t total = 0, v = 0;
    int digits = 0;

    for (; *s; s++) {
        if (isdigit((unsigned char)*s)) {
            v = v * 10 + (*s - '0');
            digits = 1;
            if (v > 1000000)
                return 0;
        } else if (*s == 'h' || *s == 'm' || *s == 's') {
            total += v * (*s == 'h' ? 3600 : *s == 'm' ? 60 : 1);
            v = 0;
            digits = 0;
        }
    }
    return total + (digits ? v : 0);
}

/* The workout a row belongs to (a new one when its key changes); its index in *wi. */
static int row_workout(struct parse *p, const struct record *r, int64_t start, size_t *wi)
{
    struct gh_import *imp = p->imp;
    char key[512], text[2 * FIELD_CAP + 2];
    struct gh_workout *w;
    const char *client = unguard(field(p, r, C_WCLIENT));

    snprintf(key, sizeof key, "%s\n%s\n%s", field(p, r, C_DATE), field(p, r, C_WORKOUT), client);
    if (imp->n_ws > 0 && strcmp(key, p->wkey) == 0) {
        *wi = imp->n_ws - 1;
        return GH_OK;
    }
    if (grow((void **)&imp->ws, &p->cap_ws, imp->n_ws, sizeof *imp->ws))
        return GH_ENOMEM;
    snprintf(p->wkey, sizeof p->wkey, "%s", key);
    p->ordinal = 0;
    w = &imp->ws[imp->n_ws];
    memset(w, 0, sizeof *w);
    if (p->format == GH_IMPORT_GYMHELPER && gh_workouts_client_id_ok(client))
        snprintf(w->client_id, sizeof w->client_id, "%s", client);
    else
        derive_id(w->client_id, format_names[p->format], format_names[p->format], key);
    w->started_at = start;
    w->ended_at = parse_time(field(p, r, C_END));
    if (w->ended_at < 0 && duration_s(field(p, r, C_DURATION)) > 0)
        w->ended_at = start + duration_s(field(p, r, C_DURATION));
    if (w->ended_at < 0 && duration_s(field(p, r, C_DURATION_OLD)) > 0)
        w->ended_at = start + duration_s(field(p, r, C_DURATION_OLD));
    if (w->ended_at < start)
        w->ended_at = 0;
    snprintf(text, sizeof text, "%s%s%s", field(p, r, C_WORKOUT),
             field(p, r, C_WORKOUT)[0] && field(p, r, C_WNOTES)[0] ? ": " : "",
             field(p, r, C_WNOTES));
    if (p->format == GH_IMPORT_GYMHELPER)
        snprintf(text, sizeof text, "%s", unguard(field(p, r, C_WNOTES)));
    /* stored text is UTF-8 (JSON carries nothing else): other bytes become '?', and the cap
     * cuts at a whole character */
    gh_utf8_sanitize(w->notes, sizeof w->notes, text);
    *wi = imp->n_ws++;
    return GH_OK;
}

/* Warm-up or not; -1 for a row that is not a set (Strong's rest timers). */
static int row_warmup(const struct parse *p, const struct record *r)
{
    const char *order = field(p, r, C_SETORDER), *type = field(p, r, C_SETTYPE);

    if (p->format == GH_IMPORT_GYMHELPER)
        return strcmp(field(p, r, C_WARMUP), "1") == 0 ||
               strcasecmp(field(p, r, C_WARMUP), "true") == 0;
    if (strcasecmp(order, "rest timer") == 0)
        return -1;
    return strcasecmp(order, "W") == 0 || strcasecmp(type, "warmup") == 0;
}

/* The numbers of a row into s, as the exercise measures them; the measure check follows. */
static void row_numbers(const struct parse *p, const struct record *r, const struct gh_exercise *ex,
                        struct gh_wset *s)
{
    double w = number(field(p, r, C_WEIGHT)), reps = number(field(p, r, C_REPS));
    double dist = number(field(p, r, C_DISTANCE)), secs = number(field(p, r, C_SECONDS));
    const char *unit = field(p, r, C_UNIT), *dunit = field(p, r, C_DIST_UNIT);
    int metric = !(p->unit && strcmp(p->unit, "lb") == 0);

    s->weight = s->weight_kg = s->distance_m = s->rpe = NAN;
    s->reps = s->duration_s = -1;
    snprintf(s->unit, sizeof s->unit, "%s", metric ? "kg" : "lb");
    if (p->col[C_WEIGHT_KG] >= 0 && !isnan(number(field(p, r, C_WEIGHT_KG)))) {
        w = number(field(p, r, C_WEIGHT_KG));
        snprintf(s->unit, sizeof s->unit, "kg");
    } else if (p->col[C_WEIGHT_LB] >= 0) {
        w = number(field(p, r, C_WEIGHT_LB));
        snprintf(s->unit, sizeof s->unit, "lb");
    } else if (unit[0]) {
        snprintf(s->unit, sizeof s->unit, "%s", strncasecmp(unit, "lb", 2) == 0 ? "lb" : unit);
    }
    if (p->format == GH_IMPORT_HEVY && p->col[C_DISTANCE] < 0 && p->col[C_DISTANCE_MI] >= 0) {
        dist = number(field(p, r, C_DISTANCE_MI));
        dunit = "mi";
    } else if (p->format == GH_IMPORT_HEVY) {
        dunit = "km";
    } else if (p->format == GH_IMPORT_GYMHELPER) {
        dunit = "m";
    } else if (!dunit[0]) {
        dunit = metric ? "km" : "mi";
    }
    if (!isnan(dist))
        dist *= strcasecmp(dunit, "m") == 0    ? 1
                : strcasecmp(dunit, "mi") == 0 ? 1609.344
                : strcasecmp(dunit, "ft") == 0 ? 0.3048
                                               : 1000;
    /* the apps write 0 for what a set did not use */
    if (!isnan(reps) && reps > 0 && reps < 1e6 && strcmp(ex->measure, "time") != 0 &&
        strcmp(ex->measure, "distance") != 0)
        s->reps = (int)reps;
    if (!isnan(secs) && secs > 0 && secs < 1e7 &&
        (strcmp(ex->measure, "time") == 0 || strcmp(ex->measure, "distance") == 0))
        s->duration_s = (int)secs;
    if (!isnan(dist) && dist > 0 && strcmp(ex->measure, "distance") == 0)
        s->distance_m = dist;
    if (!isnan(w) && (w > 0 || strcmp(ex->measure, "weight_reps") == 0) &&
        strcmp(ex->measure, "distance") != 0)
        s->weight = w;
    s->rpe = number(field(p, r, C_RPE));
    if (!isnan(s->rpe) && s->rpe == 0)
        s->rpe = NAN;
}

/* One data row: a set, or a line in not_mapped. */
static int row(struct parse *p, const struct record *r, int line)
{
    const char *name = field(p, r, C_EXERCISE), *client;
    const struct gh_exercise *ex;
    struct gh_err why = {0};
    struct gh_wset *s;
    int64_t start = parse_time(field(p, r, C_DATE));
    int warm = row_warmup(p, r);
    size_t wi;
    char ord[32];

    if (start < 0)
        return note(p, name, line, "the date is not one this format writes");
    if (!name[0] && p->format == GH_IMPORT_GYMHELPER)
        return row_workout(p, r, start, &wi); /* a workout without sets */
    if (warm < 0)
        return note(p, name, line, "a rest timer, not a set");
    ex = name[0] ? (p->format == GH_IMPORT_GYMHELPER ? gh_catalogue_find_exercise(p->cat, name)
                                                     : gh_catalogue_match_exercise(p->cat, name))
                 : NULL;
    if (!ex)
        return note(p, name, line, "no exercise of the catalogue matches this name");
    if (row_workout(p, r, start, &wi) ||
        grow((void **)&p->imp->sets, &p->cap_sets, p->imp->n_sets, sizeof *p->imp->sets))
        return GH_ENOMEM;
    s = &p->imp->sets[p->imp->n_sets];
    memset(s, 0, sizeof *s);
    snprintf(s->exercise, sizeof s->exercise, "%s", ex->slug);
    s->warmup = warm;
    row_numbers(p, r, ex, s);
    if (gh_workouts_check_set(p->cat, s, &why) != GH_OK)
        return note(p, name, line, why.msg);
    s->workout_id = (int64_t)wi;
    s->performed_at = parse_time(field(p, r, C_PERFORMED));
    if (s->performed_at < 0)
        s->performed_at = start;
    snprintf(ord, sizeof ord, "%lld", (long long)p->ordinal++);
    client = unguard(field(p, r, C_SCLIENT));
    if (p->format == GH_IMPORT_GYMHELPER && gh_workouts_client_id_ok(client))
        snprintf(s->client_id, sizeof s->client_id, "%s", client);
    else
        derive_id(s->client_id, format_names[p->format], p->imp->ws[wi].client_id, ord);
    p->imp->n_sets++;
    return GH_OK;
}

/* ',' unless the header line holds more ';' (Strong's older layout). */
static char separator(const char *csv, size_t len)
{
    size_t commas = 0, semis = 0;

    for (size_t i = 0; i < len && csv[i] != '\n'; i++) {
        commas += csv[i] == ',';
        semis += csv[i] == ';';
    }
    return semis > commas ? ';' : ',';
}

int gh_import_parse(const struct gh_catalogue *cat, enum gh_import_format format, const char *csv,
                    size_t len, const char *weight_unit, struct gh_import *imp, struct gh_err *err)
{
    struct parse *p = gh_malloc(sizeof *p);
    struct record *r = gh_malloc(sizeof *r);
    struct csv c = {csv, csv + len, separator(csv, len), 1, 1};
    int rc = GH_OK, n_rows = 0;

    memset(imp, 0, sizeof *imp);
    imp->not_mapped = json_array();
    if (!p || !r || !imp->not_mapped) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory");
        goto out;
    }
    memset(p, 0, sizeof *p);
    p->cat = cat;
    p->format = format;
    p->unit = weight_unit;
    p->imp = imp;
    p->seen = json_object();
    if (!p->seen) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory");
        goto out;
    }
    if (!csv_next(&c, r) || blank(r)) {
        rc = gh_err_set(err, GH_EINVAL, "the CSV is empty: it needs a header row");
        goto out;
    }
    rc = header(p, r, err);
    while (rc == GH_OK && csv_next(&c, r)) {
        if (blank(r))
            continue;
        if (++n_rows > ROWS_MAX) {
            rc = gh_err_set(err, GH_ETOOBIG, "the CSV has more than %d rows; split it", ROWS_MAX);
            break;
        }
        if ((rc = row(p, r, c.line)) == GH_ENOMEM)
            gh_err_set(err, rc, "out of memory");
    }
out:
    if (rc)
        gh_import_fini(imp);
    if (p)
        json_decref(p->seen);
    gh_free(r);
    gh_free(p);
    return rc;
}

void gh_import_fini(struct gh_import *imp)
{
    if (!imp)
        return;
    gh_free(imp->ws);
    gh_free(imp->sets);
    json_decref(imp->not_mapped);
    memset(imp, 0, sizeof *imp);
}

/* ---- export ---- */

static void put_text(struct gh_buf *b, const char *s)
{
    int quote = strpbrk(s, ",\"\r\n") != NULL;

    if (quote)
        gh_buf_append(b, "\"", 1);
    if (s[0] && strchr(GUARDED, s[0]))
        gh_buf_append(b, "'", 1); /* a spreadsheet would run it as a formula */
    for (; *s; s++)
        gh_buf_append(b, *s == '"' ? "\"\"" : s, 1 + (*s == '"'));
    if (quote)
        gh_buf_append(b, "\"", 1);
}

static void put_time(struct gh_buf *b, int64_t t)
{
    char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;

    if (t && gmtime_r(&tt, &tm)) {
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        gh_buf_append(b, buf, strlen(buf));
    }
}

static void put_num(struct gh_buf *b, double v)
{
    char buf[40];

    if (!isnan(v)) {
        int n = snprintf(buf, sizeof buf, "%.6g", v);

        gh_buf_append(b, buf, (size_t)n);
    }
}

static void put_int(struct gh_buf *b, int64_t v, int64_t absent)
{
    char buf[32];

    if (v != absent) {
        int n = snprintf(buf, sizeof buf, "%lld", (long long)v);

        gh_buf_append(b, buf, (size_t)n);
    }
}

#define EXPORT_HEADER                                                                              \
    "workout_id,workout_client_id,started_at,ended_at,gym,workout_notes,set_id,set_client_id,"     \
    "exercise,exercise_name,weight,unit,weight_kg,reps,duration_s,distance_m,rpe,warmup,"          \
    "performed_at,records\n"

static void put_row(struct gh_buf *b, const struct gh_catalogue *cat, const struct gh_workout *w,
                    const char *gym, const struct gh_wset *s)
{
    const struct gh_exercise *ex = s ? gh_catalogue_find_exercise(cat, s->exercise) : NULL;
    static const char *const rec[] = {"e1rm", "weight", "reps", "volume"};
    int first = 1;

    put_int(b, w->id, 0);
    gh_buf_append(b, ",", 1);
    put_text(b, w->client_id);
    gh_buf_append(b, ",", 1);
    put_time(b, w->started_at);
    gh_buf_append(b, ",", 1);
    put_time(b, w->ended_at);
    gh_buf_append(b, ",", 1);
    put_text(b, gym);
    gh_buf_append(b, ",", 1);
    put_text(b, w->notes);
    gh_buf_append(b, ",", 1);
    if (s) {
        put_int(b, s->id, 0);
        gh_buf_append(b, ",", 1);
        put_text(b, s->client_id);
        gh_buf_append(b, ",", 1);
        put_text(b, s->exercise);
        gh_buf_append(b, ",", 1);
        put_text(b, ex ? ex->name : s->exercise);
        gh_buf_append(b, ",", 1);
        put_num(b, s->weight);
        gh_buf_append(b, ",", 1);
        put_text(b, s->unit);
        gh_buf_append(b, ",", 1);
        put_num(b, s->weight_kg);
        gh_buf_append(b, ",", 1);
        put_int(b, s->reps, -1);
        gh_buf_append(b, ",", 1);
        put_int(b, s->duration_s, -1);
        gh_buf_append(b, ",", 1);
        put_num(b, s->distance_m);
        gh_buf_append(b, ",", 1);
        put_num(b, s->rpe);
        gh_buf_append(b, s->warmup ? ",1," : ",0,", 3);
        put_time(b, s->performed_at);
        gh_buf_append(b, ",", 1);
        for (int i = 0; i < 4; i++)
            if (s->records & (1u << i)) {
                gh_buf_append(b, first ? "" : " ", first ? 0 : 1);
                gh_buf_append(b, rec[i], strlen(rec[i]));
                first = 0;
            }
    } else {
        gh_buf_append(b, ",,,,,,,,,,,,,", 13);
    }
    gh_buf_append(b, "\n", 1);
}

static const char *gym_name(const struct gh_gym *gyms, size_t n, int64_t id)
{
    for (size_t i = 0; id && i < n; i++)
        if (gyms[i].id == id)
            return gyms[i].name;
    return "";
}

/* Every workout of owner, oldest first, into *out. */
static int all_workouts(struct gh_store *st, const char *owner, struct gh_workout **out,
                        size_t *n_out, struct gh_err *err)
{
    struct gh_workout *v = NULL;
    size_t n = 0, cap = 0, got = 0;
    int64_t before = 0;
    int rc = GH_OK;

    do {
        while (rc == GH_OK && cap < n + 1000)
            if (grow((void **)&v, &cap, cap, sizeof *v))
                rc = gh_err_set(err, GH_ENOMEM, "out of memory");
        if (rc == GH_OK)
            rc = gh_store_workout_list(st, owner, before, 1000, v + n, &got, err);
        if (rc == GH_OK && got > 0) {
            n += got;
            before = v[n - 1].id;
        }
    } while (rc == GH_OK && got == 1000);
    if (rc) {
        gh_free(v);
        return rc;
    }
    for (size_t i = 0; i < n / 2; i++) { /* newest first -> oldest first */
        struct gh_workout t = v[i];

        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
    *out = v;
    *n_out = n;
    return GH_OK;
}

/* The first of sets[0..n) (sorted by workout id) of workout id. */
static size_t first_of(const struct gh_wset *sets, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (sets[mid].workout_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int by_workout(const void *a, const void *b)
{
    const struct gh_wset *x = a, *y = b;

    if (x->workout_id != y->workout_id)
        return x->workout_id < y->workout_id ? -1 : 1;
    if (x->performed_at != y->performed_at)
        return x->performed_at < y->performed_at ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int gh_workouts_export_csv(struct gh_store *st, const char *owner, const struct gh_catalogue *cat,
                           char **out, size_t *len, struct gh_err *err)
{
    struct gh_set_filter f = {0, NULL, INT64_MIN, 0};
    struct gh_workout *ws = NULL;
    struct gh_wset *sets = NULL;
    struct gh_gym *gyms = NULL;
    size_t n_ws = 0, n_sets = 0, n_gyms = 0;
    struct gh_buf b;
    int rc;

    *out = NULL;
    *len = 0;
    gh_buf_init(&b, (size_t)1 << 30);
    rc = all_workouts(st, owner, &ws, &n_ws, err);
    if (rc == GH_OK)
        rc = gh_store_set_query(st, owner, &f, &sets, &n_sets, err);
    if (rc == GH_OK)
        rc = gh_store_gym_list(st, owner, &gyms, &n_gyms, err);
    if (rc)
        goto out;
    if (n_sets > 1)
        qsort(sets, n_sets, sizeof *sets, by_workout);
    gh_buf_append(&b, EXPORT_HEADER, strlen(EXPORT_HEADER));
    for (size_t i = 0; i < n_ws; i++) {
        const char *gym = gym_name(gyms, n_gyms, ws[i].gym_id);
        size_t k = first_of(sets, n_sets, ws[i].id), k0 = k;

        for (; k < n_sets && sets[k].workout_id == ws[i].id; k++)
            put_row(&b, cat, &ws[i], gym, &sets[k]);
        if (k == k0)
            put_row(&b, cat, &ws[i], gym, NULL);
    }
    *out = gh_buf_take(&b, len);
    if (!*out)
        rc = gh_err_set(err, GH_ENOMEM, "out of memory");
out:
    gh_buf_fini(&b);
    gh_free(gyms);
    gh_free(sets);
    gh_free(ws);
    return rc;
}
