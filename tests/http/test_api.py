# SPDX-License-Identifier: MIT
"""The HTTP API route by route and status by status (DESIGN.md "HTTP API (v1)"), against a
server backed by tests/fake_openai.py, and one with no provider configured. Tests marked asan
also run against the ASan build."""
import gzip
import io
import json
import re
import socket
import time

import pytest
from PIL import Image

import ghhttp as G

HEX16 = re.compile(r"^[0-9a-f]{16}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
ANALYZE = "/api/v1/analyze"

pytestmark = pytest.mark.usefixtures("fresh_fake")  # fake, server: tests/http/conftest.py


@pytest.fixture(scope="module")
def bare(module_procs, binary):
    """A server with no provider configured (no OPENAI_API_KEY)."""
    return module_procs.server(binary)


def photo_size(data):
    return Image.open(io.BytesIO(data)).size


# --- health ----------------------------------------------------------------------------------

@pytest.mark.asan
@pytest.mark.parametrize("path", ["/health", "/api/v1/health"])
def test_health_ok_with_provider(server, path):
    r = server.get(path)
    assert r.status == 200, r
    assert r.content_type == "application/json"
    h = r.json()
    assert h["status"] == "ok", h
    assert h["provider"]["ready"] is True
    assert h["provider"]["name"] == "openai"
    assert h["provider"]["model"] == G.MODEL
    assert h["store"]["ok"] is True and h["store"]["backend"] == "sqlite"
    assert isinstance(h["version"], str) and h["version"]
    assert h["catalogue"]["equipment"] >= 60
    r = server.request("HEAD", path)
    assert r.status == 200 and r.body == b""


@pytest.mark.asan
def test_health_degraded_without_provider(bare):
    for path in ("/health", "/api/v1/health"):
        r = bare.get(path)
        assert r.status == 200, r
        h = r.json()
        assert h["status"] == "degraded", h
        assert h["provider"]["ready"] is False
        assert "OPENAI_API_KEY" in h["provider"]["detail"], h
        assert h["store"]["ok"] is True


# --- equipment -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalogue(server):
    r = server.get("/api/v1/equipment")
    assert r.status == 200, r
    return r.json()


@pytest.mark.asan
def test_equipment_list(catalogue):
    eq = catalogue["equipment"]
    assert len(eq) >= 60
    assert catalogue["count"] == len(eq)
    slugs = [e["slug"] for e in eq]
    assert len(set(slugs)) == len(slugs)
    ids = [e["id"] for e in eq]
    assert len(set(ids)) == len(ids) and all(isinstance(i, int) and i >= 1 for i in ids)
    cats = {c["id"] for c in catalogue["categories"]}
    for e in eq:
        assert e["category"] in cats, e["slug"]
        for field in ("name", "description"):
            assert isinstance(e[field], str) and e[field], (e["slug"], field)
        for field in ("primary_muscles", "instructions", "safety_tips"):
            assert isinstance(e[field], list) and e[field], (e["slug"], field)
    assert G.ANSWER in slugs
    assert isinstance(catalogue["catalogue_version"], str) and catalogue["catalogue_version"]


def test_equipment_filters(server, catalogue):
    total = catalogue["count"]

    def listing(query):
        r = server.get("/api/v1/equipment?" + query)
        assert r.status == 200, (query, r)
        doc = r.json()
        assert doc["count"] == len(doc["equipment"]), query
        return doc["equipment"]

    cardio = listing("category=cardio")
    assert 0 < len(cardio) < total
    assert all(e["category"] == "cardio" for e in cardio)
    assert {e["slug"] for e in cardio} == {e["slug"] for e in catalogue["equipment"]
                                          if e["category"] == "cardio"}
    quads = listing("muscle=quads")
    assert 0 < len(quads) < total
    assert all("quads" in e["primary_muscles"] + e["secondary_muscles"] for e in quads)
    both = listing("category=cardio&muscle=quads")
    assert {e["slug"] for e in both} == {e["slug"] for e in cardio} & {e["slug"] for e in quads}
    tread = listing("q=treadmill")
    assert tread and all("treadmill" in (e["name"] + e["slug"]).lower() or
                         any("treadmill" in a.lower() for a in e["aliases"]) for e in tread)
    assert "treadmill" in {e["slug"] for e in tread}
    assert [e["slug"] for e in listing("q=leg%20press")] == ["leg-press-machine"]
    assert listing("category=no-such-category") == []
    r = server.get("/api/v1/equipment?category=no-such-category")
    assert r.json()["count"] == 0
    assert listing("q=zzzzzz-nothing") == []


@pytest.mark.asan
def test_equipment_by_slug_and_id(server, catalogue):
    by_slug = {e["slug"]: e for e in catalogue["equipment"]}
    r = server.get("/api/v1/equipment/" + G.ANSWER)
    assert r.status == 200, r
    assert r.json() == by_slug[G.ANSWER]
    r = server.get("/api/v1/equipment/%d" % by_slug[G.ANSWER]["id"])
    assert r.status == 200 and r.json()["slug"] == G.ANSWER


def test_every_equipment_id_round_trips(server, catalogue):
    for e in catalogue["equipment"]:
        r = server.get("/api/v1/equipment/%d" % e["id"])
        assert r.status == 200, (e["id"], r)
        assert r.json() == e, e["id"]


@pytest.mark.parametrize("ident", ["no-such-machine", "0", "9999", "-1", "1x"])
def test_equipment_unknown_404(server, ident):
    r = server.get("/api/v1/equipment/" + ident)
    doc = G.is_problem(r, 404, "equipment_not_found")
    assert doc["instance"] == "/api/v1/equipment/" + ident


# --- routing ---------------------------------------------------------------------------------

@pytest.mark.asan
@pytest.mark.parametrize("method,path", [("GET", "/nope"), ("GET", "/api/v2/health"),
                                         ("GET", "/api/v1/equipment/barbell/extra"),
                                         ("POST", "/api/v1/analyze/x"), ("GET", "/nope.js")])
def test_unknown_route_404(server, method, path):
    r = server.request(method, path, b"" if method == "POST" else None)
    doc = G.is_problem(r, 404, "not_found")
    assert doc["instance"] == path


@pytest.mark.asan
@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/health", {"GET", "HEAD"}),
    ("POST", "/api/v1/health", {"GET", "HEAD"}),
    ("GET", "/api/v1/analyze", {"POST"}),
    ("PUT", "/api/v1/analyze", {"POST"}),
    ("PUT", "/api/v1/equipment", {"GET", "HEAD"}),
    ("DELETE", "/api/v1/equipment/barbell", {"GET", "HEAD"}),
    ("POST", "/api/v1/cache/stats", {"GET", "HEAD"}),
])
def test_wrong_method_405(server, method, path, allowed):
    r = server.request(method, path, b"" if method in ("POST", "PUT") else None)
    G.is_problem(r, 405, "method_not_allowed")
    allow = r.header("Allow")
    assert allow, dict(r.headers)
    assert {m.strip() for m in allow.split(",")} == allowed


