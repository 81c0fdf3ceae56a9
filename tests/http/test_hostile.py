# SPDX-License-Identifier: MIT
"""Hostile clients (issue 10): one test per attack on the server's own defences — request
smuggling and other framing tricks, control bytes in the path, oversize bodies (whose 413 must
reach a client that sends the whole body first), slow headers (slowloris), slow and unfinished
uploads against the upload-memory budget, many connections from one address while another
address keeps being served, and idle keep-alive connections going first near the limit.

Two client addresses on loopback: 127.0.0.1 plays the attacker, 127.0.0.2 everyone else.
Timing is asserted only as generous deadlines against hangs; the numbers are in `make bench`."""
import http.client
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

import ghhttp as G

pytestmark = [pytest.mark.asan, pytest.mark.tsan]

ATTACKER = "127.0.0.1"
OTHER = "127.0.0.2"


def connect(port, source=ATTACKER, timeout=10.0):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))


def read_all(s, timeout=10.0):
    """Whatever comes back until the server closes (or timeout)."""
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            c = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not c:
            break
        chunks.append(c)
    return b"".join(chunks)


def closed_within(s, timeout):
    """True when the server closes s (EOF or reset) within timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if s.recv(65536) == b"":
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def problem_code(raw):
    body = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""
    try:
        return json.loads(body).get("code")
    except ValueError:
        return None


def get_from(port, path, source=OTHER, timeout=10.0, headers=None):
    """A GET from the given source address, as (status, headers text, body)."""
    s = connect(port, source, timeout)
    try:
        extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n"
                   % (path, extra)).encode())
        raw = read_all(s, timeout)
    finally:
        s.close()
    return G.status_of(raw), raw


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def server(binary, module_procs, photos):
    return module_procs.server(binary, env={
        "MAX_CONNECTIONS_PER_CLIENT": "16", "HEADER_TIMEOUT_S": "2", "UPLOAD_GRACE_S": "1",
        "UPLOAD_MIN_RATE_KBPS": "64", "UPLOAD_MEMORY_MB": "40"})


# --- framing and hygiene -----------------------------------------------------------------

FEEDBACK = "/api/v1/identifications/1/feedback"


def test_two_content_lengths_are_refused(server):
    body = b'{"slug":"barbell"}'
    for lengths in (("18", "5"), ("18", "18")):
        raw = G.raw_exchange(server.port, (
            "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: %s\r\nContent-Length: %s\r\n\r\n" % ((FEEDBACK,) + lengths)).encode()
            + body + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert G.status_of(raw) == 400, raw[:300]
        assert problem_code(raw) == "invalid_framing"
        assert G.statuses_of(raw) == [400], "the smuggled request was answered: %r" % raw[:600]


def test_transfer_encoding_with_content_length_is_refused(server):
    raw = G.raw_exchange(server.port, (
        "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        % FEEDBACK).encode())
    assert G.statuses_of(raw) == [400], raw[:600]
    assert problem_code(raw) == "invalid_framing"


def test_content_length_that_is_no_number_is_refused(server):
    raw = G.raw_exchange(server.port, (
        "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 1e3\r\n\r\n{}" % FEEDBACK).encode())
    assert G.status_of(raw) == 400, raw[:300]


@pytest.mark.parametrize("path", ["/health%00", "/api/v1/equipment/%0d%0aSet-Cookie:x",
                                  "/api/v1/equipment?q=%01", "/%7f"])
def test_control_bytes_in_the_path_are_refused(server, path):
    status, raw = get_from(server.port, path)
    assert status == 400, raw[:300]
    assert problem_code(raw) == "invalid_path"


def test_json_route_wants_a_json_content_type(server):
    r = server.request("POST", FEEDBACK, b"slug=barbell",
                       {"Content-Type": "application/x-www-form-urlencoded"})
    assert G.is_problem(r, 415, "unsupported_media_type")
    r = server.request("POST", FEEDBACK, b'{"slug":"barbell"}', {"Content-Type": "text/plain"})
    assert G.is_problem(r, 415, "unsupported_media_type")


def test_json_route_body_cap(server):
    """A 4 MB JSON body to the feedback route is refused with 413 from its Content-Length, and
    the answer reaches urllib, which sends the whole body before reading."""
    big = b'{"slug":"' + b"a" * (4 << 20) + b'"}'
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (server.port, FEEDBACK), data=big,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 413
    assert json.loads(e.value.read())["code"] == "payload_too_large"
    r = server.request("POST", FEEDBACK, b'{"slug":"' + b"a" * 17000 + b'"}',
                       {"Content-Type": "application/json"})
    assert G.is_problem(r, 413, "payload_too_large")


def test_oversize_upload_413_reaches_a_client_that_sends_first(server):
    """No Expect: 100-continue: the client writes all 11 MB, then reads. The server reads and
    drops the body (lingering close) so the 413 arrives instead of a broken pipe."""
    body = os.urandom(11 * 1000 * 1000)
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        c.request("POST", "/api/v1/analyze", body=body, headers={"Content-Type": "image/jpeg"})
        r = c.getresponse()
        assert r.status == 413
        assert json.loads(r.read())["code"] == "payload_too_large"
    finally:
        c.close()
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1/analyze" % server.port, data=body,
                                 headers={"Content-Type": "image/jpeg"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=60)
    assert e.value.code == 413


def test_oversize_upload_with_expect_is_refused_before_the_body(server):
    raw = G.raw_exchange(server.port, (
        "POST /api/v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        "Content-Length: 50000000\r\nExpect: 100-continue\r\n\r\n").encode())
    assert G.statuses_of(raw) == [413], raw[:300]


def upload_head(length):
    """The headers of an upload declaring length bytes, with none of them sent."""
    return (b"POST /api/v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: %d\r\n\r\n" % length)


def read_response(s, timeout=10.0):
    """One answer read as an HTTP client reads it: headers, then Content-Length bytes; the
    connection may stay open after it."""
    data, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"(?im)^content-length: *(\d+)", head)
            if m and len(body) >= int(m.group(1)):
                return data
        s.settimeout(max(0.01, deadline - time.monotonic()))
        c = s.recv(65536)
        if not c:
            break
        data += c
    return data


def test_come_back_later_holds_the_end_of_a_refused_upload(binary, procs):
    """A refused upload's answer arrives at once. After 503 server_busy (or 429), which say
    "come back later", the end of the connection is held until the client leaves or the
    lingering bound (5 s): an attacker that reconnects the moment it sees the close resent
    its refused uploads ~6,000 times a second in hostile_bench. Other refusals (413, 400)
    close at once, as before."""
    srv = procs.server(binary, env={"UPLOAD_MEMORY_MB": "1"})
    busy = connect(srv.port)
    large = connect(srv.port, OTHER)
    try:
        busy.sendall(upload_head(2000000))
        raw = read_response(busy)
        assert G.status_of(raw) == 503 and problem_code(raw) == "server_busy", raw[:300]
        large.sendall(upload_head(50000000))
        raw = read_response(large)
        assert G.status_of(raw) == 413, raw[:300]
        t0 = time.monotonic()
        assert closed_within(large, 5), "the 413's connection was not closed"
        assert not closed_within(busy, max(0.1, 1.5 - (time.monotonic() - t0))), \
            "the 503's connection ended at once"
        assert closed_within(busy, 15), "the 503's connection was held past the bound"
    finally:
        busy.close()
        large.close()


def test_held_refusals_leave_room_for_a_413_that_must_be_drained(binary, procs):
    """300 refused uploads whose clients stay until they see the end: held ends take half of
    the 256 lingering slots at most (the rest get their close at once), so a client that
    writes its whole 11 MB before reading still has a slot to be drained in and reads its 413,
    not a reset. (Clients that stay after the close can still fill the slots for LINGER_MS;
    then the 413 is lost, as it was before ends were held: the lingering close is bounded.)"""
    srv = procs.server(binary, env={"UPLOAD_MEMORY_MB": "1",
                                    "MAX_CONNECTIONS_PER_CLIENT": "1000"})
    held = []
    try:
        for _ in range(300):
            s = connect(srv.port)
            s.sendall(upload_head(2000000))
            raw = read_response(s)
            assert G.status_of(raw) == 503, raw[:300]
            held.append(s)
        ended, deadline = [], time.monotonic() + 10  # libmicrohttpd closes them in its own time
        while len(ended) < 300 - 128 and time.monotonic() < deadline:
            ended = [s for s in held if closed_within(s, 0.01)]
        assert 300 - 128 <= len(ended) < 300, "%d of 300 held refusals ended" % len(ended)
        for s in ended:  # as a client does (and hostile_bench's attackers) once it sees the end
            s.close()
            held.remove(s)
        time.sleep(0.3)  # the server sees those closes: their slots are free
        req = urllib.request.Request("http://127.0.0.1:%d/api/v1/analyze" % srv.port,
                                     data=os.urandom(11 * 1000 * 1000),
                                     headers={"Content-Type": "image/jpeg"}, method="POST")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=60)
        assert e.value.code == 413
    finally:
        for s in held:
            s.close()


def test_a_busy_keepalive_client_keeps_its_connection_when_crowded(binary, procs):
    """Past 90% of MAX_CONNECTIONS, a client at work on its keep-alive connection keeps it:
    answers no longer carry Connection: close (which made wrk reconnect for every hit under
    hostile_bench's attack and meet a full server). Idle connections still make room."""
    srv = procs.server(binary, env={"MAX_CONNECTIONS": "20", "MAX_CONNECTIONS_PER_CLIENT": "100",
                                    "HEADER_TIMEOUT_S": "30"})
    held = []
    try:
        for _ in range(18):  # 18 of 20, still sending their headers: crowded
            held.append(connect(srv.port))
            held[-1].sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.3)
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10,
                                       source_address=(OTHER, 0))
        answers = 0
        for _ in range(5):
            try:
                c.request("GET", "/api/v1/equipment/1")
                r = c.getresponse()
                r.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                # reaped while idle: this client paused over 200 ms near the limit (a loaded
                # machine), which the rule allows; the answers are what this test reads
                c.close()
                continue
            assert r.status == 200 and not r.will_close, (r.status, r.getheaders())
            answers += 1
        assert answers >= 3, "%d of 5 requests answered" % answers
        assert metric(srv.port, "gymhelper_http_connections") >= 18 + 1
        c.close()
    finally:
        for s in held:
            s.close()


