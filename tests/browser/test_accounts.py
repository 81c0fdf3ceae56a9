# SPDX-License-Identifier: MIT
"""Browser tests of the web app's accounts and of Swagger UI's "Authorize" (issue 11 items 7
and 8): tests/browser/accounts.mjs (playwright-core driving Debian's /usr/bin/chromium) against
three release-build `gymhelper serve`: AUTH_MODE=required with ALLOW_SIGNUP=true and 64 s access
tokens (users made with `gymhelper user add`), required without sign-up, and open mode; the
fake OpenAI provider answers lat-pulldown-machine.

The script runs once per session; each of its scenarios is one pytest case (each fails on any
console error, page error, CSP violation or failed request of its own), plus the run-wide
checks. Nothing skips: a missing node, chromium or build is a failure saying what to do.
"""
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
import test_browser as TB  # noqa: E402  (node_modules, chromium, the photos)

RUN_TIMEOUT_S = 240  # the run takes ~40 s (one token renewal is waited for); this stops a hang
ADMIN = ("ann", "ann-password-123")
USER = ("bo", "bo-password-4567")

SCENARIOS = [
    "open_mode",          # open mode: no sign-in anywhere
    "wrong_password",     # required: the sign-in page first; a wrong password's sentence
    "signin",             # sign in (CLI-made admin), identify with the token
    "token_storage",      # no token in storage or document.cookie; the cookie's flags
    "refresh",            # reload signs back in from the cookie; renewal before expiry
    "two_tabs",           # two tabs reloading at once both stay signed in
    "history",            # the account's own history only
    "review",             # an admin accepts a user's pending correction
    "session_end",        # 401: one refresh and a retry; then back to sign-in
    "signout",            # sign-out clears the cookie; a reload stays signed out
    "signup",             # sign-up when allowed
    "no_signup",          # and hidden when not
    "swagger_authorize",  # /docs/: Authorize + Try it out on GET /api/v1/me → 200
]


def _add_user(binary, url, name, password, role):
    env = dict(getattr(binary, "env", os.environ))
    for k in G.SETTINGS_ENV:
        env.pop(k, None)
    r = subprocess.run([str(binary), "user", "add", name, "--role", role, "--password-stdin",
                        "--database-url", url], input=(password + "\n").encode(),
                       capture_output=True, env=env, timeout=60)
    if r.returncode != 0:
        pytest.fail("gymhelper user add %s: exit %d\n%s" % (name, r.returncode, r.stderr.decode()),
                    pytrace=False)


@pytest.fixture(scope="session")
def accounts_run(request, tmp_path_factory):
    """Runs accounts.mjs once; returns its result JSON (a dict)."""
    if not (G.GYM_PHOTOS / "labels.tsv").is_file():
        pytest.fail("test photos not found at %s" % G.GYM_PHOTOS, pytrace=False)
    node = TB._ensure_node_modules()
    binary = TB._top_conftest(request.config).make_binary(request.config, "release")
    tmp = tmp_path_factory.mktemp("accounts")
    photo, photo2 = TB._photos()
    fake = G.FakeOpenAI(tmp / "fake", answer="lat-pulldown-machine")
    servers = []
    try:
        url = "sqlite:///%s" % (tmp / "required.db")
        _add_user(binary, url, ADMIN[0], ADMIN[1], "admin")
        _add_user(binary, url, USER[0], USER[1], "user")
        required = G.Server(binary, tmp / "required", db=tmp / "required.db", provider=fake,
                            args=["--auth-mode", "required", "--allow-signup", "true"],
                            env={"ACCESS_TOKEN_TTL_SECONDS": "64", "LOGIN_MAX_FAILURES": "50"})
        servers.append(required)
        nosignup = G.Server(binary, tmp / "nosignup", args=["--auth-mode", "required"])
        servers.append(nosignup)
        opened = G.Server(binary, tmp / "open", provider=fake)
        servers.append(opened)
        out = tmp / "result.json"
        base = "http://127.0.0.1:%d"
        argv = [node, str(HERE / "accounts.mjs"), "--required", base % required.port,
                "--nosignup", base % nosignup.port, "--open", base % opened.port,
                "--admin", "%s:%s" % ADMIN, "--user", "%s:%s" % USER, "--photo", str(photo),
                "--photo2", str(photo2),
                "--out", str(out), "--artifacts", str(tmp / "artifacts")]
        env = dict(os.environ)
        for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            env.pop(k, None)
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        try:
            r = subprocess.run(argv, cwd=TB.REPO, capture_output=True, text=True, env=env,
                               timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            pytest.fail("accounts.mjs ran over %d s; stderr:\n%s" % (RUN_TIMEOUT_S, e.stderr or ""),
                        pytrace=False)
        if not out.is_file():
            pytest.fail("accounts.mjs wrote no result (exit %d):\n%s%s" % (r.returncode, r.stdout,
                                                                          r.stderr), pytrace=False)
        result = json.loads(out.read_text())
        result["log"] = r.stdout + r.stderr
    finally:
        problems = []
        for s in servers:
            problems += s.check_clean_exit()
        fake.stop()
    if problems:
        pytest.fail("a server did not stop cleanly:\n" + "\n".join(problems), pytrace=False)
    print("\naccounts run: chromium %s, %d ms" % (result.get("browser"), result.get("wall_ms", 0)))
    return result


@pytest.mark.parametrize("sid", SCENARIOS)
def test_scenario(accounts_run, sid):
    s = TB._scenario(accounts_run, sid)
    print("%s: %s\n%s" % (sid, s["title"], json.dumps(s["details"], indent=1, ensure_ascii=False)))
    if not s["ok"]:
        pytest.fail("%s\n%s" % (s["title"], s["error"]), pytrace=False)


def test_reported_scenarios(accounts_run):
    """accounts.mjs and this file agree on the scenarios."""
    assert [s["id"] for s in accounts_run["scenarios"]] == SCENARIOS


def test_no_errors_csp_violations_or_failed_requests(accounts_run):
    """Over the whole run: no unexpected console error, page error, CSP violation, failed
    request or request to anything but loopback; every page came with the CSP."""
    for k in ("console_errors", "page_errors", "csp_violations", "failed_requests",
              "non_loopback_requests"):
        assert not accounts_run[k], "%s:\n%s" % (k, json.dumps(accounts_run[k], indent=1))
    docs = [d for d in accounts_run["documents"] if d["status"] == 200]
    assert docs and all(d["csp"] and "default-src 'self'" in d["csp"] for d in docs), docs
    assert any("/docs/" in d["url"] for d in docs), "Swagger UI was not loaded"