# --- analyze: happy paths --------------------------------------------------------------------

def check_answer(doc, data, r=None, fmt="jpeg"):
    """The fields of a fresh analysis answer of `data` identified as the fake's answer."""
    expected = {"request_id", "cached", "cache", "processing_time_ms", "identified", "equipment",
                "confidence", "alternatives", "candidates", "provider", "model", "image",
                "catalogue_version", "analyzed_at", "usage"}
    assert expected <= set(doc), expected - set(doc)
    assert isinstance(doc["request_id"], str) and doc["request_id"]
    if r is not None:
        assert doc["request_id"] == r.header("X-Request-ID")
    assert isinstance(doc["cached"], bool)
    assert doc["cache"] is None or (isinstance(doc["cache"], dict)
                                    and set(doc["cache"]) >= {"layer", "distance"})
    assert isinstance(doc["processing_time_ms"], (int, float)) and doc["processing_time_ms"] >= 0
    assert doc["identified"] is True
    assert isinstance(doc["equipment"], dict) and doc["equipment"]["slug"] == G.ANSWER
    assert doc["equipment"]["name"] == "Barbell"
    assert isinstance(doc["confidence"], float) and 0.5 <= doc["confidence"] <= 1
    assert abs(doc["confidence"] - 0.91) < 1e-9
    assert isinstance(doc["alternatives"], list)
    for a in doc["alternatives"]:
        assert set(a) >= {"slug", "name", "category", "confidence"}, a
        assert a["slug"] != G.ANSWER
        assert 0 <= a["confidence"] <= 1
    assert isinstance(doc["candidates"], list)
    assert doc["provider"] == "openai"
    assert isinstance(doc["model"], str) and doc["model"].startswith(G.MODEL)
    img = doc["image"]
    assert img["format"] == fmt
    w, h = photo_size(data)
    assert (img["width"], img["height"]) == (w, h)
    assert img["orientation"] == 1
    assert HEX16.match(img["phash"]), img
    assert img["sha256"] == G.sha256(data)
    assert isinstance(doc["catalogue_version"], str) and doc["catalogue_version"]
    assert ISO.match(doc["analyzed_at"]), doc["analyzed_at"]
    assert isinstance(doc["usage"], dict)
    assert doc["usage"]["prompt_tokens"] == 812 and doc["usage"]["completion_tokens"] == 23