# --- slow clients ------------------------------------------------------------------------

def test_slowloris_headers_are_dropped_at_the_deadline(server):
    """One header line per 0.5 s never trips an inactivity timeout; the absolute header
    deadline (HEADER_TIMEOUT_S=2) drops the connection anyway."""
    s = connect(server.port)
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        dropped = False
        while time.monotonic() - t0 < 15:
            try:
                s.sendall(b"X-a: b\r\n")
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
                break
            if closed_within(s, 0.5):
                dropped = True
                break
        assert dropped, "a header trickle outlived the header deadline"
    finally:
        s.close()


def test_slow_upload_is_dropped_and_logged_once(server):
    s = connect(server.port)
    try:
        s.sendall(b"POST /api/v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                  b"Content-Length: 1000000\r\n\r\n")
        t0 = time.monotonic()
        dropped = False
        while time.monotonic() - t0 < 15:  # 2 KB/s against a 64 KB/s minimum
            try:
                s.sendall(b"x" * 1000)
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
                break
            if closed_within(s, 0.5):
                dropped = True
                break
        assert dropped, "an upload at 2 KB/s was kept past the grace period"
    finally:
        s.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [l for l in server.log_lines() if "minimum upload rate" in l.get("msg", "")]
        if lines:
            break
        time.sleep(0.1)
    assert lines, server.stderr_text()[-2000:]


def test_unfinished_uploads_stay_within_the_upload_budget(binary, procs):
    """Ten 9.5 MB uploads that never finish against UPLOAD_MEMORY_MB=40: four fit, the rest
    get 503 server_busy with Retry-After from their headers; RSS grows by less than the
    budget + 64 MB (release build: the sanitizers' quarantine and shadow memory are RSS too),
    and /health answers from the other address throughout. A long grace period keeps the rate
    check from freeing budget during the test."""
    server = procs.server(binary, env={"UPLOAD_MEMORY_MB": "40", "UPLOAD_GRACE_S": "120"})
    before = rss_kb(server.proc.pid)
    socks, refused = [], 0
    chunk = os.urandom(1 << 20)
    try:
        for i in range(10):
            s = connect(server.port)
            socks.append(s)
            s.sendall(b"POST /api/v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                      b"Content-Length: 9500000\r\nExpect: 100-continue\r\n\r\n")
            s.settimeout(5)
            head = s.recv(4096)
            if head.startswith(b"HTTP/1.1 100"):
                for _ in range(9):  # 9 of 9.5 MB, then nothing
                    s.sendall(chunk)
            else:
                refused += 1
                assert G.status_of(head) == 503, head[:300]
                assert b"Retry-After:" in head and b"server_busy" in head, head[:600]
            status, raw = get_from(server.port, "/health")
            assert status == 200, raw[:300]
        assert 10 - refused == 4, "%d of 10 uploads admitted" % (10 - refused)
        grown = (rss_kb(server.proc.pid) - before) / 1024
        if binary.variant == "release":
            assert grown < 40 + 64, "RSS grew %.0f MB" % grown
    finally:
        for s in socks:
            s.close()


# --- many connections --------------------------------------------------------------------

def test_many_connections_from_one_address(server, photos):
    """200 connections from the attacker's address trickling headers (slowloris): it holds
    at most MAX_CONNECTIONS_PER_CLIENT (+ a small reserve) and the other address keeps
    getting /health and cache hits."""
    photo = G.jpeg_photos(1)[0]
    r = server.analyze(photo)
    assert r.status in (200, 503), r  # warm the LRU when a provider answers (none here)
    held, stop = [], threading.Event()

    def trickle():
        while not stop.is_set():
            for s in list(held):
                try:
                    s.sendall(b"X-a: b\r\n")
                except OSError:
                    held.remove(s)
            stop.wait(0.5)

    for _ in range(200):
        try:
            s = connect(server.port, timeout=2)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        except OSError:
            pass
    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        time.sleep(0.5)
        open_now = [s for s in held if not closed_within(s, 0.01)]
        # the limit and the reserve told 503: each accept counts before the next one is decided
        assert len(open_now) <= 16 + 4, "%d attacker connections held" % len(open_now)
        for _ in range(20):
            status, raw = get_from(server.port, "/health", timeout=5)
            assert status == 200, raw[:300]
            status, raw = get_from(server.port, "/api/v1/equipment/1", timeout=5)
            assert status == 200, raw[:300]
    finally:
        stop.set()
        t.join()
        for s in held:
            s.close()


def metric(port, name):
    """A sample of /metrics (fetched from OTHER, over one connection of its own)."""
    status, raw = get_from(port, "/metrics")
    assert status == 200, raw[:300]
    m = re.search(rb"^%s (\S+)$" % name.encode(), raw, re.M)
    assert m, raw[-2000:]
    return float(m.group(1))


def wait_until_idle(port, timeout=15.0):
    """Waits until the server counts no connection but the one asking: those an earlier test
    held are closed and counted out (the server notices closes asynchronously). Getting
    /health once is not enough: it only says fewer than the limit are still counted, and
    the next test's own connections then went past the reserve."""
    deadline = time.monotonic() + timeout
    while metric(port, "gymhelper_http_connections") != 1:
        assert time.monotonic() < deadline, "connections still counted %ss later" % timeout
        time.sleep(0.1)


def test_over_the_per_client_limit_is_told_503(server):
    """Connections past MAX_CONNECTIONS_PER_CLIENT but within the reserve get a clear 503
    server_busy with Retry-After when their headers arrive."""
    socks = []
    wait_until_idle(server.port)
    try:
        for _ in range(17):
            socks.append(connect(server.port))
        time.sleep(0.2)
        socks[-1].sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = read_all(socks[-1], 5)
        assert G.status_of(raw) == 503, raw[:300]
        assert problem_code(raw) == "server_busy"
        assert b"Retry-After: " in raw
    finally:
        for s in socks:
            s.close()


def test_connections_are_counted_from_accept_to_close(binary, procs):
    """Each connection counts from its accept, before the next accept is decided: a burst of 30
    from one address gets exactly MAX_CONNECTIONS_PER_CLIENT and the reserve, the rest closed at
    accept; and every count goes back when the sockets close, however fast they come and go
    (the gauge then shows only the /metrics request's own connection)."""
    srv = procs.server(binary, env={"MAX_CONNECTIONS_PER_CLIENT": "8"})
    socks = []
    try:
        for _ in range(30):
            socks.append(connect(srv.port))
        time.sleep(0.3)
        open_now = [s for s in socks if not closed_within(s, 0.01)]
        assert len(open_now) == 8 + 4, "%d of 30 held" % len(open_now)
        assert metric(srv.port, "gymhelper_http_connections") == 8 + 4 + 1
        assert metric(srv.port, "gymhelper_http_connections_refused_total") == 30 - 12
    finally:
        for s in socks:
            s.close()
    for _ in range(300):  # churn: connect and leave, with and without a request
        s = connect(srv.port)
        if _ % 2:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()
    deadline = time.monotonic() + 10
    while metric(srv.port, "gymhelper_http_connections") != 1:
        assert time.monotonic() < deadline, "connections still counted after their close"
        time.sleep(0.1)


def test_idle_keepalive_connections_go_first(binary, procs):
    srv = procs.server(binary, env={"MAX_CONNECTIONS": "20", "MAX_CONNECTIONS_PER_CLIENT": "100"})
    idle = []
    try:
        for _ in range(17):
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            c.request("GET", "/api/v1/equipment/1")
            r = c.getresponse()
            r.read()
            assert r.status == 200
            idle.append(c)
        for _ in range(2):  # 19 open: past 90% of MAX_CONNECTIONS
            idle.append(http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10))
            idle[-1].connect()
        deadline = time.monotonic() + 10
        still = idle[:17]
        while time.monotonic() < deadline and still:
            still = [c for c in still if not closed_within(c.sock, 0.05)]
        assert len(still) < 17, "no idle keep-alive connection was closed near the limit"
    finally:
        for c in idle:
            c.close()


def test_a_flood_from_many_addresses_leaves_room_for_others(binary, procs):
    """Issue 10's flood: ten addresses each within MAX_CONNECTIONS_PER_CLIENT fill the whole
    server (past MAX_CONNECTIONS and its reserve) with connections that trickle their headers.
    A client holding little still gets in, by taking the place of a busier address's
    header-stage connection: /health and the catalogue keep answering from other addresses,
    and the flood keeps most of what it holds (it is shed, not shut out)."""
    srv = procs.server(binary, env={"MAX_CONNECTIONS": "60", "MAX_CONNECTIONS_PER_CLIENT": "16",
                                    "HEADER_TIMEOUT_S": "60"})
    held, stop = [], threading.Event()

    def trickle():
        while not stop.is_set():
            for s in list(held):
                try:
                    s.sendall(b"X-a: b\r\n")
                except OSError:
                    held.remove(s)
            stop.wait(0.5)

    for i in range(10 * 20):  # 16 per address and the per-client reserve: 200 tried
        try:
            s = connect(srv.port, source="127.0.1.%d" % (1 + i % 10), timeout=2)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        except OSError:
            pass
    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        time.sleep(0.5)
        flood = len([s for s in held if not closed_within(s, 0.01)])
        # full: MAX_CONNECTIONS + the 64 told 503 at their headers (some per-client reserves
        # and drops between attackers aside)
        assert flood >= 100, "the flood holds only %d connections" % flood
        answers = []
        for i in range(20):
            status, raw = get_from(srv.port, "/health", source="127.0.0.%d" % (2 + i % 2),
                                   timeout=10)
            answers.append(status)
            status, raw = get_from(srv.port, "/api/v1/equipment/1", source="127.0.0.4",
                                   timeout=10)
            answers.append(status)
        assert answers == [200] * 40, (answers, raw[-400:])
        after = len([s for s in held if not closed_within(s, 0.01)])
        assert after >= flood - 2 * 40 - 10, (flood, after)  # about one shed per answer
        drops = [x for x in srv.log_lines()
                 if "busiest address" in x.get("msg", "")]
        assert drops, "no log line says a flooding connection was dropped to make room"
    finally:
        stop.set()
        t.join()
        for s in held:
            s.close()
