/* SPDX-License-Identifier: MIT */
/* The packed weight files (`gymhelper model quantize`): the layers' weights exactly as the loader
 * packs them in one precision (kernels.h's panel layout; int8 with its per-channel scales and
 * column sums), so a later load maps them instead of packing ~85 M weights again. Tied to one
 * model (its digest), precision and, for int8, weight range (wmax: 127, or 63 for AVX2's
 * vpmaddubsw); another file is ignored, a malformed one is an error. Layout, little-endian,
 * every blob 64-byte aligned:
 *   header (128 bytes): magic "GHCLIPQ8", u32 version, u32 wmax (0 but for int8), u32 panel
 *     width (32), u32 n_entries, u32 byte-order mark 0x01020304, the model digest (64 hex
 *     characters), u32 precision (enum gh_kern_prec);
 *   n_entries x 40 bytes: u32 k, n, kp, n_panels; u64 offsets of data, scale, colsum (0, 0
 *     but for int8). */
#include "qfile.h"

#include "gh/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC    "GHCLIPQ8"
#define VERSION  2u
#define HEAD_LEN 128
#define ENT_LEN  40
#define BOM      0x01020304u

struct gh_qfile {
    void *map;
    size_t len;
};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

const char *gh_qfile_name(enum gh_kern_prec prec)
{
    return prec == GH_KERN_I8     ? "gymhelper-int8.bin"
           : prec == GH_KERN_BF16 ? "gymhelper-bf16.bin"
                                  : "gymhelper-f32.bin";
}

static size_t align64(size_t v)
{
    return (v + 63) / 64 * 64;
}

/* Byte sizes of w's three blobs. */
static void blob_sizes(const struct gh_kern_w *w, size_t sz[3])
{
    size_t lanes = (size_t)w->n_panels * GH_KERN_NR, i8 = w->prec == GH_KERN_I8;

    sz[0] = lanes * (size_t)w->kp * (i8 ? 1 : w->prec == GH_KERN_BF16 ? 2 : 4);
    sz[1] = i8 ? lanes * sizeof(float) : 0;
    sz[2] = i8 ? lanes * sizeof(int32_t) : 0;
}

static int write_all(FILE *f, const void *p, size_t len)
{
    static const uint8_t zero[64];
    size_t pad = align64(len) - len;

    return fwrite(p, 1, len, f) == len && fwrite(zero, 1, pad, f) == pad ? 0 : -1;
}

