/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend's own behaviour beyond the store contract: the pool (overflow,
 * exhaustion, waiting), lost connections replaced on the next call, deadlines, and messages
 * that name the server but never the password. Runs against the database in GH_PG_TEST_URL
 * (tests/conftest.py starts a server and sets it); without it the test is skipped (77). */
#include "gh/store.h"
#include "store/pg_internal.h"
#include "../../gh_test.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* The migrations this build knows (pg_migrations in src/store/pg.c). */
enum { SCHEMA_VERSION = 9 };
#include <unistd.h>

#define T0 INT64_C(1700000000)

static const char *g_url;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct gh_store *open_with(int pool, int overflow, long timeout_ms, long recycle_s)
{
    struct gh_store_options o;
    struct gh_store *st = NULL;
    struct gh_err err = {0};
    int rc;

    gh_store_options_defaults(&o);
    o.pool_size = pool;
    o.max_overflow = overflow;
    o.connect_timeout_ms = timeout_ms;
    if (recycle_s >= 0)
        o.recycle_s = recycle_s;
    rc = gh_store_open_opts(g_url, &o, &st, &err);
    if (rc)
        fprintf(stderr, "  open: %s: %s\n", gh_err_name(rc), err.msg);
    CHECK_INT(rc, GH_OK);
    return st;
}

static void counts(struct pg_store *s, int *n_open, int *n_idle)
{
    pthread_mutex_lock(&s->mu);
    *n_open = s->n_open;
    *n_idle = s->n_idle;
    pthread_mutex_unlock(&s->mu);
}

static int stats_ok(struct gh_store *st)
{
    struct gh_store_stats stats;
    struct gh_err err = {0};
    int rc = gh_store_stats(st, T0, &stats, &err);

    if (rc)
        fprintf(stderr, "  stats: %s: %s\n", gh_err_name(rc), err.msg);
    return rc;
}

static void defaults_are_the_seeds(void)
{
    struct gh_store *st = NULL;
    struct pg_store *s;

    CHECK_INT(gh_store_open_opts(g_url, NULL, &st, NULL), GH_OK);
    if (!st)
        return;
    CHECK_STR(gh_store_backend(st), "postgresql");
    s = gh_pg_of(st);
    CHECK_INT(s->opts.pool_size, 20);
    CHECK_INT(s->opts.max_overflow, 10);
    CHECK_INT(s->opts.pre_ping, 1);
    CHECK_INT(s->opts.recycle_s, 3600);
    CHECK_INT(s->opts.connect_timeout_ms, 3000);
    CHECK_INT(s->n_open, 1); /* connections open on demand: the migrating one is kept */
    CHECK_INT(gh_store_schema_version(st, NULL), SCHEMA_VERSION);
    gh_store_close(st);
}

struct releaser {
    struct pg_store *s;
    struct pg_conn *c;
};

static void *release_later(void *arg)
{
    struct releaser *r = arg;

    usleep(150 * 1000);
    gh_pg_release(r->s, r->c);
    return NULL;
}

/* pool_size 2 + max_overflow 1: three lent, the fourth waits and, with nothing returned,
 * fails after connect_timeout_ms; one returned meanwhile is handed to the waiter. The overflow
 * connection is closed once the pool holds pool_size idle ones. */
static void pool_overflow_and_exhaustion(void)
{
    struct gh_store *st = open_with(2, 1, 400, -1);
    struct pg_conn *c[4] = {NULL, NULL, NULL, NULL};
    struct gh_err err = {0};
    struct releaser rel;
    pthread_t tid;
    int n_open, n_idle, rc;
    struct pg_store *s;
    double t;

    if (!st)
        return;
    s = gh_pg_of(st);
    for (int i = 0; i < 3; i++)
        CHECK_INT(gh_pg_acquire(s, &c[i], NULL), GH_OK);
    counts(s, &n_open, &n_idle);
    CHECK_INT(n_open, 3);
    CHECK_INT(n_idle, 0);
    t = now_s();
    rc = gh_pg_acquire(s, &c[3], &err);
    t = now_s() - t;
    CHECK_INT(rc, GH_EUNAVAILABLE);
    CHECK(strstr(err.msg, "the database pool is exhausted") != NULL);
    CHECK(t >= 0.35 && t < 2.0);
    printf("  exhausted after %.3f s: %s\n", t, err.msg);
    /* A waiter gets the connection another thread returns. */
    rel.s = s;
    rel.c = c[2];
    c[2] = NULL;
    CHECK_INT(pthread_create(&tid, NULL, release_later, &rel), 0);
    t = now_s();
    CHECK_INT(gh_pg_acquire(s, &c[3], NULL), GH_OK);
    t = now_s() - t;
    CHECK(t >= 0.1 && t < 0.4);
    pthread_join(tid, NULL);
    for (int i = 0; i < 4; i++)
        gh_pg_release(s, c[i]);
    counts(s, &n_open, &n_idle);
    CHECK_INT(n_open, 2);
    CHECK_INT(n_idle, 2);
    CHECK_INT(stats_ok(st), GH_OK);
    gh_store_close(st);
}

