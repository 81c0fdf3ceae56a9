# SPDX-License-Identifier: MIT
"""Paths no other test reaches: a full analysis queue (503 server_busy), an allocation failure
in a running server (503 out_of_memory), a remote answer below CONFIDENCE_THRESHOLD, the llava
provider through `serve` and `analyze`, a custom catalogue file and its errors, and settings
seen end to end (LOG_FORMAT=text, LOG_LEVEL, CACHE_MAX_DISTANCE, LRU_MB, CACHE_TTL_DAYS).
Every wait is on an event or a count; deadlines only bound hangs."""
import io
import json
import random
import threading
import time

import pytest
from PIL import Image

import ghhttp as G

pytestmark = pytest.mark.usefixtures("fresh_fake")


def wait_for(what, check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "no %s within %ss" % (what, timeout)
        time.sleep(0.05)


# --- 503 server_busy ------------------------------------------------------------------------

@pytest.mark.asan
def test_full_queue_is_503_server_busy(procs, binary, fake, photos):
    """One worker, held by the provider, and a queue of one: of three more uploads at most one
    waits in the queue, the others are refused at once with 503 server_busy; once the provider
    answers, the queued one is served."""
    s = procs.server(binary, provider=fake, args=["--workers", "1", "--analysis-queue", "1"])
    fake.control(mode="hold")
    results = {}

    def post(i):
        results[i] = s.analyze(photos[i], timeout=120)

    first = threading.Thread(target=post, args=(0,))
    first.start()
    try:
        wait_for("the worker's provider call", lambda: fake.held() == 1)
        others = [threading.Thread(target=post, args=(i,)) for i in (1, 2, 3)]
        for t in others:
            t.start()
        # nothing drains while the worker is held: two of the three must be refused
        wait_for("two refusals", lambda: sum(1 for i in (1, 2, 3) if i in results) >= 2)
    finally:
        fake.release()
        first.join(120)
        for t in others:
            t.join(120)
    assert results[0].status == 200, results[0]
    busy = [results[i] for i in (1, 2, 3) if results[i].status == 503]
    served = [results[i] for i in (1, 2, 3) if results[i].status == 200]
    assert len(busy) >= 2 and len(busy) + len(served) == 3, results
    for r in busy:
        doc = G.is_problem(r, 503, "server_busy")
        assert doc["instance"] == "/api/v1/analyze"
    assert fake.calls() == 1 + len(served)


def test_queue_setting_is_checked(binary, tmp_path):
    r = G.run_cli(binary, ["serve", "--analysis-queue", "0", "--database-url",
                           "sqlite:///%s" % (tmp_path / "q.db")])
    assert r.returncode == 2, r
    assert b"ANALYSIS_QUEUE" in r.stderr or b"analysis-queue" in r.stderr, r.stderr


# --- 503 out_of_memory ----------------------------------------------------------------------

def _server_or_none(procs, binary, fake, n, workdir):
    """A server whose Nth allocation fails, or None when that was during start-up (it then
    exits 1 with a message and no sanitizer report)."""
    try:
        return procs.server(binary, provider=fake, workdir=workdir,
                            env={"GH_FAIL_ALLOC": str(n)})
    except RuntimeError as e:
        err = (workdir / "server0.stderr").read_text(errors="replace")
        assert "exited with 1" in str(e), (e, err)
        assert err.startswith("gymhelper: "), err
        assert not any(m in err for m in G.SANITIZER_MARKERS), err
        return None


def test_allocation_failure_in_a_running_server_is_503(procs, binary, fake, photos, tmp_path):
    """GH_FAIL_ALLOC=N past the start-up's allocations fails one allocation of the first
    request: it is answered 503 out_of_memory (or, when the failed allocation was one the
    server can do without, 200), never a crash or a 500; the server stays up and stops
    cleanly (the procs fixture checks, sanitizer reports included)."""
    lo, hi = 1, 1
    while _server_or_none(procs, binary, fake, hi, tmp_path / ("s%d" % hi)) is None:
        lo, hi = hi, hi * 2  # the start-up fails at lo, starts at hi
        assert hi < 1 << 16, "the server never started"
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _server_or_none(procs, binary, fake, mid, tmp_path / ("s%d" % mid)) is None:
            lo = mid
        else:
            hi = mid
    statuses = []
    for n in range(hi, hi + 40):
        s = _server_or_none(procs, binary, fake, n, tmp_path / ("r%d" % n))
        if s is None:  # a background allocation moved the boundary: try the next N
            continue
        r = s.analyze(photos[n % len(photos)], query="nocache=true")
        statuses.append(r.status)
        assert r.status in (200, 503), r
        if r.status == 503:
            G.is_problem(r, 503, "out_of_memory")
        assert s.get("/health").status == 200  # still serving
        assert s.stop() == 0
        if 503 in statuses:
            break
    assert 503 in statuses, "no request met the failed allocation: %s" % statuses


# --- a remote answer below the confidence threshold --------------------------------------------

def test_remote_answer_below_threshold_is_not_sure(procs, binary, fake, photos):
    s = procs.server(binary, provider=fake, args=["--confidence-threshold", "0.6"])
    fake.control(confidence=0.35)
    r = s.analyze(photos[5])
    assert r.status == 200, r
    doc = r.json()
    assert doc["identified"] is False and doc["equipment"] is None, doc
    assert doc["confidence"] == pytest.approx(0.35), doc
    assert doc["candidates"] and doc["candidates"][0]["slug"] == G.ANSWER, doc
    fake.control(confidence=0.91)
    r = s.analyze(photos[6])
    assert r.status == 200 and r.json()["identified"] is True, r


# --- llava --------------------------------------------------------------------------------------

def _llava_fake(procs):
    return procs.fake(llava=True, model="llava")


@pytest.mark.asan
def test_llava_provider_through_serve(procs, binary, photos):
    fake = _llava_fake(procs)
    s = procs.server(binary, env={"AI_PROVIDER": "llava", "LLAVA_BASE_URL": fake.base_url,
                                  "LLAVA_MODEL": "llava"})
    h = s.get("/health").json()
    assert h["provider"]["name"] == "llava" and h["provider"]["ready"] is True, h
    r = s.analyze(photos[7])
    assert r.status == 200, r
    doc = r.json()
    assert doc["provider"] == "llava" and doc["equipment"]["slug"] == G.ANSWER, doc
    assert fake.calls() == 1


def test_llava_provider_through_analyze(procs, binary, photos, tmp_path):
    fake = _llava_fake(procs)
    photo = tmp_path / "p.jpg"
    photo.write_bytes(photos[8])
    r = G.run_cli(binary, ["analyze", "--json", "--database-url",
                           "sqlite:///%s" % (tmp_path / "l.db"), photo],
                  env={"AI_PROVIDER": "llava", "LLAVA_BASE_URL": fake.base_url,
                       "LLAVA_MODEL": "llava"})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout.decode().strip())
    assert doc["provider"] == "llava" and doc["equipment"]["slug"] == G.ANSWER, doc
    assert fake.calls() == 1


