/* SPDX-License-Identifier: MIT */
/* The registry of pulled CLIP models: the cache directory, CLIP_MODEL resolution, the list, and
 * the manifest `model pull` keeps. The download itself is pull.c. */
#include "gh/models.h"
#include "models_internal.h"

#include "gh/alloc.h"
#include "gh/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const files[GH_MODELS_N_FILES] = {
    "config.json",
    "model.safetensors",
    "vocab.json",
    "merges.txt",
};

/* Largest manifest we read: a few hundred bytes in practice. */
#define MANIFEST_MAX (64 * 1024)

const char *gh_models_file(size_t i)
{
    return i < GH_MODELS_N_FILES ? files[i] : NULL;
}

int gh_models_join(char *out, size_t cap, const char *a, const char *b, struct gh_err *err)
{
    int n = snprintf(out, cap, "%s/%s", a, b);

    if (n < 0 || (size_t)n >= cap)
        return gh_err_set(err, GH_EINVAL, "path %.64s/%.64s... is too long", a, b);
    return GH_OK;
}

int gh_models_root(char *out, size_t cap, struct gh_err *err)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;

    /* The XDG base directory spec says relative values are invalid and must be ignored. */
    if (xdg && xdg[0] == '/')
        n = snprintf(out, cap, "%s/gymhelper/models", xdg);
    else if (home && home[0] == '/')
        n = snprintf(out, cap, "%s/.cache/gymhelper/models", home);
    else
        return gh_err_set(err, GH_EINVAL,
                          "no cache directory for models: set XDG_CACHE_HOME or HOME to an "
                          "absolute path");
    if (n < 0 || (size_t)n >= cap)
        return gh_err_set(err, GH_EINVAL, "the model cache path is too long");
    return GH_OK;
}

/* One part of "owner/name": len bytes of s (not terminated there). */
static int part_ok(const char *s, size_t len)
{
    if (len == 0 || len > 96 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
        if (c == '.' && i + 1 < len && s[i + 1] == '.')
            return 0;
    }
    return 1;
}

int gh_models_name_ok(const char *name)
{
    const char *slash = name ? strchr(name, '/') : NULL;

    return slash && part_ok(name, (size_t)(slash - name)) && part_ok(slash + 1, strlen(slash + 1));
}

int gh_models_mkdirs(const char *path, struct gh_err *err)
{
    char buf[GH_MODELS_PATH_CAP];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof buf)
        return gh_err_set(err, GH_EINVAL, "directory path is empty or too long");
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return gh_err_set(err, GH_EIO, "cannot create directory %s: %s", buf, strerror(errno));
        buf[i] = i < len ? '/' : '\0';
    }
    return GH_OK;
}

