/* SPDX-License-Identifier: MIT */
/* multipart/form-data: boundary extraction and field lookup over a table of valid and broken
 * bodies, every prefix of the valid ones, binary data, and a 10 MB part that must scan in
 * linear work (bytes examined, not seconds). Bodies are copied to exact-size heap buffers so ASan
 * sees any over-read. */
#include "gh/alloc.h"
#include "gh/multipart.h"
#include "../../gh_test.h"

#include <stdlib.h>
#include <string.h>

/* The parser is compiled in with memchr and memcmp counted: the bytes they examine are the
 * scan's work, which a linear scan keeps proportional to the body whatever the machine's load. */
static size_t examined;

static void *counted_memchr(const void *s, int c, size_t n)
{
    void *hit = memchr(s, c, n);

    examined += hit ? (size_t)((const char *)hit - (const char *)s) + 1 : n;
    return hit;
}

static int counted_memcmp(const void *a, const void *b, size_t n)
{
    examined += n;
    return memcmp(a, b, n);
}

#define memchr counted_memchr
#define memcmp counted_memcmp
#include "../../../src/multipart/multipart.c"
#undef memchr
#undef memcmp

struct boundary_case {
    const char *content_type;
    size_t cap;
    int rc;
    const char *boundary;
};

static const char b70[] = "0123456789012345678901234567890123456789012345678901234567890123456789";

static void boundary_cases(void)
{
    static const struct boundary_case cases[] = {
        {"multipart/form-data; boundary=abc", 80, GH_OK, "abc"},
        {"multipart/form-data; boundary=\"a b:c\"", 80, GH_OK, "a b:c"},
        {"multipart/form-data;boundary=xyz", 80, GH_OK, "xyz"},
        {"Multipart/Form-Data; charset=utf-8; boundary=xyz", 80, GH_OK, "xyz"},
        {"multipart/form-data; boundary=xyz; charset=utf-8", 80, GH_OK, "xyz"},
        {"MULTIPART/FORM-DATA; BOUNDARY=xyz", 80, GH_OK, "xyz"},
        {"  multipart/form-data ; boundary = \"q\\\"x\" ", 80, GH_OK, "q\"x"},
        {"multipart/form-data; boundary=abc;", 80, GH_OK, "abc"},
        {"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk", 80, GH_OK,
         "----WebKitFormBoundary7MA4YWxk"},
        {"multipart/form-data; boundary=ab==", 80, GH_OK, "ab=="},
        {"multipart/form-data; boundary=abcd", 5, GH_OK, "abcd"},
        {"multipart/form-data; boundary=abcd", 4, GH_EINVAL, ""},
        {"multipart/form-data", 80, GH_EINVAL, ""},
        {"multipart/form-data; charset=utf-8", 80, GH_EINVAL, ""},
        {"multipart/form-data; boundary=", 80, GH_EINVAL, ""},
        {"multipart/form-data; boundary=\"\"", 80, GH_EINVAL, ""},
        {"multipart/form-data; boundary=\"abc", 80, GH_EINVAL, ""},
        {"multipart/form-data; boundary=\"abc \"", 80, GH_EINVAL, ""},
        {"multipart/form-data; boundary=a; boundary=b", 80, GH_EINVAL, ""},
        {"multipart/form-data; boundary", 80, GH_EINVAL, ""},
        {"multipart/form-data; boundary=a b", 80, GH_EINVAL, ""},
        {"multipart/form-data boundary=a", 80, GH_EINVAL, ""},
        {"application/json", 80, GH_EINVAL, ""},
        {"multipart/mixed; boundary=abc", 80, GH_EINVAL, ""},
        {"multipart/form-dataX; boundary=abc", 80, GH_EINVAL, ""},
        {"text/plain", 80, GH_EINVAL, ""},
        {"", 80, GH_EINVAL, ""},
    };
    char out[80], ct[128];
    struct gh_err err;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct boundary_case *c = &cases[i];

        gh_err_clear(&err);
        memset(out, 'z', sizeof out);
        if (gh_multipart_boundary(c->content_type, out, c->cap, &err) != c->rc) {
            fprintf(stderr, "case %zu (%s): %s\n", i, c->content_type, err.msg);
            gh_test_failures++;
        }
        CHECK_STR(out, c->boundary);
        CHECK_INT(err.code, c->rc);
        CHECK(c->rc == GH_OK || err.msg[0] != '\0');
    }
    /* RFC 2046 5.1.1: at most 70 characters. */
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b70);
    CHECK_INT(gh_multipart_boundary(ct, out, sizeof out, NULL), GH_OK);
    CHECK_STR(out, b70);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"%sx\"", b70);
    CHECK_INT(gh_multipart_boundary(ct, out, sizeof out, NULL), GH_EINVAL);
    CHECK_INT(gh_multipart_boundary(NULL, out, sizeof out, NULL), GH_EINVAL);
}

