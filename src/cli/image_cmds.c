/* SPDX-License-Identifier: MIT */
/* `hash`, `validate` and `prep`: the image pipeline on local files, one line per file, errors
 * on stderr with their stable code, and a bad file never stops the others. */
#include "cli.h"
#include "gh/alloc.h"
#include "gh/file.h"
#include "gh/keys.h"
#include "gh/phash.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int gh_cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int env_long(const char *name, long min, long max, long *out)
{
    const char *v = getenv(name);

    if (!v || !*v)
        return 0;
    if (gh_cli_parse_long(v, min, max, out) != 0) {
        fprintf(stderr, "gymhelper: %s=%s: expected a whole number from %ld to %ld\n", name, v, min,
                max);
        return -1;
    }
    return 1;
}

/* Megabytes are 1,000,000 bytes, as the limit is quoted to users ("10 MB"). */
static int set_max_mb(struct gh_image_limits *lim, const char *what, const char *v)
{
    long mb;

    if (gh_cli_parse_long(v, 1, 1000, &mb) != 0) {
        fprintf(stderr, "gymhelper: %s=%s: expected a whole number of megabytes, 1..1000\n", what,
                v);
        return -1;
    }
    lim->max_bytes = (size_t)mb * 1000 * 1000;
    return 0;
}

static int opts_from_env(struct gh_cli_image_opts *o)
{
    const char *mb = getenv("MAX_UPLOAD_MB");
    long v;
    int r;

    o->lim = gh_image_limits_default();
    o->declared = GH_IMAGE_FORMAT_UNKNOWN;
    o->check_declared = 1;
    if (mb && *mb && set_max_mb(&o->lim, "MAX_UPLOAD_MB", mb) != 0)
        return -1;
    if ((r = env_long("IMAGE_MIN_SIDE", 1, 100000, &v)) < 0)
        return -1;
    if (r)
        o->lim.min_side = (int)v;
    if ((r = env_long("IMAGE_MAX_SIDE", 1, 100000, &v)) < 0)
        return -1;
    if (r)
        o->lim.max_side = (int)v;
    return 0;
}

static int set_type(struct gh_cli_image_opts *o, const char *t)
{
    if (strcasecmp(t, "any") == 0) {
        o->check_declared = 0;
        return 0;
    }
    o->declared = gh_image_format_from_mime(t);
    if (o->declared == GH_IMAGE_FORMAT_UNKNOWN) {
        char name[32];

        snprintf(name, sizeof name, "x.%s", t);
        o->declared = gh_image_format_from_filename(name);
    }
    if (o->declared == GH_IMAGE_FORMAT_UNKNOWN) {
        fprintf(stderr,
                "gymhelper: --type %s: expected jpeg, png, webp, a MIME type such as "
                "image/png, or any\n",
                t);
        return -1;
    }
    return 0;
}

enum { OPT_MAX_MB = 256, OPT_MIN_SIDE, OPT_MAX_SIDE, OPT_TYPE };

#define IMAGE_LONG_OPTS                                                                            \
    {"max-upload-mb", required_argument, NULL, OPT_MAX_MB},                                        \
        {"min-side", required_argument, NULL, OPT_MIN_SIDE},                                       \
        {"max-side", required_argument, NULL, OPT_MAX_SIDE},                                       \
    {                                                                                              \
        "type", required_argument, NULL, OPT_TYPE                                                  \
    }

/* Handles an option shared by the image commands: 1 handled, 0 not ours, -1 bad value. */
static int image_opt(struct gh_cli_image_opts *o, int c, const char *arg)
{
    long v;

    switch (c) {
    case OPT_MAX_MB:
        return set_max_mb(&o->lim, "--max-upload-mb", arg) == 0 ? 1 : -1;
    case OPT_MIN_SIDE:
    case OPT_MAX_SIDE:
        if (gh_cli_parse_long(arg, 1, 100000, &v) != 0) {
            fprintf(stderr, "gymhelper: %s %s: expected pixels, 1..100000\n",
                    c == OPT_MIN_SIDE ? "--min-side" : "--max-side", arg);
            return -1;
        }
        *(c == OPT_MIN_SIDE ? &o->lim.min_side : &o->lim.max_side) = (int)v;
        return 1;
    case OPT_TYPE:
        return set_type(o, arg) == 0 ? 1 : -1;
    default:
        return 0;
    }
}

static enum gh_image_format declared_for(const struct gh_cli_image_opts *o, const char *path)
{
    if (!o->check_declared)
        return GH_IMAGE_FORMAT_UNKNOWN;
    if (o->declared != GH_IMAGE_FORMAT_UNKNOWN)
        return o->declared;
    return gh_image_format_from_filename(path);
}

