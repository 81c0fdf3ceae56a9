/* SPDX-License-Identifier: MIT */
/* EXIF orientation parsing and the grid transforms, against hand-worked 2x2/3x3 cases. */
#include "../../../src/image/internal.h"
#include "../../gh_test.h"

/* APP1 payload: "Exif\0\0", TIFF header, IFD0 with one entry. */
static size_t make_app1(uint8_t *b, int big, unsigned tag, unsigned type, unsigned count,
                        unsigned value)
{
    uint8_t le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0};
    uint8_t be[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1};

    memcpy(b, "Exif\0\0", 6);
    memcpy(b + 6, big ? be : le, 10);
    uint8_t *e = b + 16;
    if (big) {
        uint8_t ent[12] = {(uint8_t)(tag >> 8),
                           (uint8_t)tag,
                           0,
                           (uint8_t)type,
                           0,
                           0,
                           0,
                           (uint8_t)count,
                           (uint8_t)(value >> 8),
                           (uint8_t)value,
                           0,
                           0};
        memcpy(e, ent, 12);
    } else {
        uint8_t ent[12] = {(uint8_t)tag,
                           (uint8_t)(tag >> 8),
                           (uint8_t)type,
                           0,
                           (uint8_t)count,
                           0,
                           0,
                           0,
                           (uint8_t)value,
                           (uint8_t)(value >> 8),
                           0,
                           0};
        memcpy(e, ent, 12);
    }
    return 28;
}

static void exif_orientation_cases(void)
{
    uint8_t b[64];
    size_t n;

    for (int big = 0; big < 2; big++) {
        for (unsigned v = 1; v <= 8; v++) {
            n = make_app1(b, big, 0x0112, 3, 1, v);
            CHECK_INT(gh_exif_orientation(b, n), v);
        }
        n = make_app1(b, big, 0x0112, 3, 1, 9); /* out of range */
        CHECK_INT(gh_exif_orientation(b, n), 1);
        n = make_app1(b, big, 0x0112, 4, 1, 6); /* wrong type */
        CHECK_INT(gh_exif_orientation(b, n), 1);
        n = make_app1(b, big, 0x0100, 3, 1, 6); /* another tag */
        CHECK_INT(gh_exif_orientation(b, n), 1);
        n = make_app1(b, big, 0x0112, 3, 1, 6);
        for (size_t cut = 0; cut < n; cut++) /* truncated: never read past, always 1 */
            CHECK_INT(gh_exif_orientation(b, cut), 1);
    }
    memcpy(b, "Exif\0\0XX*\0", 10);
    CHECK_INT(gh_exif_orientation(b, 10), 1);
}

/* A 3x3 grid 1..9 row-major, shown as each orientation would display it. */
static void grid_orientations(void)
{
    static const uint8_t in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const uint8_t want[9][9] = {
        {0},
        {1, 2, 3, 4, 5, 6, 7, 8, 9}, /* 1 */
        {3, 2, 1, 6, 5, 4, 9, 8, 7}, /* 2 mirror */
        {9, 8, 7, 6, 5, 4, 3, 2, 1}, /* 3 rotate 180 */
        {7, 8, 9, 4, 5, 6, 1, 2, 3}, /* 4 flip */
        {1, 4, 7, 2, 5, 8, 3, 6, 9}, /* 5 transpose */
        {7, 4, 1, 8, 5, 2, 9, 6, 3}, /* 6 rotate 90 clockwise */
        {9, 6, 3, 8, 5, 2, 7, 4, 1}, /* 7 transverse */
        {3, 6, 9, 2, 5, 8, 1, 4, 7}, /* 8 rotate 90 anticlockwise */
    };
    uint8_t out[9];

    for (int o = 1; o <= 8; o++) {
        gh_orient_square(in, out, 3, o);
        if (memcmp(out, want[o], 9) != 0) {
            fprintf(stderr, "orientation %d wrong\n", o);
            CHECK(0);
        }
    }
}

/* Resampling a flat plane gives the same flat plane; an identity size copies. */
static void resample_basics(void)
{
    uint8_t in[100 * 70], out[32 * 32], same[100 * 70];

    memset(in, 77, sizeof in);
    CHECK_INT(gh_resample_lanczos_u8(in, 100, 70, 100, out, 32, 32), GH_OK);
    for (int i = 0; i < 32 * 32; i++)
        if (out[i] != 77) {
            CHECK(out[i] == 77);
            break;
        }
    for (int i = 0; i < 100 * 70; i++)
        in[i] = (uint8_t)(i * 37 % 251);
    CHECK_INT(gh_resample_lanczos_u8(in, 100, 70, 100, same, 100, 70), GH_OK);
    CHECK(memcmp(in, same, sizeof in) == 0);
}

GH_TEST_MAIN(GH_TEST(exif_orientation_cases), GH_TEST(grid_orientations), GH_TEST(resample_basics))
