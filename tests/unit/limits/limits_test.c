/* SPDX-License-Identifier: MIT */
/* Rate limits: local token buckets (burst, refusal with Retry-After, separate clients, a full
 * table), the daily budget, the client address behind trusted proxies, and with
 * GH_REDIS_TEST_URL (tests/conftest.py starts a redis-server) buckets shared by two instances
 * through Redis, and a Redis that cannot be reached falling back to local buckets. */
#include "gh/limits.h"
#include "../../gh_test.h"

#include "gh/redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static struct gh_limits *limits(int req_pm, int req_burst, int prov_pm, int prov_burst,
                                struct gh_redis *redis)
{
    struct gh_limits_config cfg;
    struct gh_err err = {0};
    struct gh_limits *l;

    gh_limits_config_defaults(&cfg);
    cfg.requests_per_minute = req_pm;
    cfg.requests_burst = req_burst;
    cfg.provider_per_minute = prov_pm;
    cfg.provider_burst = prov_burst;
    l = gh_limits_new(&cfg, redis, &err);
    CHECK(l != NULL);
    return l;
}

static void burst_then_refused_with_retry_after(void)
{
    struct gh_limits *l = limits(0, 0, 10, 10, NULL);
    struct gh_limits_verdict v;
    int allowed = 0;

    for (int i = 0; i < 60; i++)
        allowed += gh_limits_take(l, GH_LIMITS_PROVIDER, "addr:10.0.0.1", &v);
    /* 10 per minute is one token per 6 s: the test does not run long enough for another */
    CHECK_INT(allowed, 10);
    CHECK_INT(v.limited, 1);
    CHECK_INT(v.enabled, 1);
    CHECK_STR(v.policy, "provider");
    CHECK_INT(v.quota, 10);
    CHECK_INT(v.window_s, 60);
    CHECK_INT(v.remaining, 0);
    CHECK(v.retry_after_s >= 1 && v.retry_after_s <= 6);
    CHECK_INT(v.reset_s, v.retry_after_s);
    CHECK_INT(v.shared, 0);
    gh_limits_free(l);
}

static void clients_have_their_own_buckets(void)
{
    struct gh_limits *l = limits(60, 3, 0, 0, NULL);
    struct gh_limits_verdict v;
    int a = 0, b = 0;

    for (int i = 0; i < 5; i++) {
        a += gh_limits_take(l, GH_LIMITS_REQUESTS, "addr:10.0.0.1", &v);
        b += gh_limits_take(l, GH_LIMITS_REQUESTS, "user:7", &v);
    }
    CHECK_INT(a, 3);
    CHECK_INT(b, 3);
    /* the provider limit is off: always allowed, no fields */
    CHECK_INT(gh_limits_take(l, GH_LIMITS_PROVIDER, "addr:10.0.0.1", &v), 1);
    CHECK_INT(v.enabled, 0);
    gh_limits_free(l);
}

static void remaining_counts_down(void)
{
    struct gh_limits *l = limits(6, 5, 0, 0, NULL);
    struct gh_limits_verdict v;

    CHECK_INT(gh_limits_take(l, GH_LIMITS_REQUESTS, "k", &v), 1);
    CHECK_INT(v.remaining, 4);
    CHECK_INT(v.window_s, 50); /* 5 tokens at one per 10 s */
    CHECK(v.reset_s >= 1 && v.reset_s <= 10);
    CHECK_INT(v.retry_after_s, 0);
    gh_limits_free(l);
}

/* A table far smaller than the clients: the one sending keeps being limited. */
static void full_table_still_limits(void)
{
    struct gh_limits_config cfg;
    struct gh_err err = {0};
    struct gh_limits_verdict v;
    struct gh_limits *l;
    char key[32];
    int allowed = 0;

    gh_limits_config_defaults(&cfg);
    cfg.requests_per_minute = 1;
    cfg.requests_burst = 2;
    cfg.provider_per_minute = 0;
    cfg.max_clients = 16;
    l = gh_limits_new(&cfg, NULL, &err);
    CHECK(l != NULL);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "addr:10.1.%d.%d", i / 250, i % 250);
        CHECK_INT(gh_limits_take(l, GH_LIMITS_REQUESTS, key, &v), 1);
        allowed += gh_limits_take(l, GH_LIMITS_REQUESTS, "addr:victim", &v);
    }
    /* the sender's bucket is the most recently used in its neighbourhood: never evicted */
    CHECK_INT(allowed, 2);
    gh_limits_free(l);
}