enum { N_THREADS = 8, N_OPS = 60 };

static void *hammer(void *arg)
{
    struct gh_store *st = arg;
    intptr_t failures = 0;

    for (int i = 0; i < N_OPS; i++)
        failures += gh_store_schema_version(st, NULL) != SCHEMA_VERSION;
    return (void *)failures;
}

/* Eight threads over two connections and no overflow: everyone waits their turn, nobody
 * fails, and no more than two connections ever open. */
static void threads_share_a_small_pool(void)
{
    struct gh_store *st = open_with(2, 0, 3000, -1);
    pthread_t tid[N_THREADS];
    intptr_t failures = 0;
    int n_open, n_idle;

    if (!st)
        return;
    for (int i = 0; i < N_THREADS; i++)
        CHECK_INT(pthread_create(&tid[i], NULL, hammer, st), 0);
    for (int i = 0; i < N_THREADS; i++) {
        void *f = NULL;

        pthread_join(tid[i], &f);
        failures += (intptr_t)f;
    }
    CHECK_INT(failures, 0);
    counts(gh_pg_of(st), &n_open, &n_idle);
    CHECK(n_open <= 2);
    gh_store_close(st);
}

/* Ends the backend of connection victim from another connection, as a server restart or an
 * administrator would. */
static void terminate(struct pg_store *s, struct pg_conn *victim)
{
    struct pg_params p = {.n = 0};
    struct pg_conn *killer = NULL;
    struct gh_err err = {0};
    PGresult *r = NULL;
    int rc;

    CHECK_INT(gh_pg_acquire(s, &killer, NULL), GH_OK);
    if (!killer)
        return;
    gh_pg_param_i64(&p, PQbackendPID(victim->db));
    rc = gh_pg_exec_sql(s, killer, "SELECT pg_terminate_backend($1::int, 5000)", &p, &r,
                        "terminate a backend", &err);
    if (rc)
        fprintf(stderr, "  terminate: %s\n", err.msg);
    CHECK_INT(rc, GH_OK);
    if (r)
        CHECK_STR(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    gh_pg_release(s, killer);
}

/* A connection whose server side ended is noticed: idle in the pool (replaced before it is
 * lent, so the call succeeds) or while lent (that call fails with GH_EUNAVAILABLE, the next
 * succeeds on a new connection). */
static void lost_connections_are_replaced(void)
{
    struct gh_store *st = open_with(2, 0, 2000, -1);
    struct pg_conn *a = NULL;
    struct gh_err err = {0};
    struct pg_store *s;
    PGresult *r = NULL;
    int pid, rc;

    if (!st)
        return;
    s = gh_pg_of(st);
    CHECK_INT(gh_pg_acquire(s, &a, NULL), GH_OK);
    if (!a)
        goto out;
    pid = PQbackendPID(a->db);
    terminate(s, a);
    gh_pg_release(s, a); /* back in the pool, its backend gone */
    CHECK_INT(stats_ok(st), GH_OK);
    a = NULL;
    CHECK_INT(gh_pg_acquire(s, &a, NULL), GH_OK);
    if (!a)
        goto out;
    CHECK(PQbackendPID(a->db) != pid);
    terminate(s, a);
    rc = gh_pg_exec(s, a, PG_STMT_SCHEMA_VERSION, NULL, &r, "read the schema version", &err);
    CHECK_INT(rc, GH_EUNAVAILABLE);
    CHECK(a->broken);
    CHECK(strstr(err.msg, "127.0.0.1") != NULL || strstr(err.msg, "localhost") != NULL);
    printf("  lost while lent: %s\n", err.msg);
    PQclear(r);
    gh_pg_release(s, a);
    CHECK_INT(stats_ok(st), GH_OK);
out:
    gh_store_close(st);
}

/* A query that outlives the deadline gives GH_EUNAVAILABLE promptly and its connection is
 * dropped, so the late answer never reaches the next borrower. */
static void slow_query_hits_the_deadline(void)
{
    struct gh_store *st = open_with(1, 0, 2000, -1);
    struct pg_conn *c = NULL;
    struct gh_err err = {0};
    struct pg_store *s;
    int n_open, n_idle, rc;
    double t;

    if (!st)
        return;
    s = gh_pg_of(st);
    CHECK_INT(gh_pg_acquire(s, &c, NULL), GH_OK);
    if (!c)
        goto out;
    c->timeout_ms = 200;
    t = now_s();
    rc = gh_pg_sql(s, c, "SELECT pg_sleep(3)", "sleep", &err);
    t = now_s() - t;
    CHECK_INT(rc, GH_EUNAVAILABLE);
    CHECK(strstr(err.msg, "did not answer within 200 ms") != NULL);
    CHECK(t < 1.0);
    gh_pg_release(s, c);
    counts(s, &n_open, &n_idle);
    CHECK_INT(n_open, 0);
    CHECK_INT(stats_ok(st), GH_OK);
out:
    gh_store_close(st);
}

/* recycle_s: a connection older than that is replaced before it is lent. */
static void old_connections_are_recycled(void)
{
    struct gh_store *st = open_with(1, 0, 2000, 1);
    struct pg_conn *c = NULL;
    struct pg_store *s;
    int pid;

    if (!st)
        return;
    s = gh_pg_of(st);
    CHECK_INT(gh_pg_acquire(s, &c, NULL), GH_OK);
    if (!c)
        goto out;
    pid = PQbackendPID(c->db);
    gh_pg_release(s, c);
    CHECK_INT(gh_pg_acquire(s, &c, NULL), GH_OK); /* young: the same one */
    if (!c)
        goto out;
    CHECK_INT(PQbackendPID(c->db), pid);
    gh_pg_release(s, c);
    usleep(1100 * 1000);
    CHECK_INT(gh_pg_acquire(s, &c, NULL), GH_OK);
    if (!c)
        goto out;
    CHECK(PQbackendPID(c->db) != pid);
    gh_pg_release(s, c);
out:
    gh_store_close(st);
}

/* A port nothing listens on: bound, never listened, so connecting is refused at once. */
static int closed_port(int *fd_out)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return 0;
    *fd_out = fd;
    return ntohs(a.sin_port);
}

