# SPDX-License-Identifier: MIT
"""The Redis hot layer end to end: two `gymhelper serve` instances with different SQLite files
share one real redis-server (tests/servers/redis.py). What one instance analysed is a "redis"
hit on the other without a provider call, by SHA-256 and, for a copy with other bytes but the
same pixels, by pHash; a correction made on one is what the other serves; a stopped or hung
(SIGSTOPped) Redis costs at most about one timeout, turns health "degraded" (still 200) and logs
one line, and the layer comes back with the server."""
import json
import struct
import time

import pytest

import ghhttp as G

TTL = 600
TIMEOUT_MS = 100


def instance(procs, binary, redis, fake, lru=True, name=None):
    env = {"REDIS_URL": redis.url(), "REDIS_TTL_SECONDS": str(TTL),
           "REDIS_TIMEOUT_MS": str(TIMEOUT_MS)}
    if not lru:
        env["LRU_ENTRIES"] = "0"  # every request reaches Redis (and the store)
    return procs.server(binary, workdir=procs.tmp / name if name else None, provider=fake,
                        env=env)


def with_comment(jpeg, text=b"copied by another app"):
    """The same JPEG with a COM segment after SOI: other bytes (SHA-256), same pixels (pHash)."""
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg[2:]


def health(s):
    r = s.get("/api/v1/health")
    assert r.status == 200, r
    return r.json()


def redis_log(s, words):
    return [x for x in s.log_lines() if words in x.get("msg", "")]