static void null_and_bad_settings(void)
{
    struct gh_limits_config cfg;
    struct gh_err err = {0};
    struct gh_limits_verdict v;
    int64_t wait = 0;

    CHECK_INT(gh_limits_take(NULL, GH_LIMITS_REQUESTS, "k", &v), 1);
    CHECK_INT(gh_limits_budget_check(NULL, &wait), GH_LIMITS_BUDGET_OK);
    gh_limits_config_defaults(&cfg);
    CHECK_INT(cfg.requests_per_minute, 600);
    CHECK_INT(cfg.provider_per_minute, 10);
    CHECK_INT(cfg.provider_burst, 10);
    cfg.provider_burst = -1;
    CHECK(gh_limits_new(&cfg, NULL, &err) == NULL);
    CHECK_INT(err.code, GH_EINVAL);
}

static void daily_budget_calls_and_dollars(void)
{
    struct gh_limits_config cfg;
    struct gh_err err = {0};
    struct gh_limits *l;
    int64_t wait = 0, calls, nd;

    gh_limits_config_defaults(&cfg);
    cfg.budget_calls = 2;
    l = gh_limits_new(&cfg, NULL, &err);
    CHECK_INT(gh_limits_budget_check(l, &wait), GH_LIMITS_BUDGET_OK);
    CHECK(wait >= 1 && wait <= 86400);
    gh_limits_budget_spend(l, 0);
    CHECK_INT(gh_limits_budget_check(l, &wait), GH_LIMITS_BUDGET_OK);
    gh_limits_budget_spend(l, 0);
    CHECK_INT(gh_limits_budget_check(l, &wait), GH_LIMITS_BUDGET_CALLS);
    gh_limits_budget_today(l, &calls, &nd);
    CHECK_INT(calls, 2);
    gh_limits_free(l);

    gh_limits_config_defaults(&cfg);
    cfg.budget_usd = 0.001; /* a million nanodollars */
    l = gh_limits_new(&cfg, NULL, &err);
    gh_limits_budget_spend(l, 600000);
    CHECK_INT(gh_limits_budget_check(l, &wait), GH_LIMITS_BUDGET_OK);
    gh_limits_budget_spend(l, 600000);
    CHECK_INT(gh_limits_budget_check(l, &wait), GH_LIMITS_BUDGET_USD);
    gh_limits_budget_today(l, &calls, &nd);
    CHECK_INT(nd, 1200000);
    gh_limits_free(l);
}

/* --- proxies ---------------------------------------------------------------------------- */

static void proxies_parse(void)
{
    struct gh_limits_proxies *p = NULL;
    struct gh_err err = {0};

    CHECK_INT(gh_limits_proxies_parse(NULL, &p, &err), GH_OK);
    CHECK(p == NULL);
    CHECK_INT(gh_limits_proxies_parse("10.0.0.0/8, 127.0.0.1 fd00::/8,192.168.1.0/24", &p, &err),
              GH_OK);
    CHECK(gh_limits_proxies_contains(p, "10.200.3.4"));
    CHECK(gh_limits_proxies_contains(p, "127.0.0.1"));
    CHECK(!gh_limits_proxies_contains(p, "127.0.0.2"));
    CHECK(gh_limits_proxies_contains(p, "fd12::1"));
    CHECK(!gh_limits_proxies_contains(p, "fe80::1"));
    CHECK(gh_limits_proxies_contains(p, "192.168.1.255"));
    CHECK(!gh_limits_proxies_contains(p, "192.168.2.1"));
    CHECK(gh_limits_proxies_contains(p, "::ffff:10.1.1.1")); /* dual-stack form */
    CHECK(!gh_limits_proxies_contains(p, "not an address"));
    gh_limits_proxies_free(p);

    static const char *const bad[] = {"10.0.0.0/33", "10.0.0.0/", "example.com",
                                      "1.2.3/8",     "::1/129",   "10.0.0.0/8x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gh_err e = {0};

        CHECK_INT(gh_limits_proxies_parse(bad[i], &p, &e), GH_EINVAL);
        CHECK(p == NULL);
        CHECK(strstr(e.msg, "TRUSTED_PROXIES") != NULL);
    }
}

