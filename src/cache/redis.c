/* SPDX-License-Identifier: MIT */
/* The Redis hot layer on hiredis's blocking API: a small pool of connections (a redisContext is
 * not thread-safe, so each command borrows one), a circuit breaker in front of it, and the JSON
 * value format. No pub/sub, no cluster, no TLS: one plain Redis shared by the instances. */
#include "gh/redis.h"
#include "gh/alloc.h"
#include "gh/clock.h"
#include "gh/log.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Idle connections kept for reuse; more may be open while many threads talk at once, and those
 * are closed when returned to a full pool. Matches the default I/O threads plus workers. */
#define POOL_IDLE_MAX    8
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS   30000
/* An answer document is a few KB; a value far larger is not ours. */
#define VALUE_MAX     (1u << 20)
#define VALUE_VERSION 1

struct gh_redis {
    char host[256];
    int port;
    int db;
    char *user;     /* NULL: none (AUTH with the password alone) */
    char *password; /* NULL: no AUTH */
    char address[300];
    int64_t ttl_s;
    int timeout_ms;
    struct timeval tv;

    pthread_mutex_t mu; /* guards the pool and the breaker */
    redisContext *idle[POOL_IDLE_MAX];
    size_t n_idle;
    int down;            /* breaker open */
    int probing;         /* one request is retrying while open */
    int64_t retry_at_ms; /* monotonic */
    int backoff_ms;
    char why[160]; /* why it is down */

    atomic_uint_least64_t hits, phash_hits, misses, bad_values, errors, skipped, writes, outages;
};

/* --- URL --------------------------------------------------------------------------------- */

static int parse_int(const char *s, size_t len, long lo, long hi, long *out)
{
    long v = 0;

    if (len == 0 || len > 9)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = gh_malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* userinfo "[user]:password" or "password"; percent-escapes are not decoded. */
static int parse_userinfo(struct gh_redis *r, const char *s, size_t len)
{
    const char *colon = memchr(s, ':', len);

    if (!colon) {
        r->password = dup_n(s, len);
        return r->password ? GH_OK : GH_ENOMEM;
    }
    if (colon > s && !(r->user = dup_n(s, (size_t)(colon - s))))
        return GH_ENOMEM;
    r->password = dup_n(colon + 1, len - (size_t)(colon - s) - 1);
    return r->password ? GH_OK : GH_ENOMEM;
}

static int parse_url(struct gh_redis *r, const char *url, struct gh_err *err)
{
    static const char scheme[] = "redis://";
    const char *p, *at, *slash, *host, *host_end, *port = NULL;
    long v;
    int rc;

    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0)
        return gh_err_set(err, GH_EINVAL, "REDIS_URL must look like redis://host:port/db");
    p = url + sizeof scheme - 1;
    slash = strchr(p, '/');
    at = memchr(p, '@', slash ? (size_t)(slash - p) : strlen(p));
    /* the last '@' before the path ends the userinfo: a password may contain '@' */
    for (const char *q = at; q && q < (slash ? slash : p + strlen(p)); q = strchr(q + 1, '@'))
        at = q;
    if (at) {
        rc = parse_userinfo(r, p, (size_t)(at - p));
        if (rc)
            return gh_err_set(err, rc, "out of memory reading REDIS_URL");
        p = at + 1;
    }
    host = p;
    if (*p == '[') { /* [IPv6] */
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            return gh_err_set(err, GH_EINVAL, "REDIS_URL has an unclosed '[' in its host");
        p = host_end + 1;
    } else {
        p += strcspn(p, ":/");
        host_end = p;
    }
    if (*p == ':') {
        port = ++p;
        p += strcspn(p, "/");
    } else if (*p && *p != '/') {
        return gh_err_set(err, GH_EINVAL, "REDIS_URL has something unexpected after its host");
    }
    if (host_end == host || (size_t)(host_end - host) >= sizeof r->host)
        return gh_err_set(err, GH_EINVAL, "REDIS_URL needs a host (redis://host:port/db)");
    memcpy(r->host, host, (size_t)(host_end - host));
    r->port = 6379;
    if (port) {
        if (!parse_int(port, (size_t)(p - port), 1, 65535, &v))
            return gh_err_set(err, GH_EINVAL, "REDIS_URL's port must be a number 1..65535");
        r->port = (int)v;
    }
    if (*p == '/' && p[1]) {
        if (!parse_int(p + 1, strlen(p + 1), 0, 1000000, &v))
            return gh_err_set(err, GH_EINVAL, "REDIS_URL's database must be a number (/0)");
        r->db = (int)v;
    }
    snprintf(r->address, sizeof r->address, "%s:%d/%d", r->host, r->port, r->db);
    return GH_OK;
}

