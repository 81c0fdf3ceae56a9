# SPDX-License-Identifier: MIT
"""Browser tests of the web app: tests/browser/run.mjs (playwright-core driving Debian's
/usr/bin/chromium) against a release-build `gymhelper serve` with a fresh database and the fake
OpenAI provider answering lat-pulldown-machine.

The script runs once per session (fixture `browser_run`); each of its scenarios is one pytest
case here, plus one case for console/page errors across the whole run and one for loopback-only
traffic. Nothing skips: a missing node, npm, chromium or build is a failure saying what to do.
node_modules/playwright-core comes from `npm ci` (run here when it is missing). The run writes
screenshot-desktop.png and screenshot-mobile.png into the build directory, or into the folder
named by GH_SCREENSHOTS (GH_SCREENSHOTS=docs refreshes the README's pictures), so that running
the tests does not leave the work tree changed.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "http"))
import ghhttp as G  # noqa: E402  (the server and fake-provider helpers of the HTTP tests)

CHROMIUM = "/usr/bin/chromium"
RUN_TIMEOUT_S = 120  # the run takes ~15 s; this only stops a hang

# The scenarios run.mjs reports, in its order (it must report exactly these).
SCENARIOS = [
    "identify",        # 1. upload a lat pulldown photo, see its card
    "correct",         # 2. "Not this?" picker → Seated Row Machine
    "reupload",        # 3. same photo again: the correction, from the cache; one provider call
    "catalogue",       # 4. search, category and muscle filters; open an entry
    "history",         # 5a. history rows, the correction shown
    "status",          # 5b. status panel numbers = the API's and the fake's
    "mobile",          # 6. 390×844 phone: fits, navigation, screenshot
    "first_paint",     # 7. first contentful paint of / near a trivial page's; 100 ms reported
    "offline",         # 8. service worker: the catalogue offline; Identify needs a connection
]


def _top_conftest(config):
    mod = config.pluginmanager.get_plugin(str(REPO / "tests" / "conftest.py"))
    if mod is None or not hasattr(mod, "make_binary"):
        pytest.fail("tests/conftest.py (make_binary, --build) is not loaded", pytrace=False)
    return mod


def _ensure_node_modules():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are needed for the browser tests (Node.js >= 18: Debian 12's "
                    "nodejs and npm do)", pytrace=False)
    if not (REPO / "node_modules" / "playwright-core" / "package.json").is_file():
        r = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=REPO,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            pytest.fail("npm ci failed (exit %d):\n%s%s" % (r.returncode, r.stdout, r.stderr),
                        pytrace=False)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s is missing: run scripts/install-deps (Debian package chromium)" % CHROMIUM,
                    pytrace=False)
    return node


def _photos():
    """Two different JPEG photos of a lat pulldown machine, the largest first."""
    rows = [r for r in G.photo_rows("lat-pulldown-machine") if r["format"] == "jpeg"]
    rows.sort(key=lambda r: (-int(r["width"]) * int(r["height"]), r["path"]))
    if len(rows) < 2:
        pytest.fail("need two lat-pulldown-machine JPEGs in %s" % G.GYM_PHOTOS, pytrace=False)
    return [G.GYM_PHOTOS / r["path"] for r in rows[:2]]


@pytest.fixture(scope="session")
def browser_run(request, tmp_path_factory):
    """Runs run.mjs once; returns its result JSON (a dict)."""
    if not (G.GYM_PHOTOS / "labels.tsv").is_file():
        pytest.fail("test photos not found at %s" % G.GYM_PHOTOS, pytrace=False)
    node = _ensure_node_modules()
    binary = _top_conftest(request.config).make_binary(request.config, "release")
    tmp = tmp_path_factory.mktemp("browser")
    photo, photo2 = _photos()
    fake = G.FakeOpenAI(tmp / "fake", answer="lat-pulldown-machine")
    server = None
    try:
        server = G.Server(binary, tmp / "srv", provider=fake)
        out = tmp / "result.json"
        argv = [node, str(HERE / "run.mjs"), "--base", "http://127.0.0.1:%d" % server.port,
                "--fake", "http://127.0.0.1:%d" % fake.port, "--photo", str(photo),
                "--photo2", str(photo2), "--server-log", str(server.err_path), "--out", str(out),
                "--docs", os.environ.get("GH_SCREENSHOTS") or str(Path(str(binary)).parent / "screenshots"),
                "--artifacts", str(tmp / "artifacts")]
        env = dict(os.environ)
        for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            env.pop(k, None)  # loopback only
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        try:
            r = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env,
                               timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            pytest.fail("run.mjs ran over %d s; stderr:\n%s" % (RUN_TIMEOUT_S, e.stderr or ""),
                        pytrace=False)
        if not out.is_file():
            pytest.fail("run.mjs wrote no result (exit %d):\n%s%s" % (r.returncode, r.stdout,
                                                                      r.stderr), pytrace=False)
        result = json.loads(out.read_text())
        result["log"] = r.stdout + r.stderr
        result["exit"] = r.returncode
    finally:
        problems = []
        if server is not None:
            problems = server.check_clean_exit()
        fake.stop()
    if problems:
        pytest.fail("server did not stop cleanly:\n" + "\n".join(problems), pytrace=False)
    # a summary on the terminal with -s, and in the report of a failure
    print("\nbrowser run: chromium %s, %d ms" % (result.get("browser"), result.get("wall_ms", 0)))
    return result


def _scenario(result, sid):
    if result.get("fatal"):
        pytest.fail("run.mjs stopped early: %s\n%s" % (result["fatal"], result.get("log", "")),
                    pytrace=False)
    ids = [s["id"] for s in result["scenarios"]]
    for s in result["scenarios"]:
        if s["id"] == sid:
            return s
    pytest.fail("run.mjs reported no scenario %r (it reported %s)" % (sid, ids), pytrace=False)


@pytest.mark.parametrize("sid", SCENARIOS)
def test_scenario(browser_run, sid):
    s = _scenario(browser_run, sid)
    print("%s: %s\n%s" % (sid, s["title"], json.dumps(s["details"], indent=1, ensure_ascii=False)))
    if not s["ok"]:
        pytest.fail("%s\n%s" % (s["title"], s["error"]), pytrace=False)


def test_reported_scenarios(browser_run):
    """run.mjs and this file agree on the scenarios (none added or lost without a case)."""
    assert [s["id"] for s in browser_run["scenarios"]] == SCENARIOS


def test_no_console_or_page_errors(browser_run):
    """Zero console errors and zero uncaught page errors over the whole run."""
    errs = browser_run["console_errors"] + browser_run["page_errors"]
    assert not errs, "console/page errors:\n" + json.dumps(errs, indent=1, ensure_ascii=False)


def test_no_failed_requests(browser_run):
    """No request failed (reset, aborted, refused, blocked) over the whole run. The one
    exception is the offline scenario, where the context is offline on purpose: there the
    browser refuses the network itself, and only with net::ERR_INTERNET_DISCONNECTED."""
    unexpected = [r for r in browser_run["failed_requests"]
                  if not (r["scenario"] == "offline"
                          and r["failure"] == "net::ERR_INTERNET_DISCONNECTED")]
    assert not unexpected, "failed requests:\n" + json.dumps(unexpected, indent=1)


def test_loopback_only(browser_run):
    """The browser requested nothing but the loopback server."""
    assert not browser_run["non_loopback_requests"], browser_run["non_loopback_requests"]


def test_csp_holds_with_zero_violations(browser_run):
    """Every page of the app came with the CSP (no 'unsafe-inline' for our own pages) and
    Chromium reported no violation of it in any scenario."""
    docs = browser_run["documents"]
    assert docs, "no HTML document was recorded"
    for d in docs:
        if d["status"] != 200 or d["context"].startswith("first-paint-baseline"):
            continue  # the baseline is a trivial page of the test's own server
        assert d["csp"] and "default-src 'self'" in d["csp"], d
        assert "frame-ancestors 'none'" in d["csp"], d
        if "/docs/" not in d["url"]:
            assert "unsafe-inline" not in d["csp"], d
    assert not browser_run["csp_violations"], json.dumps(browser_run["csp_violations"], indent=1)
