/* SPDX-License-Identifier: MIT */
/* The Redis hot layer against a real redis-server: put/get by SHA-256 and pHash, the TTL on
 * every key, corrections winning over provider answers, garbage read as a miss, and the
 * breaker: a stopped server and a paused one cost one timeout, later calls skip, and the layer
 * comes back with the server. GH_REDIS_TEST_URL names a server to use for the cases that leave
 * it running (tests/conftest.py starts one); the stop/restart case always starts its own
 * /usr/bin/redis-server, as does every case when the variable is unset. */
#include "gh/redis.h"
#include "../../gh_test.h"

#include "gh/alloc.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 100
/* Against hangs only: a deadline the layer's one TIMEOUT_MS wait stays far under even under
 * sanitizers on a loaded machine. That the later calls do no I/O is shown by the counters. */
#define HANG_MS 10000
#define NOW     1700000000

static char shared_url[128];
static pid_t own_pid;     /* the server this test started for the shared cases, or 0 */
static unsigned key_seed; /* random per run, so reruns against one server never collide */

static double mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static redisContext *raw_connect(const char *url)
{
    char host[64];
    int port = 0, db = 0;
    struct timeval tv = {1, 0};
    redisContext *c;
    redisReply *rep;

    if (sscanf(url, "redis://%63[^:]:%d/%d", host, &port, &db) < 2)
        return NULL;
    c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    rep = redisCommand(c, "SELECT %d", db);
    if (rep)
        freeReplyObject(rep);
    return c;
}

