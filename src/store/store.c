/* SPDX-License-Identifier: MIT */
/* The store interface: picks a backend from the URL, checks every argument once for all
 * backends, and dispatches through struct gh_store_ops. The SQL lives in the backends. */
#include "gh/store.h"
#include "gh/alloc.h"
#include "store/internal.h"

#include <string.h>

#define SQLITE_PREFIX     "sqlite://"
#define SQLITE_MEMORY_URL "sqlite::memory:"
#define PG_PREFIX         "postgresql://"
#define PG_PREFIX_SHORT   "postgres://"
#define URL_FORMS         "sqlite:///path/to.db, sqlite::memory: or postgresql://user@host:port/dbname"

/* "sqlite:///" followed by a path. Paths that start "./" or "../" are relative to the working
 * directory (so the default "sqlite:///./data/gymhelper.db" stays beside the service); any
 * other path is absolute, as in "sqlite:///var/lib/gymhelper.db". */
static int parse_sqlite_path(const char *url, const char **target, struct gh_err *err)
{
    const char *rest = url + strlen(SQLITE_PREFIX);
    size_t len = strlen(rest);

    if (len == 0)
        return gh_err_set(err, GH_EINVAL, "sqlite URL has no path: use sqlite:///path/to.db");
    if (rest[0] != '/')
        return gh_err_set(err, GH_EINVAL,
                          "sqlite URL names a host: use three slashes, sqlite:///path/to.db");
    if (rest[len - 1] == '/')
        return gh_err_set(err, GH_EINVAL, "sqlite URL names a directory, not a database file");
    /* Query options would silently become part of the file name. */
    if (strchr(rest, '?') || strchr(rest, '#'))
        return gh_err_set(err, GH_EINVAL, "sqlite URL options (?...) are not supported");
    if (strncmp(rest, "/./", 3) == 0 || strncmp(rest, "/../", 4) == 0)
        rest++;
    *target = rest;
    return GH_OK;
}

/* Chooses the backend. Only the scheme of an unknown URL is quoted back, because the rest of a
 * database URL may hold a password. sqlite's target is a file path or ":memory:";
 * postgresql's is the whole URL ("postgresql://" or "postgres://"), as libpq takes it. */
static int parse_url(const char *url, const struct gh_store_ops **ops, const char **target,
                     struct gh_err *err)
{
    size_t scheme_len;

    if (!url || !*url)
        return gh_err_set(err, GH_EINVAL, "the store URL is empty");
    if (strcmp(url, SQLITE_MEMORY_URL) == 0) {
        *ops = &gh_store_sqlite_ops;
        *target = ":memory:";
        return GH_OK;
    }
    if (strncmp(url, SQLITE_PREFIX, strlen(SQLITE_PREFIX)) == 0) {
        *ops = &gh_store_sqlite_ops;
        return parse_sqlite_path(url, target, err);
    }
    if (strncmp(url, "sqlite:", strlen("sqlite:")) == 0)
        return gh_err_set(err, GH_EINVAL,
                          "a sqlite URL is sqlite:///path/to.db or sqlite::memory:");
    /* libpq parses the rest itself (host, port, database, ?options). */
    if (strncmp(url, PG_PREFIX, strlen(PG_PREFIX)) == 0 ||
        strncmp(url, PG_PREFIX_SHORT, strlen(PG_PREFIX_SHORT)) == 0) {
        *ops = &gh_store_pg_ops;
        *target = url;
        return GH_OK;
    }
    scheme_len = strcspn(url, ":");
    if (url[scheme_len] != ':')
        return gh_err_set(err, GH_EINVAL, "the store URL has no scheme: expected " URL_FORMS);
    if (scheme_len > 32)
        scheme_len = 32;
    return gh_err_set(err, GH_EINVAL, "unknown store URL scheme \"%.*s\": expected " URL_FORMS,
                      (int)scheme_len, url);
}