static int is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *dir, const char *name, int64_t *size)
{
    char path[GH_MODELS_PATH_CAP];
    struct stat st;

    if (gh_models_join(path, sizeof path, dir, name, NULL) != GH_OK || stat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return 0;
    if (size)
        *size = (int64_t)st.st_size;
    return 1;
}

static int has_all_files(const char *dir)
{
    for (size_t i = 0; i < GH_MODELS_N_FILES; i++)
        if (!is_file(dir, files[i], NULL))
            return 0;
    return 1;
}

/* Truncating copy; cap > 0. */
static void copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int gh_models_resolve(const char *value, struct gh_model_ref *out, struct gh_err *err)
{
    char root[GH_MODELS_PATH_CAP];
    const char *base;
    int rc;

    memset(out, 0, sizeof *out);
    if (!value || !*value)
        return gh_err_set(err, GH_EINVAL, "no CLIP model named: run `gymhelper model pull`");
    if (is_dir(value)) {
        /* A directory wins over a pulled name of the same spelling: it is what was typed. */
        if (strlen(value) >= sizeof out->dir)
            return gh_err_set(err, GH_EINVAL, "CLIP model path is too long");
        copy(out->dir, sizeof out->dir, value);
        while (strlen(out->dir) > 1 && out->dir[strlen(out->dir) - 1] == '/')
            out->dir[strlen(out->dir) - 1] = '\0';
        base = strrchr(out->dir, '/');
        copy(out->name, sizeof out->name, base && base[1] ? base + 1 : out->dir);
        return GH_OK;
    }
    if (!gh_models_name_ok(value))
        return gh_err_set(err, GH_ENOTFOUND,
                          "CLIP model %.200s not found: it is neither a directory nor a model "
                          "name like %s (run `gymhelper model pull`)",
                          value, GH_MODELS_DEFAULT_NAME);
    rc = gh_models_root(root, sizeof root, err);
    if (rc)
        return rc;
    rc = gh_models_join(out->dir, sizeof out->dir, root, value, err);
    if (rc)
        return rc;
    copy(out->name, sizeof out->name, value);
    if (!is_dir(out->dir))
        return gh_err_set(err, GH_ENOTFOUND,
                          "CLIP model %s not found in %s: run `gymhelper model pull %s`", value,
                          root, value);
    if (!has_all_files(out->dir))
        return gh_err_set(err, GH_ENOTFOUND,
                          "CLIP model %s is not completely pulled: run `gymhelper model pull %s` "
                          "to finish the download",
                          value, value);
    return GH_OK;
}

int gh_models_find_default(struct gh_model_ref *out)
{
    char root[GH_MODELS_PATH_CAP];

    memset(out, 0, sizeof *out);
    if (gh_models_root(root, sizeof root, NULL) != GH_OK ||
        gh_models_join(out->dir, sizeof out->dir, root, GH_MODELS_DEFAULT_NAME, NULL) != GH_OK ||
        !has_all_files(out->dir))
        return GH_ENOTFOUND;
    copy(out->name, sizeof out->name, GH_MODELS_DEFAULT_NAME);
    return GH_OK;
}

/* ---- manifest ---- */

static void read_file_entry(json_t *obj, struct gh_manifest_file *f)
{
    json_t *size = json_object_get(obj, "size");
    const char *sha = json_string_value(json_object_get(obj, "sha256"));

    f->verified = json_is_true(json_object_get(obj, "verified"));
    f->size = json_is_integer(size) ? (int64_t)json_integer_value(size) : -1;
    if (sha && strlen(sha) == 64)
        copy(f->sha256, sizeof f->sha256, sha);
}

int gh_manifest_read(const char *dir, struct gh_manifest *m)
{
    char path[GH_MODELS_PATH_CAP];
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *doc, *fobj;
    int rc;

    memset(m, 0, sizeof *m);
    if (gh_models_join(path, sizeof path, dir, GH_MODELS_MANIFEST, NULL) != GH_OK)
        return GH_EINVAL;
    if (access(path, F_OK) != 0)
        return GH_ENOTFOUND;
    rc = gh_file_read(path, MANIFEST_MAX, &buf, &len, NULL);
    if (rc)
        return GH_EINVAL;
    doc = json_loadb((const char *)buf, len, 0, NULL);
    gh_free(buf);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return GH_EINVAL;
    }
    copy(m->name, sizeof m->name, json_string_value(json_object_get(doc, "name")));
    copy(m->revision, sizeof m->revision, json_string_value(json_object_get(doc, "revision")));
    m->complete = json_is_true(json_object_get(doc, "complete"));
    fobj = json_object_get(doc, "files");
    for (size_t i = 0; i < GH_MODELS_N_FILES; i++) {
        json_t *e = json_object_get(fobj, files[i]);

        if (json_is_object(e))
            read_file_entry(e, &m->files[i]);
    }
    json_decref(doc);
    return GH_OK;
}