static void report(const char *path, const struct gh_err *err)
{
    fprintf(stderr, "gymhelper: %s: %s [%s]\n", path, err->msg, gh_err_name(err->code));
}

/* Reads path within the upload limit; on failure reports and returns non-zero. */
static int read_input(const char *path, const struct gh_cli_image_opts *o, uint8_t **buf,
                      size_t *len)
{
    struct gh_err err = {0};
    int rc = gh_file_read(path, o->lim.max_bytes, buf, len, &err);

    if (rc == GH_ETOOBIG) {
        gh_err_clear(&err);
        gh_err_set(&err, GH_ETOOBIG, "the file is larger than the %zu-byte limit",
                   o->lim.max_bytes);
    }
    if (rc)
        report(path, &err);
    return rc;
}

typedef int (*file_fn)(const char *path, const uint8_t *buf, size_t len,
                       const struct gh_cli_image_opts *o, const void *ctx);

static int each_file(int n, char **paths, const struct gh_cli_image_opts *o, file_fn fn,
                     const void *ctx)
{
    int failed = 0;

    for (int i = 0; i < n; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;

        if (read_input(paths[i], o, &buf, &len) != 0 || fn(paths[i], buf, len, o, ctx) != 0)
            failed = 1;
        gh_free(buf);
    }
    return failed;
}

static int hash_one(const char *path, const uint8_t *buf, size_t len,
                    const struct gh_cli_image_opts *o, const void *ctx)
{
    int want_sha = *(const int *)ctx;
    struct gh_image_keys keys;
    struct gh_err err = {0};
    char hex[GH_SHA256_HEX_LEN + 1];
    int rc = gh_keys_compute(buf, len, &o->lim, declared_for(o, path), &keys, &err);

    if (rc) {
        report(path, &err);
        return rc;
    }
    if (want_sha)
        gh_sha256_to_hex(keys.sha256, hex);
    else
        gh_phash_to_hex(keys.phash, hex);
    printf("%s  %s\n", hex, path);
    return GH_OK;
}

static int validate_one(const char *path, const uint8_t *buf, size_t len,
                        const struct gh_cli_image_opts *o, const void *ctx)
{
    struct gh_image_keys keys; /* decoding the pixels proves they are whole */
    struct gh_err err = {0};
    int rc = gh_keys_compute(buf, len, &o->lim, declared_for(o, path), &keys, &err);

    (void)ctx;
    if (rc) {
        report(path, &err);
        return rc;
    }
    printf("%s: format=%s width=%d height=%d orientation=%d bands=%d alpha=%s frames=%d\n", path,
           gh_image_format_name(keys.info.format), keys.info.width, keys.info.height,
           keys.info.orientation, keys.info.bands, keys.info.has_alpha ? "yes" : "no",
           keys.info.n_pages);
    return GH_OK;
}

static int usage_error(const char *cmd)
{
    fprintf(stderr, "gymhelper: try 'gymhelper %s --help'\n", cmd);
    return 2;
}

static const char hash_help[] =
    "usage: gymhelper hash [--sha256] [IMAGE OPTIONS] FILE...\n"
    "Prints '<16 hex digits>  FILE' per file: the 64-bit pHash of the oriented picture.\n"
    "With --sha256, prints the SHA-256 of the file's bytes (the exact cache key) instead.\n"
    "FILE '-' reads standard input. A bad file prints its error on stderr; the others still\n"
    "print, and the exit status is 1.\n";

static const char validate_help[] =
    "usage: gymhelper validate [IMAGE OPTIONS] FILE...\n"
    "Checks that each file is a JPEG, PNG or WebP within the limits whose pixels decode, and\n"
    "prints its format, stored width and height, EXIF orientation (1..8), bands, alpha and\n"
    "frames; or the error, with exit status 1.\n";

static const char image_opts_help[] =
    "\nimage options (defaults from the environment, then built in):\n"
    "  --max-upload-mb N   byte limit in MB of 1,000,000 (MAX_UPLOAD_MB, 10)\n"
    "  --min-side N        smallest width/height in pixels (IMAGE_MIN_SIDE, 50)\n"
    "  --max-side N        largest width/height in pixels (IMAGE_MAX_SIDE, 10000)\n"
    "  --type T            declared type: jpeg, png, webp or a MIME type; the bytes must\n"
    "                      match it. Default: the file name's extension when it is .jpg,\n"
    "                      .jpeg, .png or .webp; 'any' checks no declaration\n";

