# SPDX-License-Identifier: MIT
"""The cache layers over HTTP: memory (in-process LRU), exact (SHA-256 in the store), near
(pHash within distance 4), coalesced (one provider call for identical uploads in flight),
TTL expiry, /api/v1/cache/stats and persistence across restarts. Provider calls are counted
by the fake's /_calls."""
import threading
import time

import pytest

import ghhttp as G


pytestmark = pytest.mark.usefixtures("fresh_fake")  # fake, server: tests/http/conftest.py


def hamming(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def stable(doc):
    """The parts of an answer that a cache hit must repeat."""
    return {k: v for k, v in doc.items()
            if k not in ("request_id", "identification_id", "cached", "cache",
                         "processing_time_ms")}


def analyze_ok(server, data, **kw):
    r = server.analyze(data, **kw)
    assert r.status == 200, r
    return r.json()


def wait_for(pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.05)


@pytest.mark.asan
def test_identical_bytes_memory_hit(server, fake, photos):
    data = photos[0]
    calls = fake.calls()
    first = analyze_ok(server, data)
    assert first["cached"] is False and first["cache"] is None
    assert fake.calls() == calls + 1
    second = analyze_ok(server, data)
    assert second["cached"] is True
    assert second["cache"] == {"layer": "memory", "distance": 0}
    assert fake.calls() == calls + 1
    assert stable(second) == stable(first)
    assert second["request_id"] != first["request_id"]


@pytest.mark.asan
def test_reencoded_copy_near_hit(server, fake, photos):
    original = photos[1]
    copy = G.reencode(original, "JPEG", quality=85)
    assert copy != original
    calls = fake.calls()
    first = analyze_ok(server, original)
    assert first["cached"] is False
    second = analyze_ok(server, copy)
    assert fake.calls() == calls + 1
    assert second["cached"] is True
    assert second["cache"]["layer"] == "near"
    assert 0 <= second["cache"]["distance"] <= 4
    assert second["equipment"]["slug"] == first["equipment"]["slug"] == G.ANSWER
    assert second["image"]["sha256"] == G.sha256(copy) != first["image"]["sha256"]
    assert hamming(second["image"]["phash"], first["image"]["phash"]) == \
        second["cache"]["distance"]
    # the copy is now known by its own bytes
    third = analyze_ok(server, copy)
    assert third["cache"]["layer"] == "memory"
    assert third["image"]["sha256"] == G.sha256(copy)


def test_without_memory_layer_exact_hit(procs, binary, fake, photos):
    s = procs.server(binary, provider=fake, args=["--lru-entries", "0"])
    calls = fake.calls()
    first = analyze_ok(s, photos[3])
    for _ in range(2):
        doc = analyze_ok(s, photos[3])
        assert doc["cache"] == {"layer": "exact", "distance": 0}
        assert stable(doc) == stable(first)
    assert fake.calls() == calls + 1
    st = s.stats()
    assert st["layers"]["exact"]["hits"] == 2 and st["layers"]["memory"]["hits"] == 0


def test_different_photo_misses(server, fake, photos):
    a, b = photos[2], photos[3]
    calls = fake.calls()
    da = analyze_ok(server, a)
    db = analyze_ok(server, b)
    assert hamming(da["image"]["phash"], db["image"]["phash"]) > 4, "test photos too alike"
    assert da["cached"] is False and db["cached"] is False
    assert fake.calls() == calls + 2


def test_nocache_asks_provider_again(server, fake, photos):
    data = photos[4]
    analyze_ok(server, data)
    calls = fake.calls()
    for value in ("true", "1", "yes"):
        doc = analyze_ok(server, data, query="nocache=" + value)
        assert doc["cached"] is False and doc["cache"] is None, value
    assert fake.calls() == calls + 3
    doc = analyze_ok(server, data, query="nocache=false")
    assert doc["cached"] is True
    assert fake.calls() == calls + 3


def test_cache_stats_move(server, fake, photos):
    before = server.stats()
    for key in ("entries", "live_entries", "expired", "hit_rate", "misses", "requests",
                "provider_errors", "layers", "history"):
        assert key in before, key
    a, b = photos[5], photos[6]
    b_copy = G.reencode(b, "JPEG", quality=85)
    analyze_ok(server, a)            # miss
    analyze_ok(server, a)            # memory
    analyze_ok(server, b)            # miss
    analyze_ok(server, b_copy)       # near
    fake.control(mode="malformed")
    r = server.analyze(photos[7])    # miss, provider error
    G.is_problem(r, 502, "provider_error")
    after = server.stats()
    d = lambda *path: _get(after, path) - _get(before, path)  # noqa: E731
    assert d("misses") == 3
    assert d("layers", "memory", "hits") == 1
    assert d("layers", "near", "hits") == 1
    assert d("layers", "exact", "hits") == 0
    assert d("layers", "coalesced", "hits") == 0
    assert d("provider_errors") == 1
    assert d("requests") == 5
    # a store row per provider answer; the near hit's bytes are learnt by the memory layer
    assert d("entries") == 2 and d("live_entries") == 2
    assert d("layers", "memory", "entries") == 3
    assert d("tokens", "prompt") == 2 * 812 and d("tokens", "completion") == 2 * 23
    hits = sum(after["layers"][k]["hits"] for k in ("memory", "exact", "near", "coalesced"))
    assert abs(after["hit_rate"] - hits / (hits + after["misses"])) < 1e-6  # 6 digits
    assert after["newest"] is not None and after["oldest"] is not None
    # the history is written in the background: the 4 answers arrive there soon
    assert wait_for(lambda: server.stats()["history"]["identifications"]
                    - before["history"]["identifications"] == 4), server.stats()
    assert server.stats()["history"]["provider_calls"] - before["history"]["provider_calls"] == 2


def _get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


def test_ttl_expiry(procs, binary, fake, photos):
    s = procs.server(binary, provider=fake, args=["--cache-ttl-seconds", "3"])
    data = photos[8]
    calls = fake.calls()
    assert analyze_ok(s, data)["cached"] is False
    assert analyze_ok(s, data)["cached"] is True
    assert fake.calls() == calls + 1
    time.sleep(4)
    st = s.stats()
    assert st["expired"] == 1 and st["live_entries"] == 0, st
    doc = analyze_ok(s, data)
    assert doc["cached"] is False and doc["cache"] is None
    assert fake.calls() == calls + 2
    # the fresh answer is cached again
    assert analyze_ok(s, data)["cache"] == {"layer": "memory", "distance": 0}
    assert fake.calls() == calls + 2


def _concurrent(server, data, n=10, timeout=30):
    results = [None] * n
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        try:
            results[i] = server.analyze(data, timeout=timeout)
        except Exception as e:  # reported below
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 30)
    for r in results:
        assert isinstance(r, G.Response) and r.status == 200, r
    return [r.json() for r in results]


