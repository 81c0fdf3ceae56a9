/* SPDX-License-Identifier: MIT */
/* Visual-memory lookups for bench/vmem_bench.py: loads N int8 rows (with their scales) from a
 * file the script wrote, then times gh_vmem_search for each query row, with 1 and 2 scan
 * threads. Prints one line per thread count: "threads T kernel K entries N bytes B ms
 * t1 t2 ...". */
#include "gh/alloc.h"
#include "gh/clock.h"
#include "gh/recognition.h"
#include "recognition/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(const char *path, long n, int dim, int8_t **rows, float **scales)
{
    FILE *f = fopen(path, "rb");
    int ok;

    *rows = malloc((size_t)n * (size_t)dim);
    *scales = malloc((size_t)n * sizeof **scales);
    ok = f && *rows && *scales && fread(*rows, (size_t)dim, (size_t)n, f) == (size_t)n &&
         fread(*scales, sizeof **scales, (size_t)n, f) == (size_t)n;
    if (f)
        fclose(f);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    int8_t *rows = NULL;
    float *scales = NULL, *x;
    long n, nq;
    int dim;
    const char *kernel = "";

    if (argc != 5) {
        fprintf(stderr, "usage: vmem_bench FILE N DIM QUERIES\n");
        return 2;
    }
    n = atol(argv[2]);
    dim = atoi(argv[3]);
    nq = atol(argv[4]);
    if (n < 1 || dim < 1 || dim > GH_STORE_VMEM_DIM_MAX || nq < 1 || nq > n ||
        load(argv[1], n, dim, &rows, &scales)) {
        fprintf(stderr, "vmem_bench: bad arguments or data file\n");
        return 2;
    }
    x = malloc((size_t)dim * sizeof *x);
    gh_vmem_dots_best(&kernel);
    for (int threads = 1; threads <= 2; threads++) {
        struct gh_vmem_opts o = {"bench", dim, 0, 0, 0, threads, 0, 0};
        struct gh_vmem *vm = NULL;
        struct gh_vmem_stats st;
        struct gh_vmem_hit hits[8];
        int nh;

        if (gh_vmem_new(NULL, &o, &vm, NULL) != GH_OK)
            return 1;
        for (long i = 0; i < n; i++) {
            for (int j = 0; j < dim; j++)
                x[j] = rows[i * dim + j] * scales[i];
            if (gh_vmem_add(vm, "", x, "barbell", GH_VMEM_SOURCE_PROVIDER, 1, NULL) != GH_OK)
                return 1;
        }
        gh_vmem_stats(vm, &st);
        printf("threads %d kernel %s entries %lld bytes %zu ms", threads, kernel,
               (long long)st.entries, st.bytes_per_entry);
        for (long q = 0; q < nq; q++) {
            double t0;

            for (int j = 0; j < dim; j++)
                x[j] = rows[q * dim + j] * scales[q];
            t0 = gh_mono_ms();
            if (gh_vmem_search(vm, x, 8, 1, hits, &nh, NULL) != GH_OK || nh != 8 ||
                hits[0].id != q + 1)
                return 1; /* a row finds itself first */
            printf(" %.4f", gh_mono_ms() - t0);
        }
        printf("\n");
        fflush(stdout);
        gh_vmem_free(vm);
    }
    free(x);
    free(rows);
    free(scales);
    return 0;
}
