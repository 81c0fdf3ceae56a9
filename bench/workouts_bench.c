/* SPDX-License-Identifier: MIT */
/* The floor under bench/workouts_bench.py's API timings: the store's own queries for the same
 * data, without HTTP or JSON. "query URL OWNER EXERCISE N": p50 of gh_store_set_query for one
 * exercise and for every working set of the last year. "import URL OWNER FILE": one Strong CSV
 * import split into parsing, records and the store's transaction. Prints key=value pairs. */
#include "gh/catalogue.h"
#include "gh/clock.h"
#include "gh/file.h"
#include "gh/store_workouts.h"
#include "gh/workouts.h"

#include "gh/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double p50_query(struct gh_store *st, const char *owner, const struct gh_set_filter *f,
                        int n, size_t *rows)
{
    double *t = gh_malloc_array((size_t)n, sizeof *t), p;
    struct gh_err err = {0};

    for (int i = 0; t && i < n; i++) {
        struct gh_wset *v = NULL;
        double t0 = gh_mono_ms();

        if (gh_store_set_query(st, owner, f, &v, rows, &err)) {
            fprintf(stderr, "query: %s\n", err.msg);
            exit(1);
        }
        t[i] = gh_mono_ms() - t0;
        gh_free(v);
    }
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    p = t ? t[n / 2] : -1;
    gh_free(t);
    return p;
}

static double p50_counts(struct gh_store *st, const char *owner, int64_t since, int n, size_t *rows)
{
    double *t = gh_malloc_array((size_t)n, sizeof *t), p;
    struct gh_err err = {0};

    for (int i = 0; t && i < n; i++) {
        struct gh_set_count *v = NULL;
        double t0 = gh_mono_ms();

        if (gh_store_set_counts(st, owner, since, &v, rows, &err)) {
            fprintf(stderr, "counts: %s\n", err.msg);
            exit(1);
        }
        t[i] = gh_mono_ms() - t0;
        gh_free(v);
    }
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    p = t ? t[n / 2] : -1;
    gh_free(t);
    return p;
}

static int query(struct gh_store *st, char **argv)
{
    int n = atoi(argv[5]);
    struct gh_set_filter ex = {0, argv[4], (int64_t)time(NULL) - 52 * 7 * 86400, 0};
    struct gh_set_filter all = {0, NULL, (int64_t)time(NULL) - 52 * 7 * 86400, 1};
    size_t n_ex = 0, n_all = 0;
    double a = p50_query(st, argv[3], &ex, n, &n_ex),
           b = p50_counts(st, argv[3], all.since, n, &n_all);

    printf("exercise_rows=%zu exercise_p50_ms=%.3f all_rows=%zu all_p50_ms=%.3f\n", n_ex, a, n_all,
           b);
    return 0;
}

static int import(struct gh_store *st, char **argv)
{
    struct gh_catalogue *cat = NULL;
    struct gh_err err = {0};
    struct gh_import imp;
    int64_t imported = 0, dups = 0;
    uint8_t *csv = NULL;
    size_t len = 0;
    double t0, t1, t2, t3;

    if (gh_catalogue_load_embedded(&cat, &err) ||
        gh_file_read(argv[4], 64u << 20, &csv, &len, &err))
        goto fail;
    t0 = gh_mono_ms();
    if (gh_import_parse(cat, GH_IMPORT_STRONG, (const char *)csv, len, NULL, &imp, &err))
        goto fail;
    t1 = gh_mono_ms();
    if (gh_import_records(st, argv[3], cat, &imp, &err))
        goto fail;
    t2 = gh_mono_ms();
    if (gh_store_workouts_import(st, argv[3], imp.ws, imp.n_ws, imp.sets, imp.n_sets, &imported,
                                 &dups, &err))
        goto fail;
    t3 = gh_mono_ms();
    printf("rows=%zu imported=%lld parse_ms=%.1f records_ms=%.1f store_ms=%.1f\n", imp.n_sets,
           (long long)imported, t1 - t0, t2 - t1, t3 - t2);
    gh_import_fini(&imp);
    gh_free(csv);
    gh_catalogue_free(cat);
    return 0;
fail:
    fprintf(stderr, "import: %s\n", err.msg);
    return 1;
}

int main(int argc, char **argv)
{
    struct gh_store *st = NULL;
    struct gh_err err = {0};
    int rc;

    if (argc < 5 || (strcmp(argv[1], "query") == 0 && argc < 6)) {
        fprintf(stderr,
                "usage: workouts_bench query URL OWNER EXERCISE N | import URL OWNER FILE\n");
        return 2;
    }
    if (gh_store_open(argv[2], 2, &st, &err)) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    rc = strcmp(argv[1], "query") == 0 ? query(st, argv) : import(st, argv);
    gh_store_close(st);
    return rc;
}