static int run_keys_cmd(int argc, char **argv, const char *help, int with_sha, file_fn fn)
{
    static const struct option long_opts[] = {
        IMAGE_LONG_OPTS,
        {"sha256", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct gh_cli_image_opts o;
    int want_sha = 0, c, r;

    if (opts_from_env(&o) != 0)
        return 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h') {
            printf("%s%s", help, image_opts_help);
            return 0;
        }
        if (c == 's' && with_sha) {
            want_sha = 1;
            continue;
        }
        r = c == 's' ? 0 : image_opt(&o, c, optarg);
        if (r < 0)
            return 2;
        if (r == 0)
            return usage_error(argv[0]);
    }
    if (optind >= argc) {
        fprintf(stderr, "gymhelper %s: no FILE given\n", argv[0]);
        return usage_error(argv[0]);
    }
    return each_file(argc - optind, argv + optind, &o, fn, &want_sha);
}

int gh_cli_hash(int argc, char **argv)
{
    return run_keys_cmd(argc, argv, hash_help, 1, hash_one);
}

int gh_cli_validate(int argc, char **argv)
{
    return run_keys_cmd(argc, argv, validate_help, 0, validate_one);
}

static const char prep_help[] =
    "usage: gymhelper prep [--size N] [--enhance] [--quality Q] [IMAGE OPTIONS] -o OUT FILE\n"
    "Writes the copy an AI provider receives: oriented, sRGB, longest side at most N pixels\n"
    "(default 1024, never enlarged), optionally enhanced (contrast, sharpness), JPEG of\n"
    "quality Q (default 95) without metadata. OUT '-' writes standard output.\n";

static int write_all(const char *path, const uint8_t *buf, size_t len)
{
    int is_stdout = strcmp(path, "-") == 0;
    FILE *f = is_stdout ? stdout : fopen(path, "wb");
    int ok;

    if (!f) {
        fprintf(stderr, "gymhelper: %s: cannot write: %s\n", path, strerror(errno));
        return -1;
    }
    ok = fwrite(buf, 1, len, f) == len;
    ok = (is_stdout ? fflush(f) : fclose(f)) == 0 && ok;
    if (!ok)
        fprintf(stderr, "gymhelper: %s: write failed: %s\n", path, strerror(errno));
    return ok ? 0 : -1;
}

struct prep_ctx {
    struct gh_image_prep_opts prep;
    const char *out;
};

static int prep_one(const char *path, const uint8_t *buf, size_t len,
                    const struct gh_cli_image_opts *o, const void *ctx)
{
    const struct prep_ctx *p = ctx;
    struct gh_err err = {0};
    uint8_t *jpeg = NULL;
    size_t jpeg_len = 0;
    int rc = gh_image_provider_copy(buf, len, &o->lim, declared_for(o, path), &p->prep, &jpeg,
                                    &jpeg_len, NULL, &err);

    if (rc) {
        report(path, &err);
        return rc;
    }
    rc = write_all(p->out, jpeg, jpeg_len) == 0 ? GH_OK : GH_EIO;
    gh_free(jpeg);
    return rc;
}

int gh_cli_prep(int argc, char **argv)
{
    static const struct option long_opts[] = {
        IMAGE_LONG_OPTS,
        {"size", required_argument, NULL, 'n'},
        {"enhance", no_argument, NULL, 'e'},
        {"quality", required_argument, NULL, 'q'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct prep_ctx p = {gh_image_prep_opts_default(), NULL};
    struct gh_cli_image_opts o;
    long v;
    int c, r;

    if (opts_from_env(&o) != 0)
        return 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", long_opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            printf("%s%s", prep_help, image_opts_help);
            return 0;
        case 'e':
            p.prep.enhance = 1;
            break;
        case 'o':
            p.out = optarg;
            break;
        case 'n':
        case 'q':
            if (gh_cli_parse_long(optarg, c == 'n' ? 16 : 1, c == 'n' ? 10000 : 100, &v) != 0) {
                fprintf(stderr, "gymhelper prep: --%s %s: out of range\n",
                        c == 'n' ? "size" : "quality", optarg);
                return 2;
            }
            *(c == 'n' ? &p.prep.max_side : &p.prep.quality) = (int)v;
            break;
        default:
            r = image_opt(&o, c, optarg);
            if (r < 0)
                return 2;
            if (r == 0)
                return usage_error(argv[0]);
        }
    }
    if (!p.out || argc - optind != 1) {
        fprintf(stderr, "gymhelper prep: give exactly one FILE and -o OUT\n");
        return usage_error(argv[0]);
    }
    return each_file(1, argv + optind, &o, prep_one, &p);
}