def wait_healthy(s, timeout=8.0):
    """Health probes Redis once each backoff period (1 s, then 2 s, ...) until it answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = health(s)
        if h["redis"] == "ok":
            return h
        time.sleep(0.1)
    pytest.fail("redis never came back in health: %r" % h)


@pytest.mark.asan
def test_instances_share_answers(procs, binary, redis, photos, run_gymhelper):
    fake_a, fake_b = procs.fake(), procs.fake()
    a = instance(procs, binary, redis, fake_a, lru=False, name="a")
    b = instance(procs, binary, redis, fake_b, name="b")
    assert a.db != b.db

    assert G.cache_layer(a.analyze(photos[0])) is None and fake_a.calls() == 1
    key = "gh:v1:sha:" + G.sha256(photos[0])
    assert TTL - 10 < redis.command("TTL", key) <= TTL
    r = b.analyze(photos[0])
    assert G.cache_layer(r) == "redis" and r.json()["equipment"]["slug"] == G.ANSWER
    assert G.cache_layer(b.analyze(photos[0])) == "memory"
    # same pixels, other bytes: found by pHash, described as this upload
    copy = with_comment(photos[0])
    r = b.analyze(copy)
    assert G.cache_layer(r) == "redis" and r.json()["image"]["sha256"] == G.sha256(copy)
    assert fake_b.calls() == 0

    # a store hit is written back: Redis emptied, A answers from SQLite, B then from Redis
    assert G.cache_layer(a.analyze(photos[1])) is None
    redis.command("FLUSHALL")
    assert G.cache_layer(a.analyze(photos[1])) == "exact"
    assert G.cache_layer(b.analyze(photos[1])) == "redis" and fake_b.calls() == 0

    # a correction on A is what B serves
    first = a.analyze(photos[2]).json()
    r = a.request("POST", "/api/v1/identifications/%s/feedback" % first["identification_id"],
                  b'{"slug": "squat-rack"}', {"Content-Type": "application/json"})
    assert r.status == 200, r
    doc = b.analyze(photos[2]).json()
    assert doc["cache"]["layer"] == "redis" and doc["corrected"] is True
    assert doc["equipment"]["slug"] == "squat-rack"
    assert fake_b.calls() == 0

    st = b.stats()["layers"]["redis"]
    assert st["state"] == "ok" and st["hits"] == 4 and st["phash_hits"] == 1, st
    assert a.stats()["layers"]["redis"]["writes"] >= 5
    m = b.get("/metrics").body.decode()
    assert 'gymhelper_cache_hits_total{layer="redis"} 4' in m
    assert "gymhelper_redis_up 1" in m
    h = health(b)
    assert h["status"] == "ok" and h["redis"] == "ok", h

    # `gymhelper cache stats` counts the keys under the namespace (photos 1 and 2 since the flush)
    out = run_gymhelper(binary, "cache", "stats", "--database-url", "sqlite:///%s" % a.db,
                        env={"REDIS_URL": redis.url()})
    assert out.returncode == 0, out
    st = json.loads(out.stdout)["redis"]
    assert st["state"] == "ok" and st["address"] == redis.url()[len("redis://"):], st
    assert st["sha_keys"] == len(redis.command("KEYS", "gh:v1:sha:*")) == 2, st
    assert st["phash_keys"] == len(redis.command("KEYS", "gh:v1:ph:*")) == 2, st


def test_outage_degrades_and_recovers(procs, binary, redis, photos):
    fake = procs.fake()
    s = instance(procs, binary, redis, fake, lru=False)
    assert G.cache_layer(s.analyze(photos[0])) is None

    before = s.stats()["layers"]["redis"]
    t0 = time.monotonic()
    redis.stop()
    answers = [s.analyze(photos[0]) for _ in range(10)]
    assert [G.cache_layer(r) for r in answers] == ["exact"] * 10
    # one refused connection, then skipped: a failed command only for one probe per backoff
    # period (the first is 1 s; counted, not timed, so a loaded machine cannot fail this)
    st = s.stats()["layers"]["redis"]
    elapsed = time.monotonic() - t0
    assert 1 <= st["errors"] - before["errors"] <= 1 + int(elapsed), (before, st, elapsed)
    assert st["skipped"] - before["skipped"] >= 10 - int(elapsed), (before, st, elapsed)
    # the provider still works
    assert G.cache_layer(s.analyze(photos[1])) is None and fake.calls() == 2
    h = health(s)
    assert h["status"] == "degraded" and h["redis"] == "down", h
    assert "unavailable" in h["redis_detail"]
    st = s.stats()["layers"]["redis"]
    assert st["state"] == "down" and st["skipped"] > 0 and st["outages"] == 1, st
    assert "gymhelper_redis_up 0" in s.get("/metrics").body.decode()

    redis.start()
    h = wait_healthy(s)
    assert h["status"] == "ok", h
    assert G.cache_layer(s.analyze(photos[2])) is None  # written to the restarted Redis
    assert G.cache_layer(s.analyze(photos[2])) == "redis"
    assert len(redis_log(s, "redis unavailable")) == 1, s.stderr_text()
    assert len(redis_log(s, "redis back")) == 1, s.stderr_text()


def test_hung_redis_costs_one_timeout(procs, binary, redis, photos):
    fake = procs.fake()
    s = instance(procs, binary, redis, fake, lru=False)
    assert G.cache_layer(s.analyze(photos[0])) is None
    assert G.cache_layer(s.analyze(photos[0])) == "redis"

    before = s.stats()["layers"]["redis"]
    t0 = time.monotonic()
    redis.pause()
    for _ in range(6):
        assert G.cache_layer(s.analyze(photos[0])) == "exact"
    # one timeout, then the breaker skips Redis: failed commands only for one probe per backoff
    # period (the first is 1 s), whatever the machine's speed; a generous bound against hangs.
    # Two threads talk to Redis: a request and the revocation-epoch poller (every 50 ms), so
    # the command each had in flight when Redis froze can both fail before the breaker opens.
    st = s.stats()["layers"]["redis"]
    elapsed = time.monotonic() - t0
    assert 1 <= st["errors"] - before["errors"] <= 2 + int(elapsed), (before, st, elapsed)
    assert st["skipped"] > before["skipped"] and st["outages"] == before["outages"] + 1, st
    assert elapsed < 30, elapsed
    h = health(s)
    assert h["status"] == "degraded" and h["redis"] == "down", h
    assert "no answer within %d ms" % TIMEOUT_MS in h["redis_detail"], h

    redis.resume()
    wait_healthy(s)
    assert G.cache_layer(s.analyze(photos[0])) == "redis"
    assert len(redis_log(s, "redis unavailable")) == 1, s.stderr_text()


def test_health_without_redis(procs, binary):
    s = procs.server(binary, provider=procs.fake())
    h = health(s)
    assert h["redis"] == "disabled" and h["status"] == "ok", h
    assert s.stats()["layers"]["redis"]["state"] == "disabled"


@pytest.mark.asan
@pytest.mark.tsan
def test_a_hung_redis_holds_no_io_thread(procs, binary, redis, photos):
    """The shared rate limits ask Redis for every request; a worker asks, not the I/O thread.
    With one I/O thread and Redis frozen, a request waits out REDIS_TIMEOUT_MS for its
    decision (then this instance's buckets decide) while /metrics, answered on the I/O thread,
    answers at once. An upload decided that way is read whole afterwards."""
    s = procs.server(binary, provider=procs.fake(),
                     env={"REDIS_URL": redis.url(), "REDIS_TIMEOUT_MS": "3000",
                          "HTTP_THREADS": "1", "RATE_LIMIT_REQUESTS_PER_MINUTE": "600"})
    assert s.get("/api/v1/equipment").status == 200  # Redis answers the bucket
    r = s.analyze(photos[0])
    assert r.status == 200 and r.json()["image"]["sha256"] == G.sha256(photos[0]), r
    r = s.request("POST", "/api/v1/identifications/%s/feedback" % r.json()["identification_id"],
                  json.dumps({"slug": "squat-rack"}).encode(),
                  {"Content-Type": "application/json"})
    assert r.status == 200, r
    redis.pause()
    try:
        r, took, probes = G.while_waiting(s, lambda: s.get("/api/v1/equipment"))
    finally:
        redis.resume()
    assert r.status == 200, r
    assert took >= 2.5, took  # it did wait for the frozen Redis
    assert probes and max(probes) < 1.0, probes
