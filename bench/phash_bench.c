/* SPDX-License-Identifier: MIT */
/* Times bytes-in-memory -> pHash (decode with shrink-on-load, luma grid, DCT) on one file.
 * usage: phash_bench FILE [RUNS]. Prints: median_ms min_ms max_ms runs hash. */
#include "gh/alloc.h"
#include "gh/file.h"
#include "gh/image.h"
#include "gh/phash.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    struct gh_image_limits lim = gh_image_limits_default();
    uint8_t luma[GH_PHASH_SIDE * GH_PHASH_SIDE];
    struct gh_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    double *t;
    long runs = argc > 2 ? strtol(argv[2], NULL, 10) : 20;
    uint64_t h = 0;
    char hex[GH_PHASH_HEX_LEN + 1];

    if (argc < 2 || runs < 1 || runs > 100000) {
        fprintf(stderr, "usage: phash_bench FILE [RUNS]\n");
        return 2;
    }
    lim.max_bytes = 100u << 20; /* the bench measures speed, not the upload limit */
    if (gh_image_init(1, &err) || gh_file_read(argv[1], lim.max_bytes, &buf, &len, &err)) {
        fprintf(stderr, "phash_bench: %s\n", err.msg);
        return 1;
    }
    t = gh_malloc_array((size_t)runs, sizeof *t);
    if (!t)
        return 1;
    for (long i = -1; i < runs; i++) { /* run -1 warms caches and is not counted */
        double t0 = now_ms();

        if (gh_image_luma_grid(buf, len, &lim, GH_IMAGE_FORMAT_UNKNOWN, GH_PHASH_SIDE, luma, NULL,
                               &err) != GH_OK) {
            fprintf(stderr, "phash_bench: %s\n", err.msg);
            return 1;
        }
        h = gh_phash_from_luma(luma);
        if (i >= 0)
            t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    gh_phash_to_hex(h, hex);
    printf("%.3f %.3f %.3f %ld %s\n", t[runs / 2], t[0], t[runs - 1], runs, hex);
    gh_free(t);
    gh_free(buf);
    return 0;
}
