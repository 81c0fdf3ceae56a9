/* SPDX-License-Identifier: MIT */
/* Type detection from magic bytes, and names for what we refuse, so an error can say what it
 * found. No libvips here: sniffing decides which decoder may see the bytes at all. */
#include "gh/image.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static int has_prefix(const uint8_t *buf, size_t len, const char *magic, size_t magic_len)
{
    return len >= magic_len && memcmp(buf, magic, magic_len) == 0;
}

enum gh_image_format gh_image_sniff(const uint8_t *buf, size_t len)
{
    /* JPEG: SOI then the first marker's 0xFF (ITU T.81 B.1.1.2). */
    if (has_prefix(buf, len, "\xFF\xD8\xFF", 3))
        return GH_IMAGE_FORMAT_JPEG;
    /* PNG signature (RFC 2083 3.1). */
    if (has_prefix(buf, len, "\x89PNG\r\n\x1A\n", 8))
        return GH_IMAGE_FORMAT_PNG;
    /* WebP: RIFF container with form type WEBP. */
    if (len >= 12 && memcmp(buf, "RIFF", 4) == 0 && memcmp(buf + 8, "WEBP", 4) == 0)
        return GH_IMAGE_FORMAT_WEBP;
    return GH_IMAGE_FORMAT_UNKNOWN;
}

/* ISO BMFF brands of still-image formats phones produce (HEIF/HEIC, AVIF). */
static const char *describe_ftyp(const uint8_t *buf, size_t len)
{
    if (len < 12 || memcmp(buf + 4, "ftyp", 4) != 0)
        return NULL;
    if (memcmp(buf + 8, "avif", 4) == 0 || memcmp(buf + 8, "avis", 4) == 0)
        return "AVIF image";
    if (memcmp(buf + 8, "heic", 4) == 0 || memcmp(buf + 8, "heix", 4) == 0 ||
        memcmp(buf + 8, "mif1", 4) == 0 || memcmp(buf + 8, "msf1", 4) == 0 ||
        memcmp(buf + 8, "hevc", 4) == 0)
        return "HEIC image";
    return "MP4/QuickTime video";
}

static int starts_with_ci(const uint8_t *buf, size_t len, const char *word)
{
    size_t n = strlen(word);

    return len >= n && strncasecmp((const char *)buf, word, n) == 0;
}

static const char *describe_markup(const uint8_t *buf, size_t len)
{
    size_t i = 0;

    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        i = 3; /* UTF-8 byte order mark */
    while (i < len && isspace(buf[i]))
        i++;
    buf += i;
    len -= i;
    if (starts_with_ci(buf, len, "<!doctype html") || starts_with_ci(buf, len, "<html") ||
        starts_with_ci(buf, len, "<head") || starts_with_ci(buf, len, "<body"))
        return "HTML document";
    if (starts_with_ci(buf, len, "<svg"))
        return "SVG image";
    if (starts_with_ci(buf, len, "<?xml"))
        return "XML document";
    if (len > 0 && (buf[0] == '{' || buf[0] == '['))
        return "JSON or other text";
    return NULL;
}

/* Length of the UTF-8 sequence led by c (RFC 3629: no overlong 0xC0/0xC1, nothing past
 * 0xF4), or 0 when c cannot lead one. */
static size_t utf8_len(uint8_t c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

/* Text when the first 512 bytes are UTF-8 with no control characters besides whitespace. A
 * sequence cut by the 512-byte window still counts. */
static int looks_like_text(const uint8_t *buf, size_t len)
{
    size_t n = len < 512 ? len : 512, i = 0;

    while (i < n) {
        uint8_t c = buf[i];
        size_t k = utf8_len(c);

        if (k == 0)
            return 0;
        if (k == 1 && ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7F))
            return 0;
        for (size_t j = 1; j < k; j++)
            if (i + j < len && (buf[i + j] & 0xC0) != 0x80)
                return 0;
        if (i + k > len)
            return 0; /* the file itself ends mid-sequence */
        i += k;
    }
    return 1;
}

struct magic {
    const char *bytes;
    size_t len;
    const char *what;
};