@pytest.mark.asan
def test_analyze_multipart(server, fake, photos, catalogue):
    data = photos[0]
    calls = fake.calls()
    r = server.analyze(data)
    assert r.status == 200, r
    assert r.content_type == "application/json"
    assert r.header("Cache-Control") == "no-store"
    doc = r.json()
    check_answer(doc, data, r)
    assert doc["cached"] is False and doc["cache"] is None
    assert doc["catalogue_version"] == catalogue["catalogue_version"]
    assert len(doc["alternatives"]) == 2  # what the fake offers
    assert fake.calls() == calls + 1
    last = fake.last_request()
    assert last["has_image"] and last["has_auth"] and last["model"] == G.MODEL
    assert last["n_slugs"] == catalogue["count"]


def test_analyze_raw_body(server, fake, photos):
    data = photos[1]
    calls = fake.calls()
    r = server.analyze(data, raw=True, ctype="image/jpeg")
    assert r.status == 200, r
    check_answer(r.json(), data, r)
    assert fake.calls() == calls + 1
    # octet-stream and no Content-Type at all: the bytes decide
    for ctype, data in (("application/octet-stream", photos[2]), (None, photos[3])):
        r = server.analyze(data, raw=True, ctype=ctype)
        assert r.status == 200, (ctype, r)
        check_answer(r.json(), data, r)
    png = G.reencode(photos[4], "PNG")
    r = server.analyze(png, raw=True, ctype="image/png")
    assert r.status == 200, r
    check_answer(r.json(), png, r, fmt="png")
    webp = G.reencode(photos[5], "WEBP", quality=90)
    r = server.analyze(webp, filename="p.webp", ctype="image/webp")
    assert r.status == 200, r
    check_answer(r.json(), webp, r, fmt="webp")


def test_top_k_trims_alternatives(server, fake, photos):
    data = photos[6]
    r = server.analyze(data, query="top_k=3")
    assert r.status == 200 and len(r.json()["alternatives"]) == 2, r
    calls = fake.calls()
    for k, n in (("0", 0), ("1", 1), ("2", 2), ("3", 2)):
        r = server.analyze(data, query="top_k=" + k)
        assert r.status == 200, (k, r)
        assert len(r.json()["alternatives"]) == n, (k, r.json()["alternatives"])
    r = server.analyze(photos[7], query="top_k=0&nocache=true")
    assert r.status == 200 and r.json()["alternatives"] == [], r
    assert fake.calls() == calls + 1


@pytest.mark.parametrize("query", ["top_k=x", "top_k=4", "top_k=-1", "top_k=", "top_k=1.5",
                                   "top_k=99999999999999999999", "nocache=maybe", "nocache=2",
                                   "provider=bogus"])
def test_bad_query_parameter_400(server, fake, photos, query):
    calls = fake.calls()
    r = server.analyze(photos[0], query=query)
    G.is_problem(r, 400, "invalid_parameter")
    assert fake.calls() == calls


def test_provider_query(server, photos):
    r = server.analyze(photos[0], query="provider=llava")
    doc = G.is_problem(r, 503, "provider_unavailable")
    assert "llava" in doc["detail"]
    for p in ("openai", "auto"):
        r = server.analyze(photos[0], query="provider=" + p)
        assert r.status == 200, (p, r)


@pytest.mark.asan
def test_analyze_without_provider_503(bare, photos):
    r = bare.analyze(photos[0])
    doc = G.is_problem(r, 503, "provider_unavailable")
    assert "OPENAI_API_KEY" in doc["detail"], doc


# --- analyze: provider failures (fake modes) -------------------------------------------------

