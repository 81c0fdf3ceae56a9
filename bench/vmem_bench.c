/* SPDX-License-Identifier: MIT */
/* Visual-memory lookups for bench/vmem_bench.py: loads N int8 rows (with their scales) and Q
 * float queries from a file the script wrote, then times gh_vmem_search for each query in each
 * mode: the exact scan and the two stages, with 1 and 2 threads, and the two stages with each
 * candidate count given, then with the AVX2 and scalar first stages. Prints "load MS max_add MS"
 * (adding the rows: all, the slowest one, which moved and recentred the index), then per mode "run
 * MODE THREADS CANDIDATES kernel DOTS BITS entries N bytes B", then per query "q I ms T hits ID:SIM
 * ...", then "end". */
#include "gh/alloc.h"
#include "gh/clock.h"
#include "gh/recognition.h"
#include "recognition/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(const char *path, long n, int dim, long nq, int8_t **rows, float **scales,
                float **queries)
{
    FILE *f = fopen(path, "rb");
    int ok;

    *rows = malloc((size_t)n * (size_t)dim);
    *scales = malloc((size_t)n * sizeof **scales);
    *queries = malloc((size_t)nq * (size_t)dim * sizeof **queries);
    ok = f && *rows && *scales && *queries &&
         fread(*rows, (size_t)dim, (size_t)n, f) == (size_t)n &&
         fread(*scales, sizeof **scales, (size_t)n, f) == (size_t)n &&
         fread(*queries, sizeof **queries * (size_t)dim, (size_t)nq, f) == (size_t)nq;
    if (f)
        fclose(f);
    return ok ? 0 : -1;
}

static int run(struct gh_vmem *vm, const char *mode, int threads, int candidates, const char *bits,
               const float *queries, long nq, int dim)
{
    const char *dots = "";
    struct gh_vmem_stats st;
    struct gh_vmem_hit hits[8];
    int nh;

    gh_vmem_tune(vm, threads, strcmp(mode, "exact") == 0 ? INT64_MAX : GH_VMEM_EXACT_MAX,
                 candidates ? candidates : -1, 0);
    gh_vmem_dots_best(&dots);
    gh_vmem_stats(vm, &st);
    printf("run %s %d %d kernel %s %s entries %lld bytes %zu\n", mode, threads, candidates, dots,
           bits, (long long)st.entries, st.bytes_per_entry);
    for (long q = 0; q < nq; q++) {
        double t0 = gh_mono_ms(), ms;

        if (gh_vmem_search(vm, queries + q * dim, 8, 1, hits, &nh, NULL) != GH_OK)
            return 1;
        ms = gh_mono_ms() - t0;
        printf("q %ld ms %.4f hits", q, ms);
        for (int i = 0; i < nh; i++)
            printf(" %lld:%.9g", (long long)hits[i].id, hits[i].similarity);
        printf("\n");
    }
    printf("end\n");
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    int8_t *rows = NULL;
    float *scales = NULL, *queries = NULL, *x;
    struct gh_vmem_opts o = {"bench", 0, 0, 0, 0, 2, 0, 0};
    struct gh_vmem *vm = NULL;
    long n, nq;
    int dim, rc = 0;
    double load_ms = 0, add_max_ms = 0;
    const char *bits = "", *slower[] = {"avx2", "scalar"};

    if (argc < 5) {
        fprintf(stderr, "usage: vmem_bench FILE N DIM QUERIES [CANDIDATES ...]\n");
        return 2;
    }
    n = atol(argv[2]);
    dim = atoi(argv[3]);
    nq = atol(argv[4]);
    if (n < 1 || dim < 1 || dim > GH_STORE_VMEM_DIM_MAX || nq < 1 ||
        load(argv[1], n, dim, nq, &rows, &scales, &queries)) {
        fprintf(stderr, "vmem_bench: bad arguments or data file\n");
        return 2;
    }
    o.dim = dim;
    x = malloc((size_t)dim * sizeof *x);
    if (!x || gh_vmem_new(NULL, &o, &vm, NULL) != GH_OK)
        return 1;
    for (long i = 0; i < n; i++) {
        double t0;

        for (int j = 0; j < dim; j++)
            x[j] = rows[i * dim + j] * scales[i];
        t0 = gh_mono_ms();
        if (gh_vmem_add(vm, "", x, "barbell", GH_VMEM_SOURCE_PROVIDER, 1, NULL) != GH_OK)
            return 1;
        t0 = gh_mono_ms() - t0;
        load_ms += t0;
        add_max_ms = t0 > add_max_ms ? t0 : add_max_ms;
    }
    printf("load %.1f max_add %.1f\n", load_ms, add_max_ms);
    gh_vmem_bits_best(&bits);
    for (int t = 1; t <= 2 && !rc; t++)
        rc = run(vm, "exact", t, 0, bits, queries, nq, dim) ||
             run(vm, "two", t, 0, bits, queries, nq, dim);
    for (int i = 5; i < argc && !rc; i++)
        rc = run(vm, "two", 2, atoi(argv[i]), bits, queries, nq, dim);
    /* where AVX-512 is absent: the slower first stages, forced */
    for (int i = 0; i < 2 && !rc; i++)
        if (strcmp(bits, slower[i]) != 0 && gh_vmem_use_kernels(vm, NULL, slower[i]) == GH_OK)
            rc = run(vm, slower[i], 2, 0, slower[i], queries, nq, dim);
    gh_vmem_free(vm);
    free(x);
    free(rows);
    free(scales);
    free(queries);
    return rc;
}
