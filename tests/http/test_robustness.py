# SPDX-License-Identifier: MIT
"""No crash, hang or server error for hostile or broken clients: malformed HTTP over raw
sockets, random bodies under every content type, mutated multipart uploads and slow clients.
The whole module also runs against the ASan build (with smaller counts), whose server must
then stop with exit status 0 and no AddressSanitizer, UBSan or LeakSanitizer report.

Random cases come from fixed seeds, so a failure names a case that can be replayed."""
import concurrent.futures
import random
import socket
import time

import pytest

import ghhttp as G

pytestmark = pytest.mark.asan  # fake, server: tests/http/conftest.py

# Statuses at or above 500 that are a fair answer to a broken request (sent by
# libmicrohttpd itself): 505 HTTP Version Not Supported, 501 Not Implemented.
OK_5XX = {501, 505}


@pytest.fixture(scope="module")
def counts(variant):
    if variant == "asan":
        return {"raw": 60, "bodies": 4, "multipart": 30, "slow": 8}
    return {"raw": 200, "bodies": 15, "multipart": 100, "slow": 20}


@pytest.fixture(scope="module")
def small_photo():
    rows = [r for r in G.photo_rows() if r["format"] == "jpeg" and int(r["bytes"]) < 8000]
    assert rows, "no small JPEG among the test photos"
    return G.photo_bytes(rows[0])


def server_errors(raw):
    return [s for s in G.statuses_of(raw) if s >= 500 and s not in OK_5XX]


def healthy(server):
    assert server.alive(), "server died:\n" + server.stderr_text()[-4000:]
    r = server.get("/health", timeout=10)  # the timeout is the bound against a hang
    assert r.status == 200, r


# --- malformed HTTP over raw sockets ---------------------------------------------------------

METHODS = [b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"get", b"G\x00T",
           b"", b"X" * 300, b"CONNECT", b"TRACE", b"POST\t"]
PATHS = [b"/health", b"/api/v1/analyze", b"/api/v1/equipment", b"/api/v1/equipment/barbell",
         b"/api/v1/cache/stats", b"*", b"", b"http://h/health", b"/" + b"a" * 70000,
         b"/%00", b"/api/v1/equipment/%ff%fe", b"/api/v1/equipment?q=%zz&category", b"/..//../",
         b"/api/v1/analyze?top_k=%00&nocache=%", b"/\xff\xfe", b"/health#frag", b"health"]
VERSIONS = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/0.9", b"HTTP/2.0", b"HTTP/1.1x", b"http/1.1", b"",
            b"HTTP/1.1 extra", b"HTTP/11.1", b"HTTP/"]
CONTENT_LENGTHS = [b"-1", b"abc", b"1e3", b"99999999999999999999999", b"18446744073709551616",
                   b"0x10", b" 5", b"5 5", b"", b"+5", b"00000000000000000005"]


def _request(method, path, version, headers=(), body=b""):
    line = method + b" " + path + (b" " + version if version else b"")
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