def test_unknown_slug_is_not_identified(server, fake, photos):
    fake.control(mode="unknown_slug")
    r = server.analyze(photos[8], query="nocache=true")
    assert r.status == 200, r
    doc = r.json()
    assert doc["identified"] is False
    assert doc["equipment"] is None
    assert "flux-capacitor" in doc.get("note", ""), doc
    assert isinstance(doc["candidates"], list) and doc["candidates"]
    assert all(c["slug"] != "flux-capacitor" for c in doc["candidates"])


def test_malformed_answer_502(server, fake, photos):
    fake.control(mode="malformed")
    r = server.analyze(photos[8], query="nocache=true")
    G.is_problem(r, 502, "provider_error")


def test_auth_failure_502_never_leaks_key(server, fake, photos):
    fake.control(mode="auth")  # the fake echoes the key it got in its error message
    r = server.analyze(photos[8], query="nocache=true", headers={"X-Request-ID": "auth-leak-1"})
    doc = G.is_problem(r, 502, "provider_error")
    assert "401" in doc["detail"]
    assert G.KEY not in r.body.decode("utf-8", "replace")
    assert G.KEY not in str(dict(r.headers))
    server.access_log("auth-leak-1")
    log = server.stderr_text()
    assert G.KEY not in log
    assert G.KEY[3:] not in log  # not even without its "sk-" prefix


def test_server_error_forever_502(server, fake, photos):
    fake.control(mode="server_error")
    calls = fake.calls()
    r = server.analyze(photos[8], query="nocache=true")
    G.is_problem(r, 502, "provider_error")
    assert fake.calls() == calls + 3  # the first try and the default 2 retries


def test_rate_limited_once_then_good(server, fake, photos):
    fake.control(script=["rate_limit"])
    calls = fake.calls()
    r = server.analyze(photos[9], query="nocache=true")
    assert r.status == 200, r
    check_answer(r.json(), photos[9], r)
    assert fake.calls() == calls + 2


def test_slow_provider_504(procs, binary, fake, photos):
    s = procs.server(binary, provider=fake, args=["--provider-timeout-ms", "1500"])
    fake.control(mode="slow", slow_seconds=60)
    t0 = time.monotonic()
    r = s.analyze(photos[10], timeout=60)
    took = time.monotonic() - t0
    G.is_problem(r, 504, "provider_timeout")
    # it waited for the 1.5 s deadline and gave up long before the provider's 60 s
    assert 1.2 < took < 30, took


# --- request ids, gzip, the access log -------------------------------------------------------

def raw_get(port, path, extra_headers=b""):
    return G.raw_exchange(port, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n"
                          + extra_headers + b"Connection: close\r\n\r\n")


def header_of(raw, name):
    m = re.search(rb"\r\n" + name.encode() + rb": ([^\r]*)\r\n", raw, re.I)
    return m.group(1).decode() if m else None


@pytest.mark.asan
def test_request_id_echo_and_generation(server, photos):
    for rid in ("abc-DEF_1.2:3", "a" * 64, "req.1:2_3-4"):
        r = server.get("/health", headers={"X-Request-ID": rid})
        assert r.header("X-Request-ID") == rid
        r = server.get("/nope", headers={"X-Request-ID": rid})
        assert G.is_problem(r, 404, "not_found")["request_id"] == rid
    r = server.analyze(photos[0], headers={"X-Request-ID": "analyze-rid-7"})
    assert r.status == 200 and r.json()["request_id"] == "analyze-rid-7"
    assert r.header("X-Request-ID") == "analyze-rid-7"
    seen = set()
    for bad in (b"a" * 65, b"has space", b"semi;colon", b"quote\"d", b"<script>", b"",
                "\u00e9t\u00e9".encode(), b"tab\there", b"42", b"0123456789012345"):
        raw = raw_get(server.port, "/nope", b"X-Request-ID: " + bad + b"\r\n")
        assert G.status_of(raw) == 404, raw[:200]
        rid = header_of(raw, "X-Request-ID")
        assert rid and re.match(r"^[A-Za-z0-9._:-]{1,64}$", rid), (bad, rid)
        assert rid.encode() != bad.strip()
        body = json.loads(raw.split(b"\r\n\r\n", 1)[1])
        assert body["request_id"] == rid
        seen.add(rid)
    r1, r2 = server.get("/health"), server.get("/health")
    for r in (r1, r2):
        seen.add(r.header("X-Request-ID"))
    assert len(seen) == 12  # generated ids are unique


