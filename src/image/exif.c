/* SPDX-License-Identifier: MIT */
/* The one EXIF field we need: Orientation (tag 0x0112) in IFD0 of the APP1 TIFF structure
 * (EXIF 2.32, 4.6.2). Every offset is checked against the payload; anything odd means 1. */
#include "internal.h"

static unsigned get16(const uint8_t *p, int big)
{
    return big ? (unsigned)(p[0] << 8 | p[1]) : (unsigned)(p[1] << 8 | p[0]);
}

static uint32_t get32(const uint8_t *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int gh_exif_orientation(const uint8_t *app1, size_t len)
{
    const uint8_t *tiff = app1 + 6;
    size_t n = len >= 6 ? len - 6 : 0;
    uint32_t ifd;
    unsigned count;
    int big;

    if (n < 8)
        return 1;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        big = 0;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        big = 1;
    else
        return 1;
    if (get16(tiff + 2, big) != 42)
        return 1;
    ifd = get32(tiff + 4, big);
    if (ifd > n - 2)
        return 1;
    count = get16(tiff + ifd, big);
    for (unsigned i = 0; i < count; i++) {
        size_t e = ifd + 2 + (size_t)i * 12;
        unsigned v;

        if (e + 12 > n)
            return 1;
        if (get16(tiff + e, big) != 0x0112)
            continue;
        if (get16(tiff + e + 2, big) != 3 || get32(tiff + e + 4, big) != 1)
            return 1; /* must be one SHORT */
        v = get16(tiff + e + 8, big);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}