int gh_qfile_write(const char *path, const char *digest, int wmax, const struct gh_kern_w *const *w,
                   int n, struct gh_err *err)
{
    char tmp[4096];
    uint8_t head[HEAD_LEN] = {0}, ent[ENT_LEN];
    size_t off = align64(HEAD_LEN + (size_t)n * ENT_LEN), sz[3];
    FILE *f;
    int ok;

    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return gh_err_set(err, GH_EINVAL, "path too long: %s", path);
    if (!(f = fopen(tmp, "wb")))
        return gh_err_set(err, GH_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    memcpy(head, MAGIC, 8);
    put32(head + 8, VERSION);
    put32(head + 12, n && w[0]->prec == GH_KERN_I8 ? (uint32_t)wmax : 0);
    put32(head + 16, GH_KERN_NR);
    put32(head + 20, (uint32_t)n);
    put32(head + 24, BOM);
    memcpy(head + 28, digest, 64);
    put32(head + 92, n ? (uint32_t)w[0]->prec : 0);
    ok = fwrite(head, 1, HEAD_LEN, f) == HEAD_LEN;
    for (int i = 0; ok && i < n; i++) {
        blob_sizes(w[i], sz);
        put32(ent, (uint32_t)w[i]->k);
        put32(ent + 4, (uint32_t)w[i]->n);
        put32(ent + 8, (uint32_t)w[i]->kp);
        put32(ent + 12, (uint32_t)w[i]->n_panels);
        for (int b = 0; b < 3; b++) {
            put64(ent + 16 + 8 * b, off);
            off += align64(sz[b]);
        }
        ok = fwrite(ent, 1, ENT_LEN, f) == ENT_LEN;
    }
    if (ok) { /* the table ends on a 64-byte boundary, where the first blob starts */
        static const uint8_t zero[64];
        size_t at = HEAD_LEN + (size_t)n * ENT_LEN;
        ok = fwrite(zero, 1, align64(at) - at, f) == align64(at) - at;
    }
    for (int i = 0; ok && i < n; i++) {
        blob_sizes(w[i], sz);
        ok = write_all(f, w[i]->data, sz[0]) == 0 &&
             (!sz[1] || write_all(f, w[i]->scale, sz[1]) == 0) &&
             (!sz[2] || write_all(f, w[i]->colsum, sz[2]) == 0);
    }
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return gh_err_set(err, GH_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    return GH_OK;
}

/* Checks entry i against w (k, n set by the caller) and points w into the mapping. */
static int map_entry(const struct gh_qfile *q, const char *path, int i, struct gh_kern_w *w,
                     struct gh_err *err)
{
    const uint8_t *e = (const uint8_t *)q->map + HEAD_LEN + (size_t)i * ENT_LEN;
    size_t sz[3], end = 0;
    uint64_t off[3];

    if (get32(e) != (uint32_t)w->k || get32(e + 4) != (uint32_t)w->n ||
        get32(e + 8) != (uint32_t)w->kp || get32(e + 12) != (uint32_t)w->n_panels)
        return gh_err_set(err, GH_EINVAL,
                          "%s: weight %d is [%u, %u]; the model's is [%d, %d] (run `gymhelper "
                          "model quantize` again)",
                          path, i, get32(e), get32(e + 4), w->k, w->n);
    blob_sizes(w, sz);
    for (int b = 0; b < 3; b++) {
        off[b] = get64(e + 16 + 8 * b);
        if (off[b] % 64 != 0 || off[b] > q->len || !gh_add_ok((size_t)off[b], sz[b], &end) ||
            end > q->len)
            return gh_err_set(err, GH_EINVAL,
                              "%s: weight %d lies outside the file or unaligned (truncated? run "
                              "`gymhelper model quantize` again)",
                              path, i);
    }
    w->data = (uint8_t *)q->map + off[0];
    if (w->prec == GH_KERN_I8) {
        w->scale = (float *)(void *)((uint8_t *)q->map + off[1]);
        w->colsum = (int32_t *)(void *)((uint8_t *)q->map + off[2]);
    }
    return GH_OK;
}

static int check_header(const uint8_t *h, size_t len, const char *path, const char *digest,
                        enum gh_kern_prec prec, int wmax, int n, struct gh_err *err)
{
    if (len < HEAD_LEN || memcmp(h, MAGIC, 8) != 0)
        return gh_err_set(err, GH_EINVAL,
                          "%s is not a gymhelper packed weight file (run `gymhelper model "
                          "quantize` again)",
                          path);
    if (get32(h + 8) != VERSION || get32(h + 24) != BOM || memcmp(h + 28, digest, 64) != 0 ||
        get32(h + 92) != (uint32_t)prec ||
        get32(h + 12) != (prec == GH_KERN_I8 ? (uint32_t)wmax : 0) || get32(h + 16) != GH_KERN_NR)
        return GH_EMISMATCH; /* another version, model, CPU family or byte order: not ours */
    if (get32(h + 20) != (uint32_t)n || HEAD_LEN + (size_t)n * ENT_LEN > len)
        return gh_err_set(err, GH_EINVAL, "%s holds %u weights; the model has %d", path,
                          get32(h + 20), n);
    return GH_OK;
}

int gh_qfile_map(const char *path, const char *digest, int wmax, struct gh_kern_w *const *w, int n,
                 struct gh_qfile **out, struct gh_err *err)
{
    struct gh_qfile *q;
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = GH_OK;

    *out = NULL;
    if (fd < 0)
        return errno == ENOENT ? GH_ENOTFOUND
                               : gh_err_set(err, GH_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || sb.st_size < HEAD_LEN) {
        close(fd);
        return gh_err_set(
            err, GH_EINVAL,
            "%s is too short for a gymhelper packed weight file (run `gymhelper model "
            "quantize` again)",
            path);
    }
    if (!(q = gh_malloc(sizeof *q))) {
        close(fd);
        return gh_err_set(err, GH_ENOMEM, "out of memory");
    }
    q->len = (size_t)sb.st_size;
    q->map = mmap(NULL, q->len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (q->map == MAP_FAILED) {
        gh_free(q);
        return gh_err_set(err, GH_EIO, "%s: cannot map: %s", path, strerror(errno));
    }
    rc = check_header(q->map, q->len, path, digest, n ? w[0]->prec : GH_KERN_I8, wmax, n, err);
    for (int i = 0; rc == GH_OK && i < n; i++)
        rc = map_entry(q, path, i, w[i], err);
    if (rc != GH_OK) {
        gh_qfile_close(q);
        return rc;
    }
    /* the kernels stream every weight once per pass: read the whole file ahead now */
    (void)madvise(q->map, q->len, MADV_WILLNEED);
    *out = q;
    return GH_OK;
}

void gh_qfile_close(struct gh_qfile *q)
{
    if (!q)
        return;
    munmap(q->map, q->len);
    gh_free(q);
}