struct find_case {
    const char *name;
    const char *body;
    const char *field;
    int rc;
    const char *data; /* when rc == GH_OK */
    const char *filename;
    const char *content_type;
};

#define CURL_B "------------------------d74496d66958873e"
#define CRLF   "\r\n"

static const struct find_case find_cases[] = {
    {"curl",
     "--" CURL_B CRLF "Content-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"" CRLF
     "Content-Type: image/jpeg" CRLF CRLF "JPEGDATA" CRLF "--" CURL_B "--" CRLF,
     "image", GH_OK, "JPEGDATA", "p.jpg", "image/jpeg"},
    {"not first",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"note\"" CRLF CRLF "hello" CRLF
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image\"; filename=\"a.png\"" CRLF
     "Content-Type: image/png" CRLF CRLF "PNG" CRLF "--bNd--" CRLF,
     "image", GH_OK, "PNG", "a.png", "image/png"},
    {"text field",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"note\"" CRLF CRLF "hello" CRLF
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image\"; filename=\"a.png\"" CRLF
     "Content-Type: image/png" CRLF CRLF "PNG" CRLF "--bNd--" CRLF,
     "note", GH_OK, "hello", "", ""},
    {"filename with spaces and quotes",
     "--bNd" CRLF
     "Content-Disposition: form-data; name=\"image\"; filename=\"my \\\"best\\\" photo.jpg\"" CRLF
         CRLF "x" CRLF "--bNd--",
     "image", GH_OK, "x", "my \"best\" photo.jpg", ""},
    {"browser-escaped quote and windows path",
     "--bNd" CRLF
     "Content-Disposition: form-data; name=\"image\"; filename=\"C:\\dir\\a%22b.jpg\"" CRLF CRLF
     "x" CRLF "--bNd--",
     "image", GH_OK, "x", "C:\\dir\\a%22b.jpg", ""},
    {"filename* wins",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image\"; filename=\"fallback.jpg\"; "
     "filename*=UTF-8''na%C3%AFve%20caf%c3%a9.jpg" CRLF CRLF "x" CRLF "--bNd--",
     "image", GH_OK, "x", "na\xc3\xafve caf\xc3\xa9.jpg", ""},
    {"filename* first",
     "--bNd" CRLF "Content-Disposition: form-data; filename*=utf-8'en'%E2%82%AC.jpg; name=image; "
     "filename=\"e.jpg\"" CRLF CRLF "x" CRLF "--bNd--",
     "image", GH_OK, "x", "\xe2\x82\xac.jpg", ""},
    {"filename* other charset falls back",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image\"; filename=\"f.jpg\"; "
     "filename*=ISO-8859-1''%E9.jpg" CRLF CRLF "x" CRLF "--bNd--",
     "image", GH_OK, "x", "f.jpg", ""},
    {"filename* bad escape falls back",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image\"; filename*=UTF-8''a%2" CRLF CRLF
     "x" CRLF "--bNd--",
     "image", GH_OK, "x", "", ""},
    {"LF only",
     "--bNd\nContent-Disposition: form-data; name=\"a\"\n\n1\n--bNd\n"
     "Content-Disposition: form-data; name=\"image\"\nContent-Type: image/webp\n\nWEBP\n"
     "--bNd--\n",
     "image", GH_OK, "WEBP", "", "image/webp"},
    {"preamble and epilogue",
     "This is a preamble." CRLF "--bNd is not a boundary" CRLF "--bNd" CRLF
     "Content-Disposition: form-data; name=\"image\"" CRLF CRLF "data" CRLF "--bNd--" CRLF
     "epilogue --bNd" CRLF "junk",
     "image", GH_OK, "data", "", ""},
    {"boundary look-alikes in the data",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image\"" CRLF CRLF "a" CRLF "--bNdX" CRLF
     "--bN" CRLF "--bNd -" CRLF "\n--bNd\r\r\n--bNd-x" CRLF "--bNd--",
     "image", GH_OK, "a" CRLF "--bNdX" CRLF "--bN" CRLF "--bNd -" CRLF "\n--bNd\r\r\n--bNd-x", "",
     ""},
    {"transport padding",
     "--bNd  \t" CRLF "Content-Disposition: form-data; name=\"image\"" CRLF CRLF "v" CRLF
     "--bNd \t" CRLF "Content-Disposition: form-data; name=\"z\"" CRLF CRLF CRLF "--bNd--",
     "image", GH_OK, "v", "", ""},
    {"empty file part",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image\"; filename=\"\"" CRLF
     "Content-Type: application/octet-stream" CRLF CRLF CRLF "--bNd--" CRLF,
     "image", GH_OK, "", "", "application/octet-stream"},
    {"header case and whitespace",
     "--bNd" CRLF "content-type :  text/plain; charset=utf-8  " CRLF
     "CONTENT-DISPOSITION:FORM-DATA;NAME=image" CRLF CRLF "t" CRLF "--bNd--",
     "image", GH_OK, "t", "", "text/plain; charset=utf-8"},
    {"escaped quote in name",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"a\\\"b\"" CRLF CRLF "q" CRLF "--bNd--",
     "a\"b", GH_OK, "q", "", ""},
    {"first of two",
     "--bNd" CRLF "Content-Disposition: form-data; name=image" CRLF CRLF "1" CRLF "--bNd" CRLF
     "Content-Disposition: form-data; name=image" CRLF CRLF "2" CRLF "--bNd--",
     "image", GH_OK, "1", "", ""},
    {"part without headers is skipped",
     "--bNd" CRLF CRLF "anon" CRLF "--bNd" CRLF
     "Content-Disposition: form-data; name=image" CRLF CRLF "i" CRLF "--bNd--",
     "image", GH_OK, "i", "", ""},
    {"missing field",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"note\"" CRLF CRLF "hello" CRLF
     "--bNd--" CRLF,
     "image", GH_ENOTFOUND, NULL, NULL, NULL},
    {"prefix and extension of the name do not match",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"imag\"" CRLF CRLF "1" CRLF "--bNd" CRLF
     "Content-Disposition: form-data; name=\"images\"" CRLF CRLF "2" CRLF "--bNd--",
     "image", GH_ENOTFOUND, NULL, NULL, NULL},
    {"not form-data",
     "--bNd" CRLF "Content-Disposition: attachment; name=\"image\"" CRLF CRLF "x" CRLF "--bNd--",
     "image", GH_ENOTFOUND, NULL, NULL, NULL},
    {"no parts", "--bNd--" CRLF, "image", GH_ENOTFOUND, NULL, NULL, NULL},
    {"no closing boundary",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image\"" CRLF CRLF "data" CRLF, "image",
     GH_EINVAL, NULL, NULL, NULL},
    {"ends after a delimiter",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image\"" CRLF CRLF "data" CRLF
     "--bNd" CRLF,
     "image", GH_EINVAL, NULL, NULL, NULL},
    {"broken part after the match",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image\"" CRLF CRLF "data" CRLF
     "--bNd" CRLF "garbage" CRLF CRLF "--bNd--",
     "image", GH_EINVAL, NULL, NULL, NULL},
    {"headers without a blank line",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image\"" CRLF "--bNd--" CRLF, "image",
     GH_EINVAL, NULL, NULL, NULL},
    {"no opening boundary", "Content-Disposition: form-data; name=\"image\"" CRLF CRLF "x", "image",
     GH_EINVAL, NULL, NULL, NULL},
    {"opening boundary look-alike only", "--bNdx" CRLF "--bNd", "image", GH_EINVAL, NULL, NULL,
     NULL},
    {"folded header",
     "--bNd" CRLF "Content-Disposition: form-data;" CRLF " name=\"image\"" CRLF CRLF "x" CRLF
     "--bNd--",
     "image", GH_EINVAL, NULL, NULL, NULL},
    {"unterminated quote",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"image" CRLF CRLF "x" CRLF "--bNd--",
     "image", GH_EINVAL, NULL, NULL, NULL},
    {"two names",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"a\"; name=\"image\"" CRLF CRLF "x" CRLF
     "--bNd--",
     "image", GH_EINVAL, NULL, NULL, NULL},
    {"two dispositions",
     "--bNd" CRLF "Content-Disposition: form-data; name=\"a\"" CRLF
     "Content-Disposition: form-data; name=\"image\"" CRLF CRLF "x" CRLF "--bNd--",
     "image", GH_EINVAL, NULL, NULL, NULL},
    {"empty body", "", "image", GH_EINVAL, NULL, NULL, NULL},
};

