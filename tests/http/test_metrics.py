# SPDX-License-Identifier: MIT
"""GET /metrics: the Prometheus text exposition after a few requests (a miss, an exact hit, a
404, a 415, a catalogue item): counters by route pattern, problem codes, cache layers, provider
calls, tokens and cost, histograms that add up, and `promtool check metrics` finding nothing."""
import re
import shutil
import subprocess
import time

import pytest

import ghhttp as G

pytestmark = pytest.mark.asan

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')
# fake_openai's usage block, priced at gpt-4o-mini's $0.15/M prompt and $0.60/M completion
PROMPT, COMPLETION = 812, 23
CALL_COST = (PROMPT * 0.15 + COMPLETION * 0.60) / 1e6


def parse(text):
    """{(name, ((label, value), ...sorted)): value}; fails on a malformed or repeated sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "malformed sample line: %r" % line
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        key = (m.group(1), labels)
        assert key not in samples, "repeated sample: %r" % line
        samples[key] = float(m.group(3))
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


SCRAPES = {}  # port -> /metrics requests made, so a test knows what the counter must say


def scrape(server):
    SCRAPES[server.port] = SCRAPES.get(server.port, 0) + 1
    r = server.get("/metrics")
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    return r.body.decode("utf-8")


def scrape_until(server, pred, timeout=5.0):
    """Requests are counted once libmicrohttpd reports them complete, which may be just after
    the client has read the answer: scrape until pred holds (or give the last scrape)."""
    deadline = time.monotonic() + timeout
    while True:
        text = scrape(server)
        samples = parse(text)
        if pred(samples) or time.monotonic() > deadline:
            return text, samples
        time.sleep(0.05)


def check_histograms(samples):
    """Cumulative buckets never decrease and end in +Inf, which equals _count."""
    buckets = {}
    for (name, labels), v in samples.items():
        if name.endswith("_bucket"):
            rest = tuple(kv for kv in labels if kv[0] != "le")
            le = dict(labels)["le"]
            buckets.setdefault((name[:-len("_bucket")], rest), []).append(
                (float("inf") if le == "+Inf" else float(le), v))
    assert buckets
    for (base, rest), series in buckets.items():
        series.sort()
        counts = [v for _, v in series]
        assert counts == sorted(counts), (base, rest, series)
        assert series[-1][0] == float("inf"), (base, rest)
        assert samples[(base + "_count", rest)] == counts[-1], (base, rest)
        assert (base + "_sum", rest) in samples


def test_metrics_after_a_few_requests(procs, binary, photos):
    fake = procs.fake()
    s = procs.server(binary, provider=fake, args=["--lru-entries", "0"])  # hits come from the store

    miss = s.analyze(photos[0])
    assert miss.status == 200 and miss.json()["cached"] is False, miss
    hit = s.analyze(photos[0])
    assert hit.status == 200 and hit.json()["cache"] == {"layer": "exact", "distance": 0}, hit
    assert G.is_problem(s.get("/no/such/page"), 404, "not_found")
    assert G.is_problem(s.analyze(photos[1], raw=True, ctype="text/plain"), 415,
                        "unsupported_media_type")
    assert s.get("/api/v1/equipment/barbell").status == 200
    assert fake.calls() == 1

    def all_counted(m):
        return value(m, "gymhelper_http_requests_total", route="/api/v1/equipment/{id}",
                     method="GET", status="200") == 1

    text, m = scrape_until(s, all_counted)
    req = "gymhelper_http_requests_total"
    assert value(m, req, route="/api/v1/analyze", method="POST", status="200") == 2
    assert value(m, req, route="/api/v1/analyze", method="POST", status="415") == 1
    assert value(m, req, route="other", method="GET", status="404") == 1
    assert value(m, req, route="/api/v1/equipment/{id}", method="GET", status="200") == 1
    # route labels are patterns: no raw URL (no slug, no unknown path) ever becomes one
    routes = {dict(labels).get("route") for (name, labels) in m if name == req}
    assert routes == {"/api/v1/analyze", "other", "/api/v1/equipment/{id}"}, routes
    assert value(m, "gymhelper_http_errors_total", code="not_found") == 1
    assert value(m, "gymhelper_http_errors_total", code="unsupported_media_type") == 1
    assert value(m, "gymhelper_http_requests_in_flight") == 1  # this scrape

    assert value(m, "gymhelper_cache_hits_total", layer="exact") == 1
    assert value(m, "gymhelper_cache_hits_total", layer="memory") == 0
    assert value(m, "gymhelper_cache_misses_total") == 1
    dur = "gymhelper_analysis_duration_seconds_count"
    assert value(m, dur, layer="exact") == 1
    assert value(m, dur, layer="miss") == 1
    assert value(m, dur, layer="near") == 0

    assert value(m, "gymhelper_provider_calls_total", provider="openai", outcome="ok") == 1
    assert value(m, "gymhelper_provider_calls_total", provider="openai", outcome="error") == 0
    assert value(m, "gymhelper_provider_duration_seconds_count", provider="openai") == 1
    tok = "gymhelper_provider_tokens_total"
    assert value(m, tok, provider="openai", kind="prompt") == PROMPT
    assert value(m, tok, provider="openai", kind="completion") == COMPLETION
    cost = value(m, "gymhelper_provider_cost_dollars_total", provider="openai")
    assert cost == pytest.approx(CALL_COST, rel=1e-9)
    # one hit saves the average call, and there was one call
    assert value(m, "gymhelper_cache_estimated_savings_dollars_total") == pytest.approx(
        CALL_COST, rel=1e-6)

    assert value(m, "gymhelper_catalogue_equipment") > 0
    assert value(m, "gymhelper_lru_entries") == 0
    assert value(m, "process_start_time_seconds") == pytest.approx(time.time(), abs=600)
    info = [labels for (name, labels) in m if name == "gymhelper_build_info"]
    assert len(info) == 1 and dict(info[0])["version"] and dict(info[0])["libvips"], info
    check_histograms(m)

    # every earlier scrape is counted by a later one, under its own route (scrape_until may
    # have scraped more than once above)
    before = SCRAPES[s.port]
    # (no sample at all until the first /metrics request has completed)
    _, m2 = scrape_until(s, lambda x: (value(x, req, route="/metrics", method="GET",
                                             status="200") or 0) >= before)
    # at least the scrapes made before, never the one being answered
    assert before <= value(m2, req, route="/metrics", method="GET",
                           status="200") < SCRAPES[s.port]

    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool not found: scripts/install-deps installs it (Debian package "
                    "prometheus)", pytrace=False)
    p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), (
        p.returncode, p.stdout.decode(), p.stderr.decode())


def test_head_and_wrong_method(procs, binary):
    s = procs.server(binary)
    r = s.request("HEAD", "/metrics")
    assert r.status == 200 and r.body == b"", r
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4")
    assert G.is_problem(s.request("POST", "/metrics", b"x"), 405, "method_not_allowed")
    # both are counted when the request completes, which may be just after its answer left
    _, m = scrape_until(s, lambda x: value(x, "gymhelper_http_errors_total",
                                           code="method_not_allowed") == 1
                        and value(x, "gymhelper_http_requests_total", route="/metrics",
                                  method="POST", status="405") == 1)
    assert value(m, "gymhelper_http_requests_total", route="/metrics", method="POST",
                 status="405") == 1
    # no provider configured: its series exist at 0 under the name it has
    assert value(m, "gymhelper_provider_calls_total", provider="none", outcome="ok") == 0