def malformed_request(rng):
    """(bytes to send, how to end: "read" reads what comes back until the server closes or a
    short timeout, "close" goes away without reading)."""
    kind = rng.randrange(11)
    host = b"Host: t"
    if kind == 0:  # garbage request line
        n = rng.randrange(1, 300)
        junk = bytes(rng.randrange(256) for _ in range(n))
        return junk + b"\r\n\r\n", "read"
    if kind == 1:  # odd method / path / version combinations
        return _request(rng.choice(METHODS), rng.choice(PATHS), rng.choice(VERSIONS),
                        [host]), "read"
    if kind == 2:  # one huge header
        size = rng.choice([8 * 1024, 64 * 1024, 300 * 1024])
        return _request(b"GET", b"/health", b"HTTP/1.1",
                        [host, b"X-Big: " + b"b" * size]), "read"
    if kind == 3:  # very many headers
        n = rng.choice([100, 1000, 5000])
        return _request(b"GET", b"/health", b"HTTP/1.1",
                        [host] + [b"X-H%d: v" % i for i in range(n)]), "read"
    if kind == 4:  # invalid Content-Length
        cl = rng.choice(CONTENT_LENGTHS)
        hs = [host, b"Content-Type: image/jpeg", b"Content-Length: " + cl]
        if rng.random() < 0.3:
            hs.append(b"Content-Length: 3")
        if rng.random() < 0.3:
            hs.append(b"Transfer-Encoding: chunked")
        return _request(b"POST", b"/api/v1/analyze", b"HTTP/1.1", hs, b"\xff\xd8\xff"), "read"
    if kind == 5:  # a truncated body, then the client goes away
        n = rng.randrange(10, 100000)
        body = b"\xff\xd8\xff" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        return _request(b"POST", b"/api/v1/analyze", b"HTTP/1.1",
                        [host, b"Content-Type: image/jpeg", b"Content-Length: %d" % n],
                        body[:n - 1]), "close"
    if kind == 6:  # broken chunked encoding
        chunks = rng.choice([b"zz\r\nabc\r\n0\r\n\r\n", b"ffffffffffffffffff\r\nabc\r\n",
                             b"-5\r\nabc\r\n", b"3\r\nabcdef\r\n0\r\n\r\n", b"3;ext=\x00\r\nabc",
                             b"0\r\nTrailer: x\r\n\r\n", b"1\r\n"])
        return _request(b"POST", b"/api/v1/analyze", b"HTTP/1.1",
                        [host, b"Content-Type: image/jpeg", b"Transfer-Encoding: chunked"],
                        chunks), rng.choice(["read", "close"])
    if kind == 7:  # pipelined: good and bad requests in one write
        parts = [_request(b"GET", b"/health", b"HTTP/1.1", [host]),
                 _request(b"GET", b"/nope", b"HTTP/1.1", [host]),
                 b"GARBAGE\r\n\r\n",
                 _request(b"POST", b"/api/v1/analyze", b"HTTP/1.1",
                          [host, b"Content-Length: 4", b"Content-Type: image/png"], b"\x89PN")]
        rng.shuffle(parts)
        return b"".join(parts[:rng.randrange(2, 5)]), "read"
    if kind == 8:  # byte flips in a valid request
        base = bytearray(_request(b"GET", b"/api/v1/equipment?category=cardio", b"HTTP/1.1",
                                  [host, b"Accept-Encoding: gzip", b"X-Request-ID: abc"]))
        for _ in range(rng.randrange(1, 6)):
            base[rng.randrange(len(base))] = rng.randrange(256)
        return bytes(base), "read"
    if kind == 9:  # headers cut short, then the client goes away
        full = _request(b"POST", b"/api/v1/analyze", b"HTTP/1.1",
                        [host, b"Content-Type: multipart/form-data; boundary=x",
                         b"Content-Length: 100"])
        return full[:rng.randrange(1, len(full))], rng.choice(["read", "close"])
    # bad header syntax
    bad = rng.choice([b"NoColon", b": empty-name", b"X-A:\x00nul", b" leading: space",
                      b"X-Fold: a\r\n folded", b"X-Bin: \xff\xfe", b"Host: a\r\nHost: b",
                      b"X-Request-ID: " + b"r" * 5000, b"Accept-Encoding: " + b"gzip," * 2000,
                      b"Expect: 100-continue", b"Expect: bogus", b"Content-Type: " + b"m" * 9000])
    return _request(b"GET", b"/health", b"HTTP/1.1", [host, bad]), "read"


def send_case(port, data, how, timeout):
    """Sends one case. Clients never half-close and wait a moment before going away: a
    client that closes in the same instant as it sends an incomplete body trips the bug that
    test_lifecycle.py::test_client_abort_mid_upload_does_not_delay_shutdown shows, which
    would make every later shutdown here wait 30 s."""
    if how == "close":
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            s.sendall(data)
            time.sleep(0.2)
        except OSError:
            pass
        s.close()
        return b""
    return G.raw_exchange(port, data, timeout=timeout)


def test_malformed_http_requests(server, counts):
    rng = random.Random(20261127)
    cases = [malformed_request(rng) for _ in range(counts["raw"])]
    t0 = time.monotonic()
    failures = []
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futs = {pool.submit(send_case, server.port, data, how, 0.7): (i, data)
                for i, (data, how) in enumerate(cases)}
        for fut in concurrent.futures.as_completed(futs):
            i, data = futs[fut]
            try:
                raw = fut.result()
            except OSError as e:  # refused or reset: the server may have died
                failures.append("case %d %r: %r" % (i, data[:120], e))
                continue
            errs = server_errors(raw)
            if errs:
                failures.append("case %d %r: server error %s" % (i, data[:120], errs))
    assert not failures, "\n".join(failures[:20])
    assert time.monotonic() - t0 < 40
    healthy(server)
    assert not [x for x in server.log_lines() if x.get("status", 0) == 500]


# --- random bodies under every content type --------------------------------------------------

CONTENT_TYPES = ["image/jpeg", "image/png", "image/webp", "application/octet-stream",
                 "multipart/form-data; boundary=rnd", "text/plain", None]
MAGIC = [b"", b"\xff\xd8\xff", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"\x89PNG\r\n\x1a\n",
         b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"RIFF\x10\x00\x00\x00WEBPVP8 ",
         b"RIFF\xff\xff\xff\xffWEBPVP8X", b"GIF89a", b"--rnd\r\n"]


def test_random_bodies(server, fake, counts):
    rng = random.Random(7)
    calls = fake.calls()
    failures = []
    for ctype in CONTENT_TYPES:
        for i in range(counts["bodies"]):
            n = rng.choice([1, 7, 100, 1000, 20000])
            body = rng.choice(MAGIC) + rng.randbytes(n)
            headers = {"Content-Type": ctype} if ctype else {}
            r = server.request("POST", "/api/v1/analyze", body, headers, timeout=10)
            if r.status not in (400, 415, 422):
                failures.append("%s #%d (%d bytes, %r...): %r" % (ctype, i, len(body),
                                                                   body[:16], r))
            elif r.content_type != "application/problem+json":
                failures.append("%s #%d: not a problem document: %r" % (ctype, i, r))
    assert not failures, "\n".join(failures[:20])
    assert fake.calls() == calls  # nothing random is worth a provider call
    healthy(server)


