# SPDX-License-Identifier: MIT
"""The production shape on loopback: two `gymhelper serve` instances sharing one real PostgreSQL
and one real Redis behind Debian's nginx running deploy/nginx.conf — and the faults of issue 5:
PostgreSQL stopped mid-run and back, Redis stopped, and `kill -9` of one instance while it
writes. Nothing here is mocked but the AI provider (tests/fake_openai.py speaks the real
protocol). Clients reach nginx over TLS (HTTP/2 offered) with a certificate the tests make
(tests/servers/tls.py) and verify; the instances list nginx in TRUSTED_PROXIES, as in deploy/.

Instances run with LRU_ENTRIES=0 so that every hit has to come from the shared layers: a hit on
the other instance can only be Redis's or PostgreSQL's."""
import concurrent.futures
import gzip
import http.client
import io
import json
import random
import re
import socket
import ssl
import sys
import time
import warnings
from pathlib import Path

import pytest
from PIL import Image

import ghhttp as G

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers.nginx import Nginx  # noqa: E402
from servers.postgres import PostgresServer  # noqa: E402


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    srv = PostgresServer(tmp_path_factory.mktemp("pg")).start()
    yield srv
    srv.cleanup()


class Cluster:
    def __init__(self, procs, binary, pg, redis, db, env=None):
        self.pg, self.redis, self.db = pg, redis, db
        self.fake = procs.fake()
        env = dict({"REDIS_URL": redis.url(), "REDIS_TIMEOUT_MS": "200", "LRU_ENTRIES": "0",
                    "DATABASE_POOL_SIZE": "4", "DATABASE_MAX_OVERFLOW": "2",
                    "TRUSTED_PROXIES": "127.0.0.1"}, **(env or {}))
        url = self.url = pg.url(db)
        # One after the other: the second finds the schema migrated (both would be safe at
        # once too: migrations take an advisory lock; the store tests check that).
        self.a = procs.server(binary, provider=self.fake, args=["--database-url", url],
                              env=env)
        self.b = procs.server(binary, provider=self.fake, args=["--database-url", url],
                              env=env)
        self.nginx = Nginx(procs.tmp / "nginx", [("127.0.0.1", self.a.port),
                                                 ("127.0.0.1", self.b.port)]).start()

    def via_nginx(self, method, path, body=None, headers=None, timeout=30, source=None):
        """One request to nginx over HTTPS, verified against the test CA; source: the client's
        own loopback address (127.0.0.2, ...) to look like another client."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.nginx.port, timeout=timeout,
                                           context=self.nginx.ca.client_context(),
                                           source_address=(source, 0) if source else None)
        try:
            return G.request(self.nginx.port, method, path, body, headers, timeout, conn=conn)
        finally:
            conn.close()

    def analyze_via_nginx(self, data, timeout=30, headers=None):
        body, ctype = G.multipart([("file", "photo.jpg", "image/jpeg", data)])
        return self.via_nginx("POST", "/api/v1/analyze", body,
                              dict({"Content-Type": ctype}, **(headers or {})), timeout)

    def sql(self, query):
        return self.pg.psql(query, db=self.db)

    def stop(self):
        self.nginx.stop()


@pytest.fixture
def new_cluster(procs, release_binary, pg, redis, request):
    """new_cluster(env=None): two instances (env adds settings), nginx, a database of the
    test's own and the session's Redis, empty (the redis fixture: tests/http/conftest.py)."""
    made = []

    def make(env=None):
        name = "c_" + re.sub(r"[^a-z0-9]", "_", request.node.name.lower())[:40]
        pg.create_database(name)
        made.append(Cluster(procs, release_binary, pg, redis, name, env))
        return made[-1]

    try:
        yield make
    finally:
        for c in made:
            c.stop()
        if not pg.running():
            pg.start()


@pytest.fixture
def cluster(new_cluster):
    return new_cluster()


def noise_jpeg(seed, size=160):
    """A JPEG of random blocks: distinct images get far-apart pHashes."""
    rnd = random.Random(seed)
    small = Image.frombytes("L", (8, 8), bytes(rnd.randrange(256) for _ in range(64)))
    img = small.resize((size, size), Image.NEAREST).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def health(server):
    r = server.get("/api/v1/health")
    return r.status, r.json()


def wait_for(what, check, timeout=15.0, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for %s" % what, pytrace=False)
        time.sleep(step)


def test_one_cache_shared_by_two_instances_behind_nginx(cluster, photos):
    a, b, fake = cluster.a, cluster.b, cluster.fake
    first = cluster.analyze_via_nginx(photos[0])
    assert first.status == 200, first
    assert first.json()["cached"] is False
    assert fake.calls() == 1

    # Either instance now answers from the shared layers, with no second provider call.
    assert G.cache_layer(a.analyze(photos[0])) == "redis"
    assert G.cache_layer(b.analyze(photos[0])) == "redis"
    cluster.redis.command("FLUSHALL")
    assert G.cache_layer(b.analyze(photos[0])) == "exact"  # from PostgreSQL, and Redis learns it
    assert G.cache_layer(a.analyze(photos[0])) == "redis"
    assert fake.calls() == 1

    # nginx spreads requests over both instances and gzips JSON.
    for _ in range(6):
        assert cluster.via_nginx("GET", "/api/v1/health").status == 200
    served = [sum(1 for x in s.log_lines() if x.get("path") == "/api/v1/health")
              for s in (a, b)]
    assert min(served) >= 1, served
    r = cluster.via_nginx("GET", "/api/v1/equipment", headers={"Accept-Encoding": "gzip"})
    assert r.status == 200
    assert r.header("Content-Encoding") == "gzip"
    body = r.body if r.body[:2] != b"\x1f\x8b" else gzip.decompress(r.body)
    assert json.loads(body)["count"] >= 66

    # The size limit is the service's: nginx lets 11 MB through to a clear problem+json.
    big = photos[0] + b"\0" * (11 * 1000 * 1000)
    r = cluster.analyze_via_nginx(big)
    assert G.is_problem(r, 413, "payload_too_large"), r
    assert r.header("Strict-Transport-Security"), "nginx's own answers carry HSTS too"

    # The history of both instances is one table.
    ids = cluster.sql("SELECT count(*) FROM user_identifications").strip()
    wait_for("history rows", lambda: int(cluster.sql(
        "SELECT count(*) FROM user_identifications").strip()) >= 5)
    assert int(ids) >= 1


HSTS_MIN_S = 365 * 24 * 3600  # a year at least (deploy/nginx.conf sends two)


def hsts_max_age(r):
    m = re.search(r"max-age=(\d+)", r.header("Strict-Transport-Security") or "")
    return int(m.group(1)) if m else 0


def handshake(nginx, context, alpn=None):
    """(TLS version, ALPN protocol) nginx agrees to with context; raises ssl.SSLError."""
    if alpn:
        context.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", nginx.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.version(), tls.selected_alpn_protocol()


def test_gateway_tls_redirect_hsts_and_the_client_address(new_cluster):
    """Issue 10 item 9: nginx terminates TLS 1.2/1.3 with HTTP/2, plain HTTP only redirects,
    every answer carries HSTS, and the instances see the client's address (not nginx's, not a
    forged X-Forwarded-For): a client's rate limit leaves another client's untouched."""
    cluster = new_cluster({"RATE_LIMIT_REQUESTS_PER_MINUTE": "6",
                           "RATE_LIMIT_REQUESTS_BURST": "3"})
    nginx, ca = cluster.nginx, cluster.nginx.ca

    # Plain HTTP: a redirect to the same path and query over HTTPS, nothing proxied.
    for method in ("GET", "POST"):
        r = G.request(nginx.http_port, method, "/api/v1/equipment?category=cable", b"",
                      {"Content-Type": "application/json"})
        assert r.status == 301, r
        assert r.header("Location") == "https://127.0.0.1/api/v1/equipment?category=cable"
    assert not any(x.get("path") == "/api/v1/equipment"
                   for s in (cluster.a, cluster.b) for x in s.log_lines())

    # TLS: verified against the test CA (a client that does not trust it refuses), TLS 1.3 by
    # default, 1.2 allowed, 1.1 refused; HTTP/2 is offered by ALPN.
    assert handshake(nginx, ca.client_context(), ["h2", "http/1.1"]) == ("TLSv1.3", "h2")
    assert handshake(nginx, ca.client_context(maximum_version=ssl.TLSVersion.TLSv1_2),
                     ["http/1.1"]) == ("TLSv1.2", "http/1.1")
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(str(ca.ca))
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer 1.1; the server must refuse
    with warnings.catch_warnings():  # TLSv1_1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        handshake(nginx, old)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(nginx, ssl.create_default_context())

    r = cluster.via_nginx("GET", "/api/v1/health")
    assert r.status == 200 and r.json()["status"] == "ok", r
    assert hsts_max_age(r) >= HSTS_MIN_S, r.header("Strict-Transport-Security")
    r = cluster.via_nginx("GET", "/api/v1/equipment/no-such-thing")
    assert r.status == 404 and hsts_max_age(r) >= HSTS_MIN_S, "errors carry HSTS too"

    # The client address: 127.0.0.2 spends its burst (the buckets are shared through Redis,
    # whichever instance nginx picks); a forged X-Forwarded-For does not give it a new one;
    # 127.0.0.3 still has its own. Were the instances keying on nginx's address, 127.0.0.3
    # would be limited too.
    path = "/api/v1/equipment/lat-pulldown-machine"
    first = [cluster.via_nginx("GET", path, source="127.0.0.2").status for _ in range(6)]
    assert first[0] == 200 and 429 in first, first
    forged = cluster.via_nginx("GET", path, headers={"X-Forwarded-For": "198.51.100.7"},
                               source="127.0.0.2")
    assert forged.status == 429, forged
    assert forged.header("Retry-After"), forged
    assert cluster.via_nginx("GET", path, source="127.0.0.3").status == 200


def test_required_accounts_through_the_gateway(new_cluster, run_gymhelper, photos):
    """Issue 11 item 9: AUTH_MODE=required behind nginx over TLS — a user made with the CLI
    signs in through the gateway, analyses a photo and finds it in their history."""
    cluster = new_cluster({"AUTH_MODE": "required"})
    r = run_gymhelper(cluster.a.binary, "user", "add", "gina", "--password-stdin",
                      "--database-url", cluster.url, input=b"gina's long passphrase\n")
    assert r.returncode == 0, r

    r = cluster.analyze_via_nginx(photos[5])
    assert r.status == 401 and r.json()["code"] == "unauthorized", r
    login = json.dumps({"username": "gina", "password": "gina's long passphrase"}).encode()
    r = cluster.via_nginx("POST", "/api/v1/auth/login", login,
                          {"Content-Type": "application/json"})
    assert r.status == 200, r
    assert hsts_max_age(r) >= HSTS_MIN_S
    auth = {"Authorization": "Bearer " + r.json()["access_token"]}

    r = cluster.analyze_via_nginx(photos[5], headers=auth)
    assert r.status == 200, r
    request_id = r.json()["request_id"]
    # Whichever instance answered, the history is PostgreSQL's; the record may be written a
    # moment after the answer.
    wait_for("the analysis in gina's history", lambda: any(
        item.get("request_id") == request_id
        for item in cluster.via_nginx("GET", "/api/v1/identifications",
                                      headers=auth).json()["items"]))
    r = cluster.via_nginx("GET", "/api/v1/identifications")
    assert r.status == 401, r

    # The same sign-in over plain HTTP is only redirected: no instance sees the password.
    r = G.request(cluster.nginx.http_port, "POST", "/api/v1/auth/login", login,
                  {"Content-Type": "application/json"})
    assert r.status == 301 and r.header("Location").startswith("https://"), r
    logins = [x for s in (cluster.a, cluster.b) for x in s.log_lines()
              if x.get("path") == "/api/v1/auth/login"]
    assert len(logins) == 1, logins


def test_postgres_stopped_mid_run_then_back(cluster, photos):
    a, b, fake = cluster.a, cluster.b, cluster.fake
    assert G.cache_layer(a.analyze(photos[1])) is None  # stored in PostgreSQL and Redis
    assert health(a)[1]["store"]["ok"] is True

    cluster.pg.stop()
    # Known images still come from Redis; a new one is answered by the provider without the
    # cache; health says degraded (200: the instance still answers).
    assert G.cache_layer(b.analyze(photos[1])) == "redis"
    during = a.analyze(photos[2])
    assert during.status == 200, during
    during_id = during.json()["request_id"]
    status, doc = health(a)
    assert status == 200 and doc["status"] == "degraded", doc
    assert doc["store"]["ok"] is False and doc["store"]["detail"], doc
    # The history cannot be read without the database: a clear 503 (the request's 10 s timeout
    # is the bound against a hang; how fast is the benchmarks' business).
    r = a.get("/api/v1/identifications", timeout=10)
    G.is_problem(r, 503, "backend_unavailable")
    assert a.alive() and b.alive()

    cluster.pg.start()
    # Back without a restart: the pool reconnects, health turns ok, new answers are stored.
    wait_for("health ok on A", lambda: health(a)[1]["status"] == "ok")
    wait_for("health ok on B", lambda: health(b)[1]["status"] == "ok")
    assert G.cache_layer(a.analyze(photos[3])) is None
    cluster.redis.command("FLUSHALL")
    assert G.cache_layer(b.analyze(photos[3])) == "exact"
    # Nothing lost: the record of the analysis made during the outage reaches the history.
    wait_for("the outage's history record", lambda: cluster.sql(
        "SELECT count(*) FROM user_identifications WHERE request_id = '%s'"
        % during_id).strip() == "1")
    assert fake.calls() == 3


STORE_DEADLINE_S = 3.0  # the store's connect and query deadline (src/store/store.c)


def test_postgres_frozen_costs_one_timeout_not_one_per_request(cluster, photos):
    """A PostgreSQL that accepts connections and never answers (SIGSTOP) must not hold every
    request, nor the I/O thread that runs exact lookups, for the store's deadline: after one
    timeout the instance skips the store and probes it again now and then."""
    a, b = cluster.a, cluster.b
    cluster.pg.pause()
    try:
        first = a.analyze(noise_jpeg(101), timeout=30)
        assert first.status == 200, first
        assert first.elapsed >= STORE_DEADLINE_S * 0.8, "the first request waits one deadline"
        later = [a.analyze(noise_jpeg(102 + i), timeout=30) for i in range(3)]
        assert [r.status for r in later] == [200] * 3
        # Later requests skip the frozen store: at most one of them is the probe that waits a
        # deadline when the 1 s skip period ends (a loaded machine may get there), not each.
        waited = [r.elapsed for r in later if r.elapsed >= STORE_DEADLINE_S * 0.8]
        assert len(waited) <= 1, [r.elapsed for r in later]
        status, doc = health(a)
        assert status == 200 and doc["status"] == "degraded" and doc["store"]["ok"] is False
        assert len([x for x in a.log_lines()
                    if "store unavailable" in x.get("msg", "")]) == 1
    finally:
        cluster.pg.resume()
    wait_for("health ok on A", lambda: health(a)[1]["status"] == "ok", timeout=30, step=0.5)
    assert G.cache_layer(a.analyze(noise_jpeg(110))) is None
    cluster.redis.command("FLUSHALL")
    assert G.cache_layer(b.analyze(noise_jpeg(110))) == "exact"
    assert any("store back" in x.get("msg", "") for x in a.log_lines())


def test_redis_stopped_costs_no_errors(cluster, photos):
    a, b = cluster.a, cluster.b
    assert G.cache_layer(a.analyze(photos[4])) is None
    cluster.redis.stop()
    statuses = [cluster.analyze_via_nginx(photos[4]).status for _ in range(10)]
    assert statuses == [200] * 10
    assert G.cache_layer(b.analyze(photos[4])) == "exact"
    for s in (a, b):
        status, doc = health(s)
        assert status == 200 and doc["status"] == "degraded" and doc["redis"] == "down", doc
    cluster.redis.start()
    wait_for("redis back on B", lambda: health(b)[1]["redis"] == "ok", timeout=40)
    wait_for("a redis hit", lambda: G.cache_layer(b.analyze(photos[4])) == "redis", timeout=40,
             step=0.5)


def test_kill9_while_writing_leaves_no_corrupt_rows(cluster):
    a, b, fake = cluster.a, cluster.b, cluster.fake
    images = [noise_jpeg(i) for i in range(60)]
    answered = {}

    def send(i):
        try:
            r = a.analyze(images[i], timeout=10)
            if r.status == 200:
                answered[i] = r.json()
        except OSError:
            pass  # the instance died under this request

    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        futures = [ex.submit(send, i) for i in range(len(images))]
        wait_for("A to have answered a few", lambda: len(answered) >= 8, timeout=30, step=0.02)
        a.proc.kill()  # SIGKILL, in the middle of writes
        a.proc.wait()
        a.returncode = -9
        concurrent.futures.wait(futures)
    assert 8 <= len(answered) < len(images), len(answered)

    # B goes on, and nginx sends everything to it.
    for i in range(0, len(images), 6):
        r = cluster.analyze_via_nginx(images[i])
        assert r.status == 200, r
    assert b.alive()

    # Every row is whole: a 64-hex key, segments that match the pHash, an answer that parses
    # and names the row's equipment.
    rows = cluster.sql("SELECT sha256, phash, seg0, seg1, seg2, seg3, seg4, equipment_slug,"
                       " answer::text FROM equipment_cache").splitlines()
    assert len(rows) >= len(answered)
    for line in rows:
        sha, phash, *segs, slug, answer = line.split("|", 8)
        assert re.fullmatch(r"[0-9a-f]{64}", sha), line
        h = int(phash) & 0xFFFFFFFFFFFFFFFF
        shift, want = 64, []
        for width in (13, 13, 13, 13, 12):
            shift -= width
            want.append((h >> shift) & ((1 << width) - 1))
        assert [int(s) & 0xFFFF for s in segs] == want, line
        doc = json.loads(answer)
        assert isinstance(doc, dict)
        got = (doc.get("equipment") or {}).get("slug", "") if doc.get("identified") else ""
        assert got == slug, (slug, answer[:300])
    bad = cluster.sql("SELECT count(*) FROM user_identifications WHERE sha256 !~ '^[0-9a-f]{64}$'"
                      " AND sha256 <> ''").strip()
    assert bad == "0"

    # What A answered before it died was stored before the answer: B serves it from the
    # shared cache without asking the provider again.
    calls = fake.calls()
    cluster.redis.command("FLUSHALL")
    for i in list(answered)[:10]:
        assert G.cache_layer(b.analyze(images[i])) == "exact"
    assert fake.calls() == calls
