# SPDX-License-Identifier: MIT
"""Rate limits end to end (issue 10 item 3): the provider bucket per client (60 nocache requests
reach the provider at most the burst's 10 times; the rest are 429 rate_limited with Retry-After
and the IETF RateLimit-Policy / RateLimit fields), the request bucket (health and metrics
exempt), clients told apart by the X-Forwarded-For hop of a trusted proxy, buckets shared by two
instances through a real redis-server (and still enforced, per instance, while it is stopped),
and the daily provider budget."""
import concurrent.futures
import re
import time

import pytest

import ghhttp as G

PROVIDER_LIMIT = {"RATE_LIMIT_PROVIDER_PER_MINUTE": "10", "RATE_LIMIT_PROVIDER_BURST": "10"}


def check_limited(r, policy, quota, window):
    """r is a 429 rate_limited with Retry-After and the draft's fields; returns Retry-After."""
    G.is_problem(r, 429, "rate_limited")
    retry = r.header("Retry-After")
    assert retry and retry.isdigit() and int(retry) >= 1, dict(r.headers)
    assert r.header("RateLimit-Policy") == '"%s";q=%d;w=%d' % (policy, quota, window), \
        dict(r.headers)
    m = re.fullmatch(r'"%s";r=(\d+);t=(\d+)' % policy, r.header("RateLimit") or "")
    assert m, dict(r.headers)
    assert int(m.group(1)) == 0
    # the draft: Retry-After not earlier than the end of the effective window
    assert int(retry) >= int(m.group(2))
    return int(retry)