@pytest.mark.asan
def test_gzip_negotiation(server, photos):
    plain = server.get("/api/v1/equipment")
    assert plain.status == 200 and plain.header("Content-Encoding") is None
    assert len(plain.body) >= 1024
    r = server.get("/api/v1/equipment", headers={"Accept-Encoding": "gzip"})
    assert r.status == 200
    assert r.header("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in (r.header("Vary") or "")
    assert len(r.body) < len(plain.body)
    assert json.loads(gzip.decompress(r.body)) == json.loads(plain.body)
    r = server.get("/api/v1/equipment", headers={"Accept-Encoding": "deflate, gzip;q=1.0, br"})
    assert r.header("Content-Encoding") == "gzip"
    for ae in ("identity", "gzip;q=0", "br"):
        r = server.get("/api/v1/equipment", headers={"Accept-Encoding": ae})
        assert r.header("Content-Encoding") is None, ae
        assert json.loads(r.body)["count"] == json.loads(plain.body)["count"]
    # small bodies stay plain
    r = server.get("/health", headers={"Accept-Encoding": "gzip"})
    assert r.header("Content-Encoding") is None and len(r.body) < 1024
    assert r.json()["status"] == "ok"
    # an analysis answer (> 1 KB) is compressed too
    r = server.analyze(photos[0], headers={"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.header("Content-Encoding") == "gzip"
    assert json.loads(gzip.decompress(r.body))["equipment"]["slug"] == G.ANSWER


@pytest.mark.parametrize("target,status,code", [
    (b"/api/v1/equipment/%ff", 404, "equipment_not_found"),
    (b"/api/v1/equipment/%C3%28", 404, "equipment_not_found"),
    (b"/\xff", 404, "not_found"),
    (b"/nope%C3%28", 404, "not_found"),
    # valid UTF-8, but long enough that the detail's cut falls inside a character
    (b"/api/v1/equipment/a" + b"%C3%A9" * 50, 404, "equipment_not_found"),
], ids=["equipment-%ff", "equipment-%C3%28", "raw-ff", "nope-%C3%28", "long-utf8-id"])
def test_non_utf8_path_gets_its_problem(server, target, status, code):
    """A path that is not UTF-8 once percent-decoded is still just an unknown path: the
    client gets the 404 problem document (its instance and detail made safe), not a 503."""
    raw = G.raw_exchange(server.port, b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n"
                         b"Connection: close\r\n\r\n")
    assert G.status_of(raw) == status, raw[:400]
    doc = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert doc["code"] == code and doc["status"] == status
    assert doc["request_id"] == header_of(raw, "X-Request-ID")
    assert isinstance(doc["instance"], str) and doc["instance"].startswith("/")


def test_wrong_method_on_non_utf8_path_405(server):
    raw = G.raw_exchange(server.port, b"DELETE /api/v1/equipment/%C3%28 HTTP/1.1\r\nHost: t\r\n"
                         b"Connection: close\r\n\r\n")
    assert G.status_of(raw) == 405, raw[:400]
    assert json.loads(raw.split(b"\r\n\r\n", 1)[1])["code"] == "method_not_allowed"


def test_non_utf8_content_type_415(server):
    raw = G.raw_exchange(server.port, b"POST /api/v1/analyze HTTP/1.1\r\nHost: t\r\n"
                         b"Content-Type: text/\xff\r\nContent-Length: 3\r\n"
                         b"Connection: close\r\n\r\nabc")
    assert G.status_of(raw) == 415, raw[:400]
    assert json.loads(raw.split(b"\r\n\r\n", 1)[1])["code"] == "unsupported_media_type"


def test_access_log_is_utf8_json(server):
    """Every log line is valid JSON in UTF-8, whatever bytes the client put in the path."""
    G.raw_exchange(server.port, b"GET /api/v1/equipment/caf%C3%A9%C3%28%ff HTTP/1.1\r\n"
                   b"Host: t\r\nX-Request-ID: utf8-log-1\r\nConnection: close\r\n\r\n")
    server.access_log("utf8-log-1")
    lines = [ln for ln in server.err_path.read_bytes().splitlines() if b"utf8-log-1" in ln]
    assert len(lines) == 1
    text = lines[0].decode("utf-8")  # strict: raises on invalid UTF-8
    line = json.loads(text)
    assert line["path"].startswith("/api/v1/equipment/caf")


def test_access_log_line(server, photos):
    r = server.analyze(photos[11], query="nocache=true", headers={"X-Request-ID": "log-miss-1"})
    assert r.status == 200, r
    line = server.access_log("log-miss-1")
    assert line["method"] == "POST"
    assert line["path"] == ANALYZE
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
    assert line["cached"] is False
    assert line["equipment"] == G.ANSWER
    assert line["provider"] == "openai"
    r = server.get("/nope", headers={"X-Request-ID": "log-404-1"})
    line = server.access_log("log-404-1")
    assert line["status"] == 404 and line["method"] == "GET" and line["path"] == "/nope"
    assert line.get("error") == "not_found"


def test_access_log_line_of_cache_hit_names_provider(server, photos):
    """A cache hit's log line carries the same fields as a miss: cached, its layer, the
    equipment and the provider whose answer it serves (the answer itself says "openai")."""
    assert server.analyze(photos[11]).status == 200  # in the memory layer from now on
    r = server.analyze(photos[11], headers={"X-Request-ID": "log-hit-1"})
    assert r.status == 200 and r.json()["cached"] is True, r
    assert r.json()["provider"] == "openai"
    line = server.access_log("log-hit-1")
    assert line["cached"] is True
    assert line["cache_layer"] == r.json()["cache"]["layer"]
    assert line["equipment"] == G.ANSWER
    assert line.get("provider") == "openai", line


# --- bad inputs ------------------------------------------------------------------------------

def multipart_without_closing(data):
    body, ctype = G.multipart([("file", "p.jpg", "image/jpeg", data)])
    return body[:body.rindex(b"--ghBoundary")], ctype


BAD_INPUTS = {
    # name: (builder(photos) -> (body, headers), status, code)
    "empty raw body": (lambda p: (b"", {"Content-Type": "image/jpeg"}), 400, "empty_body"),
    "empty body, no type": (lambda p: (b"", {}), 400, "empty_body"),
    "empty multipart": (lambda p: (b"", {"Content-Type": "multipart/form-data; boundary=xyz"}),
                        400, "empty_body"),
    "multipart without file": (
        lambda p: (lambda b: (b[0], {"Content-Type": b[1]}))(
            G.multipart([("photo", "p.jpg", "image/jpeg", p[0]), ("note", None, None, b"hi")])),
        400, "missing_file"),
    "multipart, no closing boundary": (
        lambda p: (lambda b: (b[0], {"Content-Type": b[1]}))(multipart_without_closing(p[0])),
        400, "malformed_multipart"),
    "multipart, wrong boundary": (
        lambda p: (G.multipart([("file", "p.jpg", "image/jpeg", p[0])])[0],
                   {"Content-Type": "multipart/form-data; boundary=notTheBoundary"}),
        400, "malformed_multipart"),
    "multipart, no boundary": (
        lambda p: (G.multipart([("file", "p.jpg", "image/jpeg", p[0])])[0],
                   {"Content-Type": "multipart/form-data"}),
        400, "malformed_multipart"),
    "multipart, garbage": (
        lambda p: (b"this is not multipart at all\r\n" * 10,
                   {"Content-Type": "multipart/form-data; boundary=b"}),
        400, "malformed_multipart"),
    "text/plain": (lambda p: (p[0], {"Content-Type": "text/plain"}), 415,
                   "unsupported_media_type"),
    "application/json": (lambda p: (b'{"a":1}', {"Content-Type": "application/json"}), 415,
                         "unsupported_media_type"),
    "GIF as image/jpeg": (lambda p: (G.GIF_BYTES, {"Content-Type": "image/jpeg"}), 415,
                          "unsupported_media_type"),
    "PDF as image/jpeg": (lambda p: (G.PDF_BYTES, {"Content-Type": "image/jpeg"}), 415,
                          "unsupported_media_type"),
    "HTML as image/jpeg": (lambda p: (G.HTML_BYTES, {"Content-Type": "image/jpeg"}), 415,
                           "unsupported_media_type"),
    "text as image/jpeg": (lambda p: (G.TEXT_BYTES, {"Content-Type": "image/jpeg"}), 415,
                           "unsupported_media_type"),
    "GIF in multipart": (
        lambda p: (lambda b: (b[0], {"Content-Type": b[1]}))(
            G.multipart([("file", "p.jpg", "image/jpeg", G.GIF_BYTES)])),
        415, "unsupported_media_type"),
    "PNG as image/jpeg": (lambda p: (G.solid(100, 100, "PNG"), {"Content-Type": "image/jpeg"}),
                          415, "type_mismatch"),
    "JPEG as image/webp": (lambda p: (p[0], {"Content-Type": "image/webp"}), 415,
                           "type_mismatch"),
    "JPEG bytes in x.png": (
        lambda p: (lambda b: (b[0], {"Content-Type": b[1]}))(
            G.multipart([("file", "x.png", None, p[0])])),
        415, "type_mismatch"),
    "JPEG bytes in x.png, octet-stream part": (
        lambda p: (lambda b: (b[0], {"Content-Type": b[1]}))(
            G.multipart([("file", "x.png", "application/octet-stream", p[0])])),
        415, "type_mismatch"),
    "empty file part": (
        lambda p: (lambda b: (b[0], {"Content-Type": b[1]}))(
            G.multipart([("file", "p.jpg", "image/jpeg", b"")])),
        400, "empty_file"),
    "truncated JPEG": (lambda p: (p[0][:len(p[0]) // 2], {"Content-Type": "image/jpeg"}), 422,
                       "undecodable_image"),
    "30x30 image": (lambda p: (G.solid(30, 30, "JPEG"), {"Content-Type": "image/jpeg"}), 422,
                    "image_dimensions_out_of_range"),
    "claims 30000x30000": (lambda p: (G.jpeg_claiming(30000, 30000),
                                      {"Content-Type": "image/jpeg"}),
                           422, "image_dimensions_out_of_range"),
}


@pytest.mark.asan
@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input(server, fake, photos, name):
    build, status, code = BAD_INPUTS[name]
    body, headers = build(photos)
    calls = fake.calls()
    r = server.request("POST", ANALYZE, body, headers)
    doc = G.is_problem(r, status, code)
    assert doc["instance"] == ANALYZE
    assert fake.calls() == calls, "the provider was asked about a bad input"


def _send_headers_only(port, content_length, extra=b""):
    """Sends the headers of a big upload and never its body; returns (response bytes, seconds).
    An answer at all shows the server judged the headers alone (it cannot have read a body
    that was never sent); the 20 s socket timeout is only the bound against a hang."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(b"POST /api/v1/analyze HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
                  b"Content-Length: %d\r\n" % content_length + extra + b"\r\n")
        t0 = time.monotonic()
        s.settimeout(20.0)
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 50:
                c = s.recv(65536)
                if not c:
                    break
                data += c
        except socket.timeout:
            pass
        return data, time.monotonic() - t0
    finally:
        s.close()


@pytest.mark.asan
@pytest.mark.parametrize("expect", [False, True], ids=["plain", "expect-100"])
def test_oversized_upload_refused_before_body(server, expect):
    data, took = _send_headers_only(server.port, 20_000_000,
                                    b"Expect: 100-continue\r\n" if expect else b"")
    assert G.status_of(data) == 413, data[:300]
    assert b"100 Continue" not in data
    body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert body["code"] == "payload_too_large" and body["status"] == 413


def test_upload_limit_setting(procs, binary, fake, photos):
    s = procs.server(binary, provider=fake, args=["--max-upload-mb", "1"])
    data, took = _send_headers_only(s.port, 1_500_000)
    assert G.status_of(data) == 413, data[:300]
    # a body under the limit is read and judged on its content instead
    big = b"\xff\xd8\xff\xe0" + bytes(900_000)
    r = s.analyze(big, raw=True)
    assert r.status != 413, r
    G.is_problem(r, 422, "undecodable_image")
    r = s.analyze(photos[0])
    assert r.status == 200, r


def test_chunked_upload_over_limit_gets_413(procs, binary):
    """An upload without Content-Length (chunked) that passes the limit gets a 413, not a
    silently closed connection. libmicrohttpd cannot answer in the middle of a body, so the
    server drops the rest of the body (up to 16 MB) and answers when the client is done."""
    s = procs.server(binary, args=["--max-upload-mb", "1"])
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    got = b""
    try:
        sock.sendall(b"POST /api/v1/analyze HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        sent, limit = 0, 1_000_000 + 16384
        try:
            while sent <= limit:
                sock.sendall(b"10000\r\n" + b"\xff" * 0x10000 + b"\r\n")
                sent += 0x10000
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(2.0)
        try:
            while True:
                c = sock.recv(65536)
                if not c:
                    break
                got += c
        except (socket.timeout, ConnectionResetError):
            pass
    finally:
        sock.close()
    assert G.status_of(got) == 413, "no 413 answer (got %r)" % got[:200]
    assert b"payload_too_large" in got