int gh_redis_new(const struct gh_redis_options *opts, struct gh_redis **out, struct gh_err *err)
{
    struct gh_redis *r;
    int rc;

    *out = NULL;
    if (opts->ttl_s <= 0 || opts->timeout_ms <= 0)
        return gh_err_set(err, GH_EINVAL, "the Redis TTL and timeout must be positive");
    r = gh_malloc(sizeof *r);
    if (!r)
        return gh_err_set(err, GH_ENOMEM, "out of memory for the Redis layer");
    memset(r, 0, sizeof *r);
    rc = parse_url(r, opts->url, err);
    if (rc == GH_OK && pthread_mutex_init(&r->mu, NULL) != 0)
        rc = gh_err_set(err, GH_ENOMEM, "cannot create the Redis pool's lock");
    if (rc) {
        gh_free(r->user);
        gh_free(r->password);
        gh_free(r);
        return rc;
    }
    r->ttl_s = opts->ttl_s;
    r->timeout_ms = opts->timeout_ms;
    r->tv.tv_sec = opts->timeout_ms / 1000;
    r->tv.tv_usec = (opts->timeout_ms % 1000) * 1000;
    *out = r;
    return GH_OK;
}

void gh_redis_free(struct gh_redis *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_idle; i++)
        redisFree(r->idle[i]);
    pthread_mutex_destroy(&r->mu);
    if (r->password) /* a secret: do not leave it in freed memory */
        memset(r->password, 0, strlen(r->password));
    gh_free(r->password);
    gh_free(r->user);
    gh_free(r);
}

const char *gh_redis_address(const struct gh_redis *r)
{
    return r->address;
}

/* --- breaker ----------------------------------------------------------------------------- */

enum admit { ADMIT_NO, ADMIT_YES, ADMIT_PROBE };

static int64_t mono_ms(void)
{
    return (int64_t)gh_mono_ms();
}

/* Closed: everyone talks to Redis. Open: nobody, except one probe once the backoff is over. */
static enum admit admit(struct gh_redis *r)
{
    enum admit a = ADMIT_YES;
    int64_t now = mono_ms();