/* 64 lower-case hex digits: the form gh_sha256_to_hex writes and the stores index. */
static int check_sha(const char *hex, struct gh_err *err)
{
    if (!hex)
        return gh_err_set(err, GH_EINVAL, "the SHA-256 key is missing");
    for (int i = 0; i < GH_STORE_SHA_HEX_CAP - 1; i++) {
        char c = hex[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return gh_err_set(err, GH_EINVAL, "the SHA-256 key is not 64 lower-case hex digits");
    }
    if (hex[GH_STORE_SHA_HEX_CAP - 1] != '\0')
        return gh_err_set(err, GH_EINVAL, "the SHA-256 key is longer than 64 hex digits");
    return GH_OK;
}

/* Fixed-size text fields come from callers' structs; an unterminated one would be read past. */
static int check_field(const char *s, size_t cap, const char *field, struct gh_err *err)
{
    if (!memchr(s, '\0', cap))
        return gh_err_set(err, GH_EINVAL, "the %s field is not terminated within %zu bytes", field,
                          cap);
    return GH_OK;
}

static int check_entry(const struct gh_cache_entry *e, struct gh_err *err)
{
    int rc;

    if (!e)
        return gh_err_set(err, GH_EINVAL, "no cache entry given");
    rc = check_sha(e->sha256, err);
    if (rc == GH_OK && !e->answer_json)
        rc = gh_err_set(err, GH_EINVAL, "the cache entry has no answer");
    if (rc == GH_OK)
        rc = check_field(e->equipment_slug, sizeof e->equipment_slug, "equipment_slug", err);
    if (rc == GH_OK)
        rc = check_field(e->provider, sizeof e->provider, "provider", err);
    if (rc == GH_OK)
        rc = check_field(e->model, sizeof e->model, "model", err);
    return rc;
}

static int check_identification(const struct gh_identification *r, struct gh_err *err)
{
    int rc;

    if (!r)
        return gh_err_set(err, GH_EINVAL, "no identification given");
    rc = check_field(r->request_id, sizeof r->request_id, "request_id", err);
    /* Refused uploads are recorded too and may have no key yet: "" is allowed. */
    if (rc == GH_OK && r->sha256[0] != '\0')
        rc = check_sha(r->sha256, err);
    if (rc == GH_OK)
        rc = check_field(r->equipment_slug, sizeof r->equipment_slug, "equipment_slug", err);
    if (rc == GH_OK)
        rc = check_field(r->cache_layer, sizeof r->cache_layer, "cache_layer", err);
    if (rc == GH_OK)
        rc = check_field(r->provider, sizeof r->provider, "provider", err);
    if (rc == GH_OK)
        rc = check_field(r->model, sizeof r->model, "model", err);
    if (rc == GH_OK)
        rc = check_field(r->corrected_slug, sizeof r->corrected_slug, "corrected_slug", err);
    if (rc == GH_OK)
        rc = check_field(r->owner, sizeof r->owner, "owner", err);
    return rc;
}

/* The columns every backend stores are NOT NULL, and slugs must fit gh_cache_entry's. */
static int check_catalogue(const struct gh_catalogue *cat, struct gh_err *err)
{
    size_t n;

    if (!cat)
        return gh_err_set(err, GH_EINVAL, "no catalogue given");
    if (!gh_catalogue_version(cat))
        return gh_err_set(err, GH_EINVAL, "the catalogue has no version");
    n = gh_catalogue_count(cat);
    for (size_t i = 0; i < n; i++) {
        const struct gh_equipment *e = gh_catalogue_at(cat, i);

        if (!e->slug || !e->name || !e->category || !e->json)
            return gh_err_set(err, GH_EINVAL, "catalogue entry %zu lacks a stored field", i + 1);
        if (strlen(e->slug) >= sizeof((struct gh_cache_entry *)0)->equipment_slug)
            return gh_err_set(err, GH_EINVAL, "catalogue slug \"%.40s...\" is too long", e->slug);
    }
    return GH_OK;
}

int gh_store_open(const char *url, int pool_size, struct gh_store **out, struct gh_err *err)
{
    struct gh_store_options opts;

    gh_store_options_defaults(&opts);
    opts.pool_size = pool_size;
    return gh_store_open_opts(url, &opts, out, err);
}

void gh_store_options_defaults(struct gh_store_options *opts)
{
    opts->pool_size = 0;
    opts->max_overflow = 10;
    opts->pre_ping = 1;
    opts->recycle_s = 3600;
    opts->connect_timeout_ms = 3000;
}

static int check_options(const struct gh_store_options *o, struct gh_err *err)
{
    if (o->pool_size < 1 || o->pool_size > GH_STORE_POOL_MAX)
        return gh_err_set(err, GH_EINVAL, "store pool size %d is outside 1..%d", o->pool_size,
                          GH_STORE_POOL_MAX);
    if (o->max_overflow < 0 || o->max_overflow > GH_STORE_OVERFLOW_MAX)
        return gh_err_set(err, GH_EINVAL, "store pool overflow %d is outside 0..%d",
                          o->max_overflow, GH_STORE_OVERFLOW_MAX);
    if (o->recycle_s < 0)
        return gh_err_set(err, GH_EINVAL, "store connection recycle time %ld s is negative",
                          o->recycle_s);
    if (o->connect_timeout_ms < 1 || o->connect_timeout_ms > 600000)
        return gh_err_set(err, GH_EINVAL, "store connect timeout %ld ms is outside 1..600000",
                          o->connect_timeout_ms);
    return GH_OK;
}

int gh_store_open_opts(const char *url, const struct gh_store_options *opts, struct gh_store **out,
                       struct gh_err *err)
{
    const struct gh_store_ops *ops = NULL;
    struct gh_store_options o;
    const char *target = NULL;
    struct gh_store *st = NULL;
    int rc;

    if (!out)
        return gh_err_set(err, GH_EINVAL, "no place to put the store");
    *out = NULL;
    if (opts)
        o = *opts;
    else
        gh_store_options_defaults(&o);
    rc = parse_url(url, &ops, &target, err);
    if (rc)
        return rc;
    if (o.pool_size == 0)
        o.pool_size = ops->default_pool_size;
    rc = check_options(&o, err);
    if (rc)
        return rc;
    st = gh_malloc(sizeof *st);
    if (!st)
        return gh_err_set(err, GH_ENOMEM, "out of memory opening the store");
    st->ops = ops;
    st->be = NULL;
    st->hits = gh_store_hits_new();
    if (!st->hits) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory opening the store");
        goto out;
    }
    rc = ops->open(st, target, &o, err);
    if (rc)
        goto out;
    *out = st;
    st = NULL;
out:
    if (st)
        gh_store_hits_free(st->hits);
    gh_free(st);
    return rc;
}