static uint8_t *copy_exact(const void *src, size_t len)
{
    uint8_t *p = gh_malloc(len);

    if (p && len)
        memcpy(p, src, len);
    return p;
}

static const char *boundary_of(const struct find_case *c)
{
    return strstr(c->body, CURL_B) == c->body + 2 ? CURL_B : "bNd";
}

static void find_cases_table(void)
{
    for (size_t i = 0; i < sizeof find_cases / sizeof find_cases[0]; i++) {
        const struct find_case *c = &find_cases[i];
        size_t len = strlen(c->body);
        uint8_t *body = copy_exact(c->body, len);
        struct gh_multipart_part part;
        struct gh_err err = {0};
        int rc = gh_multipart_find(body, len, boundary_of(c), c->field, &part, &err);

        if (rc != c->rc) {
            fprintf(stderr, "case \"%s\": rc %d (%s), expected %d\n", c->name, rc, err.msg, c->rc);
            gh_test_failures++;
        } else if (rc == GH_OK) {
            CHECK_INT(part.len, strlen(c->data));
            CHECK(part.data >= body && part.data + part.len <= body + len);
            CHECK(memcmp(part.data, c->data, part.len) == 0);
            CHECK_STR(part.filename, c->filename);
            CHECK_STR(part.content_type, c->content_type);
        } else {
            CHECK(part.data == NULL && part.len == 0 && part.filename[0] == '\0');
            CHECK(err.msg[0] != '\0');
        }
        gh_free(body);
    }
}