static pid_t server_start(int port)
{
    char portstr[16], url[64];
    pid_t pid;

    snprintf(portstr, sizeof portstr, "%d", port);
    pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        execl("/usr/bin/redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1",
              "--save", "", "--appendonly", "no", "--dir", "/tmp", "--loglevel", "warning",
              (char *)NULL);
        _exit(127);
    }
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    for (int i = 0; i < 500; i++) { /* up to 5 s */
        redisContext *c = raw_connect(url);

        if (c) {
            redisFree(c);
            return pid;
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void server_stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

static struct gh_redis *layer(const char *url, int64_t ttl)
{
    struct gh_redis_options o = {url, ttl, TIMEOUT_MS};
    struct gh_redis *r = NULL;
    struct gh_err err = {0};

    CHECK_INT(gh_redis_new(&o, &r, &err), GH_OK);
    return r;
}

/* An entry with a recognisable sha256 (n picks the last digits) and pHash. */
static void make_entry(struct gh_cache_entry *e, unsigned n, const char *slug, int corrected)
{
    static char answer[128];

    memset(e, 0, sizeof *e);
    snprintf(e->sha256, sizeof e->sha256, "%048x%08x%08x", 0u, key_seed, n);
    e->phash = ((uint64_t)key_seed << 32) | n;
    snprintf(answer, sizeof answer, "{\"equipment\":{\"slug\":\"%s\"},\"note\":\"say \\\"hi\\\"\"}",
             slug);
    e->answer_json = answer;
    snprintf(e->equipment_slug, sizeof e->equipment_slug, "%s", slug);
    snprintf(e->provider, sizeof e->provider, "openai");
    snprintf(e->model, sizeof e->model, "gpt-4o-mini");
    e->created_at = NOW;
    e->expires_at = NOW + 3600;
    e->corrected = corrected;
}

static void url_parsing(void)
{
    static const char *const bad[] = {"",
                                      "http://x:1",
                                      "redis://",
                                      "redis://h:0",
                                      "redis://h:x",
                                      "redis://h:70000",
                                      "redis://h/db",
                                      "redis://[::1",
                                      "redis://h:1/-1"};
    struct gh_redis_options o = {"redis://:s3cret@cache.internal:6380/2", 60, 100};
    struct gh_redis *r = NULL;
    struct gh_err err = {0};

    CHECK_INT(gh_redis_new(&o, &r, &err), GH_OK);
    if (r)
        CHECK_STR(gh_redis_address(r), "cache.internal:6380/2"); /* no password */
    gh_redis_free(r);
    o.url = "redis://localhost";
    CHECK_INT(gh_redis_new(&o, &r, &err), GH_OK);
    if (r)
        CHECK_STR(gh_redis_address(r), "localhost:6379/0");
    gh_redis_free(r);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.url = bad[i];
        gh_err_clear(&err);
        CHECK_INT(gh_redis_new(&o, &r, &err), GH_EINVAL);
        CHECK(r == NULL);
        CHECK(strstr(err.msg, "s3cret") == NULL);
    }
    o.url = "redis://h:1";
    o.ttl_s = 0;
    CHECK_INT(gh_redis_new(&o, &r, &err), GH_EINVAL);
}

static void put_get_ttl(void)
{
    struct gh_redis *r = layer(shared_url, 120);
    struct gh_cache_entry e, got;
    struct gh_redis_stats st;
    redisContext *c = raw_connect(shared_url);
    redisReply *rep;
    char key[96];

    CHECK(r && c);
    if (!r || !c)
        goto out;
    make_entry(&e, 1, "leg-press", 0);
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_ENOTFOUND);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA | GH_REDIS_KEY_PHASH), GH_OK);
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_OK);
    CHECK_STR(got.answer_json, e.answer_json);
    CHECK_STR(got.sha256, e.sha256);
    CHECK_STR(got.equipment_slug, "leg-press");
    CHECK_STR(got.provider, "openai");
    CHECK_STR(got.model, "gpt-4o-mini");
    CHECK_INT(got.phash, e.phash);
    CHECK_INT(got.expires_at, e.expires_at);
    CHECK_INT(got.corrected, 0);
    gh_cache_entry_fini(&got);
    CHECK_INT(gh_redis_get_phash(r, e.phash, NOW, &got), GH_OK);
    CHECK_STR(got.sha256, e.sha256);
    gh_cache_entry_fini(&got);
    CHECK_INT(gh_redis_get_phash(r, e.phash ^ 1, NOW, &got), GH_ENOTFOUND); /* exact only */
    /* past the entry's own expiry it is no answer, whatever Redis's TTL says */
    CHECK_INT(gh_redis_get_sha(r, e.sha256, e.expires_at, &got), GH_ENOTFOUND);

    snprintf(key, sizeof key, GH_REDIS_PREFIX "sha:%s", e.sha256);
    rep = redisCommand(c, "TTL %s", key);
    CHECK(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 100 && rep->integer <= 120);
    if (rep)
        freeReplyObject(rep);
    snprintf(key, sizeof key, GH_REDIS_PREFIX "ph:%016llx", (unsigned long long)e.phash);
    rep = redisCommand(c, "TTL %s", key);
    CHECK(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 100 && rep->integer <= 120);
    if (rep)
        freeReplyObject(rep);

    /* only the SHA key when asked */
    make_entry(&e, 2, "rowing-machine", 0);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA), GH_OK);
    CHECK_INT(gh_redis_get_phash(r, e.phash, NOW, &got), GH_ENOTFOUND);

    gh_redis_stats(r, &st);
    CHECK_INT(st.hits, 1);
    CHECK_INT(st.phash_hits, 1);
    CHECK_INT(st.writes, 3);
    CHECK_INT(st.errors, 0);
    CHECK_INT(st.down, 0);
out:
    if (c)
        redisFree(c);
    gh_redis_free(r);
}

static void corrections_win(void)
{
    struct gh_redis *r = layer(shared_url, 60);
    struct gh_cache_entry e, got;

    if (!r)
        return;
    make_entry(&e, 3, "leg-press", 1);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA | GH_REDIS_KEY_PHASH), GH_OK);
    make_entry(&e, 3, "treadmill", 0); /* a provider answer arriving later */
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA | GH_REDIS_KEY_PHASH), GH_OK);
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_OK);
    CHECK_STR(got.equipment_slug, "leg-press");
    CHECK_INT(got.corrected, 1);
    gh_cache_entry_fini(&got);
    CHECK_INT(gh_redis_get_phash(r, e.phash, NOW, &got), GH_OK);
    CHECK_STR(got.equipment_slug, "leg-press");
    gh_cache_entry_fini(&got);
    make_entry(&e, 3, "cable-machine", 1); /* a second correction replaces the first */
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA | GH_REDIS_KEY_PHASH), GH_OK);
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_OK);
    CHECK_STR(got.equipment_slug, "cable-machine");
    gh_cache_entry_fini(&got);
    gh_redis_free(r);
}

