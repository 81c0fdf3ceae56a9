/* SPDX-License-Identifier: MIT */
/* `gymhelper model pull`: downloads a checkpoint's files from the Hugging Face Hub file
 * endpoint with libcurl. Each file lands in <file>.part, resumes with a Range request, is
 * verified (size, and SHA-256 when the Hub names one) and only then renamed into place. No Hub
 * API, no tokens: public repositories only. */
#include "gh/models.h"
#include "models_internal.h"

#include "gh/alloc.h"
#include "gh/digest.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 15000L
#define STALL_TIMEOUT_S    60L
#define MAX_REDIRECTS      5L
#define HASH_CHUNK         (1 << 20)
#define URL_CAP            (GH_MODELS_PATH_CAP + 512)

/* One file's transfer. Response fields are reset at each status line: with redirects
 * followed, curl hands the header callback every response of the chain. */
struct fetch {
    const char *file; /* "model.safetensors" */
    const char *part; /* its .part path */
    int64_t offset;   /* bytes already in .part when the request went out */
    FILE *log;
    int progress;
    /* the latest response */
    long status;
    int64_t content_length;           /* -1: none */
    int64_t range_start, range_total; /* Content-Range "bytes a-b/total"; -1: none */
    /* the Hub's answer for LFS files, from the first response that carried it (the redirect) */
    char etag[65]; /* lower-case SHA-256 hex, "" when none */
    int64_t linked_size;
    /* the body */
    int fd;
    int started;
    int write_errno;
    int bad_range;
    double t0, last_draw;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A non-negative decimal at s; -1 when there is none or it overflows. *end past the digits. */
static int64_t parse_i64(const char *s, const char **end)
{
    int64_t v = 0;
    const char *p = s;

    while (*p == ' ' || *p == '\t')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (end)
        *end = p;
    return v;
}

/* "<64 hex>" (quotes, or a W/ prefix, as proxies rewrite it) into out, lower-cased. */
static void parse_etag(const char *v, char out[65])
{
    size_t n = 0;

    if (strncmp(v, "W/", 2) == 0)
        v += 2;
    if (*v == '"')
        v++;
    for (; n < 64 && ((v[n] >= '0' && v[n] <= '9') || (v[n] >= 'a' && v[n] <= 'f') ||
                      (v[n] >= 'A' && v[n] <= 'F'));
         n++)
        out[n] = (char)(v[n] >= 'A' && v[n] <= 'F' ? v[n] - 'A' + 'a' : v[n]);
    /* Anything but exactly 64 hex digits is no SHA-256 (a git blob id is 40). */
    if (n != 64 || (v[n] != '"' && v[n] != '\0'))
        n = 0;
    out[n] = '\0';
}

static void on_field(struct fetch *f, const char *name, const char *value)
{
    const char *end;

    if (strcasecmp(name, "content-length") == 0) {
        f->content_length = parse_i64(value, NULL);
    } else if (strcasecmp(name, "content-range") == 0) {
        /* bytes a-b/total (RFC 9110 14.4) */
        while (*value == ' ')
            value++;
        if (strncasecmp(value, "bytes ", 6) != 0)
            return;
        f->range_start = parse_i64(value + 6, NULL); /* -1 for "bytes * /total" (a 416) */
        end = strchr(value + 6, '/');
        f->range_total = end ? parse_i64(end + 1, NULL) : -1;
    } else if (strcasecmp(name, "x-linked-etag") == 0 && !f->etag[0]) {
        while (*value == ' ')
            value++;
        parse_etag(value, f->etag);
    } else if (strcasecmp(name, "x-linked-size") == 0 && f->linked_size < 0) {
        f->linked_size = parse_i64(value, NULL);
    }
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct fetch *f = ud;
    size_t n = size * nitems, len = n;
    char line[1024], *colon, *value;

    if (len >= sizeof line)
        len = sizeof line - 1; /* our headers are short; a long one is not one of them */
    memcpy(line, buf, len);
    line[len] = '\0';
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        line[--len] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        const char *sp = strchr(line, ' ');
        int64_t st = sp ? parse_i64(sp + 1, NULL) : -1;

        f->status = st >= 100 && st <= 999 ? (long)st : 0;
        f->content_length = f->range_start = f->range_total = -1;
        return n;
    }
    colon = strchr(line, ':');
    if (!colon)
        return n;
    *colon = '\0';
    value = colon + 1;
    on_field(f, line, value);
    return n;
}