void gh_store_close(struct gh_store *st)
{
    if (!st)
        return;
    /* The last batch: counters of a store that cannot be reached are lost, never waited on. */
    (void)gh_store_flush_hits(st, NULL);
    st->ops->close(st);
    gh_store_hits_free(st->hits);
    gh_free(st);
}

/* Counts a hit on what a lookup found, in memory; out gets the count the table will have. */
static void count_hit(struct gh_store *st, int64_t now, struct gh_cache_entry *out)
{
    int full = 0;

    out->hits += gh_store_hits_add(st->hits, out->sha256, now, &full);
    out->last_hit_at = now;
    if (full)
        (void)gh_store_flush_hits(st, NULL); /* a failure is counted in `dropped` */
}

const char *gh_store_backend(const struct gh_store *st)
{
    return st ? st->ops->name : "";
}

int gh_store_schema_version(struct gh_store *st, struct gh_err *err)
{
    int version = 0;
    int rc;

    if (!st)
        return gh_err_set(err, GH_EINVAL, "no store given");
    rc = st->ops->schema_version(st, &version, err);
    return rc ? rc : version;
}

int gh_store_sync_catalogue(struct gh_store *st, const struct gh_catalogue *cat, struct gh_err *err)
{
    int rc;

    if (!st)
        return gh_err_set(err, GH_EINVAL, "no store given");
    rc = check_catalogue(cat, err);
    if (rc)
        return rc;
    return st->ops->sync_catalogue(st, cat, err);
}

int gh_store_get_exact(struct gh_store *st, const char *sha256_hex, int64_t now,
                       struct gh_cache_entry *out, struct gh_err *err)
{
    int rc;

    if (!st || !out)
        return gh_err_set(err, GH_EINVAL, "no store or no output given");
    /* Zeroed first, so callers may gh_cache_entry_fini after any outcome. */
    memset(out, 0, sizeof *out);
    rc = check_sha(sha256_hex, err);
    if (rc)
        return rc;
    rc = st->ops->get_exact(st, sha256_hex, now, out, err);
    if (rc == GH_OK)
        count_hit(st, now, out);
    return rc;
}

int gh_store_get_near(struct gh_store *st, uint64_t phash, int max_distance, int64_t now,
                      struct gh_cache_entry *out, int *distance, struct gh_err *err)
{
    int d = 0;
    int rc;

    if (!st || !out)
        return gh_err_set(err, GH_EINVAL, "no store or no output given");
    memset(out, 0, sizeof *out);
    if (distance)
        *distance = 0;
    if (max_distance < 0 || max_distance > GH_STORE_MAX_DISTANCE)
        return gh_err_set(err, GH_EINVAL, "near-duplicate distance %d is outside 0..%d",
                          max_distance, GH_STORE_MAX_DISTANCE);
    rc = st->ops->get_near(st, phash, max_distance, now, out, &d, err);
    if (rc == GH_OK)
        count_hit(st, now, out);
    if (rc == GH_OK && distance)
        *distance = d;
    return rc;
}

int gh_store_put(struct gh_store *st, const struct gh_cache_entry *e, struct gh_err *err)
{
    int rc;

    if (!st)
        return gh_err_set(err, GH_EINVAL, "no store given");
    rc = check_entry(e, err);
    if (rc)
        return rc;
    gh_store_hits_forget(st->hits, e->sha256);
    return st->ops->put(st, e, err);
}

int gh_store_record_identification(struct gh_store *st, struct gh_identification *rec,
                                   struct gh_err *err)
{
    return gh_store_record_identifications(st, rec, 1, err);
}

int gh_store_record_identifications(struct gh_store *st, struct gh_identification *recs, size_t n,
                                    struct gh_err *err)
{
    int rc;

