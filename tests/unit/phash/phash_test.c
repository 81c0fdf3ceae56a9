/* SPDX-License-Identifier: MIT */
/* pHash arithmetic against golden vectors from tests/ref/phash_ref.py (scipy's DCT), on luma
 * grids both sides generate the same way; plus distance, hex and segment properties. */
#include "gh/phash.h"
#include "../../gh_test.h"

#include <stdlib.h>

#define GRID (GH_PHASH_SIDE * GH_PHASH_SIDE)

static void lcg_grid(uint32_t seed, uint8_t *g)
{
    uint32_t x = seed;

    for (int i = 0; i < GRID; i++) {
        x = (x * 1103515245u + 12345u) & 0x7fffffffu;
        g[i] = (uint8_t)((x >> 16) & 0xff);
    }
}

static void smooth_grid(int k1, int k2, int k3, uint8_t *g)
{
    for (int y = 0; y < GH_PHASH_SIDE; y++)
        for (int x = 0; x < GH_PHASH_SIDE; x++)
            g[y * GH_PHASH_SIDE + x] = (uint8_t)((x * k1 + y * k2 + (x * y) % k3) & 0xff);
}

static void hex_is(uint64_t h, const char *want)
{
    char hex[GH_PHASH_HEX_LEN + 1];

    gh_phash_to_hex(h, hex);
    CHECK_STR(hex, want);
}

/* Expected values printed by the reference (see tests/ref/phash_ref.py, phash_from_luma). */
static void golden_vectors(void)
{
    static const struct {
        uint32_t seed;
        const char *hex;
    } lcg[] = {{1, "f741abf0c045e399"}, {42, "ec9da8b74e90a89a"}, {1234567, "9bb85d74d90f9214"}};
    static const struct {
        int k1, k2, k3;
        const char *hex;
    } smooth[] = {{3, 5, 7, "807d7d756175007d"},
                  {1, 2, 50, "80000f1f3e3f3f36"},
                  {7, 0, 13, "825706570077f757"},
                  {0, 4, 1, "8000000000000000"}};
    uint8_t g[GRID];

    for (size_t i = 0; i < sizeof lcg / sizeof lcg[0]; i++) {
        lcg_grid(lcg[i].seed, g);
        hex_is(gh_phash_from_luma(g), lcg[i].hex);
    }
    for (size_t i = 0; i < sizeof smooth / sizeof smooth[0]; i++) {
        smooth_grid(smooth[i].k1, smooth[i].k2, smooth[i].k3, g);
        hex_is(gh_phash_from_luma(g), smooth[i].hex);
    }
}

/* A flat picture has only DC energy: exactly one bit, not float noise. */
static void flat_image_hashes_to_dc_bit(void)
{
    uint8_t g[GRID];

    for (int v = 0; v < 256; v += 51) {
        memset(g, v, sizeof g);
        hex_is(gh_phash_from_luma(g), v ? "8000000000000000" : "0000000000000000");
    }
}

/* Brightening every pixel shifts only DC, so the AC bits and thus the hash do not change. */
static void uniform_brightness_keeps_hash(void)
{
    uint8_t g[GRID], b[GRID];

    smooth_grid(1, 2, 50, g);
    for (int i = 0; i < GRID; i++)
        b[i] = (uint8_t)(g[i] / 2 + 40);
    smooth_grid(1, 2, 50, g);
    for (int i = 0; i < GRID; i++)
        g[i] = (uint8_t)(g[i] / 2);
    CHECK_INT(gh_phash_distance(gh_phash_from_luma(g), gh_phash_from_luma(b)), 0);
}

static void distance_properties(void)
{
    uint64_t a = 0x0123456789abcdefULL, b = 0xfedcba9876543210ULL;

    CHECK_INT(gh_phash_distance(a, a), 0);
    CHECK_INT(gh_phash_distance(0, ~0ULL), 64);
    CHECK_INT(gh_phash_distance(a, b), gh_phash_distance(b, a));
    CHECK_INT(gh_phash_distance(a, a ^ 0x8000000000000001ULL), 2);
    /* triangle inequality on a few triples */
    for (uint64_t c = 1; c < 1000000; c *= 7)
        CHECK(gh_phash_distance(a, b) <= gh_phash_distance(a, c) + gh_phash_distance(c, b));
}

static void hex_round_trip(void)
{
    struct gh_err err = {0};
    uint64_t h = 0;
    static const char *bad[] = {
        "", "123", "0123456789abcdef0", "0123456789abcdeg", "0123456789abcde ", " 123456789abcdef"};

    CHECK_INT(gh_phash_from_hex("0123456789ABCDEF", &h, &err), GH_OK);
    CHECK(h == 0x0123456789abcdefULL);
    hex_is(h, "0123456789abcdef");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gh_err_clear(&err);
        CHECK_INT(gh_phash_from_hex(bad[i], &h, &err), GH_EINVAL);
    }
}

static void segments_cover_all_bits(void)
{
    uint32_t s[5];

    gh_phash_segments(~0ULL, s);
    CHECK_INT(s[0], 0x1fff);
    CHECK_INT(s[3], 0x1fff);
    CHECK_INT(s[4], 0xfff);
    gh_phash_segments(0x8000000000000001ULL, s);
    CHECK_INT(s[0], 0x1000);
    CHECK_INT(s[1] | s[2] | s[3], 0);
    CHECK_INT(s[4], 1);
}

/* Pigeonhole: 4 flipped bits touch at most 4 of the 5 segments, so one still matches. */
static void near_hashes_share_a_segment(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;

    for (int trial = 0; trial < 20000; trial++) {
        uint64_t h, g;
        uint32_t a[5], b[5];
        int same = 0;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        h = x;
        g = h;
        for (int k = 0; k < 4; k++)
            g ^= 1ULL << ((x >> (6 * k)) & 63);
        gh_phash_segments(h, a);
        gh_phash_segments(g, b);
        for (int i = 0; i < 5; i++)
            same += a[i] == b[i];
        CHECK(gh_phash_distance(h, g) <= 4);
        if (same == 0) {
            CHECK(same > 0);
            break;
        }
    }
}

GH_TEST_MAIN(GH_TEST(golden_vectors), GH_TEST(flat_image_hashes_to_dc_bit),
             GH_TEST(uniform_brightness_keeps_hash), GH_TEST(distance_properties),
             GH_TEST(hex_round_trip), GH_TEST(segments_cover_all_bits),
             GH_TEST(near_hashes_share_a_segment))
