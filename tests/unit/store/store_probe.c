/* SPDX-License-Identifier: MIT */
/* A long-lived store client that tests drive line by line, so that they can stop and restart
 * the database under it: `store_probe URL` opens the store, then reads commands from stdin
 * (put, get, near, record, stats, purge, quit) and answers each with one line:
 * "<command> <gh_err_name> <milliseconds> <message>". Used by tests/cli/test_store_pg.py. */
#include "gh/store.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T0 INT64_C(1700000000)

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t g_rng;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

struct probe {
    struct gh_store *st;
    struct gh_cache_entry last; /* the last put; answer_json points at answer */
    char answer[64];
};

static int run(struct probe *p, const char *cmd, struct gh_err *err)
{
    struct gh_cache_entry out;
    struct gh_identification rec;
    struct gh_store_stats stats;
    int64_t n = 0;
    int d = 0, rc;

    memset(&out, 0, sizeof out);
    if (strcmp(cmd, "put") == 0) {
        memset(&p->last, 0, sizeof p->last);
        for (int i = 0; i < 4; i++)
            snprintf(p->last.sha256 + 16 * i, 17, "%016llx", (unsigned long long)rnd());
        p->last.phash = rnd();
        snprintf(p->answer, sizeof p->answer, "{\"probe\":\"%.8s\"}", p->last.sha256);
        p->last.answer_json = p->answer;
        p->last.created_at = T0;
        p->last.expires_at = T0 + 1000;
        return gh_store_put(p->st, &p->last, err);
    }
    if (strcmp(cmd, "get") == 0)
        rc = gh_store_get_exact(p->st, p->last.sha256, T0 + 1, &out, err);
    else if (strcmp(cmd, "near") == 0)
        rc = gh_store_get_near(p->st, p->last.phash ^ 3, 4, T0 + 1, &out, &d, err);
    else if (strcmp(cmd, "stats") == 0)
        return gh_store_stats(p->st, T0, &stats, err);
    else if (strcmp(cmd, "purge") == 0)
        return gh_store_purge_expired(p->st, T0 - 1, &n, err);
    else if (strcmp(cmd, "record") == 0) {
        memset(&rec, 0, sizeof rec);
        snprintf(rec.request_id, sizeof rec.request_id, "probe-%d", (int)getpid());
        rec.created_at = T0;
        return gh_store_record_identification(p->st, &rec, err);
    } else
        return gh_err_set(err, GH_EINVAL, "unknown command");
    gh_cache_entry_fini(&out);
    return rc;
}

int main(int argc, char **argv)
{
    struct probe p;
    struct gh_err err = {0};
    char line[128];
    double t;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: store_probe URL\n");
        return 2;
    }
    memset(&p, 0, sizeof p);
    g_rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ UINT64_C(0x9e3779b97f4a7c15);
    setvbuf(stdout, NULL, _IOLBF, 0);
    t = now_ms();
    rc = gh_store_open(argv[1], 0, &p.st, &err);
    printf("open %s %.1f %s\n", gh_err_name(rc), now_ms() - t, err.msg);
    if (rc)
        return 1;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "quit") == 0)
            break;
        gh_err_clear(&err);
        t = now_ms();
        rc = run(&p, line, &err);
        printf("%s %s %.1f %s\n", line, gh_err_name(rc), now_ms() - t, err.msg);
    }
    gh_store_close(p.st);
    return 0;
}