    pthread_mutex_lock(&r->mu);
    if (r->down) {
        a = ADMIT_NO;
        if (!r->probing && now >= r->retry_at_ms) {
            r->probing = 1;
            a = ADMIT_PROBE;
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (a == ADMIT_NO)
        atomic_fetch_add(&r->skipped, 1);
    return a;
}

/* Records how an admitted exchange went. Only the first failure of an outage and the probe
 * that ends it are logged, so an outage makes two log lines however many requests it skips. */
static void report(struct gh_redis *r, enum admit a, int ok, const char *why)
{
    redisContext *drop[POOL_IDLE_MAX];
    size_t n_drop = 0;
    int went_down = 0, came_back = 0;

    pthread_mutex_lock(&r->mu);
    if (ok && r->down && a == ADMIT_PROBE) {
        r->down = 0;
        r->backoff_ms = 0;
        came_back = 1;
    } else if (!ok && !r->down) {
        r->down = 1;
        r->backoff_ms = BACKOFF_FIRST_MS;
        r->retry_at_ms = mono_ms() + r->backoff_ms;
        snprintf(r->why, sizeof r->why, "%s", why);
        went_down = 1;
        /* the idle connections most likely died with the server */
        memcpy(drop, r->idle, r->n_idle * sizeof *drop);
        n_drop = r->n_idle;
        r->n_idle = 0;
    } else if (!ok && a == ADMIT_PROBE) {
        r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
        r->retry_at_ms = mono_ms() + r->backoff_ms;
        snprintf(r->why, sizeof r->why, "%s", why);
    }
    if (a == ADMIT_PROBE)
        r->probing = 0;
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n_drop; i++)
        redisFree(drop[i]);
    if (went_down) {
        atomic_fetch_add(&r->outages, 1);
        gh_logf(GH_LOG_WARN, "redis unavailable: %s (%s); skipping it, retrying in %d ms", why,
                r->address, BACKOFF_FIRST_MS);
    }
    if (came_back)
        gh_logf(GH_LOG_INFO, "redis back (%s)", r->address);
}

/* --- connections ------------------------------------------------------------------------- */

/* AUTH and SELECT on a fresh connection; 0 on success, else why is filled. */
static int handshake(struct gh_redis *r, redisContext *c, char *why, size_t cap)
{
    const char *argv[3];
    size_t n = 0;
    redisReply *rep;
    char db[16];

    for (int step = 0; step < 2; step++) {
        if (step == 0 && r->password) {
            argv[n++] = "AUTH";
            if (r->user)
                argv[n++] = r->user;
            argv[n++] = r->password;
        } else if (step == 1 && r->db != 0) {
            snprintf(db, sizeof db, "%d", r->db);
            argv[n++] = "SELECT";
            argv[n++] = db;
        } else {
            continue;
        }
        rep = redisCommandArgv(c, (int)n, argv, NULL);
        n = 0;
        if (!rep) {
            snprintf(why, cap, "%s", c->errstr);
            return -1;
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            /* the reply names the command, never the password */
            snprintf(why, cap, "%s refused: %.100s", step == 0 ? "AUTH" : "SELECT", rep->str);
            freeReplyObject(rep);
            return -1;
        }
        freeReplyObject(rep);
    }
    return 0;
}

/* A pooled connection (unless fresh), or a new one; NULL with why filled. *reused says
 * which. */
static redisContext *conn_take(struct gh_redis *r, int fresh, int *reused, char *why, size_t cap)
{
    redisContext *c = NULL;

    pthread_mutex_lock(&r->mu);
    if (!fresh && r->n_idle > 0)
        c = r->idle[--r->n_idle];
    pthread_mutex_unlock(&r->mu);
    *reused = c != NULL;
    if (c)
        return c;
    c = redisConnectWithTimeout(r->host, r->port, r->tv);
    if (!c) {
        snprintf(why, cap, "out of memory connecting");
        return NULL;
    }
    /* The connect timeout alone leaves reads blocking forever: bound every command too. */
    if (c->err || redisSetTimeout(c, r->tv) != REDIS_OK || handshake(r, c, why, cap) != 0) {
        if (c->err)
            snprintf(why, cap, "%s", c->errstr);
        else if (!why[0])
            snprintf(why, cap, "cannot set the socket timeout");
        redisFree(c);
        return NULL;
    }
    return c;
}

static void conn_give(struct gh_redis *r, redisContext *c)
{
    pthread_mutex_lock(&r->mu);
    if (r->n_idle < POOL_IDLE_MAX && !r->down) {
        r->idle[r->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    if (c)
        redisFree(c);
}

struct cmd {
    int argc;
    const char *argv[8];
    size_t len[8];
};

static void free_replies(redisReply **rep, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (rep[i])
            freeReplyObject(rep[i]);
        rep[i] = NULL;
    }
}

/* Sends the commands in one write and reads every reply. 0, or -1 with c->err set, *stale
 * saying whether the connection had simply been closed under us (a restarted server) and
 * *timed_out whether the socket timeout expired. */
static int exchange(redisContext *c, struct cmd *cmds, size_t n, redisReply **rep, int *stale,
                    int *timed_out)
{
    void *reply;

    *stale = *timed_out = 0;
    for (size_t i = 0; i < n; i++)
        if (redisAppendCommandArgv(c, cmds[i].argc, cmds[i].argv, cmds[i].len) != REDIS_OK)
            return -1;
    for (size_t i = 0; i < n; i++) {
        if (redisGetReply(c, &reply) != REDIS_OK) {
            *stale = c->err == REDIS_ERR_EOF ||
                     (c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
            *timed_out = c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
            free_replies(rep, i);
            return -1;
        }
        rep[i] = reply;
    }
    return 0;
}

/* Runs n commands on a borrowed connection. GH_OK with every reply in rep (error replies
 * included: the server answered); GH_EUNAVAILABLE when the breaker skipped; GH_EBACKEND when
 * the connection failed or timed out. A pooled connection the server had closed (restart,
 * idle timeout) is replaced once: that is not an outage. */
static int run(struct gh_redis *r, struct cmd *cmds, size_t n, redisReply **rep)
{
    enum admit a = admit(r);
    char why[160] = "";
    redisContext *c;
    int reused, stale, timed_out;

    if (a == ADMIT_NO)
        return GH_EUNAVAILABLE;
    for (int attempt = 0; attempt < 2; attempt++) {
        /* The retry opens a new connection: the other pooled ones most likely went with the
         * same restart, and a second stale one would be counted as an outage. */
        c = conn_take(r, attempt > 0, &reused, why, sizeof why);
        if (!c)
            break;
        if (exchange(c, cmds, n, rep, &stale, &timed_out) == 0) {
            conn_give(r, c);
            report(r, a, 1, NULL);
            return GH_OK;
        }
        if (timed_out)
            snprintf(why, sizeof why, "no answer within %d ms", r->timeout_ms);
        else
            snprintf(why, sizeof why, "%s", c->errstr[0] ? c->errstr : "connection failed");
        redisFree(c);
        if (!(reused && stale))
            break;
    }
    atomic_fetch_add(&r->errors, 1);
    report(r, a, 0, why);
    return GH_EBACKEND;
}

/* --- values ------------------------------------------------------------------------------ */

static void key_sha(char *buf, size_t cap, const char *sha256)
{
    snprintf(buf, cap, GH_REDIS_PREFIX "sha:%s", sha256);
}

static void key_phash(char *buf, size_t cap, uint64_t phash)
{
    snprintf(buf, cap, GH_REDIS_PREFIX "ph:%016" PRIx64, phash);
}

/* "corrected" comes first and the answer is a JSON string, so the write script can test for
 * the literal "corrected":true without parsing (inside a string the quotes are escaped). */
static char *encode(const struct gh_cache_entry *e)
{
    char ph[17];
    json_t *doc;
    char *text;

    snprintf(ph, sizeof ph, "%016" PRIx64, e->phash);
    doc = json_pack("{s:b, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "corrected",
                    e->corrected != 0, "v", VALUE_VERSION, "sha256", e->sha256, "phash", ph, "slug",
                    e->equipment_slug, "provider", e->provider, "model", e->model, "created",
                    (json_int_t)e->created_at, "expires", (json_int_t)e->expires_at, "answer",
                    e->answer_json);
    if (!doc)
        return NULL;
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return text; /* jansson allocates with malloc, released by gh_free */
}

static int is_hex(const char *s, size_t len)
{
    if (strlen(s) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap)
        return 0;
    memcpy(dst, src, n + 1);
    return 1;
}

/* Reads a value back; 0 for anything that is not a live document of ours. */
static int decode(const char *text, size_t len, int64_t now, struct gh_cache_entry *out)
{
    const char *sha, *ph, *slug, *prov, *model, *answer;
    json_int_t v, created, expires;
    int corrected, ok;
    json_t *doc;

    memset(out, 0, sizeof *out);
    if (len == 0 || len > VALUE_MAX || text[0] != '{')
        return 0;
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!doc)
        return 0;
    ok = json_unpack(doc, "{s:b, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "corrected",
                     &corrected, "v", &v, "sha256", &sha, "phash", &ph, "slug", &slug, "provider",
                     &prov, "model", &model, "created", &created, "expires", &expires, "answer",
                     &answer) == 0 &&
         v == VALUE_VERSION && is_hex(sha, 64) && is_hex(ph, 16) && expires > now &&
         answer[0] == '{' && copy_field(out->sha256, sizeof out->sha256, sha) &&
         copy_field(out->equipment_slug, sizeof out->equipment_slug, slug) &&
         copy_field(out->provider, sizeof out->provider, prov) &&
         copy_field(out->model, sizeof out->model, model);
    if (ok) {
        out->phash = (uint64_t)strtoull(ph, NULL, 16);
        out->created_at = created;
        out->expires_at = expires;
        out->corrected = corrected;
        out->answer_json = dup_n(answer, strlen(answer));
        ok = out->answer_json != NULL;
    }
    json_decref(doc);
    if (!ok)
        memset(out, 0, sizeof *out);
    return ok;
}

/* --- API --------------------------------------------------------------------------------- */

static int get_key(struct gh_redis *r, const char *key, int64_t now, struct gh_cache_entry *out)
{
    struct cmd cmd = {2, {"GET", key}, {3, strlen(key)}};
    redisReply *rep = NULL;
    int found = 0;

    if (run(r, &cmd, 1, &rep) != GH_OK) {
        atomic_fetch_add(&r->misses, 1);
        return GH_ENOTFOUND;
    }
    if (rep->type == REDIS_REPLY_STRING) {
        found = decode(rep->str, rep->len, now, out);
        if (!found)
            atomic_fetch_add(&r->bad_values, 1);
    } else if (rep->type != REDIS_REPLY_NIL) {
        atomic_fetch_add(&r->bad_values, 1); /* WRONGTYPE and other error replies */
    }
    freeReplyObject(rep);
    if (!found)
        atomic_fetch_add(&r->misses, 1);
    return found ? GH_OK : GH_ENOTFOUND;
}

int gh_redis_get_sha(struct gh_redis *r, const char *sha256, int64_t now,
                     struct gh_cache_entry *out)
{
    char key[96];
    int rc;

    memset(out, 0, sizeof *out);
    if (!is_hex(sha256, 64))
        return GH_ENOTFOUND;
    key_sha(key, sizeof key, sha256);
    rc = get_key(r, key, now, out);
    /* a value under another image's key is not this image's answer */
    if (rc == GH_OK && strcmp(out->sha256, sha256) != 0) {
        gh_cache_entry_fini(out);
        atomic_fetch_add(&r->bad_values, 1);
        atomic_fetch_add(&r->misses, 1);
        return GH_ENOTFOUND;
    }
    if (rc == GH_OK)
        atomic_fetch_add(&r->hits, 1);
    return rc;
}

int gh_redis_get_phash(struct gh_redis *r, uint64_t phash, int64_t now, struct gh_cache_entry *out)
{
    char key[64];
    int rc;

    key_phash(key, sizeof key, phash);
    rc = get_key(r, key, now, out);
    if (rc == GH_OK && out->phash != phash) {
        gh_cache_entry_fini(out);
        atomic_fetch_add(&r->bad_values, 1);
        atomic_fetch_add(&r->misses, 1);
        return GH_ENOTFOUND;
    }
    if (rc == GH_OK)
        atomic_fetch_add(&r->phash_hits, 1);
    return rc;
}

/* KEYS: the keys to write; ARGV: value, TTL, "1" to overwrite even a correction. A script, so
 * the check and the write are one atomic step (another instance may correct meanwhile). */
static const char put_script[] =
    "local n = 0\n"
    "for _, k in ipairs(KEYS) do\n"
    "  local old = ARGV[3] ~= '1' and redis.call('GET', k)\n"
    "  if not (old and string.find(old, '\"corrected\":true', 1, true)) then\n"
    "    redis.call('SET', k, ARGV[1], 'EX', ARGV[2])\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

int gh_redis_put(struct gh_redis *r, const struct gh_cache_entry *e, int keys)
{
    char ksha[96], kph[64], ttl[24];
    struct cmd cmd = {0};
    redisReply *rep = NULL;
    char *value;
    int rc;

    if (!e->answer_json || !is_hex(e->sha256, 64) ||
        !(keys & (GH_REDIS_KEY_SHA | GH_REDIS_KEY_PHASH)))
        return GH_EINVAL;
    value = encode(e);
    if (!value)
        return GH_ENOMEM;
    key_sha(ksha, sizeof ksha, e->sha256);
    key_phash(kph, sizeof kph, e->phash);
    snprintf(ttl, sizeof ttl, "%" PRId64, r->ttl_s);
    cmd.argv[cmd.argc++] = "EVAL";
    cmd.argv[cmd.argc++] = put_script;
    cmd.argv[cmd.argc++] = (keys & GH_REDIS_KEY_SHA) && (keys & GH_REDIS_KEY_PHASH) ? "2" : "1";
    if (keys & GH_REDIS_KEY_SHA)
        cmd.argv[cmd.argc++] = ksha;
    if (keys & GH_REDIS_KEY_PHASH)
        cmd.argv[cmd.argc++] = kph;
    cmd.argv[cmd.argc++] = value;
    cmd.argv[cmd.argc++] = ttl;
    cmd.argv[cmd.argc++] = e->corrected ? "1" : "0";
    for (int i = 0; i < cmd.argc; i++)
        cmd.len[i] = strlen(cmd.argv[i]);
    rc = run(r, &cmd, 1, &rep);
    if (rc == GH_OK) {
        if (rep->type == REDIS_REPLY_INTEGER)
            atomic_fetch_add(&r->writes, (uint64_t)rep->integer);
        else
            rc = GH_EBACKEND; /* an error reply (read-only replica, OOM): the server is up */
        freeReplyObject(rep);
    }
    gh_free(value);
    return rc;
}

/* --- scripts ----------------------------------------------------------------------------- */

/* The script's SHA-1 in hex, as EVALSHA names it; 0 or -1. */
static int script_sha1(const char *script, char hex[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (!EVP_Digest(script, strlen(script), md, &n, EVP_sha1(), NULL) || n != 20)
        return -1;
    for (unsigned int i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static int script_reply(const redisReply *rep, int64_t *out, size_t n_out)
{
    if (rep->type != REDIS_REPLY_ARRAY)
        return GH_EBACKEND;
    for (size_t i = 0; i < rep->elements && i < n_out; i++) {
        if (rep->element[i]->type != REDIS_REPLY_INTEGER)
            return GH_EBACKEND;
        out[i] = (int64_t)rep->element[i]->integer;
    }
    return GH_OK;
}

int gh_redis_script(struct gh_redis *r, const char *script, int n_keys, const char *const *args,
                    int n_args, int64_t *out, size_t n_out)
{
    struct cmd cmd;
    redisReply *rep = NULL;
    char sha[41], nk[16];
    int rc;

    if (n_args < 0 || n_args > 5 || n_keys < 0 || n_keys > n_args || script_sha1(script, sha))
        return GH_EBACKEND;
    snprintf(nk, sizeof nk, "%d", n_keys);
    memset(&cmd, 0, sizeof cmd);
    cmd.argc = 3 + n_args;
    cmd.argv[0] = "EVALSHA";
    cmd.argv[1] = sha;
    cmd.argv[2] = nk;
    for (int i = 0; i < n_args; i++)
        cmd.argv[3 + i] = args[i];
    for (int i = 0; i < cmd.argc; i++)
        cmd.len[i] = strlen(cmd.argv[i]);
    rc = run(r, &cmd, 1, &rep);
    if (rc)
        return rc;
    if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        rep = NULL;
        cmd.argv[0] = "EVAL";
        cmd.argv[1] = script;
        cmd.len[0] = 4;
        cmd.len[1] = strlen(script);
        rc = run(r, &cmd, 1, &rep);
        if (rc)
            return rc;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        gh_logf(GH_LOG_WARN, "redis refused a rate-limit script: %.160s", rep->str);
        atomic_fetch_add(&r->errors, 1);
        rc = GH_EBACKEND;
    } else {
        rc = script_reply(rep, out, n_out);
    }
    freeReplyObject(rep);
    return rc;
}

enum gh_redis_state gh_redis_check(struct gh_redis *r, char *detail, size_t detail_cap)
{
    struct cmd cmd = {1, {"PING"}, {4}};
    redisReply *rep = NULL;
    int rc = run(r, &cmd, 1, &rep);

    if (rc == GH_OK) {
        freeReplyObject(rep);
        if (detail)
            snprintf(detail, detail_cap, "ok");
        return GH_REDIS_STATE_OK;
    }
    if (detail) {
        pthread_mutex_lock(&r->mu);
        snprintf(detail, detail_cap, "unavailable: %s", r->why);
        pthread_mutex_unlock(&r->mu);
    }
    return GH_REDIS_STATE_DOWN;
}

int gh_redis_count_keys(struct gh_redis *r, int64_t *n_sha, int64_t *n_phash, struct gh_err *err)
{
    static const char sha_prefix[] = GH_REDIS_PREFIX "sha:", ph_prefix[] = GH_REDIS_PREFIX "ph:";
    char cursor[32] = "0";
    redisReply *rep = NULL;
    int rc;

    *n_sha = *n_phash = 0;
    do {
        struct cmd cmd = {6, {"SCAN", cursor, "MATCH", GH_REDIS_PREFIX "*", "COUNT", "1000"}, {0}};

        for (int i = 0; i < cmd.argc; i++)
            cmd.len[i] = strlen(cmd.argv[i]);

        rc = run(r, &cmd, 1, &rep);
        if (rc) {
            /* why: this failure, or the one that opened the breaker (then nothing was sent) */
            pthread_mutex_lock(&r->mu);
            rc = gh_err_set(err, GH_EBACKEND, "redis at %s did not answer: %s", r->address, r->why);
            pthread_mutex_unlock(&r->mu);
            return rc;
        }
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_ARRAY || rep->element[0]->len >= sizeof cursor) {
            rc = gh_err_set(err, GH_EBACKEND, "redis at %s refused SCAN: %.100s", r->address,
                            rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
            freeReplyObject(rep);
            return rc;
        }
        memcpy(cursor, rep->element[0]->str, rep->element[0]->len + 1);
        for (size_t i = 0; i < rep->element[1]->elements; i++) {
            const redisReply *k = rep->element[1]->element[i];

            if (k->type != REDIS_REPLY_STRING)
                continue;
            if (strncmp(k->str, sha_prefix, sizeof sha_prefix - 1) == 0)
                ++*n_sha;
            else if (strncmp(k->str, ph_prefix, sizeof ph_prefix - 1) == 0)
                ++*n_phash;
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return GH_OK;
}

void gh_redis_stats(struct gh_redis *r, struct gh_redis_stats *out)
{
    out->hits = atomic_load(&r->hits);
    out->phash_hits = atomic_load(&r->phash_hits);
    out->misses = atomic_load(&r->misses);
    out->bad_values = atomic_load(&r->bad_values);
    out->errors = atomic_load(&r->errors);
    out->skipped = atomic_load(&r->skipped);
    out->writes = atomic_load(&r->writes);
    out->outages = atomic_load(&r->outages);
    pthread_mutex_lock(&r->mu);
    out->down = r->down;
    pthread_mutex_unlock(&r->mu);
}