static const struct magic magics[] = {
    {"GIF87a", 6, "GIF image"},
    {"GIF89a", 6, "GIF image"},
    {"%PDF-", 5, "PDF document"},
    {"BM", 2, "BMP image"},
    {"II*\0", 4, "TIFF image"},
    {"MM\0*", 4, "TIFF image"},
    {"\0\0\1\0", 4, "ICO image"},
    {"8BPS", 4, "Photoshop document"},
    {"\xFF\x0A", 2, "JPEG XL image"},
    {"\0\0\0\x0CJXL ", 8, "JPEG XL image"},
    {"PK\3\4", 4, "ZIP archive"},
    {"\x1F\x8B", 2, "gzip archive"},
    {"\x7F"
     "ELF",
     4, "executable"},
    {"%!PS", 4, "PostScript document"},
};

const char *gh_image_describe(const uint8_t *buf, size_t len)
{
    const char *what;
    size_t i;

    if (len == 0)
        return "empty file";
    switch (gh_image_sniff(buf, len)) {
    case GH_IMAGE_FORMAT_JPEG:
        return "JPEG image";
    case GH_IMAGE_FORMAT_PNG:
        return "PNG image";
    case GH_IMAGE_FORMAT_WEBP:
        return "WebP image";
    case GH_IMAGE_FORMAT_UNKNOWN:
        break;
    }
    for (i = 0; i < sizeof magics / sizeof magics[0]; i++)
        if (has_prefix(buf, len, magics[i].bytes, magics[i].len))
            return magics[i].what;
    if (len >= 12 && memcmp(buf, "RIFF", 4) == 0)
        return "RIFF file that is not WebP (AVI or WAV)";
    what = describe_ftyp(buf, len);
    if (what)
        return what;
    what = describe_markup(buf, len);
    if (what)
        return what;
    if (looks_like_text(buf, len))
        return "plain text";
    return "unrecognised binary data";
}

const char *gh_image_format_name(enum gh_image_format f)
{
    switch (f) {
    case GH_IMAGE_FORMAT_JPEG:
        return "jpeg";
    case GH_IMAGE_FORMAT_PNG:
        return "png";
    case GH_IMAGE_FORMAT_WEBP:
        return "webp";
    case GH_IMAGE_FORMAT_UNKNOWN:
        break;
    }
    return "unknown";
}

enum gh_image_format gh_image_format_from_mime(const char *mime)
{
    static const struct {
        const char *name;
        enum gh_image_format f;
    } types[] = {
        {"image/jpeg", GH_IMAGE_FORMAT_JPEG},  {"image/jpg", GH_IMAGE_FORMAT_JPEG},
        {"image/pjpeg", GH_IMAGE_FORMAT_JPEG}, {"image/png", GH_IMAGE_FORMAT_PNG},
        {"image/x-png", GH_IMAGE_FORMAT_PNG},  {"image/webp", GH_IMAGE_FORMAT_WEBP},
    };
    size_t n, i;

    if (!mime)
        return GH_IMAGE_FORMAT_UNKNOWN;
    while (*mime == ' ' || *mime == '\t')
        mime++;
    n = strcspn(mime, "; \t");
    for (i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strlen(types[i].name) == n && strncasecmp(mime, types[i].name, n) == 0)
            return types[i].f;
    return GH_IMAGE_FORMAT_UNKNOWN;
}

enum gh_image_format gh_image_format_from_filename(const char *name)
{
    static const struct {
        const char *ext;
        enum gh_image_format f;
    } exts[] = {
        {"jpg", GH_IMAGE_FORMAT_JPEG}, {"jpeg", GH_IMAGE_FORMAT_JPEG},
        {"jpe", GH_IMAGE_FORMAT_JPEG}, {"jfif", GH_IMAGE_FORMAT_JPEG},
        {"png", GH_IMAGE_FORMAT_PNG},  {"webp", GH_IMAGE_FORMAT_WEBP},
    };
    const char *dot, *slash;
    size_t i;

    if (!name)
        return GH_IMAGE_FORMAT_UNKNOWN;
    dot = strrchr(name, '.');
    slash = strrchr(name, '/');
    if (!dot || (slash && dot < slash))
        return GH_IMAGE_FORMAT_UNKNOWN;
    for (i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot + 1, exts[i].ext) == 0)
            return exts[i].f;
    return GH_IMAGE_FORMAT_UNKNOWN;
}