static void garbage_is_a_miss(void)
{
    static const char *const values[] = {
        "not json",
        "{\"corrected\":false}",
        "{\"corrected\":false,\"v\":2,\"sha256\":\"%s\",\"phash\":\"0000000000000000\","
        "\"slug\":\"\",\"provider\":\"\",\"model\":\"\",\"created\":1,\"expires\":9999999999,"
        "\"answer\":\"{}\"}",
        "{\"corrected\":false,\"v\":1,\"sha256\":\"%s\",\"phash\":\"zz\",\"slug\":\"\","
        "\"provider\":\"\",\"model\":\"\",\"created\":1,\"expires\":9999999999,\"answer\":\"{}\"}",
        "[1,2,3]",
        "",
    };
    struct gh_redis *r = layer(shared_url, 60);
    redisContext *c = raw_connect(shared_url);
    struct gh_cache_entry e, got;
    struct gh_redis_stats st;
    redisReply *rep;
    char key[96], value[512];

    CHECK(r && c);
    if (!r || !c)
        goto out;
    make_entry(&e, 4, "leg-press", 0);
    snprintf(key, sizeof key, GH_REDIS_PREFIX "sha:%s", e.sha256);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        const char *at = strstr(values[i], "%s"); /* the key's own sha256 goes there */

        if (at)
            snprintf(value, sizeof value, "%.*s%s%s", (int)(at - values[i]), values[i], e.sha256,
                     at + 2);
        else
            snprintf(value, sizeof value, "%s", values[i]);
        rep = redisCommand(c, "SET %s %s EX 60", key, value);
        if (rep)
            freeReplyObject(rep);
        CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_ENOTFOUND);
    }
    /* another image's document under this key */
    make_entry(&e, 5, "leg-press", 0);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA), GH_OK);
    rep = redisCommand(c, "COPY " GH_REDIS_PREFIX "sha:%s %s REPLACE", e.sha256, key);
    if (rep)
        freeReplyObject(rep);
    make_entry(&e, 4, "leg-press", 0);
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_ENOTFOUND);
    /* a key of another type: WRONGTYPE is a miss, and the connection stays usable */
    rep = redisCommand(c, "DEL %s", key);
    if (rep)
        freeReplyObject(rep);
    rep = redisCommand(c, "RPUSH %s x", key);
    if (rep)
        freeReplyObject(rep);
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_ENOTFOUND);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA), GH_EBACKEND); /* the script errors */
    CHECK_INT(gh_redis_get_sha(r, "not-hex", NOW, &got), GH_ENOTFOUND);
    gh_redis_stats(r, &st);
    CHECK_INT(st.bad_values, sizeof values / sizeof values[0] + 2);
    CHECK_INT(st.errors, 0);
    CHECK_INT(st.down, 0); /* a server that answers nonsense is up */
    CHECK_INT(gh_redis_check(r, NULL, 0), GH_REDIS_STATE_OK);
out:
    if (c)
        redisFree(c);
    gh_redis_free(r);
}

/* Waits until the breaker lets a probe through (the first backoff is 1 s). */
static int wait_back(struct gh_redis *r, double max_ms)
{
    double t0 = mono_ms();

    while (mono_ms() - t0 < max_ms) {
        if (gh_redis_check(r, NULL, 0) == GH_REDIS_STATE_OK)
            return 1;
        usleep(50000);
    }
    return 0;
}