static void not_found_names_the_field(void)
{
    const char *body = "--bNd\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--bNd--";
    struct gh_multipart_part part;
    struct gh_err err = {0};

    CHECK_INT(gh_multipart_find((const uint8_t *)body, strlen(body), "bNd", "photo", &part, &err),
              GH_ENOTFOUND);
    CHECK(strstr(err.msg, "\"photo\"") != NULL);
    CHECK_STR(gh_err_name(err.code), "not_found");
}

/* Every strict prefix of a valid body that stops before the close delimiter is malformed;
 * from there on the result is the full body's (only the epilogue is missing). */
static void every_prefix_is_refused(void)
{
    for (size_t i = 0; i < sizeof find_cases / sizeof find_cases[0]; i++) {
        const struct find_case *c = &find_cases[i];
        size_t len = strlen(c->body), close_end;
        const char *b = boundary_of(c);
        char close[80];
        const char *cl;

        if (c->rc == GH_EINVAL)
            continue;
        snprintf(close, sizeof close, "\n--%s--", b);
        cl = strstr(c->body, close);
        close_end = cl ? (size_t)(cl - c->body) + strlen(close) : strlen("--bNd--");
        for (size_t n = 0; n < len; n++) {
            uint8_t *body = copy_exact(c->body, n);
            struct gh_multipart_part part;
            int rc = gh_multipart_find(body, n, b, c->field, &part, NULL);
            int want = n < close_end ? GH_EINVAL : c->rc;

            if (rc != want) {
                fprintf(stderr, "case \"%s\" cut at %zu: rc %d, expected %d\n", c->name, n, rc,
                        want);
                gh_test_failures++;
            }
            if (rc == GH_OK)
                CHECK(part.data >= body && part.data + part.len <= body + n);
            gh_free(body);
        }
    }
}

