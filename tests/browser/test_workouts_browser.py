# SPDX-License-Identifier: MIT
"""Browser tests of the Workouts view (issue 12): tests/browser/workouts.mjs (playwright-core
driving Debian's /usr/bin/chromium on a 390×844 phone viewport) against one open-mode
`gymhelper serve` of the release build with a fresh database: a plan for a gym, a session
logged with one tap per set, "I have this here" on a catalogue entry, offline and back (one answer lost on the way) with no set doubled,
the progress charts, and a shared plan opened by a stranger.

Each scenario is one pytest case, failing on any console error, page error, CSP violation or
failed request of its own (the offline scenario's are expected and reported apart). With
GH_SCREENSHOTS=docs the run refreshes docs/workouts-*.png, the README's pictures (drawn from the
app's own pages; no photo is involved)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "http"))
import ghhttp as G  # noqa: E402
import test_browser as TB  # noqa: E402  (node_modules, chromium)

RUN_TIMEOUT_S = 240  # the run takes ~20 s; this only stops a hang
SCENARIOS = ["have_it_here", "plan", "session", "offline", "progress", "share"]


@pytest.fixture(scope="session")
def workouts_run(request, tmp_path_factory):
    node = TB._ensure_node_modules()
    binary = TB._top_conftest(request.config).make_binary(request.config, "release")
    tmp = tmp_path_factory.mktemp("workouts")
    server = G.Server(binary, tmp / "server")
    try:
        out = tmp / "result.json"
        argv = [node, str(HERE / "workouts.mjs"), "--base", "http://127.0.0.1:%d" % server.port,
                "--out", str(out), "--artifacts", str(tmp / "artifacts")]
        shots = os.environ.get("GH_SCREENSHOTS")
        if shots:
            argv += ["--screenshots", str((TB.REPO / shots).resolve())]
        env = dict(os.environ)
        for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            env.pop(k, None)
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        try:
            r = subprocess.run(argv, cwd=TB.REPO, capture_output=True, text=True, env=env,
                               timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            pytest.fail("workouts.mjs ran over %d s; stderr:\n%s" % (RUN_TIMEOUT_S, e.stderr or ""),
                        pytrace=False)
        if not out.is_file():
            pytest.fail("workouts.mjs wrote no result (exit %d):\n%s%s" % (r.returncode, r.stdout,
                                                                          r.stderr), pytrace=False)
        result = json.loads(out.read_text())
        result["log"] = r.stdout + r.stderr
    finally:
        problems = server.check_clean_exit()
    if problems:
        pytest.fail("the server did not stop cleanly:\n" + "\n".join(problems), pytrace=False)
    print("\nworkouts run: chromium %s, %d ms" % (result.get("browser"), result.get("wall_ms", 0)))
    return result


@pytest.mark.parametrize("sid", SCENARIOS)
def test_scenario(workouts_run, sid):
    s = TB._scenario(workouts_run, sid)
    print("%s: %s\n%s" % (sid, s["title"], json.dumps(s["details"], indent=1, ensure_ascii=False)))
    if not s["ok"]:
        pytest.fail("%s\n%s" % (s["title"], s["error"]), pytrace=False)


def test_reported_scenarios(workouts_run):
    assert [s["id"] for s in workouts_run["scenarios"]] == SCENARIOS, workouts_run.get("fatal")


def test_no_errors_csp_violations_or_failed_requests(workouts_run):
    """Over the whole run: nothing but the offline scenario's intended failures."""
    for k in ("console_errors", "page_errors", "csp_violations", "failed_requests",
              "non_loopback_requests"):
        assert not workouts_run[k], "%s:\n%s" % (k, json.dumps(workouts_run[k], indent=1))
    assert workouts_run["expected"], "the offline scenario failed no request: was it offline?"