static void stopped_then_back(void)
{
    int port = free_port();
    pid_t pid = server_start(port);
    char url[64], detail[200];
    struct gh_redis *r;
    struct gh_cache_entry e, got;
    struct gh_redis_stats st, before;
    double t0, ms;

    CHECK(pid > 0);
    if (pid <= 0)
        return;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    r = layer(url, 60);
    make_entry(&e, 6, "leg-press", 0);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA), GH_OK);
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_OK);
    gh_cache_entry_fini(&got);

    server_stop(pid);
    t0 = mono_ms();
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_ENOTFOUND);
    ms = mono_ms() - t0;
    CHECK(ms < HANG_MS);
    gh_redis_stats(r, &st);
    before = st;
    t0 = mono_ms();
    for (int i = 0; i < 100; i++)
        CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_ENOTFOUND);
    ms = mono_ms() - t0;
    gh_redis_stats(r, &st);
    /* Skipped without I/O, but for one probe per backoff period (the first is 1 s; a loaded
     * machine may take that long over 100 calls), each a failed command. */
    CHECK_INT((st.skipped - before.skipped) + (st.errors - before.errors), 100);
    CHECK(st.errors - before.errors <= 1 + (uint64_t)(ms / 1000));
    CHECK_INT(st.outages, before.outages);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA), GH_EUNAVAILABLE);
    gh_redis_stats(r, &st);
    CHECK_INT(st.down, 1);
    CHECK_INT(st.outages, 1);
    CHECK_INT(st.errors, 1);
    CHECK(st.skipped >= 101);
    CHECK_INT(gh_redis_check(r, detail, sizeof detail), GH_REDIS_STATE_DOWN);
    CHECK(strncmp(detail, "unavailable: ", 13) == 0);

    pid = server_start(port);
    CHECK(pid > 0);
    CHECK(wait_back(r, 5000));
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA), GH_OK); /* the restart lost it */
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_OK);
    gh_cache_entry_fini(&got);
    gh_redis_stats(r, &st);
    CHECK_INT(st.down, 0);
    CHECK_INT(st.outages, 1);

    /* A restart between two requests only closes the pooled connection: the next command
     * reconnects at once, without an outage. */
    server_stop(pid);
    pid = server_start(port);
    CHECK(pid > 0);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA), GH_OK);
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_OK);
    gh_cache_entry_fini(&got);
    gh_redis_stats(r, &st);
    CHECK_INT(st.outages, 1);
    gh_redis_free(r);
    server_stop(pid);
}

struct lookup_arg {
    struct gh_redis *r;
    const char *sha256;
    int rc;
};

static void *lookup_thread(void *arg)
{
    struct lookup_arg *a = arg;
    struct gh_cache_entry got;

    a->rc = gh_redis_get_sha(a->r, a->sha256, NOW, &got);
    if (a->rc == GH_OK)
        gh_cache_entry_fini(&got);
    return NULL;
}

/* A restart closes every pooled connection, not just one: the command that finds its
 * connection closed reconnects instead of taking the next dead one and declaring an outage. */
static void restart_with_several_pooled(void)
{
    int port = free_port();
    pid_t pid = server_start(port);
    struct gh_redis_options o = {NULL, 60, 1000};
    struct lookup_arg args[2];
    pthread_t th[2];
    struct gh_redis *r = NULL;
    struct gh_redis_stats st;
    struct gh_cache_entry e, got;
    struct gh_err err = {0};
    redisContext *c = NULL;
    redisReply *rep;
    char url[64];

    CHECK(pid > 0);
    if (pid <= 0)
        return;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    o.url = url;
    CHECK_INT(gh_redis_new(&o, &r, &err), GH_OK);
    c = raw_connect(url);
    CHECK(r && c);
    if (!r || !c)
        goto out;
    make_entry(&e, 9, "leg-press", 0);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA), GH_OK);
    /* Two lookups in flight at once while the server holds its answers: two connections,
     * both pooled afterwards. */
    rep = redisCommand(c, "CLIENT PAUSE 300 ALL");
    CHECK(rep && rep->type == REDIS_REPLY_STATUS);
    if (rep)
        freeReplyObject(rep);
    for (int i = 0; i < 2; i++) {
        args[i] = (struct lookup_arg){r, e.sha256, -1};
        CHECK_INT(pthread_create(&th[i], NULL, lookup_thread, &args[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(args[i].rc, GH_OK);
    }
    redisFree(c);
    c = NULL;

    server_stop(pid);
    pid = server_start(port);
    CHECK(pid > 0);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA), GH_OK);
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_OK);
    gh_cache_entry_fini(&got);
    gh_redis_stats(r, &st);
    CHECK_INT(st.outages, 0);
    CHECK_INT(st.errors, 0);