static json_t *manifest_json(const struct gh_manifest *m)
{
    json_t *doc = json_object(), *fobj = json_object();
    int ok = doc && fobj;

    for (size_t i = 0; ok && i < GH_MODELS_N_FILES; i++) {
        const struct gh_manifest_file *f = &m->files[i];

        if (!f->verified)
            continue;
        ok = json_object_set_new(fobj, files[i],
                                 json_pack("{s:b, s:I, s:s?}", "verified", 1, "size",
                                           (json_int_t)f->size, "sha256",
                                           f->sha256[0] ? f->sha256 : NULL)) == 0;
    }
    ok = ok && json_object_set_new(doc, "name", json_string(m->name)) == 0 &&
         json_object_set_new(doc, "revision", json_string(m->revision)) == 0 &&
         json_object_set_new(doc, "complete", json_boolean(m->complete)) == 0 &&
         json_object_set(doc, "files", fobj) == 0;
    json_decref(fobj);
    if (!ok) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int gh_models_write_atomic(const char *path, const void *buf, size_t len, struct gh_err *err)
{
    char tmp[GH_MODELS_PATH_CAP + 32];
    const uint8_t *p = buf;
    int fd, ok, e;

    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return gh_err_set(err, GH_EINVAL, "path %.200s... is too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ok = fd >= 0;
    while (ok && len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        p += ok ? w : 0;
        len -= ok ? (size_t)w : 0;
    }
    ok = ok && fsync(fd) == 0;
    e = ok ? 0 : errno ? errno : EIO;
    /* closed on every path: a failed write must not leak the descriptor */
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (ok)
        return GH_OK;
    if (fd >= 0)
        unlink(tmp);
    return gh_err_set(err, GH_EIO, "cannot write %s: %s", path, strerror(e));
}

int gh_manifest_write(const char *dir, const struct gh_manifest *m, struct gh_err *err)
{
    char path[GH_MODELS_PATH_CAP];
    json_t *doc = manifest_json(m);
    char *text = NULL;
    int rc;

    if (!doc)
        return gh_err_set(err, GH_ENOMEM, "out of memory writing the model manifest");
    /* JSON_INDENT's text has no final newline: the file gets one, as text files do */
    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!text)
        return gh_err_set(err, GH_ENOMEM, "out of memory writing the model manifest");
    rc = gh_models_join(path, sizeof path, dir, GH_MODELS_MANIFEST, err);
    if (rc == GH_OK) {
        size_t len = strlen(text);
        char *nl = gh_realloc(text, len + 2);

        if (nl) {
            text = nl;
            memcpy(text + len, "\n", 2);
            rc = gh_models_write_atomic(path, text, len + 1, err);
        } else {
            rc = gh_err_set(err, GH_ENOMEM, "out of memory writing the model manifest");
        }
    }
    gh_free(text); /* jansson allocates with malloc, released by gh_free */
    return rc;
}

/* ---- list ---- */

static int64_t dir_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int64_t total = 0, size;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && is_file(dir, e->d_name, &size))
            total += size;
    closedir(d);
    return total;
}

static int push(struct gh_model_info **v, size_t *n, size_t *cap, const char *root,
                const char *owner, const char *name, struct gh_err *err)
{
    struct gh_model_info *info;
    struct gh_manifest m;

    if (*n == *cap) {
        size_t want = *cap ? *cap * 2 : 8;
        struct gh_model_info *nv = gh_realloc(*v, want * sizeof **v);

        if (!nv)
            return gh_err_set(err, GH_ENOMEM, "out of memory listing models");
        *v = nv;
        *cap = want;
    }
    info = &(*v)[*n];
    memset(info, 0, sizeof *info);
    if (snprintf(info->name, sizeof info->name, "%s/%s", owner, name) >= (int)sizeof info->name ||
        snprintf(info->dir, sizeof info->dir, "%s/%s", root, info->name) >= (int)sizeof info->dir)
        return GH_OK; /* not ours to list: a name we would never have written */
    info->bytes = dir_bytes(info->dir);
    if (gh_manifest_read(info->dir, &m) == GH_OK) {
        copy(info->revision, sizeof info->revision, m.revision);
        info->complete = m.complete;
    }
    info->complete = info->complete && has_all_files(info->dir);
    (*n)++;
    return GH_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct gh_model_info *)a)->name, ((const struct gh_model_info *)b)->name);
}

static int list_owner(const char *root, const char *owner, struct gh_model_info **v, size_t *n,
                      size_t *cap, struct gh_err *err)
{
    char path[GH_MODELS_PATH_CAP], sub[GH_MODELS_PATH_CAP];
    struct dirent *e;
    DIR *d;
    int rc = GH_OK;

    if (gh_models_join(path, sizeof path, root, owner, NULL) != GH_OK || !(d = opendir(path)))
        return GH_OK;
    while (rc == GH_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || gh_models_join(sub, sizeof sub, path, e->d_name, NULL) ||
            !is_dir(sub))
            continue;
        rc = push(v, n, cap, root, owner, e->d_name, err);
    }
    closedir(d);
    return rc;
}

int gh_models_list(struct gh_model_info **out, size_t *n_out, struct gh_err *err)
{
    char root[GH_MODELS_PATH_CAP], sub[GH_MODELS_PATH_CAP];
    struct gh_model_info *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    DIR *d;
    int rc;

    *out = NULL;
    *n_out = 0;
    rc = gh_models_root(root, sizeof root, err);
    if (rc)
        return rc;
    d = opendir(root);
    if (!d)
        return GH_OK; /* nothing pulled yet */
    while (rc == GH_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || gh_models_join(sub, sizeof sub, root, e->d_name, NULL) ||
            !is_dir(sub))
            continue;
        rc = list_owner(root, e->d_name, &v, &n, &cap, err);
    }
    closedir(d);
    if (rc) {
        gh_free(v);
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, by_name);
    *out = v;
    *n_out = n;
    return GH_OK;
}