static void server_down_fails_fast_without_password(void)
{
    struct gh_store *st = NULL;
    struct gh_err err = {0};
    char url[128], where[64];
    int fd = -1, port = closed_port(&fd);
    double t;
    int rc;

    CHECK(port > 0);
    snprintf(url, sizeof url, "postgresql://gh:hunter2@127.0.0.1:%d/gymhelper", port);
    snprintf(where, sizeof where, "127.0.0.1:%d", port);
    t = now_s();
    rc = gh_store_open(url, 0, &st, &err);
    t = now_s() - t;
    CHECK_INT(rc, GH_EUNAVAILABLE);
    CHECK(st == NULL);
    CHECK(strstr(err.msg, where) != NULL);
    CHECK(strstr(err.msg, "refused") != NULL);
    CHECK(strstr(err.msg, "hunter2") == NULL);
    CHECK(t < 1.0);
    printf("  %s\n", err.msg);
    if (fd >= 0)
        close(fd);
}

/* Values the server refuses (here a model name that is not UTF-8) are GH_EINVAL, not a
 * backend failure: the recorder retries failures until the store comes back, and would retry
 * this batch forever while every later record waited behind it. */
static void refused_values_are_invalid(void)
{
    struct gh_store *st = open_with(1, 0, 3000, -1);
    struct gh_identification rec;
    struct gh_err err = {0};

    if (!st)
        return;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.request_id, sizeof rec.request_id, "bad-utf8");
    rec.created_at = T0;
    snprintf(rec.cache_layer, sizeof rec.cache_layer, "none");
    snprintf(rec.provider, sizeof rec.provider, "clip");
    snprintf(rec.model, sizeof rec.model, "clip-\xff\xfe");
    CHECK_INT(gh_store_record_identifications(st, &rec, 1, &err), GH_EINVAL);
    CHECK(strstr(err.msg, "SQLSTATE 22") != NULL);
    printf("  %s\n", err.msg);
    CHECK_INT(stats_ok(st), GH_OK); /* the connection is still good */
    gh_store_close(st);
}

static void bad_urls_are_invalid(void)
{
    static const char *const bad[] = {
        "postgresql://gh:hunter2@127.0.0.1:5432/db?nosuchoption=1",
        "postgres://gh:hunter2@[::1/db",
    };
    struct gh_store_options o;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gh_store *st = NULL;
        struct gh_err err = {0};

        CHECK_INT(gh_store_open(bad[i], 0, &st, &err), GH_EINVAL);
        CHECK(strstr(err.msg, "hunter2") == NULL);
        printf("  %s\n", err.msg);
    }
    gh_store_options_defaults(&o);
    o.max_overflow = -1;
    CHECK_INT(gh_store_open_opts(g_url, &o, &(struct gh_store *){NULL}, NULL), GH_EINVAL);
    gh_store_options_defaults(&o);
    o.connect_timeout_ms = 0;
    CHECK_INT(gh_store_open_opts(g_url, &o, &(struct gh_store *){NULL}, NULL), GH_EINVAL);
}

int main(void)
{
    static const struct gh_test_case cases[] = {
        GH_TEST(defaults_are_the_seeds),
        GH_TEST(pool_overflow_and_exhaustion),
        GH_TEST(threads_share_a_small_pool),
        GH_TEST(lost_connections_are_replaced),
        GH_TEST(slow_query_hits_the_deadline),
        GH_TEST(old_connections_are_recycled),
        GH_TEST(server_down_fails_fast_without_password),
        GH_TEST(bad_urls_are_invalid),
        GH_TEST(refused_values_are_invalid),
    };

    g_url = getenv("GH_PG_TEST_URL");
    if (!g_url || !*g_url) {
        printf("GH_PG_TEST_URL is not set: no PostgreSQL to test against (tests/conftest.py "
               "starts one)\n");
        return 77; /* meson: skipped */
    }
    return gh_test_run(cases, sizeof cases / sizeof cases[0]);
}