static void binary_data(void)
{
    static const uint8_t payload[] = {0x00, 0xff, '\r', 0x00, '\n', '\r', '\n', '-',
                                      '-',  'b',  'N',  'd',  'x',  0x00, '\r', '\r'};
    static const char head[] =
        "--bNd\r\nContent-Disposition: form-data; name=\"image\"; filename=\"b.bin\"\r\n\r\n";
    static const char tail[] = "\r\n--bNd--\r\n";
    size_t len = sizeof head - 1 + sizeof payload + sizeof tail - 1;
    uint8_t *body = gh_malloc(len);
    struct gh_multipart_part part;

    CHECK(body != NULL);
    if (!body)
        return;
    memcpy(body, head, sizeof head - 1);
    memcpy(body + sizeof head - 1, payload, sizeof payload);
    memcpy(body + sizeof head - 1 + sizeof payload, tail, sizeof tail - 1);
    CHECK_INT(gh_multipart_find(body, len, "bNd", "image", &part, NULL), GH_OK);
    CHECK_INT(part.len, sizeof payload);
    CHECK(part.data == body + sizeof head - 1);
    CHECK(memcmp(part.data, payload, sizeof payload) == 0);
    CHECK_STR(part.filename, "b.bin");
    gh_free(body);
}

static void long_names_truncate_on_a_character(void)
{
    char body[1024], want[GH_MULTIPART_NAME_CAP];
    struct gh_multipart_part part;
    size_t n = 0;
    int len;

    /* 254 ASCII bytes, then a 2-byte character that would straddle the 255-byte cut. */
    memset(want, 'a', 254);
    want[254] = '\0';
    len = snprintf(body, sizeof body,
                   "--bNd\r\nContent-Disposition: form-data; name=image; filename=\"%s\xc3\xa9"
                   "tail\"\r\nContent-Type: %s\xc3\xa9\r\n\r\nx\r\n--bNd--",
                   want, want);
    CHECK(len > 0 && (size_t)len < sizeof body);
    CHECK_INT(gh_multipart_find((const uint8_t *)body, (size_t)len, "bNd", "image", &part, NULL),
              GH_OK);
    CHECK_STR(part.filename, want);
    CHECK_STR(part.content_type, want);
    /* 255 bytes that end on a whole character are kept. */
    memset(want, 'a', 253);
    memcpy(want + 253, "\xc3\xa9", 3);
    len = snprintf(body, sizeof body,
                   "--bNd\r\nContent-Disposition: form-data; name=image; filename=\"%sb\"\r\n\r\n"
                   "x\r\n--bNd--",
                   want);
    CHECK_INT(gh_multipart_find((const uint8_t *)body, (size_t)len, "bNd", "image", &part, NULL),
              GH_OK);
    CHECK_STR(part.filename, want);
    n = strlen(part.filename);
    CHECK_INT(n, 255);
}

