/* SPDX-License-Identifier: MIT */
/* Near-duplicate lookups against a filled PostgreSQL cache, timed through the store's real
 * path (gh_store_get_near: the segment-indexed UPDATE ... RETURNING of src/store/pg.c) and,
 * for comparison, as a sequential scan with a popcount filter on a plain libpq connection.
 * Driven by bench/pg_bench.py, which fills the table; prints one "GHPG" line per series:
 *   GHPG <series> n=<lookups> found=<hits> p50_us=<..> p99_us=<..> per_s=<..>
 * usage: pg_near_bench URL NOW N_LOOKUPS N_SEQSCANS */
#include "gh/alloc.h"
#include "gh/store.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEQ_SQL                                                                                    \
    "SELECT id FROM equipment_cache WHERE bit_count((phash # $1)::bit(64)) <= 4"                   \
    " AND expires_at > $2 ORDER BY bit_count((phash # $1)::bit(64)), created_at DESC, id DESC"     \
    " LIMIT 1"

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static uint64_t g_rng = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* Two bits in different segments: distance 2, three segments still equal. */
static uint64_t near_of(uint64_t h)
{
    return h ^ (UINT64_C(1) << 60) ^ (UINT64_C(1) << 5);
}

static void report(const char *series, double *us, int n, int found, double wall_us)
{
    qsort(us, (size_t)n, sizeof *us, cmp_double);
    printf("GHPG %s n=%d found=%d p50_us=%.0f p99_us=%.0f per_s=%.1f\n", series, n, found,
           us[n / 2], us[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], n / (wall_us / 1e6));
    fflush(stdout);
}

/* Up to n existing hashes, to look up their near neighbours (hits). */
static int sample_hashes(PGconn *db, uint64_t *out, int n)
{
    char sql[160];
    PGresult *r;
    int got;

    snprintf(sql, sizeof sql, "SELECT phash FROM equipment_cache TABLESAMPLE SYSTEM (2) LIMIT %d",
             n);
    r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "pg_near_bench: sampling failed: %s", PQerrorMessage(db));
        PQclear(r);
        return 0;
    }
    got = PQntuples(r);
    for (int i = 0; i < got; i++)
        out[i] = (uint64_t)strtoll(PQgetvalue(r, i, 0), NULL, 10);
    PQclear(r);
    return got;
}

static int bench_store(struct gh_store *st, const uint64_t *hashes, int n_hashes, int n,
                       int64_t now, int hits, double *us)
{
    struct gh_cache_entry out;
    struct gh_err err = {0};
    double t0 = now_us();
    int found = 0, d;

    for (int i = 0; i < n; i++) {
        uint64_t q = hits ? near_of(hashes[i % n_hashes]) : rnd();
        double t = now_us();
        int rc = gh_store_get_near(st, q, 4, now, &out, &d, &err);

        us[i] = now_us() - t;
        if (rc == GH_OK)
            found++;
        else if (rc != GH_ENOTFOUND) {
            fprintf(stderr, "pg_near_bench: get_near: %s\n", err.msg);
            return -1;
        }
        gh_cache_entry_fini(&out);
        gh_err_clear(&err);
    }
    report(hits ? "index_hit" : "index_miss", us, n, found, now_us() - t0);
    return found;
}

static int bench_seq(PGconn *db, const uint64_t *hashes, int n_hashes, int n, int64_t now,
                     double *us)
{
    char h[32], t[32];
    const char *params[2] = {h, t};
    double t0 = now_us();
    int found = 0;

    snprintf(t, sizeof t, "%lld", (long long)now);
    for (int i = 0; i < n; i++) {
        double s = now_us();
        PGresult *r;

        snprintf(h, sizeof h, "%lld", (long long)near_of(hashes[i % n_hashes]));
        r = PQexecParams(db, SEQ_SQL, 2, NULL, params, NULL, NULL, 0);
        us[i] = now_us() - s;
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "pg_near_bench: seq scan: %s", PQerrorMessage(db));
            PQclear(r);
            return -1;
        }
        found += PQntuples(r);
        PQclear(r);
    }
    report("seq_scan", us, n, found, now_us() - t0);
    return found;
}

int main(int argc, char **argv)
{
    struct gh_store_options o;
    struct gh_store *st = NULL;
    struct gh_err err = {0};
    uint64_t *hashes = NULL;
    double *us = NULL;
    PGconn *db = NULL;
    int n, n_seq, n_hashes, rc = 1;
    int64_t now;

    if (argc != 5) {
        fprintf(stderr, "usage: pg_near_bench URL NOW N_LOOKUPS N_SEQSCANS\n");
        return 2;
    }
    now = strtoll(argv[2], NULL, 10);
    n = (int)strtol(argv[3], NULL, 10);
    n_seq = (int)strtol(argv[4], NULL, 10);
    if (n < 100 || n_seq < 1 || n_seq > n) {
        fprintf(stderr, "pg_near_bench: N_LOOKUPS >= 100, 1 <= N_SEQSCANS <= N_LOOKUPS\n");
        return 2;
    }
    gh_store_options_defaults(&o);
    o.pool_size = 1;
    if (gh_store_open_opts(argv[1], &o, &st, &err) != GH_OK) {
        fprintf(stderr, "pg_near_bench: %s\n", err.msg);
        return 1;
    }
    db = PQconnectdb(argv[1]); /* planner defaults: sequential scans allowed */
    hashes = gh_malloc_array(4096, sizeof *hashes);
    us = gh_malloc_array((size_t)n, sizeof *us);
    if (PQstatus(db) != CONNECTION_OK || !hashes || !us) {
        fprintf(stderr, "pg_near_bench: cannot connect: %s", PQerrorMessage(db));
        goto out;
    }
    n_hashes = sample_hashes(db, hashes, 4096);
    if (n_hashes < 100)
        goto out;
    /* A few lookups first, so every statement is prepared and the caches are warm. */
    if (bench_store(st, hashes, n_hashes, 100, now, 1, us) < 0 ||
        bench_store(st, hashes, n_hashes, n, now, 1, us) < 0 ||
        bench_store(st, hashes, n_hashes, n, now, 0, us) < 0 ||
        bench_seq(db, hashes, n_hashes, n_seq, now, us) < 0)
        goto out;
    rc = 0;
out:
    PQfinish(db);
    gh_free(us);
    gh_free(hashes);
    gh_store_close(st);
    return rc;
}