out:
    if (c)
        redisFree(c);
    gh_redis_free(r);
    server_stop(pid);
}

/* A server that accepts but does not answer (CLIENT PAUSE: as a SIGSTOPped or overloaded
 * one): the first command waits one timeout, the rest skip, and hits resume after it. */
static void paused_then_back(void)
{
    struct gh_redis *r = layer(shared_url, 60);
    redisContext *c = raw_connect(shared_url);
    struct gh_cache_entry e, got;
    struct gh_redis_stats st;
    redisReply *rep;
    double t0, ms;

    CHECK(r && c);
    if (!r || !c)
        goto out;
    make_entry(&e, 7, "leg-press", 0);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA), GH_OK);
    rep = redisCommand(c, "CLIENT PAUSE 1000 ALL");
    CHECK(rep && rep->type == REDIS_REPLY_STATUS);
    if (rep)
        freeReplyObject(rep);
    t0 = mono_ms();
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_ENOTFOUND);
    ms = mono_ms() - t0;
    CHECK(ms >= TIMEOUT_MS * 0.8 && ms < HANG_MS); /* it waited for the deadline */
    gh_redis_stats(r, &st);
    CHECK_INT(st.skipped, 0);
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_ENOTFOUND);
    gh_redis_stats(r, &st);
    CHECK_INT(st.down, 1);
    CHECK_INT(st.skipped, 1); /* the next call (well within the 1 s backoff) did not wait */
    CHECK(wait_back(r, 5000));
    CHECK_INT(gh_redis_get_sha(r, e.sha256, NOW, &got), GH_OK);
    gh_cache_entry_fini(&got);
out:
    if (c)
        redisFree(c);
    gh_redis_free(r);
}

static void count_keys(void)
{
    struct gh_redis *r = layer(shared_url, 60);
    struct gh_cache_entry e;
    struct gh_err err = {0};
    int64_t n_sha = -1, n_ph = -1;

    if (!r)
        return;
    make_entry(&e, 8, "leg-press", 0);
    CHECK_INT(gh_redis_put(r, &e, GH_REDIS_KEY_SHA | GH_REDIS_KEY_PHASH), GH_OK);
    CHECK_INT(gh_redis_count_keys(r, &n_sha, &n_ph, &err), GH_OK);
    CHECK(n_sha >= 1 && n_ph >= 1);
    gh_redis_free(r);
}

int main(void)
{
    static const struct gh_test_case cases[] = {
        GH_TEST(url_parsing),
        GH_TEST(put_get_ttl),
        GH_TEST(corrections_win),
        GH_TEST(garbage_is_a_miss),
        GH_TEST(count_keys),
        GH_TEST(stopped_then_back),
        GH_TEST(restart_with_several_pooled),
        GH_TEST(paused_then_back),
    };
    const char *env = getenv("GH_REDIS_TEST_URL");
    int port, rc;

    signal(SIGPIPE, SIG_IGN); /* as main.c: a write to a killed server must be an error */
    key_seed = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    if (env && env[0]) {
        snprintf(shared_url, sizeof shared_url, "%s", env);
    } else {
        port = free_port();
        own_pid = server_start(port);
        if (own_pid <= 0) {
            fprintf(stderr, "cannot start /usr/bin/redis-server\n");
            return 1;
        }
        snprintf(shared_url, sizeof shared_url, "redis://127.0.0.1:%d/0", port);
    }
    rc = gh_test_run(cases, sizeof cases / sizeof cases[0]);
    server_stop(own_pid);
    return rc;
}
