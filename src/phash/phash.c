/* SPDX-License-Identifier: MIT */
/* pHash arithmetic: the 8x8 low-frequency corner of a 32x32 DCT-II, thresholded at its
 * median. Reference: imagehash.phash (hash_size 8, highfreq_factor 4), which uses
 * scipy.fftpack.dct (unnormalised DCT-II); scale factors do not change a median test. */
#include "gh/phash.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define N GH_PHASH_SIDE
#define K 8 /* low-frequency corner kept */

static double cos_table[K][N]; /* cos(pi * k * (2n + 1) / (2N)) */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_table(void)
{
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++)
            cos_table[k][n] = cos(M_PI * k * (2 * n + 1) / (2.0 * N));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

uint64_t gh_phash_from_luma(const uint8_t luma[N * N])
{
    double rows[N][K]; /* rows[y][v]: DCT along x of row y, first K terms */
    double coef[K * K], sorted[K * K], median;
    uint64_t h = 0;

    pthread_once(&table_once, make_table);
    for (int y = 0; y < N; y++)
        for (int v = 0; v < K; v++) {
            double s = 0;

            for (int x = 0; x < N; x++)
                s += luma[y * N + x] * cos_table[v][x];
            rows[y][v] = s;
        }
    for (int u = 0; u < K; u++)
        for (int v = 0; v < K; v++) {
            double s = 0;

            for (int y = 0; y < N; y++)
                s += rows[y][v] * cos_table[u][y];
            /* x4 for scipy's factor 2 per axis; rounding kills float noise (see header). */
            coef[u * K + v] = round(4.0 * s * 1024.0) / 1024.0;
        }
    memcpy(sorted, coef, sizeof sorted);
    qsort(sorted, K * K, sizeof sorted[0], cmp_double);
    median = (sorted[K * K / 2 - 1] + sorted[K * K / 2]) / 2; /* numpy.median of 64 values */
    for (int i = 0; i < K * K; i++)
        h = (h << 1) | (coef[i] > median);
    return h;
}

void gh_phash_to_hex(uint64_t h, char out[GH_PHASH_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = GH_PHASH_HEX_LEN - 1; i >= 0; i--) {
        out[i] = digits[h & 0xF];
        h >>= 4;
    }
    out[GH_PHASH_HEX_LEN] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int gh_phash_from_hex(const char *hex, uint64_t *out, struct gh_err *err)
{
    uint64_t h = 0;
    int i;

    for (i = 0; i < GH_PHASH_HEX_LEN; i++) {
        int d = hex_value(hex[i]);

        if (d < 0)
            return gh_err_set(err, GH_EINVAL, "a pHash is 16 hex digits");
        h = (h << 4) | (uint64_t)d;
    }
    if (hex[i] != '\0')
        return gh_err_set(err, GH_EINVAL, "a pHash is 16 hex digits");
    *out = h;
    return GH_OK;
}

void gh_phash_segments(uint64_t h, uint32_t seg[5])
{
    static const int width[5] = {13, 13, 13, 13, 12};
    int shift = 64;

    for (int i = 0; i < 5; i++) {
        shift -= width[i];
        seg[i] = (uint32_t)((h >> shift) & ((UINT64_C(1) << width[i]) - 1));
    }
}