@pytest.mark.asan
def test_sixty_nocache_requests_reach_the_provider_at_most_burst_times(procs, binary, photos):
    fake = procs.fake()
    s = procs.server(binary, provider=fake, env=PROVIDER_LIMIT)
    photo = photos[0]
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        answers = list(ex.map(lambda _: s.analyze(photo, "nocache=true"), range(60)))
    elapsed = time.monotonic() - t0
    ok = [r for r in answers if r.status == 200]
    limited = [r for r in answers if r.status == 429]
    assert len(ok) + len(limited) == 60, [r for r in answers if r.status not in (200, 429)]
    # the burst, and one more token per 6 s should a loaded machine take that long
    assert len(ok) <= 10 + int(elapsed // 6), elapsed
    assert len(ok) >= 10
    # identical uploads in flight share one call (each still spent its own token)
    assert 1 <= fake.calls() <= len(ok)
    for r in limited:
        retry = check_limited(r, "provider", 10, 60)
        assert retry <= 6  # one token per 6 s
    print("info: 60 nocache requests in %.2f s: %d answered, %d provider calls, %d x 429"
          % (elapsed, len(ok), fake.calls(), len(limited)))
    # a photo the cache knows is still answered: hits cost no provider call
    r = s.analyze(photo)
    assert G.cache_layer(r) is not None


def test_request_limit_spares_health_and_metrics(procs, binary, photos):
    fake = procs.fake()
    # one token per 10 s: none comes back while the test runs
    s = procs.server(binary, provider=fake,
                     env={"RATE_LIMIT_REQUESTS_PER_MINUTE": "6", "RATE_LIMIT_REQUESTS_BURST": "5"})
    answers = [s.get("/api/v1/equipment") for _ in range(8)]
    assert [r.status for r in answers] == [200] * 5 + [429] * 3
    assert answers[0].header("RateLimit-Policy") == '"requests";q=5;w=50'
    assert answers[0].header("RateLimit").startswith('"requests";r=4;t=')
    assert answers[4].header("RateLimit").startswith('"requests";r=0;')
    for r in answers[5:]:
        assert check_limited(r, "requests", 5, 50) <= 10
    for path in ("/health", "/api/v1/health", "/metrics"):
        for _ in range(3):
            r = s.get(path)
            assert r.status == 200, (path, r)
            assert r.header("RateLimit") is None
    # a refused upload is answered from the headers, before its body is read
    r = s.analyze(photos[0])
    G.is_problem(r, 429, "rate_limited")
    assert fake.calls() == 0


def test_trusted_proxy_names_the_client(procs, binary, fake):
    limits = {"RATE_LIMIT_REQUESTS_PER_MINUTE": "60", "RATE_LIMIT_REQUESTS_BURST": "2"}
    s = procs.server(binary, provider=fake, env=dict(limits, TRUSTED_PROXIES="127.0.0.1/32"))

    def get(client, spoof=None):
        xff = ("%s, %s" % (spoof, client)) if spoof else client
        return s.get("/api/v1/equipment", headers={"X-Forwarded-For": xff}).status

    assert [get("203.0.113.1") for _ in range(3)] == [200, 200, 429]
    # another client behind the same proxy has its own bucket
    assert [get("203.0.113.2") for _ in range(2)] == [200, 200]
    # what a client writes into the header itself is left of the proxy's hop: not believed
    assert get("203.0.113.1", spoof="198.51.100.9") == 429
    # garbage instead of an address: the proxy itself is the client
    assert s.get("/api/v1/equipment", headers={"X-Forwarded-For": "not-an-ip"}).status == 200

    # without TRUSTED_PROXIES the header is ignored: every request is the loopback client
    t = procs.server(binary, provider=fake, env=limits)
    statuses = [t.get("/api/v1/equipment", headers={"X-Forwarded-For": "203.0.113.%d" % i}).status
                for i in range(3)]
    assert statuses == [200, 200, 429]


def test_bad_trusted_proxies_stops_the_start(binary, tmp_path, run_gymhelper):
    r = run_gymhelper(binary, "serve", "--port", "0", "--database-url",
                      "sqlite:///%s" % (tmp_path / "x.db"), "--trusted-proxies", "10.0.0.0/33")
    assert r.returncode != 0
    assert "TRUSTED_PROXIES" in r.stderr and "10.0.0.0/33" in r.stderr, r.stderr


@pytest.mark.asan
def test_two_instances_share_buckets_through_redis(procs, binary, redis, photos):
    fake = procs.fake()
    env = dict(REDIS_URL=redis.url(), RATE_LIMIT_PROVIDER_PER_MINUTE="4",
               RATE_LIMIT_PROVIDER_BURST="4", REDIS_TIMEOUT_MS="200")
    a = procs.server(binary, provider=fake, env=env)
    b = procs.server(binary, provider=fake, env=env)
    answers = [(a if i % 2 else b).analyze(photos[i % 3], "nocache=true") for i in range(12)]
    assert sum(r.status == 200 for r in answers) == 4, [r.status for r in answers]
    assert fake.calls() == 4
    for r in answers:
        if r.status != 200:
            check_limited(r, "provider", 4, 60)
    assert redis.command("KEYS", "gh:v1:rl:provider:*") == [b"gh:v1:rl:provider:addr:127.0.0.1"]

    # Redis stopped: each instance decides with its own buckets; never an open door
    redis.stop()
    fake.reset()
    answers = [(a if i % 2 else b).analyze(photos[i % 3], "nocache=true") for i in range(20)]
    assert sum(r.status == 200 for r in answers) <= 8, [r.status for r in answers]
    assert fake.calls() <= 8
    assert all(r.status in (200, 429) for r in answers), answers


def test_daily_budget_stops_paid_calls_not_cache_hits(procs, binary, photos):
    fake = procs.fake()
    s = procs.server(binary, provider=fake, env={"PROVIDER_DAILY_BUDGET_CALLS": "2"})
    assert s.analyze(photos[0]).status == 200
    assert s.analyze(photos[1]).status == 200
    r = s.analyze(photos[2])
    doc = G.is_problem(r, 503, "provider_budget_exhausted")
    assert "00:00 UTC" in doc["detail"], doc
    retry = r.header("Retry-After")
    assert retry and 1 <= int(retry) <= 86400, dict(r.headers)
    assert fake.calls() == 2
    assert G.cache_layer(s.analyze(photos[0])) is not None  # what is cached is still answered