def _wait_for(what, check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "no %s within %ss" % (what, timeout)
        time.sleep(0.05)


@pytest.mark.asan
def test_concurrent_identical_uploads_coalesce(procs, binary, fake, photos):
    """With a worker for each, 10 identical uploads in flight make one provider call. The fake
    holds that call until the server shows the 9 others waiting for it, so the test does not
    depend on how fast the uploads arrive."""
    s = procs.server(binary, provider=fake, args=["--workers", "16"])
    fake.control(mode="hold")
    calls = fake.calls()
    box = {}
    t = threading.Thread(target=lambda: box.update(docs=_concurrent(s, photos[9], timeout=120)))
    t.start()
    try:
        _wait_for("held provider call", lambda: fake.held() == 1)
        _wait_for("9 requests waiting for it",
                  lambda: s.stats()["layers"]["coalesced"]["waiting"] == 9)
        assert fake.calls() == calls + 1
    finally:
        fake.release()
        t.join(180)
    docs = box["docs"]
    assert fake.calls() == calls + 1
    assert {d["equipment"]["slug"] for d in docs} == {G.ANSWER}
    assert len({d["image"]["sha256"] for d in docs}) == 1
    fresh = [d for d in docs if not d["cached"]]
    assert len(fresh) == 1
    layers = sorted(d["cache"]["layer"] for d in docs if d["cached"])
    assert layers == ["coalesced"] * 9, layers
    st = s.stats()
    assert st["layers"]["coalesced"]["hits"] == 9 and st["misses"] == 1
    assert st["layers"]["coalesced"]["waiting"] == 0


def test_concurrent_identical_uploads_queued(server, fake, photos):
    """With the default 4 workers, 10 identical uploads in flight still make one provider
    call; those that waited in the queue are served the stored answer of the very same bytes,
    which is an exact-key (or memory, or coalesced) hit, not a near-duplicate one."""
    fake.control(mode="slow", slow_seconds=1.0)
    calls = fake.calls()
    docs = _concurrent(server, photos[10])
    assert fake.calls() == calls + 1
    assert {d["equipment"]["slug"] for d in docs} == {G.ANSWER}
    assert sum(1 for d in docs if not d["cached"]) == 1
    layers = sorted(d["cache"]["layer"] for d in docs if d["cached"])
    assert set(layers) <= {"coalesced", "memory", "exact"}, layers


@pytest.mark.asan
def test_persistence_across_restart(procs, binary, fake, photos, tmp_path):
    db = tmp_path / "persist.db"
    a, b = photos[11], photos[0]
    s1 = procs.server(binary, db=db, provider=fake)
    calls = fake.calls()
    first = analyze_ok(s1, a)
    analyze_ok(s1, a)  # a memory hit, recorded in the history too
    analyze_ok(s1, b)
    assert fake.calls() == calls + 2
    assert s1.stop() == 0
    assert not s1.sanitizer_reports()

    s2 = procs.server(binary, db=db, provider=fake)
    st = s2.stats()
    assert st["entries"] == 2 and st["live_entries"] == 2, st
    assert st["history"]["identifications"] == 3, st
    assert st["history"]["provider_calls"] == 2, st
    doc = analyze_ok(s2, a)
    assert doc["cached"] is True and doc["cache"] == {"layer": "exact", "distance": 0}
    assert stable(doc) == stable(first)
    doc = analyze_ok(s2, a)
    assert doc["cache"]["layer"] == "memory"
    near = analyze_ok(s2, G.reencode(b, "JPEG", quality=85))
    assert near["cached"] is True and near["cache"]["layer"] == "near"
    assert fake.calls() == calls + 2
    st = s2.stats()
    assert st["layers"]["exact"]["hits"] == 1 and st["misses"] == 0
