/* SPDX-License-Identifier: MIT */
/* The safetensors reader (src/clip/safetensors.c): valid files, every header check, and the
 * exact F16/BF16 widening. */
#include "gh_test.h"

#include "clip/internal.h"
#include "gh/alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A file: 8-byte length, the header, then data_len bytes of data (0, 1, 2, ...). */
static uint8_t *make(const char *header, size_t data_len, size_t *len)
{
    size_t hl = strlen(header);
    uint8_t *b = gh_malloc(8 + hl + data_len);

    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < data_len; i++)
        b[8 + hl + i] = (uint8_t)i;
    *len = 8 + hl + data_len;
    return b;
}

static int parse(const char *header, size_t data_len, struct gh_err *err)
{
    struct gh_safetensors *st = NULL;
    size_t len;
    uint8_t *b = make(header, data_len, &len);
    int rc = gh_st_parse(b, len, &st, err);

    CHECK((rc == GH_OK) == (st != NULL));
    gh_st_close(st);
    gh_free(b);
    return rc;
}

static void test_valid(void)
{
    const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                    "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                    "\"ids\":{\"dtype\":\"I64\",\"shape\":[1,2],\"data_offsets\":[32,48]},"
                    "\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[48,50]}}  ";
    struct gh_safetensors *st = NULL;
    struct gh_err err = {0};
    const struct gh_st_tensor *t;
    size_t len;
    uint8_t *b = make(h, 50, &len);

    CHECK_INT(gh_st_parse(b, len, &st, &err), GH_OK);
    if (!st) {
        gh_free(b);
        return;
    }
    CHECK_INT(st->n, 4);
    CHECK(st->header == b + 8);
    CHECK_INT(st->header_len, strlen(h));
    t = gh_st_find(st, "a.weight");
    CHECK(t && t->dtype == GH_ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    CHECK(t && t->data == b + 8 + strlen(h) && t->nbytes == 24);
    t = gh_st_find(st, "b");
    CHECK(t && t->dtype == GH_ST_F16 && t->data[0] == 24 && t->nbytes == 8);
    t = gh_st_find(st, "ids");
    CHECK(t && t->dtype == GH_ST_OTHER && strcmp(t->dtype_name, "I64") == 0);
    t = gh_st_find(st, "s");
    CHECK(t && t->dtype == GH_ST_BF16 && t->ndim == 0 && t->nbytes == 2);
    CHECK(gh_st_find(st, "__metadata__") == NULL);
    CHECK(gh_st_find(st, "missing") == NULL);
    gh_st_close(st);
    gh_free(b);
}

static void test_invalid(void)
{
    static const struct {
        const char *header;
        size_t data_len;
        const char *needle; /* in the message */
    } cases[] = {
        {"[]", 0, "not a JSON object"},
        {"{", 0, "not a JSON object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         4, "not a JSON object"},
        {"{\"a\":1}", 0, "'a'"},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype"},
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype"},
        {"{\"a\":{\"dtype\":\"F32_LONG_NAME\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         "unknown dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         "dimensions"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data_offsets\":[0,4]}}",
         4, "too large"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}", 4, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "need 8"},
        {"{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "need 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, "overlap"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gh_err err = {0};
        int rc = parse(cases[i].header, cases[i].data_len, &err);

        CHECK_INT(rc, GH_EINVAL);
        if (!strstr(err.msg, cases[i].needle)) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err.msg, cases[i].needle);
            CHECK(0);
        }
    }
}

static void test_bad_lengths(void)
{
    struct gh_safetensors *st = NULL;
    struct gh_err err = {0};
    uint8_t b[16] = {0};

    CHECK_INT(gh_st_parse(b, 7, &st, &err), GH_EINVAL); /* no room for the length */
    b[0] = 9;                                           /* header longer than the file */
    CHECK_INT(gh_st_parse(b, 16, &st, &err), GH_EINVAL);
    memset(b, 0xff, 8); /* 2^64 - 1 must not wrap */
    CHECK_INT(gh_st_parse(b, 16, &st, &err), GH_EINVAL);
    CHECK(st == NULL);
    memset(b, 0, 8);
    memcpy(b + 8, "{}", 2);
    b[0] = 2;
    CHECK_INT(gh_st_parse(b, 10, &st, &err), GH_OK); /* no tensors is a valid file */
    CHECK(st && st->n == 0);
    gh_st_close(st);
}

static void test_open(void)
{
    char path[] = "/tmp/gh-st-test-XXXXXX";
    const char *h = "{\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
    struct gh_safetensors *st = NULL;
    struct gh_err err = {0};
    size_t len;
    uint8_t *b = make(h, 4, &len);
    int fd = mkstemp(path);

    CHECK(fd >= 0 && write(fd, b, len) == (ssize_t)len);
    close(fd);
    CHECK_INT(gh_st_open(path, &st, &err), GH_OK);
    CHECK(st && st->map != NULL && st->map_len == len && st->n == 1);
    if (st)
        CHECK(gh_st_find(st, "x")->data[3] == 3);
    gh_st_close(st);
    unlink(path);
    st = NULL;
    CHECK_INT(gh_st_open(path, &st, &err), GH_EIO);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK(st == NULL);
    gh_free(b);
}

static float f16(uint16_t h)
{
    uint8_t b[2] = {(uint8_t)h, (uint8_t)(h >> 8)};
    float f;

    gh_st_to_f32(GH_ST_F16, b, 1, &f);
    return f;
}

static void test_f16(void)
{
    uint32_t bits;
    float f;

    CHECK(f16(0x0000) == 0.0f && !signbit(f16(0x0000)));
    CHECK(f16(0x8000) == 0.0f && signbit(f16(0x8000)));
    CHECK(f16(0x3c00) == 1.0f);
    CHECK(f16(0xc000) == -2.0f);
    CHECK(f16(0x3555) == 0x1.554p-2f);
    CHECK(f16(0x7bff) == 65504.0f);
    CHECK(f16(0x0400) == 0x1p-14f);     /* smallest normal */
    CHECK(f16(0x0001) == 0x1p-24f);     /* smallest subnormal */
    CHECK(f16(0x03ff) == 0x1.ff8p-15f); /* largest subnormal */
    CHECK(f16(0x8001) == -0x1p-24f);
    CHECK(isinf(f16(0x7c00)) && f16(0x7c00) > 0);
    CHECK(isinf(f16(0xfc00)) && f16(0xfc00) < 0);
    CHECK(isnan(f16(0x7e00)) && isnan(f16(0xfc01)));
    f = f16(0x7d01); /* NaN payload kept */
    memcpy(&bits, &f, 4);
    CHECK_INT(bits, 0x7fa02000u);
    /* every finite half survives a round trip through float -> half by value */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float v = f16((uint16_t)h);
        int e = (int)((h >> 10) & 0x1f);
        double want =
            e == 0 ? ldexp((double)(h & 0x3ff), -24) : ldexp((double)((h & 0x3ff) | 0x400), e - 25);

        if (e == 31)
            continue;
        if (h & 0x8000)
            want = -want;
        if ((double)v != want) {
            CHECK_INT(h, -1);
            break;
        }
    }
}

static void test_bf16_f32(void)
{
    const uint8_t bf[] = {0x80, 0x3f, 0x49, 0x40, 0x80, 0xff, 0xc0, 0x7f, 0x01, 0x00};
    const float in32[] = {1.5f, -0.0f, 0x1p-149f};
    float out[5];
    uint32_t bits;

    gh_st_to_f32(GH_ST_BF16, bf, 5, out);
    CHECK(out[0] == 1.0f);
    CHECK(out[1] == 3.140625f);
    CHECK(isinf(out[2]) && out[2] < 0);
    CHECK(isnan(out[3]));
    memcpy(&bits, &out[4], 4);
    CHECK_INT(bits, 0x00010000u); /* a subnormal stays exact */
    gh_st_to_f32(GH_ST_F32, (const uint8_t *)in32, 3, out);
    CHECK(memcmp(out, in32, sizeof in32) == 0);
}

GH_TEST_MAIN(GH_TEST(test_valid), GH_TEST(test_invalid), GH_TEST(test_bad_lengths),
             GH_TEST(test_open), GH_TEST(test_f16), GH_TEST(test_bf16_f32))