# --- mutated multipart uploads ---------------------------------------------------------------

def mutate(rng, body, boundary):
    b = bytearray(body)
    for _ in range(rng.randrange(1, 5)):
        op = rng.randrange(8)
        if not b:
            break
        i = rng.randrange(len(b))
        if op == 0:  # flip bytes
            for _ in range(rng.randrange(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1:  # insert random bytes
            b[i:i] = rng.randbytes(rng.randrange(1, 64))
        elif op == 2:  # delete a range
            del b[i:i + rng.randrange(1, 512)]
        elif op == 3:  # duplicate a range
            b[i:i] = b[i:i + rng.randrange(1, 2048)]
        elif op == 4:  # truncate
            del b[i:]
        elif op == 5:  # break a boundary
            j = b.find(boundary)
            if j >= 0:
                b[j + rng.randrange(len(boundary))] ^= 0x20
        elif op == 6:  # CRLF -> LF
            j = b.find(b"\r\n", i)
            if j >= 0:
                del b[j]
        else:  # insert boundary-like or header-like text
            b[i:i] = rng.choice([b"\r\n--" + boundary + b"\r\n", b"--" + boundary + b"--",
                                 b"\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n",
                                 b"\r\n\r\n", b"\"", b";", b"filename*=UTF-8''%ff"])
    return bytes(b)


def test_multipart_fuzzing(server, small_photo, counts):
    rng = random.Random(4242)
    boundary = "fuzzBoundary0123"
    body, ctype = G.multipart([("note", None, None, b"hello"),
                               ("file", "gym photo.jpg", "image/jpeg", small_photo)],
                              boundary=boundary)
    r = server.request("POST", "/api/v1/analyze", body, {"Content-Type": ctype})
    assert r.status == 200, r  # the unmutated form is fine
    failures = []
    statuses = {}
    for i in range(counts["multipart"]):
        data = mutate(rng, body, boundary.encode())
        ct = ctype
        if rng.random() < 0.1:
            ct = rng.choice(["multipart/form-data; boundary=", "multipart/form-data",
                             'multipart/form-data; boundary="fuzzBoundary0123"',
                             "multipart/form-data; boundary=" + "x" * 300,
                             "multipart/form-data; charset=utf-8; boundary=fuzzBoundary0123",
                             "MULTIPART/FORM-DATA; BOUNDARY=fuzzBoundary0123"])
        try:
            r = server.request("POST", "/api/v1/analyze", data, {"Content-Type": ct}, timeout=15)
        except OSError as e:
            failures.append("case %d: %r" % (i, e))
            continue
        statuses[r.status] = statuses.get(r.status, 0) + 1
        if r.status not in (200, 400, 413, 415, 422):
            failures.append("case %d (%d bytes, %s): %r" % (i, len(data), ct, r))
        elif r.status == 200:
            if r.json()["equipment"]["slug"] != G.ANSWER:
                failures.append("case %d: odd answer %r" % (i, r))
        elif r.content_type != "application/problem+json":
            failures.append("case %d: not a problem document: %r" % (i, r))
    assert not failures, "\n".join(failures[:20])
    assert len(statuses) >= 2, statuses  # the mutations did reach more than one outcome
    healthy(server)


# --- slow clients ----------------------------------------------------------------------------

def test_slow_clients_do_not_block_others(server, counts):
    """Slowloris: many connections trickle half a request; others are served meanwhile."""
    slow = []
    try:
        for i in range(counts["slow"]):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"POST /api/v1/analyze HTTP/1.1\r\nHost: t\r\nX-Slow-%d: " % i)
            slow.append(s)
        # a client that announced a body and sends only part of it
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(b"POST /api/v1/analyze HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
                  b"Content-Length: 100000\r\n\r\n\xff\xd8\xff")
        slow.append(s)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            for s in slow:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass
            r = server.get("/api/v1/health", timeout=10)  # answered, not held by the slow ones
            assert r.status == 200, r
            time.sleep(0.1)
        r = server.get("/api/v1/equipment/barbell")
        assert r.status == 200
    finally:
        for s in slow:
            s.close()
    healthy(server)


# --- clean exit ------------------------------------------------------------------------------

def test_clean_shutdown_after_abuse(server):
    """Last in this module: SIGTERM, exit status 0, no sanitizer report (ASan, UBSan, LSan)."""
    healthy(server)
    rc = server.stop()
    reports = server.sanitizer_reports()
    assert not reports, "sanitizer reports %s:\n%s" % (
        reports, G._sanitizer_excerpt(server.stderr_text()))
    assert rc == 0, "exit status %s; stderr:\n%s" % (rc, server.stderr_text()[-4000:])
    assert "stopped cleanly" in server.stderr_text()