    if (!st)
        return gh_err_set(err, GH_EINVAL, "no store given");
    for (size_t i = 0; i < n; i++) {
        rc = check_identification(&recs[i], err);
        if (rc)
            return rc;
    }
    return n ? st->ops->record_identifications(st, recs, n, err) : GH_OK;
}

int gh_store_list_identifications(struct gh_store *st, int64_t before_id, size_t limit,
                                  struct gh_identification *out, size_t *n_out, struct gh_err *err)
{
    *n_out = 0;
    if (!st || !out || limit < 1 || limit > 1000)
        return gh_err_set(err, GH_EINVAL, "list at most 1 to 1000 identifications");
    memset(out, 0, limit * sizeof *out);
    return st->ops->list_identifications(st, before_id, limit, out, n_out, err);
}

int gh_store_get_identification(struct gh_store *st, int64_t id, const char *request_id,
                                const char *owner, struct gh_identification *out,
                                struct gh_err *err)
{
    if (!st || !out || (id <= 0 && (!request_id || !*request_id)))
        return gh_err_set(err, GH_EINVAL, "no identification id given");
    memset(out, 0, sizeof *out);
    return st->ops->get_identification(st, id, request_id, owner, out, err);
}

int gh_store_correct(struct gh_store *st, int64_t ident_id, const struct gh_cache_entry *e,
                     int64_t now, struct gh_err *err)
{
    int rc;

    if (!st || ident_id <= 0)
        return gh_err_set(err, GH_EINVAL, "no identification id given");
    rc = check_entry(e, err);
    if (rc == GH_OK && !e->equipment_slug[0])
        rc = gh_err_set(err, GH_EINVAL, "a correction names equipment");
    return rc ? rc : st->ops->correct(st, ident_id, e, now, err);
}

int gh_store_stats(struct gh_store *st, int64_t now, struct gh_store_stats *out, struct gh_err *err)
{
    if (!st || !out)
        return gh_err_set(err, GH_EINVAL, "no store or no output given");
    memset(out, 0, sizeof *out);
    (void)gh_store_flush_hits(st, NULL); /* so total_hits counts what is pending */
    return st->ops->stats(st, now, out, err);
}

int gh_store_purge_expired(struct gh_store *st, int64_t now, int64_t *n_purged, struct gh_err *err)
{
    int64_t n = 0;
    int rc;

    if (n_purged)
        *n_purged = 0;
    if (!st)
        return gh_err_set(err, GH_EINVAL, "no store given");
    (void)gh_store_flush_hits(st, NULL);
    rc = st->ops->purge_expired(st, now, &n, err);
    if (rc == GH_OK && n_purged)
        *n_purged = n;
    return rc;
}

void gh_cache_entry_fini(struct gh_cache_entry *e)
{
    if (!e)
        return;
    gh_free(e->answer_json);
    memset(e, 0, sizeof *e);
}

int gh_store_equipment_name(struct gh_store *st, const char *slug, char *name, size_t name_cap,
                            struct gh_err *err)
{
    if (!st || !slug || !name || name_cap == 0)
        return gh_err_set(err, GH_EINVAL, "bad arguments to gh_store_equipment_name");
    name[0] = '\0';
    return st->ops->equipment_name(st, slug, name, name_cap, err);
}

int gh_store_explain_near(struct gh_store *st, char *plan, size_t plan_cap, struct gh_err *err)
{
    if (!st || !plan || plan_cap == 0)
        return gh_err_set(err, GH_EINVAL, "bad arguments to gh_store_explain_near");
    plan[0] = '\0';
    return st->ops->explain_near(st, plan, plan_cap, err);
}

char *gh_store_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = gh_malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}

/* Bytes s takes as a JSON string, quotes included (RFC 8259 section 7). */
static size_t json_str_len(const char *s)
{
    size_t n = 2;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            n += 2;
        else if (c < 0x20)
            n += 6; /* \u00XX */
        else
            n += 1;
    }
    return n;
}

static char *json_str_put(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return p;
}

int gh_store_muscles_json(const struct gh_equipment *e, char **out, struct gh_err *err)
{
    const struct gh_strv *lists[2] = {&e->primary_muscles, &e->secondary_muscles};
    size_t len = 3; /* "[", "]", NUL */
    char *buf, *p;
    int first = 1;

    *out = NULL;
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < lists[l]->n; i++)
            len += json_str_len(lists[l]->v[i]) + 1; /* and a comma */
    buf = gh_malloc(len);
    if (!buf)
        return gh_err_set(err, GH_ENOMEM, "out of memory listing the muscles of %s", e->slug);
    p = buf;
    *p++ = '[';
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < lists[l]->n; i++) {
            if (!first)
                *p++ = ',';
            first = 0;
            p = json_str_put(p, lists[l]->v[i]);
        }
    }
    *p++ = ']';
    *p = '\0';
    *out = buf;
    return GH_OK;
}