static void oversized_headers(void)
{
    size_t len = 10000;
    char *body = gh_malloc(len + 64);
    struct gh_multipart_part part;
    int n;

    CHECK(body != NULL);
    if (!body)
        return;
    n = snprintf(body, 64, "--bNd\r\nX-Pad: ");
    memset(body + n, 'p', len - (size_t)n);
    memcpy(body + len, "\r\n\r\nx\r\n--bNd--", 15);
    CHECK_INT(gh_multipart_find((const uint8_t *)body, len + 14, "bNd", "image", &part, NULL),
              GH_EINVAL);
    gh_free(body);
}

/* A 10 MB part made of boundary look-alikes, the worst case for the delimiter search: every
 * line feed starts a full-length match that fails on its last byte. Linear: memchr passes over
 * each byte once and each of the ~144,000 line feeds costs one 72-byte compare, so the scan
 * examines about twice the body; a search that restarted after each failed match would
 * examine ~70 times the body, a quadratic one far more. */
static void ten_megabytes_scan_linearly(void)
{
    const size_t data_len = 10u << 20;
    char b[71], head[128], *body;
    size_t head_len, len, unit, at;
    struct gh_multipart_part part;

    memcpy(b, b70, sizeof b);
    head_len = (size_t)snprintf(head, sizeof head,
                                "--%s\r\nContent-Disposition: form-data; name=image\r\n\r\n", b);
    len = head_len + data_len + 4 + 70 + 2;
    body = gh_malloc(len);
    CHECK(body != NULL);
    if (!body)
        return;
    memcpy(body, head, head_len);
    unit = 3 + 70; /* "\n--" and the boundary with its last character changed */
    for (at = head_len; at + unit <= head_len + data_len; at += unit) {
        memcpy(body + at, "\n--", 3);
        memcpy(body + at + 3, b, 69);
        body[at + 72] = 'x';
    }
    memset(body + at, 'z', head_len + data_len - at);
    memcpy(body + head_len + data_len, "\r\n--", 4);
    memcpy(body + head_len + data_len + 4, b, 70);
    memcpy(body + len - 2, "--", 2);
    examined = 0;
    CHECK_INT(gh_multipart_find((const uint8_t *)body, len, b, "image", &part, NULL), GH_OK);
    CHECK(examined >= len);     /* every byte was looked at (the counters see the scan) */
    CHECK(examined <= 3 * len); /* and at most three times */
    CHECK_INT(part.len, data_len);
    CHECK(part.data == (const uint8_t *)body + head_len);
    gh_free(body);
}

static void bad_boundary_argument(void)
{
    const uint8_t body[] = "--a\r\n\r\n\r\n--a--";
    struct gh_multipart_part part;
    char b71[72];

    memcpy(b71, b70, 70);
    memcpy(b71 + 70, "x", 2);
    CHECK_INT(gh_multipart_find(body, sizeof body - 1, "", "image", &part, NULL), GH_EINVAL);
    CHECK_INT(gh_multipart_find(body, sizeof body - 1, b71, "image", &part, NULL), GH_EINVAL);
    CHECK_INT(gh_multipart_find(body, sizeof body - 1, "a\nb", "image", &part, NULL), GH_EINVAL);
    CHECK_INT(gh_multipart_find(NULL, 0, "a", "image", &part, NULL), GH_EINVAL);
    CHECK_INT(gh_multipart_find(body, sizeof body - 1, "a", "image", &part, NULL), GH_ENOTFOUND);
}

GH_TEST_MAIN(GH_TEST(boundary_cases), GH_TEST(find_cases_table), GH_TEST(not_found_names_the_field),
             GH_TEST(every_prefix_is_refused), GH_TEST(binary_data),
             GH_TEST(long_names_truncate_on_a_character), GH_TEST(oversized_headers),
             GH_TEST(ten_megabytes_scan_linearly), GH_TEST(bad_boundary_argument))