# --- a custom catalogue -------------------------------------------------------------------------

def _catalogue():
    return json.loads((G.REPO / "catalogue" / "equipment.json").read_text())


def test_custom_catalogue_is_served(procs, binary, fake, tmp_path):
    cat = _catalogue()
    cat["equipment"] = [dict(e, confused_with=[]) for e in cat["equipment"]
                        if e["slug"] == G.ANSWER]
    if "exercises" in cat:  # exercises and equipment name each other: keep both sides whole
        cat["exercises"] = [dict(x, equipment=[G.ANSWER]) for x in cat["exercises"]
                            if G.ANSWER in x["equipment"]]
        cat["equipment"][0]["exercises"] = [x["slug"] for x in cat["exercises"]]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(cat))
    s = procs.server(binary, provider=fake, env={"CATALOGUE_PATH": str(path)})
    eq = s.get("/api/v1/equipment").json()["equipment"]
    assert [e["slug"] for e in eq] == [G.ANSWER], eq
    G.is_problem(s.get("/api/v1/equipment/squat-rack"), 404, "equipment_not_found")


def _broken(kind):
    cat = _catalogue()
    if kind == "malformed JSON":
        return json.dumps(cat)[:-40], ["line"]
    if kind == "duplicate slug":
        cat["equipment"].append(dict(cat["equipment"][0]))
        return json.dumps(cat), ["slug '%s' appears twice" % cat["equipment"][0]["slug"]]
    if kind == "missing field":
        del cat["equipment"][3]["name"]
        return json.dumps(cat), ["equipment '%s'" % cat["equipment"][3]["slug"], "'name'"]
    if kind == "no equipment":
        cat["equipment"] = []
        return json.dumps(cat), ["'equipment' must be a non-empty array"]
    if kind == "unknown slug referenced":
        e = cat["equipment"][0]
        e["confused_with"] = ["flux-capacitor"]
        return json.dumps(cat), ["equipment '%s'" % e["slug"], "unknown slug 'flux-capacitor'"]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["malformed JSON", "duplicate slug", "missing field",
                                  "no equipment", "unknown slug referenced"])
def test_broken_catalogue_is_a_clear_error(binary, tmp_path, kind):
    text, words = _broken(kind)
    path = tmp_path / "cat.json"
    path.write_text(text)
    r = G.run_cli(binary, ["serve", "--port", "0", "--database-url",
                           "sqlite:///%s" % (tmp_path / "c.db")],
                  env={"CATALOGUE_PATH": str(path)}, timeout=60)
    err = r.stderr.decode()
    assert r.returncode == 1, (r.returncode, err)
    assert str(path) in err, err
    for w in words:
        assert w in err, (w, err)