static int open_part(struct fetch *f)
{
    if (f->status == 206) {
        if (f->range_start != f->offset) {
            f->bad_range = 1; /* not the bytes we asked for: appending would corrupt */
            return -1;
        }
        f->fd = open(f->part, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    } else {
        /* 200: the whole file, whether or not we asked for a range. Start over. */
        f->offset = 0;
        f->fd = open(f->part, O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0644);
    }
    if (f->fd < 0) {
        f->write_errno = errno;
        return -1;
    }
    f->started = 1;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct fetch *f = ud;
    size_t n = size * nmemb, done = 0;

    if (f->status != 200 && f->status != 206)
        return n; /* an error page: the status says enough */
    if (!f->started && open_part(f) != 0)
        return 0; /* aborts the transfer */
    while (done < n) {
        ssize_t w = write(f->fd, data + done, n - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->write_errno = w < 0 ? errno : EIO;
            return 0;
        }
        done += (size_t)w;
    }
    return n;
}

static void draw(struct fetch *f, int64_t done, int64_t total, int final)
{
    double now = mono_s(), rate;

    if (!final && now - f->last_draw < 0.1)
        return;
    f->last_draw = now;
    rate = now > f->t0 ? (double)(done - f->offset) / (now - f->t0) / 1e6 : 0;
    if (total > 0)
        fprintf(f->log, "\r  %-18s %5.1f%%  %8.1f / %.1f MB  %6.1f MB/s ", f->file,
                100.0 * (double)done / (double)total, (double)done / 1e6, (double)total / 1e6,
                rate);
    else
        fprintf(f->log, "\r  %-18s %8.1f MB  %6.1f MB/s ", f->file, (double)done / 1e6, rate);
    if (final)
        fputc('\n', f->log);
    fflush(f->log);
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct fetch *f = ud;
    int64_t total;

    (void)ultotal;
    (void)ulnow;
    if (!f->progress || !f->log || !f->started)
        return 0;
    total = f->linked_size > 0 ? f->linked_size : dltotal > 0 ? f->offset + (int64_t)dltotal : -1;
    draw(f, f->offset + (int64_t)dlnow, total, 0);
    return 0;
}

static int64_t file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
}

/* host[:port] of an http(s) URL, for messages. */
static void url_host(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url ? url : "", "://"), *end;

    p = p ? p + 3 : (url ? url : "");
    end = p + strcspn(p, "/?#");
    snprintf(out, cap, "%.*s", (int)(end - p), p);
}

#define SETOPT(c, opt, val)                                                                        \
    do {                                                                                           \
        if (curl_easy_setopt((c), (opt), (val)) != CURLE_OK)                                       \
            goto setopt_failed;                                                                    \
    } while (0)