static void client_address_from_forwarded_for(void)
{
    static const struct {
        const char *trusted, *peer, *xff, *want;
        int loopback;
    } cases[] = {
        {NULL, "127.0.0.1", "1.2.3.4", "127.0.0.1", 1},      /* no proxy trusted */
        {"127.0.0.1", "127.0.0.1", "1.2.3.4", "1.2.3.4", 0}, /* nginx on loopback */
        {"127.0.0.1", "127.0.0.1", NULL, "127.0.0.1", 1},
        /* a client's own X-Forwarded-For is left of what the proxy appended */
        {"127.0.0.1", "127.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4", 0},
        {"127.0.0.1,10.0.0.0/8", "127.0.0.1", "6.6.6.6,1.2.3.4 , 10.0.0.2", "1.2.3.4", 0},
        /* garbage where the proxy's hop should be: the proxy itself is the client */
        {"127.0.0.1", "127.0.0.1", "<script>", "127.0.0.1", 1},
        {"127.0.0.1", "127.0.0.1", "", "127.0.0.1", 1},
        {"127.0.0.1", "127.0.0.1", "1.2.3.4, ", "127.0.0.1", 1},
        {"127.0.0.1", "127.0.0.1", "::ffff:1.2.3.4", "1.2.3.4", 0},
        {"127.0.0.1", "127.0.0.1", "2001:db8::1", "2001:db8::1", 0},
        /* a peer that is not a trusted proxy is the client, whatever it claims */
        {"127.0.0.1", "5.5.5.5", "1.2.3.4", "5.5.5.5", 0},
        /* every hop trusted: the left-most one is all we know */
        {"10.0.0.0/8,127.0.0.1", "127.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3", 0},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gh_limits_proxies *p = NULL;
        struct gh_identity id;
        struct gh_err err = {0};
        char key[GH_IDENTITY_KEY_CAP];

        CHECK_INT(gh_limits_proxies_parse(cases[i].trusted, &p, &err), GH_OK);
        memset(&id, 0, sizeof id);
        gh_limits_client_address(p, cases[i].peer, cases[i].xff, &id);
        CHECK_STR(id.address, cases[i].want);
        CHECK_INT(id.loopback, cases[i].loopback);
        snprintf(key, sizeof key, "addr:%s", cases[i].want);
        CHECK_STR(id.key, key);
        gh_limits_proxies_free(p);
    }
}

/* --- Redis -------------------------------------------------------------------------------- */

static struct gh_redis *redis_at(const char *url)
{
    struct gh_redis_options o = {url, 3600, 500};
    struct gh_redis *r = NULL;
    struct gh_err err = {0};

    CHECK_INT(gh_redis_new(&o, &r, &err), GH_OK);
    return r;
}

static void shared_buckets_across_instances(void)
{
    const char *url = getenv("GH_REDIS_TEST_URL");
    struct gh_redis *r1, *r2;
    struct gh_limits *a, *b;
    struct gh_limits_verdict v;
    char key[64];
    int allowed = 0;

    if (!url) {
        printf("info: GH_REDIS_TEST_URL unset; shared buckets not tested here\n");
        return;
    }
    r1 = redis_at(url);
    r2 = redis_at(url);
    a = limits(0, 0, 10, 10, r1);
    b = limits(0, 0, 10, 10, r2);
    snprintf(key, sizeof key, "addr:test-%ld-%d", (long)time(NULL), rand());
    for (int i = 0; i < 30; i++) {
        allowed += gh_limits_take(i % 2 ? a : b, GH_LIMITS_PROVIDER, key, &v);
        CHECK_INT(v.shared, 1);
    }
    CHECK_INT(allowed, 10); /* one bucket for both, not ten each */
    CHECK_INT(v.limited, 1);
    CHECK(v.retry_after_s >= 1 && v.retry_after_s <= 6);
    gh_limits_free(a);
    gh_limits_free(b);
    gh_redis_free(r1);
    gh_redis_free(r2);
}

static void redis_down_falls_back_to_local(void)
{
    /* port 1 on loopback: refused at once */
    struct gh_redis *r = redis_at("redis://127.0.0.1:1/0");
    struct gh_limits *l = limits(0, 0, 10, 3, r);
    struct gh_limits_verdict v;
    int allowed = 0;

    for (int i = 0; i < 10; i++) {
        allowed += gh_limits_take(l, GH_LIMITS_PROVIDER, "addr:10.9.9.9", &v);
        CHECK_INT(v.shared, 0);
    }
    CHECK_INT(allowed, 3); /* never an open door */
    gh_limits_free(l);
    gh_redis_free(r);
}

GH_TEST_MAIN(GH_TEST(burst_then_refused_with_retry_after), GH_TEST(clients_have_their_own_buckets),
             GH_TEST(remaining_counts_down), GH_TEST(full_table_still_limits),
             GH_TEST(null_and_bad_settings), GH_TEST(daily_budget_calls_and_dollars),
             GH_TEST(proxies_parse), GH_TEST(client_address_from_forwarded_for),
             GH_TEST(shared_buckets_across_instances), GH_TEST(redis_down_falls_back_to_local))