# --- settings end to end ------------------------------------------------------------------------

def test_log_format_text_and_level(procs, binary, fake, photos):
    """LOG_FORMAT=text writes plain lines (no JSON); LOG_LEVEL=warn drops the info lines
    (start-up, access log) and keeps warnings."""
    s = procs.server(binary, provider=fake, env={"LOG_FORMAT": "text", "LOG_LEVEL": "warn"},
                     args=["--log-format", "text"])
    assert s.analyze(photos[1]).status == 200
    G.is_problem(s.get("/api/v1/equipment/no-such-slug"), 404, "equipment_not_found")
    assert s.stop() == 0
    lines = [l for l in s.stderr_text().splitlines() if l.strip()]
    assert not any(l.lstrip().startswith("{") for l in lines), lines
    assert not any("listening on" in l for l in lines), lines  # an info line
    s2 = procs.server(binary, provider=fake, args=["--log-format", "text",
                                                   "--log-level", "info"])
    assert s2.stop() == 0
    text = s2.stderr_text()
    assert "listening on" in text and not text.lstrip().startswith("{"), text


def _gh_hash(binary, data, tmp_path, name):
    f = tmp_path / name
    f.write_bytes(data)
    r = G.run_cli(binary, ["hash", f])
    assert r.returncode == 0, r.stderr
    return int(r.stdout.split()[0], 16)


def test_cache_max_distance_zero_turns_near_hits_off(procs, binary, fake, photos, tmp_path):
    """A copy at pHash distance 1..4 (by gymhelper's own hash) is a near duplicate at the
    default distance 4, and a miss at CACHE_MAX_DISTANCE=0."""
    original = photos[2]
    h0 = _gh_hash(binary, original, tmp_path, "o.jpg")
    copy = None
    img = Image.open(io.BytesIO(original)).convert("RGB")
    w, h = img.size
    edits = [img.crop((w * k // 100, h * k // 100, w - w * k // 100, h - h * k // 100))
             for k in (1, 2, 3, 4)] + [img.rotate(d, resample=Image.BICUBIC) for d in (1, 2, 3)]
    for i, e in enumerate(edits):
        buf = io.BytesIO()
        e.save(buf, "JPEG", quality=85)
        d = bin(h0 ^ _gh_hash(binary, buf.getvalue(), tmp_path, "c%d.jpg" % i)).count("1")
        if 1 <= d <= 4:
            copy = buf.getvalue()
            break
    assert copy is not None, "no edit of the photo landed at distance 1..4"
    s4 = procs.server(binary, provider=fake)
    assert G.cache_layer(s4.analyze(original)) is None
    assert G.cache_layer(s4.analyze(copy)) == "near"
    s0 = procs.server(binary, provider=fake, env={"CACHE_MAX_DISTANCE": "0"})
    assert G.cache_layer(s0.analyze(original)) is None
    assert G.cache_layer(s0.analyze(copy)) is None


def test_lru_mb_bounds_the_memory_layer(procs, binary, fake, photos):
    """LRU_MB=1 holds about a megabyte of answers: after more than that, the oldest answer
    comes from the store, not memory, and the layer's bytes stay under the bound."""
    s = procs.server(binary, provider=fake, env={"LRU_MB": "1"})
    first = photos[0]
    assert G.cache_layer(s.analyze(first)) is None
    assert G.cache_layer(s.analyze(first)) == "memory"
    answer_len = len(s.analyze(first).body)
    n = (1 << 20) // answer_len + 50
    rng = random.Random(15)
    for _ in range(n):  # noise: distinct SHA-256 and pHash, so each one is a new entry
        buf = io.BytesIO()
        Image.frombytes("L", (64, 64), rng.randbytes(64 * 64)).save(buf, "PNG")
        assert s.analyze(buf.getvalue(), ctype="image/png").status == 200
    st = s.stats()["layers"]["memory"]
    assert st["bytes"] <= 1 << 20 and st["evictions"] > 0, st
    assert G.cache_layer(s.analyze(first)) == "exact"


def test_cache_ttl_days_is_the_expiry(procs, binary, fake, photos):
    """CACHE_TTL_DAYS=2: a new entry expires two days after it was made (the store's record)."""
    s = procs.server(binary, provider=fake, env={"CACHE_TTL_DAYS": "2"})
    t0 = time.time()
    assert s.analyze(photos[3]).status == 200
    import sqlite3
    con = sqlite3.connect(str(s.db))
    try:
        (expires,) = con.execute("SELECT max(expires_at) FROM equipment_cache").fetchone()
    finally:
        con.close()
    assert abs(expires - (t0 + 2 * 86400)) < 120, (expires, t0)