/* One GET of url into f, following redirects. Returns the curl code; *errbuf says more. */
static CURLcode transfer(CURL *c, const char *url, struct fetch *f,
                         const struct gh_models_pull_opts *o, char *errbuf)
{
    char range[48];

    SETOPT(c, CURLOPT_URL, url);
    SETOPT(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(c, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    SETOPT(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    SETOPT(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SETOPT(c, CURLOPT_FOLLOWLOCATION, 1L);
    SETOPT(c, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
    SETOPT(c, CURLOPT_USERAGENT, "gymhelper");
    SETOPT(c, CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS,
           o->connect_timeout_ms > 0 ? o->connect_timeout_ms : CONNECT_TIMEOUT_MS);
    /* A stalled transfer ends instead of hanging forever; a slow one goes on. */
    SETOPT(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    SETOPT(c, CURLOPT_LOW_SPEED_TIME,
           o->stall_timeout_s > 0 ? o->stall_timeout_s : STALL_TIMEOUT_S);
    SETOPT(c, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(c, CURLOPT_HEADERDATA, f);
    SETOPT(c, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(c, CURLOPT_WRITEDATA, f);
    SETOPT(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(c, CURLOPT_XFERINFODATA, f);
    SETOPT(c, CURLOPT_NOPROGRESS, 0L);
    if (f->offset > 0) {
        snprintf(range, sizeof range, "%lld-", (long long)f->offset);
        SETOPT(c, CURLOPT_RANGE, range);
    }
    f->t0 = mono_s();
    return curl_easy_perform(c);
setopt_failed:
    snprintf(errbuf, CURL_ERROR_SIZE, "libcurl refused an option");
    return CURLE_FAILED_INIT;
}

/* SHA-256 of a file as lower-case hex. */
static int hash_file(const char *path, char hex[65], struct gh_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    uint8_t *buf = gh_malloc(HASH_CHUNK);
    int fd = -1, rc = GH_OK;
    ssize_t got;

    if (!ctx || !buf) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory hashing %s", path);
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = gh_err_set(err, GH_EIO, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    while ((got = read(fd, buf, HASH_CHUNK)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 || EVP_DigestUpdate(ctx, buf, (size_t)got) != 1) {
            rc = gh_err_set(err, GH_EIO, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
    }
    if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != GH_SHA256_LEN) {
        rc = gh_err_set(err, GH_EBACKEND, "SHA-256 of %s failed", path);
        goto out;
    }
    gh_sha256_to_hex(md, hex);
out:
    if (fd >= 0)
        close(fd);
    gh_free(buf);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Checks the downloaded .part against what the Hub promised; deletes it when it is wrong. */
static int verify(const struct fetch *f, int64_t expected, struct gh_manifest_file *mf,
                  struct gh_err *err)
{
    int64_t got = file_size(f->part);
    char hex[65] = "";
    int rc;

    if (expected >= 0 && got != expected) {
        unlink(f->part);
        return gh_err_set(err, GH_EDECODE,
                          "%s is corrupt: expected %lld bytes, got %lld; the download was deleted, "
                          "run the command again",
                          f->file, (long long)expected, (long long)got);
    }
    if (f->etag[0]) {
        rc = hash_file(f->part, hex, err);
        if (rc)
            return rc;
        if (strcmp(hex, f->etag) != 0) {
            unlink(f->part);
            return gh_err_set(err, GH_EDECODE,
                              "%s is corrupt: expected sha256 %s, got %s; the download was "
                              "deleted, run the command again",
                              f->file, f->etag, hex);
        }
    }
    mf->size = got;
    memcpy(mf->sha256, hex, sizeof hex);
    return GH_OK;
}

/* What the finished transfer says the whole file's size is; -1 when nothing says. */
static int64_t expected_size(const struct fetch *f)
{
    if (f->linked_size >= 0)
        return f->linked_size;
    if (f->status == 206)
        return f->range_total;
    if (f->status == 200 && f->content_length >= 0)
        return f->content_length;
    return -1;
}

static int transfer_error(const struct fetch *f, CURLcode cc, const char *errbuf, CURL *c,
                          const char *url, const char *name, struct gh_err *err)
{
    char *eff = NULL, host[256];
    int64_t have = file_size(f->part), total = expected_size(f);

    if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) != CURLE_OK || !eff)
        eff = (char *)url;
    url_host(eff, host, sizeof host);
    if (f->write_errno)
        return gh_err_set(err, GH_EIO, "cannot write %s: %s", f->part, strerror(f->write_errno));
    if (f->bad_range)
        return gh_err_set(err, GH_EBACKEND,
                          "%s answered %s with bytes from %lld when %lld were asked for", host,
                          f->file, (long long)f->range_start, (long long)f->offset);
    if (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_CONNECT ||
        cc == CURLE_COULDNT_RESOLVE_PROXY || (cc == CURLE_OPERATION_TIMEDOUT && f->status == 0))
        return gh_err_set(err, GH_EBACKEND,
                          "cannot reach %s (%s): check the network connection, or HF_ENDPOINT",
                          host, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (f->started)
        return gh_err_set(err, GH_EBACKEND,
                          "downloading %s from %s stopped after %lld of %lld bytes (%s); the part "
                          "is kept: run `gymhelper model pull %s` again to resume",
                          f->file, host, (long long)(have < 0 ? 0 : have), (long long)total,
                          errbuf[0] ? errbuf : curl_easy_strerror(cc), name);
    return gh_err_set(err, GH_EBACKEND, "downloading %s from %s failed: %s", f->file, host,
                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
}

static int status_error(const struct fetch *f, const char *url, const char *name,
                        const char *revision, struct gh_err *err)
{
    if (f->status == 404)
        return gh_err_set(err, GH_EBACKEND, "%s at revision %s has no %s (HTTP 404 from %.200s)",
                          name, revision, f->file, url);
    if (f->status == 401 || f->status == 403)
        return gh_err_set(err, GH_EBACKEND,
                          "%s is gated or private (HTTP %ld for %s); gymhelper pulls public "
                          "models only",
                          name, f->status, f->file);
    return gh_err_set(err, GH_EBACKEND, "HTTP %ld for %.300s", f->status, url);
}

struct pull {
    const char *name, *revision, *endpoint, *dir;
    const struct gh_models_pull_opts *opts;
    CURL *curl;
};

/* One attempt at a file; *again set when the part had to be dropped (416 on a stale part). */
static int fetch_once(struct pull *p, const char *fname, struct fetch *f, const char *url,
                      int *again, struct gh_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode cc;
    int64_t have = file_size(f->part);
    const char *part = f->part;
    FILE *log = f->log;
    int progress = f->progress;

    memset(f, 0, sizeof *f);
    f->file = fname;
    f->part = part;
    f->log = log;
    f->progress = progress;
    f->offset = have > 0 ? have : 0;
    f->linked_size = f->content_length = f->range_start = f->range_total = -1;
    f->fd = -1;
    curl_easy_reset(p->curl);
    cc = transfer(p->curl, url, f, p->opts, errbuf);
    if (f->fd >= 0) {
        if (fsync(f->fd) != 0 && !f->write_errno)
            f->write_errno = errno;
        close(f->fd);
        f->fd = -1;
    }
    if (f->progress && f->log && f->started)
        draw(f, file_size(f->part), expected_size(f), 1);
    if (cc != CURLE_OK)
        return transfer_error(f, cc, errbuf, p->curl, url, p->name, err);
    if (f->status == 416 && f->offset > 0) {
        /* Our range starts at or past the end: the part is either complete or stale. */
        if (f->linked_size == f->offset || f->range_total == f->offset) {
            f->status = 206;
            f->range_total = f->offset;
            return GH_OK;
        }
        unlink(f->part);
        *again = 1;
        return GH_OK;
    }
    if (f->status != 200 && f->status != 206)
        return status_error(f, url, p->name, p->revision, err);
    if (!f->started && open_part(f) == 0) /* an empty file: no body callback ran */
        close(f->fd);
    return GH_OK;
}

static int fetch_file(struct pull *p, size_t i, struct gh_manifest_file *mf, struct gh_err *err)
{
    const char *fname = gh_models_file(i);
    char part[GH_MODELS_PATH_CAP], final[GH_MODELS_PATH_CAP], url[URL_CAP], rev[3 * 96];
    struct fetch f;
    size_t r = 0;
    int rc, again = 0, n;

    /* A revision may be a branch with '/', which is one path segment on the Hub. */
    for (const char *s = p->revision; *s && r + 4 < sizeof rev; s++)
        r += (size_t)snprintf(rev + r, sizeof rev - r, *s == '/' ? "%%2F" : "%c", *s);
    rev[r] = '\0';
    n = snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", p->endpoint, p->name, rev, fname);
    if (n < 0 || (size_t)n >= sizeof url)
        return gh_err_set(err, GH_EINVAL, "the download URL is too long");
    rc = gh_models_join(final, sizeof final, p->dir, fname, err);
    if (rc == GH_OK && snprintf(part, sizeof part, "%s.part", final) >= (int)sizeof part)
        rc = gh_err_set(err, GH_EINVAL, "the download path is too long");
    if (rc)
        return rc;
    memset(&f, 0, sizeof f);
    f.part = part;
    f.log = p->opts->log;
    f.progress = p->opts->progress;
    for (int attempt = 0; attempt < 2; attempt++) {
        again = 0;
        rc = fetch_once(p, fname, &f, url, &again, err);
        if (rc || !again)
            break;
    }
    if (rc == GH_OK && again)
        rc = gh_err_set(err, GH_EBACKEND, "the server kept refusing the range for %s", fname);
    if (rc == GH_OK)
        rc = verify(&f, expected_size(&f), mf, err);
    if (rc == GH_OK && rename(part, final) != 0)
        rc = gh_err_set(err, GH_EIO, "cannot rename %s into place: %s", part, strerror(errno));
    if (rc)
        return rc;
    mf->verified = 1;
    if (p->opts->log)
        fprintf(p->opts->log, "%s: %lld bytes%s\n", fname, (long long)mf->size,
                mf->sha256[0] ? ", sha256 verified" : ", size verified");
    return GH_OK;
}

/* Keeps the files a previous pull of this revision verified; forgets the rest. */
static void reconcile(struct pull *p, struct gh_manifest *m)
{
    struct gh_manifest old;
    char path[GH_MODELS_PATH_CAP];
    int64_t size;

    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", p->name);
    snprintf(m->revision, sizeof m->revision, "%s", p->revision);
    if (gh_manifest_read(p->dir, &old) != GH_OK)
        return;
    for (size_t i = 0; i < GH_MODELS_N_FILES; i++) {
        if (gh_models_join(path, sizeof path, p->dir, gh_models_file(i), NULL) != GH_OK)
            continue;
        size = file_size(path);
        /* size >= 0: a file that is gone is not kept, whatever a manifest without sizes says */
        if (strcmp(old.revision, p->revision) == 0 && old.files[i].verified && size >= 0 &&
            size == old.files[i].size) {
            m->files[i] = old.files[i];
        } else if (strcmp(old.revision, p->revision) != 0 &&
                   snprintf(path + strlen(path), sizeof path - strlen(path), ".part") > 0) {
            unlink(path); /* bytes of another revision must not be resumed */
        }
    }
}

static int check_args(const char *name, const char *revision, const char *endpoint,
                      struct gh_err *err)
{
    if (!gh_models_name_ok(name))
        return gh_err_set(err, GH_EINVAL,
                          "\"%.128s\" is not a model name like %s (owner/name: letters, digits, "
                          "'-', '_', '.')",
                          name ? name : "", GH_MODELS_DEFAULT_NAME);
    if (!*revision || strlen(revision) >= GH_MODELS_REVISION_CAP || strstr(revision, "..") ||
        strspn(revision, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") !=
            strlen(revision))
        return gh_err_set(err, GH_EINVAL, "\"%.100s\" is not a revision (a commit or branch)",
                          revision);
    if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
        return gh_err_set(err, GH_EINVAL, "the endpoint %.200s must start with http:// or https://",
                          endpoint);
    if (strlen(endpoint) > 512 || strpbrk(endpoint, " \r\n\t"))
        return gh_err_set(err, GH_EINVAL, "the endpoint is not a URL");
    return GH_OK;
}

int gh_models_pull(const char *name, const struct gh_models_pull_opts *opts,
                   struct gh_model_ref *out, struct gh_err *err)
{
    static const struct gh_models_pull_opts no_opts;
    const struct gh_models_pull_opts *o = opts ? opts : &no_opts;
    const char *env = getenv("HF_ENDPOINT");
    char root[GH_MODELS_PATH_CAP], endpoint[520];
    struct gh_manifest m;
    struct pull p = {0};
    int rc;

    memset(out, 0, sizeof *out);
    p.name = name;
    p.revision = o->revision && *o->revision                         ? o->revision
                 : name && strcmp(name, GH_MODELS_DEFAULT_NAME) == 0 ? GH_MODELS_DEFAULT_REVISION
                                                                     : "main";
    snprintf(endpoint, sizeof endpoint, "%s",
             o->endpoint && *o->endpoint ? o->endpoint
             : env && *env               ? env
                                         : GH_MODELS_ENDPOINT);
    while (strlen(endpoint) > 8 && endpoint[strlen(endpoint) - 1] == '/')
        endpoint[strlen(endpoint) - 1] = '\0';
    p.endpoint = endpoint;
    p.opts = o;
    rc = check_args(name, p.revision, endpoint, err);
    if (rc == GH_OK)
        rc = gh_models_root(root, sizeof root, err);
    if (rc == GH_OK)
        rc = gh_models_join(out->dir, sizeof out->dir, root, name, err);
    if (rc == GH_OK)
        rc = gh_models_mkdirs(out->dir, err);
    if (rc)
        return rc;
    snprintf(out->name, sizeof out->name, "%s", name);
    p.dir = out->dir;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return gh_err_set(err, GH_EBACKEND, "libcurl failed to initialise: %s",
                          curl_easy_strerror(curl_init_rc));
    p.curl = curl_easy_init();
    if (!p.curl)
        return gh_err_set(err, GH_EBACKEND, "libcurl failed to start a transfer");
    reconcile(&p, &m);
    rc = gh_manifest_write(p.dir, &m, err); /* the revision, before any byte arrives */
    for (size_t i = 0; rc == GH_OK && i < GH_MODELS_N_FILES; i++) {
        if (m.files[i].verified) {
            if (o->log)
                fprintf(o->log, "%s: already verified\n", gh_models_file(i));
            continue;
        }
        rc = fetch_file(&p, i, &m.files[i], err);
        if (rc == GH_OK)
            rc = gh_manifest_write(p.dir, &m, err);
    }
    if (rc == GH_OK) {
        m.complete = 1;
        rc = gh_manifest_write(p.dir, &m, err);
    }
    curl_easy_cleanup(p.curl);
    return rc;
}
